//! `PgTarget::read` against a real PostgreSQL: decoding, binding, caps, refused writes,
//! timeouts, a full pool, errors.

mod common;

use std::time::{Duration, Instant};

use common::*;
use db_configs::{ReadLimits, ResultSet, SqlValue, TargetDatabase, TargetError, Truncation};
use serde_json::{Value, json};
use target_postgres::PgTarget;

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
