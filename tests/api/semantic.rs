//! `/api/semantic`: what administrators write about tables and columns, and how it reaches
//! agents through `/mcp` in both protocol eras, inside a key's grant only.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TargetPg, TestApp, problem, spawn_app};

const MODERN: &str = "2026-07-28";

struct Shop {
    token: String,
    db: String,
}

async fn shop(app: &TestApp, target: &TargetPg) -> Shop {
    let token = app.admin_token().await;
    let created = app
        .json(
            Method::POST,
            "/api/database-configs",
            &token,
            Some(&json!({"name": "Shop", "provider": "postgresql", "connection_config": target.reader_config()})),
        )
        .await;
    Shop {
        token,
        db: created["data"]["id"].as_str().expect("created").to_owned(),
    }
}

async fn put(app: &TestApp, shop: &Shop, body: Value) -> reqwest::Response {
    let mut body = body;
    body["dbManagementId"] = json!(shop.db);
    app.send(Method::PUT, "/api/semantic", &shop.token, Some(&body))
        .await
}

async fn get(app: &TestApp, shop: &Shop) -> Value {
    app.json(
        Method::GET,
        &format!("/api/semantic?dbManagementId={}", shop.db),
        &shop.token,
        None,
    )
    .await
}

/// Posts one JSON-RPC message to `/mcp`; `modern` adds the 2026-07-28 envelope and headers.
async fn rpc(app: &TestApp, key: &str, method: &str, params: Value, modern: bool) -> Value {
    let mut params = params;
    let mut req = app
        .client
        .post(app.url("/mcp"))
        .header("X-MCP-Server-Key", key)
        .header("Accept", "application/json, text/event-stream");
    if modern {
        params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {}});
        req = req
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", method);
        if let Some(name) = params["name"].as_str() {
            req = req.header("Mcp-Name", name);
        }
    }
    let res = req
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{method}");
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].is_null(), "{method}: {body}");
    body["result"].clone()
}

async fn tool(app: &TestApp, key: &str, name: &str, arguments: Value, modern: bool) -> Value {
    let result = rpc(
        app,
        key,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
        modern,
    )
    .await;
    assert_eq!(result["isError"], false, "{name}: {result}");
    result["structuredContent"].clone()
}

fn table<'a>(tables: &'a Value, name: &str) -> &'a Value {
    tables["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {tables}"))
}

