//! Adapter: the `TargetDatabase` port for SQLite. It opens the file read-only (never creating
//! it, never as a URI) with `query_only` on, reads `sqlite_master` and the table pragmas on a
//! blocking thread, and translates driver errors into messages safe to show. Reads reuse
//! handles per stored connection and run within their limits (see `read`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use db_configs::{
    ColumnInfo, ConnectSpec, ConnectionReport, DbConfigId, ForeignKey, Location, QueryPlan,
    ReadLimits, ReadStatement, RelationEntry, RelationKind, ResultSet, SchemaListing, TableInfo,
    TableName, TargetDatabase, TargetError,
};
use rusqlite::{Connection, ErrorCode, OpenFlags};

mod explain;
mod read;

/// SQLite database files on the Sluice host.
#[derive(Debug, Clone, Default)]
pub struct SqliteTarget;

/// The only schema Sluice reads: the file itself (no `temp`, no attached databases).
const SCHEMA: &str = "main";

/// Quotes an identifier for SQLite.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn map_error(e: &rusqlite::Error, path: &str, timeout_secs: u64) -> TargetError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            TargetError::Query(format!("the file {path} is not a SQLite database"))
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            TargetError::Timeout(timeout_secs)
        }
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            TargetError::Unreachable(format!("cannot read the SQLite file {path}: {e}"))
        }
        _ => TargetError::Query(e.to_string()),
    }
}

fn file_path(spec: &ConnectSpec) -> Result<&str, TargetError> {
    match &spec.location {
        Location::File { path } => Ok(path),
        Location::Server(_) => Err(TargetError::Unsupported(
            "a SQLite connection needs a file path".into(),
        )),
    }
}

/// Opens `path` the way every operation does: an existing file, read-only, `query_only` on,
/// waiting up to `timeout_secs` for locks, and checked to be a SQLite database.
pub(crate) fn open_read_only(path: &str, timeout_secs: u64) -> Result<Connection, TargetError> {
    // The bundled SQLite is built with SQLITE_USE_URI, so a path such as `file:x?mode=ro&vfs=..`
    // would be read as a URI whatever the open flags say. An absolute path never starts with
    // `file:`, and canonicalising also tells a missing file apart before SQLite is involved.
    let absolute = match Path::new(path).canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TargetError::NotFound(format!(
                "the SQLite file {path} does not exist"
            )));
        }
        Err(e) => {
            return Err(TargetError::Unreachable(format!(
                "cannot read the SQLite file {path}: {e}"
            )));
        }
    };
    if absolute.is_dir() {
        return Err(TargetError::Unreachable(format!(
            "{path} is a directory, not a SQLite file"
        )));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&absolute, flags).map_err(|e| {
        TargetError::Unreachable(format!("cannot open the SQLite file {path}: {e}"))
    })?;
    let err = |e: rusqlite::Error| map_error(&e, path, timeout_secs);
    conn.busy_timeout(Duration::from_secs(timeout_secs))
        .map_err(err)?;
    conn.execute_batch("PRAGMA query_only = ON").map_err(err)?;
    // Opening reads nothing; reading the schema is what finds out the file is not a database.
    conn.query_row("SELECT count(*) FROM main.sqlite_master", [], |_| Ok(()))
        .map_err(err)?;
    Ok(conn)
}

/// An open read-only file and what its errors need to name.
#[derive(Debug)]
struct Handle {
    conn: Connection,
    path: String,
    timeout_secs: u64,
}

impl Handle {
    fn open(path: String, timeout_secs: u64) -> Result<Self, TargetError> {
        let conn = open_read_only(&path, timeout_secs)?;
        Ok(Self {
            conn,
            path,
            timeout_secs,
        })
    }

    fn fail(&self, e: rusqlite::Error) -> TargetError {
        map_error(&e, &self.path, self.timeout_secs)
    }

