//! The audit store on its own, as each server instance opens it: several instances appending
//! to one chain, retried batches, counts kept equal to the stored events, and a table whose
//! shape no longer fits.

use crate::helpers::TestDb;

pub(crate) async fn connect(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

/// `audit_counts` as a grouping of the stored events gives it, sorted.
pub(crate) async fn counts_and_recount(url: &str) -> (Vec<String>, Vec<String>) {
    let sql = connect(url).await;
    let rows = |q: &'static str| {
        let sql = &sql;
        async move {
            sql.query(q, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<String>>()
        }
    };
    (
        rows(
            "SELECT concat_ws(' ', minute, key_id, tool_name, action, outcome, events) \
              FROM audit_counts WHERE events <> 0 ORDER BY 1",
        )
        .await,
        rows(
            "SELECT concat_ws(' ', date_trunc('minute', at, 'UTC'), key_id, tool_name, \
                     action, outcome, count(*)) \
              FROM audit_events GROUP BY date_trunc('minute', at, 'UTC'), key_id, tool_name, \
                     action, outcome ORDER BY 1",
        )
        .await,
    )
}

/// An audit store on `db` of its own, as one instance of the server opens it.
pub(crate) fn audit_store(db: &TestDb) -> store_postgres::PgAuditStore {
    let settings = server::config::Settings {
        database_url: db.url.clone(),
        ..server::config::Settings::default()
    };
    store_postgres::PgAuditStore::new(&server::startup::open_store(&settings).unwrap())
}

/// Two instances append to one chain at once (each batch takes the chain's lock and reads
/// the last hash under it): the chain stays unbroken and nothing is written twice.
#[tokio::test]
async fn two_instances_appending_at_once_keep_one_unbroken_chain() {
    use audit::{ActorType, AuditEvent, AuditStore as _, Outcome};
    let db = TestDb::new().await;
    let stores: Vec<store_postgres::PgAuditStore> = (0..2).map(|_| audit_store(&db)).collect();
    let (batches, size) = (30, 20);
    let writers = stores.iter().enumerate().map(|(w, store)| async move {
        for b in 0..batches {
            let events: Vec<AuditEvent> = (0..size)
                .map(|i| {
                    AuditEvent::new(
                        ActorType::System,
                        format!("w{w}.b{b}.e{i}"),
                        Outcome::Success,
                    )
                })
                .collect();
            // Every tenth batch half stored, then the whole batch again below.
            let stored = if b % 10 == 0 {
                events.len() / 2
            } else {
                events.len()
            };
            store.append(&events[..stored]).await.unwrap();
            // After a failed append (here a NUL, which PostgreSQL refuses in text), a batch is
            // retried: the events whose commit went through but was not acknowledged are not
            // stored again, the others are.
            if b % 10 == 0 {
                let refused = AuditEvent::new(ActorType::System, "nul\0", Outcome::Success);
                // Refused as data (not as an outage): the writer then leaves that event out
                // instead of retrying the batch for ever.
                let refusal = store.append(&[refused]).await;
                assert!(
                    matches!(refusal, Err(audit::AuditError::Rejected(_))),
                    "{refusal:?}"
                );
                store.append(&events).await.unwrap();
            }
        }
    });
    futures_util::future::join_all(writers).await;
    let verified = stores[0].verify().await.unwrap();
    assert!(verified.ok, "{verified:?}");
    assert_eq!(verified.checked, 2 * batches * size);
    // Every event counted once, by minute, key, tool, action and outcome.
    let (counts, recount) = counts_and_recount(&db.url).await;
    assert_eq!(counts, recount);
}

/// A table whose columns no longer fit this binary's rows (a migration, an older instance)
/// is an outage the writer waits out, never a reason to leave events out of the log.
#[tokio::test]
async fn a_table_that_no_longer_fits_the_rows_is_an_outage_not_a_refusal() {
    use audit::{ActorType, AuditEvent, AuditStore as _, Outcome};
    let db = TestDb::new().await;
    let store = audit_store(&db);
    let mut event = AuditEvent::new(ActorType::System, "test.shape", Outcome::Success);
    event.duration_ms = Some(3);
    store.append(std::slice::from_ref(&event)).await.unwrap();

    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute("ALTER TABLE audit_events ALTER COLUMN duration_ms TYPE integer")
        .await
        .unwrap();
    // A null would fit any column: the duration is what no longer fits.
    let mut next = AuditEvent::new(ActorType::System, "test.shape", Outcome::Success);
    next.duration_ms = Some(4);
    let failed = store.append(std::slice::from_ref(&next)).await;
    assert!(
        matches!(failed, Err(audit::AuditError::Unavailable(_))),
        "{failed:?}"
    );

    client
        .batch_execute("ALTER TABLE audit_events ALTER COLUMN duration_ms TYPE bigint")
        .await
        .unwrap();
    store.append(std::slice::from_ref(&next)).await.unwrap();
    let verified = store.verify().await.unwrap();
    assert!(verified.ok && verified.checked == 2, "{verified:?}");
}
