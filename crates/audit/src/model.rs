//! Audit events and how they are searched.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActorType {
    System,
    Admin,
    McpKey,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Admin => "admin",
            Self::McpKey => "mcp-key",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "system" => Some(Self::System),
            "admin" => Some(Self::Admin),
            "mcp-key" => Some(Self::McpKey),
            _ => None,
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done as asked.
    Success,
    /// Refused: no or a bad key, a foreign Host or Origin, the rate limit, a tool or table
    /// outside the grant.
    Denied,
    /// Tried and failed: a query error, a timeout, an unreachable database.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "denied" => Some(Self::Denied),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub id: Uuid,
    /// When it happened, to the microsecond (what the store keeps, so hashes recompute).
    pub at: OffsetDateTime,
    pub actor_type: ActorType,
    /// The administrator's or key's id, when known.
    pub actor_id: Option<String>,
    /// The MCP key involved, when known.
    pub key_id: Option<Uuid>,
    /// `mcp.tools.list`, `mcp.query.executed`, `mcp.key.auth.failed`, `mcp.key.issued`, ...
    pub action: String,
    pub tool_name: Option<String>,
    /// The database connection involved.
    pub db_config_id: Option<Uuid>,
    /// Tables the call touched (schema-qualified).
    pub tables: Vec<String>,
    pub outcome: Outcome,
    /// Why it was denied or failed, as the caller was told.
    pub error: Option<String>,
    pub duration_ms: Option<u64>,
    pub row_count: Option<u64>,
    pub truncated: bool,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    /// The call's arguments as JSON text (values may be redacted by configuration).
    pub arguments: Option<String>,
}

impl AuditEvent {
    /// A new event now, with nothing but who and what.
    pub fn new(actor_type: ActorType, action: impl Into<String>, outcome: Outcome) -> Self {
        let now = OffsetDateTime::now_utc();
        let at = now
            .replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
            .unwrap_or(now);
        Self {
            id: Uuid::now_v7(),
            at,
            actor_type,
            actor_id: None,
            key_id: None,
            action: action.into(),
            tool_name: None,
            db_config_id: None,
            tables: Vec::new(),
            outcome,
            error: None,
            duration_ms: None,
            row_count: None,
            truncated: false,
            request_id: None,
            client_addr: None,
            user_agent: None,
            arguments: None,
        }
    }
}

impl AuditEvent {
    /// Replaces what no database text may hold (NUL) in every text field with U+FFFD. Fields
    /// carry what callers typed (a user name, a tool name, an error quoting a value); one NUL
    /// would make the store refuse the whole batch, again and again.
    pub fn make_storable(&mut self) {
        let clean = |s: &mut String| {
            if s.contains('\0') {
                *s = s.replace('\0', "\u{FFFD}");
            }
        };
        clean(&mut self.action);
        for s in [
            &mut self.actor_id,
            &mut self.tool_name,
            &mut self.error,
            &mut self.request_id,
            &mut self.client_addr,
            &mut self.user_agent,
            &mut self.arguments,
        ]
        .into_iter()
        .flatten()
        {
            clean(s);
        }
        self.tables.iter_mut().for_each(clean);
    }
}

/// An event as stored: its place in the chain and its hashes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: AuditEvent,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The largest page of a search.
pub const MAX_PAGE_SIZE: u32 = 200;

/// What to look for (all optional), newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
    pub key_id: Option<Uuid>,
    pub tool_name: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    /// Inclusive.
    pub from: Option<OffsetDateTime>,
    /// Exclusive.
    pub to: Option<OffsetDateTime>,
    /// Text in the action, tool, error, actor, tables, arguments, address or user agent
    /// (case-insensitive), starting at the start of a word where it starts with a letter or
    /// digit (see [`crate::search_words`]); or at the beginning of the request id (see
    /// [`crate::request_id_search`]).
    pub text: Option<String>,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub items: Vec<StoredEvent>,
    pub page: u32,
    pub page_size: u32,
    /// Matching events; for a text search, counted up to a cap (see `total_exact`).
    pub total: u64,
    /// Whether `total` counts every match (false: there are more than `total`).
    pub total_exact: bool,
}

/// Where an export page ends: the next page starts after this event (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: OffsetDateTime,
    pub seq: i64,
}

/// Events of one day (UTC) by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayCounts {
    pub day: time::Date,
    pub success: u64,
    pub denied: u64,
    pub failed: u64,
}

/// Figures for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditStats {
    /// MCP tool calls ever recorded (allowed or not).
    pub tool_calls: u64,
    /// Tool calls and the ones that were denied or failed, per day (UTC), oldest first.
    pub calls_per_day: Vec<(time::Date, u64, u64)>,
    /// The most called tools in the window, with their call counts.
    pub top_tools: Vec<(String, u64)>,
    /// The keys with the most requests in the window.
    pub top_keys: Vec<(Uuid, u64)>,
    /// The 95th percentile of tool call durations over the last 24 hours, in milliseconds.
    pub p95_ms_24h: Option<f64>,
}

/// What checking the chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub ok: bool,
    pub checked: u64,
    /// The first event whose hash or link does not match.
    pub first_broken_id: Option<Uuid>,
}
