//! `SqliteTarget::read` on real SQLite files, each test with a file of its own.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use db_configs::{
    ConnectSpec, DbConfigId, Location, Provider, ReadLimits, ReadStatement, ResultSet, SqlValue,
    TargetDatabase, TargetError, Truncation,
};
use rusqlite::Connection;
use serde_json::{Value, json};
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
            "sluice-read-sqlite-{}-{}-{nanos}-{tag}.db",
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
    CREATE TABLE items (
        id INTEGER PRIMARY KEY, flag BOOLEAN, amount DECIMAL(10, 2), ratio REAL, label TEXT,
        doc JSON, data BLOB, day DATE, exact NUMERIC, anything
    );
    INSERT INTO items VALUES
        (1, 1, 12.5, 0.25, 'Ada "the first"', '{"a": [1, 2]}', X'DEADBEEF', '2024-02-29',
         '12.50', 'free'),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (3, 0, 7, 9e999, 'x', 'not json', X'', '2024-03-01', 3, 42);
    CREATE TABLE numbers (n INTEGER PRIMARY KEY);
    WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 50)
        INSERT INTO numbers SELECT n FROM s;
    CREATE TABLE wide (id INTEGER PRIMARY KEY, payload TEXT);
    WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 10)
        INSERT INTO wide SELECT n, printf('%.1000c', 'x') FROM s;
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

fn limits() -> ReadLimits {
    ReadLimits {
        max_rows: 100,
        max_bytes: 1 << 20,
        timeout: Duration::from_secs(10),
    }
}

fn sql(text: &str) -> ReadStatement {
    ReadStatement {
        sql: text.to_owned(),
        params: Vec::new(),
    }
}

async fn read(spec: &ConnectSpec, statement: ReadStatement) -> ResultSet {
    SqliteTarget
        .read(spec, &statement, limits())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", statement.sql))
}

fn count(file: &TempFile, table: &str) -> i64 {
    Connection::open(&file.0)
        .expect("open read-write")
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

#[tokio::test]
async fn every_type_reads_as_json() {
    let file = fixture();
    let spec = spec(&file);
    let result = read(
        &spec,
        sql("SELECT *, typeof(id) AS kind, NULL AS empty FROM items ORDER BY id"),
    )
    .await;
    let types: Vec<(&str, &str)> = result
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.type_name.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("id", "integer"),
            ("flag", "boolean"),
            ("amount", "decimal(10, 2)"),
            ("ratio", "real"),
            ("label", "text"),
            ("doc", "json"),
            ("data", "blob"),
            ("day", "date"),
            ("exact", "numeric"),
            ("anything", "text"),
            ("kind", "text"),
            ("empty", "null"),
        ]
    );
    assert_eq!(
        result.rows[0],
        [
            json!(1),
            json!(true),
            json!(12.5),
            json!(0.25),
            json!("Ada \"the first\""),
            json!({"a": [1, 2]}),
            json!("3q2+7w=="),
            json!("2024-02-29"),
            // SQLite stores numeric text as a number (NUMERIC affinity).
            json!(12.5),
            json!("free"),
            json!("integer"),
            json!(null),
        ]
    );
    assert_eq!(result.rows[1][0], json!(2));
    assert!(
        result.rows[1][1..10].iter().all(Value::is_null),
        "{:?}",
        result.rows[1]
    );
    assert_eq!(
        result.rows[2][..10],
        [
            json!(3),
            json!(false),
            json!(7),
            json!("Infinity"),
            json!("x"),
            json!("not json"),
            json!(""),
            json!("2024-03-01"),
            json!(3),
            json!(42),
        ]
    );
}

#[tokio::test]
async fn every_kind_of_parameter_binds() {
    let file = fixture();
    let spec = spec(&file);
    let result = read(
        &spec,
        ReadStatement {
            sql: "SELECT ? IS NULL, ?, ? + 1, ? * 2, upper(?)".into(),
            params: vec![
                SqlValue::Null,
                SqlValue::Bool(true),
                SqlValue::Int(41),
                SqlValue::Float(1.25),
                SqlValue::Text("quiet 'please'; --".into()),
            ],
        },
    )
    .await;
    assert_eq!(
        result.rows[0],
        [
            json!(1),
            json!(1),
            json!(42),
            json!(2.5),
            json!("QUIET 'PLEASE'; --")
        ]
    );
    // Text compared with an integer column: the column's affinity converts it.
    for id in [SqlValue::Int(1), SqlValue::Text("1".into())] {
        let found = read(
            &spec,
            ReadStatement {
                sql: "SELECT label FROM items WHERE id = ?".into(),
                params: vec![id.clone()],
            },
        )
        .await;
        assert_eq!(found.rows, [[json!("Ada \"the first\"")]], "{id:?}");
    }
}

