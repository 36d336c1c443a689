//! `/mcp`: the MCP endpoint over Streamable HTTP. This adapter only moves headers and bytes
//! between actix and the `mcp` service, and answers CORS preflights before any key is asked.

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use mcp::{HttpMethod, McpBody, McpHttpRequest};

use crate::AppState;

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

const ALLOWED_HEADERS: &str = "Content-Type, Accept, Authorization, X-MCP-Server-Key, \
    MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Session-Id, Last-Event-ID";

/// The MCP endpoint (JSON-RPC over Streamable HTTP).
pub(crate) async fn endpoint(
    req: HttpRequest,
    body: web::Bytes,
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
        body: body.to_vec(),
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
    let response = state.mcp.handle(request).await;
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
    match response.body {
        McpBody::Empty => out.finish(),
        McpBody::Json(text) => out.content_type("application/json").body(text),
        McpBody::EventStream(text) => out.content_type("text/event-stream").body(text),
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
