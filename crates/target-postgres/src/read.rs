//! Running one read-only statement: what the lanes (see `lanes`) and a one-off connection
//! share. Sessions are read-only from the start. A statement that could change its session
//! for the statements after it (`set_config`, SQL run from text) runs inside
//! `BEGIN READ ONLY` ... `ROLLBACK` instead, which undoes those changes; the three are
//! pipelined, still one round trip. (A transaction around every read would cost about a
//! quarter of the throughput.)

use std::pin::pin;
use std::time::Duration;

use db_configs::{ReadLimits, ResultColumn, ResultSet, SqlValue, TargetError};
use deadpool_postgres::Pool;
use futures_util::TryStreamExt as _;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::private::BytesMut;
use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::decode::{Raw, to_json, type_name};
use crate::lanes::Lanes;
use db_configs::results::Collector;

/// Makes every transaction of a session read-only unless it says otherwise.
pub(crate) const READ_ONLY_SESSION: &str = "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY";

/// How long past its own limit a statement may run before the client cancels it: the server
/// normally does it first, this covers a server or network that does not answer.
pub(crate) const BACKSTOP: Duration = Duration::from_secs(1);

/// Text that lets a statement change settings of its session (`set_config`, the
/// `pg_settings` view), run SQL built from strings that could (`query_to_xml`, `ts_stat`,
/// `ts_rewrite`), or spell a name so that no text check sees it (`U&"..."`). Identifiers
/// fold ASCII case only, so an ASCII case-insensitive search finds every spelling.
const SESSION_CHANGERS: [&str; 6] = [
    "set_config",
    "pg_settings",
    "query_to_xml",
    "ts_stat",
    "ts_rewrite",
    "u&",
];

/// Which bytes start a word of [`SESSION_CHANGERS`], in either case.
const CHANGER_STARTS: [bool; 256] = {
    let mut starts = [false; 256];
    let mut i = 0;
    while i < SESSION_CHANGERS.len() {
        let first = SESSION_CHANGERS[i].as_bytes()[0];
        starts[first.to_ascii_lowercase() as usize] = true;
        starts[first.to_ascii_uppercase() as usize] = true;
        i += 1;
    }
    starts
};

/// Whether `sql` must run in a transaction of its own, rolled back, so that whatever it does
/// to its session is undone.
pub(crate) fn may_change_session(sql: &str) -> bool {
    let sql = sql.as_bytes();
    // One pass, comparing words only where one could start (this runs on every read).
    (0..sql.len()).any(|i| {
        CHANGER_STARTS[usize::from(sql[i])]
            && SESSION_CHANGERS.iter().any(|word| {
                sql.get(i..i + word.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
            })
    })
}

/// The pool of a stored connection: lanes for reads, a few connections of their own for the
/// catalog work (tests, discovery, introspection).
pub(crate) struct PgPool {
    pub(crate) pool: Pool,
    pub(crate) lanes: std::sync::Arc<Lanes>,
}

impl PgPool {
    pub(crate) fn close(&self) {
        self.pool.close();
        self.lanes.close();
    }
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool")
            .field("status", &self.pool.status())
            .finish_non_exhaustive()
    }
}

