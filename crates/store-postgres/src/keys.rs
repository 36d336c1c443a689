//! The keys port on PostgreSQL: `mcp_keys`, announcing changes on the change feed.

use async_trait::async_trait;
use db_configs::DbConfigId;
use deadpool_postgres::Pool;
use keys::{
    KeyError, KeyId, KeyLimits, KeyListing, KeyRepository, McpKey, StoredKey, TablePattern,
};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::PgStore;
use crate::changes::{Change, notify};

/// MCP keys on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgKeyRepository {
    pool: Pool,
}

impl PgKeyRepository {
    pub fn new(store: &PgStore) -> Self {
        Self {
            pool: store.pool().clone(),
        }
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> KeyError {
    KeyError::Unavailable(Box::new(e))
}

const COLUMNS: &str = "k.id, k.name, k.prefix, k.db_config_id, k.allowed_tools, k.table_whitelist,
    k.max_rows, k.timeout_ms, k.rate_limit_per_minute, k.allowed_origins, k.is_active,
    k.created_at, k.updated_at, k.expires_at, k.revoked_at, k.last_used_at";

fn limit(row: &Row, column: &str) -> Option<u32> {
    row.get::<_, Option<i32>>(column)
        .and_then(|v| u32::try_from(v).ok())
}

fn key_from_row(row: &Row) -> Result<McpKey, KeyError> {
    let Json(tools): Json<Vec<String>> = row.get("allowed_tools");
    let Json(tables): Json<Vec<String>> = row.get("table_whitelist");
    let Json(allowed_origins): Json<Vec<String>> = row.get("allowed_origins");
    let table_whitelist = tables
        .iter()
        .map(|t| TablePattern::parse(t, "table_whitelist"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unavailable(std::io::Error::other(e.to_string())))?;
    Ok(McpKey {
        id: KeyId::from_uuid(row.get("id")),
        name: row.get("name"),
        prefix: row.get("prefix"),
        db_config_id: DbConfigId::from_uuid(row.get("db_config_id")),
        allowed_tools: tools,
        table_whitelist,
        limits: KeyLimits {
            max_rows: limit(row, "max_rows"),
            timeout_ms: limit(row, "timeout_ms"),
            rate_limit_per_minute: limit(row, "rate_limit_per_minute"),
        },
        allowed_origins,
        is_active: row.get("is_active"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        expires_at: row.get("expires_at"),
        revoked_at: row.get("revoked_at"),
        last_used_at: row.get("last_used_at"),
    })
}

fn listing_from_row(row: &Row) -> Result<KeyListing, KeyError> {
    Ok(KeyListing {
        key: key_from_row(row)?,
        db_config_name: row.get("db_config_name"),
    })
}

fn to_i32(v: Option<u32>) -> Option<i32> {
    v.map(|v| i32::try_from(v).unwrap_or(i32::MAX))
}

fn strings<T: ToString>(items: &[T]) -> Json<Vec<String>> {
    Json(items.iter().map(ToString::to_string).collect())
}

#[async_trait]
impl KeyRepository for PgKeyRepository {
    #[tracing::instrument(skip_all, fields(id = %key.id))]
    async fn create(&self, key: &McpKey, lookup: &str, hash: &[u8]) -> Result<(), KeyError> {
        const SQL: &str = "INSERT INTO mcp_keys (id, name, lookup, prefix, key_hash, db_config_id,
            allowed_tools, table_whitelist, max_rows, timeout_ms, rate_limit_per_minute,
            allowed_origins, is_active, created_at, updated_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)";
        let c = self.pool.get().await.map_err(unavailable)?;
        c.execute(
            SQL,
            &[
                &key.id.as_uuid(),
                &key.name,
                &lookup,
                &key.prefix,
                &hash,
                &key.db_config_id.as_uuid(),
                &strings(&key.allowed_tools),
                &strings(&key.table_whitelist),
                &to_i32(key.limits.max_rows),
                &to_i32(key.limits.timeout_ms),
                &to_i32(key.limits.rate_limit_per_minute),
                &strings(&key.allowed_origins),
                &key.is_active,
                &key.created_at,
                &key.expires_at,
            ],
        )
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn list(&self) -> Result<Vec<KeyListing>, KeyError> {
        let sql = format!(
            "SELECT {COLUMNS}, c.name AS db_config_name
             FROM mcp_keys k LEFT JOIN db_configs c ON c.id = k.db_config_id
             ORDER BY k.created_at DESC, k.id DESC"
        );
        let c = self.pool.get().await.map_err(unavailable)?;
        let rows = c.query(&sql, &[]).await.map_err(unavailable)?;
        rows.iter().map(listing_from_row).collect()
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn get(&self, id: KeyId) -> Result<Option<KeyListing>, KeyError> {
        let sql = format!(
            "SELECT {COLUMNS}, c.name AS db_config_name
             FROM mcp_keys k LEFT JOIN db_configs c ON c.id = k.db_config_id
             WHERE k.id = $1"
        );
        let c = self.pool.get().await.map_err(unavailable)?;
        let row = c
            .query_opt(&sql, &[&id.as_uuid()])
            .await
            .map_err(unavailable)?;
        row.as_ref().map(listing_from_row).transpose()
    }

    #[tracing::instrument(skip_all, fields(id = %key.id))]
    async fn update(&self, key: &McpKey) -> Result<(), KeyError> {
        const SQL: &str = "UPDATE mcp_keys SET name = $2, allowed_tools = $3,
            table_whitelist = $4, max_rows = $5, timeout_ms = $6, rate_limit_per_minute = $7,
            allowed_origins = $8, is_active = $9, updated_at = $10, expires_at = $11
            WHERE id = $1 AND revoked_at IS NULL";
        let mut c = self.pool.get().await.map_err(unavailable)?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let n = tx
            .execute(
                SQL,
                &[
                    &key.id.as_uuid(),
                    &key.name,
                    &strings(&key.allowed_tools),
                    &strings(&key.table_whitelist),
                    &to_i32(key.limits.max_rows),
                    &to_i32(key.limits.timeout_ms),
                    &to_i32(key.limits.rate_limit_per_minute),
                    &strings(&key.allowed_origins),
                    &key.is_active,
                    &key.updated_at,
                    &key.expires_at,
                ],
            )
            .await
            .map_err(unavailable)?;
        if n == 0 {
            let revoked = tx
                .query_opt("SELECT 1 FROM mcp_keys WHERE id = $1", &[&key.id.as_uuid()])
                .await
                .map_err(unavailable)?
                .is_some();
            return Err(if revoked {
                KeyError::Revoked(key.id.to_string())
            } else {
                KeyError::NotFound(key.id.to_string())
            });
        }
        notify(&tx, Change::Key(key.id.as_uuid()))
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn revoke(&self, id: KeyId, now: OffsetDateTime) -> Result<bool, KeyError> {
        const SQL: &str = "UPDATE mcp_keys
            SET revoked_at = COALESCE(revoked_at, $2), is_active = false,
                updated_at = CASE WHEN revoked_at IS NULL THEN $2 ELSE updated_at END
            WHERE id = $1";
        let mut c = self.pool.get().await.map_err(unavailable)?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let n = tx
            .execute(SQL, &[&id.as_uuid(), &now])
            .await
            .map_err(unavailable)?;
        if n == 0 {
            return Ok(false);
        }
        notify(&tx, Change::Key(id.as_uuid()))
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn find_by_lookup(&self, lookup: &str) -> Result<Option<StoredKey>, KeyError> {
        let sql = format!(
            "SELECT {COLUMNS}, k.key_hash,
                (c.deleted_at IS NULL AND c.is_active) AS connection_usable
             FROM mcp_keys k JOIN db_configs c ON c.id = k.db_config_id
             WHERE k.lookup = $1"
        );
        let c = self.pool.get().await.map_err(unavailable)?;
        let stmt = c.prepare_cached(&sql).await.map_err(unavailable)?;
        let row = c.query_opt(&stmt, &[&lookup]).await.map_err(unavailable)?;
        row.map(|r| {
            Ok(StoredKey {
                key: key_from_row(&r)?,
                hash: r.get("key_hash"),
                connection_usable: r.get("connection_usable"),
            })
        })
        .transpose()
    }

    #[tracing::instrument(skip_all, fields(keys = used.len()))]
    async fn touch_last_used(&self, used: &[(KeyId, OffsetDateTime)]) -> Result<(), KeyError> {
        const SQL: &str = "UPDATE mcp_keys k SET last_used_at = u.at
            FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
            WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)";
        let ids: Vec<Uuid> = used.iter().map(|(id, _)| id.as_uuid()).collect();
        let times: Vec<OffsetDateTime> = used.iter().map(|(_, at)| *at).collect();
        let c = self.pool.get().await.map_err(unavailable)?;
        c.execute(SQL, &[&ids, &times]).await.map_err(unavailable)?;
        Ok(())
    }
}
