//! `GET /metrics`: Prometheus text with HTTP, MCP and audit figures; open to loopback only
//! unless a token is configured.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TargetPg, TestApp, spawn_app, spawn_app_with};

#[tokio::test]
async fn metrics_count_routes_tools_and_outcomes() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .send(
            Method::GET,
            "/api/mcp-keys/0190f0f0-0000-7000-8000-000000000000",
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    for _ in 0..2 {
        let res = app
            .client
            .post(app.url("/mcp"))
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }

    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains(
            "sluice_http_requests_total{route=\"/api/mcp-keys/{id}\",method=\"GET\",status=\"404\"} 1"
        ),
        "routes are counted by pattern: {text}"
    );
    assert!(!text.contains("0190f0f0"), "never a series per resource id");
    assert!(text.contains(
        "sluice_mcp_requests_total{action=\"mcp.key.auth.failed\",outcome=\"denied\"} 2"
    ));
    assert!(
        text.contains("sluice_http_request_duration_seconds_bucket{route=\"/mcp\",le=\"+Inf\"} 2")
    );
    assert!(text.contains("# TYPE sluice_audit_queue_depth gauge"));
    assert!(text.contains("\nsluice_audit_queue_depth "));
}

#[tokio::test]
async fn other_clients_need_the_token() {
    // Behind a trusted proxy on loopback, the client is the address it forwards.
    let app = spawn_app_with(|s| {
        s.http.trusted_proxies = vec!["127.0.0.1".to_owned()];
    })
    .await;
    let res = app
        .client
        .get(app.url("/metrics"))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let app = spawn_app_with(|s| s.metrics.token = "scrape-token-0123456789".to_owned()).await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 401, "with a token, everyone needs it");
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn each_connection_pool_is_shown() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let token = app.admin_token().await;
    let db = app
        .json(
            Method::POST,
            "/api/database-configs",
            &token,
            Some(&json!({"name": "Shop", "provider": "postgresql", "connection_config": target.reader_config()})),
        )
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = app
        .json(
            Method::POST,
            "/api/mcp-keys",
            &token,
            Some(&json!({"name": "a", "dbManagementId": db, "tableWhitelist": ["shop.orders"]})),
        )
        .await["keyValue"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .client
        .post(app.url("/mcp"))
        .header("X-MCP-Server-Key", &key)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "execute_query_safe", "arguments": {"tableName": "shop.orders", "limit": 1}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = scrape(&app).await;
    for line in [
        format!("sluice_target_pool_max{{connection=\"{db}\"}} 16"),
        format!("sluice_target_pool_in_use{{connection=\"{db}\"}} 0"),
        format!("sluice_target_pool_busy_total{{connection=\"{db}\"}} 0"),
        "sluice_mcp_tool_call_duration_seconds_count{tool=\"execute_query_safe\"} 1".to_owned(),
    ] {
        assert!(text.contains(&line), "{line} in {text}");
    }
}

/// `/metrics` as a loopback client reads it.
pub(crate) async fn scrape(app: &TestApp) -> String {
    app.client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
