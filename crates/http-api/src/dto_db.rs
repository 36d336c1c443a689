//! Bodies of the database-connection APIs: `/api/database-configs` and `/api/db/*` in seed
//! 000's snake_case with `success` envelopes, `/api/db-management` in seed 002's camelCase.

use db_configs::{
    ConnectionReport, DbConfig, DbConfigError, Location, PASSWORD_MASK, Provider, SchemaListing,
    SchemaSnapshot, Secret, ServerEndpoint, SslMode, TableInfo, TableName,
};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `null` -> `Some(None)`, absent -> `None` (with `#[serde(default)]`).
pub(crate) fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `ssl` as a boolean (seed) or a mode name.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SslInput {
    /// `true` = `require`, `false` = `disable`.
    Flag(bool),
    /// `disable`, `prefer`, `require`, `verify-ca` or `verify-full`.
    Mode(String),
}

impl SslInput {
    pub(crate) fn mode(&self, field: &str) -> Result<SslMode, DbConfigError> {
        match self {
            Self::Flag(true) => Ok(SslMode::Require),
            Self::Flag(false) => Ok(SslMode::Disable),
            Self::Mode(m) => SslMode::parse(m, field),
        }
    }
}

/// Where a database lives: host, port, database, username, password and ssl for PostgreSQL
/// and MySQL/MariaDB; `path` for SQLite.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"host": "localhost", "port": 5432, "database": "mydb", "username": "reader", "password": "secret", "ssl": false}))]
pub struct ConnectionConfigInput {
    pub host: Option<String>,
    /// 1-65535; the provider's usual port when omitted.
    pub port: Option<u16>,
    pub database: Option<String>,
    pub username: Option<String>,
    /// Stored encrypted, never returned. In an update, omitted or `********` keeps the stored
    /// one and `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Option<String>>,
    pub ssl: Option<SslInput>,
    /// SQLite: the database file on the Sluice host (opened read-only).
    pub path: Option<String>,
}

fn required(v: &Option<String>, field: &str) -> Result<String, DbConfigError> {
    v.clone()
        .ok_or_else(|| DbConfigError::invalid(field, "is required"))
}

impl ConnectionConfigInput {
    /// The location for a new connection of `provider`.
    pub fn location(&self, provider: Provider) -> Result<Location, DbConfigError> {
        if provider.is_file() {
            return Ok(Location::File {
                path: required(&self.path, "connection_config.path")?,
            });
        }
        Ok(Location::Server(ServerEndpoint {
            host: required(&self.host, "connection_config.host")?,
            port: self.port.or(provider.default_port()).unwrap_or(0),
            database: required(&self.database, "connection_config.database")?,
            username: required(&self.username, "connection_config.username")?,
            ssl: self
                .ssl
                .as_ref()
                .map(|s| s.mode("connection_config.ssl"))
                .transpose()?
                .unwrap_or_default(),
        }))
    }

    /// The password given for a new connection.
    pub fn new_password(&self) -> Option<Secret> {
        self.password
            .clone()
            .flatten()
            .filter(|p| !p.is_empty() && p != PASSWORD_MASK)
            .map(Secret::new)
    }
}

/// Per-connection settings.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// Tables this connection exposes (`schema.table` or `table`); empty = all.
    pub allowed_tables: Option<Vec<String>>,
}

/// A new connection (seed 000).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "My PostgreSQL", "description": "Production database", "provider": "postgresql",
    "connection_config": {"host": "localhost", "port": 5432, "database": "mydb", "username": "reader", "password": "secret", "ssl": false},
    "settings": {"allowed_tables": ["public.users", "public.orders"]},
    "is_primary": true, "is_active": true
}))]
pub struct CreateDatabaseConfigRequest {
    /// 1-100 characters, unique among live connections.
    pub name: String,
    /// Up to 2000 characters.
    pub description: Option<String>,
    /// `postgresql`, `mysql`, `mariadb` or `sqlite` (any case).
    pub provider: String,
    pub connection_config: ConnectionConfigInput,
    pub settings: Option<SettingsInput>,
    /// Same as `settings.allowed_tables`.
    pub allowed_tables: Option<Vec<String>>,
    /// At most one connection is primary; setting this clears the others.
    pub is_primary: Option<bool>,
    pub is_active: Option<bool>,
}

