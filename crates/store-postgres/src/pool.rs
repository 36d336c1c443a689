//! The connection pool of the metadata database, and its readiness check.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Connect, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use crate::migrate;

/// Why the store could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the metadata database URL is not valid: {0}")]
    InvalidUrl(String),
    #[error("cannot reach the metadata database")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Migration(#[from] migrate::MigrationError),
}

/// How to connect to the metadata database.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// A `postgres://` URL or a key=value connection string.
    pub url: String,
    /// Most connections the pool opens.
    pub max_connections: usize,
    /// How long to wait for a new connection to be established.
    pub connect_timeout: Duration,
    /// How long a request waits for a free connection before it fails.
    pub acquire_timeout: Duration,
}

/// The metadata store: a bounded pool of connections.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: Pool,
    config: tokio_postgres::Config,
}

/// What `/readyz` reports about the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Unreachable,
    /// Reachable, but these migrations (versions) are not applied yet.
    MigrationsPending(Vec<i32>),
}

/// Opens metadata connections on the runtime the store was built on, whichever task asks.
/// actix runs each HTTP worker on a runtime of its own; a connection opened from a request
/// would have its socket and driver there, and die when the worker stops at shutdown, just
/// when the audit writer and the `lastUsedAt` flush still need the database.
struct OnHomeRuntime {
    home: tokio::runtime::Handle,
}

impl Connect for OnHomeRuntime {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>>
    {
        let config = pg_config.clone();
        let fallback = pg_config.clone();
        let home = self.home.clone();
        Box::pin(async move {
            let opened = home.spawn(async move {
                let (client, connection) = config.connect(NoTls).await?;
                let driver = tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "a metadata connection ended");
                    }
                });
                Ok((client, driver))
            });
            match opened.await {
                Ok(result) => result,
                // The home runtime is gone (the process is ending): open it here instead.
                Err(_) => {
                    let (client, connection) = fallback.connect(NoTls).await?;
                    let driver = tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    Ok((client, driver))
                }
            }
        })
    }
}

impl PgStore {
    /// Builds the pool. No connection is made until one is needed.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] when the URL cannot be parsed (the message never contains
    /// the password: the parser's own text is not passed on).
    pub fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(&settings.url).map_err(|_| {
            StoreError::InvalidUrl(
                "expected postgres://user:password@host:port/database or key=value pairs".into(),
            )
        })?;
        config.connect_timeout(settings.connect_timeout);
        config.application_name("sluice");
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tokio::runtime::Handle::try_current() {
            Ok(home) => {
                Manager::from_connect(config.clone(), OnHomeRuntime { home }, manager_config)
            }
            Err(_) => Manager::from_config(config.clone(), NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(settings.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.acquire_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .build()
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        Ok(Self { pool, config })
    }

    /// The connection settings, for connections of their own (the change feed).
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The pool, for the repositories of this crate.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Takes a connection, checking that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Unreachable`].
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unreachable(Box::new(e)))?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| StoreError::Unreachable(Box::new(e)))?;
        Ok(())
    }

    /// Applies pending migrations (see [`crate::MIGRATIONS`]).
    ///
    /// # Errors
    /// [`StoreError::Unreachable`] or [`StoreError::Migration`].
    pub async fn migrate(&self) -> Result<migrate::MigrationReport, StoreError> {
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unreachable(Box::new(e)))?;
        Ok(migrate::apply(&mut client).await?)
    }

    /// Whether the database answers and every migration is applied.
    pub async fn readiness(&self) -> Readiness {
        let Ok(client) = self.pool.get().await else {
            return Readiness::Unreachable;
        };
        match migrate::pending(&client).await {
            Ok(pending) if pending.is_empty() => Readiness::Ready,
            Ok(pending) => Readiness::MigrationsPending(pending),
            Err(_) => Readiness::Unreachable,
        }
    }

    /// Connections open and idle, and the pool's limit.
    pub fn pool_status(&self) -> (usize, usize, usize) {
        let s = self.pool.status();
        (s.size, s.available, s.max_size)
    }
}
