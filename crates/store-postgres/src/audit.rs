//! The audit port on PostgreSQL: `audit_events`, appended in batches under a transaction-level
//! advisory lock so that the hash chain stays one chain across instances.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use audit::{
    ActorType, AuditError, AuditEvent, AuditFilter, AuditPage, AuditStats, AuditStore, Cursor,
    DayCounts, GENESIS, Outcome, StoredEvent, Verification, chain_hash,
};
use deadpool_postgres::Pool;
use futures_util::{StreamExt, pin_mut};
use time::{Date, OffsetDateTime, Time};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::PgStore;

/// The audit log on PostgreSQL.
#[derive(Debug)]
pub struct PgAuditStore {
    pool: Pool,
    /// An append failed, maybe after its commit: until one succeeds, appends first look for
    /// their events among those stored (a retried batch must not be stored twice).
    unsure: AtomicBool,
}

impl PgAuditStore {
    pub fn new(store: &PgStore) -> Self {
        Self {
            pool: store.pool().clone(),
            unsure: AtomicBool::new(false),
        }
    }
}

/// Held while appending: one writer at a time extends the chain ("audit" in ASCII).
const CHAIN_LOCK: i64 = 0x61_7564_6974;

const COLUMNS: &str = "seq, id, at, actor_type, actor_id, key_id, action, tool_name, \
    db_config_id, tables, outcome, error, duration_ms, row_count, truncated, request_id, \
    client_addr, user_agent, arguments, prev_hash, hash";

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> AuditError {
    AuditError::Unavailable(Box::new(e))
}

/// A write error: `Rejected` when PostgreSQL refused the data itself (SQLSTATE classes 22,
/// data exceptions, and 23, constraint violations), which no retry can fix.
fn write_error(e: tokio_postgres::Error) -> AuditError {
    let refused = e
        .code()
        .is_some_and(|c| c.code().starts_with("22") || c.code().starts_with("23"));
    if refused {
        AuditError::Rejected(Box::new(e))
    } else {
        AuditError::Unavailable(Box::new(e))
    }
}

fn corrupt(what: &str) -> AuditError {
    AuditError::Unavailable(format!("a stored audit event has an invalid {what}").into())
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32], AuditError> {
    bytes.try_into().map_err(|_| corrupt(what))
}

