//! What `tools/list` shows of each built-in tool: its input and output schemas, annotations
//! and a description an LLM can follow.

use serde_json::{Value, json};

/// The examples `execute_query_safe`'s description teaches with (checked by a test to plan).
pub(super) const QUERY_EXAMPLE_FILTER: &str = r#"{"tableName": "users", "selectColumns": [{"field": "id"}, {"field": "name"}], "where": [{"field": "age", "op": ">=", "value": 18}], "orderBy": [{"field": "created_at", "direction": "desc"}], "limit": 10}"#;
pub(super) const QUERY_EXAMPLE_JOIN: &str = r#"{"tableName": "orders", "alias": "o", "joins": [{"type": "inner", "table": "users", "alias": "u", "on": [{"field": "o.customer_id", "op": "=", "otherField": "u.id"}]}], "selectColumns": [{"field": "u.name"}, {"function": "sum", "args": [{"field": "o.total"}], "alias": "spent"}], "groupBy": [{"field": "u.name"}], "orderBy": [{"field": "spent", "direction": "desc"}], "limit": 5}"#;

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
