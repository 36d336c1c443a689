//! Planning tests over a small catalog: golden SQL per dialect, refusals, and properties.

mod golden;
mod golden_expressions;
mod golden_queries;
mod properties;
mod refusals;
mod security;

use db_configs::{ColumnInfo, RelationKind, SqlValue, TableInfo};
use serde_json::Value;

use crate::{Catalog, Dialect, Plan, Query, QueryError, plan};

/// The row cap used by the tests: LIMIT is at most 101.
const MAX_ROWS: usize = 100;

fn column(name: &str, data_type: &str) -> ColumnInfo {
    ColumnInfo {
        name: name.to_owned(),
        data_type: data_type.to_owned(),
        nullable: true,
        default: None,
        comment: None,
    }
}

fn table(schema: &str, name: &str, columns: &[(&str, &str)]) -> TableInfo {
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

/// Every table of the test database.
fn all_tables() -> Vec<TableInfo> {
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

/// What the test key may read: everything but `public.secrets`.
fn catalog() -> Catalog {
    let granted = all_tables()
        .into_iter()
        .filter(|t| t.name != "secrets")
        .collect();
    Catalog::new(granted, "public")
}

fn try_plan(arguments: &Value, dialect: Dialect) -> Result<Plan, QueryError> {
    let query = Query::parse(arguments)?;
    plan(&query, &catalog(), dialect, MAX_ROWS)
}

/// The SQL and parameters for `dialect`; panics with the error otherwise.
fn render(arguments: &Value, dialect: Dialect) -> (String, Vec<SqlValue>) {
    match try_plan(arguments, dialect) {
        Ok(p) => (p.statement.sql, p.statement.params),
        Err(e) => panic!("{arguments} was refused: {e}"),
    }
}

/// The SQL for each dialect, in order PostgreSQL, MySQL, SQLite.
fn sql3(arguments: &Value) -> [String; 3] {
    [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite].map(|d| render(arguments, d).0)
}

/// The PostgreSQL SQL and parameters.
fn pg(arguments: &Value) -> (String, Vec<SqlValue>) {
    render(arguments, Dialect::Postgres)
}

/// The error, from parsing or planning (the same for every dialect).
fn refused(arguments: &Value) -> QueryError {
    let errors: Vec<QueryError> = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite]
        .into_iter()
        .map(|d| match try_plan(arguments, d) {
            Ok(p) => panic!("{arguments} was accepted: {}", p.statement.sql),
            Err(e) => e,
        })
        .collect();
    assert!(errors.windows(2).all(|w| w[0] == w[1]));
    errors.into_iter().next().unwrap()
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}
