//! Building JSON-RPC responses: a request's [`Reply`], refusals and error responses.

use serde_json::{Value, json};

use crate::McpHttpResponse;
use crate::protocol::Refusal;

/// The `result` of a JSON-RPC response.
pub(super) struct Reply {
    /// The result object, but for a tool call's text block and `structuredContent`.
    pub(super) value: Value,
    /// A tool call's text block, and whether it is the structured result as JSON.
    pub(super) tool: Option<(String, bool)>,
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
    pub(super) fn into_response(self, id: &Value) -> String {
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

pub(super) fn refusal_response(r: &Refusal) -> McpHttpResponse {
    McpHttpResponse::json(r.status, r.body().to_string())
}

pub(super) fn error_response(status: u16, code: i64, message: &str) -> McpHttpResponse {
    McpHttpResponse::json(
        status,
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}})
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
