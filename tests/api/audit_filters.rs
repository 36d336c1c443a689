//! The audit log's filters through the real store: every combination finds exactly the events
//! a plain scan written here finds, newest first, with the exact total. (Successes have no
//! index of their own since 0009: their total is all the matches less the unsuccessful ones.
//! Keys, tools and actions have none since 0011: they are found and counted through the
//! minutes' counts, which must count every event, however it was stored.)

use audit::{ActorType, AuditEvent, AuditFilter, AuditStore as _, Cursor, Outcome, StoredEvent};
use time::Duration;
use uuid::Uuid;

use crate::audit_store::{audit_store as store, connect, counts_and_recount};
use crate::helpers::TestDb;

fn matches(e: &AuditEvent, f: &AuditFilter) -> bool {
    f.key_id.is_none_or(|k| e.key_id == Some(k))
        && f.tool_name
            .as_ref()
            .is_none_or(|t| e.tool_name.as_ref() == Some(t))
        && f.action.as_ref().is_none_or(|a| &e.action == a)
        && f.outcome.is_none_or(|o| e.outcome == o)
        && f.from.is_none_or(|from| e.at >= from)
        && f.to.is_none_or(|to| e.at < to)
}

/// Every event the export of `filter` gives, read 5 at a time after a cursor.
async fn exported(store: &store_postgres::PgAuditStore, filter: &AuditFilter) -> Vec<StoredEvent> {
    let mut out: Vec<StoredEvent> = Vec::new();
    loop {
        let cursor = out.last().map(|s| Cursor {
            at: s.event.at,
            seq: s.seq,
        });
        let page = store.export_page(filter, cursor, 5).await.unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Every page of `filter`, in order, with the totals each page reported.
async fn every_page(
    store: &store_postgres::PgAuditStore,
    filter: &AuditFilter,
) -> (Vec<StoredEvent>, Vec<u64>) {
    let (mut items, mut totals) = (Vec::new(), Vec::new());
    for page in 1.. {
        let found = store
            .search(&AuditFilter {
                page,
                page_size: 7,
                ..filter.clone()
            })
            .await
            .unwrap();
        assert!(found.total_exact, "{filter:?}");
        totals.push(found.total);
        if found.items.is_empty() {
            break;
        }
        items.extend(found.items);
    }
    (items, totals)
}

/// Every page and the export of each filter give exactly the events of `events` it matches,
/// newest first, with the exact total; alone, and with a text search that every event matches
/// but that has no words (its condition is a bound parameter beside the outcome's literal).
async fn assert_every_filter(
    store: &store_postgres::PgAuditStore,
    events: &[AuditEvent],
    filters: &[AuditFilter],
) {
    for filter in filters {
        let mut expected: Vec<&AuditEvent> = events.iter().filter(|e| matches(e, filter)).collect();
        expected.reverse();
        let expected_ids: Vec<Uuid> = expected.iter().map(|e| e.id).collect();
        let with_text = AuditFilter {
            text: Some(".".into()),
            ..filter.clone()
        };
        for filter in [filter, &with_text] {
            let (found, totals) = every_page(store, filter).await;
            let found_ids: Vec<Uuid> = found.iter().map(|s| s.event.id).collect();
            assert_eq!(found_ids, expected_ids, "{filter:?}");
            assert!(
                totals.iter().all(|&t| t == expected.len() as u64),
                "{filter:?}: totals {totals:?}, {} events match",
                expected.len()
            );
            let exported: Vec<Uuid> = exported(store, filter)
                .await
                .iter()
                .map(|s| s.event.id)
                .collect();
            assert_eq!(exported, expected_ids, "export of {filter:?}");
        }
    }
}

/// 60 events from `start`, a minute apart: outcomes, keys, tools and actions in different
/// rhythms, so that every combination of [`combinations`] holds some events and leaves others
/// out.
fn sample(keys: [Uuid; 2], start: time::OffsetDateTime) -> Vec<AuditEvent> {
    (0..60)
        .map(|i: usize| {
            let outcome = match i % 5 {
                0 => Outcome::Denied,
                3 => Outcome::Failed,
                _ => Outcome::Success,
            };
            let (action, tool) = match i % 3 {
                0 => ("mcp.query.executed", Some("execute_query_safe")),
                1 => ("mcp.get_tables", Some("get_tables")),
                _ => ("mcp.tools.list", None),
            };
            let mut e = AuditEvent::new(ActorType::McpKey, action, outcome);
            e.key_id = (i % 4 != 3).then_some(keys[i % 2]);
            e.tool_name = tool.map(str::to_owned);
            e.at = start + Duration::minutes(i as i64);
            e
        })
        .collect()
}

/// Every combination of the filters, a window of dates among them (minutes 10 to 45 from
/// `start`, which cuts through batches of 16 events).
fn combinations(key: Uuid, start: time::OffsetDateTime) -> Vec<AuditFilter> {
    let mut filters = Vec::new();
    for outcome in [
        None,
        Some(Outcome::Success),
        Some(Outcome::Denied),
        Some(Outcome::Failed),
    ] {
        for key_id in [None, Some(key)] {
            for (tool, action) in [
                (None, None),
                (Some("execute_query_safe"), None),
                (None, Some("mcp.tools.list")),
            ] {
                for window in [None, Some((10, 45))] {
                    filters.push(AuditFilter {
                        key_id,
                        tool_name: tool.map(str::to_owned),
                        action: action.map(str::to_owned),
                        outcome,
                        from: window.map(|(from, _)| start + Duration::minutes(from)),
                        to: window.map(|(_, to)| start + Duration::minutes(to)),
                        ..AuditFilter::default()
                    });
                }
            }
        }
    }
    filters
}

#[tokio::test]
async fn every_filter_finds_and_counts_exactly_what_a_scan_finds() {
    let db = TestDb::new().await;
    let store = store(&db);
    let keys = [Uuid::now_v7(), Uuid::now_v7()];
    let start = time::OffsetDateTime::now_utc() - Duration::hours(1);
    let events = sample(keys, start);
    for batch in events.chunks(16) {
        store.append(batch).await.unwrap();
    }

    let filters = combinations(keys[0], start);
    assert_every_filter(&store, &events, &filters).await;
    // The combinations are not vacuous: the successes among a key's events are neither none
    // nor all of them.
    let of_key = events.iter().filter(|e| e.key_id == Some(keys[0])).count();
    let successes = events
        .iter()
        .filter(|e| e.key_id == Some(keys[0]) && e.outcome == Outcome::Success)
        .count();
    assert!(
        0 < successes && successes < of_key,
        "{successes} of {of_key}"
    );
}

/// 20 events of the sample five days before `cutoff`.
fn long_before(keys: [Uuid; 2], cutoff: time::OffsetDateTime) -> Vec<AuditEvent> {
    let mut old = sample(keys, cutoff - Duration::days(5));
    old.truncate(20);
    old
}

/// What migration 0011 runs to count the events stored before it.
fn backfill_sql() -> &'static str {
    let migration = include_str!("../../migrations/0011_audit_counts.sql");
    let from = migration
        .find("INSERT INTO audit_counted")
        .expect("the backfill");
    &migration[from..]
}

#[tokio::test]
async fn events_stored_before_the_counts_existed_are_found_and_counted() {
    let db = TestDb::new().await;
    let store = store(&db);
    let keys = [Uuid::now_v7(), Uuid::now_v7()];
    let start = time::OffsetDateTime::now_utc() - Duration::hours(1);
    let events = sample(keys, start);
    let (before, after) = events.split_at(40);
    for batch in before.chunks(16) {
        store.append(batch).await.unwrap();
    }
    // As if stored before migration 0011: then the migration runs.
    let sql = connect(&db.url).await;
    sql.batch_execute("DELETE FROM audit_counts; DELETE FROM audit_counted")
        .await
        .unwrap();
    sql.batch_execute(backfill_sql()).await.unwrap();
    for batch in after.chunks(16) {
        store.append(batch).await.unwrap();
    }
    assert_every_filter(&store, &events, &combinations(keys[0], start)).await;
}

#[tokio::test]
async fn a_batch_counted_by_the_writer_counts_what_was_stored() {
    let db = TestDb::new().await;
    let store = store(&db);
    let keys = [Uuid::now_v7(), Uuid::now_v7()];
    // Times at the edges of minutes, down to the nanosecond (stored to the microsecond), and
    // before PostgreSQL's epoch (2000), where the driver rounds the other way.
    let edges = [
        time::macros::datetime!(2026-11-24 21:42:59.999_999_999 UTC),
        time::macros::datetime!(2026-11-24 21:43:00 UTC),
        time::macros::datetime!(2026-11-24 21:43:00.000_000_5 UTC),
        time::macros::datetime!(1999-12-31 23:58:59.999_999_5 UTC),
        time::macros::datetime!(1999-12-31 23:58:59.999_998 UTC),
    ];
    let start = time::OffsetDateTime::now_utc() - Duration::hours(1);
    let mut events = sample(keys, start);
    for (i, e) in events.iter_mut().enumerate().take(40) {
        e.at = edges[i % edges.len()];
    }
    // In time order, as a writer stores them.
    events.sort_by_key(|e| e.at);
    for batch in events.chunks(16) {
        store.append(batch).await.unwrap();
    }
    let (counts, recount) = counts_and_recount(&db.url).await;
    assert!(counts.len() > 10, "{counts:?}");
    assert_eq!(counts, recount);
    assert_every_filter(&store, &events, &combinations(keys[0], start)).await;
}

/// When every stored event is counted, the writer counts a batch from the events in hand: it
/// does not read the stored rows back. Shown by moving `audit_counted` past every stored
/// event (a state no writer leaves): counting from the stored rows would then count nothing.
#[tokio::test]
async fn a_batch_after_counted_events_is_counted_without_reading_the_rows_back() {
    let db = TestDb::new().await;
    let store = store(&db);
    let keys = [Uuid::now_v7(), Uuid::now_v7()];
    let start = time::OffsetDateTime::now_utc() - Duration::hours(1);
    let events = sample(keys, start);
    store.append(&events[..16]).await.unwrap();
    connect(&db.url)
        .await
        .batch_execute("UPDATE audit_counted SET seq = seq + 1000")
        .await
        .unwrap();
    store.append(&events[16..]).await.unwrap();
    let (counts, recount) = counts_and_recount(&db.url).await;
    assert_eq!(counts, recount);
}

#[tokio::test]
async fn events_stored_by_an_instance_without_counts_are_counted_with_the_next_batch() {
    let db = TestDb::new().await;
    let store = store(&db);
    let keys = [Uuid::now_v7(), Uuid::now_v7()];
    let start = time::OffsetDateTime::now_utc() - Duration::hours(1);
    let events = sample(keys, start);
    let sql = connect(&db.url).await;
    let batches: Vec<&[AuditEvent]> = events.chunks(16).collect();
    store.append(batches[0]).await.unwrap();
    // The second and third batches as an older instance stores them (during a rolling
    // upgrade): without counting them.
    sql.batch_execute(
        "CREATE TABLE counts_before AS SELECT * FROM audit_counts;
         CREATE TABLE counted_before AS SELECT * FROM audit_counted",
    )
    .await
    .unwrap();
    store.append(batches[1]).await.unwrap();
    store.append(batches[2]).await.unwrap();
    sql.batch_execute(
        "DELETE FROM audit_counts; INSERT INTO audit_counts SELECT * FROM counts_before;
         DELETE FROM audit_counted; INSERT INTO audit_counted SELECT * FROM counted_before",
    )
    .await
    .unwrap();
    let uncounted: i64 = sql
        .query_one(
            "SELECT count(*) FROM audit_events WHERE seq > (SELECT seq FROM audit_counted)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(uncounted, 32);
    store.append(batches[3]).await.unwrap();
    assert_every_filter(&store, &events, &combinations(keys[0], start)).await;
}

#[tokio::test]
async fn retention_takes_the_events_it_removes_off_the_counts() {
    let db = TestDb::new().await;
    let store = store(&db);
    let keys = [Uuid::now_v7(), Uuid::now_v7()];
    let cutoff = audit::retention_cutoff(25);
    // 20 old events, then one a millisecond before the cutoff, in the minute of the first kept
    // event (the sample's first, at the cutoff), and in one batch with the sample's first 12.
    let old = long_before(keys, cutoff);
    let events = sample(keys, cutoff);
    let mut edge = events[0].clone();
    edge.id = Uuid::now_v7();
    edge.at = cutoff - Duration::milliseconds(1);
    store.append(&old).await.unwrap();
    let mut cut = vec![edge];
    cut.extend_from_slice(&events[..12]);
    store.append(&cut).await.unwrap();
    for batch in events[12..].chunks(16) {
        store.append(batch).await.unwrap();
    }

    let removed = store.purge_before(cutoff).await.unwrap();
    assert_eq!(removed, 21);
    let mut filters = combinations(keys[0], cutoff);
    filters.push(AuditFilter {
        key_id: Some(keys[0]),
        from: Some(cutoff - Duration::days(10)),
        ..AuditFilter::default()
    });
    assert_every_filter(&store, &events, &filters).await;
    let rows: i64 = connect(&db.url)
        .await
        .query_one(
            "SELECT count(*) FROM audit_counts WHERE minute < $1",
            &[&(cutoff - Duration::minutes(1))],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "the old minutes' counts are gone");
}

#[tokio::test]
async fn dates_that_cut_through_a_minute_count_its_events_one_by_one() {
    let db = TestDb::new().await;
    let store = store(&db);
    let keys = [Uuid::now_v7(), Uuid::now_v7()];
    // Four events a minute (15 s apart), from a whole minute on: the dates below fall between
    // events of one minute, on a minute's start, and both inside one minute.
    let now = time::OffsetDateTime::now_utc();
    let start = now
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap()
        - Duration::hours(1);
    let events: Vec<AuditEvent> = sample(keys, start)
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e.at = start + Duration::seconds(15 * i as i64);
            e
        })
        .collect();
    for batch in events.chunks(7) {
        store.append(batch).await.unwrap();
    }
    let at =
        |minute: i64, second: i64| start + Duration::minutes(minute) + Duration::seconds(second);
    let mut filters = Vec::new();
    for (from, to) in [
        (Some(at(2, 20)), Some(at(9, 40))),
        (Some(at(3, 10)), Some(at(3, 50))),
        (Some(at(3, 0)), Some(at(6, 0))),
        (Some(at(4, 30)), None),
        (None, Some(at(7, 45))),
        (Some(at(5, 15)), Some(at(5, 15))),
        (
            Some(at(2, 20) + Duration::nanoseconds(1)),
            Some(at(9, 40) - Duration::nanoseconds(1)),
        ),
    ] {
        for (key_id, tool, outcome) in [
            (Some(keys[0]), None, None),
            (None, Some("execute_query_safe"), None),
            (Some(keys[1]), None, Some(Outcome::Success)),
        ] {
            filters.push(AuditFilter {
                key_id,
                tool_name: tool.map(str::to_owned),
                outcome,
                from,
                to,
                ..AuditFilter::default()
            });
        }
    }
    assert_every_filter(&store, &events, &filters).await;
}

