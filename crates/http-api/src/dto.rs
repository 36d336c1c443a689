//! Request and response bodies of the REST API, in the seeds' camelCase shapes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Credentials for sign-up and sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"username": "admin", "password": "correct horse battery staple"}))]
pub struct CredentialsRequest {
    /// 3-64 characters of `[A-Za-z0-9._-]`.
    pub username: String,
    /// At least 12 characters.
    #[schema(format = Password)]
    pub password: String,
}

/// A refresh token to exchange or to sign out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the last sign-in or refresh.
    pub refresh_token: String,
}

/// Optional body of sign-out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignOutRequest {
    /// The refresh token whose session to close; without it, the session of the access token.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(format = Password)]
    pub current_password: String,
    /// At least 12 characters.
    #[schema(format = Password)]
    pub new_password: String,
}

/// Tokens for an administrator.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"accessToken": "eyJhbGciOiJIUzI1NiJ9...", "refreshToken": "eyJhbGciOiJIUzI1NiJ9...", "expiresIn": 900}))]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// Exchange at `/api/auth/refresh` for a new pair; each can be used once.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<accounts::TokenPair> for TokenResponse {
    fn from(p: accounts::TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            expires_in: p.expires_in,
        }
    }
}

/// Whether the installation still needs its first administrator.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FirstRunResponse {
    pub first_run: bool,
}

/// The signed-in administrator.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    #[schema(example = "0190f5f4-6a3c-7b8e-9d2a-1c2b3d4e5f60")]
    pub id: String,
    pub username: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub password_changed_at: OffsetDateTime,
}

impl From<accounts::AdminUser> for MeResponse {
    fn from(u: accounts::AdminUser) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.to_string(),
            created_at: u.created_at,
            password_changed_at: u.password_changed_at,
        }
    }
}

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    #[schema(example = "ok")]
    pub status: String,
}

/// Readiness, with each dependency's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessResponse {
    /// `ready` or `not_ready`.
    pub status: String,
    /// Each dependency and its state, e.g. `{"database": "ok", "migrations": "ok"}`.
    pub checks: std::collections::BTreeMap<String, String>,
}
