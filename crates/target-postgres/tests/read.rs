//! `PgTarget::read` against a real PostgreSQL (`TEST_DATABASE_URL`, a superuser with trust
//! authentication by default): each test makes a database of its own and drops it.

use std::time::{Duration, Instant};

use db_configs::{
    ConnectSpec, DbConfigId, Location, Provider, ReadLimits, ReadStatement, ResultSet,
    ServerEndpoint, SqlValue, SslMode, TargetDatabase, TargetError, Truncation,
};
use serde_json::{Value, json};
use target_postgres::PgTarget;
use tokio_postgres::{Client, Config, NoTls};

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn admin_config() -> Config {
    admin_url()
        .parse()
        .expect("TEST_DATABASE_URL is a postgres:// URL")
}

async fn connect(config: &Config) -> Client {
    let (client, connection) = config.connect(NoTls).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to the test PostgreSQL ({}): {e}",
            admin_url()
        )
    });
    tokio::spawn(connection);
    client
}

const FIXTURE: &str = r#"
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
    CREATE TABLE items (
        id integer PRIMARY KEY, flag boolean, small smallint, big bigint, ratio real,
        precise double precision, price numeric(10, 2), huge numeric, label text,
        code varchar(10), letters char(3), doc json, docb jsonb, uid uuid, day date,
        at time, stamp timestamp, moment timestamptz, bytes bytea, tags text[],
        grid integer[], feeling mood, span interval, addr inet, score positive, pt point
    );
    INSERT INTO items VALUES (
        1, true, -3, 9007199254740993, 0.1, 2.5, 12.50,
        12345678901234567890.123456789, 'Ada "the first"', 'A-1', 'ab',
        '{"a": [1, 2], "b": null}', '{"k": "v"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '2024-02-29', '13:05:07.25', '2024-03-01 12:34:56', '2024-03-01 12:34:56.789+02',
        '\xdeadbeef', ARRAY['x', NULL, 'z'], '{{1,2},{3,4}}', 'happy', '1 day 2 hours',
        '192.168.0.1/24', 7, '(1,2)'
    );
    INSERT INTO items (id) VALUES (2);
    CREATE TABLE numbers (n integer PRIMARY KEY);
    INSERT INTO numbers SELECT generate_series(1, 50);
    CREATE TABLE wide (id integer PRIMARY KEY, payload text);
    INSERT INTO wide SELECT i, repeat('x', 1000) FROM generate_series(1, 10) i;
    CREATE SEQUENCE counter;
"#;

/// A database of its own, with the fixture, dropped at the end.
struct TestDb {
    name: String,
}

impl TestDb {
    async fn new() -> Self {
        let name = format!("sluice_read_{}", uuid::Uuid::now_v7().simple());
        let admin = connect(&admin_config()).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let db = Self { name };
        db.client()
            .await
            .batch_execute(FIXTURE)
            .await
            .expect("load the fixture");
        db
    }

    fn config(&self) -> Config {
        let mut config = admin_config();
        config.dbname(&self.name);
        config
    }

    async fn client(&self) -> Client {
        connect(&self.config()).await
    }

    /// A stored connection to the database (its own pool).
    fn spec(&self) -> ConnectSpec {
        let config = self.config();
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        ConnectSpec {
            provider: Provider::Postgresql,
            location: Location::Server(ServerEndpoint {
                host,
                port: config.get_ports().first().copied().unwrap_or(5432),
                database: self.name.clone(),
                username: config.get_user().unwrap_or("postgres").to_owned(),
                ssl: SslMode::Disable,
            }),
            password: config
                .get_password()
                .map(|p| db_configs::Secret::new(String::from_utf8_lossy(p).into_owned())),
            resolved: None,
            connect_timeout_secs: 5,
            pool_key: Some(DbConfigId::new()),
        }
    }

    async fn count(&self, table: &str) -> i64 {
        self.client()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0)
    }

    /// Statements of this database the server is running now, besides the asker's.
    async fn running(&self, like: &str) -> i64 {
        self.client()
            .await
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = $1 AND state = 'active' AND query LIKE $2
                   AND pid <> pg_backend_pid()",
                &[&self.name, &format!("%{like}%")],
            )
            .await
            .expect("read pg_stat_activity")
            .get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // The test's runtime may be gone: drop the database from a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                let admin = connect(&admin_config()).await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
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

