//! The outermost middleware: gives every request an id (`X-Request-Id`, taken from the client
//! when well-formed, generated otherwise, always echoed), logs one line per request, and turns
//! any error response that is not yet problem+json (unknown route, wrong method, a framework
//! extractor's plain-text error) into one.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};
use tracing::Instrument as _;

use crate::problem::{PROBLEM_JSON, problem, problem_response};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Per-request facts other layers may read from the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
}

fn valid_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
    .then(|| s.to_owned())
}

/// See the module documentation.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(valid_request_id)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestContext {
        request_id: request_id.clone(),
    });
    // `/mcp` answers with JSON-RPC errors, which MCP clients read; they are left as they are.
    let is_mcp = req.path() == "/mcp";
    // The path only: query strings are never logged. An agent's call is in the audit log with
    // its request id, so its span is at debug: at info a span costs about 2% of a call's CPU
    // (its fields are formatted when it opens, whether or not anything is logged in it).
    let span = if is_mcp {
        let method = req.method();
        tracing::debug_span!("request", request_id = %request_id, method = %method, path = "/mcp")
    } else {
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %req.method(),
            path = %req.path(),
        )
    };
    let started = Instant::now();
    // Handlers and extractors turn their errors into responses, so an `Err` here can only
    // come from the framework itself; it is passed on as it is.
    let mut res = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();
    let status = res.status();
    if (status.is_client_error() || status.is_server_error()) && !is_problem(&res) && !is_mcp {
        res = res.map_body(|head, _| {
            let p = generic_problem(head.status);
            let rebuilt = problem_response(&p);
            head.headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
            rebuilt.into_body()
        });
    }
    res.headers_mut().insert(
        REQUEST_ID,
        HeaderValue::from_str(&request_id).unwrap_or_else(|_| HeaderValue::from_static("invalid")),
    );
    let elapsed = started.elapsed();
    if let Some(state) = res
        .request()
        .app_data::<actix_web::web::Data<crate::AppState>>()
    {
        let route = res.request().match_pattern();
        state.http_stats.record(
            route.as_deref().unwrap_or("unmatched"),
            match res.request().method().as_str() {
                m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m,
                // Any other word is a method to actix: one label, not a series per word.
                _ => "OTHER",
            },
            status.as_u16(),
            elapsed,
        );
    }
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status.is_server_error() && is_mcp && span.is_disabled() {
            // The request's span is off (`/mcp` at info): the line names the request itself.
            tracing::warn!(
                request_id = %request_id,
                path = "/mcp",
                status = status.as_u16(),
                elapsed_ms,
                "request failed"
            );
        } else if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), elapsed_ms, "request failed");
        } else if is_mcp {
            // Every `/mcp` request is in the audit log already, with more detail; an info line
            // per agent call would only add cost on the hot path.
            tracing::debug!(status = status.as_u16(), elapsed_ms, "request finished");
        } else {
            tracing::info!(status = status.as_u16(), elapsed_ms, "request finished");
        }
    });
    Ok(res)
}

fn is_problem(res: &ServiceResponse<BoxBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON))
}

fn generic_problem(status: StatusCode) -> crate::Problem {
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no resource at this path"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed on this path",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request's content type is not supported",
        ),
        StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
        s if s.is_server_error() => (
            "internal_error",
            "an internal error occurred; it has been logged",
        ),
        _ => ("request_failed", "the request cannot be served"),
    };
    problem(status, code, detail, None)
}

/// For the seed 000 routes, whose clients look for `"success": false`: adds that member to
/// every problem+json body.
pub async fn success_false_on_problems(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    if !is_problem(&res) {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let patched = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert("success".into(), serde_json::Value::Bool(false));
            serde_json::to_vec(&map).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    let res = head.set_body(BoxBody::new(patched));
    Ok(ServiceResponse::new(req, res))
}
