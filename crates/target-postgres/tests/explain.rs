//! `PgTarget::explain` against a real PostgreSQL (`TEST_DATABASE_URL`, see `common`): each
//! test makes a database of its own and drops it.

mod common;

use std::time::{Duration, Instant};

use common::{TestDb, sql, with};
use db_configs::{
    ConnectSpec, PlanFormat, QueryPlan, ReadLimits, ReadStatement, SqlValue, TargetDatabase,
    TargetError,
};
use serde_json::json;
use target_postgres::PgTarget;

const FIXTURE: &str = r#"
    CREATE TABLE people (id integer PRIMARY KEY, name text NOT NULL, age integer);
    INSERT INTO people SELECT i, 'person ' || i, i % 90 FROM generate_series(1, 5000) i;
    CREATE INDEX people_name ON people (name);
    ANALYZE people;
    CREATE TABLE numbers (n integer PRIMARY KEY);
    INSERT INTO numbers SELECT generate_series(1, 50);
    ANALYZE numbers;
    CREATE SEQUENCE counter;
    -- Declared immutable, so the planner folds a call to it, sleeping while it plans.
    CREATE FUNCTION slow_constant() RETURNS integer IMMUTABLE LANGUAGE plpgsql
        AS $$ BEGIN PERFORM pg_sleep(5); RETURN 1; END $$;
"#;

const TIMEOUT: Duration = Duration::from_secs(10);

