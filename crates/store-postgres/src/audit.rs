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
use futures_util::{StreamExt, TryFutureExt as _, pin_mut};
use time::{Date, OffsetDateTime, Time};
use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::PgStore;

mod text;

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

/// Whether an SQLSTATE says PostgreSQL refused an event's data itself (class 22, data
/// exceptions, and 23, constraint violations), which no retry can fix. Not so a binary row that
/// does not match the table (22P03, 22P04): that is the table's shape against this binary's (a
/// migration or an older instance), and leaving events out for it would empty the log.
fn refuses_data(sqlstate: &str) -> bool {
    (sqlstate.starts_with("22") || sqlstate.starts_with("23"))
        && !matches!(sqlstate, "22P03" | "22P04")
}

/// A write error: `Rejected` when PostgreSQL refused the data itself (`refuses_data`),
/// `Unavailable` (retried) otherwise.
fn write_error(e: tokio_postgres::Error) -> AuditError {
    if e.code().is_some_and(|c| refuses_data(c.code())) {
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

/// A filter's conditions (to be joined with `AND`), with their parameters; with a cursor, only
/// events after it (newest first).
fn conditions(f: &AuditFilter, cursor: Option<Cursor>) -> (Vec<String>, Vec<Param>) {
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
    let outcome = f.outcome.map(|o| o.as_str());
    if let Some(from) = f.from {
        add("at >= {}", Box::new(from));
    }
    if let Some(to) = f.to {
        add("at < {}", Box::new(to));
    }
    if let Some(q) = &f.text {
        // `q` as written in the searchable fields, where it starts at the start of a word when
        // it starts with a letter or digit (a cheap `ILIKE` first, then the word's start). Where
        // `q` has words, the search reads only the events of batches holding them (`text`).
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
        if q.starts_with(char::is_alphanumeric) {
            add(
                "(action ~* {} OR tool_name ~* {} OR error ~* {} OR actor_id ~* {} \
                 OR array_to_string(tables, ' ') ~* {} OR arguments ~* {} \
                 OR client_addr ~* {} OR user_agent ~* {} OR request_id ~* {})",
                Box::new(at_word_start(q)),
            );
        }
    }
    // A literal, not a parameter (one of three fixed words): the planner then sees that
    // `denied` and `failed` are covered by the index of unsuccessful events (0009).
    if let Some(o) = outcome {
        clauses.push(format!("outcome = '{o}'"));
    }
    if let Some(c) = cursor {
        params.push(Box::new(c.at));
        params.push(Box::new(c.seq));
        let n = params.len();
        clauses.push(format!("(at, seq) < (${}, ${n})", n - 1));
    }
    (clauses, params)
}

/// The parameters' references, as the driver takes them.
fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// A regular expression for `q` where it starts a word: what comes before it is the start of
/// the text or neither a letter nor a digit. ASCII punctuation in `q` is escaped (a backslash
/// before it means the character itself); nothing else is special.
fn at_word_start(q: &str) -> String {
    let mut re = String::from("(^|[^[:alnum:]])");
    for c in q.chars() {
        if c.is_ascii_punctuation() {
            re.push('\\');
        }
        re.push(c);
    }
    re
}

/// The statement counting the events of `filter` (without `q`; the parameters are those of
/// `conditions(filter, None)`). Successes, most of the log and without an index of their own,
/// are counted as all the events the other conditions match less the unsuccessful ones.
fn count_sql(filter: &AuditFilter) -> String {
    if filter.outcome != Some(Outcome::Success) {
        let (clauses, _) = conditions(filter, None);
        return format!("SELECT count(*) FROM audit_events {}", where_sql(&clauses));
    }
    let any = AuditFilter {
        outcome: None,
        ..filter.clone()
    };
    let (mut clauses, _) = conditions(&any, None);
    let all = format!("SELECT count(*) FROM audit_events {}", where_sql(&clauses));
    clauses.push("outcome <> 'success'".to_owned());
    let unsuccessful = format!("SELECT count(*) FROM audit_events {}", where_sql(&clauses));
    format!("SELECT ({all}) - ({unsuccessful})")
}

/// `WHERE ...` for conditions (empty for none).
fn where_sql(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    }
}

/// For `q`: matches are counted up to 1,000 past the page (`total` is exact below it), and
/// for no longer than 50 ms once the page is found (a word in one event of hundreds, such as
/// an address, would otherwise mean reading hundreds of thousands of events for the count).
fn text_counting(skip: usize, take: usize) -> text::Counting {
    text::Counting {
        limit: (skip + take).max(1_000),
        time: Some(std::time::Duration::from_millis(50)),
    }
}

/// Whether a filter's text search has words (and so goes through `audit_text`).
fn text_words(f: &AuditFilter) -> Option<Vec<(String, bool)>> {
    let words = audit::search_words(f.text.as_deref()?);
    (!words.is_empty()).then_some(words)
}

/// A read-only transaction for a text search, without JIT: PostgreSQL would compile the
/// per-span statement (its estimate is high, the spans being unknown to the planner), which
/// takes 10 to 40 ms, longer than running it. Rolled back when dropped.
async fn text_search(
    c: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, AuditError> {
    let tx = c
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(unavailable)?;
    tx.batch_execute("SET LOCAL jit = off")
        .await
        .map_err(unavailable)?;
    Ok(tx)
}

/// Events by `seq`, newest first.
async fn by_seq(
    c: &impl tokio_postgres::GenericClient,
    seqs: &[i64],
) -> Result<Vec<StoredEvent>, AuditError> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM audit_events WHERE seq = ANY($1) \
                 ORDER BY at DESC, seq DESC"
            ),
            &[&seqs],
        )
        .await
        .map_err(unavailable)?;
    rows.iter().map(from_row).collect()
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
        let page = filter.page.max(1);
        let size = filter.page_size.clamp(1, audit::MAX_PAGE_SIZE);
        let offset = i64::from(page - 1) * i64::from(size);
        let mut c = self.pool.get().await.map_err(unavailable)?;
        if let Some(words) = text_words(filter) {
            let (skip, take) = (offset as usize, size as usize);
            let tx = text_search(&mut c).await?;
            let found = text::scan(
                &*tx,
                filter,
                &words,
                None,
                skip,
                take,
                text_counting(skip, take),
            )
            .await?;
            return Ok(AuditPage {
                items: by_seq(&*tx, &found.seqs).await?,
                page,
                page_size: size,
                total: found.counted as u64,
                total_exact: found.complete,
            });
        }
        let (clauses, params) = conditions(filter, None);
        let clause = where_sql(&clauses);
        let refs = refs(&params);
        let total: i64 = c
            .query_one(&count_sql(filter), &refs)
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
            total_exact: true,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn export_page(
        &self,
        filter: &AuditFilter,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, AuditError> {
        let limit = limit.clamp(1, 10_000);
        let mut c = self.pool.get().await.map_err(unavailable)?;
        if let Some(words) = text_words(filter) {
            let take = limit as usize;
            let tx = text_search(&mut c).await?;
            let counting = text::Counting {
                limit: take,
                time: None,
            };
            let found = text::scan(&*tx, filter, &words, cursor, 0, take, counting).await?;
            return by_seq(&*tx, &found.seqs).await;
        }
        let (clauses, params) = conditions(filter, cursor);
        let clause = where_sql(&clauses);
        let refs = refs(&params);
        let rows = c
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM audit_events {clause} \
                     ORDER BY at DESC, seq DESC LIMIT {limit}"
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
        // Batches' words go with the last of their events: a batch ending before the oldest
        // kept event holds none of them.
        tx.execute(
            "DELETE FROM audit_word_batches WHERE at_max < coalesce(
                 (SELECT min(at) FROM audit_events), 'infinity')",
            &[],
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

/// Events are written with `COPY ... FROM STDIN` in PostgreSQL's binary format: no SQL to
/// parse or plan per batch and no text to convert, so a stored event costs the server about a
/// third less CPU than the multi-row `INSERT ... SELECT unnest(...)` this replaced (measured:
/// 49 against 31 µs per event in batches of 25, with every index).
const COPY: &str = "COPY audit_events (id, at, actor_type, actor_id, key_id, action, tool_name, \
    db_config_id, tables, outcome, error, duration_ms, row_count, truncated, request_id, \
    client_addr, user_agent, arguments, prev_hash, hash) FROM STDIN (FORMAT binary)";

/// The types of `COPY`'s columns, in order: binary rows must match the table exactly.
const COPY_TYPES: [Type; 20] = [
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::UUID,
    Type::TEXT_ARRAY,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
    Type::BYTEA,
];

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

/// Appends `events` to the chain in one transaction, in two round trips (four after a failure,
/// see `unsure`): `BEGIN` with the
/// chain's lock, the read of the last hash and the start of the `COPY` are pipelined, then the
/// rows (hashed from the last hash) and `COMMIT`. PostgreSQL runs pipelined statements one after
/// the other, and in READ COMMITTED (asked for, whatever the server's default) the read takes
/// its snapshot when it starts, so the last hash is read under the lock. With `unsure` (an
/// earlier attempt failed), the events stored already are looked up under the lock first, and
/// left out. On an error the connection may be left inside a transaction.
async fn append_in(
    c: &deadpool_postgres::ClientWrapper,
    events: &[AuditEvent],
    unsure: bool,
) -> Result<(), AuditError> {
    if events.is_empty() {
        return Ok(());
    }
    // Prepared before the transaction begins (once per connection): a round trip spent
    // preparing would otherwise be spent holding the chain's lock.
    let copy = c.prepare_cached(COPY).await.map_err(unavailable)?;
    let last_hash = c.prepare_cached(LAST_HASH).await.map_err(unavailable)?;
    let add_words = c.prepare_cached(ADD_WORDS).await.map_err(unavailable)?;
    // Worked out before the lock is taken (again after it, should some events be stored).
    let mut summary = Summary::of(events.iter());
    let begin =
        format!("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({CHAIN_LOCK})");
    // `join` polls in order, so the lock is sent before the read, and the read before the copy.
    let (last, found, sink) = if unsure {
        let (locked, last) =
            futures_util::future::join(c.batch_execute(&begin), c.query_opt(&last_hash, &[])).await;
        locked.map_err(unavailable)?;
        let last = last.map_err(unavailable)?;
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
        let earliest = events.iter().map(|e| e.at).min();
        // Not a cached statement: planned for these values, it reads the time index from
        // `earliest` on (a generic plan would read the whole table).
        let found: HashSet<uuid::Uuid> = c
            .query(STORED, &[&earliest, &ids])
            .await
            .map_err(unavailable)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if events.iter().all(|e| found.contains(&e.id)) {
            return c.batch_execute("COMMIT").await.map_err(unavailable);
        }
        if !found.is_empty() {
            summary = Summary::of(events.iter().filter(|e| !found.contains(&e.id)));
        }
        let sink = c.copy_in(&copy).await.map_err(unavailable)?;
        (last, found, sink)
    } else {
        let (locked, last, sink) = futures_util::future::join3(
            c.batch_execute(&begin),
            c.query_opt(&last_hash, &[]),
            c.copy_in(&copy),
        )
        .await;
        locked.map_err(unavailable)?;
        (
            last.map_err(unavailable)?,
            HashSet::new(),
            sink.map_err(unavailable)?,
        )
    };
    let mut prev = match last {
        Some(row) => hash32(row.get(0), "hash")?,
        None => GENESIS,
    };
    let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    pin_mut!(writer);
    for e in events.iter().filter(|e| !found.contains(&e.id)) {
        let hash = chain_hash(&prev, e);
        let (duration, rows) = (to_i64(e.duration_ms), to_i64(e.row_count));
        writer
            .as_mut()
            .write(&[
                &e.id,
                &e.at,
                &e.actor_type.as_str(),
                &e.actor_id,
                &e.key_id,
                &e.action,
                &e.tool_name,
                &e.db_config_id,
                &e.tables,
                &e.outcome.as_str(),
                &e.error,
                &duration,
                &rows,
                &e.truncated,
                &e.request_id,
                &e.client_addr,
                &e.user_agent,
                &e.arguments,
                &&prev[..],
                &&hash[..],
            ])
            .await
            .map_err(write_error)?;
        prev = hash;
    }
    // The connection sends the batch's words and `COMMIT` only after the copy's end. Should the
    // copy fail before it ends, `try_join3` returns at once: the writer, dropped, ends the copy
    // with CopyFail, the queued statements fail or roll back, and the caller closes the
    // connection. The words are Sluice's own data, so an error storing them is an outage to
    // wait out, never a reason to leave events out.
    let Summary {
        at_min,
        at_max,
        words,
    } = summary;
    futures_util::future::try_join3(
        writer.finish().map_err(write_error),
        c.execute(&add_words, &[&at_min, &at_max, &words])
            .map_err(unavailable),
        c.batch_execute("COMMIT").map_err(unavailable),
    )
    .await
    .map(|_| ())
}

/// Stores a batch's words with its time span (see migration 0008).
const ADD_WORDS: &str = "INSERT INTO audit_word_batches (at_min, at_max, words) \
    VALUES ($1, $2, array_to_tsvector($3::text[]))";

/// What a batch adds to `audit_word_batches`.
struct Summary {
    at_min: OffsetDateTime,
    at_max: OffsetDateTime,
    /// [`text::EVERY`] alone when the batch has too many to keep.
    words: Vec<String>,
}

impl Summary {
    /// `events` must not be empty.
    fn of<'a>(events: impl Iterator<Item = &'a AuditEvent> + Clone) -> Self {
        let at = events.clone().map(|e| e.at);
        Self {
            at_min: at.clone().min().unwrap_or(OffsetDateTime::UNIX_EPOCH),
            at_max: at.max().unwrap_or(OffsetDateTime::UNIX_EPOCH),
            words: audit::batch_words(events).unwrap_or_else(|| vec![text::EVERY.to_owned()]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::refuses_data;

    #[test]
    fn data_errors_are_refusals_but_a_row_that_does_not_fit_the_table_is_retried() {
        for code in ["22021", "22001", "22P02", "23505", "23502"] {
            assert!(refuses_data(code), "{code}");
        }
        for code in ["22P03", "22P04", "40001", "57P01", "08006", "42804"] {
            assert!(!refuses_data(code), "{code}");
        }
    }
}
