//! MySQL/MariaDB and SQLite connections through the API, against real servers and files.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TargetMaria, problem, spawn_app};

#[tokio::test]
async fn a_mariadb_connection_is_tested_discovered_and_snapshotted() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = TargetMaria::new().await;

    let body = json!({"name": "Maria", "provider": "MariaDB", "connectionString": format!(
        "Server={};Port={};Database={};Uid={};Pwd={}", t.host, t.port, t.database, t.reader, t.reader_password)});
    let res = app
        .send(Method::POST, "/api/db-management", &token, Some(&body))
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["provider"], "MariaDB");
    assert!(!created.to_string().contains(&t.reader_password));

    let test: Value = app
        .json(
            Method::POST,
            &format!("/api/db-management/{id}/test"),
            &token,
            None,
        )
        .await;
    assert_eq!(test["success"], true, "{test}");
    assert_eq!(test["warnings"], json!([]), "a SELECT-only login: {test}");

    let snap: Value = app
        .json(
            Method::POST,
            &format!("/api/database-configs/{id}/refresh-schema"),
            &token,
            None,
        )
        .await;
    assert_eq!(snap["success"], true, "{snap}");
    let tables = snap["schema"]["tables"].as_array().unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["customers", "orders"],
        "only what the login may read"
    );
    let customers = &tables[0];
    assert_eq!(customers["schema"], t.database.as_str());
    assert_eq!(customers["comment"], "People who buy things");
    assert_eq!(customers["primary_key"], json!(["id"]));
    assert_eq!(customers["columns"][1]["nullable"], false);
    assert_eq!(customers["columns"][2]["comment"], "Where receipts go");
    let orders = &tables[1];
    assert_eq!(orders["columns"][2]["type"], "decimal(10,2)");
    assert_eq!(orders["foreign_keys"][0]["columns"], json!(["customer_id"]));
    assert_eq!(
        orders["foreign_keys"][0]["references"],
        format!("{}.customers", t.database)
    );

    let mut cfg = t.reader_config();
    cfg["provider"] = json!("mysql");
    let found: Value = app
        .json(Method::POST, "/api/db/discover", &token, Some(&cfg))
        .await;
    assert_eq!(found["success"], true, "{found}");
    let schema = found["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == t.database.as_str())
        .unwrap();
    assert_eq!(schema["tables"].as_array().unwrap().len(), 2);

    cfg["allowed_tables"] = json!([format!("{}.orders", t.database)]);
    let res: Value = app
        .json(Method::POST, "/api/db/test", &token, Some(&cfg))
        .await;
    assert_eq!(
        (
            res["tested_table_accessible"].as_bool(),
            res["success"].as_bool()
        ),
        (Some(true), Some(true)),
        "{res}"
    );
    cfg["allowed_tables"] = json!([format!("{}.secrets", t.database)]);
    let res: Value = app
        .json(Method::POST, "/api/db/test", &token, Some(&cfg))
        .await;
    assert_eq!(res["tested_table_accessible"], false);
}

#[tokio::test]
async fn a_wrong_mariadb_password_is_success_false_and_never_echoed() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = TargetMaria::new().await;
    let mut cfg = t.reader_config();
    cfg["provider"] = json!("mariadb");
    cfg["password"] = json!("definitely-wrong-password");
    let started = Instant::now();
    let res = app
        .send(Method::POST, "/api/db/test", &token, Some(&cfg))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(body["success"], false);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("authentication failed"),
        "{body}"
    );
    assert!(!body.to_string().contains("definitely-wrong-password"));
}

#[tokio::test]
async fn a_root_mariadb_login_is_warned_about() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = TargetMaria::new().await;
    let cfg = json!({"provider": "mariadb", "host": t.host, "port": t.port, "database": t.database, "username": "root"});
    let res: Value = app
        .json(Method::POST, "/api/db/test", &token, Some(&cfg))
        .await;
    assert_eq!(res["success"], true, "{res}");
    let warnings = res["warnings"].to_string();
    assert!(
        warnings.contains("administrative") && warnings.contains("can write"),
        "{warnings}"
    );
}