fn to_i64(v: Option<u64>) -> Option<i64> {
    v.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

fn from_row(row: &Row) -> Result<StoredEvent, AuditError> {
    let actor: String = row.get("actor_type");
    let outcome: String = row.get("outcome");
    let event = AuditEvent {
        id: row.get("id"),
        at: row.get("at"),
        actor_type: ActorType::parse(&actor).ok_or_else(|| corrupt("actor type"))?,
        actor_id: row.get("actor_id"),
        key_id: row.get("key_id"),
        action: row.get("action"),
        tool_name: row.get("tool_name"),
        db_config_id: row.get("db_config_id"),
        tables: row.get("tables"),
        outcome: Outcome::parse(&outcome).ok_or_else(|| corrupt("outcome"))?,
        error: row.get("error"),
        duration_ms: row
            .get::<_, Option<i64>>("duration_ms")
            .map(|v| v.max(0) as u64),
        row_count: row
            .get::<_, Option<i64>>("row_count")
            .map(|v| v.max(0) as u64),
        truncated: row.get("truncated"),
        request_id: row.get("request_id"),
        client_addr: row.get("client_addr"),
        user_agent: row.get("user_agent"),
        arguments: row.get("arguments"),
    };
    Ok(StoredEvent {
        seq: row.get("seq"),
        event,
        prev_hash: hash32(row.get("prev_hash"), "previous hash")?,
        hash: hash32(row.get("hash"), "hash")?,
    })
}

type Param = Box<dyn ToSql + Sync + Send>;

/// `WHERE ...` for a filter, with its parameters.
fn conditions(f: &AuditFilter) -> (String, Vec<Param>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    // `{}` in `clause` is this value's parameter number.
    let mut add = |clause: &str, value: Param| {
        params.push(value);
        clauses.push(clause.replace("{}", &format!("${}", params.len())));
    };
    if let Some(k) = f.key_id {
        add("key_id = {}", Box::new(k));
    }
    if let Some(t) = &f.tool_name {
        add("tool_name = {}", Box::new(t.clone()));
    }
    if let Some(a) = &f.action {
        add("action = {}", Box::new(a.clone()));
    }
    if let Some(o) = f.outcome {
        add("outcome = {}", Box::new(o.as_str().to_owned()));
    }
    if let Some(from) = f.from {
        add("at >= {}", Box::new(from));
    }
    if let Some(to) = f.to {
        add("at < {}", Box::new(to));
    }
    if let Some(q) = &f.text {
        // `q` as written, anywhere in the searchable fields (read at search time: no index
        // to keep up on the request path's inserts).
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        add(
            "(action ILIKE {} OR tool_name ILIKE {} OR error ILIKE {} OR actor_id ILIKE {} \
             OR array_to_string(tables, ' ') ILIKE {} OR arguments ILIKE {} \
             OR client_addr ILIKE {} OR user_agent ILIKE {} OR request_id ILIKE {})",
            Box::new(pattern),
        );
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, params)
}

#[async_trait]
impl AuditStore for PgAuditStore {
    /// A retried batch whose first attempt did commit (the connection broke before the answer)
    /// is not written twice: after a failure, appends skip the events stored already, by id.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    async fn append(&self, events: &[AuditEvent]) -> Result<(), AuditError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut c = Detached(Some(self.pool.get().await.map_err(unavailable)?));
        let unsure = self.unsure.load(Ordering::SeqCst);
        let appended = match &c.0 {
            Some(client) => append_in(client, events, unsure).await,
            None => unreachable!("the connection is taken only here and on drop"),
        };
        match appended {
            Ok(()) => {
                self.unsure.store(false, Ordering::SeqCst);
                // Back to the pool: the transaction ended.
                drop(c.0.take());
                Ok(())
            }
            Err(e) => {
                self.unsure.store(true, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    #[tracing::instrument(skip_all)]
    async fn search(&self, filter: &AuditFilter) -> Result<AuditPage, AuditError> {
        let (clause, params) = conditions(filter);
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let page = filter.page.max(1);
        let size = filter.page_size.clamp(1, audit::MAX_PAGE_SIZE);
        let offset = i64::from(page - 1) * i64::from(size);
        let c = self.pool.get().await.map_err(unavailable)?;
        let total: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM audit_events {clause}"),
                &refs,
            )
            .await
            .map_err(unavailable)?
            .get(0);
        let rows = c
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM audit_events {clause} \
                     ORDER BY at DESC, seq DESC LIMIT {size} OFFSET {offset}"
                ),
                &refs,
            )
            .await
            .map_err(unavailable)?;
        Ok(AuditPage {
            items: rows.iter().map(from_row).collect::<Result<_, _>>()?,
            page,
            page_size: size,
            total: total.max(0) as u64,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn export_page(
        &self,
        filter: &AuditFilter,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, AuditError> {
        let (clause, mut params) = conditions(filter);
        let mut clause = clause;
        if let Some(c) = cursor {
            params.push(Box::new(c.at));
            params.push(Box::new(c.seq));
            let n = params.len();
            let after = format!("(at, seq) < (${}, ${n})", n - 1);
            clause = if clause.is_empty() {
                format!("WHERE {after}")
            } else {
                format!("{clause} AND {after}")
            };
        }
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let c = self.pool.get().await.map_err(unavailable)?;
        let rows = c
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM audit_events {clause} \
                     ORDER BY at DESC, seq DESC LIMIT {}",
                    limit.clamp(1, 10_000)
                ),
                &refs,
            )
            .await
            .map_err(unavailable)?;
        rows.iter().map(from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn daily_counts(&self, from: Date) -> Result<Vec<DayCounts>, AuditError> {
        let start = from.with_time(Time::MIDNIGHT).assume_utc();
        let c = self.pool.get().await.map_err(unavailable)?;
        let rows = c
            .query(
                "SELECT (at AT TIME ZONE 'UTC')::date AS day,
                        count(*) FILTER (WHERE outcome = 'success') AS success,
                        count(*) FILTER (WHERE outcome = 'denied') AS denied,
                        count(*) FILTER (WHERE outcome = 'failed') AS failed
                 FROM audit_events WHERE at >= $1 GROUP BY 1 ORDER BY 1",
                &[&start],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows
            .iter()
            .map(|r| DayCounts {
                day: r.get("day"),
                success: r.get::<_, i64>("success").max(0) as u64,
                denied: r.get::<_, i64>("denied").max(0) as u64,
                failed: r.get::<_, i64>("failed").max(0) as u64,
            })
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn stats(&self, from: Date, since: OffsetDateTime) -> Result<AuditStats, AuditError> {
        let start = from.with_time(Time::MIDNIGHT).assume_utc();
        let c = self.pool.get().await.map_err(unavailable)?;
        let count = |r: &Row, col: &str| r.get::<_, i64>(col).max(0) as u64;
        let total = c
            .query_one(
                "SELECT count(*) AS n FROM audit_events WHERE tool_name IS NOT NULL",
                &[],
            )
            .await
            .map_err(unavailable)?;
        let per_day = c
            .query(
                "SELECT (at AT TIME ZONE 'UTC')::date AS day, count(*) AS calls,
                        count(*) FILTER (WHERE outcome <> 'success') AS errors
                 FROM audit_events WHERE tool_name IS NOT NULL AND at >= $1
                 GROUP BY 1 ORDER BY 1",
                &[&start],
            )
            .await
            .map_err(unavailable)?;
        let tools = c
            .query(
                "SELECT tool_name, count(*) AS n FROM audit_events
                 WHERE tool_name IS NOT NULL AND at >= $1
                 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
                &[&start],
            )
            .await
            .map_err(unavailable)?;
        let keys = c
            .query(
                "SELECT key_id, count(*) AS n FROM audit_events
                 WHERE key_id IS NOT NULL AND at >= $1
                 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
                &[&start],
            )
            .await
            .map_err(unavailable)?;
        let p95 = c
            .query_one(
                "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
                 FROM audit_events WHERE tool_name IS NOT NULL AND at >= $1
                   AND duration_ms IS NOT NULL",
                &[&since],
            )
            .await
            .map_err(unavailable)?;
        Ok(AuditStats {
            tool_calls: count(&total, "n"),
            calls_per_day: per_day
                .iter()
                .map(|r| (r.get("day"), count(r, "calls"), count(r, "errors")))
                .collect(),
            top_tools: tools
                .iter()
                .map(|r| (r.get("tool_name"), count(r, "n")))
                .collect(),
            top_keys: keys
                .iter()
                .map(|r| (r.get("key_id"), count(r, "n")))
                .collect(),
            p95_ms_24h: p95.get("p95"),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn purge_before(&self, before: OffsetDateTime) -> Result<u64, AuditError> {
        // The oldest end of the chain only (by seq, under the chain's lock): an event a little
        // out of time order in the middle stays, so the kept events still chain.
        let mut c = self.pool.get().await.map_err(unavailable)?;
        let tx = c.transaction().await.map_err(unavailable)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])
            .await
            .map_err(unavailable)?;
        let n = tx
            .execute(
                "DELETE FROM audit_events WHERE seq < coalesce(
                     (SELECT min(seq) FROM audit_events WHERE at >= $1),
                     (SELECT max(seq) + 1 FROM audit_events))",
                &[&before],
            )
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(n)
    }

    #[tracing::instrument(skip_all)]
    async fn verify(&self) -> Result<Verification, AuditError> {
        let c = self.pool.get().await.map_err(unavailable)?;
        let stream = c
            .query_raw(
                &format!("SELECT {COLUMNS} FROM audit_events ORDER BY seq"),
                std::iter::empty::<i64>(),
            )
            .await
            .map_err(unavailable)?;
        pin_mut!(stream);
        let mut checked = 0u64;
        // The oldest remaining event anchors the chain (retention removes the ones before it).
        let mut expected_prev: Option<[u8; 32]> = None;
        while let Some(row) = stream.next().await {
            let row = row.map_err(unavailable)?;
            let id: uuid::Uuid = row.get("id");
            let stored = match from_row(&row) {
                Ok(s) => s,
                Err(_) => {
                    return Ok(Verification {
                        ok: false,
                        checked,
                        first_broken_id: Some(id),
                    });
                }
            };
            let linked = expected_prev.is_none_or(|p| p == stored.prev_hash);
            if !linked || chain_hash(&stored.prev_hash, &stored.event) != stored.hash {
                return Ok(Verification {
                    ok: false,
                    checked,
                    first_broken_id: Some(id),
                });
            }
            expected_prev = Some(stored.hash);
            checked += 1;
        }
        Ok(Verification {
            ok: true,
            checked,
            first_broken_id: None,
        })
    }
}

// One statement text whatever the batch size (columns as arrays, unnested), so
// PostgreSQL plans it once per connection instead of once per batch. `tables` travels
// as one text per row, joined with the unit separator, since arrays of arrays are not
// ragged in PostgreSQL.
const INSERT: &str = "INSERT INTO audit_events (id, at, actor_type, actor_id, key_id,
        action, tool_name, db_config_id, tables, outcome, error, duration_ms, row_count,
        truncated, request_id, client_addr, user_agent, arguments, prev_hash, hash)
    SELECT id, at, actor_type, actor_id, key_id, action, tool_name, db_config_id,
           CASE WHEN tables = '' THEN '{}'::text[]
                ELSE string_to_array(tables, E'\\x1f') END,
           outcome, error, duration_ms, row_count, truncated, request_id, client_addr,
           user_agent, arguments, prev_hash, hash
    FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::uuid[],
                $6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[], $11::text[],
                $12::int8[], $13::int8[], $14::bool[], $15::text[], $16::text[],
                $17::text[], $18::text[], $19::bytea[], $20::bytea[])
        AS e(id, at, actor_type, actor_id, key_id, action, tool_name, db_config_id,
             tables, outcome, error, duration_ms, row_count, truncated, request_id,
             client_addr, user_agent, arguments, prev_hash, hash)";

/// A pooled connection that is closed instead of returned to the pool when dropped: an append
/// that failed or was cancelled half-way may have left it inside a transaction, holding the
/// chain's lock.
struct Detached(Option<deadpool_postgres::Object>);

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            drop(deadpool_postgres::Object::take(c));
        }
    }
}

/// The newest event's hash: the chain goes on from it.
const LAST_HASH: &str = "SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1";

/// Which of a batch's events are stored already ($1: the batch's earliest time, $2: its ids):
/// an earlier attempt at the batch may have committed although its answer was lost. Only
/// events since the batch's earliest are read, through the time index. Events are skipped by
/// id only after a failure, so only then is this read.
const STORED: &str = "SELECT id FROM audit_events WHERE at >= $1 AND id = ANY($2)";

/// Appends `events` to the chain in one transaction, in two round trips: `BEGIN` with the
/// chain's lock and the read of the last hash are pipelined, then the insert and `COMMIT`.
/// PostgreSQL runs pipelined statements one after the other, and in READ COMMITTED (asked for,
/// whatever the server's default) the read takes its snapshot when it starts, so the last hash
/// is read under the lock. With `unsure` (an earlier attempt
/// failed), the events stored already are looked up under the lock too, and left out. On an
/// error the connection may be left inside a transaction.
async fn append_in(
    c: &deadpool_postgres::ClientWrapper,
    events: &[AuditEvent],
    unsure: bool,
) -> Result<(), AuditError> {
    // Prepared before the transaction begins (once per connection): a round trip spent
    // preparing would otherwise be spent holding the chain's lock.
    let stmt = c.prepare_cached(INSERT).await.map_err(unavailable)?;
    let last_hash = c.prepare_cached(LAST_HASH).await.map_err(unavailable)?;
    // `join` polls in order, so the lock is sent before the read.
    let (locked, last) = futures_util::future::join(
        c.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({CHAIN_LOCK})"
        )),
        c.query_opt(&last_hash, &[]),
    )
    .await;
    locked.map_err(unavailable)?;
    let last = last.map_err(unavailable)?;
    let found: HashSet<uuid::Uuid> = if unsure {
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
        let earliest = events.iter().map(|e| e.at).min();
        // Not a cached statement: planned for these values, it reads the time index from
        // `earliest` on (a generic plan would read the whole table).
        c.query(STORED, &[&earliest, &ids])
            .await
            .map_err(unavailable)?
            .iter()
            .map(|row| row.get(0))
            .collect()
    } else {
        HashSet::new()
    };
    let events: Vec<&AuditEvent> = events.iter().filter(|e| !found.contains(&e.id)).collect();
    if events.is_empty() {
        return c.batch_execute("COMMIT").await.map_err(unavailable);
    }
    let mut prev = match last {
        Some(row) => hash32(row.get(0), "hash")?,
        None => GENESIS,
    };
    let n = events.len();
    let mut prevs = Vec::with_capacity(n);
    let mut hashes = Vec::with_capacity(n);
    for e in &events {
        let hash = chain_hash(&prev, e);
        prevs.push(prev.to_vec());
        hashes.push(hash.to_vec());
        prev = hash;
    }
    let col = |f: &dyn Fn(&AuditEvent) -> Option<&str>| -> Vec<Option<&str>> {
        events.iter().map(|e| f(e)).collect()
    };
    let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
    let ats: Vec<OffsetDateTime> = events.iter().map(|e| e.at).collect();
    let actor_types = col(&|e| Some(e.actor_type.as_str()));
    let actor_ids = col(&|e| e.actor_id.as_deref());
    let key_ids: Vec<Option<uuid::Uuid>> = events.iter().map(|e| e.key_id).collect();
    let actions = col(&|e| Some(e.action.as_str()));
    let tools = col(&|e| e.tool_name.as_deref());
    let dbs: Vec<Option<uuid::Uuid>> = events.iter().map(|e| e.db_config_id).collect();
    let tables: Vec<String> = events.iter().map(|e| e.tables.join("\u{1f}")).collect();
    let outcomes = col(&|e| Some(e.outcome.as_str()));
    let errors = col(&|e| e.error.as_deref());
    let durations: Vec<Option<i64>> = events.iter().map(|e| to_i64(e.duration_ms)).collect();
    let rows: Vec<Option<i64>> = events.iter().map(|e| to_i64(e.row_count)).collect();
    let truncated: Vec<bool> = events.iter().map(|e| e.truncated).collect();
    let request_ids = col(&|e| e.request_id.as_deref());
    let addrs = col(&|e| e.client_addr.as_deref());
    let agents = col(&|e| e.user_agent.as_deref());
    let arguments = col(&|e| e.arguments.as_deref());
    let params: [&(dyn ToSql + Sync); 20] = [
        &ids,
        &ats,
        &actor_types,
        &actor_ids,
        &key_ids,
        &actions,
        &tools,
        &dbs,
        &tables,
        &outcomes,
        &errors,
        &durations,
        &rows,
        &truncated,
        &request_ids,
        &addrs,
        &agents,
        &arguments,
        &prevs,
        &hashes,
    ];
    let insert = c.execute(&stmt, &params);
    let (inserted, committed) = futures_util::future::join(insert, c.batch_execute("COMMIT")).await;
    inserted.map_err(write_error)?;
    committed.map_err(unavailable)
}
