//! The tool-call path: the tool check, running it within the key's limits, cached readers, grants.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use db_configs::{DbConfigId, ReadLimits};
use keys::StoredKey;
use serde_json::{Value, json};

use super::reply::Reply;
use super::{Loaded, McpService};
use crate::protocol::{Message, code};
use crate::trace::Trace;
use crate::{Grant, ToolOutcome, tools};

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

/// The audit action of a granted tool call.
fn tool_action(tool: &str) -> String {
    match tool {
        "execute_query_safe" => "mcp.query.executed".to_owned(),
        "explain_query" => "mcp.query.explained".to_owned(),
        other => format!("mcp.{other}"),
    }
}

impl McpService {
    pub(super) async fn call(
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

    pub(super) async fn grant(&self, key: &Arc<StoredKey>) -> Result<Arc<Grant>, String> {
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
