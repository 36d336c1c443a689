//! Errors of the db-configs domain.

/// An infrastructure error carried without its driver type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong talking to a user's database. Messages are written for the administrator
/// and never contain the password or the connection string.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// The host is not allowed by the server's configuration.
    #[error("connections to {0} are not allowed by this server's configuration")]
    HostNotAllowed(String),
    /// The host name does not resolve.
    #[error("the host {0} could not be resolved")]
    UnknownHost(String),
    /// Nothing answered, or the connection was refused.
    #[error("cannot connect: {0}")]
    Unreachable(String),
    /// The server refused the credentials.
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    /// No answer within the connect timeout.
    #[error("no answer within {0} seconds")]
    Timeout(u64),
    /// The database, or a file for SQLite, does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A query failed.
    #[error("the database reported an error: {0}")]
    Query(String),
    /// The provider cannot do this.
    #[error("{0}")]
    Unsupported(String),
    /// A statement ran longer than its limit and was cancelled on the server.
    #[error("the query was cancelled after {0} ms, its time limit")]
    QueryTimeout(u64),
    /// Every connection to the database is in use, and none came free in time.
    #[error("too many queries are running on this database; try again shortly")]
    Busy,
}

/// Everything that can go wrong in the db-configs domain.
#[derive(Debug, thiserror::Error)]
pub enum DbConfigError {
    /// A field of the request is invalid; `field` is its name in the request.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// No connection with this id (or it is deleted).
    #[error("no database connection with id {0}")]
    NotFound(String),
    /// Another live connection has this name.
    #[error("a database connection named {0:?} already exists")]
    NameTaken(String),
    /// Talking to the target database failed.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A stored password could not be decrypted (wrong master key?).
    #[error("the stored password cannot be decrypted; was the master key changed?")]
    Undecryptable,
    /// The metadata store failed.
    #[error("the connection store is unavailable")]
    Unavailable(#[source] BoxError),
}

impl DbConfigError {
    /// Shorthand for [`DbConfigError::Invalid`].
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}
