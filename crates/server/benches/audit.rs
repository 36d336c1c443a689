//! `make bench`: searching a big audit log. 1,000,000 events (200 keys, 5 tools, three
//! outcomes, spread over 90 days) in a fresh metadata database, then the first page of
//! `GET /api/audit` for typical filters through the real store. Target: a filtered first page
//! in under 100 ms. Prints figures; asserts nothing.

use std::time::Instant;

use audit::{AuditFilter, AuditStore, Outcome};
use server::config::Settings;
use time::OffsetDateTime;
use tokio_postgres::NoTls;

mod common;
use common::url_for;

const EVENTS: u64 = 1_000_000;
const TARGET_MS: f64 = 100.0;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let db = format!("sluice_bench_audit_{}", std::process::id());
    let (client, conn) = tokio_postgres::connect(&admin, NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await?;
    let url = url_for(&admin, &db);
    let store = server::startup::open_store(&Settings {
        database_url: url.clone(),
        ..Settings::default()
    })?;
    store.migrate().await?;

    // Rows written in SQL for speed: their hashes are placeholders (this bench searches, it
    // does not verify).
    let started = Instant::now();
    let (meta, conn) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(conn);
    meta.batch_execute(&format!(
        "INSERT INTO audit_events (id, at, actor_type, actor_id, key_id, action, tool_name,
             db_config_id, tables, outcome, error, duration_ms, row_count, truncated, request_id,
             client_addr, user_agent, arguments, prev_hash, hash)
         SELECT gen_random_uuid(),
                t.at,
                'mcp-key', 'sluice_' || lpad(to_hex(i % 200), 12, '0'),
                ('00000000-0000-7000-8000-' || lpad(to_hex(i % 200), 12, '0'))::uuid,
                (ARRAY['mcp.query.executed', 'mcp.get_tables', 'mcp.get_columns',
                       'mcp.tools.list', 'mcp.query.explained'])[1 + i % 5],
                (ARRAY['execute_query_safe', 'get_tables', 'get_columns', NULL,
                       'explain_query'])[1 + i % 5],
                '00000000-0000-7000-8000-000000000001'::uuid,
                CASE WHEN i % 10000 = 7 THEN ARRAY['hr.payroll'] ELSE ARRAY['public.orders'] END,
                (ARRAY['success', 'success', 'success', 'success', 'success', 'success',
                       'success', 'denied', 'failed', 'success'])[1 + i % 10],
                CASE WHEN i % 10 = 8 THEN 'canceling statement due to statement timeout' END,
                i % 50, i % 100, false,
                -- Sluice's request ids: UUIDv7 of the event's time.
                regexp_replace(lpad(to_hex((extract(epoch FROM t.at) * 1000)::bigint), 12, '0')
                                   || '7' || substr(md5(i::text), 1, 19),
                               '^(.{{8}})(.{{4}})(.{{4}})(.{{4}})(.{{12}})$', '\\1-\\2-\\3-\\4-\\5'),
                '10.0.' || (i % 250) || '.1',
                'python-httpx/0.28', '{{\"tableName\":\"orders\",\"limit\":' || (i % 97) || '}}',
                decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex')
         FROM generate_series(1, {EVENTS}) AS i,
              LATERAL (SELECT now() - (i * interval '1 second') * (90 * 86400.0 / {EVENTS}) AS at) t"
    ))
    .await?;
    // The words of each batch of 25 (as the writer stores them under load): words are runs of
    // letters and digits, lower-cased, and a request id is `rid:` and its millisecond (a
    // UUIDv7), the same in SQL as in `audit::batch_words` for this ASCII data.
    meta.batch_execute(
        "INSERT INTO audit_word_batches (at_min, at_max, words)
         SELECT min(at), max(at), array_to_tsvector(array_agg(DISTINCT w))
         FROM (SELECT seq, at, w FROM audit_events,
                 regexp_split_to_table(lower(concat_ws(' ', action, tool_name, error, actor_id,
                     array_to_string(tables, ' '), arguments, client_addr, user_agent)),
                     '[^[:alnum:]]+') AS w
               WHERE w <> ''
               UNION ALL
               SELECT seq, at, 'rid:' || left(lower(request_id), 13) FROM audit_events) AS t
         GROUP BY (seq - 1) / 25",
    )
    .await?;
    // And their counts per minute (migration 0011), as the writer keeps them.
    meta.batch_execute(
        "UPDATE audit_counted SET seq = (SELECT max(seq) FROM audit_events);
         INSERT INTO audit_counts (minute, key_id, tool_name, action, outcome, events)
         SELECT date_trunc('minute', at, 'UTC'), key_id, tool_name, action, outcome, count(*)
         FROM audit_events GROUP BY 1, 2, 3, 4, 5",
    )
    .await?;
    meta.batch_execute("VACUUM ANALYZE audit_counts").await?;
    meta.batch_execute("VACUUM ANALYZE audit_events").await?;
    meta.batch_execute("VACUUM ANALYZE audit_word_batches")
        .await?;
    println!(
        "setup: {EVENTS} audit events written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let audit = store_postgres::PgAuditStore::new(&store);
    let now = OffsetDateTime::now_utc();
    let key = "00000000-0000-7000-8000-00000000002a".parse()?;
    let request_id: String = meta
        .query_one(
            "SELECT request_id FROM audit_events WHERE seq = 424242",
            &[],
        )
        .await?
        .get(0);
    let page = |f: AuditFilter| AuditFilter {
        page: 1,
        page_size: 20,
        ..f
    };
    let cases: Vec<(&str, AuditFilter)> = vec![
        ("no filter", page(AuditFilter::default())),
        (
            "keyId",
            page(AuditFilter {
                key_id: Some(key),
                ..AuditFilter::default()
            }),
        ),
        (
            "toolName + last 7 days",
            page(AuditFilter {
                tool_name: Some("execute_query_safe".into()),
                from: Some(now - time::Duration::days(7)),
                ..AuditFilter::default()
            }),
        ),
        (
            "result=denied",
            page(AuditFilter {
                outcome: Some(Outcome::Denied),
                ..AuditFilter::default()
            }),
        ),
        (
            "result=success",
            page(AuditFilter {
                outcome: Some(Outcome::Success),
                ..AuditFilter::default()
            }),
        ),
        (
            "action",
            page(AuditFilter {
                action: Some("mcp.get_columns".into()),
                ..AuditFilter::default()
            }),
        ),
        (
            "action + result=success",
            page(AuditFilter {
                action: Some("mcp.get_columns".into()),
                outcome: Some(Outcome::Success),
                ..AuditFilter::default()
            }),
        ),
        (
            "toolName + result=failed",
            page(AuditFilter {
                tool_name: Some("execute_query_safe".into()),
                outcome: Some(Outcome::Failed),
                ..AuditFilter::default()
            }),
        ),
        (
            "keyId, page 50",
            AuditFilter {
                key_id: Some(key),
                page: 50,
                page_size: 20,
                ..AuditFilter::default()
            },
        ),
        (
            "keyId + toolName + one day",
            page(AuditFilter {
                key_id: Some(key),
                tool_name: Some("get_tables".into()),
                from: Some(now - time::Duration::days(31)),
                to: Some(now - time::Duration::days(30)),
                ..AuditFilter::default()
            }),
        ),
        (
            "q, one event (a request id)",
            page(AuditFilter {
                text: Some(request_id.clone()),
                ..AuditFilter::default()
            }),
        ),
        (
            "q, a hundred events (a table)",
            page(AuditFilter {
                text: Some("payroll".into()),
                ..AuditFilter::default()
            }),
        ),
        (
            "q, 1 in 250 (an address)",
            page(AuditFilter {
                text: Some("10.0.7.1".into()),
                ..AuditFilter::default()
            }),
        ),
        (
            "q, a tenth of the log",
            page(AuditFilter {
                text: Some("statement timeout".into()),
                ..AuditFilter::default()
            }),
        ),
        (
            "q, every event",
            page(AuditFilter {
                text: Some("orders".into()),
                ..AuditFilter::default()
            }),
        ),
        (
            "q + keyId",
            page(AuditFilter {
                key_id: Some(key),
                text: Some("orders".into()),
                ..AuditFilter::default()
            }),
        ),
    ];
    println!("first page of 20, newest first, with the total (best of 5 runs)");
    println!(
        "{:<30} {:>10} {:>10}  target < {TARGET_MS} ms",
        "filter", "total", "ms"
    );
    for (name, filter) in cases {
        let mut best = f64::MAX;
        let mut total = String::new();
        for _ in 0..5 {
            let t = Instant::now();
            let p = audit.search(&filter).await?;
            best = best.min(t.elapsed().as_secs_f64() * 1000.0);
            total = format!("{}{}", p.total, if p.total_exact { "" } else { "+" });
        }
        let verdict = if best < TARGET_MS { "PASS" } else { "MISS" };
        println!("{name:<30} {total:>10} {best:>10.1}  {verdict}");
    }

    drop(meta);
    drop(store);
    if std::env::var_os("BENCH_KEEP_DB").is_some() {
        println!("kept the database {db} (BENCH_KEEP_DB)");
    } else {
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}
