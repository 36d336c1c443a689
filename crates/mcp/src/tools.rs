//! The built-in tools: their definitions (what `tools/list` shows) and their implementations.
//! A tool the key was not granted does not exist for it; a table outside the key's grant
//! does not exist either.

use std::collections::BTreeMap;
use std::sync::Arc;

use db_configs::{ReadLimits, Reader, TableInfo, TargetError};
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

/// The examples `execute_query_safe`'s description teaches with (checked by a test to plan).
const QUERY_EXAMPLE_FILTER: &str = r#"{"tableName": "users", "selectColumns": [{"field": "id"}, {"field": "name"}], "where": [{"field": "age", "op": ">=", "value": 18}], "orderBy": [{"field": "created_at", "direction": "desc"}], "limit": 10}"#;
const QUERY_EXAMPLE_JOIN: &str = r#"{"tableName": "orders", "alias": "o", "joins": [{"type": "inner", "table": "users", "alias": "u", "on": [{"field": "o.customer_id", "op": "=", "otherField": "u.id"}]}], "selectColumns": [{"field": "u.name"}, {"function": "sum", "args": [{"field": "o.total"}], "alias": "spent"}], "groupBy": [{"field": "u.name"}], "orderBy": [{"field": "spent", "direction": "desc"}], "limit": 5}"#;

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

fn string_prop(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn read_only() -> Value {
    json!({"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false})
}

/// The definition of a built-in tool, or `None` for an unknown name.
pub fn definition(name: &str) -> Option<Value> {
    let def = match name {
        "get_schemas" => json!({
            "name": "get_schemas",
            "title": "List schemas",
            "description": "Lists the database schemas that hold tables you may query, with how many such tables each has. Start here, then call get_tables.",
            "inputSchema": {"type": "object", "properties": {}, "additionalProperties": false},
            "outputSchema": {
                "type": "object",
                "properties": {
                    "schemas": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "tableCount": {"type": "integer"}
                        },
                        "required": ["name", "tableCount"]
                    }}
                },
                "required": ["schemas"]
            },
            "annotations": read_only(),
        }),
        "get_tables" => json!({
            "name": "get_tables",
            "title": "List tables",
            "description": "Lists the tables and views you may query, with their display name, description, synonyms (other words people use for them) and approximate row count. Pass schemaName to list one schema only. Use the qualified name (schema.table) in other tools.",
            "inputSchema": {
                "type": "object",
                "properties": {"schemaName": string_prop("Only tables of this schema (from get_schemas). Omit for all.")},
                "additionalProperties": false
            },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "tables": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "schema": {"type": "string"},
                            "name": {"type": "string"},
                            "qualifiedName": {"type": "string"},
                            "kind": {"type": "string", "enum": ["table", "view"]},
                            "displayName": {"type": ["string", "null"]},
                            "description": {"type": ["string", "null"]},
                            "synonyms": {"type": "array", "items": {"type": "string"}},
                            "rowEstimate": {"type": ["integer", "null"]}
                        },
                        "required": ["schema", "name", "qualifiedName", "kind", "synonyms"]
                    }}
                },
                "required": ["tables"]
            },
            "annotations": read_only(),
        }),
        "get_columns" => json!({
            "name": "get_columns",
            "title": "Describe a table",
            "description": "Describes the columns of one table or view: name, type, whether it can be null, default, display name, description, synonyms, primary key and foreign keys. Call it before writing a query on that table.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "schemaName": string_prop("The table's schema; omit to use the database's default schema, or pass tableName as schema.table."),
                    "tableName": string_prop("The table or view, as listed by get_tables (name or schema.table).")
                },
                "required": ["tableName"],
                "additionalProperties": false
            },
            "outputSchema": {
                "type": "object",
                "properties": {
                    "schema": {"type": "string"},
                    "table": {"type": "string"},
                    "kind": {"type": "string"},
                    "displayName": {"type": ["string", "null"]},
                    "description": {"type": ["string", "null"]},
                    "synonyms": {"type": "array", "items": {"type": "string"}},
                    "columns": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "type": {"type": "string"},
                            "nullable": {"type": "boolean"},
                            "default": {"type": ["string", "null"]},
                            "displayName": {"type": ["string", "null"]},
                            "description": {"type": ["string", "null"]},
                            "synonyms": {"type": "array", "items": {"type": "string"}},
                            "primaryKey": {"type": "boolean"}
                        },
                        "required": ["name", "type", "nullable", "primaryKey", "synonyms"]
                    }},
                    "primaryKey": {"type": "array", "items": {"type": "string"}},
                    "foreignKeys": {"type": "array", "items": {"type": "object"}}
                },
                "required": ["schema", "table", "columns"]
            },
            "annotations": read_only(),
        }),
        "execute_query_safe" => json!({
            "name": "execute_query_safe",
            "title": "Query tables",
            "description": format!("Reads rows with a structured query (no SQL text): pick columns or expressions, filter with where conditions, join tables, group and aggregate, sort, limit and offset; subqueries, CTEs (with) and unions (combine) too. Every table must be one get_tables lists; call get_columns first. Values are always bound, never spliced into SQL. The result says when rows were cut by the row or size limit. Example, the 10 newest active users: {QUERY_EXAMPLE_FILTER} Example, the 5 customers who spent most: {QUERY_EXAMPLE_JOIN}"),
            "inputSchema": query::input_schema(),
            "outputSchema": {
                "type": "object",
                "properties": {
                    "columns": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                        "required": ["name", "type"]
                    }},
                    "rows": {"type": "array", "items": {"type": "array"}},
                    "rowCount": {"type": "integer"},
                    "truncated": {"type": "boolean"},
                    "truncatedBy": {"type": ["string", "null"], "enum": ["rows", "bytes", null]}
                },
                "required": ["columns", "rows", "rowCount", "truncated"]
            },
            "annotations": read_only(),
        }),
        "explain_query" => json!({
            "name": "explain_query",
            "title": "Explain a query",
            "description": "Shows how the database would run a query, without running it: the database's own plan (JSON on PostgreSQL and MySQL/MariaDB, text lines on SQLite) and its cost and row estimates where it gives them. Takes exactly the arguments of execute_query_safe. Use it to check that a query on a big table uses an index before running it. For a query that reads a view only the estimates are given (the plan would show the view's definition). Example: {\"tableName\": \"orders\", \"where\": [{\"field\": \"customer_id\", \"op\": \"=\", \"value\": 42}], \"limit\": 10}",
            "inputSchema": query::input_schema(),
            "outputSchema": {
                "type": "object",
                "properties": {
                    "sql": {"type": "string", "description": "The statement that would run; values are bound separately"},
                    "format": {"type": "string", "enum": ["json", "text"]},
                    "plan": {"description": "The plan as the database gave it; null for a query that reads a view (see planHidden)"},
                    "planHidden": {"type": ["string", "null"], "description": "Why the plan is not shown, when it is not"},
                    "totalCost": {"type": ["number", "null"], "description": "The planner's cost estimate, in the database's own units"},
                    "estimatedRows": {"type": ["number", "null"]}
                },
                "required": ["sql", "format", "plan"]
            },
            "annotations": read_only(),
        }),
        _ => return None,
    };
    Some(def)
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