#[tokio::test]
async fn a_search_reads_on_past_a_page_of_minutes() {
    let db = TestDb::new().await;
    let store = store(&db);
    let key = Uuid::now_v7();
    // 600 minutes with an event of the key (more than the 512 minutes read at once), and
    // events of another key between them.
    let start = time::OffsetDateTime::now_utc() - Duration::hours(20);
    let events: Vec<AuditEvent> = (0..1200)
        .map(|i: i64| {
            let mut e = AuditEvent::new(ActorType::McpKey, "mcp.tools.list", Outcome::Success);
            e.key_id = Some(if i % 2 == 0 { key } else { Uuid::now_v7() });
            e.at = start + Duration::seconds(30 * i);
            e
        })
        .collect();
    for batch in events.chunks(200) {
        store.append(batch).await.unwrap();
    }
    let mut expected: Vec<Uuid> = events
        .iter()
        .filter(|e| e.key_id == Some(key))
        .map(|e| e.id)
        .collect();
    expected.reverse();
    let filter = AuditFilter {
        key_id: Some(key),
        page_size: 200,
        ..AuditFilter::default()
    };
    let mut found = Vec::new();
    for page in 1..=4 {
        let got = store
            .search(&AuditFilter {
                page,
                ..filter.clone()
            })
            .await
            .unwrap();
        assert_eq!(got.total, 600);
        found.extend(got.items.iter().map(|s| s.event.id));
    }
    assert_eq!(found, expected);
    let exported: Vec<Uuid> = exported(&store, &filter)
        .await
        .iter()
        .map(|s| s.event.id)
        .collect();
    assert_eq!(exported, expected);
}

#[tokio::test]
async fn retention_repairs_the_counts_of_events_an_older_instance_removed() {
    let db = TestDb::new().await;
    let store = store(&db);
    let keys = [Uuid::now_v7(), Uuid::now_v7()];
    let cutoff = audit::retention_cutoff(25);
    let old = long_before(keys, cutoff);
    let events = sample(keys, cutoff + Duration::minutes(1));
    store.append(&old).await.unwrap();
    for batch in events.chunks(16) {
        store.append(batch).await.unwrap();
    }
    // An instance older than migration 0011 runs retention: it removes the old events without
    // taking them off the counts.
    connect(&db.url)
        .await
        .execute("DELETE FROM audit_events WHERE at < $1", &[&cutoff])
        .await
        .unwrap();

    assert_eq!(store.purge_before(cutoff).await.unwrap(), 0);
    let mut filters = combinations(keys[0], cutoff + Duration::minutes(1));
    filters.push(AuditFilter {
        key_id: Some(keys[0]),
        ..AuditFilter::default()
    });
    assert_every_filter(&store, &events, &filters).await;
}
