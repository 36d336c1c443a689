//! Errors of the keys domain.

/// An infrastructure error carried without its driver type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong managing keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A field of the request is invalid; `field` is its name in the request.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// No key with this id.
    #[error("no MCP key with id {0}")]
    NotFound(String),
    /// The key was revoked; it cannot be changed any more.
    #[error("the MCP key {0} is revoked and cannot be changed")]
    Revoked(String),
    /// The metadata store failed.
    #[error("the key store is unavailable")]
    Unavailable(#[source] BoxError),
}

impl KeyError {
    /// Shorthand for [`KeyError::Invalid`].
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Why a presented key was not accepted. Agents only ever learn "invalid key"; the variant is
/// for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyAuthError {
    #[error("no key was presented")]
    Missing,
    #[error("the key is not in the Sluice format")]
    Malformed,
    #[error("no such key")]
    Unknown,
    #[error("the key was revoked")]
    Revoked,
    #[error("the key has expired")]
    Expired,
    #[error("the key is deactivated")]
    Inactive,
    #[error("the key's database connection was deleted or deactivated")]
    ConnectionGone,
    /// The key store could not be asked.
    #[error("keys cannot be verified right now")]
    Unavailable,
}
