//! `POST /mcp` end to end: a real PostgreSQL target, keys issued through the API, JSON-RPC in
//! both protocol eras.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TargetPg, TestApp, spawn_app};

struct Agent<'a> {
    app: &'a TestApp,
    key: String,
}

impl Agent<'_> {
    async fn post(&self, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .app
            .client
            .post(self.app.url("/mcp"))
            .header("X-MCP-Server-Key", &self.key)
            .header("Accept", "application/json, text/event-stream")
            .json(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    async fn call(&self, tool: &str, arguments: Value) -> Value {
        let res = self
            .post(
                &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}),
                &[],
            )
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        body["result"].clone()
    }
}

/// A PostgreSQL connection with a snapshot, and a key for it.
async fn setup(app: &TestApp, target: &TargetPg, key: Value) -> String {
    let token = app.admin_token().await;
    let created = app
        .json(
            Method::POST,
            "/api/database-configs",
            &token,
            Some(&json!({"name": "Shop", "provider": "postgresql", "connection_config": target.reader_config()})),
        )
        .await;
    let db = created["data"]["id"].as_str().unwrap().to_owned();
    let mut body = key;
    body["name"] = json!("agent");
    body["dbManagementId"] = json!(db);
    let issued = app
        .json(Method::POST, "/api/mcp-keys", &token, Some(&body))
        .await;
    issued["keyValue"].as_str().expect("issued").to_owned()
}

#[tokio::test]
async fn an_agent_discovers_and_queries_exactly_what_its_key_grants() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let key = setup(
        &app,
        &target,
        json!({"tableWhitelist": ["shop.orders"], "maxRows": 5}),
    )
    .await;
    let agent = Agent { app: &app, key };

    let res = agent
        .post(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    let init: Value = res.json().await.unwrap();
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    assert_eq!(init["result"]["serverInfo"]["name"], "sluice");
    let res = agent
        .post(
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            &[],
        )
        .await;
    assert_eq!(res.status(), 202);

    let list: Value = agent
        .post(
            &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            &[],
        )
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "get_schemas",
            "get_tables",
            "get_columns",
            "execute_query_safe",
            "explain_query"
        ]
    );

    let tables = agent.call("get_tables", json!({})).await;
    assert_eq!(tables["isError"], false);
    let listed: Vec<&str> = tables["structuredContent"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["qualifiedName"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ["shop.orders"],
        "customers is readable but not granted"
    );

    let rows = agent
        .call(
            "execute_query_safe",
            json!({"tableName": "shop.orders", "selectColumns": [{"field": "id"}, {"field": "amount"}],
                   "where": [{"field": "customer_id", "op": "=", "value": 2}], "orderBy": [{"field": "id"}], "limit": 2}),
        )
        .await;
    assert_eq!(rows["isError"], false, "{rows}");
    assert_eq!(rows["structuredContent"]["rows"], json!([[1, 1], [51, 51]]));
    assert_eq!(rows["structuredContent"]["truncated"], false);

    let capped = agent
        .call(
            "execute_query_safe",
            json!({"tableName": "shop.orders", "limit": 100}),
        )
        .await;
    assert_eq!(
        capped["structuredContent"]["rowCount"], 5,
        "the key's maxRows"
    );
    assert_eq!(capped["structuredContent"]["truncated"], true);

    for hostile in [
        "shop.customers",
        "pg_catalog.pg_user",
        "information_schema.tables",
        "orders\"; DROP TABLE shop.orders; --",
    ] {
        let refused = agent
            .call("execute_query_safe", json!({"tableName": hostile}))
            .await;
        assert_eq!(refused["isError"], true, "{hostile}: {refused}");
        assert!(refused.get("structuredContent").is_none());
    }

    let res = agent
        .post(
            &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "drop_table", "arguments": {}}}),
            &[],
        )
        .await;
    let unknown: Value = res.json().await.unwrap();
    assert_eq!(unknown["error"]["code"], -32602);
}

