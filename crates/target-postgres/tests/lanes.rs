//! PostgreSQL reads sharing sessions (`lanes.rs`) against a real PostgreSQL: each read's own
//! timeout, isolation of session changes, fast reads never behind slow ones, places held until
//! answered, the cap kept, sessions replaced.

mod common;

use std::time::{Duration, Instant};

use common::*;
use db_configs::{Location, ReadLimits, TargetDatabase, TargetError};
use serde_json::{Value, json};
use target_postgres::PgTarget;

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

#[tokio::test]
async fn fast_reads_go_around_a_session_that_stopped_answering() {
    let db = TestDb::new().await;
    let spec = db.spec();
    let target = PgTarget::new(2);
    let one = sql("SELECT 1 AS one");
    let stuck = sql("SELECT pg_sleep(1.5) AS slept");
    // Both taken for fast: the second turns out not to be, for once.
    target.assume_fast(&spec, &one.sql).unwrap();
    target.assume_fast(&spec, &stuck.sql).unwrap();
    read(&target, &spec, one.clone()).await;
    let slow = {
        let (target, spec) = (target.clone(), spec.clone());
        tokio::spawn(async move { target.read(&spec, &stuck, limits()).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(read(&target, &spec, one.clone()).await.rows, [[json!(1)]]);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1000), "{took:?}");
    slow.await.unwrap().expect("the slow read ends");
}
