//! JSON-RPC framing and the era rules of `/mcp` (see `docs/mcp-wire-notes.md`): a request is
//! modern (2026-07-28, stateless) when it says so in its `MCP-Protocol-Version` header or its
//! `_meta` envelope, and legacy (the `initialize` handshake of 2025-11-25 and older) otherwise.
//! Modern requests must carry the envelope and headers that match their body.

use serde_json::{Value, json};

use crate::McpHttpRequest;

/// The one modern revision.
pub const MODERN_VERSION: &str = "2026-07-28";
/// Handshake revisions, newest first; `initialize` echoes one of these.
pub const LEGACY_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// JSON-RPC and MCP error codes.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const HEADER_MISMATCH: i64 = -32020;
    pub const UNSUPPORTED_VERSION: i64 = -32022;
}

/// Which rules a request follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Modern,
    /// A handshake revision (from the header, or 2025-03-26 when there is none).
    Legacy(&'static str),
}

/// One JSON-RPC message from a client.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `None` for a notification.
    pub id: Option<Value>,
    pub method: String,
    pub params: Value,
}

/// A request the protocol layer refuses, with the HTTP status of the era's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub id: Value,
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl Refusal {
    fn new(status: u16, id: &Value, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            id: id.clone(),
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The JSON-RPC error document.
    pub fn body(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        json!({"jsonrpc": "2.0", "id": self.id, "error": error})
    }
}

/// Parses the body as one JSON-RPC request or notification.
///
/// # Errors
/// -32700 for text that is not JSON, -32600 for anything but a single message object.
pub fn parse(body: &[u8]) -> Result<Message, Refusal> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| Refusal::new(400, &Value::Null, code::PARSE_ERROR, "Parse error"))?;
    let invalid = |id: &Value| {
        Refusal::new(
            400,
            id,
            code::INVALID_REQUEST,
            "Body must be a single JSON-RPC request or notification object",
        )
    };
    let Value::Object(mut map) = value else {
        return Err(invalid(&Value::Null));
    };
    let id = map.remove("id");
    let id_ok = matches!(&id, None | Some(Value::String(_) | Value::Number(_)));
    let shown_id = || id.clone().filter(|_| id_ok).unwrap_or(Value::Null);
    if map.get("jsonrpc").and_then(Value::as_str) != Some("2.0") || !id_ok {
        return Err(invalid(&shown_id()));
    }
    let Some(Value::String(method)) = map.remove("method") else {
        return Err(invalid(&shown_id()));
    };
    // Moved out of the body, not copied: the arguments of a query can be large.
    let params = match map.remove("params") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(p @ Value::Object(_)) => p,
        Some(_) => {
            return Err(Refusal::new(
                400,
                &shown_id(),
                code::INVALID_PARAMS,
                "params must be an object",
            ));
        }
    };
    Ok(Message { id, method, params })
}

/// Decides the era of a message and, for modern ones, checks the envelope and headers.
///
/// # Errors
/// -32022 for an unknown version (with `data.supported`), -32602 for a missing envelope,
/// -32020 when a header disagrees with the body; all HTTP 400.
pub fn era(request: &McpHttpRequest, message: &Message) -> Result<Era, Refusal> {
    let id = message.id.clone().unwrap_or(Value::Null);
    let meta = message.params.get("_meta");
    let meta_version = meta
        .and_then(|m| m.get(META_VERSION))
        .and_then(Value::as_str);
    let header = request.protocol_version.as_deref().map(str::trim);
    let claimed = header.or(meta_version);
    match claimed {
        Some(v) if v == MODERN_VERSION => {}
        Some(v) if message.method != "initialize" => {
            if let Some(known) = LEGACY_VERSIONS.iter().find(|l| **l == v) {
                return Ok(Era::Legacy(known));
            }
            let mut refusal = Refusal::new(
                400,
                &id,
                code::UNSUPPORTED_VERSION,
                format!("protocol version {v:?} is not supported"),
            );
            let mut supported = vec![MODERN_VERSION];
            supported.extend_from_slice(LEGACY_VERSIONS);
            refusal.data = Some(json!({"supported": supported, "requested": v}));
            return Err(refusal);
        }
        // `initialize` negotiates its version in the body, never by header.
        _ => return Ok(Era::Legacy(header_or_default(header))),
    }
    let meta = meta.and_then(Value::as_object).ok_or_else(|| {
        Refusal::new(
            400,
            &id,
            code::INVALID_PARAMS,
            "params._meta is required at protocol version 2026-07-28",
        )
    })?;
    let missing: Vec<&str> = [META_VERSION, META_CAPABILITIES]
        .into_iter()
        .filter(|k| !meta.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::new(
            400,
            &id,
            code::INVALID_PARAMS,
            format!(
                "params._meta is missing the required envelope key(s): {}",
                missing.join(", ")
            ),
        ));
    }
    if header != meta_version {
        return Err(Refusal::new(
            400,
            &id,
            code::HEADER_MISMATCH,
            "mcp-protocol-version header does not match the request envelope's protocol version",
        ));
    }
    if request.mcp_method.as_deref().map(str::trim) != Some(message.method.as_str()) {
        return Err(Refusal::new(
            400,
            &id,
            code::HEADER_MISMATCH,
            "mcp-method header does not match the request body's method",
        ));
    }
    if message.method == "tools/call"
        && let Some(name) = message.params.get("name").and_then(Value::as_str)
        && request.mcp_name.as_deref().map(str::trim) != Some(name)
    {
        return Err(Refusal::new(
            400,
            &id,
            code::HEADER_MISMATCH,
            "mcp-name header does not match the request body's 'name' parameter",
        ));
    }
    Ok(Era::Modern)
}