#[tokio::test]
async fn the_modern_era_checks_headers_against_the_body() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let key = setup(&app, &target, json!({"tableWhitelist": ["*"]})).await;
    let agent = Agent { app: &app, key };
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});

    let res = agent
        .post(
            &json!({"jsonrpc": "2.0", "id": "d", "method": "server/discover", "params": {"_meta": meta}}),
            &[("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "server/discover")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let discover: Value = res.json().await.unwrap();
    assert_eq!(discover["result"]["resultType"], "complete");
    assert_eq!(
        discover["result"]["supportedVersions"],
        json!(["2026-07-28"])
    );

    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "get_schemas", "arguments": {}, "_meta": meta}});
    let res = agent
        .post(
            &call,
            &[
                ("MCP-Protocol-Version", "2026-07-28"),
                ("Mcp-Method", "tools/call"),
                ("Mcp-Name", "get_tables"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let mismatch: Value = res.json().await.unwrap();
    assert_eq!(mismatch["error"]["code"], -32020);
    let res = agent
        .post(
            &call,
            &[
                ("MCP-Protocol-Version", "2026-07-28"),
                ("Mcp-Method", "tools/call"),
                ("Mcp-Name", "get_schemas"),
            ],
        )
        .await;
    let ok: Value = res.json().await.unwrap();
    assert_eq!(ok["result"]["resultType"], "complete");
    assert_eq!(
        ok["result"]["structuredContent"]["schemas"],
        json!([{"name": "shop", "tableCount": 4}]),
        "customers, orders, secrets and the big_orders view"
    );

    let res = agent
        .post(
            &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": meta}}),
            &[
                ("MCP-Protocol-Version", "2099-01-01"),
                ("Mcp-Method", "tools/list"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let unsupported: Value = res.json().await.unwrap();
    assert_eq!(unsupported["error"]["code"], -32022);
}

#[tokio::test]
async fn keys_hosts_origins_and_rates_are_enforced() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let key = setup(&app, &target, json!({"tableWhitelist": ["*"], "rateLimitPerMinute": 3, "allowedOrigins": ["https://agent.example.com"]})).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});

    let res = app
        .client
        .post(app.url("/mcp"))
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "no key");
    let res = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(format!(
            "{}{}",
            &key[..key.len() - 1],
            if key.ends_with('0') { '1' } else { '0' }
        ))
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a wrong key");
    let body: Value = res.json().await.unwrap();
    assert!(body["error"]["code"].is_i64(), "a JSON-RPC error: {body}");

    let agent = Agent {
        app: &app,
        key: key.clone(),
    };
    let res = agent.post(&ping, &[("Host", "evil.example.com")]).await;
    assert_eq!(res.status(), 403, "DNS rebinding");
    let res = agent
        .post(&ping, &[("Origin", "https://evil.example.com")])
        .await;
    assert_eq!(res.status(), 403, "a foreign origin");
    let res = agent
        .post(&ping, &[("Origin", "https://agent.example.com")])
        .await;
    assert_eq!(res.status(), 200, "the key's origin");
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://agent.example.com"
    );

    agent.post(&ping, &[]).await;
    agent.post(&ping, &[]).await;
    let res = agent.post(&ping, &[]).await;
    assert_eq!(res.status(), 429, "three requests a minute");
    assert!(res.headers().contains_key("retry-after"));

    let res = app
        .client
        .get(app.url("/mcp"))
        .header("X-MCP-Server-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let res = app
        .client
        .request(Method::OPTIONS, app.url("/mcp"))
        .header("Origin", "https://agent.example.com")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "preflight before any key");
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let token_key = setup(&app, &target, json!({"tableWhitelist": ["*"]})).await;
    let agent = Agent {
        app: &app,
        key: token_key,
    };
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    assert_eq!(agent.post(&ping, &[]).await.status(), 200);
    let token = app
        .sign_in("admin", crate::helpers::PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let keys = app.json(Method::GET, "/api/mcp-keys", &token, None).await;
    let id = keys[0]["id"].as_str().unwrap();
    app.send(Method::DELETE, &format!("/api/mcp-keys/{id}"), &token, None)
        .await;
    assert_eq!(agent.post(&ping, &[]).await.status(), 401);
}
