//! RFC 9457 problem details: the one error format of the REST API.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "type": "urn:sluice:problem:invalid_token",
    "title": "Unauthorized",
    "status": 401,
    "detail": "the token has expired",
    "code": "invalid_token"
}))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:sluice:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP reason phrase of the status.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for a person; safe to show (never internals or secrets).
    pub detail: String,
    /// A stable snake_case code for programs.
    pub code: String,
    /// The request field that is wrong, when one is (a JSON path such as `password`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `false`, on the seed-000 routes (`/api/database-configs`, `/api/db/*`) only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
}

/// An error answered by the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    field: Option<String>,
    retry_after_secs: Option<u64>,
    www_authenticate: bool,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ApiError {
    /// An error with a status, a stable code and a detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            field: None,
            retry_after_secs: None,
            www_authenticate: false,
        }
    }

    /// 400 for a field that breaks a rule.
    pub fn validation(field: &str, detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "validation_failed", detail);
        e.field = Some(field.to_owned());
        e
    }

    /// 401 with a `WWW-Authenticate: Bearer` challenge.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, code, detail);
        e.www_authenticate = true;
        e
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many failed attempts; try again in {retry_after_secs} seconds"),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    /// 500 with a generic detail; the cause is logged, never sent.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
    }

    /// 503 for an unavailable dependency; the cause is logged, never sent.
    pub fn unavailable(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(cause), "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "the service is temporarily unavailable; try again shortly",
        )
    }

    /// Names the request field the error is about.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        problem(self.status, self.code, &self.detail, self.field.clone())
    }
}

/// Builds a problem document.
pub fn problem(status: StatusCode, code: &str, detail: &str, field: Option<String>) -> Problem {
    Problem {
        problem_type: format!("urn:sluice:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        code: code.to_owned(),
        field,
        success: None,
    }
}

/// Renders a problem document as a response.
pub fn problem_response(p: &Problem) -> HttpResponse {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
        .body(serde_json::to_vec(p).unwrap_or_default())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = problem_response(&self.problem());
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.www_authenticate {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sluice\""),
            );
        }
        res
    }
}

impl From<accounts::AccountsError> for ApiError {
    fn from(e: accounts::AccountsError) -> Self {
        use accounts::AccountsError as E;
        match e {
            E::InvalidUsername(m) => Self::validation("username", format!("username {m}")),
            E::WeakPassword(m) => Self::validation("password", format!("password {m}")),
            E::InvalidCredentials => {
                Self::unauthorized("invalid_credentials", "invalid username or password")
            }
            E::SignUpClosed => Self::new(
                StatusCode::FORBIDDEN,
                "signup_closed",
                "sign-up is closed: an administrator already exists; ask one to create your account",
            ),
            E::UsernameTaken => Self::new(
                StatusCode::CONFLICT,
                "username_taken",
                "the username is already taken",
            )
            .with_field("username"),
            E::Throttled { retry_after_secs } => Self::too_many_requests(retry_after_secs),
            E::InvalidToken(reason) => Self::unauthorized("invalid_token", reason),
            E::Unavailable(cause) => Self::unavailable(cause.as_ref()),
        }
    }
}

impl From<keys::KeyError> for ApiError {
    fn from(e: keys::KeyError) -> Self {
        use keys::KeyError as E;
        match e {
            E::Invalid { field, message } => {
                Self::validation(&field, format!("{field}: {message}"))
            }
            E::NotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                "mcp_key_not_found",
                format!("no MCP key with id {id}"),
            ),
            E::Revoked(id) => Self::new(
                StatusCode::CONFLICT,
                "mcp_key_revoked",
                format!("the MCP key {id} is revoked and cannot be changed; issue a new one"),
            ),
            E::Unavailable(cause) => Self::unavailable(cause.as_ref()),
        }
    }
}

impl From<semantic::SemanticError> for ApiError {
    fn from(e: semantic::SemanticError) -> Self {
        use semantic::SemanticError as E;
        match e {
            E::Invalid(ref errors) => {
                let field = errors.first().map_or("", |f| f.field.as_str()).to_owned();
                Self::validation(&field, e.to_string())
            }
            E::ConnectionNotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                "db_config_not_found",
                format!("no database connection with id {id}"),
            )
            .with_field("dbManagementId"),
            E::NoSnapshot(id) => Self::new(
                StatusCode::CONFLICT,
                "schema_snapshot_missing",
                format!(
                    "the connection {id} has no schema snapshot and its database cannot be read \
                     now, so no table name can be checked; test the connection, then retry"
                ),
            ),
            E::Unavailable(cause) => Self::unavailable(cause.as_ref()),
        }
    }
}

/// A cause chain on one line, for logs.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<db_configs::DbConfigError> for ApiError {
    fn from(e: db_configs::DbConfigError) -> Self {
        use db_configs::DbConfigError as E;
        match e {
            E::Invalid { field, message } => {
                Self::validation(&field, format!("{field}: {message}"))
            }
            E::NotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                "db_config_not_found",
                format!("no database connection with id {id}"),
            ),
            E::NameTaken(name) => Self::new(
                StatusCode::CONFLICT,
                "name_taken",
                format!("a database connection named {name:?} already exists"),
            )
            .with_field("name"),
            // Only reached where a handler does not turn a target failure into
            // `success: false`; the message is written for administrators.
            E::Target(t) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "target_unavailable",
                t.to_string(),
            ),
            E::Undecryptable => Self::new(
                StatusCode::CONFLICT,
                "password_undecryptable",
                "the stored database password cannot be decrypted (was the master key changed?); set the password again",
            ),
            E::Unavailable(cause) => Self::unavailable(cause.as_ref()),
        }
    }
}
