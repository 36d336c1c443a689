//! Running one read-only statement. Sessions are read-only from the moment they connect
//! (`SET SESSION TRANSACTION READ ONLY`), and a statement that returns no columns (`SET`,
//! `INSERT`, `KILL`...) is refused before it runs, so no read can make its session writable.
//! The statement timeout is a session variable (`max_statement_time` on MariaDB,
//! `max_execution_time` on MySQL), set only when a connection's value must change; the
//! statement is prepared once per connection. In the steady state a read is one round trip.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use db_configs::{ReadLimits, ResultColumn, ResultSet, SqlValue, TargetError};
use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, Opts, Params, Pool, Statement, Value};
use tokio::sync::{OnceCell, Semaphore};

use crate::decode::{to_json, type_name};
use db_configs::results::Collector;

/// Run on every new connection (and after a reset): reads only, times in UTC.
pub(crate) const SESSION_SETUP: [&str; 2] = [
    "SET SESSION TRANSACTION READ ONLY",
    "SET SESSION time_zone = '+00:00'",
];

/// Prepared statements a connection keeps at most (least recently used ones are closed).
pub(crate) const MAX_CACHED_STATEMENTS: usize = 256;

/// How long past its own limit a statement may run before the client kills it: the server
/// normally stops it first, this covers a server or network that does not answer.
const BACKSTOP: Duration = Duration::from_secs(1);

/// Which server a pool talks to: they name the statement timeout differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    async fn of(conn: &mut Conn) -> Result<Self, mysql_async::Error> {
        let version: Option<String> = conn.query_first("SELECT VERSION()").await?;
        Ok(match version {
            Some(v) if v.to_ascii_lowercase().contains("mariadb") => Self::MariaDb,
            _ => Self::MySql,
        })
    }

    fn set_timeout(self, ms: u64) -> String {
        match self {
            // Seconds, with a fraction.
            Self::MariaDb => format!(
                "SET SESSION max_statement_time = {}.{:03}",
                ms / 1000,
                ms % 1000
            ),
            // Milliseconds; applies to SELECT statements, which are all a read runs.
            Self::MySql => format!("SET SESSION max_execution_time = {ms}"),
        }
    }
}

/// The pool of a stored connection, with what reads need besides it.
pub(crate) struct MyPool {
    pub(crate) pool: Pool,
    /// To open the connection that kills a runaway statement.
    opts: Opts,
    /// Reads under way at most: the pool's size. Waiting too long for one is `Busy`.
    pub(crate) permits: Semaphore,
    flavor: OnceCell<Flavor>,
    /// The statement timeout (ms) each connection has set, by connection id.
    timeouts: Mutex<HashMap<u32, u64>>,
    pub(crate) max_connections: usize,
    /// Waits for a permit, for `/metrics`.
    pub(crate) counters: db_configs::PoolCounters,
}

impl std::fmt::Debug for MyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MyPool")
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl MyPool {
    pub(crate) fn new(pool: Pool, opts: Opts, max_connections: usize) -> Self {
        Self {
            pool,
            opts,
            permits: Semaphore::new(max_connections),
            flavor: OnceCell::new(),
            timeouts: Mutex::new(HashMap::new()),
            max_connections,
            counters: db_configs::PoolCounters::default(),
        }
    }

    fn timeouts(&self) -> std::sync::MutexGuard<'_, HashMap<u32, u64>> {
        self.timeouts.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn remember_timeout(&self, connection: u32, ms: u64) {
        let mut timeouts = self.timeouts();
        // Closed connections leave entries behind; forgetting all of them only costs each
        // live connection one more SET.
        if timeouts.len() > 2 * self.max_connections + 8 {
            timeouts.clear();
        }
        timeouts.insert(connection, ms);
    }

    fn forget(&self, connection: u32) {
        self.timeouts().remove(&connection);
    }
}

fn param(value: &SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::NULL,
        SqlValue::Bool(b) => Value::Int(i64::from(*b)),
        SqlValue::Int(i) => Value::Int(*i),
        SqlValue::Float(x) => Value::Double(*x),
        SqlValue::Text(s) => Value::Bytes(s.as_bytes().to_vec()),
    }
}

/// The statement timeout of `limits` in milliseconds, at least 1 (0 would mean none).
fn timeout_ms(limits: &ReadLimits) -> u64 {
    limits.timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u64
}

/// The error of a read: the server's message, a stopped statement as a timeout, a refused
/// write said plainly. `None` for errors that are not the server's (the connection broke).
fn read_error(e: &mysql_async::Error, ms: u64) -> Option<TargetError> {
    let mysql_async::Error::Server(s) = e else {
        return None;
    };
    Some(match s.code {
        // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
        1792 => TargetError::Query(format!(
            "the database refused to write, as queries run read-only: {}",
            s.message
        )),
        // MariaDB's ER_STATEMENT_TIMEOUT, MySQL's ER_QUERY_TIMEOUT, ER_QUERY_INTERRUPTED.
        1969 | 3024 | 1317 => TargetError::QueryTimeout(ms),
        _ => TargetError::Query(s.message.clone()),
    })
}

