//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::dto::{HealthResponse, ReadinessResponse};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "The process is alive", body = HealthResponse)))]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "ok".into(),
    })
}

/// Readiness: the metadata database is reachable and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready to serve", body = ReadinessResponse),
        (status = 503, description = "A dependency is not ready", body = ReadinessResponse),
    ))]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let report = state.readiness.check().await;
    let body = ReadinessResponse {
        status: if report.ready { "ready" } else { "not_ready" }.into(),
        checks: report.checks.into_iter().collect(),
    };
    if report.ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
