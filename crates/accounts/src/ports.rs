//! Ports of the accounts domain: where administrators and their sessions are kept.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{
    AccountsError, AdminUser, NewAdmin, NewRefreshToken, RefreshTokenRecord, SessionId,
    StoredAdmin, TokenId, UserId, Username,
};

/// Whether creating an administrator is allowed only while none exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstAdminOnly {
    Yes,
    No,
}

/// The result of trying to spend a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token was unspent and its session live: it is now spent, the new one stored.
    Rotated,
    /// The old token was already spent, or its session revoked: nothing was stored.
    AlreadySpent,
}

/// Keeps administrator accounts.
#[async_trait]
pub trait AdminRepository: Send + Sync + 'static {
    /// Whether at least one administrator exists.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn any_admin_exists(&self) -> Result<bool, AccountsError>;

    /// Creates an administrator. With [`FirstAdminOnly::Yes`] the check that none exists and the
    /// insert are atomic, so two concurrent first sign-ups cannot both succeed.
    ///
    /// # Errors
    /// [`AccountsError::SignUpClosed`] when `first_only` is set and an administrator exists,
    /// [`AccountsError::UsernameTaken`] for a duplicate name (case-insensitive),
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn create_admin(
        &self,
        new: NewAdmin,
        first_only: FirstAdminOnly,
    ) -> Result<AdminUser, AccountsError>;

    /// Finds an administrator by name, case-insensitively.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn find_by_username(&self, name: &Username)
    -> Result<Option<StoredAdmin>, AccountsError>;

    /// Finds an administrator by id.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn find_by_id(&self, id: UserId) -> Result<Option<StoredAdmin>, AccountsError>;

    /// Replaces an administrator's password hash.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn update_password(
        &self,
        id: UserId,
        password_hash: &str,
        changed_at: OffsetDateTime,
    ) -> Result<(), AccountsError>;
}

/// Keeps sign-in sessions and the hashes of their refresh tokens.
#[async_trait]
pub trait SessionRepository: Send + Sync + 'static {
    /// Opens a session with its first refresh token, provided the user's password was last
    /// changed at `password_changed_at` (the value the caller verified against). A sign-in
    /// that raced a password change therefore cannot open a session after it.
    ///
    /// # Errors
    /// [`AccountsError::InvalidCredentials`] when the password changed meanwhile (or the user
    /// is gone), [`AccountsError::Unavailable`] when the store fails.
    async fn open_session(
        &self,
        first: NewRefreshToken,
        password_changed_at: OffsetDateTime,
    ) -> Result<(), AccountsError>;

    /// Looks up a refresh token by its id, with its session's state.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn find_refresh_token(
        &self,
        id: TokenId,
    ) -> Result<Option<RefreshTokenRecord>, AccountsError>;

    /// Atomically spends `old` and stores `next` in the same session, unless `old` was already
    /// spent or its session revoked (then nothing changes).
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn rotate(
        &self,
        old: TokenId,
        next: NewRefreshToken,
        now: OffsetDateTime,
    ) -> Result<RotateOutcome, AccountsError>;

    /// Revokes one session: its refresh tokens and access tokens stop working.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn revoke_session(
        &self,
        id: SessionId,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), AccountsError>;

    /// Revokes every open session of a user.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn revoke_all_sessions(
        &self,
        user: UserId,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), AccountsError>;

    /// Whether a session exists, belongs to `user` and is not revoked.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    async fn session_is_live(&self, id: SessionId, user: UserId) -> Result<bool, AccountsError>;
}