/// Lists schemas with visible tables.
pub fn get_schemas(grant: &Grant, args: &Value) -> ToolOutcome {
    if let Err(e) = arguments(args, &[]) {
        return e;
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &grant.visible {
        *counts.entry(t.schema.as_str()).or_default() += 1;
    }
    let schemas: Vec<Value> = counts
        .into_iter()
        .map(|(name, n)| json!({"name": name, "tableCount": n}))
        .collect();
    ToolOutcome::ok(&json!({"schemas": schemas}))
}

/// Lists visible tables, optionally of one schema.
pub fn get_tables(grant: &Grant, args: &Value) -> ToolOutcome {
    let map = match arguments(args, &["schemaName"]) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let schema = match optional_string(map, "schemaName") {
        Ok(s) => s,
        Err(e) => return e,
    };
    let tables: Vec<Value> = grant
        .visible
        .iter()
        .filter(|t| schema.is_none_or(|s| s.eq_ignore_ascii_case(&t.schema)))
        .map(|t| {
            let mut v = json!({
                "schema": t.schema,
                "name": t.name,
                "qualifiedName": format!("{}.{}", t.schema, t.name),
                "kind": t.kind,
                "rowEstimate": t.row_estimate,
            });
            let note = grant.semantics.table(&t.schema, &t.name);
            described(
                v.as_object_mut().expect("an object"),
                note.map(|n| &n.note),
                t.comment.as_ref(),
            );
            v
        })
        .collect();
    if tables.is_empty()
        && let Some(s) = schema
    {
        return ToolOutcome::error(format!(
            "no tables you may query in schema {s:?}; call get_schemas for the schemas available"
        ));
    }
    ToolOutcome::ok(&json!({"tables": tables}))
}

/// Finds a visible table by `schema` + `name`, `schema.name`, or a bare name (default schema
/// first, then a unique match elsewhere).
fn find_table<'a>(
    grant: &'a Grant,
    schema: Option<&str>,
    name: &str,
) -> Result<&'a TableInfo, ToolOutcome> {
    let (schema, name) = match (schema, name.split_once('.')) {
        (None, Some((s, n)))
            if !grant
                .visible
                .iter()
                .any(|t| t.name.eq_ignore_ascii_case(name)) =>
        {
            (Some(s), n)
        }
        _ => (schema, name),
    };
    let matches = |t: &&TableInfo, s: &str| {
        t.schema.eq_ignore_ascii_case(s) && t.name.eq_ignore_ascii_case(name)
    };
    let found = match schema {
        Some(s) => grant.visible.iter().find(|t| matches(t, s)),
        None => {
            let default = grant.reader.default_schema();
            grant
                .visible
                .iter()
                .find(|t| matches(t, &default))
                .or_else(|| {
                    let mut all = grant
                        .visible
                        .iter()
                        .filter(|t| t.name.eq_ignore_ascii_case(name));
                    match (all.next(), all.next()) {
                        (Some(only), None) => Some(only),
                        _ => None,
                    }
                })
        }
    };
    found.ok_or_else(|| {
        let shown = match schema {
            Some(s) => format!("{s}.{name}"),
            None => name.to_owned(),
        };
        let mut refused = ToolOutcome::error(format!(
            "no table {shown:?} that you may query; call get_tables for the tables available (use schema.table when a name is in several schemas)"
        ));
        refused.denied = true;
        refused
    })
}

