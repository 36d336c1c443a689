//! Errors of the semantic layer.

/// An infrastructure error carried without its driver type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One wrong field of a request: its JSON path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// What can go wrong reading or writing the semantic layer.
#[derive(Debug, thiserror::Error)]
pub enum SemanticError {
    /// Fields of the request are invalid (every one is named, not only the first).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No (live) connection with this id.
    #[error("no database connection with id {0}")]
    ConnectionNotFound(String),
    /// The connection has no schema snapshot and none could be taken now, so no name can be
    /// checked.
    #[error("the connection {0} has no schema snapshot and its database cannot be read now")]
    NoSnapshot(String),
    /// The metadata store failed.
    #[error("the semantic store is unavailable")]
    Unavailable(#[source] BoxError),
}

impl SemanticError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}