fn sqlite_file() -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("sluice-test-{}.db", uuid::Uuid::now_v7().simple()));
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT DEFAULT 'none');
         CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id), amount NUMERIC);
         CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100;
         INSERT INTO customers (name) VALUES ('Ada'), ('Grace');
         INSERT INTO orders (customer_id, amount) VALUES (1, 10), (1, 250), (2, 99);",
    )
    .unwrap();
    path
}

#[tokio::test]
async fn a_sqlite_file_is_tested_discovered_and_snapshotted_read_only() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let file = sqlite_file();
    let path = file.to_string_lossy().into_owned();
    let before = std::fs::read(&file).unwrap();

    let body = json!({"name": "Local", "provider": "sqlite", "connection_config": {"path": path}, "settings": {"allowed_tables": ["main.orders"]}});
    let res = app
        .send(Method::POST, "/api/database-configs", &token, Some(&body))
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap();
    assert_eq!(created["data"]["connection_config"], json!({"path": path}));

    let list: Value = app
        .json(Method::GET, "/api/db-management", &token, None)
        .await;
    assert_eq!(list[0]["connectionString"], format!("Data Source={path}"));
    assert_eq!(list[0]["provider"], "SQLite");

    let test: Value = app
        .json(
            Method::POST,
            &format!("/api/db-management/{id}/test"),
            &token,
            None,
        )
        .await;
    assert_eq!(test["success"], true, "{test}");

    let snap: Value = app
        .json(
            Method::POST,
            &format!("/api/database-configs/{id}/refresh-schema"),
            &token,
            None,
        )
        .await;
    assert_eq!(snap["success"], true, "{snap}");
    let tables = snap["schema"]["tables"].as_array().unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["big_orders", "customers", "orders"]);
    let orders = tables.iter().find(|t| t["name"] == "orders").unwrap();
    assert_eq!(orders["row_estimate"], 3);
    assert_eq!(orders["foreign_keys"][0]["references"], "main.customers");
    let customers = tables.iter().find(|t| t["name"] == "customers").unwrap();
    assert_eq!(customers["columns"][2]["default"], "'none'");

    let found: Value = app
        .json(
            Method::POST,
            "/api/db/discover",
            &token,
            Some(&json!({"provider": "SQLite", "path": path})),
        )
        .await;
    assert_eq!(found["schemas"][0]["name"], "main");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the file was not changed"
    );
    std::fs::remove_file(&file).ok();
}

#[tokio::test]
async fn a_missing_sqlite_file_is_reported_and_not_created() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let missing = std::env::temp_dir().join(format!(
        "sluice-missing-{}.db",
        uuid::Uuid::now_v7().simple()
    ));
    let body = json!({"provider": "sqlite", "path": missing.to_string_lossy()});
    let res: Value = app
        .json(Method::POST, "/api/db/test", &token, Some(&body))
        .await;
    assert_eq!(res["success"], false);
    assert!(
        res["message"].as_str().unwrap().contains("does not exist"),
        "{res}"
    );
    assert!(!missing.exists(), "testing must not create the file");
    let res = app
        .send(
            Method::POST,
            "/api/db/test",
            &token,
            Some(&json!({"provider": "sqlite"})),
        )
        .await;
    assert_eq!(problem(res, 400).await["field"], "connection_config.path");
}

