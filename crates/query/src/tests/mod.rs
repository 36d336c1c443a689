//! Planning tests over a small catalog: golden SQL per dialect, refusals, and properties.

mod golden;
mod golden_expressions;
mod golden_queries;
mod properties;
mod refusals;
mod security;
mod types;

use db_configs::SqlValue;
use serde_json::Value;

pub(crate) use crate::corpus::{MAX_ROWS, catalog, table, tables as all_tables};
use crate::{Catalog, Dialect, Plan, Query, QueryError, plan};

/// The corpus definition called `name`.
fn def(name: &str) -> Value {
    crate::corpus::definition(name).unwrap_or_else(|| panic!("no definition {name} in the corpus"))
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
