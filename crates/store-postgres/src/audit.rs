//! The audit port on PostgreSQL: `audit_events`, appended in batches under a transaction-level
//! advisory lock so that the hash chain stays one chain across instances.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use audit::{
    ActorType, AuditError, AuditEvent, AuditFilter, AuditPage, AuditStats, AuditStore, Cursor,
    DayCounts, Outcome, StoredEvent, Verification, chain_hash,
};
use deadpool_postgres::Pool;
use futures_util::{StreamExt, pin_mut};
use time::{Date, OffsetDateTime, Time};
use tokio_postgres::Row;

use crate::PgStore;

mod append;
mod filter;
mod spans;

use append::{Detached, append_in};
use filter::{
    by_seq, conditions, count_sql, counted, counted_total, refs, span_search, text_counting,
    text_words, where_sql,
};
use spans::Spans;

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
            let tx = span_search(&mut c).await?;
            let found = spans::scan(
                &*tx,
                filter,
                &Spans::Words(words),
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
        if counted(filter) {
            let (skip, take) = (offset as usize, size as usize);
            let tx = span_search(&mut c).await?;
            // The minutes' counts make the total, unless a text (without words: punctuation)
            // is searched too: then matches are counted as for any text.
            let exact = match filter.text {
                None => Some(counted_total(&*tx, filter).await?),
                Some(_) => None,
            };
            let counting = match exact {
                Some(_) => spans::Counting {
                    limit: skip + take,
                    time: None,
                },
                None => text_counting(skip, take),
            };
            let found =
                spans::scan(&*tx, filter, &Spans::Minutes, None, skip, take, counting).await?;
            return Ok(AuditPage {
                items: by_seq(&*tx, &found.seqs).await?,
                page,
                page_size: size,
                total: exact.unwrap_or(found.counted as u64),
                total_exact: exact.is_some() || found.complete,
            });
        }
        let (clauses, params) = conditions(filter, None);
        let clause = where_sql(&clauses);
        let refs = refs(&params);
        let total: i64 = c
            .query_one(&count_sql(&clauses), &refs)
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
            let tx = span_search(&mut c).await?;
            let counting = spans::Counting {
                limit: take,
                time: None,
            };
            let found = spans::scan(
                &*tx,
                filter,
                &Spans::Words(words),
                cursor,
                0,
                take,
                counting,
            )
            .await?;
            return by_seq(&*tx, &found.seqs).await;
        }
        if counted(filter) {
            let take = limit as usize;
            let tx = span_search(&mut c).await?;
            let counting = spans::Counting {
                limit: take,
                time: None,
            };
            let found =
                spans::scan(&*tx, filter, &Spans::Minutes, cursor, 0, take, counting).await?;
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
                "SELECT (minute AT TIME ZONE 'UTC')::date AS day,
                        coalesce(sum(events) FILTER (WHERE outcome = 'success'), 0)::bigint
                            AS success,
                        coalesce(sum(events) FILTER (WHERE outcome = 'denied'), 0)::bigint
                            AS denied,
                        coalesce(sum(events) FILTER (WHERE outcome = 'failed'), 0)::bigint
                            AS failed
                 FROM audit_counts WHERE minute >= $1 GROUP BY 1 ORDER BY 1",
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
        // From the minutes' counts (migration 0011), not the events themselves.
        let total = c
            .query_one(
                "SELECT coalesce(sum(events), 0)::bigint AS n FROM audit_counts
                 WHERE tool_name IS NOT NULL",
                &[],
            )
            .await
            .map_err(unavailable)?;
        let per_day = c
            .query(
                "SELECT (minute AT TIME ZONE 'UTC')::date AS day,
                        coalesce(sum(events), 0)::bigint AS calls,
                        coalesce(sum(events) FILTER (WHERE outcome <> 'success'), 0)::bigint
                            AS errors
                 FROM audit_counts WHERE tool_name IS NOT NULL AND minute >= $1
                 GROUP BY 1 ORDER BY 1",
                &[&start],
            )
            .await
            .map_err(unavailable)?;
        let tools = c
            .query(
                "SELECT tool_name, sum(events)::bigint AS n FROM audit_counts
                 WHERE tool_name IS NOT NULL AND minute >= $1
                 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
                &[&start],
            )
            .await
            .map_err(unavailable)?;
        let keys = c
            .query(
                "SELECT key_id, sum(events)::bigint AS n FROM audit_counts
                 WHERE key_id IS NOT NULL AND minute >= $1
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
        // READ COMMITTED whatever the server's default, as for appends: each statement sees the
        // batches committed before the lock was granted.
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(unavailable)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])
            .await
            .map_err(unavailable)?;
        tx.batch_execute("SET LOCAL jit = off")
            .await
            .map_err(unavailable)?;
        // Every event counted first (one an older instance stored may not be yet), so that
        // the counts of the events removed can be taken off (migration 0011).
        tx.execute(append::ADD_COUNTS, &[])
            .await
            .map_err(unavailable)?;
        let n: i64 = tx
            .query_one(
                "WITH gone AS (
                     DELETE FROM audit_events WHERE seq < coalesce(
                         (SELECT min(seq) FROM audit_events WHERE at >= $1),
                         (SELECT max(seq) + 1 FROM audit_events))
                     RETURNING at, key_id, tool_name, action, outcome
                 ), g AS (
                     SELECT date_trunc('minute', at, 'UTC') AS minute, key_id, tool_name,
                            action, outcome, count(*) AS n
                     FROM gone GROUP BY 1, 2, 3, 4, 5
                 ), taken AS (
                     UPDATE audit_counts c SET events = c.events - g.n FROM g
                     WHERE c.minute = g.minute AND c.key_id IS NOT DISTINCT FROM g.key_id
                       AND c.tool_name IS NOT DISTINCT FROM g.tool_name
                       AND c.action = g.action AND c.outcome = g.outcome
                     RETURNING 1
                 )
                 SELECT count(*) FROM gone",
                &[&before],
            )
            .await
            .map_err(unavailable)?
            .get(0);
        // Also the minutes before the oldest event kept: an instance older than migration 0011
        // may have removed events without taking them off.
        tx.execute(
            "DELETE FROM audit_counts WHERE events <= 0 OR minute < coalesce(
                 date_trunc('minute', (SELECT min(at) FROM audit_events), 'UTC'), 'infinity')",
            &[],
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
        Ok(n.max(0) as u64)
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