/// A bound value, sent as text: the server converts it to the type it inferred for the
/// parameter, as it would a literal (so `'42'` compares with an integer column).
#[derive(Debug)]
struct Param<'a>(&'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use std::fmt::Write as _;
        match self.0 {
            SqlValue::Null => return Ok(IsNull::Yes),
            SqlValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            SqlValue::Int(i) => write!(out, "{i}")?,
            SqlValue::Float(x) if x.is_nan() => out.extend_from_slice(b"NaN"),
            SqlValue::Float(x) if x.is_infinite() => {
                out.extend_from_slice(if *x > 0.0 { b"Infinity" } else { b"-Infinity" })
            }
            SqlValue::Float(x) => write!(out, "{x}")?,
            SqlValue::Text(s) => out.extend_from_slice(s.as_bytes()),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// The statement timeout of `limits` in milliseconds, at least 1 (0 would mean none).
pub(crate) fn timeout_ms(limits: &ReadLimits) -> u64 {
    limits.timeout.as_millis().clamp(1, i32::MAX as u128) as u64
}

/// The error of a read: the server's message, a cancelled statement as a timeout, a refused
/// write said plainly.
pub(crate) fn read_error(e: &tokio_postgres::Error, ms: u64) -> TargetError {
    let Some(db) = e.as_db_error() else {
        // The connection broke: its text names the cause, never the login.
        return TargetError::Unreachable(e.to_string());
    };
    let code = db.code();
    if code == &SqlState::QUERY_CANCELED {
        TargetError::QueryTimeout(ms)
    } else if code == &SqlState::READ_ONLY_SQL_TRANSACTION {
        TargetError::Query(format!(
            "the database refused to write, as queries run read-only: {}",
            db.message()
        ))
    } else {
        TargetError::Query(db.message().to_owned())
    }
}

/// What a pipelined read did, and whether its connection can be used again.
pub(crate) struct Run {
    pub(crate) result: Result<ResultSet, tokio_postgres::Error>,
    pub(crate) healthy: bool,
}

impl Run {
    /// The outcome of the timeout's `SET`, `BEGIN`, the statement and `ROLLBACK`.
    pub(crate) fn of(
        set: Result<bool, tokio_postgres::Error>,
        begin: Result<(), tokio_postgres::Error>,
        rows: Result<ResultSet, tokio_postgres::Error>,
        rollback: Result<(), tokio_postgres::Error>,
    ) -> Self {
        let healthy = set.is_ok()
            && begin.is_ok()
            && rollback.is_ok()
            && rows
                .as_ref()
                .err()
                .is_none_or(|e| e.as_db_error().is_some());
        if let Err(e) = begin.as_ref().and(rollback.as_ref()) {
            tracing::warn!(error = %e, "a read transaction did not begin or end cleanly");
        }
        Self {
            result: set.and(rows),
            healthy,
        }
    }
}

pub(crate) async fn fetch(
    client: &Client,
    statement: &Statement,
    params: &[SqlValue],
    limits: &ReadLimits,
) -> Result<ResultSet, tokio_postgres::Error> {
    let columns = statement.columns();
    let rows = client
        .query_raw(statement, params.iter().map(Param))
        .await?;
    let mut rows = pin!(rows);
    let mut out = Collector::new(limits);
    while let Some(row) = rows.try_next().await? {
        if out.is_full() {
            out.cut_rows();
            break;
        }
        let mut values = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let raw: Option<Raw<'_>> = row.try_get(i)?;
            values.push(to_json(column.type_(), raw.map(|r| r.0)));
        }
        if !out.push(values) {
            break;
        }
    }
    // Dropping the stream early discards the rest of the rows as they arrive.
    let columns = columns
        .iter()
        .map(|c| ResultColumn {
            name: c.name().to_owned(),
            type_name: type_name(c.type_()),
        })
        .collect();
    Ok(out.finish(columns))
}

/// A statement without result columns is no query (`SET`, `COMMIT`, `LISTEN`...); one with
/// another number of parameters than values cannot run.
pub(crate) fn check_statement(statement: &Statement, values: usize) -> Result<(), TargetError> {
    if statement.columns().is_empty() {
        return Err(TargetError::Query(
            "only a query that returns rows can be run".into(),
        ));
    }
    let expected = statement.params().len();
    if expected != values {
        return Err(TargetError::Query(format!(
            "the statement has {expected} parameter(s), but {values} value(s) were given"
        )));
    }
    Ok(())
}

/// Asks the server to cancel what `client` is running, over a connection of its own.
pub(crate) async fn cancel(client: &Client, tls: Option<MakeRustlsConnect>, wait: Duration) {
    let token = client.cancel_token();
    let sent = match tls {
        None => tokio::time::timeout(wait, token.cancel_query(NoTls)).await,
        Some(tls) => tokio::time::timeout(wait, token.cancel_query(tls)).await,
    };
    if !matches!(sent, Ok(Ok(()))) {
        tracing::warn!("could not cancel a statement that ran past its time limit");
    }
}

/// A read on a connection of its own (settings not stored), closed afterwards.
pub(crate) async fn read_once(
    client: Client,
    sql: &str,
    params: &[SqlValue],
    limits: &ReadLimits,
    tls: Option<MakeRustlsConnect>,
    cancel_wait: Duration,
) -> Result<ResultSet, TargetError> {
    let ms = timeout_ms(limits);
    let work = async {
        // The connection is closed afterwards: no later statement sees its session.
        client
            .batch_execute(&format!(
                "{READ_ONLY_SESSION}; SET statement_timeout = {ms}"
            ))
            .await
            .map_err(Failure::Driver)?;
        let statement = client.prepare(sql).await.map_err(Failure::Driver)?;
        check_statement(&statement, params.len())?;
        Ok(fetch(&client, &statement, params, limits).await)
    };
    match tokio::time::timeout(limits.timeout + BACKSTOP, work).await {
        Ok(Ok(rows)) => rows.map_err(|e| read_error(&e, ms)),
        Ok(Err(Failure::Refused(e))) => Err(e),
        Ok(Err(Failure::Driver(e))) => Err(read_error(&e, ms)),
        Err(_elapsed) => {
            cancel(&client, tls, cancel_wait).await;
            Err(TargetError::QueryTimeout(ms))
        }
    }
}

