//! `/api/db-management` (seed 002): the same connections in camelCase with connection strings.

use actix_web::{HttpResponse, web};
use db_configs::{DbConfigDraft, DbConfigError, DbConfigPatch, Location, Provider};

use crate::dto_db::{
    DbManagementRequest, DbManagementTestResponse, DbManagementView, parse_tables,
};
use crate::extract::{Admin, ValidJson};
use crate::routes::db_configs::parse_id;
use crate::trail::Trail;
use crate::{ApiError, AppState, Problem};

/// Field names of this API for the service's errors.
fn rename_field(e: DbConfigError) -> ApiError {
    match e {
        DbConfigError::Invalid { field, message } => {
            let field = if field.starts_with("connection_config") {
                "connectionString".to_owned()
            } else if field.ends_with("allowed_tables") {
                "allowedTables".to_owned()
            } else {
                field
            };
            DbConfigError::Invalid { field, message }.into()
        }
        other => other.into(),
    }
}

struct Parsed {
    provider: Provider,
    location: Location,
    password: Option<db_configs::Secret>,
    allowed_tables: Option<Vec<db_configs::TableName>>,
}

fn parse(req: &DbManagementRequest) -> Result<Parsed, ApiError> {
    let provider = Provider::parse(&req.provider, "provider")?;
    let (location, password) =
        db_configs::parse_connection_string(provider, &req.connection_string)?;
    let allowed_tables = req
        .allowed_tables
        .as_deref()
        .map(|t| parse_tables(t, "allowedTables"))
        .transpose()?;
    let password = password.filter(|p| p.expose() != db_configs::PASSWORD_MASK);
    Ok(Parsed {
        provider,
        location,
        password,
        allowed_tables,
    })
}

/// List connections.
#[utoipa::path(get, path = "/api/db-management", tag = "db-management", operation_id = "listDbManagement",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, body = Vec<DbManagementView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let configs = state
        .db_configs
        .list(db_configs::ListFilter::default())
        .await?;
    Ok(HttpResponse::Ok().json(
        configs
            .into_iter()
            .map(DbManagementView::from)
            .collect::<Vec<_>>(),
    ))
}

/// Get a connection.
#[utoipa::path(get, path = "/api/db-management/{id}", tag = "db-management", operation_id = "getDbManagement",
    params(("id" = String, Path, description = "Connection id")), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DbManagementView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let config = state.db_configs.get(parse_id(&id)?, false).await?;
    Ok(HttpResponse::Ok().json(DbManagementView::from(config)))
}

/// Add a connection.
#[utoipa::path(post, path = "/api/db-management", tag = "db-management", operation_id = "createDbManagement",
    request_body = DbManagementRequest, security(("bearerAuth" = [])),
    responses(
        (status = 201, body = DbManagementView),
        (status = 400, description = "A field is invalid; `field` names it", body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    body: ValidJson<DbManagementRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    let p = parse(&req)?;
    let draft = DbConfigDraft {
        name: req.name,
        description: req.description,
        provider: p.provider,
        location: p.location,
        allowed_tables: p.allowed_tables.unwrap_or_default(),
        is_primary: req.is_primary.unwrap_or(false),
        is_active: req.is_active.unwrap_or(true),
    };
    let config = state
        .db_configs
        .create(draft, p.password)
        .await
        .map_err(rename_field)?;
    trail
        .admin(&admin, "db.config.created", |e| {
            e.db_config_id = Some(config.id.as_uuid());
        })
        .await;
    Ok(HttpResponse::Created().json(DbManagementView::from(config)))
}

/// Replace a connection's name, provider and connection string.
///
/// A connection string without a password (or with `********`) keeps the stored one, unless the
/// provider, host, port or username change: then the password must be given again.
/// `description`, `allowedTables`, `isActive` and `isPrimary` change only when given.
#[utoipa::path(put, path = "/api/db-management/{id}", tag = "db-management", operation_id = "updateDbManagement",
    params(("id" = String, Path, description = "Connection id")),
    request_body = DbManagementRequest, security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DbManagementView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn replace(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    id: web::Path<String>,
    body: ValidJson<DbManagementRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    let id = parse_id(&id)?;
    let p = parse(&req)?;
    let mut patch = DbConfigPatch {
        name: Some(req.name),
        description: req.description.map(Some),
        provider: Some(p.provider),
        password: p.password.map(Some),
        allowed_tables: p.allowed_tables,
        is_primary: req.is_primary,
        is_active: req.is_active,
        ..DbConfigPatch::default()
    };
    match p.location {
        Location::Server(e) => {
            patch.host = Some(e.host);
            patch.port = Some(e.port);
            patch.database = Some(e.database);
            patch.username = Some(e.username);
            patch.ssl = Some(e.ssl);
        }
        Location::File { path } => patch.path = Some(path),
    }
    let config = state
        .db_configs
        .update(id, patch)
        .await
        .map_err(rename_field)?;
    trail
        .admin(&admin, "db.config.updated", |e| {
            e.db_config_id = Some(config.id.as_uuid());
        })
        .await;
    Ok(HttpResponse::Ok().json(DbManagementView::from(config)))
}

/// Delete a connection (soft: kept for the audit trail, hidden everywhere).
#[utoipa::path(delete, path = "/api/db-management/{id}", tag = "db-management", operation_id = "deleteDbManagement",
    params(("id" = String, Path, description = "Connection id")), security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    state.db_configs.delete(id).await?;
    trail
        .admin(&admin, "db.config.deleted", |e| {
            e.db_config_id = Some(id.as_uuid());
        })
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Test a stored connection.
///
/// A failed connection is `success: false` with a message, within the connect timeout.
#[utoipa::path(post, path = "/api/db-management/{id}/test", tag = "db-management", operation_id = "testDbManagement",
    params(("id" = String, Path, description = "Connection id")), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DbManagementTestResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn test(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let started = std::time::Instant::now();
    let body = match state.db_configs.test_saved(parse_id(&id)?).await {
        Ok(r) => DbManagementTestResponse {
            success: true,
            message: "Connection successful".into(),
            elapsed_ms: r.latency_ms,
            warnings: r.warnings,
        },
        Err(DbConfigError::Target(e)) => DbManagementTestResponse {
            success: false,
            message: e.to_string(),
            elapsed_ms: started.elapsed().as_millis() as u64,
            warnings: Vec::new(),
        },
        Err(e) => return Err(e.into()),
    };
    Ok(HttpResponse::Ok().json(body))
}
