//! `/api/semantic` (seed 002): what administrators write about a connection's database,
//! tables and columns.

use actix_web::{HttpResponse, web};

use crate::dto_semantic::{SemanticQuery, SemanticUpdateRequest, SemanticView, connection_id};
use crate::extract::{Admin, ValidJson};
use crate::trail::Trail;
use crate::{ApiError, AppState, Problem};

/// Read the semantic layer of a connection.
#[utoipa::path(get, path = "/api/semantic", tag = "semantic", operation_id = "getSemantic",
    params(SemanticQuery), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = SemanticView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<SemanticQuery>,
) -> Result<HttpResponse, ApiError> {
    let doc = state
        .semantic
        .get(connection_id(&query.db_management_id)?)
        .await?;
    Ok(HttpResponse::Ok().json(SemanticView::new(doc.semantics, &doc.default_schema)))
}

/// Describe tables, columns and the database. Upserts what the request names (field by
/// field) and leaves everything else; answers with the whole semantic layer of the
/// connection. Every unknown table or column is named in one 400.
#[utoipa::path(put, path = "/api/semantic", tag = "semantic", operation_id = "updateSemantic",
    request_body = SemanticUpdateRequest, security(("bearerAuth" = [])),
    responses(
        (status = 200, body = SemanticView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    body: ValidJson<SemanticUpdateRequest>,
) -> Result<HttpResponse, ApiError> {
    let update: semantic::SemanticUpdate = body.0.try_into()?;
    let db = update.db_config_id;
    let tables: Vec<String> = update.tables.iter().map(|t| t.name.clone()).collect();
    let doc = state.semantic.update(update).await?;
    trail
        .admin(&admin, "semantic.updated", |e| {
            e.db_config_id = Some(db.as_uuid());
            e.tables = tables;
        })
        .await;
    Ok(HttpResponse::Ok().json(SemanticView::new(doc.semantics, &doc.default_schema)))
}
