//! The OpenAPI 3.1 description of the REST API, generated from the handlers and DTOs.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::dto;
use crate::dto_audit;
use crate::dto_db;
use crate::dto_keys;
use crate::dto_semantic;
use crate::problem::Problem;
use crate::routes::{audit, auth, db_adhoc, db_configs, db_management, health, mcp_keys, semantic};

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Sluice",
        description = "A secure MCP gateway for SQL databases: the administration API.\n\n\
            Every error is an RFC 9457 `application/problem+json` document with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health::healthz, health::readyz,
        auth::first_run, auth::sign_up, auth::sign_in, auth::refresh, auth::sign_out,
        auth::me, auth::change_password,
        db_configs::list, db_configs::get, db_configs::create, db_configs::update,
        db_configs::delete, db_configs::refresh_schema, db_configs::freshness,
        db_adhoc::test_postgres, db_adhoc::test_any, db_adhoc::discover_postgres,
        db_adhoc::discover_any,
        db_management::list, db_management::get, db_management::create,
        db_management::replace, db_management::delete, db_management::test,
        mcp_keys::list, mcp_keys::get, mcp_keys::issue, mcp_keys::update, mcp_keys::revoke,
        semantic::get, semantic::update, audit::list, audit::verify, audit::daily_summary,
        audit::export, audit::dashboard,
    ),
    components(schemas(
        Problem, dto::CredentialsRequest, dto::RefreshRequest, dto::SignOutRequest,
        dto::ChangePasswordRequest, dto::TokenResponse, dto::FirstRunResponse, dto::MeResponse,
        dto::HealthResponse, dto::ReadinessResponse,
        dto_db::SslInput, dto_db::ConnectionConfigInput, dto_db::SettingsInput,
        dto_db::CreateDatabaseConfigRequest, dto_db::UpdateDatabaseConfigRequest,
        dto_db::ConnectionConfigView, dto_db::SettingsView, dto_db::DatabaseConfigView,
        dto_db::DatabaseConfigListResponse, dto_db::DatabaseConfigResponse,
        dto_db::SuccessResponse, dto_db::ColumnView, dto_db::ForeignKeyView, dto_db::TableView,
        dto_db::SchemaView, dto_db::RefreshSchemaResponse, dto_db::FreshnessResponse,
        dto_db::AdHocConnectionRequest, dto_db::TestConnectionResponse,
        dto_db::DiscoveredRelation, dto_db::DiscoveredSchema, dto_db::DiscoverResponse,
        dto_db::DbManagementRequest, dto_db::DbManagementView, dto_db::DbManagementTestResponse,
        dto_keys::IssueKeyRequest, dto_keys::UpdateKeyRequest, dto_keys::KeyView,
        dto_keys::IssuedKeyView,
        dto_semantic::SemanticUpdateRequest, dto_semantic::TableNoteRequest,
        dto_semantic::ColumnNoteRequest, dto_semantic::SemanticView, dto_semantic::TableNoteView,
        dto_semantic::ColumnNoteView, dto_audit::AuditEventView, dto_audit::AuditPageView,
        dto_audit::VerificationView, dto_audit::DailySummaryView, dto_audit::DayView,
        dto_audit::DashboardView, dto_audit::CallsDayView, dto_audit::CountView,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Administrator authentication"),
        (name = "database-configs", description = "Database connections (snake_case, `success` envelopes)"),
        (name = "db", description = "Test connections and discover schemas before storing them"),
        (name = "db-management", description = "Database connections (camelCase, connection strings)"),
        (name = "mcp-keys", description = "Keys agents use at `POST /mcp`: one database, granted tools and tables, limits"),
        (name = "audit", description = "The audit log: every MCP request and administrator change, tamper-evident"),
        (name = "semantic", description = "Names, descriptions and synonyms of tables and columns, shown to agents"),
        (name = "operations", description = "Health and readiness probes"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some(
            "An access token from /api/auth/sign-in, /api/auth/sign-up or /api/auth/refresh".into(),
        );
        components.add_security_scheme("bearerAuth", SecurityScheme::Http(bearer));
    }
}

/// The description as pretty-printed JSON with a trailing newline: what `sluice openapi`
/// prints and `openapi/openapi.json` holds.
pub fn openapi_json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let mut text = doc.to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}
