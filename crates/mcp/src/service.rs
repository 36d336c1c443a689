//! The `/mcp` endpoint as a service: Host and Origin checks, the key, its rate limit, then
//! JSON-RPC dispatch in the request's era. Transport-neutral: the HTTP adapter hands in an
//! [`McpHttpRequest`] and writes out the [`McpHttpResponse`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use db_configs::{DbConfigId, DbConfigService, ReadLimits, Reader};
use keys::{KeyId, KeyService, StoredKey};
use semantic::{SemanticService, Semantics};
use serde_json::{Value, json};

use crate::protocol::{self, Era, MODERN_VERSION, Message, Refusal, code};
use crate::stats::McpStats;
use crate::trace::{Trace, key_prefix};
use crate::{
    BodyError, Grant, HttpMethod, McpBody, McpHttpRequest, McpHttpResponse, RateLimiter,
    ToolOutcome, tools,
};

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

fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// The host part of a `Host` header (`name:port`, `[v6]:port`).
fn host_name(header: &str) -> String {
    let h = header.trim().to_ascii_lowercase();
    if let Some(rest) = h.strip_prefix('[') {
        return rest
            .split_once(']')
            .map_or(h.clone(), |(v6, _)| format!("[{v6}]"));
    }
    h.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(h.clone(), |(name, _)| name.to_owned())
}

/// The `result` of a JSON-RPC response.
struct Reply {
    /// The result object, but for a tool call's text block and `structuredContent`.
    value: Value,
    /// A tool call's text block, and whether it is the structured result as JSON.
    tool: Option<(String, bool)>,
}

impl From<Value> for Reply {
    fn from(value: Value) -> Self {
        Self { value, tool: None }
    }
}

/// Appends `value` as JSON (which cannot fail for values and strings written to memory).
fn push_json(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    serde_json::to_writer(out, value).expect("JSON is written to memory");
}

impl Reply {
    /// The response's JSON text, for the request `id`. A tool's text is escaped once for the
    /// text block and reused as it is for `structuredContent`: the result is serialised once.
    fn into_response(self, id: &Value) -> String {
        let text_len = self.tool.as_ref().map_or(0, |(t, _)| t.len());
        let mut out = Vec::with_capacity(256 + text_len * 5 / 2);
        out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
        push_json(&mut out, id);
        out.extend_from_slice(br#","result":"#);
        push_json(&mut out, &self.value);
        if let Some((text, structured)) = &self.tool {
            // `value` is an object with members (`isError` at least): its closing brace makes
            // room for more.
            debug_assert!(out.ends_with(b"}") && !out.ends_with(b"{}"));
            out.pop();
            out.extend_from_slice(br#","content":[{"type":"text","text":"#);
            push_json(&mut out, text);
            out.extend_from_slice(b"}]");
            if *structured {
                out.extend_from_slice(br#","structuredContent":"#);
                out.extend_from_slice(text.as_bytes());
            }
            out.push(b'}');
        }
        out.push(b'}');
        String::from_utf8(out).expect("JSON text is UTF-8")
    }
}

fn refusal_response(r: &Refusal) -> McpHttpResponse {
    McpHttpResponse::json(r.status, r.body().to_string())
}

fn error_response(status: u16, code: i64, message: &str) -> McpHttpResponse {
    McpHttpResponse::json(
        status,
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}})
            .to_string(),
    )
}

