//! `MySqlTarget::read` against a real MariaDB or MySQL (`TEST_MYSQL_URL`, an administrator,
//! `mysql://root@127.0.0.1:3306` by default): each test makes a database of its own and
//! drops it.

use std::time::{Duration, Instant};

use db_configs::{
    ConnectSpec, DbConfigId, Location, Provider, ReadLimits, ReadStatement, ResultSet, Secret,
    ServerEndpoint, SqlValue, SslMode, TargetDatabase, TargetError, Truncation,
};
use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, Opts};
use serde_json::{Value, json};
use target_mysql::MySqlTarget;

fn admin_opts() -> Opts {
    let url = std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    Opts::from_url(&url).expect("TEST_MYSQL_URL is a mysql:// URL")
}

async fn admin() -> Conn {
    Conn::new(admin_opts())
        .await
        .expect("cannot connect to the test MariaDB/MySQL at TEST_MYSQL_URL")
}

const FIXTURE: [&str; 7] = [
    "CREATE TABLE items (
        id INT PRIMARY KEY, flag BOOLEAN, small SMALLINT, big BIGINT UNSIGNED, ratio FLOAT,
        precise DOUBLE, price DECIMAL(10, 2), huge DECIMAL(40, 9), label VARCHAR(50),
        letters CHAR(3), note TEXT, doc JSON, raw VARBINARY(8), data BLOB, day DATE,
        at TIME(3), stamp DATETIME(6), moment TIMESTAMP NULL, feeling ENUM('sad', 'happy'),
        bits BIT(1), born YEAR
    )",
    "INSERT INTO items VALUES (
        1, TRUE, -3, 18446744073709551615, 0.1, 2.5, 12.50,
        12345678901234567890.123456789, 'Ada \"the first\"', 'ab', 'long text', '{\"a\": [1, 2]}',
        X'DEADBEEF', X'00FF', '2024-02-29', '-26:03:04.5', '2024-03-01 12:34:56.789',
        '2024-03-01 10:34:56', 'happy', b'1', 1999
    )",
    "INSERT INTO items (id) VALUES (2)",
    "CREATE TABLE numbers (n INT PRIMARY KEY)",
    "INSERT INTO numbers WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 50) SELECT n FROM s",
    "CREATE TABLE wide (id INT PRIMARY KEY, payload TEXT)",
    "INSERT INTO wide WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 10) SELECT n, REPEAT('x', 1000) FROM s",
];

/// A database of its own, with the fixture, dropped at the end.
struct TestDb {
    name: String,
    mariadb: bool,
}

