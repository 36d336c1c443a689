//! `MySqlTarget::explain` against a real MariaDB or MySQL (`TEST_MYSQL_URL`, an administrator,
//! `mysql://root@127.0.0.1:3306` by default): each test makes a database of its own and
//! drops it.

use std::time::{Duration, Instant};

use db_configs::{
    ConnectSpec, DbConfigId, Location, PlanFormat, Provider, QueryPlan, ReadLimits, ReadStatement,
    Secret, ServerEndpoint, SqlValue, SslMode, TargetDatabase, TargetError,
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
    "CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, age INT, KEY people_name (name))",
    "INSERT INTO people WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000) SELECT n, CONCAT('person ', n), n % 90 FROM s",
    "ANALYZE TABLE people",
    "CREATE TABLE numbers (n INT PRIMARY KEY)",
    "INSERT INTO numbers WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 50) SELECT n FROM s",
    "ANALYZE TABLE numbers",
    // Deterministic, so the optimiser may call it while it plans (MariaDB does).
    "CREATE FUNCTION slow_constant() RETURNS INT DETERMINISTIC NO SQL RETURN SLEEP(5) + 1",
];

/// A database of its own, with the fixture, dropped at the end.
struct TestDb {
    name: String,
    mariadb: bool,
}

impl TestDb {
    async fn new() -> Self {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("sluice_explain_{}", &id[id.len() - 20..]);
        let mut c = admin().await;
        c.query_drop(format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let version: String = c.query_first("SELECT VERSION()").await.unwrap().unwrap();
        c.query_drop(format!("USE {name}")).await.unwrap();
        for sql in FIXTURE {
            // `ANALYZE TABLE` answers with rows.
            let _: Vec<mysql_async::Row> = c.query(sql).await.expect("load the fixture");
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

async fn explain(target: &MySqlTarget, spec: &ConnectSpec, statement: ReadStatement) -> QueryPlan {
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

/// The first table of the plan's join (MySQL: `query_block.table`; MariaDB: in
/// `nested_loop`).
fn first_table(plan: &QueryPlan) -> &Value {
    let block = &plan.plan["query_block"];
    match block.get("nested_loop") {
        Some(tables) => &tables[0]["table"],
        None => &block["table"],
    }
}

/// The cost the server put in the plan, if any (MySQL and MariaDB 11 do, MariaDB 10 not).
fn stated_cost(plan: &QueryPlan) -> Option<f64> {
    let block = &plan.plan["query_block"];
    match &block["cost_info"]["query_cost"] {
        Value::String(s) => s.parse().ok(),
        _ => block["cost"].as_f64(),
    }
}

#[tokio::test]
async fn an_indexed_lookup_is_planned_with_its_bound_value() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = MySqlTarget::new(2);

    for value in [SqlValue::Int(42), SqlValue::Text("42".into())] {
        let plan = explain(
            &target,
            &spec,
            with("SELECT id, name FROM people WHERE id = ?", vec![value]),
        )
        .await;
        assert_eq!(plan.format, PlanFormat::Json);
        let table = first_table(&plan);
        assert_eq!(table["access_type"], json!("const"), "{}", plan.plan);
        assert_eq!(table["key"], json!("PRIMARY"));
        assert_eq!(plan.estimated_rows, Some(1.0));
        assert_eq!(plan.total_cost, stated_cost(&plan));
    }

    let by_name = explain(
        &target,
        &spec,
        with(
            "SELECT id FROM people WHERE name = ?",
            vec![SqlValue::Text("person 7".into())],
        ),
    )
    .await;
    assert_eq!(
        first_table(&by_name)["key"],
        json!("people_name"),
        "{}",
        by_name.plan
    );
    assert_eq!(by_name.estimated_rows, Some(1.0));

    // A whole-table scan reads every row, as the statistics say.
    let scan = explain(&target, &spec, sql("SELECT * FROM people")).await;
    assert_eq!(first_table(&scan)["access_type"], json!("ALL"));
    let rows = scan.estimated_rows.expect("rows of a scan");
    assert!((500.0..=2000.0).contains(&rows), "{scan:?}");
    if !db.mariadb {
        assert!(scan.total_cost.is_some(), "MySQL states its cost");
    }
}

#[tokio::test]
async fn explaining_never_runs_the_statement() {
    let db = TestDb::new().await;
    let spec = db.spec();
    // One connection: whatever a statement did to its session, the next one gets it.
    let target = MySqlTarget::new(1);
    let limits = ReadLimits {
        max_rows: 100,
        max_bytes: 1 << 20,
        timeout: TIMEOUT,
    };

    // A second per row of a million rows would never finish; planning them is instant.
    let started = Instant::now();
    let huge = explain(
        &target,
        &spec,
        with(
            "SELECT SLEEP(1) FROM people a, people b WHERE a.age < ?",
            vec![SqlValue::Int(100)],
        ),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(huge.estimated_rows > Some(100_000.0), "{huge:?}");

    // A correlated subquery that returns more than one row fails only once rows are read.
    let failing = sql("SELECT (SELECT n FROM numbers WHERE n >= p.id) AS n FROM people p");
    let read = target.read(&spec, &failing, limits).await;
    assert!(
        matches!(&read, Err(TargetError::Query(m)) if m.contains("more than 1 row")),
        "{read:?}"
    );
    explain(&target, &spec, failing).await;

    // An assignment is not made.
    explain(&target, &spec, sql("SELECT @planned := 5 AS x")).await;
    let variable = target
        .read(&spec, &sql("SELECT @planned AS x"), limits)
        .await
        .unwrap();
    assert_eq!(variable.rows, [[Value::Null]]);

    // Writes are refused by the read-only session, even to be explained.
    for statement in ["INSERT INTO numbers VALUES (1000)", "DELETE FROM numbers"] {
        let message = refused(target.explain(&spec, &sql(statement), TIMEOUT).await);
        assert!(message.contains("read-only"), "{statement}: {message}");
    }
    assert_eq!(db.count("numbers").await, 50);

    // ANALYZE cannot be slipped in after FORMAT.
    let message = refused(
        target
            .explain(&spec, &sql("ANALYZE SELECT SLEEP(5)"), TIMEOUT)
            .await,
    );
    assert!(message.contains("syntax"), "{message}");

    // The session is still read-only.
    let variable = if db.mariadb {
        "@@tx_read_only"
    } else {
        "@@transaction_read_only"
    };
    let session = target
        .read(&spec, &sql(&format!("SELECT {variable} AS ro")), limits)
        .await
        .unwrap();
    assert_eq!(session.rows, [[json!(1)]]);
}

#[tokio::test]
async fn a_slow_plan_is_stopped_at_the_timeout() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = MySqlTarget::new(1);
    let started = Instant::now();
    let result = target
        .explain(
            &spec,
            &sql("SELECT * FROM numbers WHERE n = slow_constant()"),
            Duration::from_millis(300),
        )
        .await;
    let elapsed = started.elapsed();
    if db.mariadb {
        // MariaDB calls the deterministic function while it optimises.
        assert_eq!(result, Err(TargetError::QueryTimeout(300)));
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    } else {
        assert!(
            result.is_ok() || result == Err(TargetError::QueryTimeout(300)),
            "{result:?}"
        );
    }

    // The pool serves the next explain.
    let next = explain(&target, &spec, sql("SELECT n FROM numbers")).await;
    assert_eq!(next.estimated_rows, Some(50.0));
}

#[tokio::test]
async fn errors_carry_the_servers_message() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = MySqlTarget::new(1);
    let cases = [
        (sql("SELEC 1"), "syntax"),
        (sql("SELECT * FROM missing"), "doesn't exist"),
        (sql("SELECT nope FROM people"), "Unknown column"),
        (
            with("SELECT * FROM people WHERE id = ?", Vec::new()),
            "1 parameter(s), but 0 value(s)",
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
    assert!(plan.estimated_rows.is_some(), "{plan:?}");
}
