//! Every error is problem+json, with a stable code, and names the field at fault.

use serde_json::json;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 404).await["code"], "not_found");
}

#[tokio::test]
async fn wrong_methods_are_405_problems() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/auth/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 405).await["code"], "method_not_allowed");
    let res = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(problem(res, 405).await["code"], "method_not_allowed");
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/auth/sign-in"))
        .header("content-type", "application/json")
        .body("{\"username\": \"admin\",")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 400).await["code"], "malformed_json");
}

#[tokio::test]
async fn wrong_field_types_and_missing_fields_are_named() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/auth/sign-in",
            &json!({"username": 42, "password": "x"}),
        )
        .await;
    let body = problem(res, 400).await;
    assert_eq!(body["field"], "username", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("username"));

    let res = app
        .post_json("/api/auth/sign-in", &json!({"username": "admin"}))
        .await;
    assert_eq!(problem(res, 400).await["field"], "password");

    let res = app
        .post_json(
            "/api/auth/sign-in",
            &json!({"username": "a", "password": "b", "role": "root"}),
        )
        .await;
    let body = problem(res, 400).await;
    assert!(
        body["detail"].as_str().unwrap().contains("role"),
        "unknown fields are refused by name: {body}"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_problems() {
    let app = spawn_app().await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let res = app
        .post_json(
            "/api/auth/sign-in",
            &json!({"username": huge, "password": "x"}),
        )
        .await;
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");
}

#[tokio::test]
async fn gzipped_bodies_are_read_and_their_limit_counts_what_they_expand_to() {
    let app = spawn_app().await;
    let gzip = |text: String| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut e, text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let post = |body: Vec<u8>| {
        app.client
            .post(app.url("/api/auth/sign-up"))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
    };
    let admin = json!({"username": "admin", "password": crate::helpers::PASSWORD}).to_string();
    let res = post(gzip(admin)).await.unwrap();
    assert_eq!(res.status(), 200, "the first administrator signs up");
    // 2 MiB of JSON in a few kilobytes of gzip: refused as the 2 MiB it is.
    let bomb = json!({"username": "x".repeat(2 * 1024 * 1024), "password": "x"}).to_string();
    let compressed = gzip(bomb);
    assert!(compressed.len() < 64 * 1024);
    let res = post(compressed).await.unwrap();
    assert_eq!(problem(res, 413).await["code"], "payload_too_large");
}

#[tokio::test]
async fn non_json_bodies_are_415_problems() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/auth/sign-in"))
        .header("content-type", "text/plain")
        .body("username=admin")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 415).await["code"], "unsupported_media_type");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.client.get(app.url("/nope")).send().await.unwrap();
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a uuid is generated: {generated}");
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "bad id\twith tab")
        .send()
        .await
        .unwrap();
    assert_ne!(
        res.headers()["x-request-id"],
        "bad id\twith tab",
        "malformed ids are replaced"
    );
}

#[tokio::test]
async fn a_lost_database_is_a_503_without_internals() {
    let app = spawn_app().await;
    app.sign_up_admin().await;
    // Pull the database from under the running server.
    let admin = {
        let (c, conn) =
            tokio_postgres::connect(&crate::helpers::admin_url(), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(conn);
        c
    };
    admin
        .batch_execute(&format!("ALTER DATABASE {0} WITH ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'", app.db.name))
        .await
        .unwrap();
    let res = app.sign_in("admin", crate::helpers::PASSWORD).await;
    let body = problem(res, 503).await;
    assert_eq!(body["code"], "service_unavailable");
    let text = body.to_string();
    for leak in [
        "postgres",
        "sluice_test",
        "connection",
        "FATAL",
        "127.0.0.1",
    ] {
        assert!(
            !text.contains(leak),
            "the problem must not show internals ({leak}): {text}"
        );
    }
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS true",
            app.db.name
        ))
        .await
        .unwrap();
}
