//! The transport seen from the domain: the parts of an HTTP request `/mcp` looks at, and the
//! response to send. The HTTP adapter fills these in and writes them out.

/// The HTTP method of a request to `/mcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Post,
    Get,
    Delete,
    Other,
}

/// A request to `/mcp`: its headers and where it came from. The body is handed to
/// [`crate::McpService::handle`] apart, to be read only once the request is allowed.
#[derive(Debug, Clone)]
pub struct McpHttpRequest {
    pub method: HttpMethod,
    /// The `Host` header.
    pub host: Option<String>,
    pub origin: Option<String>,
    /// From `X-MCP-Server-Key`, or `Authorization: Bearer`.
    pub key: Option<String>,
    pub accept: Option<String>,
    pub content_type: Option<String>,
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<String>,
    /// `Mcp-Method`.
    pub mcp_method: Option<String>,
    /// `Mcp-Name`.
    pub mcp_name: Option<String>,
    /// `Mcp-Session-Id`.
    pub session_id: Option<String>,
    /// For the audit log: the client's address (proxies resolved), `User-Agent`, and the
    /// request id.
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// A request body the transport could not take: the request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the `limit` bytes the server accepts (after decompression): 413.
    TooLarge { limit: usize },
    /// Cut short, badly framed or badly compressed: 400.
    Unreadable,
    /// Not all there within `secs` seconds: 408.
    TooSlow { secs: u64 },
}

/// The body of a response.
#[derive(Debug, Clone, PartialEq)]
pub enum McpBody {
    Empty,
    /// `application/json`.
    Json(String),
    /// `text/event-stream` holding one `message` event.
    EventStream(String),
}

/// A response from `/mcp`.
#[derive(Debug, Clone, PartialEq)]
pub struct McpHttpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: McpBody,
}

impl McpHttpResponse {
    /// A JSON body.
    pub fn json(status: u16, body: String) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: McpBody::Json(body),
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: McpBody::Empty,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}
