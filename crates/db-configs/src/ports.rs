//! Ports: where connections are kept, and how a provider's database is reached.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{
    ConnectSpec, ConnectionReport, DbConfig, DbConfigError, DbConfigId, ListFilter, Provider,
    QueryPlan, ReadLimits, ReadStatement, ResultSet, SchemaListing, SchemaSnapshot, StoredDbConfig,
    TableInfo, TableName, TargetError,
};

/// Keeps database connections and their schema snapshots.
#[async_trait]
pub trait DbConfigRepository: Send + Sync + 'static {
    /// Stores a new connection. When it is primary, every other connection stops being primary
    /// in the same transaction.
    ///
    /// # Errors
    /// [`DbConfigError::NameTaken`] when a live connection has the name (case-insensitive),
    /// [`DbConfigError::Unavailable`].
    async fn create(
        &self,
        config: &DbConfig,
        sealed_password: Option<&[u8]>,
    ) -> Result<(), DbConfigError>;

    /// A connection by id, deleted or not.
    ///
    /// # Errors
    /// [`DbConfigError::Unavailable`].
    async fn get(&self, id: DbConfigId) -> Result<Option<StoredDbConfig>, DbConfigError>;

    /// Connections, oldest first.
    ///
    /// # Errors
    /// [`DbConfigError::Unavailable`].
    async fn list(&self, filter: ListFilter) -> Result<Vec<DbConfig>, DbConfigError>;

    /// Replaces the mutable fields of a live connection (and clears other primaries when it is
    /// primary).
    ///
    /// # Errors
    /// [`DbConfigError::NotFound`] when it does not exist or is deleted,
    /// [`DbConfigError::NameTaken`], [`DbConfigError::Unavailable`].
    async fn update(
        &self,
        config: &DbConfig,
        sealed_password: Option<&[u8]>,
    ) -> Result<(), DbConfigError>;

    /// Marks a live connection deleted. Returns false when there was none.
    ///
    /// # Errors
    /// [`DbConfigError::Unavailable`].
    async fn soft_delete(&self, id: DbConfigId, now: OffsetDateTime)
    -> Result<bool, DbConfigError>;

    /// Stores a schema snapshot, replacing the previous one.
    ///
    /// # Errors
    /// [`DbConfigError::Unavailable`].
    async fn save_snapshot(
        &self,
        id: DbConfigId,
        snapshot: &SchemaSnapshot,
    ) -> Result<(), DbConfigError>;

    /// The stored snapshot, if any.
    ///
    /// # Errors
    /// [`DbConfigError::Unavailable`].
    async fn snapshot(&self, id: DbConfigId) -> Result<Option<SchemaSnapshot>, DbConfigError>;

    /// Live, active connections whose snapshot is missing or older than `refreshed_before`.
    ///
    /// # Errors
    /// [`DbConfigError::Unavailable`].
    async fn stale(
        &self,
        refreshed_before: OffsetDateTime,
    ) -> Result<Vec<DbConfigId>, DbConfigError>;
}

/// Talks to one provider's databases.
#[async_trait]
pub trait TargetDatabase: Send + Sync + 'static {
    /// Connects, reads the server version, checks whether the login can write, and (with a
    /// `probe`) whether that table can be read.
    ///
    /// # Errors
    /// [`TargetError`] variants with messages safe to show an administrator.
    async fn test(
        &self,
        spec: &ConnectSpec,
        probe: Option<&TableName>,
    ) -> Result<ConnectionReport, TargetError>;

    /// Lists schemas with their tables and views and row counts (estimates where the provider
    /// has them).
    ///
    /// # Errors
    /// As [`TargetDatabase::test`].
    async fn discover(&self, spec: &ConnectSpec) -> Result<Vec<SchemaListing>, TargetError>;

    /// Reads every table and view with columns, keys, comments and row estimates.
    ///
    /// # Errors
    /// As [`TargetDatabase::test`].
    async fn introspect(&self, spec: &ConnectSpec) -> Result<Vec<TableInfo>, TargetError>;

    /// Runs one read-only statement within `limits`: in a read-only session or transaction,
    /// with a server-side statement timeout, fetching at most `max_rows + 1` rows and stopping
    /// at `max_bytes`. Only stored connections (`spec.pool_key`) are read from.
    ///
    /// # Errors
    /// [`TargetError::QueryTimeout`] when the statement was cancelled, [`TargetError::Busy`]
    /// when no connection came free, [`TargetError::Query`] with the database's message when
    /// the statement failed, other variants as [`TargetDatabase::test`].
    async fn read(
        &self,
        _spec: &ConnectSpec,
        _statement: &ReadStatement,
        _limits: ReadLimits,
    ) -> Result<ResultSet, TargetError> {
        Err(TargetError::Unsupported(
            "this provider cannot run queries yet".into(),
        ))
    }

    /// Asks the database how it would run one read-only statement, without running it
    /// (PostgreSQL `EXPLAIN (FORMAT JSON)`, MySQL/MariaDB `EXPLAIN FORMAT=JSON`, SQLite
    /// `EXPLAIN QUERY PLAN`), with the same read-only session and the same server-side
    /// timeout as [`TargetDatabase::read`]. Only stored connections are explained.
    ///
    /// # Errors
    /// As [`TargetDatabase::read`].
    async fn explain(
        &self,
        _spec: &ConnectSpec,
        _statement: &ReadStatement,
        _timeout: std::time::Duration,
    ) -> Result<QueryPlan, TargetError> {
        Err(TargetError::Unsupported(
            "this provider cannot explain queries yet".into(),
        ))
    }

    /// How busy each stored connection's pool is.
    fn pool_stats(&self) -> Vec<crate::PoolStat> {
        Vec::new()
    }

    /// Closes the pool of a stored connection (it changed or was deleted). The next use
    /// builds a new one.
    async fn release(&self, _id: DbConfigId) {}
}

/// The adapter of each provider.
#[derive(Clone, Default)]
pub struct Targets(HashMap<Provider, Arc<dyn TargetDatabase>>);

impl std::fmt::Debug for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Targets {
    /// Registers the adapter of a provider.
    pub fn with(mut self, provider: Provider, target: Arc<dyn TargetDatabase>) -> Self {
        self.0.insert(provider, target);
        self
    }

    /// How busy every stored connection's pool is, over every provider.
    pub fn pool_stats(&self) -> Vec<crate::PoolStat> {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for target in self.0.values() {
            // MySQL and MariaDB share one adapter.
            if seen.iter().any(|t| Arc::ptr_eq(t, target)) {
                continue;
            }
            seen.push(target.clone());
            out.extend(target.pool_stats());
        }
        out
    }

    /// The adapter of a provider.
    ///
    /// # Errors
    /// [`TargetError::Unsupported`] when none is registered.
    pub fn get(&self, provider: Provider) -> Result<Arc<dyn TargetDatabase>, TargetError> {
        self.0.get(&provider).cloned().ok_or_else(|| {
            TargetError::Unsupported(format!(
                "{} is not supported by this build",
                provider.display_name()
            ))
        })
    }
}
