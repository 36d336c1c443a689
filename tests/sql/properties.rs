//! Random definitions (the query crate's generators, from a fixed seed): each is refused with
//! a `QueryError`, or it plans, reads only granted tables, and runs on SQLite, PostgreSQL and
//! MariaDB/MySQL without a database error, never returning the secret; never a panic.
//!
//! The only database errors let through are runtime ones no planner can rule out
//! (`acceptable`); any other fails the test. `SQL_PROPTEST_CASES` (default 200) and
//! `SQL_PROPTEST_SEED` (a number; default: proptest's fixed seed) explore further.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use query::{corpus, strategies};
use serde_json::Value;

use crate::fixture::{self, SECRET_TOKEN, TestDb};

/// Cases per generator: a few seconds in all.
const CASES: u32 = 200;

fn cases() -> u32 {
    std::env::var("SQL_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES)
}

/// A runner from `SQL_PROPTEST_SEED`, or proptest's fixed seed.
fn runner() -> TestRunner {
    match std::env::var("SQL_PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRunner::new_with_rng(
                Config::default(),
                TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
            )
        }
        None => TestRunner::deterministic(),
    }
}

/// Database errors a well-typed definition can still meet at run time, with why.
fn acceptable(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    // Values decide these, not types: x / 0, x % 0; an int overflowing in arithmetic; a
    // scalar subquery that finds several rows.
    m.contains("division by zero")
        || m.contains("out of range")
        || m.contains("more than one row returned by a subquery")
        || m.contains("subquery returns more than 1 row")
}

/// Plans `arguments` for `db` and runs it; `Err` says what went wrong.
async fn check(db: &TestDb, arguments: &Value) -> Result<bool, String> {
    let Ok(plan) = db.plan(arguments) else {
        return Ok(false);
    };
    let granted: Vec<String> = corpus::granted_tables()
        .iter()
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    for t in &plan.tables {
        let logical = db.logical_table(t);
        if !granted.contains(&logical) {
            return Err(format!("plans a read of {logical}: {}", plan.statement.sql));
        }
    }
    match db.read(&plan.statement).await {
        Ok(result) => {
            let leaked = result
                .rows
                .iter()
                .flatten()
                .any(|v| v.to_string().contains(SECRET_TOKEN));
            if leaked {
                return Err(format!("returned the secret: {}", plan.statement.sql));
            }
            Ok(true)
        }
        Err(db_configs::TargetError::Query(m)) if acceptable(&m) => Ok(true),
        Err(e) => Err(format!(
            "{e}\n    SQL: {}\n    params: {:?}",
            plan.statement.sql, plan.statement.params
        )),
    }
}

/// Runs `CASES` values of `strategy` on every database; returns the failures.
fn explore(
    rt: &tokio::runtime::Runtime,
    dbs: &[&TestDb],
    name: &str,
    strategy: impl Strategy<Value = Value>,
) -> Vec<String> {
    let mut runner = runner();
    let cases = cases();
    let mut failures = Vec::new();
    let mut ran = vec![0usize; dbs.len()];
    for _ in 0..cases {
        let args = strategy.new_tree(&mut runner).expect("a value").current();
        for (i, db) in dbs.iter().enumerate() {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rt.block_on(check(db, &args))
            }));
            match outcome {
                Ok(Ok(true)) => ran[i] += 1,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => failures.push(format!("{name} on {}: {args}\n    {e}", db.label)),
                Err(_) => failures.push(format!("{name} on {}: panicked on {args}", db.label)),
            }
        }
    }
    for (db, n) in dbs.iter().zip(ran) {
        eprintln!("{name}: {n} of {cases} ran on {}", db.label);
    }
    failures
}

#[test]
fn random_definitions_are_refused_or_run_without_database_errors() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (lite, pg, my) = rt
        .block_on(async { tokio::join!(fixture::sqlite(), fixture::postgres(), fixture::mysql()) });
    let dbs = [&lite, &pg, &my];
    let mut failures = explore(&rt, &dbs, "arguments", strategies::arguments());
    failures.extend(explore(
        &rt,
        &dbs,
        "query_shapes",
        strategies::query_shapes(),
    ));
    failures.extend(explore(&rt, &dbs, "any_json", strategies::any_json()));
    rt.block_on(async move {
        drop(lite);
        drop(pg);
        drop(my);
    });
    assert!(
        failures.is_empty(),
        "{} failures:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
