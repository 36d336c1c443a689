//! The audit log's filters through the real store: every combination finds exactly the events
//! a plain scan written here finds, newest first, with the exact total. (Successes have no
//! index of their own since 0009: their total is all the matches less the unsuccessful ones.)

use audit::{ActorType, AuditEvent, AuditFilter, AuditStore as _, Cursor, Outcome, StoredEvent};
use time::Duration;
use uuid::Uuid;

use crate::audit::audit_store as store;
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

#[tokio::test]
async fn every_filter_finds_and_counts_exactly_what_a_scan_finds() {
    let db = TestDb::new().await;
    let store = store(&db);
    let keys = [Uuid::now_v7(), Uuid::now_v7()];
    let start = time::OffsetDateTime::now_utc() - Duration::hours(1);
    // 60 events, a minute apart: outcomes, keys, tools and actions in different rhythms, so
    // that every combination below holds some events and leaves others out.
    let events: Vec<AuditEvent> = (0..60)
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
        .collect();
    for batch in events.chunks(16) {
        store.append(batch).await.unwrap();
    }

    let mut filters = Vec::new();
    for outcome in [
        None,
        Some(Outcome::Success),
        Some(Outcome::Denied),
        Some(Outcome::Failed),
    ] {
        for key_id in [None, Some(keys[0])] {
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
    for filter in &filters {
        let mut expected: Vec<&AuditEvent> = events.iter().filter(|e| matches(e, filter)).collect();
        expected.reverse();
        let expected_ids: Vec<Uuid> = expected.iter().map(|e| e.id).collect();
        // Alone, and with a text search that every event matches but that has no words (its
        // condition is a bound parameter beside the outcome's literal).
        let with_text = AuditFilter {
            text: Some(".".into()),
            ..filter.clone()
        };
        for filter in [filter, &with_text] {
            let (found, totals) = every_page(&store, filter).await;
            let found_ids: Vec<Uuid> = found.iter().map(|s| s.event.id).collect();
            assert_eq!(found_ids, expected_ids, "{filter:?}");
            assert!(
                totals.iter().all(|&t| t == expected.len() as u64),
                "{filter:?}: totals {totals:?}, {} events match",
                expected.len()
            );
            let exported: Vec<Uuid> = exported(&store, filter)
                .await
                .iter()
                .map(|s| s.event.id)
                .collect();
            assert_eq!(exported, expected_ids, "export of {filter:?}");
        }
    }
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