impl TestDb {
    async fn new() -> Self {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("sluice_read_{}", &id[id.len() - 20..]);
        let mut c = admin().await;
        c.query_drop(format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let version: String = c.query_first("SELECT VERSION()").await.unwrap().unwrap();
        c.query_drop(format!("USE {name}")).await.unwrap();
        for sql in FIXTURE {
            c.query_drop(sql).await.expect("load the fixture");
        }
        let _ = c.disconnect().await;
        Self {
            name,
            mariadb: version.to_ascii_lowercase().contains("mariadb"),
        }
    }

    /// A stored connection to the database (its own pool).
    fn spec(&self) -> ConnectSpec {
        let opts = admin_opts();
        ConnectSpec {
            provider: if self.mariadb {
                Provider::Mariadb
            } else {
                Provider::Mysql
            },
            location: Location::Server(ServerEndpoint {
                host: opts.ip_or_hostname().to_owned(),
                port: opts.tcp_port(),
                database: self.name.clone(),
                username: opts.user().unwrap_or("root").to_owned(),
                ssl: SslMode::Disable,
            }),
            password: opts.pass().map(|p| Secret::new(p.to_owned())),
            resolved: None,
            connect_timeout_secs: 5,
            pool_key: Some(DbConfigId::new()),
        }
    }

    async fn count(&self, table: &str) -> i64 {
        let mut c = admin().await;
        let n: i64 = c
            .query_first(format!("SELECT COUNT(*) FROM {}.{table}", self.name))
            .await
            .unwrap()
            .unwrap();
        let _ = c.disconnect().await;
        n
    }

    /// Statements of this database the server is running now, besides the asker's.
    async fn running(&self, like: &str) -> i64 {
        let mut c = admin().await;
        let n: i64 = c
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST
                 WHERE DB = ? AND COMMAND <> 'Sleep' AND INFO LIKE ? AND ID <> CONNECTION_ID()",
                (self.name.as_str(), format!("%{like}%")),
            )
            .await
            .unwrap()
            .unwrap();
        let _ = c.disconnect().await;
        n
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
                let mut c = admin().await;
                let _ = c
                    .query_drop(format!("DROP DATABASE IF EXISTS {name}"))
                    .await;
                let _ = c.disconnect().await;
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

async fn read(target: &MySqlTarget, spec: &ConnectSpec, statement: ReadStatement) -> ResultSet {
    target
        .read(spec, &statement, limits())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", statement.sql))
}

#[tokio::test]
async fn every_type_reads_as_json() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = MySqlTarget::default();
    let result = read(&target, &spec, sql("SELECT * FROM items ORDER BY id")).await;
    assert_eq!(result.truncated, None);
    assert_eq!(result.rows.len(), 2);

    let json_type = if db.mariadb { "text" } else { "json" };
    let types: Vec<(&str, &str)> = result
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.type_name.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("id", "int"),
            ("flag", "tinyint(1)"),
            ("small", "smallint"),
            ("big", "bigint unsigned"),
            ("ratio", "float"),
            ("precise", "double"),
            ("price", "decimal"),
            ("huge", "decimal"),
            ("label", "varchar"),
            ("letters", "char"),
            ("note", "text"),
            ("doc", json_type),
            ("raw", "varbinary"),
            ("data", "blob"),
            ("day", "date"),
            ("at", "time"),
            ("stamp", "datetime"),
            ("moment", "timestamp"),
            ("feeling", "enum"),
            ("bits", "bit"),
            ("born", "year"),
        ]
    );
    // MariaDB's JSON is LONGTEXT: it reads as the text stored.
    let doc = if db.mariadb {
        json!("{\"a\": [1, 2]}")
    } else {
        json!({"a": [1, 2]})
    };
    assert_eq!(
        result.rows[0],
        [
            json!(1),
            json!(true),
            json!(-3),
            json!(u64::MAX),
            json!(0.1),
            json!(2.5),
            json!(12.5),
            json!("12345678901234567890.123456789"),
            json!("Ada \"the first\""),
            json!("ab"),
            json!("long text"),
            doc,
            json!("3q2+7w=="),
            json!("AP8="),
            json!("2024-02-29"),
            json!("-26:03:04.5"),
            json!("2024-03-01T12:34:56.789"),
            json!("2024-03-01T10:34:56Z"),
            json!("happy"),
            json!(true),
            json!(1999),
        ]
    );
    assert_eq!(result.rows[1][0], json!(2));
    assert!(
        result.rows[1][1..].iter().all(Value::is_null),
        "{:?}",
        result.rows[1]
    );
}

#[tokio::test]
async fn every_kind_of_parameter_binds() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = MySqlTarget::default();
    let result = read(
        &target,
        &spec,
        with(
            "SELECT ? IS NULL AS none, ? AS flag, ? + 1 AS next, ? * 2 AS twice,
                    UPPER(?) AS shout, CAST(? AS DECIMAL(30, 2)) AS exact",
            vec![
                SqlValue::Null,
                SqlValue::Bool(true),
                SqlValue::Int(41),
                SqlValue::Float(1.25),
                SqlValue::Text("quiet 'please'; --".into()),
                SqlValue::Text("12345678901234567890.5".into()),
            ],
        ),
    )
    .await;
    assert_eq!(
        result.rows[0],
        [
            json!(1),
            json!(1),
            json!(42),
            json!(2.5),
            json!("QUIET 'PLEASE'; --"),
            json!("12345678901234567890.50"),
        ]
    );

    // Text compared with an integer column is converted by the server.
    for id in [SqlValue::Int(1), SqlValue::Text("1".into())] {
        let found = read(
            &target,
            &spec,
            with("SELECT label FROM items WHERE id = ?", vec![id.clone()]),
        )
        .await;
        assert_eq!(found.rows, [[json!("Ada \"the first\"")]], "{id:?}");
    }
}

#[tokio::test]
async fn the_row_cap_cuts_one_past_it_and_not_at_it() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = MySqlTarget::default();
    let capped = |max_rows| ReadLimits {
        max_rows,
        ..limits()
    };

    let result = target
        .read(
            &spec,
            &sql("SELECT n FROM numbers ORDER BY n LIMIT 11"),
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
            &sql("SELECT n FROM numbers ORDER BY n LIMIT 10"),
            capped(10),
        )
        .await
        .unwrap();
    assert_eq!(exact.rows.len(), 10);
    assert_eq!(exact.truncated, None);

    // Without a LIMIT in the SQL, the adapter still stops itself, and the connection is
    // ready for the next statement.
    let unlimited = target
        .read(&spec, &sql("SELECT n FROM numbers ORDER BY n"), capped(5))
        .await
        .unwrap();
    assert_eq!(unlimited.rows.len(), 5);
    assert_eq!(unlimited.truncated, Some(Truncation::Rows));
    let next = read(&target, &spec, sql("SELECT COUNT(*) FROM numbers")).await;
    assert_eq!(next.rows, [[json!(50)]]);
}

