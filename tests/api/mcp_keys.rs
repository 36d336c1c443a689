//! `/api/mcp-keys`: issuing, listing, changing and revoking keys, and what is kept at rest.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, spawn_app};

/// Registers a SQLite connection (no file is opened to register it) and returns its id.
pub async fn sqlite_connection(app: &TestApp, token: &str, name: &str) -> String {
    let path =
        std::env::temp_dir().join(format!("sluice-keys-{}.db", uuid::Uuid::now_v7().simple()));
    let body = json!({"name": name, "provider": "sqlite", "connection_config": {"path": path.to_string_lossy()}});
    let created = app
        .json(Method::POST, "/api/database-configs", token, Some(&body))
        .await;
    created["data"]["id"].as_str().expect("created").to_owned()
}

#[tokio::test]
async fn a_key_is_issued_listed_changed_and_revoked() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let db = sqlite_connection(&app, &token, "Shop").await;

    let res = app
        .send(
            Method::POST,
            "/api/mcp-keys",
            &token,
            Some(&json!({"name": "Reporting", "dbManagementId": db, "tableWhitelist": ["users", "main.orders"]})),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let issued: Value = res.json().await.unwrap();
    let value = issued["keyValue"].as_str().unwrap().to_owned();
    let prefix = issued["keyPrefix"].as_str().unwrap();
    assert!(value.starts_with("sluice_") && value.len() == 84, "{value}");
    assert!(value.starts_with(prefix) && prefix.len() == 19, "{prefix}");
    assert_eq!(issued["status"], "active");
    assert_eq!(issued["isActive"], true);
    assert_eq!(issued["dbManagementId"], db.as_str());
    assert_eq!(issued["dbManagementName"], "Shop");
    assert_eq!(
        issued["allowedTools"],
        json!([
            "get_schemas",
            "get_tables",
            "get_columns",
            "execute_query_safe",
            "explain_query"
        ]),
        "without allowedTools a key gets the read tools"
    );
    assert_eq!(issued["tableWhitelist"], json!(["users", "main.orders"]));
    assert_eq!(issued["lastUsedAt"], Value::Null);
    let id = issued["id"].as_str().unwrap().to_owned();

    let list = app.json(Method::GET, "/api/mcp-keys", &token, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert!(
        !list.to_string().contains(&value[20..]),
        "the key's secret is shown only once"
    );

    let changed = app
        .json(
            Method::PATCH,
            &format!("/api/mcp-keys/{id}"),
            &token,
            Some(&json!({"allowedTools": ["get_tables", "get_schemas"], "tableWhitelist": ["*"], "maxRows": 50, "allowedOrigins": ["https://App.Example.com/"]})),
        )
        .await;
    assert_eq!(
        changed["allowedTools"],
        json!(["get_schemas", "get_tables"]),
        "catalog order"
    );
    assert_eq!(changed["tableWhitelist"], json!(["*"]));
    assert_eq!(changed["maxRows"], 50);
    assert_eq!(
        changed["allowedOrigins"],
        json!(["https://app.example.com"])
    );
    let cleared = app
        .json(
            Method::PATCH,
            &format!("/api/mcp-keys/{id}"),
            &token,
            Some(&json!({"maxRows": null, "isActive": false})),
        )
        .await;
    assert_eq!(cleared["maxRows"], Value::Null);
    assert_eq!(cleared["status"], "suspended");
    assert_eq!(cleared["isActive"], false);

    let res = app
        .send(Method::DELETE, &format!("/api/mcp-keys/{id}"), &token, None)
        .await;
    assert_eq!(res.status(), 204);
    let revoked = app
        .json(Method::GET, &format!("/api/mcp-keys/{id}"), &token, None)
        .await;
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revokedAt"].is_string());
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/mcp-keys/{id}"),
            &token,
            Some(&json!({"isActive": true})),
        )
        .await;
    let p = problem(res, 409).await;
    assert_eq!(p["code"], "mcp_key_revoked");
    let res = app
        .send(Method::DELETE, &format!("/api/mcp-keys/{id}"), &token, None)
        .await;
    assert_eq!(res.status(), 204, "revoking twice is not an error");
    let list = app.json(Method::GET, "/api/mcp-keys", &token, None).await;
    assert_eq!(list[0]["status"], "revoked", "revoked keys stay listed");

    for path in [
        "/api/mcp-keys/0190f0f0-0000-7000-8000-000000000000",
        "/api/mcp-keys/42",
    ] {
        let res = app.send(Method::DELETE, path, &token, None).await;
        problem(res, 404).await;
    }
}

