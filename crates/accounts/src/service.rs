//! The authentication service: sign-up, sign-in, refresh with rotation and reuse detection,
//! sign-out, and checking access tokens.

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::ports::{AdminRepository, FirstAdminOnly, RotateOutcome, SessionRepository};
use crate::tokens::token_digest;
use crate::{
    AccountsError, AdminUser, LoginThrottle, NewAdmin, NewRefreshToken, Password, Principal,
    SessionId, TokenCodec, TokenId, TokenKind, TokenPair, UserId, Username, password,
};

/// Settings of the authentication service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthPolicy {
    /// Whether anyone may sign up once an administrator exists.
    pub allow_signup: bool,
    /// Lifetime of access tokens, in seconds.
    pub access_ttl_secs: u64,
    /// Lifetime of refresh tokens (and so of an idle session), in seconds.
    pub refresh_ttl_secs: u64,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            allow_signup: false,
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 24 * 60 * 60,
        }
    }
}

/// Who is asking, as far as throttling is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientContext {
    pub address: IpAddr,
}

/// Administrator authentication.
#[derive(Clone)]
pub struct AuthService {
    admins: Arc<dyn AdminRepository>,
    sessions: Arc<dyn SessionRepository>,
    codec: TokenCodec,
    throttle: Arc<LoginThrottle>,
    policy: AuthPolicy,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    /// Wires the service to its ports.
    pub fn new(
        admins: Arc<dyn AdminRepository>,
        sessions: Arc<dyn SessionRepository>,
        codec: TokenCodec,
        throttle: Arc<LoginThrottle>,
        policy: AuthPolicy,
    ) -> Self {
        Self {
            admins,
            sessions,
            codec,
            throttle,
            policy,
        }
    }

    /// The access-token lifetime, in seconds.
    pub fn access_ttl_secs(&self) -> u64 {
        self.policy.access_ttl_secs
    }

    /// Whether no administrator exists yet.
    ///
    /// # Errors
    /// [`AccountsError::Unavailable`] when the store fails.
    pub async fn first_run(&self) -> Result<bool, AccountsError> {
        Ok(!self.admins.any_admin_exists().await?)
    }

    /// Creates an administrator and signs them in. Allowed for the first administrator, or for
    /// anyone when open sign-up is configured.
    ///
    /// # Errors
    /// [`AccountsError::InvalidUsername`], [`AccountsError::WeakPassword`],
    /// [`AccountsError::SignUpClosed`], [`AccountsError::UsernameTaken`],
    /// [`AccountsError::Unavailable`].
    pub async fn sign_up(
        &self,
        username: &str,
        password: String,
    ) -> Result<TokenPair, AccountsError> {
        let user = self
            .create_admin(username, password, !self.policy.allow_signup)
            .await?;
        self.open_session(user.id, user.password_changed_at).await
    }

    /// Creates an administrator without signing in (the `create-admin` command).
    ///
    /// # Errors
    /// As [`AuthService::sign_up`].
    pub async fn create_admin(
        &self,
        username: &str,
        password: String,
        first_only: bool,
    ) -> Result<AdminUser, AccountsError> {
        let username = Username::new(username)?;
        let password = Password::new(password)?;
        if first_only && self.admins.any_admin_exists().await? {
            // Fail fast before paying for a hash; the store checks again atomically.
            return Err(AccountsError::SignUpClosed);
        }
        let password_hash = password::hash(password).await?;
        let new = NewAdmin {
            id: UserId::new(),
            username,
            password_hash,
            // Whole seconds, like a password change: the store keeps this exact value.
            now: whole_seconds(),
        };
        let first = if first_only {
            FirstAdminOnly::Yes
        } else {
            FirstAdminOnly::No
        };
        self.admins.create_admin(new, first).await
    }

