//! Discovery: the schemas, tables and columns a key may see, with the semantic layer.

use std::collections::BTreeMap;

use db_configs::TableInfo;
use serde_json::{Value, json};

use super::{Grant, ToolOutcome, arguments, described, optional_string};

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
