//! Ports: where keys are kept.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{KeyError, KeyId, KeyListing, McpKey, StoredKey};

/// Keeps MCP keys. Changes (update, revoke) must reach every instance's verification cache:
/// an implementation announces them on its change feed.
#[async_trait]
pub trait KeyRepository: Send + Sync + 'static {
    /// Stores a new key with the HMAC of its value and its public lookup id.
    ///
    /// # Errors
    /// [`KeyError::Unavailable`].
    async fn create(&self, key: &McpKey, lookup: &str, hash: &[u8]) -> Result<(), KeyError>;

    /// Every key, revoked ones too, newest first, with its connection's name.
    ///
    /// # Errors
    /// [`KeyError::Unavailable`].
    async fn list(&self) -> Result<Vec<KeyListing>, KeyError>;

    /// One key with its connection's name.
    ///
    /// # Errors
    /// [`KeyError::Unavailable`].
    async fn get(&self, id: KeyId) -> Result<Option<KeyListing>, KeyError>;

    /// Replaces the grants, limits and state of a key that is not revoked.
    ///
    /// # Errors
    /// [`KeyError::NotFound`], [`KeyError::Revoked`], [`KeyError::Unavailable`].
    async fn update(&self, key: &McpKey) -> Result<(), KeyError>;

    /// Marks a key revoked (and inactive). Returns false when there is no such key; revoking
    /// a revoked key changes nothing and returns true.
    ///
    /// # Errors
    /// [`KeyError::Unavailable`].
    async fn revoke(&self, id: KeyId, now: OffsetDateTime) -> Result<bool, KeyError>;

    /// The key with this lookup id, with its hash and whether its connection is usable.
    ///
    /// # Errors
    /// [`KeyError::Unavailable`].
    async fn find_by_lookup(&self, lookup: &str) -> Result<Option<StoredKey>, KeyError>;

    /// Records when keys were last used (a batch; a later time never goes backwards).
    ///
    /// # Errors
    /// [`KeyError::Unavailable`].
    async fn touch_last_used(&self, used: &[(KeyId, OffsetDateTime)]) -> Result<(), KeyError>;
}