/// A partial update (seed 000): omitted fields keep their values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDatabaseConfigRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub provider: Option<String>,
    pub connection_config: Option<ConnectionConfigInput>,
    pub settings: Option<SettingsInput>,
    pub allowed_tables: Option<Vec<String>>,
    pub is_primary: Option<bool>,
    pub is_active: Option<bool>,
}

/// Parses a list of table names, naming the field.
pub fn parse_tables(tables: &[String], field: &str) -> Result<Vec<TableName>, DbConfigError> {
    tables.iter().map(|t| TableName::parse(t, field)).collect()
}

/// Connection settings as returned: never the password, only whether one is stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionConfigView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `********` when a password is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl: Option<bool>,
    /// `disable`, `prefer`, `require`, `verify-ca` or `verify-full`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl ConnectionConfigView {
    fn new(location: &Location, has_password: bool) -> Self {
        match location {
            Location::Server(e) => Self {
                host: Some(e.host.clone()),
                port: Some(e.port),
                database: Some(e.database.clone()),
                username: Some(e.username.clone()),
                password: has_password.then(|| PASSWORD_MASK.to_owned()),
                ssl: Some(e.ssl.enabled()),
                ssl_mode: Some(e.ssl.as_str().to_owned()),
                path: None,
            },
            Location::File { path } => Self {
                host: None,
                port: None,
                database: None,
                username: None,
                password: None,
                ssl: None,
                ssl_mode: None,
                path: Some(path.clone()),
            },
        }
    }
}

/// Per-connection settings as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    pub allowed_tables: Vec<String>,
}

/// A connection (seed 000 shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseConfigView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `postgresql`, `mysql`, `mariadb` or `sqlite`.
    pub provider: String,
    pub connection_config: ConnectionConfigView,
    pub settings: SettingsView,
    pub allowed_tables: Vec<String>,
    pub is_primary: bool,
    pub is_active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub deleted_at: Option<String>,
    /// When the schema snapshot was last refreshed.
    #[schema(format = DateTime)]
    pub schema_refreshed_at: Option<String>,
}

impl From<DbConfig> for DatabaseConfigView {
    fn from(c: DbConfig) -> Self {
        let tables: Vec<String> = c.allowed_tables.iter().map(ToString::to_string).collect();
        Self {
            id: c.id.to_string(),
            name: c.name,
            description: c.description,
            provider: c.provider.as_str().to_owned(),
            connection_config: ConnectionConfigView::new(&c.location, c.has_password),
            settings: SettingsView {
                allowed_tables: tables.clone(),
            },
            allowed_tables: tables,
            is_primary: c.is_primary,
            is_active: c.is_active,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            deleted_at: c.deleted_at.map(rfc3339),
            schema_refreshed_at: c.schema_refreshed_at.map(rfc3339),
        }
    }
}

/// `{success, data, count}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseConfigListResponse {
    pub success: bool,
    pub data: Vec<DatabaseConfigView>,
    pub count: usize,
}

/// `{success, data}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseConfigResponse {
    pub success: bool,
    pub data: DatabaseConfigView,
}

/// `{success}`, with a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessResponse {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Query of the list.
#[derive(Debug, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListDatabaseConfigsQuery {
    /// Include soft-deleted connections.
    #[serde(default)]
    pub include_deleted: bool,
    /// Only active connections.
    #[serde(default)]
    pub active_only: bool,
}

/// A column of a snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnView {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub comment: Option<String>,
    pub primary_key: bool,
}

/// A foreign key of a snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForeignKeyView {
    pub name: String,
    pub columns: Vec<String>,
    pub references: String,
    pub referenced_columns: Vec<String>,
}

