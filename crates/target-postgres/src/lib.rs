//! Adapter: the `TargetDatabase` port for PostgreSQL. It connects to the address the service
//! resolved and checked (`hostaddr`), reads the catalogs in a few set-based queries, and
//! translates driver errors into messages safe to show (never the password). Reads run
//! read-only within their limits (see `read`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use std::sync::Arc;

use async_trait::async_trait;
use db_configs::SslMode;
use db_configs::{
    ColumnInfo, ConnectSpec, ConnectionReport, DbConfigId, ForeignKey, Location, PoolCache,
    QueryPlan, ReadLimits, ReadStatement, RelationEntry, RelationKind, ResultSet, SchemaListing,
    TableInfo, TableName, TargetDatabase, TargetError,
};
use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::lanes::Lanes;
use crate::read::PgPool;

mod decode;
mod explain;
mod lanes;
mod read;
mod tls;

/// PostgreSQL databases, with one bounded pool per stored connection, built on first use,
/// rebuilt when the connection's settings change and closed when it changes or is deleted.
#[derive(Clone)]
pub struct PgTarget {
    pools: Arc<PoolCache<Arc<PgPool>>>,
    max_connections: usize,
}

impl Default for PgTarget {
    fn default() -> Self {
        Self::new(16)
    }
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// Schemas that are never user data.
const SYSTEM_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// Quotes an identifier for PostgreSQL.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn map_error(e: &tokio_postgres::Error, spec: &ConnectSpec) -> TargetError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if code == &SqlState::INVALID_PASSWORD
            || code == &SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return TargetError::AuthenticationFailed(db.message().to_owned());
        }
        if code == &SqlState::INVALID_CATALOG_NAME {
            return TargetError::NotFound(db.message().to_owned());
        }
        return TargetError::Query(db.message().to_owned());
    }
    // Not a server error: I/O, timeout, TLS, protocol. Its text names the cause, not the login.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    if text.contains("timed out") || text.contains("timeout") {
        return TargetError::Timeout(spec.connect_timeout_secs);
    }
    TargetError::Unreachable(text)
}

