//! The built-in tools: their definitions (what `tools/list` shows, `definitions`) and their
//! implementations (`discovery`: schemas, tables, columns; `queries`: running and explaining a
//! structured query). A tool the key was not granted does not exist for it; a table outside
//! the key's grant does not exist either.

mod definitions;
mod discovery;
mod queries;
#[cfg(test)]
mod tests;

pub use definitions::definition;
pub use discovery::{get_columns, get_schemas, get_tables};
pub use queries::{execute_query_safe, explain_query};

use std::sync::Arc;

use db_configs::{Reader, TableInfo};
use keys::StoredKey;
use semantic::{Note, Semantics};
use serde_json::{Map, Value, json};

/// What a key can reach: its record, its connection, and the tables both allow.
#[derive(Debug)]
pub struct Grant {
    pub key: Arc<StoredKey>,
    pub reader: Arc<Reader>,
    /// What administrators wrote about the connection; only notes on `visible` tables are
    /// ever shown.
    pub semantics: Arc<Semantics>,
    /// Snapshot tables in the key's whitelist and the connection's allowed tables.
    pub visible: Vec<TableInfo>,
    pub catalog: query::Catalog,
    pub engine: query::Engine,
}

impl Grant {
    /// Works out what the key can see in the connection's snapshot.
    pub fn new(key: Arc<StoredKey>, reader: Arc<Reader>, semantics: Arc<Semantics>) -> Self {
        let visible: Vec<TableInfo> = reader
            .snapshot
            .tables
            .iter()
            .filter(|t| {
                reader.exposes(&t.schema, &t.name) && key.key.grants_table(&t.schema, &t.name)
            })
            .cloned()
            .collect();
        let engine = query::Engine::from(reader.config.provider);
        let catalog = query::Catalog::new(visible.clone(), reader.default_schema());
        Self {
            key,
            reader,
            semantics,
            visible,
            catalog,
            engine,
        }
    }
}

/// The semantic fields of a table or column: the administrator's display name, description
/// (the database's own comment where none is written) and synonyms.
fn described(fields: &mut Map<String, Value>, note: Option<&Note>, comment: Option<&String>) {
    let note = note.cloned().unwrap_or_default();
    fields.insert("displayName".into(), json!(note.display_name));
    fields.insert(
        "description".into(),
        json!(note.description.as_ref().or(comment)),
    );
    fields.insert("synonyms".into(), json!(note.synonyms));
}

/// The outcome of a tool call: a result for the model, which may be an error it can fix.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    /// Whether the text block is the result as JSON, given as `structuredContent` too (not
    /// on errors).
    pub structured: bool,
    /// The text block.
    pub text: String,
    pub is_error: bool,
    /// The error is a refusal (a table or column outside the grant), not a failure.
    pub denied: bool,
    /// Rows returned, for queries.
    pub row_count: Option<usize>,
    /// Whether rows were cut by the row or byte cap.
    pub truncated: bool,
    /// The tables the call touched (`schema.table`), for the audit log.
    pub tables: Vec<String>,
}

impl ToolOutcome {
    /// A result: serialised once, straight to its text (the text block and
    /// `structuredContent` are that text).
    fn ok(value: &impl serde::Serialize) -> Self {
        let text = match serde_json::to_string(value) {
            Ok(text) => text,
            Err(e) => return Self::error(format!("the result could not be encoded: {e}")),
        };
        Self {
            text,
            structured: true,
            is_error: false,
            denied: false,
            row_count: None,
            truncated: false,
            tables: Vec::new(),
        }
    }

    /// An error the agent can act on.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            structured: false,
            text: text.into(),
            is_error: true,
            denied: false,
            row_count: None,
            truncated: false,
            tables: Vec::new(),
        }
    }

    /// The structured result, read back from the text.
    #[cfg(test)]
    fn value(&self) -> Option<Value> {
        self.structured
            .then(|| serde_json::from_str(&self.text).expect("a result is JSON"))
    }

    /// A query the grant does not allow: a refusal in the audit log.
    fn query_error(e: &query::QueryError) -> Self {
        let mut outcome = Self::error(e.to_string());
        outcome.denied = e.kind() == query::QueryErrorKind::UnknownTable;
        outcome
    }
}

fn arguments<'a>(args: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>, ToolOutcome> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let map = match args {
        Value::Null => EMPTY.get_or_init(Map::new),
        Value::Object(m) => m,
        _ => return Err(ToolOutcome::error("arguments must be a JSON object")),
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ToolOutcome::error(format!(
            "unknown argument {unknown:?}; this tool takes: {}",
            if allowed.is_empty() {
                "no arguments".to_owned()
            } else {
                allowed.join(", ")
            }
        )));
    }
    Ok(map)
}

fn optional_string<'a>(
    map: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, ToolOutcome> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ToolOutcome::error(format!("{name} must be a string"))),
    }
}
