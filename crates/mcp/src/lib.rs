//! Domain: the MCP endpoint. It speaks JSON-RPC in both protocol eras (2026-07-28 stateless
//! requests and the `initialize` handshake of 2025-11-25 and older), checks Host, Origin, the
//! key and its rate limit, builds each key's tool catalog, and dispatches tool calls.

mod http;
pub mod protocol;
mod ratelimit;
mod service;
mod stats;
mod tools;
mod trace;

pub use http::{BodyError, HttpMethod, McpBody, McpHttpRequest, McpHttpResponse};
pub use ratelimit::RateLimiter;
pub use service::{McpService, McpSettings};
pub use stats::{BUCKETS, Histogram, McpStats, label};
pub use tools::{
    Grant, ToolOutcome, definition, execute_query_safe, get_columns, get_schemas, get_tables,
};