fn client_config(spec: &ConnectSpec) -> Result<(tokio_postgres::Config, SslMode), TargetError> {
    let Location::Server(endpoint) = &spec.location else {
        return Err(TargetError::Unsupported(
            "a PostgreSQL connection needs a host".into(),
        ));
    };
    let mut config = tokio_postgres::Config::new();
    config
        .host(&endpoint.host)
        .port(endpoint.port)
        .dbname(&endpoint.database)
        .user(&endpoint.username)
        .application_name("sluice")
        .connect_timeout(Duration::from_secs(spec.connect_timeout_secs));
    if let Some(ip) = spec.resolved {
        config.hostaddr(ip);
    }
    if let Some(p) = &spec.password {
        config.password(p.expose());
    }
    config.ssl_mode(match endpoint.ssl {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    Ok((config, endpoint.ssl))
}

/// A one-off connection, for settings that are not stored.
async fn connect_once(spec: &ConnectSpec) -> Result<Client, TargetError> {
    let (config, ssl) = client_config(spec)?;
    let client = match tls::connector(ssl).map_err(TargetError::Unsupported)? {
        None => {
            let (client, connection) = config
                .connect(NoTls)
                .await
                .map_err(|e| map_error(&e, spec))?;
            tokio::spawn(drive(connection));
            client
        }
        Some(tls) => {
            let (client, connection) =
                config.connect(tls).await.map_err(|e| map_error(&e, spec))?;
            tokio::spawn(drive(connection));
            client
        }
    };
    Ok(client)
}

/// Connections of their own kept open for the catalog work of one stored connection (tests,
/// discovery, introspection), which is rare and may take long; reads use the lanes.
const CATALOG_CONNECTIONS: usize = 2;

/// The lanes of a stored connection (at most `max_lanes` sessions) and a small pool of
/// connections of their own, all read-only sessions from the start.
fn build_pool(spec: &ConnectSpec, max_lanes: usize) -> Result<PgPool, TargetError> {
    let (config, ssl) = client_config(spec)?;
    let lanes = Arc::new(Lanes::new(
        config.clone(),
        tls::connector(ssl).map_err(TargetError::Unsupported)?,
        max_lanes,
    ));
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let tls = tls::connector(ssl).map_err(TargetError::Unsupported)?;
    let manager = match tls.clone() {
        None => Manager::from_config(config, NoTls, manager_config),
        Some(tls) => Manager::from_config(config, tls, manager_config),
    };
    let wait = Duration::from_secs(spec.connect_timeout_secs);
    let pool = Pool::builder(manager)
        .max_size(CATALOG_CONNECTIONS.min(max_lanes))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .post_create(Hook::async_fn(|client, _| {
            Box::pin(async move {
                client
                    .batch_execute(read::READ_ONLY_SESSION)
                    .await
                    .map_err(HookError::Backend)
            })
        }))
        .build()
        .map_err(|e| TargetError::Unsupported(e.to_string()))?;
    Ok(PgPool { pool, lanes })
}

/// Why no pooled connection could be had (`Busy` is the caller's to decide).
fn pool_error(e: PoolError, spec: &ConnectSpec) -> TargetError {
    match e {
        PoolError::Backend(e) | PoolError::PostCreateHook(HookError::Backend(e)) => {
            map_error(&e, spec)
        }
        PoolError::Timeout(_) => TargetError::Timeout(spec.connect_timeout_secs),
        other => TargetError::Unreachable(other.to_string()),
    }
}

/// A connection: pooled for a stored connection, one-off otherwise.
enum Conn {
    Pooled(deadpool_postgres::Object),
    Once(Client),
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        match self {
            Self::Pooled(o) => o,
            Self::Once(c) => c,
        }
    }
}

impl PgTarget {
    /// An adapter whose pools hold at most `max_connections` connections per stored
    /// connection.
    pub fn new(max_connections: usize) -> Self {
        Self {
            pools: Arc::default(),
            max_connections: max_connections.max(1),
        }
    }

    /// The pool of a stored connection, built (or rebuilt for new settings) when needed.
    fn pool(&self, spec: &ConnectSpec, id: DbConfigId) -> Result<Arc<PgPool>, TargetError> {
        let (pool, replaced) = self.pools.get_or_build(id, spec.fingerprint(), || {
            build_pool(spec, self.max_connections).map(Arc::new)
        })?;
        if let Some(old) = replaced {
            old.close();
        }
        Ok(pool)
    }

    /// Makes the pool of `spec` take `sql` for a statement that runs fast, as if its runs had
    /// been timed so (only such statements are sent behind others). For tests.
    #[doc(hidden)]
    pub fn assume_fast(&self, spec: &ConnectSpec, sql: &str) -> Result<(), TargetError> {
        let Some(id) = spec.pool_key else {
            return Err(TargetError::Unsupported(
                "only stored connections have a pool".into(),
            ));
        };
        self.pool(spec, id)?.lanes.learn(sql, Duration::ZERO);
        Ok(())
    }

    async fn connect(&self, spec: &ConnectSpec) -> Result<Conn, TargetError> {
        let Some(id) = spec.pool_key else {
            return connect_once(spec).await.map(Conn::Once);
        };
        let pool = self.pool(spec, id)?;
        pool.pool
            .get()
            .await
            .map(Conn::Pooled)
            .map_err(|e| pool_error(e, spec))
    }
}

pub(crate) async fn drive(
    connection: impl std::future::Future<Output = Result<(), tokio_postgres::Error>>,
) {
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "target connection closed with an error");
    }
}

