//! The `/mcp` endpoint as a service: Host and Origin checks, the key, its rate limit, then
//! JSON-RPC dispatch in the request's era. Transport-neutral: the HTTP adapter hands in an
//! [`McpHttpRequest`] and writes out the [`McpHttpResponse`].

mod call;
mod era;
mod host;
mod reply;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use db_configs::{DbConfigId, DbConfigService, Reader};
use keys::{KeyId, KeyService};
use semantic::{SemanticService, Semantics};
use serde_json::json;

use self::reply::{error_response, refusal_response};
use crate::protocol::{self, Era, code};
use crate::stats::McpStats;
use crate::trace::{Trace, key_prefix};
use crate::{BodyError, Grant, HttpMethod, McpBody, McpHttpRequest, McpHttpResponse, RateLimiter};

/// Settings of the endpoint.
#[derive(Debug, Clone)]
pub struct McpSettings {
    /// Host names answered besides loopback names.
    pub allowed_hosts: Vec<String>,
    /// Origins allowed for every key (loopback origins always are).
    pub allowed_origins: Vec<String>,
    pub default_max_rows: u32,
    pub default_timeout: Duration,
    pub max_result_bytes: usize,
    pub default_rate_limit_per_minute: u32,
    /// How long a connection's settings and snapshot are reused (changes drop them at once).
    pub reader_ttl: Duration,
    /// Record tool arguments with every `value` replaced by `"***"`.
    pub redact_values: bool,
    /// How large a structured query may be (tighter than the built-in maxima, if set so).
    pub query_bounds: query::Bounds,
    pub server_version: String,
}

/// A connection as the tools use it: how to read it, and what administrators wrote about it.
type Loaded = (Arc<Reader>, Arc<Semantics>);

/// The MCP endpoint.
pub struct McpService {
    keys: KeyService,
    connections: DbConfigService,
    semantic: SemanticService,
    audit: audit::AuditLog,
    stats: McpStats,
    settings: McpSettings,
    limiter: RateLimiter,
    readers: Mutex<HashMap<DbConfigId, (Instant, Loaded)>>,
    grants: Mutex<HashMap<KeyId, Arc<Grant>>>,
}

impl std::fmt::Debug for McpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The audit action of a JSON-RPC method.
fn action_of(method: &str) -> String {
    match method {
        "initialize" => "mcp.initialize".to_owned(),
        "ping" => "mcp.ping".to_owned(),
        "server/discover" => "mcp.server.discover".to_owned(),
        "tools/list" => "mcp.tools.list".to_owned(),
        "tools/call" => "mcp.tools.call".to_owned(),
        m if m.starts_with("notifications/") => "mcp.notification".to_owned(),
        _ => "mcp.request.invalid".to_owned(),
    }
}

/// -32001: the request is not allowed (key, host, origin); -32029: rate limited.
const NOT_ALLOWED: i64 = -32001;
const RATE_LIMITED: i64 = -32029;

impl McpService {
    pub fn new(
        keys: KeyService,
        connections: DbConfigService,
        semantic: SemanticService,
        audit: audit::AuditLog,
        settings: McpSettings,
    ) -> Self {
        Self {
            keys,
            connections,
            semantic,
            audit,
            stats: McpStats::default(),
            settings,
            limiter: RateLimiter::default(),
            readers: Mutex::default(),
            grants: Mutex::default(),
        }
    }

