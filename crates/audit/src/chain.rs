//! Tamper evidence: each event's hash covers the previous event's hash and every field of the
//! event, in a fixed order, so editing, removing or reordering a stored event breaks the chain
//! from that event on.

use sha2::{Digest, Sha256};

use crate::AuditEvent;

/// The `prev_hash` of the first event ever written.
pub const GENESIS: [u8; 32] = [0; 32];

fn field(h: &mut Sha256, bytes: &[u8]) {
    // Length-prefixed, so no two different events serialise to the same bytes.
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

fn opt(h: &mut Sha256, value: Option<&str>) {
    match value {
        None => h.update([0]),
        Some(v) => {
            h.update([1]);
            field(h, v.as_bytes());
        }
    }
}

fn num(h: &mut Sha256, value: Option<u64>) {
    match value {
        None => h.update([0]),
        Some(v) => {
            h.update([1]);
            h.update(v.to_be_bytes());
        }
    }
}

/// The hash of `event` chained to `prev`.
pub fn chain_hash(prev: &[u8; 32], e: &AuditEvent) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"sluice-audit-v1");
    h.update(prev);
    field(&mut h, e.id.as_bytes());
    h.update(e.at.unix_timestamp_nanos().to_be_bytes());
    field(&mut h, e.actor_type.as_str().as_bytes());
    opt(&mut h, e.actor_id.as_deref());
    opt(&mut h, e.key_id.map(|k| k.to_string()).as_deref());
    field(&mut h, e.action.as_bytes());
    opt(&mut h, e.tool_name.as_deref());
    opt(&mut h, e.db_config_id.map(|k| k.to_string()).as_deref());
    h.update((e.tables.len() as u64).to_be_bytes());
    for t in &e.tables {
        field(&mut h, t.as_bytes());
    }
    field(&mut h, e.outcome.as_str().as_bytes());
    opt(&mut h, e.error.as_deref());
    num(&mut h, e.duration_ms);
    num(&mut h, e.row_count);
    h.update([u8::from(e.truncated)]);
    opt(&mut h, e.request_id.as_deref());
    opt(&mut h, e.client_addr.as_deref());
    opt(&mut h, e.user_agent.as_deref());
    opt(&mut h, e.arguments.as_deref());
    h.finalize().into()
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
}