#[tokio::test]
async fn a_put_upserts_what_it_names_and_leaves_the_rest() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let shop = shop(&app, &target).await;

    let empty = get(&app, &shop).await;
    assert_eq!(
        empty,
        json!({"dbManagementId": shop.db, "description": null, "tables": [], "updatedAt": null})
    );

    let res = put(
        &app,
        &shop,
        json!({"description": "The web shop: customers and their orders.",
            "tables": [{"name": "shop.orders", "displayName": "Orders", "description": "One row per checkout",
                "synonyms": ["purchases", "sales"],
                "columns": [{"name": "amount", "displayName": "Amount (EUR)", "description": "Total incl. VAT"}]}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let written: Value = res.json().await.unwrap();
    assert_eq!(
        written,
        get(&app, &shop).await,
        "PUT answers what GET shows"
    );
    assert_eq!(
        written["description"],
        "The web shop: customers and their orders."
    );
    let orders = &written["tables"][0];
    assert_eq!(
        orders["name"], "shop.orders",
        "outside the default schema the name is qualified"
    );
    assert_eq!(
        (&orders["schemaName"], &orders["tableName"]),
        (&json!("shop"), &json!("orders"))
    );
    assert_eq!(orders["synonyms"], json!(["purchases", "sales"]));
    assert_eq!(
        orders["columns"],
        json!([{"name": "amount", "displayName": "Amount (EUR)", "description": "Total incl. VAT", "synonyms": []}])
    );
    assert!(written["updatedAt"].is_string());

    // A second PUT names one field of the table and another table (case-insensitively);
    // everything it does not name stays, `null` clears, an empty string clears.
    let res = put(
        &app,
        &shop,
        json!({"tables": [
            {"name": "SHOP.ORDERS", "description": null, "columns": [{"name": "AMOUNT", "displayName": ""}]},
            {"name": "shop.customers", "columns": [{"name": "email", "synonyms": ["mail", "Mail", " e-mail "]}]}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let after: Value = res.json().await.unwrap();
    assert_eq!(
        after["description"], "The web shop: customers and their orders.",
        "not named, kept"
    );
    let names: Vec<&str> = after["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop.customers", "shop.orders"]);
    let customers = &after["tables"][0];
    assert_eq!(customers["displayName"], Value::Null);
    assert_eq!(
        customers["columns"][0]["synonyms"],
        json!(["mail", "e-mail"]),
        "trimmed, duplicates dropped"
    );
    let orders = &after["tables"][1];
    assert_eq!(orders["displayName"], "Orders");
    assert_eq!(orders["description"], Value::Null);
    assert_eq!(orders["synonyms"], json!(["purchases", "sales"]));
    assert_eq!(
        orders["columns"],
        json!([{"name": "amount", "displayName": null, "description": "Total incl. VAT", "synonyms": []}])
    );

    // Clearing everything on a note removes it.
    let res = put(
        &app,
        &shop,
        json!({"description": null, "tables": [{"name": "shop.customers", "columns": [{"name": "email", "synonyms": []}]}]}),
    )
    .await;
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["description"], Value::Null);
    assert_eq!(after["tables"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_names_ids_and_texts_are_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let shop = shop(&app, &target).await;

    let res = put(
        &app,
        &shop,
        json!({"description": "kept out",
            "tables": [
            {"name": "shop.orders", "description": "fine"},
            {"name": "shop.nothing", "description": "x"},
            {"name": "orders", "description": "bare means public, where there is no orders"},
            {"name": "shop.customers", "columns": [{"name": "email"}, {"name": "shoe_size", "description": "x"}]},
            {"name": "shop.orders; DROP TABLE shop.orders", "description": "x"}]}),
    )
    .await;
    let p = problem(res, 400).await;
    assert_eq!(p["code"], "validation_failed");
    assert_eq!(p["field"], "tables[1].name");
    let detail = p["detail"].as_str().unwrap();
    for named in [
        "tables[1].name",
        "\"shop.nothing\"",
        "tables[2].name",
        "tables[3].columns[1].name",
        "\"shoe_size\"",
        "tables[4].name",
    ] {
        assert!(detail.contains(named), "{named} in {detail}");
    }
    assert!(
        !detail.contains("tables[0]"),
        "a correct entry is not blamed: {detail}"
    );
    assert_eq!(
        get(&app, &shop).await["updatedAt"],
        Value::Null,
        "nothing was written, not even the valid parts"
    );

    let long = "x".repeat(2_001);
    let res = put(
        &app,
        &shop,
        json!({"tables": [{"name": "shop.orders", "description": long}]}),
    )
    .await;
    let p = problem(res, 400).await;
    assert_eq!(p["field"], "tables[0].description");
    assert!(p["detail"].as_str().unwrap().contains("2000"), "{p}");
    let res = put(
        &app,
        &shop,
        json!({"tables": [{"name": "shop.orders", "displayName": "two\nlines"}]}),
    )
    .await;
    assert_eq!(problem(res, 400).await["field"], "tables[0].displayName");
    let res = put(
        &app,
        &shop,
        json!({"tables": [{"name": "shop.orders", "synonyms": (0..21).map(|i| format!("w{i}")).collect::<Vec<_>>()}]}),
    )
    .await;
    assert_eq!(problem(res, 400).await["field"], "tables[0].synonyms");
    let res = put(
        &app,
        &shop,
        json!({"tables": [{"name": "shop.orders", "comment": "unknown field"}]}),
    )
    .await;
    assert!(
        problem(res, 400).await["detail"]
            .as_str()
            .unwrap()
            .contains("comment")
    );

    let unknown = uuid::Uuid::now_v7();
    let res = app
        .send(
            Method::GET,
            &format!("/api/semantic?dbManagementId={unknown}"),
            &shop.token,
            None,
        )
        .await;
    assert_eq!(problem(res, 404).await["code"], "db_config_not_found");
    let res = app
        .send(
            Method::PUT,
            "/api/semantic",
            &shop.token,
            Some(&json!({"dbManagementId": "1", "tables": []})),
        )
        .await;
    assert_eq!(problem(res, 400).await["field"], "dbManagementId");
    let res = app
        .send(Method::GET, "/api/semantic", &shop.token, None)
        .await;
    assert_eq!(problem(res, 400).await["code"], "invalid_query");
    let res = app
        .client
        .get(app.url(&format!("/api/semantic?dbManagementId={}", shop.db)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "administrators only");
}

#[tokio::test]
async fn agents_see_notes_in_both_eras_inside_their_grant_only() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let shop = shop(&app, &target).await;
    let secret = "MARKER-customers-are-vips";
    let res = put(
        &app,
        &shop,
        json!({"description": "Shop data for the finance team.",
            "tables": [
            {"name": "shop.orders", "displayName": "Orders", "synonyms": ["purchases"],
             "columns": [{"name": "amount", "description": "Total in EUR"}]},
            {"name": "shop.customers", "displayName": secret, "description": secret,
             "columns": [{"name": "email", "description": secret}]}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let issued = app
        .json(
            Method::POST,
            "/api/mcp-keys",
            &shop.token,
            Some(&json!({"name": "agent", "dbManagementId": shop.db, "tableWhitelist": ["shop.orders"]})),
        )
        .await;
    let key = issued["keyValue"].as_str().unwrap().to_owned();

    let init = rpc(
        &app,
        &key,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        false,
    )
    .await;
    assert_eq!(init["instructions"], "Shop data for the finance team.");
    let discover = rpc(&app, &key, "server/discover", json!({}), true).await;
    assert_eq!(discover["instructions"], "Shop data for the finance team.");

    let mut seen = vec![init.to_string(), discover.to_string()];
    for modern in [false, true] {
        let tables = tool(&app, &key, "get_tables", json!({}), modern).await;
        let orders = table(&tables, "orders");
        assert_eq!(orders["displayName"], "Orders");
        assert_eq!(orders["synonyms"], json!(["purchases"]));
        let columns = tool(
            &app,
            &key,
            "get_columns",
            json!({"tableName": "shop.orders"}),
            modern,
        )
        .await;
        let amount = columns["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "amount")
            .unwrap();
        assert_eq!(amount["description"], "Total in EUR");
        seen.push(tables.to_string());
        seen.push(columns.to_string());
        seen.push(
            rpc(&app, &key, "tools/list", json!({}), modern)
                .await
                .to_string(),
        );
        seen.push(
            tool(&app, &key, "get_schemas", json!({}), modern)
                .await
                .to_string(),
        );
        let hidden = rpc(
            &app,
            &key,
            "tools/call",
            json!({"name": "get_columns", "arguments": {"tableName": "shop.customers"}}),
            modern,
        )
        .await;
        assert_eq!(hidden["isError"], true);
        seen.push(hidden.to_string());
    }
    for text in &seen {
        assert!(
            !text.contains(secret),
            "a note on a table outside the grant leaked: {text}"
        );
    }

    // A key that may see customers gets their notes, and the database's own comments where
    // nothing is written (the TargetPg fixture comments on customers and customers.email).
    let wide = app
        .json(
            Method::POST,
            "/api/mcp-keys",
            &shop.token,
            Some(&json!({"name": "wide", "dbManagementId": shop.db, "tableWhitelist": ["shop.*"]})),
        )
        .await["keyValue"]
        .as_str()
        .unwrap()
        .to_owned();
    let tables = tool(&app, &wide, "get_tables", json!({}), false).await;
    assert_eq!(table(&tables, "customers")["description"], secret);
    let res = put(
        &app,
        &shop,
        json!({"tables": [{"name": "shop.customers", "displayName": null, "description": null,
            "columns": [{"name": "email", "description": null}]}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    // The change reaches the cached connection through the change feed, not a TTL.
    let started = Instant::now();
    loop {
        let tables = tool(&app, &wide, "get_tables", json!({}), false).await;
        if table(&tables, "customers")["description"] == "People who buy things" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still the old note: {tables}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let columns = tool(
        &app,
        &wide,
        "get_columns",
        json!({"tableName": "shop.customers"}),
        false,
    )
    .await;
    let email = columns["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "email")
        .unwrap();
    assert_eq!(email["description"], "Where receipts go");
}
