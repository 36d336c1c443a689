//! Migrations: applied once even when instances start together, and checksummed.

use server::config::Settings;
use tokio_postgres::NoTls;

use crate::helpers::{admin_url, cleanup, drop_pg_database, url_for};

/// An empty database (not cloned from the migrated template), dropped at the end.
struct EmptyDb(String);

impl EmptyDb {
    async fn new() -> Self {
        let name = format!("sluice_test_empty_{}", uuid::Uuid::now_v7().simple());
        let (c, conn) = tokio_postgres::connect(&admin_url(), NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self(name)
    }
}

impl Drop for EmptyDb {
    fn drop(&mut self) {
        let name = self.0.clone();
        cleanup(async move { drop_pg_database(&name).await });
    }
}

fn store(db: &EmptyDb) -> store_postgres::PgStore {
    server::startup::open_store(&Settings {
        database_url: url_for(&db.0),
        ..Settings::default()
    })
    .unwrap()
}

#[tokio::test]
async fn instances_starting_together_apply_each_migration_once() {
    let db = EmptyDb::new().await;
    let stores: Vec<_> = (0..4).map(|_| store(&db)).collect();
    let reports = futures_util::future::join_all(stores.iter().map(|s| s.migrate())).await;
    let applied: usize = reports
        .into_iter()
        .map(|r| r.expect("every instance starts").applied.len())
        .sum();
    assert_eq!(
        applied,
        store_postgres::MIGRATIONS.len(),
        "each migration was applied by exactly one instance"
    );

    let (c, conn) = tokio_postgres::connect(&url_for(&db.0), NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows: i64 = c
        .query_one("SELECT count(*) FROM sluice_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, store_postgres::MIGRATIONS.len());
    assert_eq!(
        stores[0].readiness().await,
        store_postgres::Readiness::Ready
    );
}

#[tokio::test]
async fn an_edited_migration_stops_start_up() {
    let db = EmptyDb::new().await;
    let s = store(&db);
    s.migrate().await.unwrap();
    let (c, conn) = tokio_postgres::connect(&url_for(&db.0), NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute("UPDATE sluice_migrations SET checksum = 'edited' WHERE version = 1")
        .await
        .unwrap();
    let err = s.migrate().await.unwrap_err();
    let text = format!("{:#}", anyhow::Error::from(err));
    assert!(
        text.contains("migration 1") && text.contains("checksum"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unmigrated_database_is_not_ready() {
    let db = EmptyDb::new().await;
    assert!(matches!(
        store(&db).readiness().await,
        store_postgres::Readiness::MigrationsPending(_)
    ));
}