async fn explain(target: &PgTarget, spec: &ConnectSpec, statement: ReadStatement) -> QueryPlan {
    target
        .explain(spec, &statement, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", statement.sql))
}

fn refused(result: Result<QueryPlan, TargetError>) -> String {
    match result {
        Err(TargetError::Query(m)) => m,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn an_indexed_lookup_is_planned_with_its_bound_value() {
    let db = TestDb::with_fixture("explain", FIXTURE).await;
    let spec = db.spec();
    let target = PgTarget::new(2);

    // Values are sent as text and typed by the server, as in a read.
    for value in [SqlValue::Int(42), SqlValue::Text("42".into())] {
        let plan = explain(
            &target,
            &spec,
            with("SELECT id, name FROM people WHERE id = $1", vec![value]),
        )
        .await;
        assert_eq!(plan.format, PlanFormat::Json);
        let top = &plan.plan[0]["Plan"];
        assert_eq!(top["Node Type"], json!("Index Scan"), "{}", plan.plan);
        assert_eq!(top["Index Name"], json!("people_pkey"));
        assert_eq!(plan.estimated_rows, Some(1.0));
        assert_eq!(plan.total_cost, top["Total Cost"].as_f64());
        assert!(
            plan.total_cost.is_some_and(|c| c > 0.0 && c < 100.0),
            "{plan:?}"
        );
    }

    // A whole-table scan costs more and returns every row, as the statistics say.
    let scan = explain(&target, &spec, sql("SELECT * FROM people")).await;
    assert_eq!(scan.plan[0]["Plan"]["Node Type"], json!("Seq Scan"));
    assert_eq!(scan.estimated_rows, Some(5000.0));
    assert!(scan.total_cost > Some(50.0), "{scan:?}");
}

#[tokio::test]
async fn explaining_never_runs_the_statement() {
    let db = TestDb::with_fixture("explain", FIXTURE).await;
    let spec = db.spec();
    // One connection: whatever a statement did to its session, the next one gets it.
    let target = PgTarget::new(1);

    // Ten billion billion rows would never finish; planning them is instant.
    let started = Instant::now();
    let huge = explain(
        &target,
        &spec,
        sql("SELECT count(*) FROM generate_series(1, 10000000000) a,
                    generate_series(1, 10000000000) b, pg_sleep(60) s"),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(huge.total_cost > Some(1e9), "{huge:?}");

    // Dividing by zero fails only once rows are computed.
    let zero = sql("SELECT 1 / (n - n) FROM numbers");
    let read = target
        .read(
            &spec,
            &zero,
            ReadLimits {
                max_rows: 10,
                max_bytes: 10_000,
                timeout: TIMEOUT,
            },
        )
        .await;
    assert!(
        matches!(&read, Err(TargetError::Query(m)) if m.contains("division by zero")),
        "{read:?}"
    );
    explain(&target, &spec, zero).await;

    // Statements that would write are planned, not run.
    for statement in [
        "SELECT nextval('counter')",
        "WITH d AS (DELETE FROM numbers RETURNING n) SELECT n FROM d",
        "INSERT INTO numbers VALUES (1000)",
        "DELETE FROM numbers",
    ] {
        explain(&target, &spec, sql(statement)).await;
    }
    assert_eq!(db.count("numbers").await, 50);
    let counter: i64 = db
        .client()
        .await
        .query_one("SELECT last_value FROM counter", &[])
        .await
        .unwrap()
        .get(0);
    let called: bool = db
        .client()
        .await
        .query_one("SELECT is_called FROM counter", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((counter, called), (1, false), "nextval ran");

    // ANALYZE cannot be slipped in after the options.
    let message = refused(
        target
            .explain(&spec, &sql("ANALYZE SELECT pg_sleep(5)"), TIMEOUT)
            .await,
    );
    assert!(message.contains("syntax error"), "{message}");
}

#[tokio::test]
async fn the_session_stays_read_only() {
    let db = TestDb::with_fixture("explain", FIXTURE).await;
    let spec = db.spec();
    let target = PgTarget::new(1);

    // Planned only, and isolated as a read of the same text would be.
    explain(
        &target,
        &spec,
        sql(
            "SELECT set_config('default_transaction_read_only', 'off', false),
                    set_config('statement_timeout', '0', false)",
        ),
    )
    .await;
    let limits = ReadLimits {
        max_rows: 10,
        max_bytes: 10_000,
        timeout: TIMEOUT,
    };
    let session = target
        .read(
            &spec,
            &sql(
                "SELECT current_setting('default_transaction_read_only') AS ro,
                         current_setting('statement_timeout') AS timeout",
            ),
            limits,
        )
        .await
        .unwrap();
    assert_eq!(session.rows, [[json!("on"), json!("10s")]]);

    // Statements that are not queries cannot be explained.
    for statement in [
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "COMMIT",
        "SELECT 1; DELETE FROM numbers",
    ] {
        let message = refused(target.explain(&spec, &sql(statement), TIMEOUT).await);
        assert!(!message.is_empty(), "{statement}");
    }
    assert_eq!(db.count("numbers").await, 50);
}

#[tokio::test]
async fn a_slow_plan_is_cancelled_at_the_timeout() {
    let db = TestDb::with_fixture("explain", FIXTURE).await;
    let spec = db.spec();
    let target = PgTarget::new(1);
    let started = Instant::now();
    let result = target
        .explain(
            &spec,
            &sql("SELECT * FROM numbers WHERE n = slow_constant()"),
            Duration::from_millis(300),
        )
        .await;
    assert_eq!(result, Err(TargetError::QueryTimeout(300)));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The connection serves the next explain.
    let next = explain(&target, &spec, sql("SELECT n FROM numbers")).await;
    assert_eq!(next.estimated_rows, Some(50.0));
}

#[tokio::test]
async fn errors_carry_the_servers_message() {
    let db = TestDb::with_fixture("explain", FIXTURE).await;
    let spec = db.spec();
    let target = PgTarget::new(1);
    let cases = [
        (sql("SELEC 1"), "syntax error"),
        (sql("SELECT * FROM missing"), "does not exist"),
        (sql("SELECT nope FROM people"), "does not exist"),
        (
            with("SELECT * FROM people WHERE id = $1", Vec::new()),
            "1 parameter(s), but 0 value(s)",
        ),
        (
            with(
                "SELECT * FROM people WHERE id = $1",
                vec![SqlValue::Text("x".into())],
            ),
            "invalid input syntax",
        ),
    ];
    for (statement, expected) in cases {
        let message = refused(target.explain(&spec, &statement, TIMEOUT).await);
        assert!(message.contains(expected), "{}: {message}", statement.sql);
    }

    // Settings that are not stored are explained on a connection of their own.
    let once = ConnectSpec {
        pool_key: None,
        ..spec
    };
    let plan = explain(&target, &once, sql("SELECT n FROM numbers WHERE n < 10")).await;
    assert_eq!(plan.format, PlanFormat::Json);
    assert!(plan.total_cost.is_some());
}
