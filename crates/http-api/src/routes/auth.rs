//! `/api/auth/*`: administrator sign-up, sign-in, token refresh, sign-out, profile, password.

use actix_web::{HttpResponse, web};
use audit::{ActorType, Outcome};

use crate::dto::{
    ChangePasswordRequest, CredentialsRequest, FirstRunResponse, MeResponse, RefreshRequest,
    SignOutRequest, TokenResponse,
};
use crate::extract::{Admin, ClientAddr, ValidJson};
use crate::trail::Trail;
use crate::{ApiError, AppState, Problem};

/// Whether the first administrator still has to be created.
#[utoipa::path(get, path = "/api/auth/first-run", tag = "auth", operation_id = "getFirstRun",
    responses(
        (status = 200, body = FirstRunResponse),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn first_run(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let first_run = state.auth.first_run().await?;
    Ok(HttpResponse::Ok().json(FirstRunResponse { first_run }))
}

/// Create an administrator and sign in.
///
/// Allowed while no administrator exists (the first one), or for anyone when
/// `auth.allow_signup` is set; otherwise 403.
#[utoipa::path(post, path = "/api/auth/sign-up", tag = "auth", operation_id = "signUp",
    request_body = CredentialsRequest,
    responses(
        (status = 200, description = "Created and signed in", body = TokenResponse),
        (status = 400, description = "Invalid username or password, or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sign-up is closed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sign_up(
    state: web::Data<AppState>,
    trail: Trail,
    body: ValidJson<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let pair = state.auth.sign_up(&body.username, body.password).await?;
    let mut event = trail.event(ActorType::Admin, "auth.signed_up", Outcome::Success);
    event.actor_id = Some(body.username.trim().to_owned());
    trail.record(event).await;
    Ok(HttpResponse::Ok().json(TokenResponse::from(pair)))
}

/// Sign in with a username and password.
///
/// An unknown user and a wrong password get the same answer. Repeated failures from one
/// address or for one username are refused with 429 and `Retry-After`.
#[utoipa::path(post, path = "/api/auth/sign-in", tag = "auth", operation_id = "signIn",
    request_body = CredentialsRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid username or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts",
            headers(("Retry-After" = u64, description = "Seconds to wait")),
            body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sign_in(
    state: web::Data<AppState>,
    client: ClientAddr,
    trail: Trail,
    body: ValidJson<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let ctx = accounts::ClientContext { address: client.0 };
    match state.auth.sign_in(&body.username, body.password, ctx).await {
        Ok(pair) => {
            let mut event = trail.event(ActorType::Admin, "auth.signed_in", Outcome::Success);
            event.actor_id = Some(body.username.trim().to_owned());
            trail.record(event).await;
            Ok(HttpResponse::Ok().json(TokenResponse::from(pair)))
        }
        Err(e) => {
            let e = ApiError::from(e);
            // The name that was tried, never the password.
            let mut event = trail.event(ActorType::Admin, "auth.sign_in.failed", Outcome::Denied);
            event.actor_id = Some(body.username.chars().take(100).collect());
            event.error = Some(e.code().to_owned());
            trail.record(event).await;
            Err(e)
        }
    }
}

/// Exchange a refresh token for a new pair.
///
/// Refresh tokens rotate: each can be used once. Presenting a used one again revokes the whole
/// session (every token issued from the same sign-in).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", operation_id = "refreshToken",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid, expired, used or revoked refresh token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn refresh(
    state: web::Data<AppState>,
    body: ValidJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let pair = state.auth.refresh(&body.0.refresh_token).await?;
    Ok(HttpResponse::Ok().json(TokenResponse::from(pair)))
}

/// Sign out: end the session of the given refresh token, or of the access token.
///
/// Access and refresh tokens of the session stop working at once.
#[utoipa::path(post, path = "/api/auth/sign-out", tag = "auth", operation_id = "signOut",
    request_body(content = Option<SignOutRequest>, description = "Optional; without it the access token's session ends"),
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sign_out(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: SignOutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SignOutRequest::default()
    } else {
        crate::extract::parse_json(&body)?
    };
    state
        .auth
        .sign_out(&admin.0, body.refresh_token.as_deref())
        .await?;
    trail.admin(&admin, "auth.signed_out", |_| {}).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in administrator.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", operation_id = "getMe",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn me(admin: Admin) -> HttpResponse {
    HttpResponse::Ok().json(MeResponse::from(admin.0.user))
}

/// Change the signed-in administrator's password.
///
/// Every session of the administrator ends; the response carries a fresh pair for a new one.
#[utoipa::path(post, path = "/api/auth/change-password", tag = "auth", operation_id = "changePassword",
    request_body = ChangePasswordRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong current password or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn change_password(
    state: web::Data<AppState>,
    admin: Admin,
    trail: Trail,
    client: ClientAddr,
    body: ValidJson<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let ctx = accounts::ClientContext { address: client.0 };
    let pair = state
        .auth
        .change_password(&admin.0, body.current_password, body.new_password, ctx)
        .await
        .map_err(|e| match e {
            accounts::AccountsError::WeakPassword(m) => {
                ApiError::validation("newPassword", format!("newPassword {m}"))
            }
            accounts::AccountsError::InvalidCredentials => {
                ApiError::unauthorized("invalid_credentials", "the current password is wrong")
                    .with_field("currentPassword")
            }
            other => other.into(),
        })?;
    trail.admin(&admin, "auth.password.changed", |_| {}).await;
    Ok(HttpResponse::Ok().json(TokenResponse::from(pair)))
}