fn with(text: &str, params: Vec<SqlValue>) -> ReadStatement {
    ReadStatement {
        sql: text.to_owned(),
        params,
    }
}

async fn read(target: &PgTarget, spec: &ConnectSpec, statement: ReadStatement) -> ResultSet {
    target
        .read(spec, &statement, limits())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", statement.sql))
}

fn column<'a>(result: &'a ResultSet, row: usize, name: &str) -> &'a Value {
    let i = result
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    &result.rows[row][i]
}

#[tokio::test]
async fn every_type_reads_as_json() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::default();
    let result = read(&target, &spec, sql("SELECT * FROM items ORDER BY id")).await;
    assert_eq!(result.truncated, None);
    assert_eq!(result.rows.len(), 2);

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
            ("small", "smallint"),
            ("big", "bigint"),
            ("ratio", "real"),
            ("precise", "double precision"),
            ("price", "numeric"),
            ("huge", "numeric"),
            ("label", "text"),
            ("code", "character varying"),
            ("letters", "character"),
            ("doc", "json"),
            ("docb", "jsonb"),
            ("uid", "uuid"),
            ("day", "date"),
            ("at", "time without time zone"),
            ("stamp", "timestamp without time zone"),
            ("moment", "timestamp with time zone"),
            ("bytes", "bytea"),
            ("tags", "text[]"),
            ("grid", "integer[]"),
            ("feeling", "mood"),
            ("span", "interval"),
            ("addr", "inet"),
            ("score", "integer"),
            ("pt", "point"),
        ]
    );

    let expected = [
        ("id", json!(1)),
        ("flag", json!(true)),
        ("small", json!(-3)),
        ("big", json!(9_007_199_254_740_993_i64)),
        ("ratio", json!(0.1)),
        ("precise", json!(2.5)),
        ("price", json!(12.5)),
        ("huge", json!("12345678901234567890.123456789")),
        ("label", json!("Ada \"the first\"")),
        ("code", json!("A-1")),
        ("letters", json!("ab ")),
        ("doc", json!({"a": [1, 2], "b": null})),
        ("docb", json!({"k": "v"})),
        ("uid", json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
        ("day", json!("2024-02-29")),
        ("at", json!("13:05:07.25")),
        ("stamp", json!("2024-03-01T12:34:56")),
        ("moment", json!("2024-03-01T10:34:56.789Z")),
        ("bytes", json!("3q2+7w==")),
        ("tags", json!(["x", null, "z"])),
        ("grid", json!([[1, 2], [3, 4]])),
        ("feeling", json!("happy")),
        ("span", json!("P1DT2H")),
        ("addr", json!("192.168.0.1/24")),
        ("score", json!(7)),
        ("pt", json!("<unsupported type point>")),
    ];
    for (name, value) in &expected {
        assert_eq!(column(&result, 0, name), value, "column {name}");
    }
    // The second row is NULL but for its key.
    assert_eq!(result.rows[1][0], json!(2));
    assert!(
        result.rows[1][1..].iter().all(Value::is_null),
        "{:?}",
        result.rows[1]
    );

    let special = read(
        &target,
        &spec,
        sql(
            "SELECT 'NaN'::float8 AS nan, '-Infinity'::float8 AS low, 'NaN'::numeric AS nnan,
                    '-0.000100'::numeric AS tiny, 'infinity'::timestamptz AS never,
                    '0001-01-01 BC'::date AS bc, ARRAY[]::int[] AS empty",
        ),
    )
    .await;
    assert_eq!(
        special.rows[0],
        [
            json!("NaN"),
            json!("-Infinity"),
            json!("NaN"),
            json!(-0.0001),
            json!("infinity"),
            json!("0000-01-01"),
            json!([])
        ]
    );
}

