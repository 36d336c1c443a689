//! Database connections through both seed APIs, against a real PostgreSQL target.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TargetPg, problem, server_address, spawn_app};

pub(crate) async fn create(app: &crate::helpers::TestApp, token: &str, body: Value) -> Value {
    let res = app
        .send(Method::POST, "/api/database-configs", token, Some(&body))
        .await;
    assert_eq!(res.status(), 201, "created");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], true);
    body["data"].clone()
}

pub(crate) fn reader_body(target: &TargetPg, name: &str) -> Value {
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
        .json(Method::GET, "/api/database-configs", &token, None)
        .await;
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
        .json(
            Method::POST,
            &format!("/api/db-management/{id}/test"),
            &token,
            None,
        )
        .await;
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
        .json(Method::GET, "/api/database-configs", &token, None)
        .await;
    assert_eq!(list["count"], 0, "deleted connections are hidden");
    let list: Value = app
        .json(
            Method::GET,
            "/api/database-configs?includeDeleted=true",
            &token,
            None,
        )
        .await;
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
        .json(Method::GET, "/api/db-management", &token, None)
        .await;
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
        .json(
            Method::GET,
            &format!("/api/database-configs/{id}"),
            &token,
            None,
        )
        .await;
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
        .json(Method::GET, "/api/database-configs", &token, None)
        .await;
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
        .json(Method::GET, "/api/db-management", &token, None)
        .await;
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
        .json(
            Method::PATCH,
            &format!("/api/database-configs/{id}"),
            &token,
            Some(&patch),
        )
        .await;
    assert!(
        res["data"]["connection_config"].get("password").is_none(),
        "{res}"
    );
}
