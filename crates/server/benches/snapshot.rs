//! `make bench`: schema snapshot of a big PostgreSQL database (5,000 tables of 20 columns,
//! with primary keys and comments), through the real adapter and the real metadata store.
//! Target: under 5 s. Prints figures; asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use db_configs::{
    ConnectSpec, DbConfig, DbConfigId, DbConfigRepository, Location, Provider, SchemaSnapshot,
    ServerEndpoint, SslMode, TargetDatabase,
};
use tokio_postgres::NoTls;

mod common;
use common::url_for;

const TABLES: usize = 5_000;
const COLUMNS: usize = 20;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let target_db = format!("sluice_bench_{}", std::process::id());
    let meta_db = format!("{target_db}_meta");
    let (client, conn) = tokio_postgres::connect(&admin, NoTls).await?;
    tokio::spawn(conn);
    for db in [&target_db, &meta_db] {
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await?;
        client
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await?;
    }

    let (target, conn) = tokio_postgres::connect(&url_for(&admin, &target_db), NoTls).await?;
    tokio::spawn(conn);
    let started = Instant::now();
    let cols: String = (1..COLUMNS).map(|i| format!(", c{i} text")).collect();
    // In batches: one transaction creating 5,000 tables runs out of lock slots.
    for first in (1..=TABLES).step_by(250) {
        let last = (first + 249).min(TABLES);
        target
            .batch_execute(&format!(
                "DO $$ BEGIN FOR i IN {first}..{last} LOOP
                   EXECUTE format('CREATE TABLE t%s (id bigint PRIMARY KEY{cols})', i);
                   EXECUTE format('COMMENT ON TABLE t%s IS ''table %s''', i, i);
                 END LOOP; END $$;"
            ))
            .await?;
    }
    println!(
        "setup: {TABLES} tables x {COLUMNS} columns created in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let (host, port) = {
        let c: tokio_postgres::Config = admin.parse()?;
        let host = match c.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        (host, c.get_ports().first().copied().unwrap_or(5432))
    };
    let spec = ConnectSpec {
        provider: Provider::Postgresql,
        location: Location::Server(ServerEndpoint {
            host,
            port,
            database: target_db.clone(),
            username: "postgres".into(),
            ssl: SslMode::Disable,
        }),
        password: None,
        resolved: None,
        connect_timeout_secs: 5,
        pool_key: None,
    };
    let store = server::startup::open_store(&server::config::Settings {
        database_url: url_for(&admin, &meta_db),
        ..Default::default()
    })?;
    store.migrate().await?;
    let repo = Arc::new(store_postgres::PgDbConfigRepository::new(&store));
    let config = DbConfig {
        id: DbConfigId::new(),
        name: "bench".into(),
        description: None,
        provider: Provider::Postgresql,
        location: spec.location.clone(),
        has_password: false,
        allowed_tables: Vec::new(),
        is_primary: false,
        is_active: true,
        created_at: time::OffsetDateTime::now_utc(),
        updated_at: time::OffsetDateTime::now_utc(),
        deleted_at: None,
        schema_refreshed_at: None,
    };
    repo.create(&config, None).await?;

    let mut introspect = Vec::new();
    let mut total = Vec::new();
    let mut tables = 0;
    for _ in 0..3 {
        let t0 = Instant::now();
        let found = target_postgres::PgTarget::default()
            .introspect(&spec)
            .await
            .map_err(anyhow::Error::msg)?;
        let t1 = t0.elapsed();
        tables = found.len();
        let snapshot = SchemaSnapshot {
            tables: found,
            refreshed_at: time::OffsetDateTime::now_utc(),
        };
        repo.save_snapshot(config.id, &snapshot).await?;
        introspect.push(t1);
        total.push(t0.elapsed());
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default().as_secs_f64();
    let json_bytes = {
        let s = repo
            .snapshot(config.id)
            .await?
            .map(|s| serde_json::to_vec(&s.tables).map(|v| v.len()));
        s.transpose()?.unwrap_or(0)
    };
    println!(
        "snapshot: {tables} tables, {} columns, {:.1} MiB as JSON",
        tables * COLUMNS,
        json_bytes as f64 / 1048576.0
    );
    println!(
        "introspect (best of 3):          {:.2} s",
        best(&introspect)
    );
    println!(
        "introspect + store (best of 3):  {:.2} s   target < 5 s   ratio to target {:.2}",
        best(&total),
        best(&total) / 5.0
    );

    drop(target);
    drop(store);
    for db in [&target_db, &meta_db] {
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}
