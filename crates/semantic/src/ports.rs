//! Ports: where the semantic layer is kept.

use async_trait::async_trait;
use db_configs::DbConfigId;
use time::OffsetDateTime;

use crate::{NoteChange, SemanticError, Semantics};

/// Keeps what administrators wrote. Changes must reach every instance's MCP caches: an
/// implementation announces them on its change feed.
#[async_trait]
pub trait SemanticRepository: Send + Sync + 'static {
    /// Everything written about a connection (empty when nothing was).
    ///
    /// # Errors
    /// [`SemanticError::Unavailable`].
    async fn get(&self, db: DbConfigId) -> Result<Semantics, SemanticError>;

    /// Applies a checked update atomically: the database description (when `Some`) and each
    /// change, field by field; a note left with nothing in it is removed.
    ///
    /// # Errors
    /// [`SemanticError::Unavailable`].
    async fn apply(
        &self,
        db: DbConfigId,
        description: Option<Option<String>>,
        changes: &[NoteChange],
        now: OffsetDateTime,
    ) -> Result<(), SemanticError>;
}
