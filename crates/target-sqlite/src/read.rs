//! Running one read-only statement on a file. Handles are opened read-only with
//! `query_only` on (see `open_read_only`), kept per stored connection and reused with their
//! prepared statements. Their authorizer lets a statement select, read and call functions,
//! nothing else (no `PRAGMA`, `ATTACH`, transaction control...), and a statement SQLite does
//! not call read-only, or that returns no columns, is refused before it runs. The work
//! happens on a blocking thread; a timer interrupts it at the time limit.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use base64::Engine as _;
use db_configs::{
    ConnectSpec, DbConfigId, PoolCache, ReadLimits, ResultColumn, ResultSet, SqlValue, TargetError,
};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, ErrorCode};
use serde_json::Value as Json;
use tokio::sync::Semaphore;

use crate::{file_path, open_read_only};
use db_configs::results::{Collector, decimal, float};

/// Handles open on one file at most: reads beyond it wait, then are `Busy`.
pub(crate) const MAX_HANDLES_PER_FILE: usize = 8;

/// Prepared statements a handle keeps (least recently used ones are finalized).
const MAX_CACHED_STATEMENTS: usize = 64;

/// The open handles of each stored connection. SQLite needs no server-side session, so the
/// adapter holds no other state and stays a unit struct; connection ids are unique, so one
/// registry serves the whole process.
static FILES: LazyLock<PoolCache<Arc<FilePool>>> = LazyLock::new(PoolCache::default);

/// Closes the handles of a stored connection (it changed or was deleted).
pub(crate) fn release(id: DbConfigId) {
    drop(FILES.remove(id));
}

/// How busy each file's handles are.
pub(crate) fn pool_stats() -> Vec<db_configs::PoolStat> {
    FILES
        .all()
        .into_iter()
        .map(|(id, pool)| {
            let in_use = pool.max_handles - pool.permits.available_permits();
            pool.counters.stat(id, pool.max_handles, in_use)
        })
        .collect()
}

/// Idle read-only handles on one file, and the permits of reads under way.
#[derive(Debug)]
pub(crate) struct FilePool {
    path: String,
    /// Seconds to wait for a permit (and, when opening, for locks).
    wait_secs: u64,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    max_handles: usize,
    /// Waits for a handle, for `/metrics`.
    counters: db_configs::PoolCounters,
}

impl FilePool {
    pub(crate) fn new(path: String, wait_secs: u64, max_handles: usize) -> Self {
        Self {
            path,
            wait_secs,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_handles),
            max_handles,
            counters: db_configs::PoolCounters::default(),
        }
    }

    /// The pool of a stored connection, built (or rebuilt for new settings) when needed.
    pub(crate) fn of(spec: &ConnectSpec, id: DbConfigId) -> Result<Arc<Self>, TargetError> {
        let path = file_path(spec)?;
        FILES
            .get_or_build(id, spec.fingerprint(), || {
                Ok(Arc::new(Self::new(
                    path.to_owned(),
                    spec.connect_timeout_secs,
                    MAX_HANDLES_PER_FILE,
                )))
            })
            .map(|(pool, _replaced)| pool)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Opens a handle for reads, on a blocking thread.
async fn open(path: String, wait_secs: u64) -> Result<Connection, TargetError> {
    tokio::task::spawn_blocking(move || {
        let conn = open_read_only(&path, wait_secs)?;
        conn.set_prepared_statement_cache_capacity(MAX_CACHED_STATEMENTS);
        conn.authorizer(Some(only_reading));
        Ok(conn)
    })
    .await
    .map_err(|e| TargetError::Unreachable(format!("the SQLite worker stopped: {e}")))?
}

/// A read with a handle of `pool`: `Busy` when every handle stays in use for `wait_secs`.
pub(crate) async fn read_pooled(
    pool: Arc<FilePool>,
    sql: &str,
    params: &[SqlValue],
    limits: ReadLimits,
) -> Result<ResultSet, TargetError> {
    let wait = Duration::from_secs(pool.wait_secs);
    let _permit = match pool.permits.try_acquire() {
        Ok(permit) => permit,
        Err(_) => {
            let _waiting = pool.counters.wait();
            match tokio::time::timeout(wait, pool.permits.acquire()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_closed)) => {
                    return Err(TargetError::Unreachable("the pool was closed".into()));
                }
                Err(_elapsed) => {
                    pool.counters.busy();
                    return Err(TargetError::Busy);
                }
            }
        }
    };
    let idle = pool.idle().pop();
    let conn = match idle {
        Some(conn) => conn,
        None => open(pool.path.clone(), pool.wait_secs).await?,
    };
    let (conn, result) = run(conn, sql, params, limits).await?;
    if let Some(conn) = conn {
        pool.idle().push(conn);
    }
    result
}

/// A read on a handle of its own (settings not stored), closed afterwards.
pub(crate) async fn read_once(
    spec: &ConnectSpec,
    sql: &str,
    params: &[SqlValue],
    limits: ReadLimits,
) -> Result<ResultSet, TargetError> {
    let conn = open(file_path(spec)?.to_owned(), spec.connect_timeout_secs).await?;
    run(conn, sql, params, limits).await?.1
}