/// Describes one visible table. Foreign keys to tables outside the grant are left out.
pub fn get_columns(grant: &Grant, args: &Value) -> ToolOutcome {
    let map = match arguments(args, &["schemaName", "tableName"]) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let (schema, table) = match (
        optional_string(map, "schemaName"),
        optional_string(map, "tableName"),
    ) {
        (Ok(s), Ok(Some(t))) => (s, t),
        (Err(e), _) | (_, Err(e)) => return e,
        (_, Ok(None)) => {
            return ToolOutcome::error(
                "tableName is required: the table to describe, as listed by get_tables",
            );
        }
    };
    let t = match find_table(grant, schema, table) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let touched = vec![format!("{}.{}", t.schema, t.name)];
    let notes = grant.semantics.table(&t.schema, &t.name);
    let columns: Vec<Value> = t
        .columns
        .iter()
        .map(|c| {
            let mut v = json!({
                "name": c.name,
                "type": c.data_type,
                "nullable": c.nullable,
                "default": c.default,
                "primaryKey": t.primary_key.contains(&c.name),
            });
            described(
                v.as_object_mut().expect("an object"),
                notes.and_then(|n| n.column(&c.name)),
                c.comment.as_ref(),
            );
            v
        })
        .collect();
    let foreign_keys: Vec<Value> = t
        .foreign_keys
        .iter()
        .filter(|fk| {
            grant
                .visible
                .iter()
                .any(|v| v.schema == fk.referenced_schema && v.name == fk.referenced_table)
        })
        .map(|fk| {
            json!({
                "columns": fk.columns,
                "referencedTable": format!("{}.{}", fk.referenced_schema, fk.referenced_table),
                "referencedColumns": fk.referenced_columns,
            })
        })
        .collect();
    let mut out = json!({
        "schema": t.schema,
        "table": t.name,
        "kind": t.kind,
        "columns": columns,
        "primaryKey": t.primary_key,
        "foreignKeys": foreign_keys,
    });
    described(
        out.as_object_mut().expect("an object"),
        notes.map(|n| &n.note),
        t.comment.as_ref(),
    );
    let mut outcome = ToolOutcome::ok(&out);
    outcome.tables = touched;
    outcome
}

