//! Adapter: the `TargetDatabase` port for MySQL and MariaDB. It connects to the address the
//! service resolved and checked (TLS, when asked for, still verifies the certificate against
//! the host name), reads `information_schema` in a few set-based queries, and translates
//! driver errors into messages safe to show (never the password). Sessions are read-only;
//! reads run within their limits (see `read`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use std::sync::Arc;

use async_trait::async_trait;
use db_configs::{
    ColumnInfo, ConnectSpec, ConnectionReport, DbConfigId, ForeignKey, Location, PoolCache,
    QueryPlan, ReadLimits, ReadStatement, RelationEntry, RelationKind, ResultSet, SchemaListing,
    SslMode, TableInfo, TableName, TargetDatabase, TargetError,
};
use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, OptsBuilder, Pool, PoolConstraints, PoolOpts, Row, SslOpts};

use crate::read::MyPool;

mod decode;
mod explain;
mod read;

/// MySQL and MariaDB databases, with one bounded pool per stored connection, built on first
/// use, rebuilt when the connection's settings change and closed when it changes or is
/// deleted.
#[derive(Clone)]
pub struct MySqlTarget {
    pools: Arc<PoolCache<Arc<MyPool>>>,
    max_connections: usize,
}

impl Default for MySqlTarget {
    fn default() -> Self {
        Self::new(16)
    }
}

impl std::fmt::Debug for MySqlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlTarget")
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl MySqlTarget {
    /// An adapter whose pools hold at most `max_connections` connections per stored
    /// connection.
    pub fn new(max_connections: usize) -> Self {
        Self {
            pools: Arc::default(),
            max_connections: max_connections.max(1),
        }
    }

    /// The pool of a stored connection, built (or rebuilt for new settings) when needed.
    fn pool(&self, spec: &ConnectSpec, id: DbConfigId) -> Result<Arc<MyPool>, TargetError> {
        let (pool, replaced) = self.pools.get_or_build(id, spec.fingerprint(), || {
            let constraints = PoolConstraints::new(0, self.max_connections).unwrap_or_default();
            let pool_opts = PoolOpts::default()
                .with_constraints(constraints)
                // Idle connections are kept for reuse, like the PostgreSQL pools.
                .with_inactive_connection_ttl(Duration::from_secs(300))
                // No COM_RESET_CONNECTION (a round trip, and it empties the statement cache)
                // each time a connection comes back: reads leave their session as they found
                // it, and a reset would only re-run the setup.
                .with_reset_connection(false);
            let opts = opts(spec)?;
            let pool = Pool::new(OptsBuilder::from_opts(opts.clone()).pool_opts(pool_opts));
            Ok::<_, TargetError>(Arc::new(MyPool::new(pool, opts, self.max_connections)))
        })?;
        if let Some(old) = replaced {
            tokio::spawn(old.pool.clone().disconnect());
        }
        Ok(pool)
    }

    async fn pooled(&self, pool: &MyPool, spec: &ConnectSpec) -> Result<Conn, TargetError> {
        let limit = Duration::from_secs(spec.connect_timeout_secs);
        match tokio::time::timeout(limit, pool.pool.get_conn()).await {
            Ok(result) => result.map_err(|e| map_error(e, spec)),
            Err(_) => Err(TargetError::Timeout(spec.connect_timeout_secs)),
        }
    }

    async fn connect(&self, spec: &ConnectSpec) -> Result<Conn, TargetError> {
        let Some(id) = spec.pool_key else {
            return connect(spec).await;
        };
        let pool = self.pool(spec, id)?;
        self.pooled(&pool, spec).await
    }
}

/// Schemas that are never user data.
const SYSTEM_SCHEMAS: &str = "('mysql', 'information_schema', 'performance_schema', 'sys')";

