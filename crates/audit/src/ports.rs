//! Ports: where audit events are kept.

use async_trait::async_trait;

use time::{Date, OffsetDateTime};

use crate::{
    AuditEvent, AuditFilter, AuditPage, AuditStats, Cursor, DayCounts, StoredEvent, Verification,
};

/// An infrastructure error carried without its driver type.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The metadata store failed.
    #[error("the audit store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The store refused what was written (bad data): retrying the same batch cannot help.
    #[error("the audit store refused the events")]
    Rejected(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Keeps audit events, chained.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends events in order, each chained to the one before it (across instances too),
    /// atomically: all of them or none. One writer appends at a time; after a failed append
    /// (which may have committed before its answer was lost), appending the same events again
    /// does not store them twice.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn append(&self, events: &[AuditEvent]) -> Result<(), AuditError>;

    /// One page of events matching `filter`, newest first, with the total count.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn search(&self, filter: &AuditFilter) -> Result<AuditPage, AuditError>;

    /// Up to `limit` events matching `filter` (its page is ignored), newest first, after
    /// `cursor`: an export reads the whole result page by page without holding it.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn export_page(
        &self,
        filter: &AuditFilter,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, AuditError>;

    /// Counts per day (UTC) and outcome from `from` on; days without events are left out.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn daily_counts(&self, from: Date) -> Result<Vec<DayCounts>, AuditError>;

    /// Dashboard figures: the daily window starts at `from`, the latency window at `since`.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn stats(&self, from: Date, since: OffsetDateTime) -> Result<AuditStats, AuditError>;

    /// Removes events older than `before`; returns how many.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn purge_before(&self, before: OffsetDateTime) -> Result<u64, AuditError>;

    /// Recomputes the chain over every stored event.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn verify(&self) -> Result<Verification, AuditError>;
}
