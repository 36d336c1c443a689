//! `make bench`: what storing the audit log costs, per event. Events like an agent's
//! `execute_query_safe` calls (a fresh request id each, a customer id in the arguments) are
//! appended through the real store, in batches of the sizes the writer makes under load, into
//! a fresh metadata database. Prints the CPU time PostgreSQL (every `postgres` process: the
//! backend, the WAL writer...) and this process (the batch's words, the hash chain, encoding)
//! spend per event, read from `/proc`. CPU time, unlike throughput, hardly moves with the
//! host's load, so this is the figure to compare schema and writer changes by.
//! `BENCH_WRITE_EVENTS` (default 40,000) sets the events per batch size; `BENCH_WRITE_SQL` is
//! run after the migrations (to price an index, say, before writing its migration).

use std::time::{Duration, Instant};

use audit::{ActorType, AuditEvent, AuditStore as _, Outcome};
use server::config::Settings;
use tokio_postgres::NoTls;

mod common;
use common::url_for;

/// The server's allocator (see `main.rs`), so that this process's CPU per event is what the
/// server spends: under glibc's, allocating took about a tenth of it.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// CPU time (user + system) of the processes whose command is `comm` (`None`: this one).
fn cpu(comm: Option<&str>) -> Duration {
    let ticks = |stat: &str| -> Option<u64> {
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    };
    let total: u64 = match comm {
        None => std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| ticks(&s))
            .unwrap_or(0),
        Some(comm) => std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let dir = entry.path();
                let name = std::fs::read_to_string(dir.join("comm")).ok()?;
                if name.trim_end() != comm {
                    return None;
                }
                ticks(&std::fs::read_to_string(dir.join("stat")).ok()?)
            })
            .sum(),
    };
    // USER_HZ is 100 on Linux.
    Duration::from_millis(total * 10)
}

/// An agent's call as the MCP service records it.
fn event(i: u64, key: uuid::Uuid, db: uuid::Uuid) -> AuditEvent {
    let mut e = AuditEvent::new(ActorType::McpKey, "mcp.query.executed", Outcome::Success);
    e.actor_id = Some("sluice_3fa1c2d4e5f6".into());
    e.key_id = Some(key);
    e.tool_name = Some("execute_query_safe".into());
    e.db_config_id = Some(db);
    e.tables = vec!["public.orders".into()];
    e.duration_ms = Some(3);
    e.row_count = Some(10);
    e.request_id = Some(uuid::Uuid::now_v7().to_string());
    e.client_addr = Some("127.0.0.1".into());
    e.user_agent = Some("python-httpx/0.28.1".into());
    e.arguments = Some(format!(
        r#"{{"tableName":"public.orders","selectColumns":[{{"field":"id"}},{{"field":"customer_id"}},{{"field":"total"}},{{"field":"status"}},{{"field":"created_at"}}],"where":[{{"field":"customer_id","op":"=","value":{}}}],"orderBy":[{{"field":"created_at","direction":"desc"}}],"limit":10}}"#,
        1 + i * 7919 % 1000
    ));
    e
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let per_size: u64 = std::env::var("BENCH_WRITE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40_000);
    let db = format!("sluice_bench_audit_write_{}", std::process::id());
    let (client, conn) = tokio_postgres::connect(&admin, NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await?;
    let store = server::startup::open_store(&Settings {
        database_url: url_for(&admin, &db),
        ..Settings::default()
    })?;
    store.migrate().await?;
    // To price a schema change without a migration: `BENCH_WRITE_SQL="DROP INDEX ..."`.
    if let Ok(sql) = std::env::var("BENCH_WRITE_SQL") {
        let (c, conn) = tokio_postgres::connect(&url_for(&admin, &db), NoTls).await?;
        tokio::spawn(conn);
        c.batch_execute(&sql).await?;
    }
    let audit = store_postgres::PgAuditStore::new(&store);
    let (key, target) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());

    println!(
        "storing audit events ({per_size} per batch size): CPU per event, in µs (the writer \
         lingers 50 ms, so at 9,000 calls/s its batches hold about 450 events)"
    );
    println!(
        "{:>6} {:>12} {:>12} {:>12}",
        "batch", "postgresql", "sluice", "events/s"
    );
    let mut i = 0;
    for batch in [16u64, 45, 180, 500] {
        let events: Vec<AuditEvent> = (0..per_size)
            .map(|_| {
                i += 1;
                event(i, key, target)
            })
            .collect();
        let (pg, me, started) = (cpu(Some("postgres")), cpu(None), Instant::now());
        for chunk in events.chunks(batch as usize) {
            audit.append(chunk).await?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let per = |d: Duration| d.as_secs_f64() * 1e6 / per_size as f64;
        println!(
            "{batch:>6} {:>12.1} {:>12.1} {:>12.0}",
            per(cpu(Some("postgres")).saturating_sub(pg)),
            per(cpu(None).saturating_sub(me)),
            per_size as f64 / elapsed
        );
    }

    drop(audit);
    drop(store);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await?;
    Ok(())
}
