//! `/mcp`: the MCP endpoint over Streamable HTTP. This adapter moves headers and bytes between
//! actix and the `mcp` service: it hands the service the request body to read once the request
//! is allowed (within the size limit and the body timeout, gzip decoded), compresses large
//! answers for clients that take gzip, and answers CORS preflights before any key is asked.

use std::cell::Cell;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::Decompress;
use actix_web::http::header::{self, AcceptEncoding, Encoding, HeaderMap};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use mcp::{BodyError, HttpMethod, McpBody, McpHttpRequest};

use crate::AppState;
use crate::extract::{BodyReadError, declared_length, read_limited};

fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn key(headers: &HeaderMap) -> Option<String> {
    text(headers, "x-mcp-server-key").or_else(|| {
        text(headers, "authorization").and_then(|a| {
            let (scheme, token) = a.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
    })
}

/// Responses at least this large are compressed for a client that accepts gzip; smaller ones
/// go as they are. MCP clients ask for gzip by default (Python's httpx, Node's fetch), and for a
/// result of a few kilobytes compressing cost more time than it saved (sent in pieces, off the
/// worker thread, it made a call from the Python SDK thirteen times slower on loopback).
pub const COMPRESS_FROM_BYTES: usize = 16 * 1024;

/// Larger bodies are compressed on a blocking thread, not on the worker serving other calls.
const COMPRESS_INLINE_UP_TO: usize = 256 * 1024;

/// Whether the request's `Accept-Encoding` prefers gzip to no encoding at all.
fn accepts_gzip(req: &HttpRequest) -> bool {
    req.get_header::<AcceptEncoding>().is_some_and(|accept| {
        accept.negotiate([Encoding::gzip(), Encoding::identity()].iter()) == Some(Encoding::gzip())
    })
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// `text` gzipped, or `None` should that fail (it cannot, writing to memory, short of the
/// blocking threads being gone at shutdown; the text is then sent as it is).
async fn gzipped(text: &Arc<String>) -> Option<Vec<u8>> {
    let done = if text.len() <= COMPRESS_INLINE_UP_TO {
        gzip(text.as_bytes())
    } else {
        let text = Arc::clone(text);
        web::block(move || gzip(text.as_bytes())).await.ok()?
    };
    done.inspect_err(|e| tracing::warn!(error = %e, "could not compress an MCP response"))
        .ok()
}

const ALLOWED_HEADERS: &str = "Content-Type, Accept, Authorization, X-MCP-Server-Key, \
    MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Session-Id, Last-Event-ID";

/// The body, decompressed as its `Content-Encoding` says, read up to `limit` bytes (after
/// decompression, so a small compressed body cannot expand past it) and within `time`. Past
/// either the rest is left unread, and the connection is closed after the answer.
async fn read_body(
    req: &HttpRequest,
    payload: &mut web::Payload,
    limit: usize,
    time: std::time::Duration,
) -> Result<Vec<u8>, BodyError> {
    actix_web::rt::time::timeout(time, read_body_within(req, payload, limit))
        .await
        .unwrap_or(Err(BodyError::TooSlow {
            secs: time.as_secs(),
        }))
}

async fn read_body_within(
    req: &HttpRequest,
    payload: &mut web::Payload,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let declared = declared_length(req.headers());
    let payload = Decompress::from_headers(payload, req.headers());
    read_limited(payload, declared, limit)
        .await
        .map_err(|e| match e {
            BodyReadError::TooLarge => BodyError::TooLarge { limit },
            BodyReadError::Unreadable => BodyError::Unreadable,
        })
}

/// Whether the request announces a body (a length above zero, or chunks).
fn has_body(req: &HttpRequest) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING) || declared_length(h).is_some_and(|n| n > 0)
}

/// The MCP endpoint (JSON-RPC over Streamable HTTP).
pub(crate) async fn endpoint(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let h = req.headers();
    let method = match *req.method() {
        actix_web::http::Method::POST => HttpMethod::Post,
        actix_web::http::Method::GET => HttpMethod::Get,
        actix_web::http::Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Other,
    };
    let origin = text(h, "origin");
    let request = McpHttpRequest {
        method,
        host: text(h, "host"),
        origin: origin.clone(),
        key: key(h),
        accept: text(h, "accept"),
        content_type: text(h, "content-type"),
        protocol_version: text(h, "mcp-protocol-version"),
        mcp_method: text(h, "mcp-method"),
        mcp_name: text(h, "mcp-name"),
        session_id: text(h, "mcp-session-id"),
        client_addr: Some(
            state
                .settings
                .trusted_proxies
                .client_address(&req)
                .to_string(),
        ),
        user_agent: text(h, "user-agent").map(|u| u.chars().take(512).collect()),
        request_id: req
            .extensions()
            .get::<crate::middleware::RequestContext>()
            .map(|c| c.request_id.clone()),
    };
    // Read only if the request gets that far (see `McpService::handle`).
    let mut payload = payload;
    let read_whole = Cell::new(false);
    let body = async {
        let body = read_body(
            &req,
            &mut payload,
            state.settings.max_body_bytes,
            state.settings.body_timeout,
        )
        .await;
        read_whole.set(body.is_ok());
        body
    };
    let response = state.mcp.handle(request, body).await;
    let mut res = http_response(&req, origin, response).await;
    if !read_whole.get() && has_body(&req) {
        // What is left of the body is not read. Kept with the answer's body until it is sent,
        // the unread request body makes actix end the connection; dropped, a chunked one would
        // be read and thrown away for as long as its client sends it.
        res = res
            .map_body(|_, body| WithUnread {
                body,
                _unread: payload,
            })
            .map_into_boxed_body();
    }
    res
}

/// A response body that keeps the request's unread body alive until it has been sent.
struct WithUnread {
    body: BoxBody,
    _unread: web::Payload,
}

impl MessageBody for WithUnread {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// The HTTP response for the service's answer: CORS, caching and compression headers.
async fn http_response(
    req: &HttpRequest,
    origin: Option<String>,
    response: mcp::McpHttpResponse,
) -> HttpResponse {
    let mut out = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(response.status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    );
    for (name, value) in response.headers {
        out.insert_header((name, value));
    }
    if let Some(o) = origin
        && response.status != 403
    {
        out.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, o))
            .insert_header((header::VARY, "Origin"))
            .insert_header((header::ACCESS_CONTROL_EXPOSE_HEADERS, "Mcp-Session-Id"));
    }
    out.insert_header((header::CACHE_CONTROL, "no-store"));
    let (content_type, text) = match response.body {
        McpBody::Empty => return out.finish(),
        McpBody::Json(text) => ("application/json", text),
        McpBody::EventStream(text) => ("text/event-stream", text),
    };
    out.content_type(content_type);
    if text.len() < COMPRESS_FROM_BYTES {
        return out.body(text);
    }
    out.append_header((header::VARY, "Accept-Encoding"));
    if !accepts_gzip(req) {
        return out.body(text);
    }
    let text = Arc::new(text);
    match gzipped(&text).await {
        Some(compressed) => out
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(compressed),
        None => out.body(Arc::unwrap_or_clone(text)),
    }
}

/// CORS preflight: answered before any key is checked. It lets a browser send the real
/// request, which is then checked against the key's allowed origins.
pub(crate) async fn preflight(req: HttpRequest) -> HttpResponse {
    let mut out = HttpResponse::NoContent();
    if let Some(o) = text(req.headers(), "origin") {
        out.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, o))
            .insert_header((header::VARY, "Origin"));
    }
    out.insert_header((
        header::ACCESS_CONTROL_ALLOW_METHODS,
        "POST, GET, DELETE, OPTIONS",
    ))
    .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS))
    .insert_header((header::ACCESS_CONTROL_EXPOSE_HEADERS, "Mcp-Session-Id"))
    .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
    .finish()
}