    /// Keeps going past a relation SQLite cannot read (a view over a dropped table, a virtual
    /// table whose module this build lacks), so one broken object does not hide the rest.
    fn tolerate<T>(
        &self,
        what: &str,
        result: rusqlite::Result<T>,
    ) -> Result<Option<T>, TargetError> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) => match self.fail(e) {
                TargetError::Query(message) => {
                    tracing::warn!(relation = what, error = %message, "skipping what SQLite cannot read");
                    Ok(None)
                }
                other => Err(other),
            },
        }
    }

    /// Tables and views of `main`, by name.
    fn relations(&self) -> Result<Vec<(String, RelationKind)>, TargetError> {
        let mut stmt = self
            .conn
            .prepare(
                r"SELECT name, type FROM main.sqlite_master
                  WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
                  ORDER BY name",
            )
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| {
                let kind: String = r.get(1)?;
                let kind = if kind == "view" {
                    RelationKind::View
                } else {
                    RelationKind::Table
                };
                Ok((r.get::<_, String>(0)?, kind))
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.fail(e))?;
        Ok(rows)
    }

    /// The exact number of rows of a table: SQLite keeps no estimate.
    fn count(&self, table: &str) -> Result<Option<i64>, TargetError> {
        let sql = format!("SELECT count(*) FROM main.{}", quote_ident(table));
        let result = self.conn.query_row(&sql, [], |r| r.get(0));
        self.tolerate(table, result)
    }

    /// Visible columns with their primary-key position (0 when not in the key).
    fn columns(&self, relation: &str) -> rusqlite::Result<Vec<(ColumnInfo, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?1, 'main')
             WHERE hidden <> 1 ORDER BY cid",
        )?;
        stmt.query_map([relation], |r| {
            let column = ColumnInfo {
                name: r.get(0)?,
                data_type: r.get(1)?,
                nullable: r.get::<_, i64>(2)? == 0,
                default: r.get(3)?,
                comment: None,
            };
            Ok((column, r.get(4)?))
        })?
        .collect()
    }

    /// The primary-key columns of a table, in key order.
    fn primary_key(&self, table: &str) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1, 'main') WHERE pk > 0 ORDER BY pk")?;
        stmt.query_map([table], |r| r.get(0))?.collect()
    }

    fn foreign_keys(&self, table: &str) -> rusqlite::Result<Vec<ForeignKey>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1, 'main')
             ORDER BY id, seq",
        )?;
        let rows: Vec<(i64, String, String, Option<String>)> = stmt
            .query_map([table], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut by_id: BTreeMap<i64, (ForeignKey, Vec<Option<String>>)> = BTreeMap::new();
        for (id, referenced, from, to) in rows {
            let (fk, targets) = by_id.entry(id).or_insert_with(|| {
                (
                    ForeignKey {
                        name: format!("fk_{table}_{id}"),
                        columns: Vec::new(),
                        referenced_schema: SCHEMA.to_owned(),
                        referenced_table: referenced,
                        referenced_columns: Vec::new(),
                    },
                    Vec::new(),
                )
            });
            fk.columns.push(from);
            targets.push(to);
        }
        let mut keys = Vec::with_capacity(by_id.len());
        for (mut fk, targets) in by_id.into_values() {
            // `REFERENCES t` without columns means t's primary key.
            let key = if targets.iter().any(Option::is_none) {
                self.primary_key(&fk.referenced_table)?
            } else {
                Vec::new()
            };
            fk.referenced_columns = targets
                .into_iter()
                .enumerate()
                .map(|(i, to)| to.or_else(|| key.get(i).cloned()).unwrap_or_default())
                .collect();
            keys.push(fk);
        }
        Ok(keys)
    }

    fn table_info(&self, name: String, kind: RelationKind) -> Result<TableInfo, TargetError> {
        let columns = self
            .tolerate(&name, self.columns(&name))?
            .unwrap_or_default();
        let mut key: Vec<(i64, &str)> = columns
            .iter()
            .filter(|(_, pk)| *pk > 0)
            .map(|(c, pk)| (*pk, c.name.as_str()))
            .collect();
        key.sort_unstable();
        let primary_key: Vec<String> = key.into_iter().map(|(_, n)| n.to_owned()).collect();
        let mut columns: Vec<ColumnInfo> = columns.into_iter().map(|(c, _)| c).collect();
        if let [only] = primary_key.as_slice() {
            // An INTEGER PRIMARY KEY is the rowid (or, WITHOUT ROWID, a key SQLite keeps NOT
            // NULL): it never holds NULL, although the pragma reports notnull = 0.
            for c in &mut columns {
                if &c.name == only && c.data_type.eq_ignore_ascii_case("INTEGER") {
                    c.nullable = false;
                }
            }
        }
        let (row_estimate, foreign_keys) = match kind {
            RelationKind::Table => (
                self.count(&name)?,
                self.tolerate(&name, self.foreign_keys(&name))?
                    .unwrap_or_default(),
            ),
            RelationKind::View => (None, Vec::new()),
        };
        Ok(TableInfo {
            schema: SCHEMA.to_owned(),
            name,
            kind,
            comment: None,
            row_estimate,
            columns,
            primary_key,
            foreign_keys,
        })
    }
}

