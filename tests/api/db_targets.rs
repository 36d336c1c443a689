//! Talking to users' databases: tests, discovery, snapshots and their freshness, the host
//! policy, TLS, and the per-connection pools, against a real PostgreSQL target.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_configs::{create, reader_body};
use crate::helpers::{TargetPg, problem, server_address, spawn_app, spawn_app_with};

#[tokio::test]
async fn testing_a_connection_reports_latency_probe_and_privilege_warnings() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = TargetPg::new().await;

    let mut body = target.reader_config();
    body["allowed_tables"] = json!(["shop.customers"]);
    let res: Value = app
        .json(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await;
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
        .json(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await;
    assert_eq!(
        res["tested_table_accessible"], false,
        "no grant on shop.secrets"
    );

    let mut body = target.superuser_config();
    body["provider"] = json!("postgresql");
    let res: Value = app
        .json(Method::POST, "/api/db/test", &token, Some(&body))
        .await;
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
        .json(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await;
    assert_eq!(res["success"], false);
    assert!(
        res["message"].as_str().unwrap().contains("does not exist"),
        "{res}"
    );

    // Nothing listens on port 1.
    let body = json!({"host": "127.0.0.1", "port": 1, "database": "d", "username": "u", "password": "hunter2hunter2"});
    let res: Value = app
        .json(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await;
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
        .json(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await;
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
        .json(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await;
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
        .json(
            Method::POST,
            "/api/db/discover-postgres-schema",
            &token,
            Some(&target.superuser_config()),
        )
        .await;
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
        .json(
            Method::GET,
            &format!("/api/database-configs/{id}/freshness"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        f,
        json!({"success": true, "needs_refresh": true, "last_refresh": null, "age_hours": null})
    );

    let res: Value = app
        .json(
            Method::POST,
            &format!("/api/database-configs/{id}/refresh-schema"),
            &token,
            None,
        )
        .await;
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
        .json(
            Method::GET,
            &format!("/api/database-configs/{id}/freshness"),
            &token,
            None,
        )
        .await;
    assert_eq!(f["needs_refresh"], false);
    assert_eq!(f["last_refresh"], res["refreshed_at"]);
    assert!(f["age_hours"].as_f64().unwrap() < 0.1);
    let seen: Value = app
        .json(
            Method::GET,
            &format!("/api/database-configs/{id}"),
            &token,
            None,
        )
        .await;
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
            .json(
                Method::GET,
                &format!("/api/database-configs/{id}/freshness"),
                &token,
                None,
            )
            .await;
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
        .json(Method::POST, "/api/db/test-postgres", &token, Some(&body))
        .await;
    if server_tls {
        assert_eq!(res["success"], true, "TLS without verification: {res}");
        // The test server's certificate is self-signed: verification must refuse it.
        body["ssl"] = json!("verify-full");
        let res: Value = app
            .json(Method::POST, "/api/db/test-postgres", &token, Some(&body))
            .await;
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
            .json(
                Method::POST,
                &format!("/api/db-management/{id}/test"),
                &token,
                None,
            )
            .await;
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
        .json(
            Method::POST,
            &format!("/api/database-configs/{id}/refresh-schema"),
            &token,
            None,
        )
        .await;
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