/// Why a read stopped before its statement ran.
enum Failure {
    Refused(TargetError),
    Driver(tokio_postgres::Error),
}

impl From<TargetError> for Failure {
    fn from(e: TargetError) -> Self {
        Self::Refused(e)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use db_configs::{
        ConnectSpec, DbConfigId, Location, Provider, ReadStatement, ServerEndpoint, SslMode,
        TargetDatabase,
    };

    use super::*;
    use crate::PgTarget;

    /// The test server's maintenance database (`TEST_DATABASE_URL`) as a stored connection.
    fn spec() -> ConnectSpec {
        let url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let config: tokio_postgres::Config = url.parse().expect("a postgres:// URL");
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        ConnectSpec {
            provider: Provider::Postgresql,
            location: Location::Server(ServerEndpoint {
                host,
                port: config.get_ports().first().copied().unwrap_or(5432),
                database: config.get_dbname().unwrap_or("postgres").to_owned(),
                username: config.get_user().unwrap_or("postgres").to_owned(),
                ssl: SslMode::Disable,
            }),
            password: config
                .get_password()
                .map(|p| db_configs::Secret::new(String::from_utf8_lossy(p).into_owned())),
            resolved: None,
            connect_timeout_secs: 5,
            pool_key: Some(DbConfigId::new()),
        }
    }

    #[test]
    fn statements_that_could_change_their_session_are_isolated() {
        for sql in [
            "SELECT set_config('role', 'admin', false)",
            "SELECT PG_CATALOG.SET_CONFIG('x', 'y', false)",
            "SELECT * FROM pg_settings",
            "SELECT query_to_xml('SELECT ' || 'x', true, true, '')",
            "SELECT U&\"s\\0065t_config\"('a', 'b', false)",
            "SELECT * FROM TS_STAT('SELECT v FROM docs')",
            "select Ts_Rewrite('a'::tsquery, 'SELECT t, s FROM aliases')",
            "SELECT u&\"x\"",
        ] {
            assert!(may_change_session(sql), "{sql}");
        }
        for sql in [
            "SELECT \"id\", \"name\" FROM \"shop\".\"customers\" WHERE \"id\" = $1 LIMIT 101",
            "SELECT current_setting('search_path')",
        ] {
            assert!(!may_change_session(sql), "{sql}");
        }
    }

    #[tokio::test]
    async fn past_its_limit_a_statement_the_server_let_run_is_cancelled_by_the_client() {
        let spec = spec();
        let target = PgTarget::new(1);
        let pool = target.pool(&spec, spec.pool_key.unwrap()).unwrap();
        let one = ReadStatement {
            sql: "SELECT 1 AS one".into(),
            params: Vec::new(),
        };
        let limits = ReadLimits {
            max_rows: 10,
            max_bytes: 10_000,
            timeout: Duration::from_millis(300),
        };
        target
            .read(&spec, &one, limits)
            .await
            .expect("a lane opens");
        // The lane's statement timeout is off, though the pool believes it set.
        let lane = pool.lanes.lanes().pop().expect("one lane");
        lane.client
            .batch_execute("SET statement_timeout = 0")
            .await
            .unwrap();
        pool.lanes.assume_timeout(&lane, 300);
        let marker = format!("backstop_{}", uuid::Uuid::now_v7().simple());
        let statement = ReadStatement {
            sql: format!("SELECT pg_sleep(5) AS {marker}"),
            params: Vec::new(),
        };
        let started = Instant::now();
        let result = target.read(&spec, &statement, limits).await;
        assert_eq!(result, Err(TargetError::QueryTimeout(300)));
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1200) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );

        let observer = pool.pool.get().await.expect("a fresh connection");
        let mut running = -1;
        for _ in 0..20 {
            running = observer
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
                    &[&format!("%{marker}%")],
                )
                .await
                .unwrap()
                .get::<_, i64>(0);
            if running == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(running, 0, "the statement still runs on the server");
        drop(observer);

        assert!(
            pool.lanes.lanes().iter().all(|l| !Arc::ptr_eq(l, &lane)),
            "the lane was abandoned"
        );
        let next = target
            .read(&spec, &one, limits)
            .await
            .expect("the pool serves reads again");
        assert_eq!(next.rows, [[serde_json::json!(1)]]);
    }
}