/// Runs `work` on a blocking thread with the file of `spec`.
async fn blocking<T, F>(spec: &ConnectSpec, work: F) -> Result<T, TargetError>
where
    T: Send + 'static,
    F: FnOnce(String, u64) -> Result<T, TargetError> + Send + 'static,
{
    let path = file_path(spec)?.to_owned();
    let timeout_secs = spec.connect_timeout_secs;
    tokio::task::spawn_blocking(move || work(path, timeout_secs))
        .await
        .map_err(|e| TargetError::Unreachable(format!("the SQLite worker stopped: {e}")))?
}

#[async_trait]
impl TargetDatabase for SqliteTarget {
    async fn test(
        &self,
        spec: &ConnectSpec,
        probe: Option<&TableName>,
    ) -> Result<ConnectionReport, TargetError> {
        let probe = probe.cloned();
        blocking(spec, move |path, timeout_secs| {
            let started = Instant::now();
            let h = Handle::open(path, timeout_secs)?;
            let version: String = h
                .conn
                .query_row("SELECT sqlite_version()", [], |r| r.get(0))
                .map_err(|e| h.fail(e))?;
            let latency_ms = started.elapsed().as_millis() as u64;
            let (tested_table, tested_table_accessible) = match probe {
                None => (None, None),
                Some(t) => {
                    let ok = match t.schema.as_deref() {
                        Some(s) if !s.eq_ignore_ascii_case(SCHEMA) => false,
                        _ => {
                            let sql =
                                format!("SELECT 1 FROM main.{} LIMIT 0", quote_ident(&t.name));
                            h.conn.prepare(&sql).and_then(|mut s| s.exists([])).is_ok()
                        }
                    };
                    (Some(t.to_string()), Some(ok))
                }
            };
            Ok(ConnectionReport {
                latency_ms,
                server_version: format!("SQLite {version}"),
                tested_table,
                tested_table_accessible,
                // The handle is read-only whatever the file's permissions: nothing to warn about.
                warnings: Vec::new(),
            })
        })
        .await
    }

    async fn discover(&self, spec: &ConnectSpec) -> Result<Vec<SchemaListing>, TargetError> {
        blocking(spec, |path, timeout_secs| {
            let h = Handle::open(path, timeout_secs)?;
            let mut listing = SchemaListing {
                name: SCHEMA.to_owned(),
                tables: Vec::new(),
                views: Vec::new(),
            };
            for (name, kind) in h.relations()? {
                match kind {
                    RelationKind::Table => {
                        let row_count = h.count(&name)?;
                        listing.tables.push(RelationEntry { name, row_count });
                    }
                    RelationKind::View => listing.views.push(RelationEntry {
                        name,
                        row_count: None,
                    }),
                }
            }
            Ok(vec![listing])
        })
        .await
    }

    async fn introspect(&self, spec: &ConnectSpec) -> Result<Vec<TableInfo>, TargetError> {
        blocking(spec, |path, timeout_secs| {
            let h = Handle::open(path, timeout_secs)?;
            h.relations()?
                .into_iter()
                .map(|(name, kind)| h.table_info(name, kind))
                .collect()
        })
        .await
    }

    async fn read(
        &self,
        spec: &ConnectSpec,
        statement: &ReadStatement,
        limits: ReadLimits,
    ) -> Result<ResultSet, TargetError> {
        let (sql, params) = (&statement.sql, &statement.params);
        match spec.pool_key {
            None => read::read_once(spec, sql, params, limits).await,
            Some(id) => read::read_pooled(read::FilePool::of(spec, id)?, sql, params, limits).await,
        }
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

    async fn release(&self, id: DbConfigId) {
        read::release(id);
    }

    fn pool_stats(&self) -> Vec<db_configs::PoolStat> {
        read::pool_stats()
    }
}

#[cfg(test)]
mod tests;