#[tokio::test]
async fn the_byte_cap_stops_before_it_is_exceeded() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = MySqlTarget::default();
    let statement = sql("SELECT id, payload FROM wide ORDER BY id");
    let capped = |max_bytes| ReadLimits {
        max_bytes,
        ..limits()
    };

    let result = target.read(&spec, &statement, capped(3_500)).await.unwrap();
    assert_eq!(result.rows.len(), 3, "each row is about 1 KB");
    assert_eq!(result.truncated, Some(Truncation::Bytes));

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
    let target = MySqlTarget::new(1);
    let refused = |result: Result<ResultSet, TargetError>| match result {
        Err(TargetError::Query(m)) => m,
        other => panic!("not refused: {other:?}"),
    };

    // A statement that is not a query does not run at all, so the session stays read-only...
    let message = refused(
        target
            .read(&spec, &sql("SET SESSION TRANSACTION READ WRITE"), limits())
            .await,
    );
    assert!(message.contains("only a query"), "{message}");
    // ...and writes are refused, by that check or by the session (MariaDB refuses to even
    // prepare them).
    let outfile = format!(
        "SELECT n FROM numbers INTO OUTFILE '/tmp/{}.txt'",
        uuid::Uuid::now_v7().simple()
    );
    for statement in [
        "INSERT INTO numbers VALUES (51)",
        "DELETE FROM numbers",
        "SELECT n FROM numbers LIMIT 1 INTO @kept",
        &outfile,
    ] {
        let message = refused(target.read(&spec, &sql(statement), limits()).await);
        assert!(
            message.contains("only a query") || message.contains("read-only"),
            "{statement}: {message}"
        );
    }
    // Writes that return rows are refused by the read-only session.
    if db.mariadb {
        for statement in [
            "DELETE FROM numbers RETURNING n",
            "INSERT INTO numbers VALUES (51) RETURNING n",
        ] {
            let message = refused(target.read(&spec, &sql(statement), limits()).await);
            assert!(message.contains("read-only"), "{statement}: {message}");
        }
    }
    assert_eq!(db.count("numbers").await, 50);
}

#[tokio::test]
async fn a_slow_statement_is_stopped_on_the_server() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = MySqlTarget::new(1);
    let short = ReadLimits {
        timeout: Duration::from_millis(300),
        ..limits()
    };
    let started = Instant::now();
    // A join too big to finish: SLEEP() on MySQL returns early rather than failing.
    let result = target
        .read(
            &spec,
            &sql("SELECT COUNT(*) AS slow FROM numbers a, numbers b, numbers c, numbers d, numbers e, numbers f"),
            short,
        )
        .await;
    assert_eq!(result, Err(TargetError::QueryTimeout(300)));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        db.running("AS slow").await,
        0,
        "still running on the server"
    );

    // The pool's only connection still serves reads, with the timeout of each.
    let next = read(&target, &spec, sql("SELECT COUNT(*) FROM numbers")).await;
    assert_eq!(next.rows, [[json!(50)]]);
    let allowed = read(&target, &spec, sql("SELECT SLEEP(0.5) AS pause, 1 AS done")).await;
    assert_eq!(allowed.rows[0], [json!(0), json!(1)]);
}

#[tokio::test]
async fn a_full_pool_is_busy() {
    let db = TestDb::new().await;
    let mut spec = db.spec();
    spec.connect_timeout_secs = 1;
    let target = MySqlTarget::new(1);
    let holder = {
        let (target, spec) = (target.clone(), spec.clone());
        tokio::spawn(async move { target.read(&spec, &sql("SELECT SLEEP(3)"), limits()).await })
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
    let target = MySqlTarget::default();
    let result = read(&target, &spec, sql("SELECT COUNT(*) AS n FROM numbers")).await;
    assert_eq!(result.rows, [[json!(50)]]);
    if db.mariadb {
        let write = target
            .read(&spec, &sql("DELETE FROM numbers RETURNING n"), limits())
            .await;
        assert!(
            matches!(&write, Err(TargetError::Query(m)) if m.contains("read-only")),
            "{write:?}"
        );
    }
    assert_eq!(db.count("numbers").await, 50);
}

#[tokio::test]
async fn errors_carry_the_servers_message() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = MySqlTarget::default();
    let result = target
        .read(&spec, &sql("SELECT nope FROM numbers"), limits())
        .await;
    assert!(
        matches!(&result, Err(TargetError::Query(m)) if m.contains("nope")),
        "{result:?}"
    );
    let missing = target.read(&spec, &sql("SELECT ? AS x"), limits()).await;
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
