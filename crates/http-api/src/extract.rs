//! Extractors: JSON bodies that name the offending field, the signed-in administrator, and the
//! client's address.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::{Decompress, Payload};
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderMap;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::{Stream, StreamExt as _};
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// A JSON body, gzipped or not. Malformed JSON, a missing field or a wrong type is a 400 that
/// names the field; a body over the configured size is a 413; a non-JSON content type is a 415.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

fn state(req: &HttpRequest) -> Result<&AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("application state is missing")))
}

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = state(req).map(|s| s.settings.max_body_bytes);
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let declared = declared_length(req.headers());
        // Decompressed as its `Content-Encoding` says (as actix's own extractors do), the limit
        // counted after decompression.
        let payload = Decompress::from_headers(payload.take(), req.headers());
        Box::pin(async move {
            let limit = limit?;
            if let Some(ct) = content_type
                && ct != "application/json"
                && !ct.ends_with("+json")
            {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("the body must be JSON (Content-Type: application/json), not {ct}"),
                ));
            }
            let body = read_limited(payload, declared, limit)
                .await
                .map_err(|e| match e {
                    BodyReadError::TooLarge => ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the body is larger than the limit of {limit} bytes"),
                    ),
                    BodyReadError::Unreadable => ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "malformed_body",
                        "the body could not be read",
                    ),
                })?;
            parse_json(&body).map(ValidJson)
        })
    }
}

/// The `Content-Length` a request declares, if any.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Why a request body could not be read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyReadError {
    /// Past the limit (declared, or counted as it came).
    TooLarge,
    /// Cut short, badly framed or badly compressed.
    Unreadable,
}

/// Reads a body (already decoded by its `Content-Encoding`) of at most `limit` bytes. A
/// `declared` length over the limit is refused before anything is read, and no more than
/// 64 KiB is reserved for a declared length before the bytes arrive.
pub(crate) async fn read_limited<S>(
    mut payload: S,
    declared: Option<usize>,
    limit: usize,
) -> Result<Vec<u8>, BodyReadError>
where
    S: Stream<Item = Result<web::Bytes, PayloadError>> + Unpin,
{
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyReadError::TooLarge);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(64 * 1024));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyReadError::Unreadable)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses JSON, naming the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is empty; a JSON object is expected",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = without_values(&strip_position(&inner.to_string()));
        if inner.is_syntax() || inner.is_eof() {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {message}"),
            )
        } else if path == "." || path.is_empty() {
            let field = missing_field(&message);
            let mut err = ApiError::new(StatusCode::BAD_REQUEST, "validation_failed", message);
            if let Some(f) = field {
                err = err.with_field(&f);
            }
            err
        } else {
            ApiError::validation(&path, format!("{path}: {message}"))
        }
    })
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// serde quotes the offending value in "invalid type/value/length" messages
/// (``invalid type: integer `123456`, expected a string``): drop it, it may be a password.
/// Field names in "missing field" / "unknown field" messages are kept.
fn without_values(message: &str) -> String {
    if !message.starts_with("invalid") {
        return message.to_owned();
    }
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match c {
            '`' => quoted = !quoted,
            _ if !quoted => out.push(c),
            _ => {}
        }
    }
    out.replace("  ", " ").replace(" ,", ",")
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// The signed-in administrator, from `Authorization: Bearer <access token>`.
#[derive(Debug, Clone)]
pub struct Admin(pub accounts::Principal);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = state(req).map(|s| s.auth.clone());
        let token = bearer_token(req);
        Box::pin(async move {
            let auth = auth?;
            let token = token.ok_or_else(|| {
                ApiError::unauthorized(
                    "missing_token",
                    "this endpoint needs an access token: Authorization: Bearer <accessToken>",
                )
            })?;
            Ok(Admin(auth.authenticate(&token).await?))
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}

/// The client's address (see [`crate::TrustedProxies`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl FromRequest for ClientAddr {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            state(req).map(|s| ClientAddr(s.settings.trusted_proxies.client_address(req))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        username: String,
        count: u32,
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = parse_json::<Body>(br#"{"username": 987654321, "count": 1}"#).unwrap_err();
        assert_eq!(e.problem().field.as_deref(), Some("username"));
        assert!(
            !e.problem().detail.contains("987654321"),
            "values are not echoed: {}",
            e.problem().detail
        );
        assert_eq!(e.code(), "validation_failed");
    }

    #[test]
    fn missing_fields_are_named() {
        let e = parse_json::<Body>(br#"{"username": "a"}"#).unwrap_err();
        assert_eq!(e.problem().field.as_deref(), Some("count"));
    }

    #[test]
    fn malformed_json_is_its_own_error() {
        let e = parse_json::<Body>(br#"{"username": "#).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
        let e = parse_json::<Body>(b"").unwrap_err();
        assert_eq!(e.code(), "malformed_json");
    }
}
