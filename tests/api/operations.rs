//! Health, readiness, the OpenAPI description and the API docs.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_and_readiness_report_ok() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["migrations"], "ok");
}

#[tokio::test]
async fn the_served_spec_equals_the_committed_one() {
    let app = spawn_app().await;
    let served: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let generated: Value = serde_json::from_str(&http_api::openapi_json()).unwrap();
    let committed: Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap();
    assert_eq!(
        generated, committed,
        "openapi/openapi.json is out of date: run `make openapi` and commit the result"
    );
    assert_eq!(
        served, committed,
        "the server serves the committed description"
    );
    assert_eq!(served["openapi"], "3.1.0");
    assert!(served["components"]["securitySchemes"]["bearerAuth"].is_object());
}

#[tokio::test]
async fn the_spec_describes_every_route_with_unique_operation_ids() {
    let spec: Value = serde_json::from_str(&http_api::openapi_json()).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            assert!(ids.insert(id.to_owned()), "operationId {id} is unique");
            assert!(op["summary"].is_string(), "{method} {path} has a summary");
        }
    }
    for path in [
        "/api/auth/sign-in",
        "/api/auth/sign-up",
        "/api/auth/refresh",
        "/api/auth/sign-out",
        "/api/auth/me",
        "/api/auth/change-password",
        "/api/auth/first-run",
        "/healthz",
        "/readyz",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is described");
    }
}

#[tokio::test]
async fn the_docs_page_is_served_without_the_internet() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert!(res.status().is_redirection());
    let res = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "the Swagger UI page");
    // Its assets come from this server, not a CDN.
    assert!(
        !html.contains("cdn.") && !html.contains("unpkg"),
        "no CDN assets"
    );
    let res = app
        .client
        .get(app.url("/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