    /// Checks a username and password and opens a session.
    ///
    /// # Errors
    /// [`AccountsError::Throttled`] when the address or username is over its failure limit,
    /// [`AccountsError::InvalidCredentials`] for an unknown user or a wrong password alike,
    /// [`AccountsError::Unavailable`].
    pub async fn sign_in(
        &self,
        username: &str,
        password: String,
        client: ClientContext,
    ) -> Result<TokenPair, AccountsError> {
        self.throttle.try_attempt(client.address, username)?;
        let found = match Username::new(username) {
            Ok(name) => self.admins.find_by_username(&name).await?,
            Err(_) => None,
        };
        let ok = match Password::presented(password) {
            Some(p) => password::verify(p, found.as_ref().map(|f| f.password_hash.clone())).await?,
            None => false,
        };
        match found {
            Some(stored) if ok => {
                self.throttle.succeeded(client.address, username);
                self.open_session(stored.user.id, stored.user.password_changed_at)
                    .await
            }
            _ => {
                tracing::info!(client = %client.address, "sign-in failed");
                Err(AccountsError::InvalidCredentials)
            }
        }
    }

    /// Exchanges a refresh token for a new pair. The presented token is spent; presenting a
    /// spent token again revokes its whole session.
    ///
    /// # Errors
    /// [`AccountsError::InvalidToken`] for a bad, expired, spent or revoked token,
    /// [`AccountsError::Unavailable`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AccountsError> {
        let claims = self.codec.verify(refresh_token, TokenKind::Refresh)?;
        let record = self
            .sessions
            .find_refresh_token(TokenId::from_uuid(claims.jti))
            .await?
            .ok_or(AccountsError::InvalidToken(
                "the refresh token is not known",
            ))?;
        if record.token_hash != token_digest(refresh_token)
            || record.user_id.as_uuid() != claims.sub
            || record.session_id.as_uuid() != claims.sid
        {
            return Err(AccountsError::InvalidToken(
                "the refresh token is not known",
            ));
        }
        let now = OffsetDateTime::now_utc();
        if record.session_revoked_at.is_some() {
            return Err(AccountsError::InvalidToken(
                "the session has been signed out",
            ));
        }
        if record.used_at.is_some() {
            return self.reuse_detected(record.session_id, now).await;
        }
        if record.expires_at <= now {
            return Err(AccountsError::InvalidToken("the token has expired"));
        }
        let (pair, next) = self.issue_pair(record.user_id, record.session_id, now)?;
        match self.sessions.rotate(record.id, next, now).await? {
            RotateOutcome::Rotated => Ok(pair),
            // Lost a race with another use of the same token: that is reuse too.
            RotateOutcome::AlreadySpent => self.reuse_detected(record.session_id, now).await,
        }
    }

    async fn reuse_detected(
        &self,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<TokenPair, AccountsError> {
        tracing::warn!(session = %session, "a spent refresh token was presented; revoking its session");
        self.sessions
            .revoke_session(session, "refresh token reuse", now)
            .await?;
        Err(AccountsError::InvalidToken(
            "the refresh token was already used; the session has been revoked",
        ))
    }

    /// Signs out: revokes the session of the given refresh token if one is given, otherwise the
    /// session the access token belongs to.
    ///
    /// # Errors
    /// [`AccountsError::InvalidToken`] when the refresh token is not the caller's,
    /// [`AccountsError::Unavailable`].
    pub async fn sign_out(
        &self,
        principal: &Principal,
        refresh_token: Option<&str>,
    ) -> Result<(), AccountsError> {
        let session = match refresh_token {
            Some(token) => {
                let claims = self.codec.verify(token, TokenKind::Refresh)?;
                if claims.sub != principal.user.id.as_uuid() {
                    return Err(AccountsError::InvalidToken(
                        "the refresh token is not yours",
                    ));
                }
                SessionId::from_uuid(claims.sid)
            }
            None => principal.session_id,
        };
        self.sessions
            .revoke_session(session, "signed out", OffsetDateTime::now_utc())
            .await
    }

    /// Establishes who holds an access token: valid signature, not expired, an access token,
    /// its user still exists, its session is live, and it was issued after the last password
    /// change.
    ///
    /// # Errors
    /// [`AccountsError::InvalidToken`] otherwise, [`AccountsError::Unavailable`].
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, AccountsError> {
        let claims = self.codec.verify(access_token, TokenKind::Access)?;
        let user_id = UserId::from_uuid(claims.sub);
        let session_id = SessionId::from_uuid(claims.sid);
        let stored = self
            .admins
            .find_by_id(user_id)
            .await?
            .ok_or(AccountsError::InvalidToken(
                "the token's user no longer exists",
            ))?;
        if claims.iat < stored.user.password_changed_at.unix_timestamp() {
            return Err(AccountsError::InvalidToken(
                "the password has changed since the token was issued",
            ));
        }
        if !self.sessions.session_is_live(session_id, user_id).await? {
            return Err(AccountsError::InvalidToken(
                "the session has been signed out",
            ));
        }
        Ok(Principal {
            user: stored.user,
            session_id,
        })
    }

    /// Changes the caller's password after checking the current one. Every session of the user
    /// is revoked; the caller gets a fresh pair in a new session.
    ///
    /// # Errors
    /// [`AccountsError::Throttled`], [`AccountsError::InvalidCredentials`] for a wrong current
    /// password, [`AccountsError::WeakPassword`], [`AccountsError::Unavailable`].
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: String,
        new: String,
        client: ClientContext,
    ) -> Result<TokenPair, AccountsError> {
        let username = principal.user.username.as_str();
        let new = Password::new(new)?;
        self.throttle.try_attempt(client.address, username)?;
        let stored =
            self.admins
                .find_by_id(principal.user.id)
                .await?
                .ok_or(AccountsError::InvalidToken(
                    "the token's user no longer exists",
                ))?;
        let ok = match Password::presented(current) {
            Some(p) => password::verify(p, Some(stored.password_hash)).await?,
            None => false,
        };
        if !ok {
            return Err(AccountsError::InvalidCredentials);
        }
        self.throttle.succeeded(client.address, username);
        let hash = password::hash(new).await?;
        // Whole seconds: tokens carry `iat` in seconds, and one issued in the same second as
        // the change (the pair returned below) must stay valid.
        let now = whole_seconds();
        self.admins
            .update_password(principal.user.id, &hash, now)
            .await?;
        self.sessions
            .revoke_all_sessions(principal.user.id, "password changed", now)
            .await?;
        self.open_session(principal.user.id, now).await
    }

    async fn open_session(
        &self,
        user: UserId,
        password_changed_at: OffsetDateTime,
    ) -> Result<TokenPair, AccountsError> {
        let now = OffsetDateTime::now_utc();
        let (pair, first) = self.issue_pair(user, SessionId::new(), now)?;
        self.sessions
            .open_session(first, password_changed_at)
            .await?;
        Ok(pair)
    }

    fn issue_pair(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<(TokenPair, NewRefreshToken), AccountsError> {
        let access = self.codec.issue(
            TokenKind::Access,
            user,
            session,
            TokenId::new(),
            now,
            self.policy.access_ttl_secs,
        )?;
        let refresh_id = TokenId::new();
        let refresh = self.codec.issue(
            TokenKind::Refresh,
            user,
            session,
            refresh_id,
            now,
            self.policy.refresh_ttl_secs,
        )?;
        let record = NewRefreshToken {
            id: refresh_id,
            session_id: session,
            user_id: user,
            token_hash: token_digest(&refresh),
            issued_at: now,
            expires_at: now
                + time::Duration::seconds(
                    i64::try_from(self.policy.refresh_ttl_secs).unwrap_or(i64::MAX / 2),
                ),
        };
        let pair = TokenPair {
            access_token: access,
            refresh_token: refresh,
            expires_in: self.policy.access_ttl_secs,
        };
        Ok((pair, record))
    }
}

/// Now, to the whole second.
fn whole_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}
