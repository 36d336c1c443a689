//! The golden corpus: the fixture catalog and every definition of the golden tests, by name,
//! so that the query crate's tests check the SQL each renders to and `tests/sql` runs each on
//! the real database of every provider. Test support only (feature `testing`).

mod expressions;
mod golden;
mod queries;

use db_configs::{ColumnInfo, RelationKind, TableInfo};
use serde_json::{Value, json};

use crate::Catalog;

/// Where bare table names of the fixture are looked up.
pub const DEFAULT_SCHEMA: &str = "public";

/// The table of the fixture that no key may read.
pub const SECRET_TABLE: &str = "public.secrets";

/// The row cap the golden SQL is written for: the outermost LIMIT is at most 101.
pub const MAX_ROWS: usize = 100;

/// One definition: the JSON arguments of `execute_query_safe`, named after the golden test
/// that renders it (`test_name`, or `test_name/N` when a test renders several).
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub arguments: Value,
}

/// Every definition of the golden tests, in the order the tests use them.
pub fn definitions() -> Vec<Definition> {
    let mut all = golden::definitions();
    all.extend(expressions::definitions());
    all.extend(queries::definitions());
    all
}

/// The arguments of the definition called `name`, if there is one.
pub fn definition(name: &str) -> Option<Value> {
    definitions()
        .into_iter()
        .find(|d| d.name == name)
        .map(|d| d.arguments)
}

fn column(name: &str, data_type: &str) -> ColumnInfo {
    ColumnInfo {
        name: name.to_owned(),
        data_type: data_type.to_owned(),
        // The primary key is never null.
        nullable: name != "id",
        default: None,
        comment: None,
    }
}

/// A table of `columns` (name, PostgreSQL type), its primary key `id` (not null).
pub fn table(schema: &str, name: &str, columns: &[(&str, &str)]) -> TableInfo {
    TableInfo {
        schema: schema.to_owned(),
        name: name.to_owned(),
        kind: RelationKind::Table,
        comment: None,
        row_estimate: None,
        columns: columns.iter().map(|(n, t)| column(n, t)).collect(),
        primary_key: vec!["id".to_owned()],
        foreign_keys: Vec::new(),
    }
}

/// Every table of the fixture database, `public.secrets` included, with PostgreSQL types.
pub fn tables() -> Vec<TableInfo> {
    vec![
        table(
            "public",
            "users",
            &[
                ("id", "integer"),
                ("name", "text"),
                ("email", "character varying(255)"),
                ("age", "integer"),
                ("created_at", "timestamp without time zone"),
            ],
        ),
        table(
            "public",
            "orders",
            &[
                ("id", "integer"),
                ("customer_id", "integer"),
                ("total", "numeric(10,2)"),
                ("status", "text"),
                ("note", "text"),
                ("created_at", "timestamp with time zone"),
            ],
        ),
        table(
            "sales",
            "orders",
            &[("id", "integer"), ("amount", "numeric")],
        ),
        table(
            "archive",
            "events",
            &[("id", "bigint"), ("payload", "jsonb")],
        ),
        table("a", "dup", &[("id", "integer")]),
        table("b", "dup", &[("id", "integer")]),
        table(
            "public",
            "we\"ird",
            &[("id", "integer"), ("a\"b", "text"), ("x`y", "text")],
        ),
        table("public", "secrets", &[("id", "integer"), ("token", "text")]),
    ]
}

/// The tables the test key may read: every table but `public.secrets`.
pub fn granted_tables() -> Vec<TableInfo> {
    tables()
        .into_iter()
        .filter(|t| format!("{}.{}", t.schema, t.name) != SECRET_TABLE)
        .collect()
}

/// What the test key may read, bare names in `public`.
pub fn catalog() -> Catalog {
    Catalog::new(granted_tables(), DEFAULT_SCHEMA)
}

fn d(name: &str, arguments: Value) -> Definition {
    Definition {
        name: name.to_owned(),
        arguments,
    }
}

/// `id` of `table` under `conditions` (the golden tests of WHERE clauses).
fn where_query(table: &str, conditions: Value) -> Value {
    json!({"tableName": table, "selectColumns": [{"field": "id"}], "where": conditions})
}
