//! Ports: where audit events are kept.

use async_trait::async_trait;

use crate::{AuditEvent, AuditFilter, AuditPage, Verification};

/// An infrastructure error carried without its driver type.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The metadata store failed.
    #[error("the audit store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Keeps audit events, chained.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends events in order, each chained to the one before it (across instances too),
    /// atomically: all of them or none.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn append(&self, events: &[AuditEvent]) -> Result<(), AuditError>;

    /// One page of events matching `filter`, newest first, with the total count.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn search(&self, filter: &AuditFilter) -> Result<AuditPage, AuditError>;

    /// Recomputes the chain over every stored event.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`].
    async fn verify(&self) -> Result<Verification, AuditError>;
}
