//! `/api/mcp-keys` (seed 002): issue, list, change and revoke MCP keys.

use actix_web::{HttpResponse, web};
use keys::{KeyError, KeyId};

use crate::dto_keys::{IssueKeyRequest, IssuedKeyView, KeyView, UpdateKeyRequest};
use crate::extract::{Admin, ValidJson};
use crate::trail::Trail;
use crate::{ApiError, AppState, Problem};

fn parse_id(raw: &str) -> Result<KeyId, ApiError> {
    raw.parse()
        .map_err(|_| KeyError::NotFound(raw.to_owned()).into())
}

/// List keys, revoked ones too, newest first.
#[utoipa::path(get, path = "/api/mcp-keys", tag = "mcp-keys", operation_id = "listMcpKeys",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, body = Vec<KeyView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let keys = state.keys.list().await?;
    Ok(HttpResponse::Ok().json(keys.into_iter().map(KeyView::from).collect::<Vec<_>>()))
}

/// Get a key.
#[utoipa::path(get, path = "/api/mcp-keys/{id}", tag = "mcp-keys", operation_id = "getMcpKey",
    params(("id" = String, Path, description = "Key id")), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = KeyView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = state.keys.get(parse_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(KeyView::from(key)))
}

/// Issue a key. Its value is in this response only.
#[utoipa::path(post, path = "/api/mcp-keys", tag = "mcp-keys", operation_id = "issueMcpKey",
    security(("bearerAuth" = [])), request_body = IssueKeyRequest,
    responses(
        (status = 201, body = IssuedKeyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn issue(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    body: ValidJson<IssueKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let issued = state.keys.issue(body.0.try_into()?).await?;
    let k = &issued.listing.key;
    trail
        .admin(&admin, "mcp.key.issued", |e| {
            e.key_id = Some(k.id.as_uuid());
            e.db_config_id = Some(k.db_config_id.as_uuid());
        })
        .await;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(IssuedKeyView::from(issued)))
}

/// Change a key's grants, limits or state; every instance applies it within a moment.
#[utoipa::path(patch, path = "/api/mcp-keys/{id}", tag = "mcp-keys", operation_id = "updateMcpKey",
    params(("id" = String, Path, description = "Key id")), security(("bearerAuth" = [])),
    request_body = UpdateKeyRequest,
    responses(
        (status = 200, body = KeyView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is revoked", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    id: web::Path<String>,
    body: ValidJson<UpdateKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = state.keys.update(parse_id(&id)?, body.0.into()).await?;
    trail
        .admin(&admin, "mcp.key.updated", |e| {
            e.key_id = Some(key.key.id.as_uuid());
            e.db_config_id = Some(key.key.db_config_id.as_uuid());
        })
        .await;
    Ok(HttpResponse::Ok().json(KeyView::from(key)))
}

/// Revoke a key: it stops working at once on every instance and stays listed as revoked.
#[utoipa::path(delete, path = "/api/mcp-keys/{id}", tag = "mcp-keys", operation_id = "revokeMcpKey",
    params(("id" = String, Path, description = "Key id")), security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Revoked (also when it already was)"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn revoke(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    state.keys.revoke(id).await?;
    trail
        .admin(&admin, "mcp.key.revoked", |e| e.key_id = Some(id.as_uuid()))
        .await;
    Ok(HttpResponse::NoContent().finish())
}
