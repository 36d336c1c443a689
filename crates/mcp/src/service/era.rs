//! Era dispatch: `legacy` (the `initialize` handshake) and `modern`, with tool list, server info.

use std::sync::Arc;

use keys::StoredKey;
use serde_json::{Value, json};

use super::McpService;
use super::reply::Reply;
use crate::protocol::{self, MODERN_VERSION, Message, code};
use crate::tools;
use crate::trace::Trace;

impl McpService {
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

    pub(super) async fn legacy(
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

    pub(super) async fn modern(
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
}
