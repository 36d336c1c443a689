//! `/api/db/*` (seed 000): test a connection and discover schemas before storing anything.

use std::time::Instant;

use actix_web::{HttpResponse, web};
use db_configs::{DbConfigError, Provider};

use crate::dto_db::{
    AdHocConnectionRequest, DiscoverResponse, TestConnectionResponse, parse_tables,
};
use crate::extract::{Admin, ValidJson};
use crate::{ApiError, AppState, Problem};

fn provider_of(
    req: &AdHocConnectionRequest,
    implied: Option<Provider>,
) -> Result<Provider, ApiError> {
    let given = req
        .provider
        .as_deref()
        .map(|p| Provider::parse(p, "provider"))
        .transpose()?;
    match (implied, given) {
        (Some(i), Some(g)) if i != g => Err(DbConfigError::invalid(
            "provider",
            format!(
                "this route is for {}; use /api/db/test or /api/db/discover for {}",
                i.display_name(),
                g.display_name()
            ),
        )
        .into()),
        (Some(i), _) => Ok(i),
        (None, Some(g)) => Ok(g),
        (None, None) => Err(DbConfigError::invalid(
            "provider",
            "is required: postgresql, mysql, mariadb or sqlite",
        )
        .into()),
    }
}

async fn run_test(
    state: &AppState,
    req: AdHocConnectionRequest,
    implied: Option<Provider>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider_of(&req, implied)?;
    let connection = req.connection();
    let location = connection.location(provider)?;
    let probe = parse_tables(
        req.allowed_tables.as_deref().unwrap_or_default(),
        "allowed_tables",
    )?
    .into_iter()
    .next();
    let password = connection.new_password();
    let body = match state
        .db_configs
        .test_unsaved(provider, location, password, probe)
        .await
    {
        Ok(report) => TestConnectionResponse::ok(report),
        Err(DbConfigError::Target(e)) => TestConnectionResponse::failed(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    Ok(HttpResponse::Ok().json(body))
}

async fn run_discover(
    state: &AppState,
    req: AdHocConnectionRequest,
    implied: Option<Provider>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider_of(&req, implied)?;
    let connection = req.connection();
    let location = connection.location(provider)?;
    let started = Instant::now();
    let body = match state
        .db_configs
        .discover_unsaved(provider, location, connection.new_password())
        .await
    {
        Ok(listing) => DiscoverResponse::ok(listing, started.elapsed().as_millis() as u64),
        Err(DbConfigError::Target(e)) => DiscoverResponse {
            success: false,
            schemas: Vec::new(),
            duration_ms: started.elapsed().as_millis() as u64,
            message: Some(e.to_string()),
        },
        Err(e) => return Err(e.into()),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// Test a PostgreSQL connection.
///
/// Connects, measures the latency, probes the first of `allowed_tables`, and warns when the
/// user can write or is a superuser. A failed connection is `success: false` with a message,
/// within the connect timeout.
#[utoipa::path(post, path = "/api/db/test-postgres", tag = "db", operation_id = "testPostgresConnection",
    request_body = AdHocConnectionRequest, security(("bearerAuth" = [])),
    responses(
        (status = 200, body = TestConnectionResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn test_postgres(
    state: web::Data<AppState>,
    _admin: Admin,
    body: ValidJson<AdHocConnectionRequest>,
) -> Result<HttpResponse, ApiError> {
    run_test(&state, body.0, Some(Provider::Postgresql)).await
}

/// Test a connection of any provider (`provider` is required).
#[utoipa::path(post, path = "/api/db/test", tag = "db", operation_id = "testConnection",
    request_body = AdHocConnectionRequest, security(("bearerAuth" = [])),
    responses(
        (status = 200, body = TestConnectionResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn test_any(
    state: web::Data<AppState>,
    _admin: Admin,
    body: ValidJson<AdHocConnectionRequest>,
) -> Result<HttpResponse, ApiError> {
    run_test(&state, body.0, None).await
}

/// Discover the schemas, tables and views of a PostgreSQL database.
///
/// Row counts are the planner's estimates.
#[utoipa::path(post, path = "/api/db/discover-postgres-schema", tag = "db", operation_id = "discoverPostgresSchema",
    request_body = AdHocConnectionRequest, security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DiscoverResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn discover_postgres(
    state: web::Data<AppState>,
    _admin: Admin,
    body: ValidJson<AdHocConnectionRequest>,
) -> Result<HttpResponse, ApiError> {
    run_discover(&state, body.0, Some(Provider::Postgresql)).await
}

/// Discover the schemas, tables and views of a database of any provider.
#[utoipa::path(post, path = "/api/db/discover", tag = "db", operation_id = "discoverSchema",
    request_body = AdHocConnectionRequest, security(("bearerAuth" = [])),
    responses(
        (status = 200, body = DiscoverResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn discover_any(
    state: web::Data<AppState>,
    _admin: Admin,
    body: ValidJson<AdHocConnectionRequest>,
) -> Result<HttpResponse, ApiError> {
    run_discover(&state, body.0, None).await
}
