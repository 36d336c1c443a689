//! Value types: key ids, tool names, table patterns, limits, keys and what verification yields.

use std::fmt;
use std::str::FromStr;

use db_configs::DbConfigId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::KeyError;

/// Identifies an MCP key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Uuid);

impl KeyId {
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

impl Default for KeyId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for KeyId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// The built-in tools a key can be granted, in the order `tools/list` shows them.
pub const BUILTIN_TOOLS: &[&str] = &[
    "get_schemas",
    "get_tables",
    "get_columns",
    "execute_query_safe",
    "explain_query",
];

/// What a key gets when it is issued without `allowedTools`: every tool that only reads.
pub const READ_TOOLS: &[&str] = &[
    "get_schemas",
    "get_tables",
    "get_columns",
    "execute_query_safe",
    "explain_query",
];

/// An entry of a table whitelist: `*` (every table the connection exposes), `schema.*`,
/// `schema.table` or a bare `table` (any schema). Matching ignores case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TablePattern {
    schema: Option<String>,
    /// `None`: any table.
    name: Option<String>,
}

impl TablePattern {
    /// Parses an entry; parts are plain identifiers (letters, digits, `_`, `$`, `-`).
    ///
    /// # Errors
    /// [`KeyError::Invalid`] on `field`.
    pub fn parse(text: &str, field: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self {
                schema: None,
                name: None,
            });
        }
        if let Some(schema) = text.strip_suffix(".*") {
            let t = db_configs::TableName::parse(schema, field)
                .map_err(|e| KeyError::invalid(field, e.to_string()))?;
            if t.schema.is_some() {
                return Err(KeyError::invalid(
                    field,
                    format!("invalid table name {text:?}: use *, schema.*, schema.table or table"),
                ));
            }
            return Ok(Self {
                schema: Some(t.name),
                name: None,
            });
        }
        let t = db_configs::TableName::parse(text, field).map_err(|e| {
            let db_configs::DbConfigError::Invalid { message, .. } = e else {
                return KeyError::invalid(field, e.to_string());
            };
            KeyError::invalid(field, message)
        })?;
        Ok(Self {
            schema: t.schema,
            name: Some(t.name),
        })
    }

    /// Whether the pattern covers `schema.name`.
    pub fn matches(&self, schema: &str, name: &str) -> bool {
        self.schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(schema))
            && self
                .name
                .as_deref()
                .is_none_or(|n| n.eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for TablePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.schema, &self.name) {
            (None, None) => f.write_str("*"),
            (Some(s), None) => write!(f, "{s}.*"),
            (None, Some(n)) => f.write_str(n),
            (Some(s), Some(n)) => write!(f, "{s}.{n}"),
        }
    }
}

/// Per-key limits; `None` means the server's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyLimits {
    pub max_rows: Option<u32>,
    pub timeout_ms: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
}

/// An MCP key as administrators see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpKey {
    pub id: KeyId,
    pub name: String,
    /// `sluice_<lookup>`: the public start of the key.
    pub prefix: String,
    pub db_config_id: DbConfigId,
    pub allowed_tools: Vec<String>,
    pub table_whitelist: Vec<TablePattern>,
    pub limits: KeyLimits,
    /// Origins (`https://app.example.com`) browsers may call `/mcp` from with this key.
    pub allowed_origins: Vec<String>,
    pub is_active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

impl McpKey {
    /// Whether the key works now (active, not revoked, not expired).
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.is_active && self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// Whether the key grants `tool`.
    pub fn grants_tool(&self, tool: &str) -> bool {
        self.allowed_tools.iter().any(|t| t == tool)
    }

    /// Whether the whitelist covers `schema.name`.
    pub fn grants_table(&self, schema: &str, name: &str) -> bool {
        self.table_whitelist.iter().any(|p| p.matches(schema, name))
    }
}

/// A key with what the list shows about its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListing {
    pub key: McpKey,
    pub db_config_name: Option<String>,
}

/// A key as stored, for verification: the record, its hash, and whether its connection is
/// live and active.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub key: McpKey,
    pub hash: Vec<u8>,
    pub connection_usable: bool,
}

/// A request to issue a key (checked by the service).
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub db_config_id: DbConfigId,
    /// `None`: the read tools.
    pub allowed_tools: Option<Vec<String>>,
    pub table_whitelist: Vec<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub limits: KeyLimits,
    pub allowed_origins: Vec<String>,
}

/// Changes to a key; `None` keeps the current value, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub allowed_tools: Option<Vec<String>>,
    pub table_whitelist: Option<Vec<String>>,
    pub expires_at: Option<Option<OffsetDateTime>>,
    pub max_rows: Option<Option<u32>>,
    pub timeout_ms: Option<Option<u32>>,
    pub rate_limit_per_minute: Option<Option<u32>>,
    pub allowed_origins: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

/// A key that was just issued, with its value (shown once).
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub listing: KeyListing,
    pub value: crate::PresentedKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_case_insensitively_and_by_scope() {
        let all = TablePattern::parse("*", "f").unwrap();
        assert!(all.matches("public", "anything"));
        let schema = TablePattern::parse("Sales.*", "f").unwrap();
        assert!(schema.matches("sales", "orders"));
        assert!(!schema.matches("public", "orders"));
        let bare = TablePattern::parse("Orders", "f").unwrap();
        assert!(bare.matches("sales", "orders") && bare.matches("public", "ORDERS"));
        assert!(!bare.matches("public", "orders2"));
        let qualified = TablePattern::parse("public.orders", "f").unwrap();
        assert!(qualified.matches("PUBLIC", "Orders"));
        assert!(!qualified.matches("sales", "orders"));
        assert_eq!(schema.to_string(), "Sales.*");
    }

    #[test]
    fn malformed_patterns_name_the_field() {
        for text in [
            "",
            "a.b.c",
            "\"users\"",
            "users;drop",
            "*.users",
            "a.b.*",
            "us ers",
        ] {
            let err = TablePattern::parse(text, "tableWhitelist[0]").unwrap_err();
            assert!(
                matches!(&err, KeyError::Invalid { field, .. } if field == "tableWhitelist[0]"),
                "{text:?}: {err}"
            );
        }
    }
}