#[tokio::test]
async fn the_row_cap_cuts_one_past_it_and_not_at_it() {
    let file = fixture();
    let spec = spec(&file);
    let capped = |max_rows| ReadLimits {
        max_rows,
        ..limits()
    };
    let result = SqliteTarget
        .read(
            &spec,
            &sql("SELECT n FROM numbers ORDER BY n LIMIT 11"),
            capped(10),
        )
        .await
        .unwrap();
    assert_eq!(result.rows.len(), 10);
    assert_eq!(result.truncated, Some(Truncation::Rows));

    let exact = SqliteTarget
        .read(
            &spec,
            &sql("SELECT n FROM numbers ORDER BY n LIMIT 10"),
            capped(10),
        )
        .await
        .unwrap();
    assert_eq!(exact.rows.len(), 10);
    assert_eq!(exact.truncated, None);

    let unlimited = SqliteTarget
        .read(&spec, &sql("SELECT n FROM numbers ORDER BY n"), capped(5))
        .await
        .unwrap();
    assert_eq!(unlimited.rows.len(), 5);
    assert_eq!(unlimited.truncated, Some(Truncation::Rows));
}

#[tokio::test]
async fn the_byte_cap_stops_before_it_is_exceeded() {
    let file = fixture();
    let spec = spec(&file);
    let statement = sql("SELECT id, payload FROM wide ORDER BY id");
    let capped = |max_bytes| ReadLimits {
        max_bytes,
        ..limits()
    };
    let result = SqliteTarget
        .read(&spec, &statement, capped(3_500))
        .await
        .unwrap();
    assert_eq!(result.rows.len(), 3, "each row is about 1 KB");
    assert_eq!(result.truncated, Some(Truncation::Bytes));

    let none = SqliteTarget
        .read(&spec, &statement, capped(500))
        .await
        .unwrap();
    assert!(none.rows.is_empty());
    assert_eq!(none.truncated, Some(Truncation::Bytes));

    let all = SqliteTarget
        .read(&spec, &statement, capped(1 << 20))
        .await
        .unwrap();
    assert_eq!(all.rows.len(), 10);
    assert_eq!(all.truncated, None);
}

#[tokio::test]
async fn nothing_but_reading_runs() {
    let file = fixture();
    let spec = spec(&file);
    let copy = TempFile::new("vacuum-into");
    let other = TempFile::new("attached");
    let statements = [
        "INSERT INTO numbers VALUES (51) RETURNING n".to_owned(),
        "DELETE FROM numbers RETURNING n".to_owned(),
        "DELETE FROM numbers".to_owned(),
        "CREATE TABLE t(x)".to_owned(),
        "PRAGMA query_only = OFF".to_owned(),
        "PRAGMA locking_mode = EXCLUSIVE".to_owned(),
        "BEGIN EXCLUSIVE".to_owned(),
        format!("ATTACH DATABASE '{}' AS other", other.path()),
        format!("VACUUM INTO '{}'", copy.path()),
    ];
    // Twice over: what the first pass tried must not have changed the handles.
    for _ in 0..2 {
        for statement in &statements {
            let result = SqliteTarget.read(&spec, &sql(statement), limits()).await;
            assert!(
                matches!(&result, Err(TargetError::Query(m))
                    if m.contains("only a query") || m.contains("read-only")),
                "{statement}: {result:?}"
            );
        }
    }
    assert_eq!(count(&file, "numbers"), 50);
    assert!(!copy.0.exists(), "VACUUM INTO wrote a file");
    assert!(!other.0.exists(), "ATTACH created a file");
}

#[tokio::test]
async fn a_slow_statement_is_interrupted() {
    let file = fixture();
    let spec = spec(&file);
    let short = ReadLimits {
        timeout: Duration::from_millis(300),
        ..limits()
    };
    let endless = sql(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    );
    let started = Instant::now();
    // `read` returns once the worker has stopped: the statement no longer runs.
    let result = SqliteTarget.read(&spec, &endless, short).await;
    assert_eq!(result, Err(TargetError::QueryTimeout(300)));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let next = read(&spec, sql("SELECT count(*) FROM numbers")).await;
    assert_eq!(next.rows, [[json!(50)]]);

    let mut once = spec.clone();
    once.pool_key = None;
    assert_eq!(
        SqliteTarget.read(&once, &endless, short).await,
        Err(TargetError::QueryTimeout(300))
    );
}

#[tokio::test]
async fn errors_carry_sqlites_message() {
    let file = fixture();
    let spec = spec(&file);
    let result = SqliteTarget
        .read(&spec, &sql("SELECT nope FROM numbers"), limits())
        .await;
    assert!(
        matches!(&result, Err(TargetError::Query(m)) if m.contains("no such column: nope")),
        "{result:?}"
    );
    let missing = TempFile::new("missing");
    let mut gone = spec.clone();
    gone.location = Location::File {
        path: missing.path().to_owned(),
    };
    gone.pool_key = Some(DbConfigId::new());
    assert!(matches!(
        SqliteTarget.read(&gone, &sql("SELECT 1"), limits()).await,
        Err(TargetError::NotFound(_))
    ));
    assert!(!missing.0.exists());
}
