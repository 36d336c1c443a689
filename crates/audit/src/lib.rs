//! Domain: the audit log. Every MCP request and every administrator change becomes an
//! [`AuditEvent`]; events go through a bounded queue to a batch writer ([`AuditLog`]), which
//! never drops one (a full queue makes the caller wait) and drains on shutdown. Each stored
//! event carries a hash chained to the previous one, so an edited or removed row shows.

mod chain;
mod model;
mod ports;
mod summary;
mod words;
mod writer;

pub use chain::{GENESIS, chain_hash};
pub use model::{
    ActorType, AuditEvent, AuditFilter, AuditPage, AuditStats, Cursor, DayCounts, MAX_PAGE_SIZE,
    Outcome, StoredEvent, Verification,
};
pub use ports::{AuditError, AuditStore};
pub use summary::{MAX_SUMMARY_DAYS, daily_summary, retention_cutoff};
pub use words::{
    MAX_BATCH_WORD_BYTES, MAX_WORD_BYTES, batch_words, request_id_search, request_id_word,
    search_words,
};
pub use writer::{AuditLog, AuditWriter, WriterSettings};
