//! The db-configs ports on PostgreSQL: connections in `db_configs`, snapshots in
//! `db_schema_snapshots`.

use async_trait::async_trait;
use db_configs::{
    DbConfig, DbConfigError, DbConfigId, DbConfigRepository, ListFilter, Location, Provider,
    SchemaSnapshot, StoredDbConfig, TableName,
};
use deadpool_postgres::{GenericClient, Pool};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json;

use crate::PgStore;
use crate::changes::{Change, notify};

/// Connections and snapshots on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgDbConfigRepository {
    pool: Pool,
}

impl PgDbConfigRepository {
    pub fn new(store: &PgStore) -> Self {
        Self {
            pool: store.pool().clone(),
        }
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> DbConfigError {
    DbConfigError::Unavailable(Box::new(e))
}

fn map_write_error(e: tokio_postgres::Error, name: &str) -> DbConfigError {
    match e.as_db_error() {
        Some(db)
            if db.code() == &SqlState::UNIQUE_VIOLATION
                && db.constraint() == Some("db_configs_live_name_key") =>
        {
            DbConfigError::NameTaken(name.to_owned())
        }
        Some(db)
            if db.code() == &SqlState::UNIQUE_VIOLATION
                && db.constraint() == Some("db_configs_one_primary_key") =>
        {
            DbConfigError::invalid(
                "is_primary",
                "another connection was made primary at the same time; retry",
            )
        }
        _ => unavailable(e),
    }
}

const COLUMNS: &str = "c.id, c.name, c.description, c.provider, c.location, c.sealed_password,
    c.allowed_tables, c.is_primary, c.is_active, c.created_at, c.updated_at, c.deleted_at,
    s.refreshed_at";
const FROM: &str = "db_configs c LEFT JOIN db_schema_snapshots s ON s.db_config_id = c.id";

fn provider_from(text: &str) -> Result<Provider, DbConfigError> {
    Provider::parse(text, "provider").map_err(|e| unavailable(std::io::Error::other(e.to_string())))
}

fn stored_from_row(row: &Row) -> Result<StoredDbConfig, DbConfigError> {
    let Json(location): Json<Location> = row.get("location");
    let Json(tables): Json<Vec<String>> = row.get("allowed_tables");
    let allowed_tables = tables
        .iter()
        .map(|t| TableName::parse(t, "allowed_tables"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unavailable(std::io::Error::other(e.to_string())))?;
    let sealed_password: Option<Vec<u8>> = row.get("sealed_password");
    Ok(StoredDbConfig {
        config: DbConfig {
            id: DbConfigId::from_uuid(row.get("id")),
            name: row.get("name"),
            description: row.get("description"),
            provider: provider_from(row.get("provider"))?,
            location,
            has_password: sealed_password.is_some(),
            allowed_tables,
            is_primary: row.get("is_primary"),
            is_active: row.get("is_active"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
            deleted_at: row.get("deleted_at"),
            schema_refreshed_at: row.get("refreshed_at"),
        },
        sealed_password,
    })
}

fn tables_json(config: &DbConfig) -> Json<Vec<String>> {
    Json(
        config
            .allowed_tables
            .iter()
            .map(ToString::to_string)
            .collect(),
    )
}

async fn clear_other_primaries(
    client: &impl GenericClient,
    config: &DbConfig,
) -> Result<(), DbConfigError> {
    if config.is_primary {
        client
            .execute(
                "UPDATE db_configs SET is_primary = false WHERE is_primary AND id <> $1",
                &[&config.id.as_uuid()],
            )
            .await
            .map_err(unavailable)?;
    }
    Ok(())
}

#[async_trait]
impl DbConfigRepository for PgDbConfigRepository {
    #[tracing::instrument(skip_all, fields(id = %config.id))]
    async fn create(
        &self,
        config: &DbConfig,
        sealed_password: Option<&[u8]>,
    ) -> Result<(), DbConfigError> {
        const SQL: &str = "INSERT INTO db_configs (id, name, description, provider, location,
            sealed_password, allowed_tables, is_primary, is_active, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)";
        let mut c = self.pool.get().await.map_err(unavailable)?;
        let tx = c.transaction().await.map_err(unavailable)?;
        clear_other_primaries(&tx, config).await?;
        tx.execute(
            SQL,
            &[
                &config.id.as_uuid(),
                &config.name,
                &config.description,
                &config.provider.as_str(),
                &Json(&config.location),
                &sealed_password,
                &tables_json(config),
                &config.is_primary,
                &config.is_active,
                &config.created_at,
            ],
        )
        .await
        .map_err(|e| map_write_error(e, &config.name))?;
        tx.commit().await.map_err(unavailable)
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn get(&self, id: DbConfigId) -> Result<Option<StoredDbConfig>, DbConfigError> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = $1");
        let c = self.pool.get().await.map_err(unavailable)?;
        let stmt = c.prepare_cached(&sql).await.map_err(unavailable)?;
        let row = c
            .query_opt(&stmt, &[&id.as_uuid()])
            .await
            .map_err(unavailable)?;
        row.as_ref().map(stored_from_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self, filter: ListFilter) -> Result<Vec<DbConfig>, DbConfigError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM}
             WHERE ($1 OR c.deleted_at IS NULL) AND (NOT $2 OR c.is_active)
             ORDER BY c.created_at, c.id"
        );
        let c = self.pool.get().await.map_err(unavailable)?;
        let rows = c
            .query(&sql, &[&filter.include_deleted, &filter.active_only])
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| stored_from_row(r).map(|s| s.config))
            .collect()
    }