    /// A connection changed somewhere: drop what was cached for it.
    pub fn connection_changed(&self, id: DbConfigId) {
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, g| g.reader.config.id != id);
    }

    /// The change feed reconnected or dropped: nothing cached can be trusted.
    pub fn forget_all(&self) {
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Answers one request to `/mcp`, and records it in the audit log (after answering, so
    /// the event has the outcome and the duration; it waits only for room in the queue).
    /// `body` is awaited only once Host, method, key, Origin and rate limit allow the request:
    /// a refused request is answered without waiting for its body or keeping it. The audit
    /// event's duration runs from the request's head to the answer, the body's arrival included;
    /// a tool call's latency in the metrics runs from the body's arrival.
    pub async fn handle(
        &self,
        request: McpHttpRequest,
        body: impl Future<Output = Result<Vec<u8>, BodyError>>,
    ) -> McpHttpResponse {
        let mut answering = Answering {
            service: self,
            started: Instant::now(),
            request: Some(request),
            trace: Trace::default(),
        };
        let request = answering.request.as_ref().expect("set above");
        let response = self.respond(request, body, &mut answering.trace).await;
        let (request, trace) = answering.finish();
        let event = self.count(trace, &request, answering.started);
        self.audit.record(event).await;
        response
    }

    /// Counts an answered (or abandoned) request in the metrics and makes its audit event.
    /// A tool call's latency runs from the body's arrival, the event's duration from `started`.
    fn count(&self, trace: Trace, request: &McpHttpRequest, started: Instant) -> audit::AuditEvent {
        let elapsed = started.elapsed();
        self.stats.record(
            &trace.action,
            trace.outcome.as_str(),
            trace.tool.as_deref(),
            trace.body_read.map_or(elapsed, |at| at.elapsed()),
        );
        trace.into_event(request, elapsed)
    }

    /// The endpoint's counters, for `/metrics`.
    pub fn stats(&self) -> &McpStats {
        &self.stats
    }

    async fn respond(
        &self,
        request: &McpHttpRequest,
        body: impl Future<Output = Result<Vec<u8>, BodyError>>,
        trace: &mut Trace,
    ) -> McpHttpResponse {
        if !self.host_allowed(request.host.as_deref()) {
            trace.deny("mcp.request.denied", "Host not allowed");
            return error_response(403, NOT_ALLOWED, "this server does not answer to that Host");
        }
        if request.method != HttpMethod::Post {
            trace.deny("mcp.request.denied", "method not allowed");
            return McpHttpResponse::empty(405).with_header("Allow", "POST");
        }
        let origin_needs_key = request
            .origin
            .as_deref()
            .is_some_and(|o| !self.origin_globally_allowed(o));
        let key = match self.keys.verify(request.key.as_deref().unwrap_or("")).await {
            Ok(k) => k,
            Err(keys::KeyAuthError::Unavailable) => {
                trace.action = "mcp.key.auth.unavailable".to_owned();
                trace.outcome = audit::Outcome::Failed;
                trace.error = Some("keys cannot be verified right now".to_owned());
                return error_response(503, -32603, "keys cannot be verified right now; retry");
            }
            Err(reason) => {
                trace.key_prefix = key_prefix(request.key.as_deref());
                if origin_needs_key {
                    trace.deny("mcp.origin.denied", "Origin not allowed");
                    return error_response(403, NOT_ALLOWED, "this Origin is not allowed");
                }
                trace.deny("mcp.key.auth.failed", &reason.to_string());
                tracing::info!(reason = %reason, "MCP key refused");
                return error_response(
                    401,
                    NOT_ALLOWED,
                    "a valid MCP key is required (X-MCP-Server-Key or Authorization: Bearer)",
                )
                .with_header("WWW-Authenticate", "Bearer");
            }
        };
        trace.key = Some(key.clone());
        if origin_needs_key {
            let origin = request.origin.as_deref().unwrap_or_default();
            let allowed = url::Url::parse(origin).is_ok_and(|u| {
                let o = u.origin().ascii_serialization();
                key.key
                    .allowed_origins
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&o))
            });
            if !allowed {
                trace.deny("mcp.origin.denied", "Origin not allowed for the key");
                return error_response(403, NOT_ALLOWED, "this Origin is not allowed for the key");
            }
        }
        let per_minute = key
            .key
            .limits
            .rate_limit_per_minute
            .unwrap_or(self.settings.default_rate_limit_per_minute);
        if let Err(wait) = self.limiter.check(key.key.id, per_minute, Instant::now()) {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            trace.deny(
                "mcp.rate_limited",
                &format!("{per_minute} requests per minute"),
            );
            return error_response(
                429,
                RATE_LIMITED,
                &format!(
                    "rate limit of {per_minute} requests per minute reached; retry in {secs} s"
                ),
            )
            .with_header("Retry-After", secs.to_string());
        }
        let body = match body.await {
            Ok(body) => {
                trace.body_read = Some(Instant::now());
                body
            }
            Err(BodyError::TooLarge { limit }) => {
                trace.deny("mcp.request.invalid", "request body too large");
                return error_response(
                    413,
                    code::INVALID_REQUEST,
                    &format!(
                        "the request body is larger than the {limit} bytes this server accepts; send a smaller request"
                    ),
                );
            }
            Err(BodyError::TooSlow { secs }) => {
                trace.deny("mcp.request.invalid", "request body too slow");
                return error_response(
                    408,
                    code::INVALID_REQUEST,
                    &format!("the request body did not arrive within {secs} s"),
                );
            }
            Err(BodyError::Unreadable) => {
                trace.deny("mcp.request.invalid", "request body unreadable");
                return error_response(
                    400,
                    code::PARSE_ERROR,
                    "the request body could not be read (cut short, badly framed or badly compressed)",
                );
            }
        };
        let message = match protocol::parse(&body) {
            Ok(m) => m,
            Err(r) => {
                trace.deny("mcp.request.invalid", &r.message);
                return refusal_response(&r);
            }
        };
        trace.action = action_of(&message.method);
        let era = match protocol::era(request, &message) {
            Ok(e) => e,
            Err(r) => {
                trace.deny("mcp.request.invalid", &r.message);
                return refusal_response(&r);
            }
        };
        let Some(id) = message.id.clone() else {
            return McpHttpResponse::empty(202);
        };
        let outcome = match era {
            Era::Modern => self.modern(&key, &message, trace).await,
            Era::Legacy(_) => self.legacy(&key, &message, trace).await,
        };
        if let Err((_, why)) = &outcome {
            trace.deny(&trace.action.clone(), why);
        }
        let (status, text) = match outcome {
            Ok(result) => (200, result.into_response(&id)),
            Err((code, message)) => {
                let status = match (era, code) {
                    (Era::Legacy(_), _) => 200,
                    (Era::Modern, code::METHOD_NOT_FOUND) => 404,
                    (Era::Modern, code::INVALID_PARAMS) => 400,
                    (Era::Modern, _) => 200,
                };
                (
                    status,
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
                        .to_string(),
                )
            }
        };
        let wants_json = request.accept.as_deref().is_none_or(|a| {
            a.contains("application/json") || a.contains("*/*") || !a.contains("text/event-stream")
        });
        McpHttpResponse {
            status,
            headers: Vec::new(),
            body: if wants_json {
                McpBody::Json(text)
            } else {
                McpBody::EventStream(format!("event: message\ndata: {text}\n\n"))
            },
        }
    }
}

/// A request being answered. Should [`McpService::handle`] be dropped before the answer (the
/// client reset the connection while sending its body, or the server stopped waiting), the
/// request is still counted and recorded, as failed: its key was checked and its rate counted.
struct Answering<'a> {
    service: &'a McpService,
    started: Instant,
    /// `None` once answered.
    request: Option<McpHttpRequest>,
    trace: Trace,
}

impl Answering<'_> {
    /// The request has its answer: hands back what to record.
    fn finish(&mut self) -> (McpHttpRequest, Trace) {
        let request = self.request.take().expect("finished once");
        (request, std::mem::take(&mut self.trace))
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        let Some(request) = self.request.take() else {
            return;
        };
        let mut trace = std::mem::take(&mut self.trace);
        trace.outcome = audit::Outcome::Failed;
        trace.error = Some("the request ended before its answer (the client went away)".into());
        let event = self.service.count(trace, &request, self.started);
        // A drop cannot wait for room in the queue: the event waits on a task of its own.
        let audit = self.service.audit.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { audit.record(event).await });
            }
            Err(_) => tracing::warn!(
                request_id = ?request.request_id,
                "an abandoned MCP request could not be recorded outside the runtime"
            ),
        }
    }
}
