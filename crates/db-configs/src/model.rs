//! Value types: providers, where a database lives, connections, table names and snapshots.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::DbConfigError;

/// Identifies a database connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DbConfigId(Uuid);

impl DbConfigId {
    /// A new time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for DbConfigId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for DbConfigId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for DbConfigId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// A database engine Sluice can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Postgresql,
    Mysql,
    Mariadb,
    Sqlite,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 4] = [Self::Postgresql, Self::Mysql, Self::Mariadb, Self::Sqlite];

    /// The lowercase name used by `/api/database-configs` (`postgresql`, `mysql`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgresql => "postgresql",
            Self::Mysql => "mysql",
            Self::Mariadb => "mariadb",
            Self::Sqlite => "sqlite",
        }
    }

    /// The display name used by `/api/db-management` (`PostgreSQL`, `MySQL`, ...).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Postgresql => "PostgreSQL",
            Self::Mysql => "MySQL",
            Self::Mariadb => "MariaDB",
            Self::Sqlite => "SQLite",
        }
    }

    /// The usual port of a network provider.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Self::Postgresql => Some(5432),
            Self::Mysql | Self::Mariadb => Some(3306),
            Self::Sqlite => None,
        }
    }

    /// Whether the provider is a file rather than a server.
    pub fn is_file(self) -> bool {
        self == Self::Sqlite
    }

    /// Parses a provider name, case-insensitively, with common aliases.
    ///
    /// # Errors
    /// [`DbConfigError::Invalid`] on `field`, listing the accepted names.
    pub fn parse(text: &str, field: &str) -> Result<Self, DbConfigError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" | "pg" => Ok(Self::Postgresql),
            "mysql" => Ok(Self::Mysql),
            "mariadb" => Ok(Self::Mariadb),
            "sqlite" | "sqlite3" => Ok(Self::Sqlite),
            _ => Err(DbConfigError::invalid(
                field,
                format!("unknown provider {text:?}; use one of postgresql, mysql, mariadb, sqlite"),
            )),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TLS towards a server database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// No TLS.
    #[default]
    Disable,
    /// TLS if the server offers it.
    Prefer,
    /// TLS required, certificate not verified.
    Require,
    /// TLS required, certificate chain verified.
    VerifyCa,
    /// TLS required, certificate chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// Parses `disable`, `prefer`, `require`, `verify-ca`, `verify-full` (any case, `_` or no
    /// separator accepted), and booleans.
    ///
    /// # Errors
    /// [`DbConfigError::Invalid`] on `field`.
    pub fn parse(text: &str, field: &str) -> Result<Self, DbConfigError> {
        let t: String = text
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect();
        match t.as_str() {
            "disable" | "disabled" | "false" | "none" | "off" => Ok(Self::Disable),
            "prefer" | "preferred" | "allow" => Ok(Self::Prefer),
            "require" | "required" | "true" | "on" => Ok(Self::Require),
            "verifyca" => Ok(Self::VerifyCa),
            "verifyfull" | "verifyidentity" => Ok(Self::VerifyFull),
            _ => Err(DbConfigError::invalid(
                field,
                format!(
                    "unknown SSL mode {text:?}; use disable, prefer, require, verify-ca or verify-full"
                ),
            )),
        }
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// Whether any TLS is used.
    pub fn enabled(self) -> bool {
        self != Self::Disable
    }
}

/// A server database's address and login (the password is kept apart, encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerEndpoint {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub ssl: SslMode,
}

/// Where a database lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Location {
    /// PostgreSQL, MySQL, MariaDB.
    Server(ServerEndpoint),
    /// SQLite: a file on the Sluice host.
    File { path: String },
}

/// A database password in clear, in memory only. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Self {
        Self(text)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// What shows in place of a stored password. Sent back unchanged, it means "keep it".
pub const PASSWORD_MASK: &str = "********";

