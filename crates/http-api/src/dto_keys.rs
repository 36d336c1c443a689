//! DTOs of `/api/mcp-keys` (seed 002, camelCase).

use keys::{IssuedKey, KeyLimits, KeyListing, KeyPatch, NewKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::ApiError;
use crate::dto_db::double_option;

/// Issue a key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueKeyRequest {
    /// A name to recognise the key by (1-100 characters).
    #[schema(example = "Reporting agent")]
    pub name: String,
    /// The database connection the key reaches.
    pub db_management_id: String,
    /// Tools the key may call; absent: the read tools (`get_schemas`, `get_tables`,
    /// `get_columns`, `execute_query_safe`).
    pub allowed_tools: Option<Vec<String>>,
    /// Tables the key may see: `schema.table`, `table` (any schema), `schema.*`, or `*` for
    /// every table the connection exposes.
    #[schema(example = json!(["users", "orders"]))]
    pub table_whitelist: Vec<String>,
    /// When the key stops working (RFC 3339); absent: never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Rows a query returns at most; absent: the server's default.
    pub max_rows: Option<u32>,
    /// Milliseconds a query may run; absent: the server's default.
    pub timeout_ms: Option<u32>,
    /// Requests per minute; absent: the server's default.
    pub rate_limit_per_minute: Option<u32>,
    /// Browser origins allowed to call `/mcp` with this key (`https://app.example.com`).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// Change a key; absent fields stay, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateKeyRequest {
    pub name: Option<String>,
    pub allowed_tools: Option<Vec<String>>,
    pub table_whitelist: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Option<OffsetDateTime>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    pub max_rows: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    pub timeout_ms: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    pub rate_limit_per_minute: Option<Option<u32>>,
    pub allowed_origins: Option<Vec<String>>,
    /// `false` suspends the key, `true` resumes it. A revoked key stays revoked.
    pub is_active: Option<bool>,
}

fn double_option_time<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
    time::serde::rfc3339::option::deserialize(d).map(Some)
}

/// A key as listed (never its value).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// The public start of the key, `sluice_<12 hex digits>`.
    #[schema(example = "sluice_0f3a9c2b7d41")]
    pub key_prefix: String,
    /// Whether the key works now: not suspended, revoked or expired.
    pub is_active: bool,
    /// `active`, `suspended`, `expired` or `revoked`.
    pub status: &'static str,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    pub db_management_id: String,
    pub db_management_name: Option<String>,
    pub allowed_tools: Vec<String>,
    pub table_whitelist: Vec<String>,
    pub max_rows: Option<u32>,
    pub timeout_ms: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    pub allowed_origins: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// A key just issued: the only time its value is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedKeyView {
    /// The key. Store it now: it is never shown again.
    #[schema(example = "sluice_0f3a9c2b7d41_<64 hex digits>")]
    pub key_value: String,
    #[serde(flatten)]
    pub key: KeyView,
}

impl From<KeyListing> for KeyView {
    fn from(l: KeyListing) -> Self {
        let k = l.key;
        let now = OffsetDateTime::now_utc();
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else if !k.is_active {
            "suspended"
        } else {
            "active"
        };
        Self {
            id: k.id.to_string(),
            name: k.name,
            key_prefix: k.prefix,
            is_active: status == "active",
            status,
            last_used_at: k.last_used_at,
            db_management_id: k.db_config_id.to_string(),
            db_management_name: l.db_config_name,
            allowed_tools: k.allowed_tools,
            table_whitelist: k.table_whitelist.iter().map(ToString::to_string).collect(),
            max_rows: k.limits.max_rows,
            timeout_ms: k.limits.timeout_ms,
            rate_limit_per_minute: k.limits.rate_limit_per_minute,
            allowed_origins: k.allowed_origins,
            created_at: k.created_at,
            updated_at: k.updated_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        }
    }
}

impl From<IssuedKey> for IssuedKeyView {
    fn from(i: IssuedKey) -> Self {
        Self {
            key_value: i.value.expose().to_owned(),
            key: i.listing.into(),
        }
    }
}

impl TryFrom<IssueKeyRequest> for NewKey {
    type Error = ApiError;
    fn try_from(r: IssueKeyRequest) -> Result<Self, ApiError> {
        let db_config_id = r.db_management_id.trim().parse().map_err(|_| {
            ApiError::validation(
                "dbManagementId",
                format!(
                    "dbManagementId: no database connection with id {:?}",
                    r.db_management_id
                ),
            )
        })?;
        Ok(NewKey {
            name: r.name,
            db_config_id,
            allowed_tools: r.allowed_tools,
            table_whitelist: r.table_whitelist,
            expires_at: r.expires_at,
            limits: KeyLimits {
                max_rows: r.max_rows,
                timeout_ms: r.timeout_ms,
                rate_limit_per_minute: r.rate_limit_per_minute,
            },
            allowed_origins: r.allowed_origins,
        })
    }
}

impl From<UpdateKeyRequest> for KeyPatch {
    fn from(r: UpdateKeyRequest) -> Self {
        KeyPatch {
            name: r.name,
            allowed_tools: r.allowed_tools,
            table_whitelist: r.table_whitelist,
            expires_at: r.expires_at,
            max_rows: r.max_rows,
            timeout_ms: r.timeout_ms,
            rate_limit_per_minute: r.rate_limit_per_minute,
            allowed_origins: r.allowed_origins,
            is_active: r.is_active,
        }
    }
}