#[tokio::test]
async fn every_kind_of_parameter_binds() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::default();
    let result = read(
        &target,
        &spec,
        with(
            "SELECT $1::text IS NULL AS none, NOT $2::boolean AS flag, $3::bigint + 1 AS next,
                    $4::float8 * 2 AS twice, upper($5) AS shout, $6::numeric + 0 AS exact,
                    $7::date + 1 AS tomorrow",
            vec![
                SqlValue::Null,
                SqlValue::Bool(false),
                SqlValue::Int(i64::MAX - 1),
                SqlValue::Float(1.25),
                SqlValue::Text("quiet 'please'; --".into()),
                SqlValue::Text("12345678901234567890.5".into()),
                SqlValue::Text("2024-02-28".into()),
            ],
        ),
    )
    .await;
    assert_eq!(
        result.rows[0],
        [
            json!(true),
            json!(true),
            json!(i64::MAX),
            json!(2.5),
            json!("QUIET 'PLEASE'; --"),
            json!("12345678901234567890.5"),
            json!("2024-02-29"),
        ]
    );

    // Text compared with an integer column is converted by the server.
    for id in [SqlValue::Int(1), SqlValue::Text("1".into())] {
        let found = read(
            &target,
            &spec,
            with("SELECT label FROM items WHERE id = $1", vec![id.clone()]),
        )
        .await;
        assert_eq!(found.rows, [[json!("Ada \"the first\"")]], "{id:?}");
    }
    let bad = target
        .read(
            &spec,
            &with(
                "SELECT 1 FROM items WHERE id = $1",
                vec![SqlValue::Text("one".into())],
            ),
            limits(),
        )
        .await;
    assert!(
        matches!(&bad, Err(TargetError::Query(m)) if m.contains("invalid input syntax")),
        "{bad:?}"
    );
}

#[tokio::test]
async fn the_row_cap_cuts_one_past_it_and_not_at_it() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::default();
    let capped = |max_rows| ReadLimits {
        max_rows,
        ..limits()
    };
    let query = |text: &str| sql(text);

    let result = target
        .read(
            &spec,
            &query("SELECT n FROM numbers ORDER BY n LIMIT 11"),
            capped(10),
        )
        .await
        .unwrap();
    assert_eq!(result.rows.len(), 10);
    assert_eq!(result.rows[9], [json!(10)]);
    assert_eq!(result.truncated, Some(Truncation::Rows));

    let exact = target
        .read(
            &spec,
            &query("SELECT n FROM numbers ORDER BY n LIMIT 10"),
            capped(10),
        )
        .await
        .unwrap();
    assert_eq!(exact.rows.len(), 10);
    assert_eq!(exact.truncated, None);

    // Without a LIMIT in the SQL, the adapter still stops itself.
    let unlimited = target
        .read(&spec, &query("SELECT n FROM numbers ORDER BY n"), capped(5))
        .await
        .unwrap();
    assert_eq!(unlimited.rows.len(), 5);
    assert_eq!(unlimited.truncated, Some(Truncation::Rows));
}

#[tokio::test]
async fn the_byte_cap_stops_before_it_is_exceeded() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::default();
    let statement = sql("SELECT id, payload FROM wide ORDER BY id");
    let capped = |max_bytes| ReadLimits {
        max_bytes,
        ..limits()
    };

    let result = target.read(&spec, &statement, capped(3_500)).await.unwrap();
    assert_eq!(result.rows.len(), 3, "each row is about 1 KB");
    assert_eq!(result.truncated, Some(Truncation::Bytes));
    let size: usize = result
        .rows
        .iter()
        .map(|r| Value::from(r.clone()).to_string().len())
        .sum();
    assert!(size <= 3_500, "{size}");

    let none = target.read(&spec, &statement, capped(500)).await.unwrap();
    assert!(none.rows.is_empty());
    assert_eq!(none.truncated, Some(Truncation::Bytes));

    let all = target
        .read(&spec, &statement, capped(1 << 20))
        .await
        .unwrap();
    assert_eq!(all.rows.len(), 10);
    assert_eq!(all.truncated, None);
}

