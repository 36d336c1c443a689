//! `SqliteTarget::explain` on real SQLite files, each test with a file of its own.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use db_configs::{
    ConnectSpec, DbConfigId, Location, PlanFormat, Provider, QueryPlan, ReadLimits, ReadStatement,
    SqlValue, TargetDatabase, TargetError,
};
use rusqlite::Connection;
use serde_json::json;
use target_sqlite::SqliteTarget;

/// A file in the temp directory, removed (with SQLite's side files) when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        Self(std::env::temp_dir().join(format!(
            "sluice-explain-sqlite-{}-{}-{nanos}-{tag}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
        )))
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8 here")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

const FIXTURE: &str = r#"
    CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, doc TEXT);
    CREATE INDEX people_name ON people (name);
    WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000)
        INSERT INTO people SELECT n, 'person ' || n, CASE WHEN n = 3 THEN 'not json' ELSE '{}' END FROM s;
    CREATE TABLE numbers (n INTEGER PRIMARY KEY);
    WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 50)
        INSERT INTO numbers SELECT n FROM s;
"#;

fn fixture() -> TempFile {
    let file = TempFile::new("fixture");
    Connection::open(&file.0)
        .expect("create the fixture")
        .execute_batch(FIXTURE)
        .expect("fill the fixture");
    file
}

fn spec(file: &TempFile) -> ConnectSpec {
    ConnectSpec {
        provider: Provider::Sqlite,
        location: Location::File {
            path: file.path().to_owned(),
        },
        password: None,
        resolved: None,
        connect_timeout_secs: 5,
        pool_key: Some(DbConfigId::new()),
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn with(text: &str, params: Vec<SqlValue>) -> ReadStatement {
    ReadStatement {
        sql: text.to_owned(),
        params,
    }
}

fn sql(text: &str) -> ReadStatement {
    with(text, Vec::new())
}

async fn explain(spec: &ConnectSpec, statement: ReadStatement) -> QueryPlan {
    SqliteTarget
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

fn count(file: &TempFile, table: &str) -> i64 {
    Connection::open(&file.0)
        .expect("open read-write")
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

#[tokio::test]
async fn an_indexed_lookup_is_planned_with_its_bound_value() {
    let file = fixture();
    let spec = spec(&file);

    let by_id = explain(
        &spec,
        with(
            "SELECT id, name FROM people WHERE id = ?",
            vec![SqlValue::Int(42)],
        ),
    )
    .await;
    assert_eq!(by_id.format, PlanFormat::Text);
    assert_eq!(
        by_id.plan,
        json!("SEARCH people USING INTEGER PRIMARY KEY (rowid=?)")
    );
    assert_eq!((by_id.total_cost, by_id.estimated_rows), (None, None));

    let by_name = explain(
        &spec,
        with(
            "SELECT id FROM people WHERE name = ?",
            vec![SqlValue::Text("person 7".into())],
        ),
    )
    .await;
    assert_eq!(
        by_name.plan,
        json!("SEARCH people USING COVERING INDEX people_name (name=?)")
    );

    // Nested steps are indented under the step they belong to.
    let nested = explain(
        &spec,
        sql("SELECT id FROM people WHERE id IN (SELECT n FROM numbers WHERE n > 10) ORDER BY name"),
    )
    .await;
    let text = nested.plan.as_str().expect("text");
    assert!(text.lines().any(|l| l.starts_with("  ")), "{text}");
    assert!(
        text.contains("SCAN numbers") || text.contains("SEARCH numbers"),
        "{text}"
    );
}

#[tokio::test]
async fn explaining_never_runs_the_statement() {
    let file = fixture();
    let spec = spec(&file);
    let limits = ReadLimits {
        max_rows: 100,
        max_bytes: 1 << 20,
        timeout: TIMEOUT,
    };

    // Three hundred million billion rows would never be counted; planning them is instant.
    let started = Instant::now();
    explain(
        &spec,
        sql("SELECT count(*) FROM people a, people b, people c, people d, people e, people f"),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // One row's malformed JSON fails the statement only once rows are read.
    let failing = sql("SELECT json_extract(doc, '$.a') FROM people");
    let read = SqliteTarget.read(&spec, &failing, limits).await;
    assert!(
        matches!(&read, Err(TargetError::Query(m)) if m.contains("malformed JSON")),
        "{read:?}"
    );
    explain(&spec, failing).await;

    // Writes are denied while they are prepared, explained or not.
    let other = TempFile::new("attached");
    for statement in [
        "INSERT INTO numbers VALUES (51)".to_owned(),
        "DELETE FROM numbers".to_owned(),
        "UPDATE people SET name = 'x'".to_owned(),
        "CREATE TABLE t(x)".to_owned(),
        "PRAGMA query_only = OFF".to_owned(),
        format!("ATTACH DATABASE '{}' AS other", other.path()),
    ] {
        let message = refused(SqliteTarget.explain(&spec, &sql(&statement), TIMEOUT).await);
        assert!(message.contains("read-only"), "{statement}: {message}");
    }
    assert_eq!(count(&file, "numbers"), 50);
    assert_eq!(count(&file, "people WHERE name = 'x'"), 0);
    assert!(!other.0.exists(), "ATTACH created a file");
}

#[tokio::test]
async fn errors_carry_sqlites_message() {
    let file = fixture();
    let spec = spec(&file);
    let cases = [
        (sql("SELEC 1"), "syntax error"),
        (sql("SELECT nope FROM numbers"), "no such column: nope"),
        (sql("SELECT * FROM missing"), "no such table: missing"),
        (sql("EXPLAIN SELECT 1"), "syntax error"),
    ];
    for (statement, expected) in cases {
        let message = refused(SqliteTarget.explain(&spec, &statement, TIMEOUT).await);
        assert!(message.contains(expected), "{}: {message}", statement.sql);
    }

    // Settings that are not stored are explained on a handle of their own.
    let once = ConnectSpec {
        pool_key: None,
        ..spec
    };
    let plan = explain(&once, sql("SELECT n FROM numbers WHERE n < 10")).await;
    assert_eq!(
        plan.plan,
        json!("SEARCH numbers USING INTEGER PRIMARY KEY (rowid<?)")
    );
}