/// Whether `name` is a built-in tool with a definition. Worked out once: a definition (the
/// query input schema is large) took longer to build than the query took to run.
fn is_defined_tool(name: &str) -> bool {
    static DEFINED: OnceLock<Vec<&'static str>> = OnceLock::new();
    DEFINED
        .get_or_init(|| {
            keys::BUILTIN_TOOLS
                .iter()
                .copied()
                .filter(|t| tools::definition(t).is_some())
                .collect()
        })
        .contains(&name)
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

/// The audit action of a granted tool call.
fn tool_action(tool: &str) -> String {
    match tool {
        "execute_query_safe" => "mcp.query.executed".to_owned(),
        "explain_query" => "mcp.query.explained".to_owned(),
        other => format!("mcp.{other}"),
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

    fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(host) = host else { return true };
        let name = host_name(host);
        is_loopback_host(&name)
            || self
                .settings
                .allowed_hosts
                .iter()
                .any(|h| h == "*" || h.eq_ignore_ascii_case(&name))
    }

    /// `Some(true)` allowed for everyone, `Some(false)` only if the key allows it.
    fn origin_globally_allowed(&self, origin: &str) -> bool {
        let Ok(url) = url::Url::parse(origin) else {
            return false;
        };
        let serialized = url.origin().ascii_serialization();
        url.host_str()
            .is_some_and(|h| is_loopback_host(&h.to_ascii_lowercase()))
            || self
                .settings
                .allowed_origins
                .iter()
                .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&serialized))
    }

    /// Answers one request to `/mcp`, and records it in the audit log (after answering, so
    /// the event has the outcome and the duration; it waits only for room in the queue).
    pub async fn handle(&self, request: McpHttpRequest) -> McpHttpResponse {
        let started = Instant::now();
        let mut trace = Trace::default();
        let response = self.respond(&request, &mut trace).await;
        let elapsed = started.elapsed();
        self.stats.record(
            &trace.action,
            trace.outcome.as_str(),
            trace.tool.as_deref(),
            elapsed,
        );
        self.audit.record(trace.into_event(&request, elapsed)).await;
        response
    }

    /// The endpoint's counters, for `/metrics`.
    pub fn stats(&self) -> &McpStats {
        &self.stats
    }

    async fn respond(&self, request: &McpHttpRequest, trace: &mut Trace) -> McpHttpResponse {
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
        match request.body_error {
            None => {}
            Some(BodyError::TooLarge { limit }) => {
                trace.deny("mcp.request.invalid", "request body too large");
                return error_response(
                    413,
                    code::INVALID_REQUEST,
                    &format!(
                        "the request body is larger than the {limit} bytes this server accepts; send a smaller request"
                    ),
                );
            }
            Some(BodyError::Unreadable) => {
                trace.deny("mcp.request.invalid", "request body unreadable");
                return error_response(
                    400,
                    code::PARSE_ERROR,
                    "the request body could not be read (cut short, badly framed or badly compressed)",
                );
            }
        }
        let message = match protocol::parse(&request.body) {
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

    fn server_info(&self) -> Value {
        json!({"name": "sluice", "title": "Sluice", "version": self.settings.server_version})
    }

    fn tool_list(key: &StoredKey) -> Vec<Value> {
        keys::BUILTIN_TOOLS
            .iter()
            .filter(|t| key.key.grants_tool(t))
            .filter_map(|t| tools::definition(t))
            .collect()
    }

    /// The database description administrators wrote, as the server's `instructions`; left
    /// out when there is none or the connection cannot be loaded now.
    async fn instructions(&self, key: &Arc<StoredKey>) -> Option<String> {
        self.grant(key).await.ok()?.semantics.description.clone()
    }

    async fn legacy(
        &self,
        key: &Arc<StoredKey>,
        m: &Message,
        trace: &mut Trace,
    ) -> Result<Reply, (i64, String)> {
        let result = match m.method.as_str() {
            "initialize" => {
                let requested = m.params.get("protocolVersion").and_then(Value::as_str);
                let mut result = json!({
                    "protocolVersion": protocol::negotiate(requested),
                    "capabilities": {"tools": {"listChanged": false}},
                    "serverInfo": self.server_info(),
                });
                if let Some(text) = self.instructions(key).await {
                    result["instructions"] = json!(text);
                }
                result
            }
            "ping" => json!({}),
            "tools/list" => json!({"tools": Self::tool_list(key)}),
            "tools/call" => return self.call(key, m, trace).await,
            other => return Err((code::METHOD_NOT_FOUND, format!("Method not found: {other}"))),
        };
        Ok(Reply::from(result))
    }

    async fn modern(
        &self,
        key: &Arc<StoredKey>,
        m: &Message,
        trace: &mut Trace,
    ) -> Result<Reply, (i64, String)> {
        let meta = json!({"io.modelcontextprotocol/serverInfo": self.server_info()});
        let mut result = match m.method.as_str() {
            "server/discover" => {
                let mut r = json!({
                    "supportedVersions": [MODERN_VERSION],
                    "capabilities": {"tools": {}},
                    "cacheScope": "private",
                    "ttlMs": 0,
                });
                if let Some(text) = self.instructions(key).await {
                    r["instructions"] = json!(text);
                }
                Reply::from(r)
            }
            "tools/list" => Reply::from(json!({
                "tools": Self::tool_list(key),
                "cacheScope": "private",
                "ttlMs": 0,
            })),
            "tools/call" => self.call(key, m, trace).await?,
            other => return Err((code::METHOD_NOT_FOUND, format!("Method not found: {other}"))),
        };
        result.value["resultType"] = json!("complete");
        result.value["_meta"] = meta;
        Ok(result)
    }

    async fn call(
        &self,
        key: &Arc<StoredKey>,
        m: &Message,
        trace: &mut Trace,
    ) -> Result<Reply, (i64, String)> {
        let name = m.params.get("name").and_then(Value::as_str).unwrap_or("");
        trace.tool = Some(name.chars().take(100).collect());
        static NO_ARGUMENTS: Value = Value::Null;
        let args = m.params.get("arguments").unwrap_or(&NO_ARGUMENTS);
        // Serialised only for the audit log: not at all when nothing is recorded.
        if self.audit.is_enabled() {
            trace.set_arguments(args, self.settings.redact_values);
        }
        if !key.key.grants_tool(name) || !is_defined_tool(name) {
            return Err((code::INVALID_PARAMS, format!("Unknown tool: {name}")));
        }
        trace.action = tool_action(name);
        let outcome = match self.grant(key).await {
            Ok(grant) => self.run(&grant, name, args).await,
            Err(text) => ToolOutcome::error(text),
        };
        trace.tables.clone_from(&outcome.tables);
        trace.row_count = outcome.row_count.map(|n| n as u64);
        trace.truncated = outcome.truncated;
        if outcome.is_error {
            trace.outcome = if outcome.denied {
                audit::Outcome::Denied
            } else {
                audit::Outcome::Failed
            };
            // Errors may quote the values (the planner's and the database's messages do): with
            // redaction only the request path of the error is kept.
            trace.error = Some(if self.settings.redact_values {
                let path = outcome.text.split_once(':').map_or("", |(p, _)| p);
                format!(
                    "{} (details redacted)",
                    if path.len() < 200 { path } else { "" }
                )
            } else {
                outcome.text.chars().take(2_000).collect()
            });
        }
        Ok(Reply {
            value: json!({"isError": outcome.is_error}),
            tool: Some((outcome.text, outcome.structured)),
        })
    }

    async fn run(&self, grant: &Grant, name: &str, args: &Value) -> ToolOutcome {
        match name {
            "get_schemas" => tools::get_schemas(grant, args),
            "get_tables" => tools::get_tables(grant, args),
            "get_columns" => tools::get_columns(grant, args),
            "execute_query_safe" => {
                tools::execute_query_safe(
                    grant,
                    args,
                    self.limits(grant),
                    self.settings.query_bounds,
                )
                .await
            }
            "explain_query" => {
                tools::explain_query(grant, args, self.limits(grant), self.settings.query_bounds)
                    .await
            }
            _ => ToolOutcome::error(format!("Unknown tool: {name}")),
        }
    }

    /// The read limits of a key: its own, else the server's defaults.
    fn limits(&self, grant: &Grant) -> ReadLimits {
        let k = &grant.key.key.limits;
        ReadLimits {
            max_rows: k.max_rows.unwrap_or(self.settings.default_max_rows) as usize,
            max_bytes: self.settings.max_result_bytes,
            timeout: k.timeout_ms.map_or(self.settings.default_timeout, |ms| {
                Duration::from_millis(ms.into())
            }),
        }
    }

    async fn reader(&self, id: DbConfigId) -> Result<Loaded, String> {
        if let Some((at, loaded)) = self
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            && at.elapsed() < self.settings.reader_ttl
        {
            return Ok(loaded.clone());
        }
        let unreachable = "the database cannot be reached right now; try again later";
        let reader = self.connections.reader(id).await.map_err(|e| {
            tracing::warn!(connection = %id, error = %e, "cannot prepare reads");
            unreachable.to_owned()
        })?;
        let semantics = self.semantic.stored(id).await.map_err(|e| {
            tracing::warn!(connection = %id, error = %e, "cannot load the semantic layer");
            unreachable.to_owned()
        })?;
        let loaded = (Arc::new(reader), Arc::new(semantics));
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, (Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    async fn grant(&self, key: &Arc<StoredKey>) -> Result<Arc<Grant>, String> {
        let (reader, semantics) = self.reader(key.key.db_config_id).await?;
        if let Some(g) = self
            .grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key.key.id)
            && Arc::ptr_eq(&g.key, key)
            && Arc::ptr_eq(&g.reader, &reader)
        {
            return Ok(g.clone());
        }
        let grant = Arc::new(Grant::new(key.clone(), reader, semantics));
        self.grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.key.id, grant.clone());
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("LOCALHOST:8080"), "localhost");
        assert_eq!(host_name("[::1]:3000"), "[::1]");
        assert_eq!(host_name("example.com"), "example.com");
        assert!(is_loopback_host(&host_name("127.0.0.1:1")));
        assert!(!is_loopback_host(&host_name("evil.example.com:80")));
        assert!(!is_loopback_host(&host_name("localhost.evil.com")));
    }

    #[test]
    fn replies_are_json_with_the_text_escaped_once_and_the_result_structured() {
        let parse = |reply: Reply, id: Value| -> Value {
            serde_json::from_str(&reply.into_response(&id)).expect("the reply is JSON")
        };
        let result = r#"{"rows":[["a \"quoted\"\nline",1]],"rowCount":1}"#;
        let ok = parse(
            Reply {
                value: json!({"isError": false, "resultType": "complete"}),
                tool: Some((result.to_owned(), true)),
            },
            json!("req-1"),
        );
        assert_eq!(ok["jsonrpc"], "2.0");
        assert_eq!(ok["id"], "req-1");
        assert_eq!(ok["result"]["content"][0]["type"], "text");
        assert_eq!(ok["result"]["content"][0]["text"], result);
        assert_eq!(
            ok["result"]["structuredContent"],
            serde_json::from_str::<Value>(result).unwrap()
        );
        assert_eq!(ok["result"]["isError"], false);
        assert_eq!(ok["result"]["resultType"], "complete");

        let failed = parse(
            Reply {
                value: json!({"isError": true}),
                tool: Some(("no such column: \"x\"\u{7}".to_owned(), false)),
            },
            json!(7),
        );
        assert_eq!(failed["id"], 7);
        assert_eq!(failed["result"]["isError"], true);
        assert_eq!(
            failed["result"]["content"][0]["text"],
            "no such column: \"x\"\u{7}"
        );
        assert!(failed["result"].get("structuredContent").is_none());

        let plain = parse(Reply::from(json!({"tools": []})), Value::Null);
        assert_eq!(
            plain,
            json!({"jsonrpc": "2.0", "id": null, "result": {"tools": []}})
        );
    }
}