#[tokio::test]
async fn the_database_refuses_writes_through_read() {
    let db = TestDb::new().await;
    let spec = db.spec();
    // One connection: whatever a statement did to its session, the next one gets it.
    let target = PgTarget::new(1);
    let refused = |result: Result<ResultSet, TargetError>| match result {
        Err(TargetError::Query(m)) => m,
        other => panic!("not refused: {other:?}"),
    };

    for statement in [
        "WITH d AS (DELETE FROM numbers RETURNING n) SELECT n FROM d",
        "SELECT n FROM numbers FOR UPDATE",
        "SELECT nextval('counter')",
    ] {
        let message = refused(target.read(&spec, &sql(statement), limits()).await);
        assert!(message.contains("read-only"), "{statement}: {message}");
    }

    // A statement that turns the session writable is undone with its transaction.
    read(
        &target,
        &spec,
        sql(
            "SELECT set_config('default_transaction_read_only', 'off', false),
                    set_config('statement_timeout', '0', false)",
        ),
    )
    .await;
    let message = refused(
        target
            .read(
                &spec,
                &sql("WITH d AS (DELETE FROM numbers RETURNING n) SELECT n FROM d"),
                limits(),
            )
            .await,
    );
    assert!(message.contains("read-only"), "{message}");

    // Statements that are not queries do not run at all.
    for statement in [
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "COMMIT",
        "DELETE FROM numbers",
    ] {
        let message = refused(target.read(&spec, &sql(statement), limits()).await);
        assert!(message.contains("only a query"), "{statement}: {message}");
    }
    assert_eq!(db.count("numbers").await, 50);
}

#[tokio::test]
async fn a_slow_statement_is_cancelled_on_the_server() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::new(1);
    let short = ReadLimits {
        timeout: Duration::from_millis(300),
        ..limits()
    };
    let started = Instant::now();
    let result = target.read(&spec, &sql("SELECT pg_sleep(5)"), short).await;
    assert_eq!(result, Err(TargetError::QueryTimeout(300)));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        db.running("pg_sleep").await,
        0,
        "still running on the server"
    );

    // The pool's only connection still serves reads, with the timeout of each.
    let next = target
        .read(&spec, &sql("SELECT count(*) FROM numbers"), limits())
        .await;
    assert_eq!(next.unwrap().rows, [[json!(50)]]);
    let slow_but_allowed = target
        .read(&spec, &sql("SELECT pg_sleep(0.5), 1 AS done"), limits())
        .await
        .unwrap();
    assert_eq!(slow_but_allowed.rows[0][1], json!(1));
}

