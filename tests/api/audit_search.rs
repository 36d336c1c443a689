//! Text search (`q`) over the audit log, through the real store: the batches' words find the
//! candidate events, and the result is exactly the events where `q` starts at the start of a
//! word (anywhere, when `q` starts with neither a letter nor a digit), checked against a plain
//! scan written here.

use std::collections::BTreeSet;

use audit::{ActorType, AuditEvent, AuditFilter, AuditStore as _, Outcome};
use time::Duration;

use crate::audit::{audit_store as store, connect};
use crate::helpers::TestDb;

fn event(action: &str, tables: &[&str], arguments: &str) -> AuditEvent {
    let mut e = AuditEvent::new(ActorType::McpKey, action, Outcome::Success);
    e.tables = tables.iter().map(|t| (*t).to_owned()).collect();
    e.arguments = Some(arguments.to_owned());
    e
}

/// The searchable fields of an event, as the search sees them.
fn fields(e: &AuditEvent) -> Vec<String> {
    [
        Some(e.action.clone()),
        e.tool_name.clone(),
        e.error.clone(),
        e.actor_id.clone(),
        Some(e.tables.join(" ")),
        e.arguments.clone(),
        e.client_addr.clone(),
        e.user_agent.clone(),
        e.request_id.clone(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The plain scan: `q` in a field, case-insensitive, at the start of a word when it starts with
/// a letter or digit.
fn matches(e: &AuditEvent, q: &str) -> bool {
    let q = q.to_lowercase();
    let anywhere = !q.starts_with(char::is_alphanumeric);
    fields(e).iter().any(|f| {
        let f = f.to_lowercase();
        f.match_indices(&q).any(|(at, _)| {
            anywhere || at == 0 || !f[..at].chars().next_back().unwrap().is_alphanumeric()
        })
    })
}

fn text(q: &str) -> AuditFilter {
    AuditFilter {
        page: 1,
        page_size: 200,
        text: Some(q.to_owned()),
        ..AuditFilter::default()
    }
}

#[tokio::test]
async fn text_search_finds_exactly_what_a_scan_of_every_event_finds() {
    let db = TestDb::new().await;
    let store = store(&db);

    let mut query = event(
        "mcp.query.executed",
        &["public.orders"],
        r#"{"tableName":"orders","where":{"field":"customer_id","value":42}}"#,
    );
    query.tool_name = Some("execute_query_safe".into());
    query.request_id = Some("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into());
    query.client_addr = Some("10.0.7.1".into());
    query.user_agent = Some("python-httpx/0.28".into());
    let mut denied = event(
        "mcp.get_columns",
        &["shop.secrets"],
        r#"{"schemaName":"shop","tableName":"secrets"}"#,
    );
    denied.outcome = Outcome::Denied;
    denied.error = Some("table shop.secrets is not allowed for this key".into());
    let inside = event(
        "mcp.query.executed",
        &["public.xorders"],
        r#"{"tableName":"xorders","note":"line1\nline2","path":"C:\\Users"}"#,
    );
    let mut admin = event("db.config.created", &[], r#"{"name":"Payroll (EU)"}"#);
    admin.actor_id = Some("admin".into());
    let mut quota = event("mcp.query.failed", &[], "{}");
    quota.error = Some("value 100% over quota_limit".into());
    let mut browser = event("mcp.tools.list", &[], "{}");
    browser.user_agent = Some("Mozilla/5.0 Café".into());

    // The first batch is stored as if before the word index existed: its events are found all
    // the same.
    for e in [&mut query, &mut admin] {
        e.at -= Duration::minutes(1);
    }
    let first = vec![query.clone(), admin.clone()];
    store.append(&first).await.unwrap();
    // As migration 0008 summarises the events stored before it.
    connect(&db.url)
        .await
        .batch_execute(
            "DELETE FROM audit_word_batches;
         INSERT INTO audit_word_batches (at_min, at_max, words)
         SELECT min(at), max(at), array_to_tsvector(ARRAY['-every-']) FROM audit_events
         HAVING count(*) > 0",
        )
        .await
        .unwrap();
    let second = vec![denied.clone(), inside.clone()];
    store.append(&second).await.unwrap();
    let third = vec![quota.clone(), browser.clone()];
    store.append(&third).await.unwrap();
    let all: Vec<&AuditEvent> = first.iter().chain(&second).chain(&third).collect();

    for q in [
        "orders",
        "ORD",
        "rders",
        "public.orders",
        "public.ord",
        "customer_id",
        "customer_id\":42",
        "0190a1b2-c3",
        "c3d4",
        "10.0.7",
        "0.7.1",
        "secrets is not",
        "payroll (eu",
        "Payroll (EU)",
        "line2",
        "nline2",
        "users",
        "C:\\Users",
        "%",
        "100%",
        "quota_lim",
        "limit",
        "caf",
        "CAFÉ",
        "mcp",
        "query.exec",
        ".executed",
        "-c3d4",
        "zzz",
        "orders zzz",
    ] {
        let expected: BTreeSet<_> = all.iter().filter(|e| matches(e, q)).map(|e| e.id).collect();
        let page = store.search(&text(q)).await.unwrap();
        let found: BTreeSet<_> = page.items.iter().map(|s| s.event.id).collect();
        assert_eq!(found, expected, "q = {q:?}");
        assert_eq!(page.total, expected.len() as u64, "q = {q:?}");
        assert!(page.total_exact, "q = {q:?}");
        let exported = store.export_page(&text(q), None, 100).await.unwrap();
        let exported: BTreeSet<_> = exported.iter().map(|s| s.event.id).collect();
        assert_eq!(exported, expected, "export, q = {q:?}");
    }
    // The plain scan itself: a word's start, not inside a word, anywhere for punctuation.
    let count = |q: &str| all.iter().filter(|e| matches(e, q)).count();
    assert_eq!(
        [
            count("orders"),
            count("rders"),
            count("xorders"),
            count("%"),
            count("caf")
        ],
        [1, 0, 1, 1, 1]
    );

    // With other filters: the words narrow what the filters then check.
    let denied_only = AuditFilter {
        outcome: Some(Outcome::Denied),
        ..text("shop")
    };
    let page = store.search(&denied_only).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].event.id, denied.id);
    let later = AuditFilter {
        from: Some(quota.at),
        ..text("mcp")
    };
    let page = store.search(&later).await.unwrap();
    let found: BTreeSet<_> = page.items.iter().map(|s| s.event.id).collect();
    assert_eq!(found, BTreeSet::from([quota.id, browser.id]));
}

#[tokio::test]
async fn a_common_word_counts_to_a_thousand_and_pages_stay_in_order() {
    let db = TestDb::new().await;
    let store = store(&db);
    let mut all = Vec::new();
    for b in 0..6 {
        let batch: Vec<AuditEvent> = (0..200)
            .map(|i| {
                event(
                    "mcp.query.executed",
                    &["bulk.items"],
                    &format!("{{\"n\":{b}{i}}}"),
                )
            })
            .collect();
        store.append(&batch).await.unwrap();
        all.extend(batch);
    }
    // One more that does not match, newest of all.
    store
        .append(&[event("mcp.tools.list", &[], "{}")])
        .await
        .unwrap();

    let newest_first: Vec<_> = all.iter().rev().map(|e| e.id).collect();
    let first = store
        .search(&AuditFilter {
            page_size: 20,
            ..text("bulk")
        })
        .await
        .unwrap();
    assert_eq!((first.total, first.total_exact), (1000, false));
    let ids: Vec<_> = first.items.iter().map(|s| s.event.id).collect();
    assert_eq!(ids, newest_first[..20]);

    let third = store
        .search(&AuditFilter {
            page: 3,
            page_size: 200,
            ..text("bulk.items")
        })
        .await
        .unwrap();
    let ids: Vec<_> = third.items.iter().map(|s| s.event.id).collect();
    assert_eq!(ids, newest_first[400..600]);

    // Paging past the cap counts on: the last page is exact.
    let last = store
        .search(&AuditFilter {
            page: 6,
            page_size: 200,
            ..text("bulk")
        })
        .await
        .unwrap();
    assert_eq!((last.total, last.total_exact), (1200, true));
    assert_eq!(last.items.len(), 200);

    // An export reads every match, page after page.
    let mut exported = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.export_page(&text("bulk"), cursor, 450).await.unwrap();
        let Some(end) = page.last() else { break };
        cursor = Some(audit::Cursor {
            at: end.event.at,
            seq: end.seq,
        });
        exported.extend(page.iter().map(|s| s.event.id));
    }
    assert_eq!(exported, newest_first);
}

#[tokio::test]
async fn retention_drops_the_words_of_removed_batches_only() {
    let db = TestDb::new().await;
    let store = store(&db);
    let mut old = event("test.old", &["archive.ledger"], "{}");
    old.at -= Duration::days(40);
    let mut kept = event("test.kept", &["archive.ledger"], "{}");
    kept.at -= Duration::days(10);
    store.append(std::slice::from_ref(&old)).await.unwrap();
    store.append(std::slice::from_ref(&kept)).await.unwrap();
    store
        .append(&[event("test.new", &["archive.ledger"], "{}")])
        .await
        .unwrap();

    let removed = store
        .purge_before(audit::retention_cutoff(25))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let batches: i64 = connect(&db.url)
        .await
        .query_one("SELECT count(*) FROM audit_word_batches", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(batches, 2, "the removed event's batch goes with it");
    let page = store.search(&text("ledger")).await.unwrap();
    let actions: Vec<_> = page.items.iter().map(|s| s.event.action.as_str()).collect();
    assert_eq!(actions, ["test.new", "test.kept"]);
}
