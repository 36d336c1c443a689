//! `/api/database-configs` (seed 000): connections in snake_case with `success` envelopes.

use actix_web::{HttpResponse, web};
use db_configs::{
    DbConfigDraft, DbConfigError, DbConfigId, DbConfigPatch, ListFilter, Provider, Secret,
};

use crate::dto_db::{
    CreateDatabaseConfigRequest, DatabaseConfigListResponse, DatabaseConfigResponse,
    DatabaseConfigView, FreshnessResponse, ListDatabaseConfigsQuery, RefreshSchemaResponse,
    SuccessResponse, UpdateDatabaseConfigRequest, parse_tables,
};
use crate::extract::{Admin, ValidJson};
use crate::trail::Trail;
use crate::{ApiError, AppState, Problem};

pub(crate) fn parse_id(raw: &str) -> Result<DbConfigId, ApiError> {
    raw.parse()
        .map_err(|_| DbConfigError::NotFound(raw.to_owned()).into())
}

fn tables_of(
    top: Option<Vec<String>>,
    settings: Option<crate::dto_db::SettingsInput>,
) -> Option<(Vec<String>, &'static str)> {
    top.map(|t| (t, "allowed_tables")).or_else(|| {
        settings
            .and_then(|s| s.allowed_tables)
            .map(|t| (t, "settings.allowed_tables"))
    })
}

/// List connections.
#[utoipa::path(get, path = "/api/database-configs", tag = "database-configs", operation_id = "listDatabaseConfigs",
    params(ListDatabaseConfigsQuery), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DatabaseConfigListResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<ListDatabaseConfigsQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = ListFilter {
        include_deleted: query.include_deleted,
        active_only: query.active_only,
    };
    let data: Vec<DatabaseConfigView> = state
        .db_configs
        .list(filter)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(DatabaseConfigListResponse {
        success: true,
        count: data.len(),
        data,
    }))
}

/// Get a connection.
#[utoipa::path(get, path = "/api/database-configs/{id}", tag = "database-configs", operation_id = "getDatabaseConfig",
    params(("id" = String, Path, description = "Connection id"), ListDatabaseConfigsQuery), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DatabaseConfigResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
    query: web::Query<ListDatabaseConfigsQuery>,
) -> Result<HttpResponse, ApiError> {
    let config = state
        .db_configs
        .get(parse_id(&id)?, query.include_deleted)
        .await?;
    Ok(HttpResponse::Ok().json(DatabaseConfigResponse {
        success: true,
        data: config.into(),
    }))
}

/// Register a connection.
///
/// The password is stored encrypted and never returned. The connection is not contacted: use
/// `POST /api/db/test` first, and `refresh-schema` after.
#[utoipa::path(post, path = "/api/database-configs", tag = "database-configs", operation_id = "createDatabaseConfig",
    request_body = CreateDatabaseConfigRequest, security(("bearerAuth" = [])),
    responses(
        (status = 201, body = DatabaseConfigResponse),
        (status = 400, description = "A field is invalid; `field` names it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    body: ValidJson<CreateDatabaseConfigRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    let provider = Provider::parse(&req.provider, "provider")?;
    let location = req.connection_config.location(provider)?;
    let allowed_tables = match tables_of(req.allowed_tables, req.settings) {
        Some((t, field)) => parse_tables(&t, field)?,
        None => Vec::new(),
    };
    let password = if provider.is_file() {
        None
    } else {
        req.connection_config.new_password()
    };
    let draft = DbConfigDraft {
        name: req.name,
        description: req.description,
        provider,
        location,
        allowed_tables,
        is_primary: req.is_primary.unwrap_or(false),
        is_active: req.is_active.unwrap_or(true),
    };
    let config = state.db_configs.create(draft, password).await?;
    trail
        .admin(&admin, "db.config.created", |e| {
            e.db_config_id = Some(config.id.as_uuid());
        })
        .await;
    Ok(HttpResponse::Created().json(DatabaseConfigResponse {
        success: true,
        data: config.into(),
    }))
}

/// Update a connection (partial).
///
/// Omitted fields keep their values; an omitted password (or `********`) keeps the stored one,
/// except when the provider, host, port or username change: the password must then be given
/// again, so a stored password never goes to another server.
#[utoipa::path(patch, path = "/api/database-configs/{id}", tag = "database-configs", operation_id = "updateDatabaseConfig",
    params(("id" = String, Path, description = "Connection id")),
    request_body = UpdateDatabaseConfigRequest, security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DatabaseConfigResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    id: web::Path<String>,
    body: ValidJson<UpdateDatabaseConfigRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    let id = parse_id(&id)?;
    let cc = req.connection_config.unwrap_or_default();
    let patch = DbConfigPatch {
        name: req.name,
        description: req.description,
        provider: req
            .provider
            .as_deref()
            .map(|p| Provider::parse(p, "provider"))
            .transpose()?,
        host: cc.host,
        port: cc.port,
        database: cc.database,
        username: cc.username,
        ssl: cc
            .ssl
            .map(|s| s.mode("connection_config.ssl"))
            .transpose()?,
        path: cc.path,
        password: cc
            .password
            .map(|p| p.filter(|p| !p.is_empty()).map(Secret::new)),
        allowed_tables: match tables_of(req.allowed_tables, req.settings) {
            Some((t, field)) => Some(parse_tables(&t, field)?),
            None => None,
        },
        is_primary: req.is_primary,
        is_active: req.is_active,
    };
    let config = state.db_configs.update(id, patch).await?;
    trail
        .admin(&admin, "db.config.updated", |e| {
            e.db_config_id = Some(config.id.as_uuid());
        })
        .await;
    Ok(HttpResponse::Ok().json(DatabaseConfigResponse {
        success: true,
        data: config.into(),
    }))
}

/// Soft-delete a connection.
///
/// It disappears from lists (unless `includeDeleted=true`) and from the other API; its record
/// is kept for the audit trail.
#[utoipa::path(delete, path = "/api/database-configs/{id}", tag = "database-configs", operation_id = "deleteDatabaseConfig",
    params(("id" = String, Path, description = "Connection id")), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = SuccessResponse),
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
    Ok(HttpResponse::Ok().json(SuccessResponse {
        success: true,
        message: Some("Database configuration deleted".into()),
    }))
}

/// Refresh the schema snapshot.
///
/// Reads every table and view (columns, types, nullability, defaults, keys, comments, row
/// estimates) and stores it. When the database cannot be reached the answer is
/// `success: false` with a message.
#[utoipa::path(post, path = "/api/database-configs/{id}/refresh-schema", tag = "database-configs", operation_id = "refreshDatabaseSchema",
    params(("id" = String, Path, description = "Connection id")), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = RefreshSchemaResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn refresh_schema(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match state.db_configs.refresh_schema(parse_id(&id)?).await {
        Ok(snapshot) => Ok(HttpResponse::Ok().json(RefreshSchemaResponse::from(snapshot))),
        Err(DbConfigError::Target(e)) => Ok(HttpResponse::Ok().json(RefreshSchemaResponse {
            success: false,
            schema: None,
            refreshed_at: None,
            message: Some(e.to_string()),
        })),
        Err(e) => Err(e.into()),
    }
}

/// How fresh the schema snapshot is.
#[utoipa::path(get, path = "/api/database-configs/{id}/freshness", tag = "database-configs", operation_id = "getSchemaFreshness",
    params(("id" = String, Path, description = "Connection id")), security(("bearerAuth" = [])),
    responses(
        (status = 200, body = FreshnessResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn freshness(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let f = state.db_configs.freshness(parse_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(FreshnessResponse::from(f)))
}