#[tokio::test]
async fn a_full_pool_is_busy() {
    let db = TestDb::new().await;
    let mut spec = db.spec();
    spec.connect_timeout_secs = 1;
    let target = PgTarget::new(1);
    let holder = {
        let (target, spec) = (target.clone(), spec.clone());
        tokio::spawn(async move {
            target
                .read(&spec, &sql("SELECT pg_sleep(3)"), limits())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let second = target.read(&spec, &sql("SELECT 1"), limits()).await;
    assert_eq!(second, Err(TargetError::Busy));
    assert!(started.elapsed() < Duration::from_secs(3));
    // What `/metrics` shows: the one connection in use, one read that waited and was refused.
    let stats = target.pool_stats();
    assert_eq!(stats.len(), 1);
    let s = stats[0];
    assert_eq!(
        (s.max, s.in_use, s.waiting, s.waits_total, s.busy_total),
        (1, 1, 0, 1, 1)
    );
    holder.await.unwrap().expect("the first read finishes");
    assert_eq!(
        target
            .read(&spec, &sql("SELECT 1"), limits())
            .await
            .unwrap()
            .rows,
        [[json!(1)]]
    );
}

#[tokio::test]
async fn unsaved_settings_read_on_a_connection_of_their_own() {
    let db = TestDb::new().await;
    let mut spec = db.spec();
    spec.pool_key = None;
    let target = PgTarget::default();
    let result = read(&target, &spec, sql("SELECT count(*) AS n FROM numbers")).await;
    assert_eq!(result.rows, [[json!(50)]]);
    let write = target
        .read(
            &spec,
            &sql("WITH d AS (DELETE FROM numbers RETURNING n) SELECT n FROM d"),
            limits(),
        )
        .await;
    assert!(
        matches!(&write, Err(TargetError::Query(m)) if m.contains("read-only")),
        "{write:?}"
    );
    let slow = target
        .read(
            &spec,
            &sql("SELECT pg_sleep(5)"),
            ReadLimits {
                timeout: Duration::from_millis(300),
                ..limits()
            },
        )
        .await;
    assert_eq!(slow, Err(TargetError::QueryTimeout(300)));
    assert_eq!(db.count("numbers").await, 50);
}

#[tokio::test]
async fn errors_carry_the_servers_message() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::default();
    let result = target
        .read(&spec, &sql("SELECT nope FROM numbers"), limits())
        .await;
    assert_eq!(
        result,
        Err(TargetError::Query("column \"nope\" does not exist".into()))
    );
    let missing = target
        .read(&spec, &sql("SELECT $1::int AS x"), limits())
        .await;
    assert_eq!(
        missing,
        Err(TargetError::Query(
            "the statement has 1 parameter(s), but 0 value(s) were given".into()
        ))
    );
    // The connection is still good.
    assert_eq!(
        read(&target, &spec, sql("SELECT 1 AS one")).await.rows,
        [[json!(1)]]
    );
}

/// Sessions of the database that Sluice holds open.
async fn sessions(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = $1 AND application_name = 'sluice'",
            &[&db.name],
        )
        .await
        .expect("read pg_stat_activity")
        .get(0)
}

fn within(ms: u64) -> ReadLimits {
    ReadLimits {
        timeout: Duration::from_millis(ms),
        ..limits()
    }
}

#[tokio::test]
async fn reads_sharing_one_session_each_run_under_their_own_time_limit() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::new(4);
    let setting = sql("SELECT current_setting('statement_timeout') AS t");
    // Only a statement known to be fast is sent behind others.
    target.assume_fast(&spec, &setting.sql).unwrap();
    read(&target, &spec, setting.clone()).await;
    let reads = [4000, 1000, 3000, 1000].map(|ms| target.read(&spec, &setting, within(ms)));
    let results = futures_util::future::join_all(reads).await;
    let seen: Vec<Value> = results
        .into_iter()
        .map(|r| r.expect("a read").rows[0][0].clone())
        .collect();
    assert_eq!(seen, [json!("4s"), json!("1s"), json!("3s"), json!("1s")]);
    // The four were in flight together on one session of the four the pool may open.
    assert_eq!(sessions(&db).await, 1);
    let s = target.pool_stats()[0];
    assert_eq!((s.max, s.waits_total, s.busy_total), (4, 0, 0));

    // A statement past its own limit is stopped by the server; its neighbours, sent before
    // and after it on the same session, keep theirs.
    let sleep = sql("SELECT pg_sleep(0.5) AS slept");
    target.assume_fast(&spec, &sleep.sql).unwrap();
    let mixed = futures_util::future::join3(
        target.read(&spec, &setting, within(5000)),
        target.read(&spec, &sleep, within(50)),
        target.read(&spec, &setting, within(2000)),
    )
    .await;
    assert_eq!(mixed.0.unwrap().rows, [[json!("5s")]]);
    assert_eq!(mixed.1, Err(TargetError::QueryTimeout(50)));
    assert_eq!(mixed.2.unwrap().rows, [[json!("2s")]]);
    assert_eq!(sessions(&db).await, 1);
}

#[tokio::test]
async fn a_statement_that_changes_its_session_does_not_reach_the_reads_beside_it() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::new(1);
    let app = sql("SELECT current_setting('application_name') AS app");
    let change = sql("SELECT set_config('application_name', 'changed', false) AS app");
    target.assume_fast(&spec, &app.sql).unwrap();
    // Even taken for fast, it runs alone, in a transaction rolled back.
    target.assume_fast(&spec, &change.sql).unwrap();
    for _ in 0..5 {
        let (a, b, c, d) = futures_util::future::join4(
            target.read(&spec, &app, limits()),
            target.read(&spec, &change, limits()),
            target.read(&spec, &app, limits()),
            target.read(&spec, &app, limits()),
        )
        .await;
        assert_eq!(b.unwrap().rows, [[json!("changed")]]);
        for seen in [a, c, d] {
            assert_eq!(seen.unwrap().rows, [[json!("sluice")]]);
        }
    }
}

