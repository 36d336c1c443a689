//! Value types of the accounts domain: ids, validated names and passwords, users and tokens.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::AccountsError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps an existing uuid (as read from the store).
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// The underlying uuid.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies an administrator.
    UserId
);
id_type!(
    /// Identifies a sign-in session: one family of rotating refresh tokens.
    SessionId
);
id_type!(
    /// Identifies one issued token (its `jti`).
    TokenId
);

/// An administrator's name: 3 to 64 characters of `[A-Za-z0-9._-]`, unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// The fewest characters a username may have.
    pub const MIN_LEN: usize = 3;
    /// The most characters a username may have.
    pub const MAX_LEN: usize = 64;

    /// Validates a username.
    ///
    /// # Errors
    /// [`AccountsError::InvalidUsername`] naming the broken rule.
    pub fn new(raw: &str) -> Result<Self, AccountsError> {
        let len = raw.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(AccountsError::InvalidUsername(format!(
                "must be {} to {} characters long",
                Self::MIN_LEN,
                Self::MAX_LEN
            )));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(AccountsError::InvalidUsername(format!(
                "may contain only letters, digits, '.', '_' and '-' (found {bad:?})"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as written by its owner.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password in clear, checked against the policy. Never printed by `Debug`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// The fewest characters a new password may have.
    pub const MIN_LEN: usize = 12;
    /// The most bytes a password may have (bounds the cost of hashing).
    pub const MAX_BYTES: usize = 1024;

    /// Validates a new password against the policy.
    ///
    /// # Errors
    /// [`AccountsError::WeakPassword`] naming the broken rule.
    pub fn new(raw: String) -> Result<Self, AccountsError> {
        if raw.chars().count() < Self::MIN_LEN {
            return Err(AccountsError::WeakPassword(format!(
                "must be at least {} characters long",
                Self::MIN_LEN
            )));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(AccountsError::WeakPassword(format!(
                "must be at most {} bytes long",
                Self::MAX_BYTES
            )));
        }
        Ok(Self(raw))
    }

    /// A password presented at sign-in: not policy-checked (old passwords stay valid), only
    /// bounded in size.
    pub fn presented(raw: String) -> Option<Self> {
        (raw.len() <= Self::MAX_BYTES).then_some(Self(raw))
    }

    /// The clear text, for hashing or verification only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// An administrator as shown to the outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    pub id: UserId,
    pub username: Username,
    pub created_at: OffsetDateTime,
    pub password_changed_at: OffsetDateTime,
}

/// An administrator with the hash needed to verify a password.
#[derive(Clone)]
pub struct StoredAdmin {
    pub user: AdminUser,
    pub password_hash: String,
}

impl fmt::Debug for StoredAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAdmin")
            .field("user", &self.user)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

/// What the store needs to create an administrator.
#[derive(Debug, Clone)]
pub struct NewAdmin {
    pub id: UserId,
    pub username: Username,
    pub password_hash: String,
    pub now: OffsetDateTime,
}

/// A refresh token to be stored: only its hash is kept.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub id: TokenId,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A stored refresh token and the state of its session.
#[derive(Debug, Clone)]
pub struct RefreshTokenRecord {
    pub id: TokenId,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub session_revoked_at: Option<OffsetDateTime>,
}

/// A signed-in administrator, as established from an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: AdminUser,
    pub session_id: SessionId,
}

/// What sign-up, sign-in and refresh return.
#[derive(Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_naming_rule() {
        assert!(Username::new("admin").is_ok());
        assert!(Username::new("a.b-c_d9").is_ok());
        assert!(Username::new("ab").is_err());
        assert!(Username::new(&"a".repeat(65)).is_err());
        assert!(Username::new(&"a".repeat(64)).is_ok());
        for bad in ["ad min", "admin;", "ädmin", "admin\n", "<script>"] {
            assert!(Username::new(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn passwords_need_twelve_characters_and_never_print() {
        assert!(Password::new("elevenchars".into()).is_err());
        let p = Password::new("twelve chars".into()).unwrap();
        assert!(!format!("{p:?}").contains("twelve"));
        assert!(Password::new("x".repeat(1025)).is_err());
    }
}