/// Everything needed to open a connection: provider, location, password, and (for servers) the
/// address the host name was resolved to and checked against the host policy.
#[derive(Debug, Clone)]
pub struct ConnectSpec {
    pub provider: Provider,
    pub location: Location,
    pub password: Option<Secret>,
    /// Set by the service after the host policy check; adapters connect to this address.
    pub resolved: Option<std::net::IpAddr>,
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: u64,
    /// The stored connection this is for: adapters keep one bounded pool per stored
    /// connection. `None` (settings being tried out) means a connection of its own.
    pub pool_key: Option<DbConfigId>,
}

impl ConnectSpec {
    /// A fingerprint of everything that shapes a connection (a pool built for another one is
    /// rebuilt). The password is only hashed, and the hash never leaves the process.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.provider.hash(&mut h);
        serde_json::to_string(&self.location)
            .unwrap_or_default()
            .hash(&mut h);
        self.password.as_ref().map(Secret::expose).hash(&mut h);
        self.resolved.hash(&mut h);
        self.connect_timeout_secs.hash(&mut h);
        h.finish()
    }
}

/// A table name as written by an administrator: `schema.table` or bare `table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

impl TableName {
    /// The longest a schema or table name part may be.
    pub const MAX_PART: usize = 128;

    /// Parses `schema.table` or `table`. Parts are plain identifiers: letters, digits, `_`,
    /// `$` and `-`; quoting is not needed and not accepted.
    ///
    /// # Errors
    /// [`DbConfigError::Invalid`] on `field`.
    pub fn parse(text: &str, field: &str) -> Result<Self, DbConfigError> {
        let bad = |why: &str| {
            DbConfigError::invalid(field, format!("invalid table name {text:?}: {why}"))
        };
        let parts: Vec<&str> = text.trim().split('.').collect();
        let (schema, name) = match parts.as_slice() {
            [name] => (None, *name),
            [schema, name] => (Some(*schema), *name),
            _ => return Err(bad("use schema.table or table")),
        };
        for part in schema.iter().chain(std::iter::once(&name)) {
            if part.is_empty() || part.chars().count() > Self::MAX_PART {
                return Err(bad("each part must be 1 to 128 characters"));
            }
            if !part
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '-'))
            {
                return Err(bad("only letters, digits, '_', '$' and '-' are allowed"));
            }
        }
        Ok(Self {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        })
    }

    /// Case-insensitive match against a snapshot table, a bare name matching any schema.
    pub fn matches(&self, schema: &str, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            && self
                .schema
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(schema))
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A registered database connection (never with its password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbConfig {
    pub id: DbConfigId,
    pub name: String,
    pub description: Option<String>,
    pub provider: Provider,
    pub location: Location,
    pub has_password: bool,
    /// Tables exposed through this connection; empty means all.
    pub allowed_tables: Vec<TableName>,
    pub is_primary: bool,
    pub is_active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
    pub schema_refreshed_at: Option<OffsetDateTime>,
}

impl DbConfig {
    /// The schema a bare table name means: `public` on PostgreSQL, the database on MySQL and
    /// MariaDB, `main` on SQLite.
    pub fn default_schema(&self) -> String {
        match (&self.provider, &self.location) {
            (Provider::Postgresql, _) => "public".to_owned(),
            (_, Location::Server(e)) => e.database.clone(),
            (_, Location::File { .. }) => "main".to_owned(),
        }
    }
}

/// A connection as stored, with its sealed password.
#[derive(Debug, Clone)]
pub struct StoredDbConfig {
    pub config: DbConfig,
    pub sealed_password: Option<Vec<u8>>,
}

/// The checked fields of a connection, for create and update.
#[derive(Debug, Clone)]
pub struct DbConfigDraft {
    pub name: String,
    pub description: Option<String>,
    pub provider: Provider,
    pub location: Location,
    pub allowed_tables: Vec<TableName>,
    pub is_primary: bool,
    pub is_active: bool,
}

/// What can change in an update; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct DbConfigPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub provider: Option<Provider>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub username: Option<String>,
    pub ssl: Option<SslMode>,
    pub path: Option<String>,
    /// `Some(None)` removes the password; `Some(Some(..))` replaces it.
    pub password: Option<Option<Secret>>,
    pub allowed_tables: Option<Vec<TableName>>,
    pub is_primary: Option<bool>,
    pub is_active: Option<bool>,
}