/// A table or view of a snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableView {
    pub name: String,
    pub schema: String,
    /// `table` or `view`.
    pub kind: String,
    pub comment: Option<String>,
    pub row_estimate: Option<i64>,
    pub columns: Vec<ColumnView>,
    pub primary_key: Vec<String>,
    pub foreign_keys: Vec<ForeignKeyView>,
}

impl From<TableInfo> for TableView {
    fn from(t: TableInfo) -> Self {
        let pk = t.primary_key.clone();
        Self {
            name: t.name,
            schema: t.schema,
            kind: match t.kind {
                db_configs::RelationKind::Table => "table".into(),
                db_configs::RelationKind::View => "view".into(),
            },
            comment: t.comment,
            row_estimate: t.row_estimate,
            columns: t
                .columns
                .into_iter()
                .map(|c| ColumnView {
                    primary_key: pk.contains(&c.name),
                    name: c.name,
                    data_type: c.data_type,
                    nullable: c.nullable,
                    default: c.default,
                    comment: c.comment,
                })
                .collect(),
            primary_key: t.primary_key,
            foreign_keys: t
                .foreign_keys
                .into_iter()
                .map(|f| ForeignKeyView {
                    name: f.name,
                    columns: f.columns,
                    references: format!("{}.{}", f.referenced_schema, f.referenced_table),
                    referenced_columns: f.referenced_columns,
                })
                .collect(),
        }
    }
}

/// The tables of a snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaView {
    pub tables: Vec<TableView>,
}

/// `{success, schema, refreshed_at}`, or `{success: false, message}` when the database could
/// not be read.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshSchemaResponse {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub refreshed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<SchemaSnapshot> for RefreshSchemaResponse {
    fn from(s: SchemaSnapshot) -> Self {
        Self {
            success: true,
            refreshed_at: Some(rfc3339(s.refreshed_at)),
            schema: Some(SchemaView {
                tables: s.tables.into_iter().map(TableView::from).collect(),
            }),
            message: None,
        }
    }
}

/// `{success, needs_refresh, last_refresh, age_hours}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreshnessResponse {
    pub success: bool,
    pub needs_refresh: bool,
    #[schema(format = DateTime)]
    pub last_refresh: Option<String>,
    pub age_hours: Option<f64>,
}

impl From<db_configs::Freshness> for FreshnessResponse {
    fn from(f: db_configs::Freshness) -> Self {
        Self {
            success: true,
            needs_refresh: f.needs_refresh,
            last_refresh: f.last_refresh.map(rfc3339),
            age_hours: f.age_hours,
        }
    }
}

/// Connection settings to test or discover without storing them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"host": "localhost", "port": 5432, "database": "mydb", "username": "reader", "password": "secret", "ssl": false, "allowed_tables": ["public.users"]}))]
pub struct AdHocConnectionRequest {
    /// `postgresql`, `mysql`, `mariadb` or `sqlite`; the `-postgres` routes imply `postgresql`.
    pub provider: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub username: Option<String>,
    #[schema(format = Password)]
    pub password: Option<String>,
    pub ssl: Option<SslInput>,
    /// SQLite: the database file.
    pub path: Option<String>,
    /// The first one is probed for read access.
    pub allowed_tables: Option<Vec<String>>,
}

impl AdHocConnectionRequest {
    /// The connection settings as the seed 000 create body would carry them.
    pub fn connection(&self) -> ConnectionConfigInput {
        ConnectionConfigInput {
            host: self.host.clone(),
            port: self.port,
            database: self.database.clone(),
            username: self.username.clone(),
            password: Some(self.password.clone()),
            ssl: self.ssl.clone(),
            path: self.path.clone(),
        }
    }
}