/// Quotes an identifier for MySQL.
pub fn quote_ident(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

fn map_error(e: mysql_async::Error, spec: &ConnectSpec) -> TargetError {
    match e {
        mysql_async::Error::Server(s) => match s.code {
            // ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR
            1045 | 1044 => TargetError::AuthenticationFailed(s.message),
            // ER_BAD_DB_ERROR
            1049 => TargetError::NotFound(s.message),
            _ => TargetError::Query(s.message),
        },
        mysql_async::Error::Io(io) => {
            let text = io.to_string();
            if text.contains("timed out") {
                TargetError::Timeout(spec.connect_timeout_secs)
            } else {
                TargetError::Unreachable(text)
            }
        }
        other => TargetError::Unreachable(other.to_string()),
    }
}

fn opts(spec: &ConnectSpec) -> Result<mysql_async::Opts, TargetError> {
    let Location::Server(endpoint) = &spec.location else {
        return Err(TargetError::Unsupported(
            "a MySQL connection needs a host".into(),
        ));
    };
    let address = spec
        .resolved
        .map_or_else(|| endpoint.host.clone(), |ip| ip.to_string());
    let mut opts = OptsBuilder::default()
        .ip_or_hostname(address)
        .tcp_port(endpoint.port)
        .user(Some(endpoint.username.clone()))
        .db_name(Some(endpoint.database.clone()))
        .prefer_socket(false)
        .stmt_cache_size(read::MAX_CACHED_STATEMENTS)
        .setup(read::SESSION_SETUP.map(str::to_owned).to_vec());
    if let Some(p) = &spec.password {
        opts = opts.pass(Some(p.expose().to_owned()));
    }
    let ssl = match endpoint.ssl {
        SslMode::Disable | SslMode::Prefer => None,
        SslMode::Require => Some(SslOpts::default().with_danger_accept_invalid_certs(true)),
        SslMode::VerifyCa => Some(SslOpts::default().with_danger_skip_domain_validation(true)),
        SslMode::VerifyFull => {
            Some(SslOpts::default().with_danger_tls_hostname_override(Some(endpoint.host.clone())))
        }
    };
    Ok(opts.ssl_opts(ssl).into())
}

/// A one-off connection, for settings that are not stored.
async fn connect(spec: &ConnectSpec) -> Result<Conn, TargetError> {
    let limit = Duration::from_secs(spec.connect_timeout_secs);
    match tokio::time::timeout(limit, Conn::new(opts(spec)?)).await {
        Ok(result) => result.map_err(|e| map_error(e, spec)),
        Err(_) => Err(TargetError::Timeout(spec.connect_timeout_secs)),
    }
}

/// Ends a connection: a pooled one goes back to its pool, a one-off one is closed.
async fn close(conn: Conn, spec: &ConnectSpec) {
    if spec.pool_key.is_none() {
        let _ = conn.disconnect().await;
    }
}

fn text(row: &Row, i: usize) -> Option<String> {
    row.get_opt::<Option<String>, usize>(i)
        .and_then(Result::ok)
        .flatten()
}

fn number(row: &Row, i: usize) -> Option<i64> {
    row.get_opt::<Option<i64>, usize>(i)
        .and_then(Result::ok)
        .flatten()
}

#[async_trait]
impl TargetDatabase for MySqlTarget {
    async fn test(
        &self,
        spec: &ConnectSpec,
        probe: Option<&TableName>,
    ) -> Result<ConnectionReport, TargetError> {
        let started = Instant::now();
        let mut conn = self.connect(spec).await?;
        let version: Option<String> = conn
            .query_first("SELECT VERSION()")
            .await
            .map_err(|e| map_error(e, spec))?;
        let latency_ms = started.elapsed().as_millis() as u64;
        let grants: Vec<String> = conn
            .query("SHOW GRANTS")
            .await
            .map_err(|e| map_error(e, spec))?;
        let mut warnings = Vec::new();
        let upper: Vec<String> = grants.iter().map(|g| g.to_ascii_uppercase()).collect();
        if upper
            .iter()
            .any(|g| g.contains(" ON *.*") && (g.contains("ALL PRIVILEGES") || g.contains("SUPER")))
        {
            warnings.push(
                "the database user has global administrative privileges: Sluice is safest with a read-only user (see the README)".to_owned(),
            );
        }
        let writes = [
            "ALL PRIVILEGES",
            "INSERT",
            "UPDATE",
            "DELETE",
            "DROP",
            "ALTER",
            "CREATE",
        ];
        if upper
            .iter()
            .any(|g| g.starts_with("GRANT") && writes.iter().any(|w| g.contains(w)))
        {
            warnings.push(
                "the database user can write: Sluice enforces read-only access itself, but a read-only user adds a layer".to_owned(),
            );
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
                let ok = conn.query_drop(sql).await.is_ok();
                (Some(t.to_string()), Some(ok))
            }
        };
        close(conn, spec).await;
        Ok(ConnectionReport {
            latency_ms,
            server_version: version.unwrap_or_default(),
            tested_table,
            tested_table_accessible,
            warnings,
        })
    }

    async fn discover(&self, spec: &ConnectSpec) -> Result<Vec<SchemaListing>, TargetError> {
        let mut conn = self.connect(spec).await?;
        let sql = format!(
            "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), CAST(TABLE_TYPE AS CHAR),
                    CAST(TABLE_ROWS AS SIGNED)
             FROM information_schema.TABLES
             WHERE TABLE_SCHEMA NOT IN {SYSTEM_SCHEMAS}
             ORDER BY TABLE_SCHEMA, TABLE_NAME"
        );
        let rows: Vec<Row> = conn.query(sql).await.map_err(|e| map_error(e, spec))?;
        close(conn, spec).await;
        let mut schemas: BTreeMap<String, SchemaListing> = BTreeMap::new();
        for row in rows {
            let schema = text(&row, 0).unwrap_or_default();
            let name = text(&row, 1).unwrap_or_default();
            let is_view = text(&row, 2).is_some_and(|t| t.contains("VIEW"));
            let listing = schemas
                .entry(schema.clone())
                .or_insert_with(|| SchemaListing {
                    name: schema,
                    tables: Vec::new(),
                    views: Vec::new(),
                });
            if is_view {
                listing.views.push(RelationEntry {
                    name,
                    row_count: None,
                });
            } else {
                listing.tables.push(RelationEntry {
                    name,
                    row_count: number(&row, 3),
                });
            }
        }
        Ok(schemas.into_values().collect())
    }

    async fn release(&self, id: DbConfigId) {
        if let Some(pool) = self.pools.remove(id) {
            let _ = pool.pool.clone().disconnect().await;
        }
    }

    fn pool_stats(&self) -> Vec<db_configs::PoolStat> {
        self.pools
            .all()
            .into_iter()
            .map(|(id, pool)| {
                let in_use = pool.max_connections - pool.permits.available_permits();
                pool.counters.stat(id, pool.max_connections, in_use)
            })
            .collect()
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
            let conn = connect(spec).await?;
            return read::read_once(&opts(spec)?, conn, sql, params, &limits, wait).await;
        };
        let pool = self.pool(spec, id)?;
        let _permit = read::permit(&pool, wait).await?;
        let conn = self.pooled(&pool, spec).await?;
        read::read_pooled(&pool, conn, sql, params, &limits, wait).await
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
        let mut conn = self.connect(spec).await?;
        let err = |e| map_error(e, spec);
        let tables: Vec<Row> = conn
            .query(format!(
                "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), CAST(TABLE_TYPE AS CHAR),
                        CAST(TABLE_COMMENT AS CHAR), CAST(TABLE_ROWS AS SIGNED)
                 FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN {SYSTEM_SCHEMAS}"
            ))
            .await
            .map_err(err)?;
        let columns: Vec<Row> = conn
            .query(format!(
                "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR),
                        CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), CAST(COLUMN_DEFAULT AS CHAR),
                        CAST(COLUMN_COMMENT AS CHAR)
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA NOT IN {SYSTEM_SCHEMAS}
                 ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
            ))
            .await
            .map_err(err)?;
        // KEY_COLUMN_USAGE alone: TABLE_CONSTRAINTS hides rows from logins with table-level
        // grants only (MariaDB), and a primary key is always named PRIMARY.
        let keys: Vec<Row> = conn
            .query(format!(
                "SELECT CAST(k.TABLE_SCHEMA AS CHAR), CAST(k.TABLE_NAME AS CHAR), CAST(k.CONSTRAINT_NAME AS CHAR),
                        CAST(k.COLUMN_NAME AS CHAR), CAST(k.REFERENCED_TABLE_SCHEMA AS CHAR),
                        CAST(k.REFERENCED_TABLE_NAME AS CHAR), CAST(k.REFERENCED_COLUMN_NAME AS CHAR)
                 FROM information_schema.KEY_COLUMN_USAGE k
                 WHERE k.TABLE_SCHEMA NOT IN {SYSTEM_SCHEMAS}
                   AND (k.CONSTRAINT_NAME = 'PRIMARY' OR k.REFERENCED_TABLE_NAME IS NOT NULL)
                 ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"
            ))
            .await
            .map_err(err)?;
        close(conn, spec).await;

        let mut by_name: HashMap<(String, String), TableInfo> =
            HashMap::with_capacity(tables.len());
        for r in &tables {
            let (schema, name) = (
                text(r, 0).unwrap_or_default(),
                text(r, 1).unwrap_or_default(),
            );
            let is_view = text(r, 2).is_some_and(|t| t.contains("VIEW"));
            let comment = text(r, 3).filter(|c| !c.is_empty() && c != "VIEW");
            by_name.insert(
                (schema.clone(), name.clone()),
                TableInfo {
                    schema,
                    name,
                    kind: if is_view {
                        RelationKind::View
                    } else {
                        RelationKind::Table
                    },
                    comment,
                    row_estimate: if is_view { None } else { number(r, 4) },
                    columns: Vec::new(),
                    primary_key: Vec::new(),
                    foreign_keys: Vec::new(),
                },
            );
        }
        for r in &columns {
            let key = (
                text(r, 0).unwrap_or_default(),
                text(r, 1).unwrap_or_default(),
            );
            if let Some(t) = by_name.get_mut(&key) {
                t.columns.push(ColumnInfo {
                    name: text(r, 2).unwrap_or_default(),
                    data_type: text(r, 3).unwrap_or_default(),
                    nullable: text(r, 4).as_deref() == Some("YES"),
                    default: text(r, 5),
                    comment: text(r, 6).filter(|c| !c.is_empty()),
                });
            }
        }
        for r in &keys {
            let key = (
                text(r, 0).unwrap_or_default(),
                text(r, 1).unwrap_or_default(),
            );
            let Some(t) = by_name.get_mut(&key) else {
                continue;
            };
            let constraint = text(r, 2).unwrap_or_default();
            let column = text(r, 3).unwrap_or_default();
            match text(r, 5) {
                None => t.primary_key.push(column),
                Some(ref_table) => {
                    let ref_column = text(r, 6).unwrap_or_default();
                    match t.foreign_keys.iter_mut().find(|f| f.name == constraint) {
                        Some(fk) => {
                            fk.columns.push(column);
                            fk.referenced_columns.push(ref_column);
                        }
                        None => t.foreign_keys.push(ForeignKey {
                            name: constraint,
                            columns: vec![column],
                            referenced_schema: text(r, 4).unwrap_or_default(),
                            referenced_table: ref_table,
                            referenced_columns: vec![ref_column],
                        }),
                    }
                }
            }
        }
        let mut out: Vec<TableInfo> = by_name.into_values().collect();
        out.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        Ok(out)
    }
}