/// Which connections to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub include_deleted: bool,
    pub active_only: bool,
}

/// Whether a relation is a table or a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelationKind {
    Table,
    View,
}

/// A column in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub comment: Option<String>,
}

/// A foreign key in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub referenced_schema: String,
    pub referenced_table: String,
    pub referenced_columns: Vec<String>,
}

/// A table or view in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    pub kind: RelationKind,
    pub comment: Option<String>,
    /// The planner's estimate (PostgreSQL, MySQL) or an exact count (SQLite), if known.
    pub row_estimate: Option<i64>,
    pub columns: Vec<ColumnInfo>,
    pub primary_key: Vec<String>,
    pub foreign_keys: Vec<ForeignKey>,
}

/// The stored picture of a database's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaSnapshot {
    pub tables: Vec<TableInfo>,
    #[serde(with = "time::serde::rfc3339")]
    pub refreshed_at: OffsetDateTime,
}

/// One schema in a discovery listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaListing {
    pub name: String,
    pub tables: Vec<RelationEntry>,
    pub views: Vec<RelationEntry>,
}

/// A relation in a discovery listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationEntry {
    pub name: String,
    pub row_count: Option<i64>,
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    pub latency_ms: u64,
    pub server_version: String,
    /// The table probed (the first allowed table), and whether it could be read.
    pub tested_table: Option<String>,
    pub tested_table_accessible: Option<bool>,
    /// The login can change data (or is a superuser): Sluice is safest with a read-only user.
    pub warnings: Vec<String>,
}

/// A value bound to a statement parameter. Values are never spliced into SQL text.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Text; the database converts it to the type the statement needs (numbers too large for
    /// `Int`/`Float`, dates, uuids...).
    Text(String),
}

/// A read-only statement rendered for one provider, with its bound values in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadStatement {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// How a database would run a statement, as it says itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPlan {
    /// `json` (PostgreSQL, MySQL, MariaDB: the database's JSON document) or `text` (SQLite:
    /// the lines of `EXPLAIN QUERY PLAN`, indented by depth, as one string).
    pub format: PlanFormat,
    /// The plan as the database gave it.
    pub plan: serde_json::Value,
    /// The planner's total cost estimate, in the database's own units, where it gives one
    /// (PostgreSQL `Total Cost`, MySQL `query_cost`, MariaDB 11 `cost`).
    pub total_cost: Option<f64>,
    /// The planner's estimate of the rows returned, where it gives one.
    pub estimated_rows: Option<f64>,
}

/// The form of a [`QueryPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanFormat {
    Json,
    Text,
}

/// The limits of one read. The adapter enforces every one of them itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Rows returned at most; one more is fetched to know whether the result was cut.
    pub max_rows: usize,
    /// Approximate size of the returned values (as JSON) at most.
    pub max_bytes: usize,
    /// The statement is cancelled on the server after this long.
    pub timeout: std::time::Duration,
}

/// A column of a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultColumn {
    pub name: String,
    /// The provider's type name, lower case (`integer`, `text`, `numeric`...).
    #[serde(rename = "type")]
    pub type_name: String,
}

/// Why a result holds fewer rows than the query produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Truncation {
    /// The row cap was reached.
    Rows,
    /// The byte cap was reached.
    Bytes,
}

/// What a read returned. Values keep their JSON types; dates and times are ISO 8601 strings,
/// numerics that do not fit a double are strings, binary values are base64.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultSet {
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Set when rows were left out.
    pub truncated: Option<Truncation>,
}
