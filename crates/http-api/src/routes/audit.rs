//! `/api/audit` (seed 002): search the audit log and check its hash chain.

use actix_web::{HttpResponse, web};

use crate::dto_audit::{AuditPageView, AuditQuery, VerificationView};
use crate::extract::Admin;
use crate::{ApiError, AppState, Problem};

impl From<audit::AuditError> for ApiError {
    fn from(e: audit::AuditError) -> Self {
        match e {
            audit::AuditError::Unavailable(cause) => Self::unavailable(cause.as_ref()),
        }
    }
}

/// List audit events, newest first: every MCP request (allowed, denied, failed or
/// unauthenticated) and every administrator change.
#[utoipa::path(get, path = "/api/audit", tag = "audit", operation_id = "listAuditEvents",
    params(AuditQuery), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = AuditPageView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .audit_store
        .search(&query.into_inner().try_into()?)
        .await?;
    Ok(HttpResponse::Ok().json(AuditPageView::from(page)))
}

/// Check the hash chain of the whole log: an event edited, removed or reordered in the
/// database breaks it at that event.
#[utoipa::path(get, path = "/api/audit/verify", tag = "audit", operation_id = "verifyAuditLog",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, body = VerificationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verify(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let v = state.audit_store.verify().await?;
    Ok(HttpResponse::Ok().json(VerificationView::from(v)))
}