/// What a failed read tells the agent: the database's own message for a bad query, a plain
/// sentence for everything else (never addresses or credentials).
fn read_error(e: &TargetError) -> String {
    match e {
        TargetError::Query(m) => format!("the database refused the query: {m}"),
        TargetError::QueryTimeout(ms) => format!(
            "the query was cancelled after {ms} ms, its time limit; add conditions or a smaller limit"
        ),
        TargetError::Busy => {
            "too many queries are running on this database; try again shortly".into()
        }
        TargetError::Unsupported(m) => m.clone(),
        TargetError::HostNotAllowed(_)
        | TargetError::UnknownHost(_)
        | TargetError::Unreachable(_)
        | TargetError::AuthenticationFailed(_)
        | TargetError::Timeout(_)
        | TargetError::NotFound(_) => {
            "the database cannot be reached right now; try again later".into()
        }
    }
}

/// What `execute_query_safe` answers (members in alphabetical order, as they always were).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryResult<'a> {
    columns: &'a [db_configs::ResultColumn],
    row_count: usize,
    rows: &'a [Vec<Value>],
    truncated: bool,
    truncated_by: Option<db_configs::Truncation>,
}

/// Plans and runs a structured query.
pub async fn execute_query_safe(
    grant: &Grant,
    args: &Value,
    limits: ReadLimits,
    bounds: query::Bounds,
) -> ToolOutcome {
    let plan = match plan_query(grant, args, &limits, bounds) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let tables = plan.tables.clone();
    let mut outcome = match grant.reader.read(&plan.statement, limits).await {
        Ok(result) => {
            let mut outcome = ToolOutcome::ok(&QueryResult {
                columns: &result.columns,
                row_count: result.rows.len(),
                rows: &result.rows,
                truncated: result.truncated.is_some(),
                truncated_by: result.truncated,
            });
            outcome.row_count = Some(result.rows.len());
            outcome.truncated = result.truncated.is_some();
            outcome
        }
        Err(e) => {
            tracing::info!(error = %e, "query failed");
            ToolOutcome::error(read_error(&e))
        }
    };
    outcome.tables = tables;
    outcome
}

/// Parses and plans a structured query within the grant; a refusal is the tool's answer.
fn plan_query(
    grant: &Grant,
    args: &Value,
    limits: &ReadLimits,
    bounds: query::Bounds,
) -> Result<query::Plan, ToolOutcome> {
    let parsed =
        query::Query::parse_within(args, bounds).map_err(|e| ToolOutcome::query_error(&e))?;
    query::plan_for(&parsed, &grant.catalog, &grant.engine, limits.max_rows)
        .map_err(|e| ToolOutcome::query_error(&e))
}

/// Why `explain_query` gives no plan for a query that reads a view.
const VIEW_PLAN_HIDDEN: &str = "The query reads a view: its plan would show the view's definition (the tables under it and its conditions), so only the estimates are given.";