/// The outcome of a connection test. A failed connection is `success: false` with a
/// `message`, not an HTTP error.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestConnectionResponse {
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    pub tested_table: Option<String>,
    pub tested_table_accessible: Option<bool>,
    /// E.g. the user can write, or is a superuser: Sluice is safest with a read-only user.
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl TestConnectionResponse {
    pub fn ok(r: ConnectionReport) -> Self {
        Self {
            success: true,
            latency_ms: Some(r.latency_ms),
            server_version: Some(r.server_version),
            tested_table: r.tested_table,
            tested_table_accessible: r.tested_table_accessible,
            warnings: r.warnings,
            message: Some("Connection successful".into()),
        }
    }

    pub fn failed(message: String) -> Self {
        Self {
            success: false,
            latency_ms: None,
            server_version: None,
            tested_table: None,
            tested_table_accessible: None,
            warnings: Vec::new(),
            message: Some(message),
        }
    }
}

/// A relation in a discovery listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoveredRelation {
    pub name: String,
    pub full_name: String,
    /// The planner's estimate (PostgreSQL, MySQL) or an exact count (SQLite).
    pub row_count: Option<i64>,
}

/// A schema in a discovery listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoveredSchema {
    pub name: String,
    pub tables: Vec<DiscoveredRelation>,
    pub views: Vec<DiscoveredRelation>,
}

/// `{success, schemas, duration_ms}`, or `{success: false, message}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoverResponse {
    pub success: bool,
    pub schemas: Vec<DiscoveredSchema>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl DiscoverResponse {
    pub fn ok(listing: Vec<SchemaListing>, duration_ms: u64) -> Self {
        let rel = |schema: &str, r: db_configs::RelationEntry| DiscoveredRelation {
            full_name: format!("{schema}.{}", r.name),
            name: r.name,
            row_count: r.row_count,
        };
        Self {
            success: true,
            schemas: listing
                .into_iter()
                .map(|s| DiscoveredSchema {
                    tables: s.tables.into_iter().map(|r| rel(&s.name, r)).collect(),
                    views: s.views.into_iter().map(|r| rel(&s.name, r)).collect(),
                    name: s.name,
                })
                .collect(),
            duration_ms,
            message: None,
        }
    }
}

// ---- seed 002: /api/db-management ----

/// A connection in seed 002's shape.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "Production DB", "provider": "PostgreSQL", "connectionString": "Host=db;Port=5432;Database=shop;Username=reader;Password=secret"}))]
pub struct DbManagementRequest {
    pub name: String,
    /// `PostgreSQL`, `MySQL`, `MariaDB` or `SQLite` (any case).
    pub provider: String,
    /// `Host=...;Port=...;Database=...;Username=...;Password=...;SSL Mode=...`, or a URL
    /// (`postgres://`, `mysql://`, `sqlite:///path`). In an update, a missing password or
    /// `********` keeps the stored one.
    pub connection_string: String,
    pub description: Option<String>,
    pub allowed_tables: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub is_primary: Option<bool>,
}

/// A connection in seed 002's shape; the password in `connectionString` is masked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DbManagementView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `PostgreSQL`, `MySQL`, `MariaDB` or `SQLite`.
    pub provider: String,
    pub connection_string: String,
    pub allowed_tables: Vec<String>,
    pub is_active: bool,
    pub is_primary: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub schema_refreshed_at: Option<String>,
}

impl From<DbConfig> for DbManagementView {
    fn from(c: DbConfig) -> Self {
        Self {
            id: c.id.to_string(),
            connection_string: db_configs::render_connection_string(&c.location, c.has_password),
            name: c.name,
            description: c.description,
            provider: c.provider.display_name().to_owned(),
            allowed_tables: c.allowed_tables.iter().map(ToString::to_string).collect(),
            is_active: c.is_active,
            is_primary: c.is_primary,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            schema_refreshed_at: c.schema_refreshed_at.map(rfc3339),
        }
    }
}

/// `{success, message, elapsedMs}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DbManagementTestResponse {
    pub success: bool,
    pub message: String,
    pub elapsed_ms: u64,
    pub warnings: Vec<String>,
}