#[tokio::test]
async fn bad_key_requests_name_the_field() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let db = sqlite_connection(&app, &token, "Shop").await;
    let gone = sqlite_connection(&app, &token, "Gone").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/database-configs/{gone}"),
            &token,
            None,
        )
        .await;
    assert!(res.status().is_success());
    let ok = json!({"name": "k", "dbManagementId": db, "tableWhitelist": ["users"]});
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body
    };
    let cases = [
        (
            with("allowedTools", json!(["get_tables", "drop_everything"])),
            "allowedTools[1]",
        ),
        (with("allowedTools", json!([])), "allowedTools"),
        (
            with("tableWhitelist", json!(["users; DROP TABLE x"])),
            "tableWhitelist[0]",
        ),
        (
            with("tableWhitelist", json!(["ok", "\"quoted\""])),
            "tableWhitelist[1]",
        ),
        (with("tableWhitelist", json!([])), "tableWhitelist"),
        (
            with(
                "dbManagementId",
                json!("0190f0f0-0000-7000-8000-000000000000"),
            ),
            "dbManagementId",
        ),
        (with("dbManagementId", json!(gone)), "dbManagementId"),
        (with("dbManagementId", json!("not-an-id")), "dbManagementId"),
        (with("name", json!("  ")), "name"),
        (with("maxRows", json!(0)), "maxRows"),
        (with("timeoutMs", json!(5)), "timeoutMs"),
        (with("rateLimitPerMinute", json!(0)), "rateLimitPerMinute"),
        (
            with("expiresAt", json!("2020-01-01T00:00:00Z")),
            "expiresAt",
        ),
        (with("allowedOrigins", json!(["*"])), "allowedOrigins[0]"),
        (
            with("allowedOrigins", json!(["https://a.example.com/path"])),
            "allowedOrigins[0]",
        ),
        (with("surprise", json!(1)), "surprise"),
    ];
    for (body, field) in cases {
        let res = app
            .send(Method::POST, "/api/mcp-keys", &token, Some(&body))
            .await;
        let status = res.status().as_u16();
        let p: Value = res.json().await.unwrap();
        assert!((400..500).contains(&status), "{body}: {status} {p}");
        assert_eq!(p["field"], field, "{body}: {p}");
    }
    let list = app.json(Method::GET, "/api/mcp-keys", &token, None).await;
    assert_eq!(list, json!([]), "nothing was issued");

    let res = app
        .client
        .get(app.url("/api/mcp-keys"))
        .send()
        .await
        .unwrap();
    problem(res, 401).await;
}

#[tokio::test]
async fn only_an_hmac_of_the_key_is_stored() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let db = sqlite_connection(&app, &token, "Shop").await;
    let issued = app
        .json(
            Method::POST,
            "/api/mcp-keys",
            &token,
            Some(&json!({"name": "k", "dbManagementId": db, "tableWhitelist": ["*"]})),
        )
        .await;
    let value = issued["keyValue"].as_str().unwrap();
    let secret = &value[20..];
    let (client, conn) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = client
        .query_one("SELECT to_jsonb(k)::text, key_hash FROM mcp_keys k", &[])
        .await
        .unwrap();
    let text: String = row.get(0);
    let hash: Vec<u8> = row.get(1);
    assert!(!text.contains(secret), "the secret is not stored: {text}");
    assert_eq!(hash.len(), 32, "HMAC-SHA256");
    assert!(!hex::encode(&hash).contains(secret));
}
