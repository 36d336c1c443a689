//! `cargo bench -p query --features testing --bench plan`: the CPU cost of parsing a structured
//! query from its JSON arguments (`query::Query::parse`) and of planning it (`query::plan_for`,
//! called as the `execute_query_safe` tool calls it) for PostgreSQL, each measured alone. Two shapes: a filtered, ordered read of one table, and
//! the tool description's join with an aggregate. The catalog holds `public.orders` and
//! `public.users` among 50 tables, with the types as PostgreSQL's `format_type` spells them.
//! Prints microseconds per plan (the best of several rounds); asserts nothing.

use std::hint::black_box;
use std::time::Instant;

use db_configs::{Provider, TableInfo};
use serde_json::Value;

/// A filtered, ordered read of one table: the most common shape.
const FILTER: &str = r#"{"tableName": "public.orders", "selectColumns": [{"field": "id"}, {"field": "customer_id"}, {"field": "total"}, {"field": "status"}, {"field": "created_at"}], "where": [{"field": "customer_id", "op": "=", "value": 517}], "orderBy": [{"field": "created_at", "direction": "desc"}], "limit": 10}"#;

/// A join with an aggregate, as in the tool's description (`QUERY_EXAMPLE_JOIN`).
const JOIN: &str = r#"{"tableName": "orders", "alias": "o", "joins": [{"type": "inner", "table": "users", "alias": "u", "on": [{"field": "o.customer_id", "op": "=", "otherField": "u.id"}]}], "selectColumns": [{"field": "u.name"}, {"function": "sum", "args": [{"field": "o.total"}], "alias": "spent"}], "groupBy": [{"field": "u.name"}], "orderBy": [{"field": "spent", "direction": "desc"}], "limit": 5}"#;

/// How many tables the catalog holds in all.
const TABLES: usize = 50;
/// Plans per round, and rounds (the best is reported).
const ITERATIONS: u32 = 1_000;
const ROUNDS: usize = 200;
/// The row limit of the reader, as `ReadLimits::max_rows`.
const MAX_ROWS: usize = 1_000;

/// A table of `public`, through the corpus's helper.
fn table(name: &str, columns: &[(&str, &str)]) -> TableInfo {
    query::corpus::table("public", name, columns)
}

fn catalog() -> query::Catalog {
    let mut tables = vec![
        table(
            "orders",
            &[
                ("id", "bigint"),
                ("customer_id", "integer"),
                ("total", "numeric(10,2)"),
                ("status", "text"),
                ("created_at", "timestamp with time zone"),
            ],
        ),
        table(
            "users",
            &[
                ("id", "bigint"),
                ("name", "text"),
                ("email", "character varying(255)"),
                ("age", "integer"),
                ("created_at", "timestamp with time zone"),
            ],
        ),
    ];
    let filler = [
        ("id", "bigint"),
        ("label", "text"),
        ("amount", "numeric(12,2)"),
        ("updated_at", "timestamp without time zone"),
    ];
    tables.extend((tables.len()..TABLES).map(|i| table(&format!("table_{i}"), &filler)));
    query::Catalog::new(tables, "public")
}

/// The best time of `f` over the rounds, in microseconds per call.
fn best(mut f: impl FnMut()) -> f64 {
    (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..ITERATIONS {
                f();
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(ITERATIONS)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The best times of parsing `arguments` (from the JSON value the request holds) and of
/// planning the parsed query, in microseconds.
fn measure(arguments: &str, catalog: &query::Catalog, engine: &query::Engine) -> (f64, f64) {
    let arguments: Value = serde_json::from_str(arguments).expect("valid JSON");
    let parsed = query::Query::parse(&arguments).expect("a valid query");
    query::plan_for(&parsed, catalog, engine, MAX_ROWS).expect("a plan");
    let parse = best(|| {
        black_box(query::Query::parse(black_box(&arguments))).expect("a valid query");
    });
    let plan = best(|| {
        black_box(query::plan_for(
            black_box(&parsed),
            catalog,
            engine,
            MAX_ROWS,
        ))
        .expect("a plan");
    });
    (parse, plan)
}

fn main() {
    let catalog = catalog();
    let engine = query::Engine::from(Provider::Postgresql);
    for (name, arguments) in [("filter", FILTER), ("join+aggregate", JOIN)] {
        let (parse, plan) = measure(arguments, &catalog, &engine);
        println!("{name:>16}: {parse:.2} µs per parse, {plan:.2} µs per plan");
    }
}
