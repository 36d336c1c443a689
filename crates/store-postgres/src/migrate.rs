//! Migrations of the metadata store: embedded in the binary, applied in order, each once,
//! checksummed, under an advisory lock so that instances starting together apply them once.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

/// One migration: a version, a name and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the SQL text, hex.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// Every migration, in order. A test checks this list against the files in `migrations/`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("../../../migrations/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "db_configs",
        sql: include_str!("../../../migrations/0002_db_configs.sql"),
    },
    Migration {
        version: 3,
        name: "mcp_keys",
        sql: include_str!("../../../migrations/0003_mcp_keys.sql"),
    },
    Migration {
        version: 4,
        name: "semantic",
        sql: include_str!("../../../migrations/0004_semantic.sql"),
    },
    Migration {
        version: 5,
        name: "audit",
        sql: include_str!("../../../migrations/0005_audit.sql"),
    },
    Migration {
        version: 6,
        name: "audit_search",
        sql: include_str!("../../../migrations/0006_audit_search.sql"),
    },
    Migration {
        version: 7,
        name: "audit_search_at_read_time",
        sql: include_str!("../../../migrations/0007_audit_search_at_read_time.sql"),
    },
    Migration {
        version: 8,
        name: "audit_word_batches",
        sql: include_str!("../../../migrations/0008_audit_word_batches.sql"),
    },
    Migration {
        version: 9,
        name: "audit_fewer_indexes",
        sql: include_str!("../../../migrations/0009_audit_fewer_indexes.sql"),
    },
    Migration {
        version: 10,
        name: "audit_ascending_indexes",
        sql: include_str!("../../../migrations/0010_audit_ascending_indexes.sql"),
    },
    Migration {
        version: 11,
        name: "audit_counts",
        sql: include_str!("../../../migrations/0011_audit_counts.sql"),
    },
];

/// Taken (per database) while migrating; an arbitrary constant ("sluice" in ASCII).
const LOCK_KEY: i64 = 0x736c_7569_6365;

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "migration {version} ({name}) was changed after it was applied: its checksum differs from the one recorded"
    )]
    ChecksumMismatch { version: i32, name: String },
    #[error(
        "the database has migration {0}, which this Sluice does not know: it was migrated by a newer version"
    )]
    UnknownVersion(i32),
    #[error("migration {version} ({name}) failed")]
    Failed {
        version: i32,
        name: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("the migration bookkeeping failed")]
    Database(#[from] tokio_postgres::Error),
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run.
    pub applied: Vec<i32>,
    /// Versions that were already applied.
    pub already_applied: usize,
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS sluice_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

pub(crate) async fn apply(client: &mut Client) -> Result<MigrationReport, MigrationError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    tx.batch_execute(CREATE_TABLE).await?;
    let rows = tx
        .query(
            "SELECT version, name, checksum FROM sluice_migrations ORDER BY version",
            &[],
        )
        .await?;
    let mut applied_versions = Vec::with_capacity(rows.len());
    for row in &rows {
        let version: i32 = row.get(0);
        let name: String = row.get(1);
        let checksum: String = row.get(2);
        let known = MIGRATIONS
            .iter()
            .find(|m| m.version == version)
            .ok_or(MigrationError::UnknownVersion(version))?;
        if known.checksum() != checksum {
            return Err(MigrationError::ChecksumMismatch { version, name });
        }
        applied_versions.push(version);
    }
    let mut report = MigrationReport {
        applied: Vec::new(),
        already_applied: applied_versions.len(),
    };
    for m in MIGRATIONS
        .iter()
        .filter(|m| !applied_versions.contains(&m.version))
    {
        tx.batch_execute(m.sql)
            .await
            .map_err(|source| MigrationError::Failed {
                version: m.version,
                name: m.name,
                source,
            })?;
        tx.execute(
            "INSERT INTO sluice_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &m.checksum()],
        )
        .await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        report.applied.push(m.version);
    }
    tx.commit().await?;
    Ok(report)
}

/// Versions not applied yet (all of them when the bookkeeping table is missing).
pub(crate) async fn pending(client: &Client) -> Result<Vec<i32>, tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('sluice_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(MIGRATIONS.iter().map(|m| m.version).collect());
    }
    let rows = client
        .query("SELECT version FROM sluice_migrations", &[])
        .await?;
    let applied: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    Ok(MIGRATIONS
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_migrations_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(
            files, listed,
            "MIGRATIONS must list every file of migrations/, in order"
        );
    }
}