/// Why a read failed before or while its statement ran.
enum Failure {
    Refused(TargetError),
    Driver(mysql_async::Error),
}

impl From<mysql_async::Error> for Failure {
    fn from(e: mysql_async::Error) -> Self {
        Self::Driver(e)
    }
}

/// A statement without result columns is no query (`SET`, `INSERT`, `KILL`, `CALL`...); one
/// with another number of parameters than values cannot run.
fn check_statement(statement: &Statement, values: usize) -> Result<(), Failure> {
    if statement.columns().is_empty() {
        return Err(Failure::Refused(TargetError::Query(
            "only a query that returns rows can be run".into(),
        )));
    }
    let expected = usize::from(statement.num_params());
    if expected != values {
        return Err(Failure::Refused(TargetError::Query(format!(
            "the statement has {expected} parameter(s), but {values} value(s) were given"
        ))));
    }
    Ok(())
}

/// Executes `statement` and reads its rows within `limits`.
async fn fetch(
    conn: &mut Conn,
    statement: &Statement,
    params: &[SqlValue],
    limits: &ReadLimits,
) -> Result<ResultSet, mysql_async::Error> {
    let params = if params.is_empty() {
        Params::Empty
    } else {
        Params::Positional(params.iter().map(param).collect())
    };
    let mut result = conn.exec_iter(statement, params).await?;
    let columns = result.columns().unwrap_or_else(|| statement.columns());
    let mut out = Collector::new(limits);
    while let Some(row) = result.next().await? {
        if out.is_full() {
            out.cut_rows();
            break;
        }
        let values = row
            .unwrap()
            .into_iter()
            .zip(columns.iter())
            .map(|(value, column)| to_json(column, value))
            .collect();
        if !out.push(values) {
            break;
        }
    }
    // Reads and discards what is left, so the connection is ready for the next statement.
    result.drop_result().await?;
    let columns = columns
        .iter()
        .map(|c| ResultColumn {
            name: c.name_str().into_owned(),
            type_name: type_name(c),
        })
        .collect();
    Ok(out.finish(columns))
}

/// Stops what connection `id` is running, from a connection of its own.
async fn kill(opts: &Opts, id: u32, wait: Duration) {
    let killed = tokio::time::timeout(wait, async {
        let mut killer = Conn::new(opts.clone()).await?;
        killer.query_drop(format!("KILL QUERY {id}")).await?;
        killer.disconnect().await
    })
    .await;
    if !matches!(killed, Ok(Ok(()))) {
        tracing::warn!("could not stop a statement that ran past its time limit");
    }
}

/// Closes a connection that must not be used again (not even by its pool).
async fn discard(conn: Conn, wait: Duration) {
    let _ = tokio::time::timeout(wait, conn.disconnect()).await;
}

/// A read on a connection of `pool`.
pub(crate) async fn read_pooled(
    pool: &MyPool,
    mut conn: Conn,
    sql: &str,
    params: &[SqlValue],
    limits: &ReadLimits,
    wait: Duration,
) -> Result<ResultSet, TargetError> {
    let ms = timeout_ms(limits);
    let id = conn.id();
    let known = pool.timeouts().get(&id).copied();
    let work = async {
        if known != Some(ms) {
            let flavor = match pool.flavor.get() {
                Some(f) => *f,
                None => {
                    let f = Flavor::of(&mut conn).await?;
                    *pool.flavor.get_or_init(|| async { f }).await
                }
            };
            conn.query_drop(flavor.set_timeout(ms)).await?;
            pool.remember_timeout(id, ms);
        }
        let statement = conn.prep(sql).await?;
        check_statement(&statement, params.len())?;
        Ok::<_, Failure>(fetch(&mut conn, &statement, params, limits).await?)
    };
    match tokio::time::timeout(limits.timeout + BACKSTOP, work).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(Failure::Refused(e))) => Err(e),
        Ok(Err(Failure::Driver(e))) => match read_error(&e, ms) {
            Some(e) => Err(e),
            None => {
                pool.forget(id);
                discard(conn, wait).await;
                Err(TargetError::Unreachable(e.to_string()))
            }
        },
        Err(_elapsed) => {
            kill(&pool.opts, id, wait).await;
            pool.forget(id);
            discard(conn, wait).await;
            Err(TargetError::QueryTimeout(ms))
        }
    }
}