    #[tracing::instrument(skip_all, fields(id = %config.id))]
    async fn update(
        &self,
        config: &DbConfig,
        sealed_password: Option<&[u8]>,
    ) -> Result<(), DbConfigError> {
        const SQL: &str = "UPDATE db_configs SET name = $2, description = $3, provider = $4,
            location = $5, sealed_password = $6, allowed_tables = $7, is_primary = $8,
            is_active = $9, updated_at = $10
            WHERE id = $1 AND deleted_at IS NULL";
        let mut c = self.pool.get().await.map_err(unavailable)?;
        let tx = c.transaction().await.map_err(unavailable)?;
        clear_other_primaries(&tx, config).await?;
        let n = tx
            .execute(
                SQL,
                &[
                    &config.id.as_uuid(),
                    &config.name,
                    &config.description,
                    &config.provider.as_str(),
                    &Json(&config.location),
                    &sealed_password,
                    &tables_json(config),
                    &config.is_primary,
                    &config.is_active,
                    &config.updated_at,
                ],
            )
            .await
            .map_err(|e| map_write_error(e, &config.name))?;
        if n == 0 {
            return Err(DbConfigError::NotFound(config.id.to_string()));
        }
        notify(&tx, Change::DbConfig(config.id.as_uuid()))
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn soft_delete(
        &self,
        id: DbConfigId,
        now: OffsetDateTime,
    ) -> Result<bool, DbConfigError> {
        const SQL: &str =
            "UPDATE db_configs SET deleted_at = $2, is_primary = false, updated_at = $2
            WHERE id = $1 AND deleted_at IS NULL";
        let c = self.pool.get().await.map_err(unavailable)?;
        let deleted = c
            .execute(SQL, &[&id.as_uuid(), &now])
            .await
            .map_err(unavailable)?
            == 1;
        if deleted {
            notify(&c, Change::DbConfig(id.as_uuid()))
                .await
                .map_err(unavailable)?;
        }
        Ok(deleted)
    }

    #[tracing::instrument(skip_all, fields(id = %id, tables = snapshot.tables.len()))]
    async fn save_snapshot(
        &self,
        id: DbConfigId,
        snapshot: &SchemaSnapshot,
    ) -> Result<(), DbConfigError> {
        const SQL: &str = "INSERT INTO db_schema_snapshots (db_config_id, refreshed_at, tables)
            VALUES ($1, $2, $3)
            ON CONFLICT (db_config_id) DO UPDATE SET refreshed_at = $2, tables = $3";
        let c = self.pool.get().await.map_err(unavailable)?;
        c.execute(
            SQL,
            &[
                &id.as_uuid(),
                &snapshot.refreshed_at,
                &Json(&snapshot.tables),
            ],
        )
        .await
        .map_err(unavailable)?;
        notify(&c, Change::DbConfig(id.as_uuid()))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn snapshot(&self, id: DbConfigId) -> Result<Option<SchemaSnapshot>, DbConfigError> {
        const SQL: &str =
            "SELECT refreshed_at, tables FROM db_schema_snapshots WHERE db_config_id = $1";
        let c = self.pool.get().await.map_err(unavailable)?;
        let row = c
            .query_opt(SQL, &[&id.as_uuid()])
            .await
            .map_err(unavailable)?;
        Ok(row.map(|r| {
            let Json(tables) = r.get(1);
            SchemaSnapshot {
                refreshed_at: r.get(0),
                tables,
            }
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn stale(
        &self,
        refreshed_before: OffsetDateTime,
    ) -> Result<Vec<DbConfigId>, DbConfigError> {
        let sql = format!(
            "SELECT c.id FROM {FROM}
             WHERE c.deleted_at IS NULL AND c.is_active
               AND (s.refreshed_at IS NULL OR s.refreshed_at < $1)
             ORDER BY s.refreshed_at NULLS FIRST"
        );
        let c = self.pool.get().await.map_err(unavailable)?;
        let rows = c
            .query(&sql, &[&refreshed_before])
            .await
            .map_err(unavailable)?;
        Ok(rows
            .iter()
            .map(|r| DbConfigId::from_uuid(r.get(0)))
            .collect())
    }
}