/// Runs the statement on a blocking thread, interrupting it at the time limit. Hands the
/// handle back unless it was interrupted (it is then closed, never reused).
async fn run(
    conn: Connection,
    sql: &str,
    params: &[SqlValue],
    limits: ReadLimits,
) -> Result<(Option<Connection>, Result<ResultSet, TargetError>), TargetError> {
    let interrupt = conn.get_interrupt_handle();
    let (sql, params) = (sql.to_owned(), params.to_vec());
    let mut job = tokio::task::spawn_blocking(move || {
        let result = query(&conn, &sql, &params, &limits);
        (conn, result)
    });
    let (done, interrupted) = tokio::select! {
        done = &mut job => (done, false),
        () = tokio::time::sleep(limits.timeout) => {
            // The job is still running (or just finishing), on this handle: nobody else has
            // it, so the interrupt can only hit this statement.
            interrupt.interrupt();
            (job.await, true)
        }
    };
    let (conn, result) =
        done.map_err(|e| TargetError::Unreachable(format!("the SQLite worker stopped: {e}")))?;
    let ms = limits.timeout.as_millis().min(u128::from(u64::MAX)) as u64;
    let result = result.map_err(|e| match e {
        Failure::Refused(e) => e,
        Failure::Sqlite(e) => read_error(&e, ms),
    });
    Ok(((!interrupted).then_some(conn), result))
}

/// What a read's statement may do while it is prepared: select, read, call functions.
fn only_reading(context: AuthContext<'_>) -> Authorization {
    match context.action {
        AuthAction::Select
        | AuthAction::Read { .. }
        | AuthAction::Function { .. }
        | AuthAction::Recursive => Authorization::Allow,
        _ => Authorization::Deny,
    }
}

/// Why a statement did not give its rows.
enum Failure {
    Refused(TargetError),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

fn read_error(e: &rusqlite::Error, ms: u64) -> TargetError {
    match e.sqlite_error_code() {
        // Interrupted at the limit, or still waiting for a lock when it came.
        Some(
            ErrorCode::OperationInterrupted | ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked,
        ) => TargetError::QueryTimeout(ms),
        Some(ErrorCode::ReadOnly | ErrorCode::AuthorizationForStatementDenied) => {
            TargetError::Query(format!(
                "the database refused to write, as queries run read-only: {e}"
            ))
        }
        _ => TargetError::Query(e.to_string()),
    }
}

fn param(value: &SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Bool(b) => Value::Integer(i64::from(*b)),
        SqlValue::Int(i) => Value::Integer(*i),
        SqlValue::Float(x) => Value::Real(*x),
        SqlValue::Text(s) => Value::Text(s.clone()),
    }
}

/// Prepares (or reuses) the statement, checks it only reads, and collects its rows.
fn query(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
    limits: &ReadLimits,
) -> Result<ResultSet, Failure> {
    // Waiting for another process's lock counts against the time limit too.
    conn.busy_timeout(limits.timeout)?;
    let mut statement = conn.prepare_cached(sql)?;
    if statement.column_count() == 0 {
        return Err(Failure::Refused(TargetError::Query(
            "only a query that returns rows can be run".into(),
        )));
    }
    if !statement.readonly() {
        return Err(Failure::Refused(TargetError::Query(
            "the database refused to write, as queries run read-only".into(),
        )));
    }
    let declared: Vec<(String, Option<String>)> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.decl_type().map(str::to_lowercase)))
        .collect();
    // Columns without a declared type (expressions) are named by their first value.
    let mut seen: Vec<Option<&'static str>> = vec![None; declared.len()];
    let mut out = Collector::new(limits);
    let mut rows = statement.query(rusqlite::params_from_iter(params.iter().map(param)))?;
    while let Some(row) = rows.next()? {
        if out.is_full() {
            out.cut_rows();
            break;
        }
        let mut values = Vec::with_capacity(declared.len());
        for (i, (_, decl)) in declared.iter().enumerate() {
            let value = row.get_ref(i)?;
            if seen[i].is_none() {
                seen[i] = storage_class(value);
            }
            values.push(to_json(decl.as_deref(), value));
        }
        if !out.push(values) {
            break;
        }
    }
    let columns = declared
        .into_iter()
        .zip(seen)
        .map(|((name, decl), seen)| ResultColumn {
            name,
            type_name: decl.unwrap_or_else(|| seen.unwrap_or("null").to_owned()),
        })
        .collect();
    Ok(out.finish(columns))
}

fn storage_class(value: ValueRef<'_>) -> Option<&'static str> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(_) => Some("integer"),
        ValueRef::Real(_) => Some("real"),
        ValueRef::Text(_) => Some("text"),
        ValueRef::Blob(_) => Some("blob"),
    }
}

/// A value as JSON. SQLite keeps no booleans, JSON or exact decimals: a column declared
/// `BOOLEAN` reads 0 and 1 as false and true, one declared `JSON` embeds valid JSON text, and
/// decimals kept as text in a `DECIMAL`/`NUMERIC` column read as exact decimals.
fn to_json(declared: Option<&str>, value: ValueRef<'_>) -> Json {
    match value {
        ValueRef::Null => Json::Null,
        ValueRef::Integer(i @ (0 | 1)) if declared.is_some_and(|d| d.starts_with("bool")) => {
            Json::Bool(i == 1)
        }
        ValueRef::Integer(i) => Json::from(i),
        ValueRef::Real(x) => float(x),
        ValueRef::Text(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            match declared {
                Some(d) if d.contains("json") => {
                    serde_json::from_str(&text).unwrap_or_else(|_| Json::String(text.into_owned()))
                }
                Some(d) if d.contains("dec") || d.contains("num") => decimal(&text),
                _ => Json::String(text.into_owned()),
            }
        }
        ValueRef::Blob(bytes) => {
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}
