//! Errors of the accounts domain.

/// An infrastructure error carried through the domain without its driver type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the accounts domain.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The username breaks the naming rule; the text says which part.
    #[error("invalid username: {0}")]
    InvalidUsername(String),
    /// The password breaks the password policy; the text says how.
    #[error("invalid password: {0}")]
    WeakPassword(String),
    /// Unknown user or wrong password: deliberately the same error.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Sign-up is closed: an administrator exists and open sign-up is not enabled.
    #[error("sign-up is closed: an administrator already exists")]
    SignUpClosed,
    /// Another administrator already has this name (case-insensitively).
    #[error("the username is already taken")]
    UsernameTaken,
    /// Too many failed attempts; retry after this many seconds.
    #[error("too many failed attempts; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// A missing, malformed, forged, expired, revoked or wrong-kind token.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// The metadata store (or another dependency) failed.
    #[error("the account store is unavailable")]
    Unavailable(#[source] BoxError),
}