#[tokio::test]
async fn sqlite_files_outside_the_configured_directories_are_refused() {
    let file = sqlite_file();
    let dir = file
        .parent()
        .unwrap()
        .join(format!("sluice-allowed-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let inside = dir.join("app.db");
    std::fs::copy(&file, &inside).unwrap();
    let allowed = dir.to_string_lossy().into_owned();
    let app =
        crate::helpers::spawn_app_with(|s| s.targets.sqlite_dirs = vec![allowed.clone()]).await;
    let token = app.admin_token().await;

    let create = |path: String| json!({"name": format!("f{}", path.len()), "provider": "sqlite", "connection_config": {"path": path}});
    for outside in [
        file.to_string_lossy().into_owned(),
        format!(
            "{allowed}/../{}",
            file.file_name().unwrap().to_string_lossy()
        ),
    ] {
        let res = app
            .send(
                Method::POST,
                "/api/database-configs",
                &token,
                Some(&create(outside.clone())),
            )
            .await;
        assert_eq!(
            problem(res, 400).await["field"],
            "connection_config.path",
            "{outside}"
        );
    }
    let res = app
        .send(
            Method::POST,
            "/api/database-configs",
            &token,
            Some(&create(inside.to_string_lossy().into_owned())),
        )
        .await;
    assert_eq!(res.status(), 201);
    std::fs::remove_dir_all(dir).ok();
    std::fs::remove_file(file).ok();
}

#[tokio::test]
async fn a_stored_mariadb_connection_is_pooled_and_closed_on_delete() {
    use mysql_async::prelude::Queryable as _;
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = TargetMaria::new().await;
    let body =
        json!({"name": "Maria", "provider": "mariadb", "connection_config": t.reader_config()});
    let res: Value = app
        .json(Method::POST, "/api/database-configs", &token, Some(&body))
        .await;
    let id = res["data"]["id"].as_str().unwrap().to_owned();
    let opts = mysql_async::Opts::from_url(&crate::helpers::mysql_admin_url()).unwrap();
    let mut admin = mysql_async::Conn::new(opts).await.unwrap();
    // Connections go back to the pool asynchronously, so a quick next call may open a second
    // one; what matters is reuse (fewer sessions than calls) and closing on delete.
    let mut sessions = async |want: std::ops::RangeInclusive<i64>| {
        for _ in 0..50 {
            let n: Option<i64> = admin
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?",
                    (t.reader.clone(),),
                )
                .await
                .unwrap();
            if n.is_some_and(|n| want.contains(&n)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let n: Option<i64> = admin
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?",
                (t.reader.clone(),),
            )
            .await
            .unwrap();
        panic!("expected {want:?} sessions of the reader, found {n:?}");
    };
    for _ in 0..6 {
        let res: Value = app
            .json(
                Method::POST,
                &format!("/api/db-management/{id}/test"),
                &token,
                None,
            )
            .await;
        assert_eq!(res["success"], true, "{res}");
    }
    sessions(1..=3).await;
    app.send(
        Method::DELETE,
        &format!("/api/db-management/{id}"),
        &token,
        None,
    )
    .await;
    sessions(0..=0).await;
}

#[tokio::test]
async fn sqlite_and_mariadb_connections_update_report_freshness_and_soft_delete() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let t = TargetMaria::new().await;
    let (a, b) = (sqlite_file(), sqlite_file());
    let sqlite = json!({"name": "Lite", "provider": "sqlite", "connection_config": {"path": a.to_string_lossy()}});
    let maria =
        json!({"name": "Maria", "provider": "mariadb", "connection_config": t.reader_config()});
    for (body, patch) in [
        (
            sqlite,
            json!({"connection_config": {"path": b.to_string_lossy()}}),
        ),
        (
            maria,
            json!({"settings": {"allowed_tables": [format!("{}.orders", t.database)]}}),
        ),
    ] {
        let created: Value = app
            .json(Method::POST, "/api/database-configs", &token, Some(&body))
            .await;
        let id = created["data"]["id"].as_str().unwrap().to_owned();
        let res: Value = app
            .json(
                Method::PATCH,
                &format!("/api/database-configs/{id}"),
                &token,
                Some(&patch),
            )
            .await;
        assert_eq!(res["success"], true, "{res}");
        let f: Value = app
            .json(
                Method::GET,
                &format!("/api/database-configs/{id}/freshness"),
                &token,
                None,
            )
            .await;
        assert_eq!(f["needs_refresh"], true);
        let snap: Value = app
            .json(
                Method::POST,
                &format!("/api/database-configs/{id}/refresh-schema"),
                &token,
                None,
            )
            .await;
        assert_eq!(snap["success"], true, "{snap}");
        let f: Value = app
            .json(
                Method::GET,
                &format!("/api/database-configs/{id}/freshness"),
                &token,
                None,
            )
            .await;
        assert_eq!(f["needs_refresh"], false);
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
                &format!("/api/db-management/{id}"),
                &token,
                None,
            )
            .await;
        assert_eq!(res.status(), 404, "gone from the other API too");
    }
    std::fs::remove_file(a).ok();
    std::fs::remove_file(b).ok();
}
