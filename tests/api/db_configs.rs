//! Database connections through both seed APIs, against a real PostgreSQL target.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TargetPg, problem, server_address, spawn_app, spawn_app_with};

async fn create(app: &crate::helpers::TestApp, token: &str, body: Value) -> Value {
    let res = app
        .send(Method::POST, "/api/database-configs", token, Some(&body))
        .await;
    assert_eq!(res.status(), 201, "created");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], true);
    body["data"].clone()
}

fn reader_body(target: &TargetPg, name: &str) -> Value {
    json!({
        "name": name,
        "description": "Shop database",
        "provider": "postgresql",
        "connection_config": target.reader_config(),
        "settings": {"allowed_tables": ["shop.customers", "shop.orders"]},
        "is_primary": true,
        "is_active": true
    })
}

#[tokio::test]
async fn a_connection_is_created_listed_updated_and_soft_deleted() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let created = create(&app, &token, reader_body(&target, "Shop")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["provider"], "postgresql");
    assert_eq!(created["connection_config"]["password"], "********");
    assert_eq!(created["connection_config"]["ssl"], false);
    assert_eq!(
        created["settings"]["allowed_tables"],
        json!(["shop.customers", "shop.orders"])
    );
    assert_eq!(created["is_primary"], true);
    assert!(created["deleted_at"].is_null());

    let list: Value = app
        .send(Method::GET, "/api/database-configs", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["success"], true);
    assert_eq!(list["count"], 1);
    assert_eq!(list["data"][0]["id"], id.as_str());

    // A partial update keeps everything it does not name, the password included.
    let res = app
        .send(Method::PATCH, &format!("/api/database-configs/{id}"), &token, Some(&json!({"description": "Renamed", "connection_config": {"port": server_address().1}})))
        .await;
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["data"]["description"], "Renamed");
    assert_eq!(updated["data"]["name"], "Shop");
    assert_eq!(
        updated["data"]["connection_config"]["password"], "********",
        "the password is kept"
    );
    let test: Value = app
        .send(
            Method::POST,
            &format!("/api/db-management/{id}/test"),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(test["success"], true, "{test}");

    let res = app
        .send(
            Method::DELETE,
            &format!("/api/database-configs/{id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .send(
            Method::GET,
            &format!("/api/database-configs/{id}"),
            &token,
            None,
        )
        .await;
    let body = problem(res, 404).await;
    assert_eq!(
        body["success"], false,
        "seed 000 problems carry success: false"
    );
    let list: Value = app
        .send(Method::GET, "/api/database-configs", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 0, "deleted connections are hidden");
    let list: Value = app
        .send(
            Method::GET,
            "/api/database-configs?includeDeleted=true",
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 1);
    assert!(list["data"][0]["deleted_at"].is_string());
    assert_eq!(
        list["data"][0]["is_primary"], false,
        "a deleted connection is no longer primary"
    );
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/database-configs/{id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 404, "deleting twice");
}

#[tokio::test]
async fn both_apis_see_the_same_records() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let created = create(&app, &token, reader_body(&target, "Shop")).await;
    let id = created["id"].as_str().unwrap();

    let list: Value = app
        .send(Method::GET, "/api/db-management", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let item = &list[0];
    assert_eq!(item["id"], id);
    assert_eq!(item["provider"], "PostgreSQL");
    assert_eq!(item["isActive"], true);
    let (host, port) = server_address();
    assert_eq!(
        item["connectionString"],
        format!(
            "Host={host};Port={port};Database={};Username={};Password=********",
            target.database, target.reader
        )
    );

    // Replace through seed 002 without a password: the stored one is kept.
    let body = json!({"name": "Shop (002)", "provider": "postgresql",
        "connectionString": format!("Host={host};Port={port};Database={};Username={}", target.database, target.reader)});
    let res = app
        .send(
            Method::PUT,
            &format!("/api/db-management/{id}"),
            &token,
            Some(&body),
        )
        .await;
    assert_eq!(res.status(), 200);
    let seen: Value = app
        .send(
            Method::GET,
            &format!("/api/database-configs/{id}"),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["data"]["name"], "Shop (002)");
    assert_eq!(seen["data"]["connection_config"]["password"], "********");
    assert_eq!(
        seen["data"]["description"], "Shop database",
        "fields seed 002 does not carry are kept"
    );

    // Created through seed 002 (URL form), visible through seed 000.
    let body = json!({"name": "Other", "provider": "PostgreSQL",
        "connectionString": format!("postgres://{}:{}@{host}:{port}/{}", target.reader, target.reader_password, target.database)});
    let res = app
        .send(Method::POST, "/api/db-management", &token, Some(&body))
        .await;
    assert_eq!(res.status(), 201);
    let other: Value = res.json().await.unwrap();
    assert!(
        other["connectionString"]
            .as_str()
            .unwrap()
            .contains("Password=********")
    );
    let list: Value = app
        .send(Method::GET, "/api/database-configs", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 2);

    let res = app
        .send(
            Method::DELETE,
            &format!("/api/db-management/{}", other["id"].as_str().unwrap()),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send(
            Method::GET,
            &format!("/api/database-configs/{}", other["id"].as_str().unwrap()),
            &token,
            None,
        )
        .await;
    assert_eq!(
        res.status(),
        404,
        "deleted through one API, gone from the other"
    );
}

#[tokio::test]
async fn testing_a_connection_reports_latency_probe_and_privilege_warnings() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;

    let mut body = target.reader_config();
    body["allowed_tables"] = json!(["shop.customers"]);
    let res: Value = app
        .send(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["success"], true, "{res}");
    assert!(res["latency_ms"].is_u64());
    assert_eq!(res["tested_table"], "shop.customers");
    assert_eq!(res["tested_table_accessible"], true);
    assert_eq!(
        res["warnings"],
        json!([]),
        "a read-only login gets no warning: {res}"
    );

    body["allowed_tables"] = json!(["shop.secrets"]);
    let res: Value = app
        .send(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        res["tested_table_accessible"], false,
        "no grant on shop.secrets"
    );

    let mut body = target.superuser_config();
    body["provider"] = json!("postgresql");
    let res: Value = app
        .send(Method::POST, "/api/db/test", &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["success"], true);
    let warnings = res["warnings"].to_string();
    assert!(warnings.contains("superuser"), "{warnings}");
    assert!(warnings.contains("can write"), "{warnings}");
}

#[tokio::test]
async fn failed_connections_are_success_false_within_a_bounded_time() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (host, port) = server_address();

    let body = json!({"host": host, "port": port, "database": "no_such_database_here", "username": "postgres", "password": "x"});
    let res: Value = app
        .send(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["success"], false);
    assert!(
        res["message"].as_str().unwrap().contains("does not exist"),
        "{res}"
    );

    // Nothing listens on port 1.
    let body = json!({"host": "127.0.0.1", "port": 1, "database": "d", "username": "u", "password": "hunter2hunter2"});
    let res: Value = app
        .send(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["success"], false);
    assert!(
        res["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot connect"),
        "{res}"
    );
    assert!(!res.to_string().contains("hunter2hunter2"));

    // A server that accepts the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let body = json!({"host": "127.0.0.1", "port": silent_port, "database": "d", "username": "u"});
    let res: Value = app
        .send(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(res["success"], false, "{res}");
    assert!(
        took < Duration::from_secs(15),
        "bounded by the connect timeout: {took:?}"
    );
    drop(silent);
}

#[tokio::test]
async fn cloud_metadata_and_configured_hosts_are_refused() {
    let app = spawn_app_with(|s| s.targets.denied_hosts.push("10.0.0.0/8".into())).await;
    let token = app.admin_token().await;
    for host in ["169.254.169.254", "metadata.google.internal", "10.1.2.3"] {
        let body = json!({"name": format!("x {host}"), "provider": "postgresql",
            "connection_config": {"host": host, "database": "d", "username": "u"}});
        let res = app
            .send(Method::POST, "/api/database-configs", &token, Some(&body))
            .await;
        let p = problem(res, 400).await;
        assert_eq!(p["field"], "connection_config.host", "{host}: {p}");
        let res = app
            .send(
                Method::POST,
                "/api/db/test-postgres",
                &token,
                Some(&json!({"host": host, "database": "d", "username": "u"})),
            )
            .await;
        assert_eq!(res.status(), 400, "{host}");
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_denied_address_is_refused_when_connecting() {
    let app =
        spawn_app_with(|s| s.targets.denied_hosts = vec!["127.0.0.0/8".into(), "::1/128".into()])
            .await;
    let token = app.admin_token().await;
    let body = json!({"host": "localhost", "database": "d", "username": "u"});
    let res: Value = app
        .send(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["success"], false);
    assert!(
        res["message"].as_str().unwrap().contains("not allowed"),
        "{res}"
    );
}

#[tokio::test]
async fn discovery_lists_schemas_tables_views_and_row_estimates() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let res: Value = app
        .send(
            Method::POST,
            "/api/db/discover-postgres-schema",
            &token,
            Some(&target.superuser_config()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["success"], true, "{res}");
    assert!(res["duration_ms"].is_u64());
    let shop = res["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "shop")
        .expect("schema shop");
    let tables: Vec<&str> = shop["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["shop.customers", "shop.orders", "shop.secrets"]);
    let orders = shop["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "orders")
        .unwrap();
    assert_eq!(orders["row_count"], 200, "estimates after ANALYZE");
    assert_eq!(shop["views"][0]["name"], "big_orders");
}

#[tokio::test]
async fn refresh_schema_stores_a_snapshot_and_freshness_follows_it() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let mut body = reader_body(&target, "Shop");
    body["connection_config"] = target.superuser_config();
    let id = create(&app, &token, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let f: Value = app
        .send(
            Method::GET,
            &format!("/api/database-configs/{id}/freshness"),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        f,
        json!({"success": true, "needs_refresh": true, "last_refresh": null, "age_hours": null})
    );

    let res: Value = app
        .send(
            Method::POST,
            &format!("/api/database-configs/{id}/refresh-schema"),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["success"], true, "{res}");
    let tables = res["schema"]["tables"].as_array().unwrap();
    let customers = tables
        .iter()
        .find(|t| t["schema"] == "shop" && t["name"] == "customers")
        .unwrap();
    assert_eq!(customers["comment"], "People who buy things");
    assert_eq!(customers["primary_key"], json!(["id"]));
    assert_eq!(
        customers["columns"][0],
        json!({"name": "id", "type": "bigint", "nullable": false, "default": null, "comment": null, "primary_key": true})
    );
    assert_eq!(customers["columns"][2]["comment"], "Where receipts go");
    let orders = tables.iter().find(|t| t["name"] == "orders").unwrap();
    assert_eq!(orders["columns"][2]["type"], "numeric(10,2)");
    assert_eq!(orders["columns"][2]["default"], "0");
    assert_eq!(orders["foreign_keys"][0]["columns"], json!(["customer_id"]));
    assert_eq!(orders["foreign_keys"][0]["references"], "shop.customers");
    assert_eq!(orders["row_estimate"], 200);
    let view = tables.iter().find(|t| t["name"] == "big_orders").unwrap();
    assert_eq!(view["kind"], "view");

    let f: Value = app
        .send(
            Method::GET,
            &format!("/api/database-configs/{id}/freshness"),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(f["needs_refresh"], false);
    assert_eq!(f["last_refresh"], res["refreshed_at"]);
    assert!(f["age_hours"].as_f64().unwrap() < 0.1);
    let seen: Value = app
        .send(
            Method::GET,
            &format!("/api/database-configs/{id}"),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["data"]["schema_refreshed_at"], res["refreshed_at"]);
}

#[tokio::test]
async fn stale_snapshots_refresh_in_the_background() {
    let app = spawn_app_with(|s| s.targets.refresh_interval_secs = 1).await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let id = create(&app, &token, reader_body(&target, "Shop")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let f: Value = app
            .send(
                Method::GET,
                &format!("/api/database-configs/{id}/freshness"),
                &token,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        if f["needs_refresh"] == false {
            assert!(f["last_refresh"].is_string());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no background refresh within 20 s: {f}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn only_one_connection_is_primary_and_names_are_unique() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let a = create(&app, &token, reader_body(&target, "A")).await;
    let b = create(&app, &token, reader_body(&target, "B")).await;
    assert_eq!(b["is_primary"], true);
    let a: Value = app
        .send(
            Method::GET,
            &format!("/api/database-configs/{}", a["id"].as_str().unwrap()),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["data"]["is_primary"], false, "making B primary cleared A");

    let res = app
        .send(
            Method::POST,
            "/api/database-configs",
            &token,
            Some(&reader_body(&target, "a")),
        )
        .await;
    let p = problem(res, 409).await;
    assert_eq!(
        (
            p["code"].as_str(),
            p["field"].as_str(),
            p["success"].as_bool()
        ),
        (Some("name_taken"), Some("name"), Some(false))
    );
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let ok = json!({"host": "db.example.com", "database": "d", "username": "u"});
    let cases = [
        (
            json!({"name": "x", "provider": "oracle", "connection_config": ok}),
            "provider",
        ),
        (
            json!({"name": "x", "provider": "postgresql", "connection_config": {"database": "d", "username": "u"}}),
            "connection_config.host",
        ),
        (
            json!({"name": "x", "provider": "postgresql", "connection_config": {"host": "h", "port": 70000, "database": "d", "username": "u"}}),
            "connection_config.port",
        ),
        (
            json!({"name": "x", "provider": "postgresql", "connection_config": {"host": "h", "port": 0, "database": "d", "username": "u"}}),
            "connection_config.port",
        ),
        (
            json!({"name": "x".repeat(101), "provider": "postgresql", "connection_config": ok}),
            "name",
        ),
        (
            json!({"name": "x", "provider": "postgresql", "connection_config": ok, "settings": {"allowed_tables": ["a.b.c"]}}),
            "settings.allowed_tables",
        ),
        (
            json!({"name": "x", "provider": "sqlite", "connection_config": {}}),
            "connection_config.path",
        ),
        (
            json!({"name": "x", "provider": "postgresql", "connection_config": {"host": "h", "database": "d", "username": "u", "ssl": "sometimes"}}),
            "connection_config.ssl",
        ),
    ];
    for (body, field) in cases {
        let res = app
            .send(Method::POST, "/api/database-configs", &token, Some(&body))
            .await;
        let p = problem(res, 400).await;
        assert_eq!(p["field"], field, "{body}: {p}");
        assert_eq!(p["success"], false);
    }
    let cases = [
        (
            json!({"name": "x", "provider": "Oracle", "connectionString": "Host=h;Database=d;Username=u"}),
            "provider",
        ),
        (
            json!({"name": "x", "provider": "PostgreSQL", "connectionString": "Database=d;Username=u;Password=secretpw"}),
            "connectionString",
        ),
        (
            json!({"name": "x", "provider": "PostgreSQL", "connectionString": "Host=h;Port=abc;Database=d;Username=u"}),
            "connectionString",
        ),
        (
            json!({"name": "x", "provider": "MySQL", "connectionString": "postgres://u:secretpw@h/d"}),
            "connectionString",
        ),
        (
            json!({"name": "", "provider": "PostgreSQL", "connectionString": "Host=h;Database=d;Username=u"}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let res = app
            .send(Method::POST, "/api/db-management", &token, Some(&body))
            .await;
        let p = problem(res, 400).await;
        assert_eq!(p["field"], field, "{body}: {p}");
        assert!(
            !p.to_string().contains("secretpw"),
            "the password is never echoed: {p}"
        );
        assert!(p.get("success").is_none(), "seed 002 problems are plain");
    }
    let list: Value = app
        .send(Method::GET, "/api/db-management", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]), "nothing was stored");
}

#[tokio::test]
async fn passwords_are_sealed_at_rest_and_never_returned() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let created = create(&app, &token, reader_body(&target, "Shop")).await;
    let id = created["id"].as_str().unwrap();
    let secret = target.reader_password.as_str();
    for path in [
        "/api/database-configs".to_owned(),
        format!("/api/database-configs/{id}"),
        "/api/db-management".to_owned(),
        format!("/api/db-management/{id}"),
    ] {
        let text = app
            .send(Method::GET, &path, &token, None)
            .await
            .text()
            .await
            .unwrap();
        assert!(!text.contains(secret), "{path} shows the password");
    }
    let (c, conn) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = c
        .query_one(
            "SELECT sealed_password, location::text FROM db_configs",
            &[],
        )
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get(0);
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "sealed, not stored in clear"
    );
    assert!(!row.get::<_, String>(1).contains(secret));
    // A sealed password copied onto another row does not open there.
    let body = json!({"name": "Copy", "provider": "postgresql", "connection_config": target.reader_config()});
    let copy = create(&app, &token, body).await;
    c.execute(
        "UPDATE db_configs SET sealed_password = $1 WHERE id = $2::text::uuid",
        &[&sealed, &copy["id"].as_str().unwrap()],
    )
    .await
    .unwrap();
    let res = app
        .send(
            Method::POST,
            &format!("/api/db-management/{}/test", copy["id"].as_str().unwrap()),
            &token,
            None,
        )
        .await;
    assert_eq!(problem(res, 409).await["code"], "password_undecryptable");
}

#[tokio::test]
async fn connection_apis_need_an_admin() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/api/database-configs"),
        (Method::GET, "/api/db-management"),
        (Method::POST, "/api/db/test"),
    ] {
        let res = app
            .client
            .request(method, app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn a_stored_password_never_follows_the_connection_to_another_server() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let id = create(&app, &token, reader_body(&target, "Shop")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Re-pointing the connection at a server of the caller's choosing would send it the
    // stored password: the password must be given again.
    for patch in [
        json!({"connection_config": {"host": "127.0.0.2"}}),
        json!({"connection_config": {"port": 1}}),
        json!({"connection_config": {"username": "someone_else"}}),
        json!({"provider": "mysql"}),
    ] {
        let res = app
            .send(
                Method::PATCH,
                &format!("/api/database-configs/{id}"),
                &token,
                Some(&patch),
            )
            .await;
        let p = problem(res, 400).await;
        assert_eq!(p["field"], "connection_config.password", "{patch}: {p}");
    }
    let body = json!({"name": "Shop", "provider": "PostgreSQL", "connectionString": "Host=127.0.0.2;Database=d;Username=u"});
    let res = app
        .send(
            Method::PUT,
            &format!("/api/db-management/{id}"),
            &token,
            Some(&body),
        )
        .await;
    assert_eq!(problem(res, 400).await["field"], "connectionString");

    // With the password, or after removing it, the change goes through.
    let patch = json!({"connection_config": {"host": "127.0.0.2", "password": "a-new-password"}});
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/database-configs/{id}"),
            &token,
            Some(&patch),
        )
        .await;
    assert_eq!(res.status(), 200);
    let patch = json!({"connection_config": {"host": "127.0.0.3", "password": null}});
    let res: Value = app
        .send(
            Method::PATCH,
            &format!("/api/database-configs/{id}"),
            &token,
            Some(&patch),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        res["data"]["connection_config"].get("password").is_none(),
        "{res}"
    );
}

#[tokio::test]
async fn tls_modes_encrypt_and_verify_as_asked() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let (c, conn) = tokio_postgres::connect(&crate::helpers::admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let server_tls = c
        .query_one("SHOW ssl", &[])
        .await
        .unwrap()
        .get::<_, String>(0)
        == "on";

    let mut body = target.superuser_config();
    body["ssl"] = json!("require");
    let res: Value = app
        .send(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await
        .json()
        .await
        .unwrap();
    if server_tls {
        assert_eq!(res["success"], true, "TLS without verification: {res}");
        // The test server's certificate is self-signed: verification must refuse it.
        body["ssl"] = json!("verify-full");
        let res: Value = app
            .send(Method::POST, "/api/db/test-postgres", &token, Some(&body))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(res["success"], false, "{res}");
        assert!(
            res["message"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("certificate"),
            "{res}"
        );
    } else {
        assert_eq!(
            res["success"], false,
            "require on a server without TLS: {res}"
        );
    }
}

#[tokio::test]
async fn a_stored_connection_reuses_one_pool_which_closes_when_it_changes_or_goes() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;
    let id = create(&app, &token, reader_body(&target, "Shop")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (c, conn) = tokio_postgres::connect(&crate::helpers::admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let sessions = || async {
        let row = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = $2",
                &[&target.database, &target.reader],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    };
    let settle = |want: i64| {
        let sessions = &sessions;
        async move {
            for _ in 0..50 {
                if sessions().await == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("expected {want} sessions, found {}", sessions().await);
        }
    };
    for _ in 0..3 {
        let res: Value = app
            .send(
                Method::POST,
                &format!("/api/db-management/{id}/test"),
                &token,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(res["success"], true);
    }
    settle(1).await; // three tests, one pooled session
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/database-configs/{id}"),
            &token,
            Some(&json!({"description": "changed"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    settle(0).await; // a changed connection closes its pool
    let res: Value = app
        .send(
            Method::POST,
            &format!("/api/database-configs/{id}/refresh-schema"),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["success"], true);
    settle(1).await;
    app.send(
        Method::DELETE,
        &format!("/api/database-configs/{id}"),
        &token,
        None,
    )
    .await;
    settle(0).await; // a deleted connection closes its pool
}