#[async_trait]
impl TargetDatabase for PgTarget {
    async fn test(
        &self,
        spec: &ConnectSpec,
        probe: Option<&TableName>,
    ) -> Result<ConnectionReport, TargetError> {
        let started = Instant::now();
        let client = self.connect(spec).await?;
        let row = client
            .query_one(
                "SELECT current_setting('server_version'),
                    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                    has_database_privilege(current_database(), 'CREATE'),
                    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                        AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))",
                &[],
            )
            .await
            .map_err(|e| map_error(&e, spec))?;
        let latency_ms = started.elapsed().as_millis() as u64;
        let server_version: String = row.get(0);
        let superuser: Option<bool> = row.get(1);
        let can_create: bool = row.get(2);
        let writable: i64 = row.get(3);
        let mut warnings = Vec::new();
        if superuser == Some(true) {
            warnings.push(
                "the database user is a superuser: Sluice is safest with a read-only user (see the README)".to_owned(),
            );
        }
        if writable > 0 {
            warnings.push(format!(
                "the database user can write to {writable} table(s): Sluice enforces read-only access itself, but a read-only user adds a layer"
            ));
        }
        if can_create && superuser != Some(true) {
            warnings.push("the database user can create schemas in this database".to_owned());
        }
        let (tested_table, tested_table_accessible) = match probe {
            None => (None, None),
            Some(t) => {
                let sql = match &t.schema {
                    Some(s) => format!(
                        "SELECT 1 FROM {}.{} LIMIT 0",
                        quote_ident(s),
                        quote_ident(&t.name)
                    ),
                    None => format!("SELECT 1 FROM {} LIMIT 0", quote_ident(&t.name)),
                };
                let ok = client.simple_query(&sql).await.is_ok();
                (Some(t.to_string()), Some(ok))
            }
        };
        Ok(ConnectionReport {
            latency_ms,
            server_version,
            tested_table,
            tested_table_accessible,
            warnings,
        })
    }

    async fn discover(&self, spec: &ConnectSpec) -> Result<Vec<SchemaListing>, TargetError> {
        let client = self.connect(spec).await?;
        let sql = format!(
            "SELECT n.nspname, c.relname, c.relkind::text, c.reltuples::bigint
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {SYSTEM_SCHEMAS}
               AND has_schema_privilege(n.oid, 'USAGE')
             ORDER BY n.nspname, c.relname"
        );
        let rows = client
            .query(&sql, &[])
            .await
            .map_err(|e| map_error(&e, spec))?;
        let mut schemas: BTreeMap<String, SchemaListing> = BTreeMap::new();
        for row in rows {
            let schema: String = row.get(0);
            let kind: String = row.get(2);
            let estimate: i64 = row.get(3);
            let entry = RelationEntry {
                name: row.get(1),
                row_count: (estimate >= 0).then_some(estimate),
            };
            let listing = schemas
                .entry(schema.clone())
                .or_insert_with(|| SchemaListing {
                    name: schema,
                    tables: Vec::new(),
                    views: Vec::new(),
                });
            if matches!(kind.as_str(), "v" | "m") {
                listing.views.push(RelationEntry {
                    row_count: None,
                    ..entry
                });
            } else {
                listing.tables.push(entry);
            }
        }
        Ok(schemas.into_values().collect())
    }

    async fn release(&self, id: DbConfigId) {
        if let Some(pool) = self.pools.remove(id) {
            pool.close();
        }
    }

    async fn read(
        &self,
        spec: &ConnectSpec,
        statement: &ReadStatement,
        limits: ReadLimits,
    ) -> Result<ResultSet, TargetError> {
        let wait = Duration::from_secs(spec.connect_timeout_secs);
        let (sql, params) = (&statement.sql, &statement.params);
        let Some(id) = spec.pool_key else {
            let (_, ssl) = client_config(spec)?;
            let tls = tls::connector(ssl).map_err(TargetError::Unsupported)?;
            let client = connect_once(spec).await?;
            return read::read_once(client, sql, params, &limits, tls, wait).await;
        };
        let pool = self.pool(spec, id)?;
        pool.lanes
            .read(sql, params, &limits, wait, |e| map_error(e, spec))
            .await
    }

    fn pool_stats(&self) -> Vec<db_configs::PoolStat> {
        self.pools
            .all()
            .into_iter()
            .map(|(id, pool)| pool.lanes.stat(id))
            .collect()
    }

    async fn explain(
        &self,
        spec: &ConnectSpec,
        statement: &ReadStatement,
        timeout: Duration,
    ) -> Result<QueryPlan, TargetError> {
        let result = self
            .read(
                spec,
                &explain::statement(statement),
                explain::limits(timeout),
            )
            .await?;
        explain::plan(result)
    }

    async fn introspect(&self, spec: &ConnectSpec) -> Result<Vec<TableInfo>, TargetError> {
        let client = self.connect(spec).await?;
        let err = |e: tokio_postgres::Error| map_error(&e, spec);
        let relations = format!(
            "SELECT c.oid, n.nspname, c.relname, c.relkind::text, obj_description(c.oid, 'pg_class'),
                    c.reltuples::bigint
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {SYSTEM_SCHEMAS}
               AND has_schema_privilege(n.oid, 'USAGE')"
        );
        let columns = format!(
            "SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                    pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attnum > 0 AND NOT a.attisdropped
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {SYSTEM_SCHEMAS}
             ORDER BY a.attrelid, a.attnum"
        );
        let constraints = format!(
            "SELECT k.conrelid, k.contype::text, k.conname,
                    ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
                    rn.nspname::text, rc.relname::text,
                    ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                          JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
             FROM pg_constraint k
             JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_class rc ON rc.oid = k.confrelid
             LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE k.contype IN ('p', 'f') AND {SYSTEM_SCHEMAS}
             ORDER BY k.conrelid, k.conname"
        );
        let (rel_rows, col_rows, con_rows) = tokio::try_join!(
            client.query(&relations, &[]),
            client.query(&columns, &[]),
            client.query(&constraints, &[]),
        )
        .map_err(err)?;
        let mut by_oid: HashMap<u32, TableInfo> = HashMap::with_capacity(rel_rows.len());
        for r in rel_rows {
            let kind: String = r.get(3);
            let estimate: i64 = r.get(5);
            let is_view = matches!(kind.as_str(), "v" | "m");
            by_oid.insert(
                r.get(0),
                TableInfo {
                    schema: r.get(1),
                    name: r.get(2),
                    kind: if is_view {
                        RelationKind::View
                    } else {
                        RelationKind::Table
                    },
                    comment: r.get(4),
                    row_estimate: (!is_view && estimate >= 0).then_some(estimate),
                    columns: Vec::new(),
                    primary_key: Vec::new(),
                    foreign_keys: Vec::new(),
                },
            );
        }
        for r in col_rows {
            if let Some(t) = by_oid.get_mut(&r.get::<_, u32>(0)) {
                t.columns.push(ColumnInfo {
                    name: r.get(1),
                    data_type: r.get(2),
                    nullable: r.get(3),
                    default: r.get(4),
                    comment: r.get(5),
                });
            }
        }
        for r in con_rows {
            let Some(t) = by_oid.get_mut(&r.get::<_, u32>(0)) else {
                continue;
            };
            let kind: String = r.get(1);
            let cols: Vec<String> = r.get(3);
            if kind == "p" {
                t.primary_key = cols;
            } else {
                t.foreign_keys.push(ForeignKey {
                    name: r.get(2),
                    columns: cols,
                    referenced_schema: r.get::<_, Option<String>>(4).unwrap_or_default(),
                    referenced_table: r.get::<_, Option<String>>(5).unwrap_or_default(),
                    referenced_columns: r.get(6),
                });
            }
        }
        let mut tables: Vec<TableInfo> = by_oid.into_values().collect();
        tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        Ok(tables)
    }
}