#[tokio::test]
async fn a_fast_read_is_not_sent_behind_a_slow_one() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::new(2);
    let one = sql("SELECT 1 AS one");
    target.assume_fast(&spec, &one.sql).unwrap();
    read(&target, &spec, one.clone()).await;
    let slow = {
        let (target, spec) = (target.clone(), spec.clone());
        tokio::spawn(async move {
            target
                .read(&spec, &sql("SELECT pg_sleep(2) AS slept"), limits())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(read(&target, &spec, one.clone()).await.rows, [[json!(1)]]);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(
        db.running("pg_sleep(2)").await,
        1,
        "the slow one still runs"
    );
    slow.await.unwrap().expect("the slow read ends");
    assert_eq!(sessions(&db).await, 2);
}

#[tokio::test]
async fn a_read_given_up_keeps_its_session_until_the_server_has_answered_it() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::new(1);
    let given_up = tokio::time::timeout(
        Duration::from_millis(300),
        target.read(&spec, &sql("SELECT pg_sleep(1.5) AS slept"), limits()),
    )
    .await;
    assert!(given_up.is_err(), "the caller stopped waiting");
    // The statement still runs: the next read waits for it instead of being sent behind it
    // as if the session were free.
    let next = target
        .read(&spec, &sql("SELECT 2 AS two"), limits())
        .await
        .expect("served once the first is answered");
    assert_eq!(next.rows, [[json!(2)]]);
    let s = target.pool_stats()[0];
    assert_eq!((s.waits_total, s.busy_total), (1, 0));
}

#[tokio::test]
async fn a_caller_that_gives_up_while_a_session_opens_does_not_use_up_the_pool() {
    // A server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            sockets.push(socket);
        }
    });
    let db = TestDb::new().await;
    let mut spec = db.spec();
    if let Location::Server(endpoint) = &mut spec.location {
        endpoint.host = "127.0.0.1".into();
        endpoint.port = port;
    }
    spec.connect_timeout_secs = 30;
    let target = PgTarget::new(1);
    for _ in 0..3 {
        let attempt = tokio::time::timeout(
            Duration::from_millis(200),
            target.read(&spec, &sql("SELECT 1"), limits()),
        )
        .await;
        assert!(attempt.is_err(), "still opening when the caller gave up");
    }
    // Each attempt opened a session of its own: none was left counted against the one the
    // pool may hold (it would have waited for it).
    let s = target.pool_stats()[0];
    assert_eq!((s.in_use, s.waiting, s.waits_total), (0, 0, 0));
    held.abort();
}
#[tokio::test]
async fn a_session_the_server_ended_is_replaced_without_failing_a_read() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::new(4);
    let one = sql("SELECT 1 AS one");
    read(&target, &spec, one.clone()).await;
    let ended: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND application_name = 'sluice') t",
            &[&db.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ended, 1);
    while sessions(&db).await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(read(&target, &spec, one).await.rows, [[json!(1)]]);
}

#[tokio::test]
async fn a_read_that_needs_a_session_to_itself_is_not_starved_by_fast_ones() {
    let db = TestDb::new().await;
    let mut spec = db.spec();
    spec.connect_timeout_secs = 2;
    let target = PgTarget::new(1);
    let one = sql("SELECT 1 AS one");
    target.assume_fast(&spec, &one.sql).unwrap();
    read(&target, &spec, one.clone()).await;
    // Four callers keep the one session busy with fast reads for three seconds.
    let until = Instant::now() + Duration::from_secs(3);
    let busy: Vec<_> = (0..4)
        .map(|_| {
            let (target, spec, one) = (target.clone(), spec.clone(), one.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    target
                        .read(&spec, &one, limits())
                        .await
                        .expect("a fast read");
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let alone = target
        .read(&spec, &sql("SELECT 2 AS two"), limits())
        .await
        .expect("the session drains for it");
    assert_eq!(alone.rows, [[json!(2)]]);
    assert!(started.elapsed() < Duration::from_secs(2));
    for task in busy {
        task.await.unwrap();
    }
}