fn header_or_default(header: Option<&str>) -> &'static str {
    header
        .and_then(|h| LEGACY_VERSIONS.iter().find(|l| **l == h).copied())
        .unwrap_or("2025-03-26")
}

/// The version `initialize` answers with: the client's when it is a handshake revision,
/// otherwise the newest one.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| LEGACY_VERSIONS.iter().find(|l| **l == r).copied())
        .unwrap_or(LEGACY_VERSIONS[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HttpMethod;

    fn request(version: Option<&str>, method: Option<&str>, name: Option<&str>) -> McpHttpRequest {
        McpHttpRequest {
            method: HttpMethod::Post,
            host: Some("127.0.0.1:8080".into()),
            origin: None,
            key: None,
            accept: None,
            content_type: Some("application/json".into()),
            protocol_version: version.map(str::to_owned),
            mcp_method: method.map(str::to_owned),
            mcp_name: name.map(str::to_owned),
            session_id: None,
            client_addr: None,
            user_agent: None,
            request_id: None,
        }
    }

    fn modern_call(name: &str) -> Message {
        parse(
            json!({"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": name,
                "_meta": {META_VERSION: MODERN_VERSION, META_CAPABILITIES: {}}}})
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn bodies_that_are_not_one_message_are_refused() {
        assert_eq!(parse(b"{nope").unwrap_err().code, code::PARSE_ERROR);
        for body in [
            json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]),
            json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": 1}),
        ] {
            let r = parse(body.to_string().as_bytes()).unwrap_err();
            assert_eq!((r.status, r.code), (400, code::INVALID_REQUEST), "{body}");
        }
        let n = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(n.id, None);
    }

    #[test]
    fn the_seed_request_without_handshake_or_headers_is_legacy() {
        let m = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_tables","arguments":{}}}"#).unwrap();
        assert_eq!(
            era(&request(None, None, None), &m),
            Ok(Era::Legacy("2025-03-26"))
        );
        assert_eq!(
            era(&request(Some("2025-06-18"), None, None), &m),
            Ok(Era::Legacy("2025-06-18"))
        );
    }

    #[test]
    fn modern_requests_need_matching_headers() {
        let m = modern_call("get_tables");
        let ok = request(Some(MODERN_VERSION), Some("tools/call"), Some("get_tables"));
        assert_eq!(era(&ok, &m), Ok(Era::Modern));
        for bad in [
            request(Some(MODERN_VERSION), Some("tools/list"), Some("get_tables")),
            request(Some(MODERN_VERSION), None, Some("get_tables")),
            request(
                Some(MODERN_VERSION),
                Some("tools/call"),
                Some("execute_query_safe"),
            ),
            request(Some(MODERN_VERSION), Some("tools/call"), None),
            request(None, Some("tools/call"), Some("get_tables")),
        ] {
            let r = era(&bad, &m).unwrap_err();
            assert_eq!((r.status, r.code), (400, code::HEADER_MISMATCH), "{bad:?}");
            assert_eq!(r.id, json!("a"));
        }
        let no_meta = parse(br#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#).unwrap();
        let r = era(
            &request(Some(MODERN_VERSION), Some("tools/list"), None),
            &no_meta,
        )
        .unwrap_err();
        assert_eq!(r.code, code::INVALID_PARAMS);
    }

    #[test]
    fn an_unknown_version_lists_the_supported_ones() {
        let m = parse(br#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#).unwrap();
        let r = era(&request(Some("2099-01-01"), Some("tools/list"), None), &m).unwrap_err();
        assert_eq!((r.status, r.code), (400, code::UNSUPPORTED_VERSION));
        let body = r.body();
        assert_eq!(body["error"]["data"]["requested"], "2099-01-01");
        assert_eq!(body["error"]["data"]["supported"][0], MODERN_VERSION);
    }

    #[test]
    fn initialize_never_needs_a_version_header_and_negotiates_in_the_body() {
        let m = parse(br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#).unwrap();
        assert!(matches!(
            era(&request(None, None, None), &m),
            Ok(Era::Legacy(_))
        ));
        assert!(matches!(
            era(&request(Some("1999"), None, None), &m),
            Ok(Era::Legacy(_))
        ));
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2026-07-28")), "2025-11-25");
        assert_eq!(negotiate(None), "2025-11-25");
    }
}
