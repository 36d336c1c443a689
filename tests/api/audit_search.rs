//! Text search (`q`) over the audit log, through the real store: the batches' words find the
//! candidate events, and the result is exactly the events where `q` starts at the start of a
//! word (anywhere, when `q` starts with neither a letter nor a digit) or at the beginning of
//! the request id, checked against a plain scan written here.

use std::collections::BTreeSet;

use audit::{ActorType, AuditEvent, AuditFilter, AuditStore as _, Outcome};
use serde_json::{Value, json};
use time::Duration;

use crate::audit::{events, scene};
use crate::audit_store::{audit_store as store, connect};
use crate::helpers::{McpAgent, TargetPg, TestDb, spawn_app};

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
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The plain scan: `q` in a field, case-insensitive, at the start of a word when it starts with
/// a letter or digit; or at the beginning of the request id.
fn matches(e: &AuditEvent, q: &str) -> bool {
    // Request ids with ASCII case folding only.
    let request_id = e
        .request_id
        .as_ref()
        .is_some_and(|id| id.to_ascii_lowercase().starts_with(&q.to_ascii_lowercase()));
    let q = q.to_lowercase();
    let anywhere = !q.starts_with(char::is_alphanumeric);
    request_id
        || fields(e).iter().any(|f| {
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
    // Request ids: one of Sluice's own (UUIDv7), a random UUID, a client's own ids (one
    // longer than a word keeps, one without letters or digits at its start); then UUIDv7s
    // in the next millisecond and, upper-cased, in the first one, each in a batch of its own.
    let with_id = |id: &str| {
        let mut e = event("mcp.tools.list", &[], "{}");
        e.request_id = Some(id.to_owned());
        e
    };
    let long_id = format!("Run-{}", "x".repeat(100));
    let fourth = vec![
        with_id("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        with_id("0f8fad5b-d9cb-469f-a165-70867728950e"),
        with_id("Req-7"),
        with_id(&long_id),
        with_id("--7"),
    ];
    store.append(&fourth).await.unwrap();
    let fifth = vec![with_id("0193a1b2-c3d5-7000-8000-000000000000")];
    store.append(&fifth).await.unwrap();
    let sixth = vec![with_id("0193A1B2-C3D4-7AAA-8BBB-CCCCDDDD0001")];
    store.append(&sixth).await.unwrap();
    // A batch stored before request ids were one word: its words hold the ids' pieces.
    let seventh = vec![
        with_id("0193a1b2-c3d6-7000-8000-0000000000aa"),
        with_id("0193a1b2-c3d6-7000-8000-0000000000bb"),
    ];
    store.append(&seventh).await.unwrap();
    connect(&db.url)
        .await
        .batch_execute(
            "UPDATE audit_word_batches SET words = (
                 SELECT array_to_tsvector(array_agg(DISTINCT w))
                 FROM audit_events e, audit_word_batches b,
                      regexp_split_to_table(lower(concat_ws(' ', action, tool_name, error,
                          actor_id, array_to_string(tables, ' '), arguments, client_addr,
                          user_agent, request_id)), '[^[:alnum:]]+') AS w
                 WHERE w <> '' AND b.id = (SELECT max(id) FROM audit_word_batches)
                   AND e.at BETWEEN b.at_min AND b.at_max)
             WHERE id = (SELECT max(id) FROM audit_word_batches)",
        )
        .await
        .unwrap();
    let all: Vec<&AuditEvent> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .chain(&fourth)
        .chain(&fifth)
        .chain(&sixth)
        .chain(&seventh)
        .collect();

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
        "0193",
        "0193a1b2-c3d",
        "0193A1B2-c3d4",
        "0193a1b2-c3d4-7",
        "0193a1b2-c3d4-7aaa-8bbb-ccccdddd0001",
        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5bx",
        "0193a1b2-c3d5",
        "0193a1b2-c3d6",
        "0193a1b2-c3d6-7000-8000-0000000000aa",
        "0193a1b2-c3d6-7000-8000-0000000000b",
        "0000000000aa",
        "0f8fad5b-d9cb",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "d9cb",
        "req-7",
        "REQ",
        "7",
        "--",
        "--7",
        "run-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        &long_id,
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
            count("caf"),
            count("0193a1b2-c3d4"),
            count("0193a1b2-c3d4-7e5f"),
            count("d9cb"),
            count("7"),
            count("--"),
            count(&long_id),
            count("0193a1b2-c3d6"),
        ],
        [1, 0, 1, 1, 1, 2, 1, 0, 1, 1, 1, 2]
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
    let expected: BTreeSet<_> = all
        .iter()
        .filter(|e| e.at >= quota.at && matches(e, "mcp"))
        .map(|e| e.id)
        .collect();
    assert_eq!(found, expected);
    assert_eq!(found.len(), 2 + 5 + 1 + 1 + 2);
    assert!(!found.contains(&denied.id));

    // A text search with other conditions, page after page (the cursor's parameters follow
    // the text's).
    let combined = AuditFilter {
        action: Some("mcp.tools.list".into()),
        ..text("0193a1b2")
    };
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.export_page(&combined, cursor, 1).await.unwrap();
        let Some(end) = page.last() else { break };
        cursor = Some(audit::Cursor {
            at: end.event.at,
            seq: end.seq,
        });
        paged.extend(page.iter().map(|s| s.event.id));
    }
    let mut expected: Vec<&AuditEvent> = all
        .iter()
        .copied()
        .filter(|e| e.action == "mcp.tools.list" && matches(e, "0193a1b2"))
        .collect();
    expected.sort_by_key(|e| std::cmp::Reverse(e.at));
    assert_eq!(paged, expected.iter().map(|e| e.id).collect::<Vec<_>>());
    assert_eq!(paged.len(), 5);
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

/// What an administrator does with the request id an agent's call came back with (its
/// `X-Request-Id`, made by Sluice or sent by the client): the search finds that call.
#[tokio::test]
async fn the_request_id_a_call_came_back_with_finds_that_call() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let s = scene(&app, &target).await;
    let agent = McpAgent {
        app: &app,
        key: s.key.clone(),
    };
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let mut ids = Vec::new();
    for _ in 0..6 {
        let res = agent.post(&list, &[]).await;
        assert_eq!(res.status(), 200);
        ids.push(res.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    let own = "agent-run-42:step.3_a";
    let res = agent.post(&list, &[("X-Request-Id", own)]).await;
    assert_eq!(res.headers()["x-request-id"], own);
    ids.push(own.to_owned());
    // Every call is in the log (the writer is asynchronous).
    events(&app, &s.token, "&action=mcp.tools.list", 7).await;

    let search = |q: String| {
        let app = &app;
        let token = &s.token;
        async move {
            let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
            app.json(
                reqwest::Method::GET,
                &format!("/api/audit?pageSize=200&q={q}"),
                token,
                None,
            )
            .await
        }
    };
    let request_ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["requestId"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    for id in &ids {
        for q in [id.clone(), id.to_uppercase()] {
            let page = search(q.clone()).await;
            assert_eq!(
                request_ids(&page),
                *std::slice::from_ref(id),
                "q = {q}: {page}"
            );
        }
    }
    // Sluice's own ids are UUIDv7: the beginning of one (its millisecond and more) finds the
    // events whose ids start with it (the administrator's requests too), and only those.
    let generated = &ids[0];
    assert_eq!(generated.as_bytes()[14], b'7', "{generated}");
    for len in [8, 13, 16, 30] {
        let q = generated[..len].to_owned();
        let found = request_ids(&search(q.clone()).await);
        for id in ids.iter().filter(|id| id.starts_with(&q)) {
            assert!(found.contains(id), "q = {q}: {id} in {found:?}");
        }
        assert!(
            found.iter().all(|id| id.starts_with(&q)),
            "q = {q}: {found:?}"
        );
    }
    // Inside an id is not its beginning.
    for id in &ids[..6] {
        let tail = id[24..].to_owned();
        assert_eq!(search(tail.clone()).await["total"], 0, "q = {tail}");
    }
    assert_eq!(search("step.3_a".to_owned()).await["total"], 0);
    assert_eq!(
        request_ids(&search("agent-run".to_owned()).await),
        [own.to_owned()]
    );
}