/// Plans a structured query exactly as `execute_query_safe` would, and asks the database how
/// it would run it, without running it.
pub async fn explain_query(
    grant: &Grant,
    args: &Value,
    limits: ReadLimits,
    bounds: query::Bounds,
) -> ToolOutcome {
    let plan = match plan_query(grant, args, &limits, bounds) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let tables = plan.tables.clone();
    // A view's plan is its definition: the tables under it (which the key may not be granted),
    // their columns and the view's own conditions. Only the estimates are shown for it.
    let over_view = grant.visible.iter().any(|t| {
        t.kind == db_configs::RelationKind::View
            && tables
                .iter()
                .any(|name| name.split_once('.') == Some((t.schema.as_str(), t.name.as_str())))
    });
    let mut outcome = match grant.reader.explain(&plan.statement, limits.timeout).await {
        Ok(explained) => ToolOutcome::ok(&json!({
            "sql": plan.statement.sql,
            "format": explained.format,
            "plan": if over_view { Value::Null } else { explained.plan },
            "planHidden": over_view.then_some(VIEW_PLAN_HIDDEN),
            "totalCost": explained.total_cost,
            "estimatedRows": explained.estimated_rows,
        })),
        Err(e) => {
            tracing::info!(error = %e, "explain failed");
            ToolOutcome::error(read_error(&e))
        }
    };
    outcome.tables = tables;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use db_configs::{
        ColumnInfo, ConnectSpec, ConnectionReport, DbConfig, DbConfigId, ForeignKey, Location,
        Provider, RelationKind, SchemaListing, SchemaSnapshot, TableName, TargetDatabase,
    };
    use keys::{KeyId, KeyLimits, McpKey, TablePattern};
    use time::OffsetDateTime;

    struct NoTarget;

    #[async_trait::async_trait]
    impl TargetDatabase for NoTarget {
        async fn test(
            &self,
            _: &ConnectSpec,
            _: Option<&TableName>,
        ) -> Result<ConnectionReport, TargetError> {
            Err(TargetError::Unsupported("no".into()))
        }
        async fn discover(&self, _: &ConnectSpec) -> Result<Vec<SchemaListing>, TargetError> {
            Err(TargetError::Unsupported("no".into()))
        }
        async fn introspect(&self, _: &ConnectSpec) -> Result<Vec<TableInfo>, TargetError> {
            Err(TargetError::Unsupported("no".into()))
        }
    }

    fn table(schema: &str, name: &str, fk_to: Option<&str>) -> TableInfo {
        TableInfo {
            schema: schema.into(),
            name: name.into(),
            kind: RelationKind::Table,
            comment: Some(format!("about {name}")),
            row_estimate: Some(10),
            columns: vec![ColumnInfo {
                name: "id".into(),
                data_type: "integer".into(),
                nullable: false,
                default: None,
                comment: None,
            }],
            primary_key: vec!["id".into()],
            foreign_keys: fk_to
                .map(|t| ForeignKey {
                    name: "fk".into(),
                    columns: vec!["id".into()],
                    referenced_schema: schema.into(),
                    referenced_table: t.into(),
                    referenced_columns: vec!["id".into()],
                })
                .into_iter()
                .collect(),
        }
    }

    fn grant(whitelist: &[&str], allowed: &[&str]) -> Grant {
        grant_with(whitelist, allowed, |_| {})
    }

    fn grant_with(
        whitelist: &[&str],
        allowed: &[&str],
        describe: impl FnOnce(&mut Semantics),
    ) -> Grant {
        let now = OffsetDateTime::now_utc();
        let config = DbConfig {
            id: DbConfigId::new(),
            name: "shop".into(),
            description: None,
            provider: Provider::Sqlite,
            location: Location::File {
                path: "x.db".into(),
            },
            has_password: false,
            allowed_tables: allowed
                .iter()
                .map(|t| TableName::parse(t, "t").unwrap())
                .collect(),
            is_primary: false,
            is_active: true,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            schema_refreshed_at: Some(now),
        };
        let reader = Reader {
            spec: ConnectSpec {
                provider: Provider::Sqlite,
                location: config.location.clone(),
                password: None,
                resolved: None,
                connect_timeout_secs: 1,
                pool_key: Some(config.id),
            },
            config,
            target: Arc::new(NoTarget),
            snapshot: Arc::new(SchemaSnapshot {
                tables: vec![
                    table("main", "orders", Some("secrets")),
                    table("main", "customers", None),
                    table("main", "secrets", None),
                    table("other", "orders", Some("customers")),
                ],
                refreshed_at: now,
            }),
        };
        let key = McpKey {
            id: KeyId::new(),
            name: "k".into(),
            prefix: "sluice_000000000000".into(),
            db_config_id: reader.config.id,
            allowed_tools: vec!["get_tables".into()],
            table_whitelist: whitelist
                .iter()
                .map(|t| TablePattern::parse(t, "w").unwrap())
                .collect(),
            limits: KeyLimits::default(),
            allowed_origins: vec![],
            is_active: true,
            created_at: now,
            updated_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        let stored = keys::StoredKey {
            key,
            hash: vec![],
            connection_usable: true,
        };
        let mut semantics = Semantics::empty(reader.config.id);
        describe(&mut semantics);
        Grant::new(Arc::new(stored), Arc::new(reader), Arc::new(semantics))
    }

    fn names(outcome: &ToolOutcome) -> Vec<String> {
        outcome.value().unwrap()["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["qualifiedName"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn discovery_shows_the_whitelist_within_the_connections_tables() {
        let g = grant(
            &["orders", "main.secrets"],
            &["main.orders", "main.customers"],
        );
        assert_eq!(names(&get_tables(&g, &Value::Null)), ["main.orders"]);
        let g = grant(&["*"], &[]);
        assert_eq!(
            names(&get_tables(&g, &json!({"schemaName": "OTHER"}))),
            ["other.orders"]
        );
        let schemas = get_schemas(&g, &json!({}));
        assert_eq!(
            schemas.value().unwrap()["schemas"],
            json!([{"name": "main", "tableCount": 3}, {"name": "other", "tableCount": 1}])
        );
    }

    #[test]
    fn a_table_outside_the_grant_reads_like_one_that_does_not_exist() {
        let g = grant(&["main.orders"], &[]);
        let hidden = get_columns(&g, &json!({"tableName": "secrets"}));
        let missing = get_columns(&g, &json!({"tableName": "nothing"}));
        assert!(hidden.is_error && missing.is_error);
        assert_eq!(
            hidden.text.replace("secrets", "X"),
            missing.text.replace("nothing", "X")
        );
        let shown = get_columns(&g, &json!({"tableName": "main.orders"}));
        let value = shown.value().unwrap();
        assert_eq!(value["columns"][0]["primaryKey"], true);
        assert_eq!(
            value["foreignKeys"],
            json!([]),
            "a foreign key to a hidden table would reveal it"
        );
    }

    fn note(text: &str) -> Note {
        Note {
            display_name: Some(format!("{text} name")),
            description: Some(format!("{text} text")),
            synonyms: vec![format!("{text} word")],
        }
    }

    #[test]
    fn notes_reach_visible_tables_only_and_database_comments_fill_the_gaps() {
        let g = grant_with(&["main.orders", "main.customers"], &[], |s| {
            for (table, text) in [("orders", "ORD"), ("secrets", "SECRET")] {
                s.tables.push(semantic::TableNotes {
                    schema: "main".into(),
                    table: table.into(),
                    note: note(text),
                    columns: vec![("id".into(), note(&format!("{text} id")))],
                });
            }
        });
        let tables = get_tables(&g, &json!({})).value().unwrap();
        let text = tables.to_string();
        assert!(
            !text.contains("SECRET") && !text.contains("secrets"),
            "nothing about a table outside the grant: {text}"
        );
        let by_name = |n: &str| {
            tables["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == n)
                .unwrap()
                .clone()
        };
        let orders = by_name("orders");
        assert_eq!(orders["displayName"], "ORD name");
        assert_eq!(
            orders["description"], "ORD text",
            "the note wins over the comment"
        );
        assert_eq!(orders["synonyms"], json!(["ORD word"]));
        let customers = by_name("customers");
        assert_eq!(customers["displayName"], Value::Null);
        assert_eq!(
            customers["description"], "about customers",
            "the comment is the default"
        );
        assert_eq!(customers["synonyms"], json!([]));

        let cols = get_columns(&g, &json!({"tableName": "orders"}))
            .value()
            .unwrap();
        assert_eq!(cols["displayName"], "ORD name");
        assert_eq!(cols["columns"][0]["description"], "ORD id text");
        assert_eq!(cols["columns"][0]["synonyms"], json!(["ORD id word"]));
        let hidden = get_columns(&g, &json!({"tableName": "secrets"}));
        assert!(hidden.is_error && !hidden.text.contains("SECRET"));
    }

    #[test]
    fn bad_arguments_are_errors_the_agent_can_fix() {
        let g = grant(&["*"], &[]);
        let e = get_tables(&g, &json!({"schema": "main"}));
        assert!(e.is_error && e.text.contains("schemaName"), "{}", e.text);
        let e = get_columns(&g, &json!({}));
        assert!(e.is_error && e.text.contains("tableName"), "{}", e.text);
        let e = get_tables(&g, &json!([1]));
        assert!(e.is_error);
    }

    #[test]
    fn the_examples_the_description_teaches_plan_on_every_dialect() {
        let catalog = query::corpus::catalog();
        for example in [QUERY_EXAMPLE_FILTER, QUERY_EXAMPLE_JOIN] {
            let args: Value = serde_json::from_str(example).unwrap();
            let parsed = query::Query::parse(&args).unwrap();
            for provider in [Provider::Postgresql, Provider::Mysql, Provider::Sqlite] {
                let engine = query::Engine::from(provider);
                query::plan_for(&parsed, &catalog, &engine, 10)
                    .unwrap_or_else(|e| panic!("{example} on {provider:?}: {e}"));
            }
        }
        let description = definition("execute_query_safe").unwrap()["description"].to_string();
        assert!(description.contains("spent"), "{description}");
    }

    #[test]
    fn every_tool_is_described_and_read_only() {
        for name in keys::BUILTIN_TOOLS {
            let def = definition(name).unwrap();
            assert_eq!(def["name"], *name);
            assert!(def["description"].as_str().is_some_and(|d| d.len() > 20));
            assert_eq!(def["inputSchema"]["type"], "object");
            assert_eq!(def["outputSchema"]["type"], "object");
            assert_eq!(def["annotations"]["readOnlyHint"], true);
        }
        assert!(definition("drop_table").is_none());
    }
}
