//! What one `/mcp` request did, gathered while it is answered and recorded as one audit event
//! afterwards: allowed, denied, failed or unauthenticated alike.

use std::sync::Arc;
use std::time::Duration;

use audit::{ActorType, AuditEvent, Outcome};
use keys::StoredKey;
use serde_json::Value;

use crate::McpHttpRequest;

/// The largest arguments text kept in an event; bigger arguments are summarised.
const MAX_ARGUMENTS: usize = 16 * 1024;

/// What a request did, filled in as it goes.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    pub action: String,
    pub outcome: Outcome,
    pub error: Option<String>,
    /// The verified key.
    pub key: Option<Arc<StoredKey>>,
    /// The public start of a presented key that was refused (`sluice_<12 hex>`).
    pub key_prefix: Option<String>,
    pub tool: Option<String>,
    pub tables: Vec<String>,
    pub row_count: Option<u64>,
    pub truncated: bool,
    pub arguments: Option<String>,
    /// When the whole body had arrived: a tool call's latency runs from here (a slow upload is
    /// the client's time, not the tool's).
    pub body_read: Option<std::time::Instant>,
}

impl Default for Trace {
    fn default() -> Self {
        Self {
            action: "mcp.request".to_owned(),
            outcome: Outcome::Success,
            error: None,
            key: None,
            key_prefix: None,
            tool: None,
            tables: Vec::new(),
            row_count: None,
            truncated: false,
            arguments: None,
            body_read: None,
        }
    }
}

impl Trace {
    /// A refusal: `action` with `why`.
    pub fn deny(&mut self, action: &str, why: &str) {
        action.clone_into(&mut self.action);
        self.outcome = Outcome::Denied;
        self.error = Some(why.to_owned());
    }

    /// The arguments of a tool call, with every `value` replaced when `redact`.
    pub fn set_arguments(&mut self, args: &Value, redact: bool) {
        if args.is_null() {
            return;
        }
        // `serde_json::to_string` writes to memory directly; `Display` goes through a formatter.
        let text = if redact {
            serde_json::to_string(&redacted(args))
        } else {
            serde_json::to_string(args)
        }
        .unwrap_or_default();
        self.arguments = Some(if text.len() > MAX_ARGUMENTS {
            serde_json::json!({"omitted": "the arguments were too large to keep", "bytes": text.len()})
                .to_string()
        } else {
            text
        });
    }

    /// The audit event of the request.
    pub fn into_event(self, request: &McpHttpRequest, elapsed: Duration) -> AuditEvent {
        let mut e = AuditEvent::new(ActorType::McpKey, self.action, self.outcome);
        match &self.key {
            Some(k) => {
                e.actor_id = Some(k.key.prefix.clone());
                e.key_id = Some(k.key.id.as_uuid());
                e.db_config_id = Some(k.key.db_config_id.as_uuid());
            }
            None => e.actor_id = self.key_prefix,
        }
        e.tool_name = self.tool;
        e.tables = self.tables;
        e.error = self.error;
        e.duration_ms = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        e.row_count = self.row_count;
        e.truncated = self.truncated;
        e.request_id.clone_from(&request.request_id);
        e.client_addr.clone_from(&request.client_addr);
        e.user_agent.clone_from(&request.user_agent);
        e.arguments = self.arguments;
        e
    }
}

/// The public start of a presented key, when it has the Sluice shape; never the secret part.
pub(crate) fn key_prefix(presented: Option<&str>) -> Option<String> {
    let p = presented?.trim();
    let prefix = p.get(..19)?;
    let lookup = prefix.strip_prefix("sluice_")?;
    lookup
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| prefix.to_owned())
}

/// Members whose values are names and words of the query language, kept when redacting;
/// every other scalar (values, constants, anything mistyped) becomes `"***"`.
const STRUCTURAL: &[&str] = &[
    "tableName",
    "table",
    "alias",
    "field",
    "otherField",
    "op",
    "function",
    "operation",
    "direction",
    "nulls",
    "type",
    "name",
    "distinct",
    "or",
    "not",
    "limit",
    "offset",
    "schemaName",
];

/// `args` with every scalar that is not a name or keyword of the language replaced by
/// `"***"` (an allow-list: a value under a mistyped key is hidden too).
fn redacted(args: &Value) -> Value {
    fn walk(v: &Value, keep: bool) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, STRUCTURAL.contains(&k.as_str()))))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, false)).collect()),
            Value::Null => Value::Null,
            scalar if keep => scalar.clone(),
            _ => Value::String("***".to_owned()),
        }
    }
    walk(args, false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn redaction_hides_every_value_and_keeps_the_names() {
        let args = json!({"tableName": "users", "where": [
            {"field": "email", "op": "=", "value": "ada@example.com"},
            {"or": [{"field": "id", "op": "in", "value": [1, 2]}]},
            {"field": "ssn", "op": "=", "values": "123-45-6789"}
        ], "selectColumns": [{"value": 42, "alias": "n"}, "secret-in-a-wrong-shape"]});
        let mut t = Trace::default();
        t.set_arguments(&args, true);
        let text = t.arguments.unwrap();
        assert!(
            !text.contains("ada@example.com") && !text.contains("42"),
            "{text}"
        );
        assert!(text.contains("email") && text.contains("users") && text.contains("\"n\""));
        let mut t = Trace::default();
        t.set_arguments(&args, false);
        assert!(t.arguments.unwrap().contains("ada@example.com"));
    }

    #[test]
    fn only_the_public_part_of_a_key_is_kept() {
        let key = format!("sluice_0123456789ab_{}", "f".repeat(64));
        assert_eq!(
            key_prefix(Some(&key)).as_deref(),
            Some("sluice_0123456789ab")
        );
        assert_eq!(key_prefix(Some("not a key at all, long enough")), None);
        assert_eq!(key_prefix(Some("sluice_short")), None);
        assert_eq!(key_prefix(None), None);
    }

    #[test]
    fn huge_arguments_are_summarised() {
        let mut t = Trace::default();
        t.set_arguments(&json!({"tableName": "x".repeat(MAX_ARGUMENTS)}), false);
        let kept: Value = serde_json::from_str(&t.arguments.unwrap()).unwrap();
        assert!(kept["bytes"].as_u64().unwrap() > MAX_ARGUMENTS as u64);
    }
}
