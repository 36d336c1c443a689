//! Tamper evidence: each event's hash covers the previous event's hash and every field of the
//! event, in a fixed order, so editing, removing or reordering a stored event breaks the chain
//! from that event on.

use sha2::{Digest as _, Sha256};

use crate::AuditEvent;

/// The `prev_hash` of the first event ever written.
pub const GENESIS: [u8; 32] = [0; 32];

/// The bytes an event is hashed from, written into one buffer and hashed at once (feeding
/// SHA-256 forty small pieces cost more than hashing the bytes).
struct Input(Vec<u8>);

impl Input {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Length-prefixed, so no two different events serialise to the same bytes.
    fn field(&mut self, bytes: &[u8]) {
        self.raw(&(bytes.len() as u64).to_be_bytes());
        self.raw(bytes);
    }

    fn opt(&mut self, value: Option<&str>) {
        self.opt_bytes(value.map(str::as_bytes));
    }

    fn opt_bytes(&mut self, value: Option<&[u8]>) {
        match value {
            None => self.raw(&[0]),
            Some(v) => {
                self.raw(&[1]);
                self.field(v);
            }
        }
    }

    /// An id as its hyphenated lower-case text (how ids were first hashed).
    fn opt_id(&mut self, value: Option<uuid::Uuid>) {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        self.opt_bytes(value.map(|id| id.hyphenated().encode_lower(&mut text).as_bytes()));
    }

    fn num(&mut self, value: Option<u64>) {
        match value {
            None => self.raw(&[0]),
            Some(v) => {
                self.raw(&[1]);
                self.raw(&v.to_be_bytes());
            }
        }
    }
}

/// The hash of `event` chained to `prev`.
pub fn chain_hash(prev: &[u8; 32], e: &AuditEvent) -> [u8; 32] {
    // The arguments are the one field that can be long (up to 16 KiB).
    let mut h = Input(Vec::with_capacity(
        1024 + e.arguments.as_ref().map_or(0, String::len),
    ));
    h.raw(b"sluice-audit-v1");
    h.raw(prev);
    h.field(e.id.as_bytes());
    h.raw(&e.at.unix_timestamp_nanos().to_be_bytes());
    h.field(e.actor_type.as_str().as_bytes());
    h.opt(e.actor_id.as_deref());
    h.opt_id(e.key_id);
    h.field(e.action.as_bytes());
    h.opt(e.tool_name.as_deref());
    h.opt_id(e.db_config_id);
    h.raw(&(e.tables.len() as u64).to_be_bytes());
    for t in &e.tables {
        h.field(t.as_bytes());
    }
    h.field(e.outcome.as_str().as_bytes());
    h.opt(e.error.as_deref());
    h.num(e.duration_ms);
    h.num(e.row_count);
    h.raw(&[u8::from(e.truncated)]);
    h.opt(e.request_id.as_deref());
    h.opt(e.client_addr.as_deref());
    h.opt(e.user_agent.as_deref());
    h.opt(e.arguments.as_deref());
    Sha256::digest(&h.0).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActorType, Outcome};

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let mut e = AuditEvent::new(ActorType::McpKey, "mcp.query.executed", Outcome::Success);
        e.tables = vec!["public.orders".into()];
        let base = chain_hash(&GENESIS, &e);
        assert_eq!(base, chain_hash(&GENESIS, &e.clone()), "deterministic");
        assert_ne!(base, chain_hash(&[1; 32], &e));
        type Edit = Box<dyn Fn(&mut AuditEvent)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.action.push('x')),
            Box::new(|e| e.outcome = Outcome::Denied),
            Box::new(|e| e.row_count = Some(1)),
            Box::new(|e| e.truncated = true),
            Box::new(|e| e.tables.push("public.secrets".into())),
            Box::new(|e| e.arguments = Some("{}".into())),
            Box::new(|e| e.error = Some(String::new())),
            Box::new(|e| e.at += time::Duration::microseconds(1)),
        ];
        for edit in edits {
            let mut changed = e.clone();
            edit(&mut changed);
            assert_ne!(base, chain_hash(&GENESIS, &changed), "{changed:?}");
        }
        // Moving text between neighbouring fields is a different event too.
        let mut a = e.clone();
        a.actor_id = Some("ab".into());
        a.user_agent = Some("c".into());
        let mut b = e.clone();
        b.actor_id = Some("a".into());
        b.user_agent = Some("bc".into());
        assert_ne!(chain_hash(&GENESIS, &a), chain_hash(&GENESIS, &b));
    }

    /// Hashes already stored in logs must recompute the same: this pins the algorithm (a
    /// change to how an event is fed to SHA-256 would break every existing chain).
    #[test]
    fn the_hash_of_a_known_event_never_changes() {
        let full = AuditEvent {
            id: uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001),
            at: time::OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000).unwrap(),
            actor_type: ActorType::McpKey,
            actor_id: Some("agent-7".into()),
            key_id: Some(uuid::Uuid::from_u128(7)),
            action: "mcp.query.executed".into(),
            tool_name: Some("execute_query_safe".into()),
            db_config_id: Some(uuid::Uuid::from_u128(9)),
            tables: vec!["public.orders".into(), "sales.eu".into()],
            outcome: Outcome::Success,
            error: Some("none".into()),
            duration_ms: Some(12),
            row_count: Some(10),
            truncated: true,
            request_id: Some("r-1".into()),
            client_addr: Some("127.0.0.1".into()),
            user_agent: Some("python-httpx/0.28".into()),
            arguments: Some(r#"{"tableName":"orders"}"#.into()),
        };
        let mut bare = full.clone();
        bare.actor_id = None;
        bare.key_id = None;
        bare.tool_name = None;
        bare.db_config_id = None;
        bare.tables = Vec::new();
        bare.error = None;
        bare.duration_ms = None;
        bare.row_count = None;
        bare.truncated = false;
        bare.request_id = None;
        bare.client_addr = None;
        bare.user_agent = None;
        bare.arguments = None;
        let hex = |h: [u8; 32]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(chain_hash(&GENESIS, &full)),
            "516c589b13b3764df73bc9d18be0afe070e201b592893b5f1e8ab292c9d38f4d"
        );
        assert_eq!(
            hex(chain_hash(&[0xab; 32], &bare)),
            "5177bdee269034f0408fec5da7c7f76a4f91039acb6aa6ca36bef75264d47485"
        );
    }
}