/// A read on a connection of its own (settings not stored), closed afterwards.
pub(crate) async fn read_once(
    opts: &Opts,
    mut conn: Conn,
    sql: &str,
    params: &[SqlValue],
    limits: &ReadLimits,
    wait: Duration,
) -> Result<ResultSet, TargetError> {
    let ms = timeout_ms(limits);
    let id = conn.id();
    let work = async {
        let flavor = Flavor::of(&mut conn).await?;
        conn.query_drop(flavor.set_timeout(ms)).await?;
        let statement = conn.prep(sql).await?;
        check_statement(&statement, params.len())?;
        Ok::<_, Failure>(fetch(&mut conn, &statement, params, limits).await?)
    };
    let outcome = tokio::time::timeout(limits.timeout + BACKSTOP, work).await;
    if outcome.is_err() {
        kill(opts, id, wait).await;
    }
    discard(conn, wait).await;
    match outcome {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(Failure::Refused(e))) => Err(e),
        Ok(Err(Failure::Driver(e))) => {
            Err(read_error(&e, ms).unwrap_or_else(|| TargetError::Unreachable(e.to_string())))
        }
        Err(_elapsed) => Err(TargetError::QueryTimeout(ms)),
    }
}

/// Waits for one of the pool's read permits; none within `wait` is `Busy`.
pub(crate) async fn permit(
    pool: &MyPool,
    wait: Duration,
) -> Result<tokio::sync::SemaphorePermit<'_>, TargetError> {
    if let Ok(permit) = pool.permits.try_acquire() {
        return Ok(permit);
    }
    let _waiting = pool.counters.wait();
    match tokio::time::timeout(wait, pool.permits.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_closed)) => Err(TargetError::Unreachable(
            "the connection pool was closed".into(),
        )),
        Err(_elapsed) => {
            pool.counters.busy();
            Err(TargetError::Busy)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use db_configs::{
        ConnectSpec, DbConfigId, Location, Provider, ReadStatement, Secret, ServerEndpoint,
        SslMode, TargetDatabase,
    };

    use super::*;
    use crate::MySqlTarget;

    /// The test server (`TEST_MYSQL_URL`) as a stored connection.
    fn spec() -> ConnectSpec {
        let url = std::env::var("TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
        let opts = Opts::from_url(&url).expect("a mysql:// URL");
        ConnectSpec {
            provider: Provider::Mariadb,
            location: Location::Server(ServerEndpoint {
                host: opts.ip_or_hostname().to_owned(),
                port: opts.tcp_port(),
                database: "information_schema".into(),
                username: opts.user().unwrap_or("root").to_owned(),
                ssl: SslMode::Disable,
            }),
            password: opts.pass().map(|p| Secret::new(p.to_owned())),
            resolved: None,
            connect_timeout_secs: 5,
            pool_key: Some(DbConfigId::new()),
        }
    }

    #[tokio::test]
    async fn past_its_limit_a_statement_the_server_let_run_is_killed_by_the_client() {
        let spec = spec();
        let target = MySqlTarget::new(1);
        let pool = target.pool(&spec, spec.pool_key.unwrap()).unwrap();
        {
            // The connection's statement timeout is off, though the pool believes it set.
            let mut conn = target.pooled(&pool, &spec).await.expect("a connection");
            let off = match Flavor::of(&mut conn).await.unwrap() {
                Flavor::MariaDb => "SET SESSION max_statement_time = 0",
                Flavor::MySql => "SET SESSION max_execution_time = 0",
            };
            conn.query_drop(off).await.unwrap();
            pool.remember_timeout(conn.id(), 300);
        }
        let marker = format!("backstop_{}", uuid::Uuid::now_v7().simple());
        let statement = ReadStatement {
            sql: format!("SELECT SLEEP(5) AS {marker}"),
            params: Vec::new(),
        };
        let limits = ReadLimits {
            max_rows: 10,
            max_bytes: 10_000,
            timeout: Duration::from_millis(300),
        };
        let started = Instant::now();
        let result = target.read(&spec, &statement, limits).await;
        assert_eq!(result, Err(TargetError::QueryTimeout(300)));
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1200) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );

        let mut observer = target
            .pooled(&pool, &spec)
            .await
            .expect("a fresh connection");
        let running: Option<i64> = observer
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST
                 WHERE COMMAND <> 'Sleep' AND INFO LIKE ? AND ID <> CONNECTION_ID()",
                (format!("%{marker}%"),),
            )
            .await
            .unwrap();
        assert_eq!(running, Some(0), "the statement still runs on the server");
        drop(observer);

        let next = target
            .read(
                &spec,
                &ReadStatement {
                    sql: "SELECT 1 AS one".into(),
                    params: Vec::new(),
                },
                limits,
            )
            .await
            .expect("the pool serves reads again");
        assert_eq!(next.rows, [[serde_json::json!(1)]]);
    }
}
