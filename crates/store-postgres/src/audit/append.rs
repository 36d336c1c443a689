//! Appending to the log: a batch of events in one transaction under the chain's lock, as a
//! binary `COPY`, with the batch's words for text search.

use std::collections::{HashMap, HashSet};

use audit::{AuditError, AuditEvent, GENESIS, chain_hash};
use futures_util::{TryFutureExt as _, pin_mut};
use time::OffsetDateTime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use super::{CHAIN_LOCK, hash32, spans, to_i64, unavailable, write_error};

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
pub(super) struct Detached(pub(super) Option<deadpool_postgres::Object>);

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            drop(deadpool_postgres::Object::take(c));
        }
    }
}

/// The newest event's hash, which the chain goes on from (NULL: the log is empty), and whether
/// every stored event is counted already (`audit_counted`): then the batch's counts are worked
/// out here, from the events in hand, rather than by the database from the stored rows. One
/// row, always; without the `audit_counted` row (which migration 0011 makes) nothing counts as
/// counted.
const LAST: &str = "SELECT e.hash, coalesce(e.seq <= c.seq, c.seq IS NOT NULL) AS counted \
    FROM (SELECT 1) one \
    LEFT JOIN audit_counted c ON c.id = true \
    LEFT JOIN LATERAL (SELECT hash, seq FROM audit_events ORDER BY seq DESC LIMIT 1) e ON true";

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
pub(super) async fn append_in(
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
    let last_hash = c.prepare_cached(LAST).await.map_err(unavailable)?;
    let add_words = c.prepare_cached(ADD_WORDS).await.map_err(unavailable)?;
    let add_counts = c.prepare_cached(ADD_COUNTS).await.map_err(unavailable)?;
    let add_batch_counts = c
        .prepare_cached(ADD_BATCH_COUNTS)
        .await
        .map_err(unavailable)?;
    // Worked out before the lock is taken (again after it, should some events be stored).
    let mut summary = Summary::of(events.iter());
    // Without JIT: compiling a statement takes PostgreSQL 50 to 150 ms, far more than running
    // any of these (the counts' statement, planned on a guess, would otherwise be compiled).
    let begin = format!(
        "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL jit = off; \
         SELECT pg_advisory_xact_lock({CHAIN_LOCK})"
    );
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
    let (mut prev, counted) = match last {
        Some(row) => (
            match row.get::<_, Option<&[u8]>>(0) {
                Some(hash) => hash32(hash, "hash")?,
                None => GENESIS,
            },
            row.get::<_, bool>(1),
        ),
        None => (GENESIS, false),
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
    // The connection sends the batch's words and counts and `COMMIT` only after the copy's end.
    // Should the copy fail before it ends, `try_join4` returns at once: the writer, dropped,
    // ends the copy with CopyFail, the queued statements fail or roll back, and the caller
    // closes the connection. The words and counts are Sluice's own data, so an error storing
    // them is an outage to wait out, never a reason to leave events out.
    let Summary {
        at_min,
        at_max,
        words,
    } = summary;
    // When every event before the batch is counted, the batch's counts are added as worked out
    // here: the database would otherwise read each row it just stored back (measured: about 1
    // of PostgreSQL's 5.5-6 µs per stored event in batches of 500). Else, the events an older
    // instance stored meanwhile are counted from the rows, with the batch's.
    let counts = if counted {
        Counts::of(events.iter().filter(|e| !found.contains(&e.id)))
    } else {
        None
    };
    let add_counts = async {
        match &counts {
            Some(n) => {
                c.execute(
                    &add_batch_counts,
                    &[
                        &n.minute,
                        &n.key_id,
                        &n.tool_name,
                        &n.action,
                        &n.outcome,
                        &n.events,
                    ],
                )
                .await
            }
            None => c.execute(&add_counts, &[]).await,
        }
    };
    futures_util::future::try_join4(
        writer.finish().map_err(write_error),
        c.execute(&add_words, &[&at_min, &at_max, &words])
            .map_err(unavailable),
        add_counts.map_err(unavailable),
        c.batch_execute("COMMIT").map_err(unavailable),
    )
    .await
    .map(|_| ())
}

/// Stores a batch's words with its time span (see migration 0008).
const ADD_WORDS: &str = "INSERT INTO audit_word_batches (at_min, at_max, words) \
    VALUES ($1, $2, array_to_tsvector($3::text[]))";

/// Counts the events stored since the last counted (`audit_counted`) into `audit_counts` (see
/// migration 0011), computed from the stored events themselves: the batch just copied, and any
/// event an instance without counts stored in between. Run under the chain's lock, by an
/// append that follows such events, and by retention before it removes any.
pub(super) const ADD_COUNTS: &str = "WITH span AS ( \
        UPDATE audit_counted SET seq = s.hi \
        FROM (SELECT c.seq AS lo, \
                     coalesce((SELECT max(seq) FROM audit_events), c.seq) AS hi \
              FROM audit_counted c WHERE c.id = true) s \
        WHERE audit_counted.id = true \
        RETURNING s.lo, s.hi \
    ) \
    INSERT INTO audit_counts (minute, key_id, tool_name, action, outcome, events) \
    SELECT date_trunc('minute', e.at, 'UTC'), e.key_id, e.tool_name, e.action, e.outcome, \
           count(*) \
    FROM span, audit_events e \
    WHERE e.seq > span.lo AND e.seq <= span.hi \
    GROUP BY 1, 2, 3, 4, 5 \
    ON CONFLICT ON CONSTRAINT audit_counts_combination \
    DO UPDATE SET events = audit_counts.events + excluded.events";

/// Adds a batch's counts worked out by [`Counts::of`] to `audit_counts`, and moves
/// `audit_counted` on to the newest event (the batch's last), under the chain's lock, when
/// every event before the batch was counted already.
const ADD_BATCH_COUNTS: &str = "WITH counted AS ( \
        UPDATE audit_counted SET seq = (SELECT max(seq) FROM audit_events) WHERE id = true \
    ) \
    INSERT INTO audit_counts (minute, key_id, tool_name, action, outcome, events) \
    SELECT * FROM unnest($1::timestamptz[], $2::uuid[], $3::text[], $4::text[], $5::text[], \
                         $6::int8[]) \
    ON CONFLICT ON CONSTRAINT audit_counts_combination \
    DO UPDATE SET events = audit_counts.events + excluded.events";

/// A batch's events counted by minute, key, tool, action and outcome, as [`ADD_COUNTS`] counts
/// stored rows: one entry per combination (`ON CONFLICT` takes each row once), in columns.
#[derive(Debug, Default, PartialEq)]
struct Counts<'a> {
    minute: Vec<OffsetDateTime>,
    key_id: Vec<Option<uuid::Uuid>>,
    tool_name: Vec<Option<&'a str>>,
    action: Vec<&'a str>,
    outcome: Vec<&'static str>,
    events: Vec<i64>,
}

impl<'a> Counts<'a> {
    /// `None` when an event's time is too far from PostgreSQL's epoch to be worked out here
    /// (then the database counts the stored rows).
    fn of(events: impl Iterator<Item = &'a AuditEvent>) -> Option<Self> {
        type Combination<'a> = (
            i64,
            Option<uuid::Uuid>,
            Option<&'a str>,
            &'a str,
            &'static str,
        );
        // A batch holds few combinations: a busy minute's events share their key, tool and
        // action.
        let mut index: HashMap<Combination<'a>, usize, foldhash::fast::RandomState> =
            HashMap::default();
        let mut counts = Self::default();
        for e in events {
            let minute = stored_minute(e.at)?;
            let start = from_micros(minute)?;
            let combination = (
                minute,
                e.key_id,
                e.tool_name.as_deref(),
                e.action.as_str(),
                e.outcome.as_str(),
            );
            let i = *index.entry(combination).or_insert_with(|| {
                counts.minute.push(start);
                counts.key_id.push(e.key_id);
                counts.tool_name.push(e.tool_name.as_deref());
                counts.action.push(e.action.as_str());
                counts.outcome.push(e.outcome.as_str());
                counts.events.push(0);
                counts.events.len() - 1
            });
            counts.events[i] += 1;
        }
        Some(counts)
    }
}

/// PostgreSQL's epoch, which its binary timestamps count microseconds from.
const PG_EPOCH: OffsetDateTime = time::macros::datetime!(2000-01-01 00:00 UTC);

/// The start of the minute (UTC) `at` falls in once stored, in microseconds from
/// [`PG_EPOCH`]: as `date_trunc('minute', at, 'UTC')` of the stored value. The driver sends
/// whole microseconds, truncated towards the epoch.
fn stored_minute(at: OffsetDateTime) -> Option<i64> {
    const MINUTE: i64 = 60_000_000;
    let micros = i64::try_from((at - PG_EPOCH).whole_microseconds()).ok()?;
    micros.div_euclid(MINUTE).checked_mul(MINUTE)
}

fn from_micros(micros: i64) -> Option<OffsetDateTime> {
    PG_EPOCH.checked_add(time::Duration::microseconds(micros))
}

/// What a batch adds to `audit_word_batches`.
struct Summary {
    at_min: OffsetDateTime,
    at_max: OffsetDateTime,
    /// [`spans::EVERY`] alone when the batch has too many to keep.
    words: Vec<String>,
}

impl Summary {
    /// `events` must not be empty.
    fn of<'a>(events: impl Iterator<Item = &'a AuditEvent> + Clone) -> Self {
        let at = events.clone().map(|e| e.at);
        Self {
            at_min: at.clone().min().unwrap_or(OffsetDateTime::UNIX_EPOCH),
            at_max: at.max().unwrap_or(OffsetDateTime::UNIX_EPOCH),
            words: audit::batch_words(events).unwrap_or_else(|| vec![spans::EVERY.to_owned()]),
        }
    }
}

#[cfg(test)]
mod tests {
    use audit::{ActorType, Outcome};
    use time::macros::datetime;

    use super::*;

    #[test]
    fn an_events_minute_is_the_minute_of_its_stored_microsecond() {
        let cases = [
            (
                datetime!(2026-11-24 21:42:59.999_999_999 UTC),
                datetime!(2026-11-24 21:42 UTC),
            ),
            (
                datetime!(2026-11-24 21:43:00 UTC),
                datetime!(2026-11-24 21:43 UTC),
            ),
            // Another offset: the same instant, so the same minute.
            (
                datetime!(2026-11-24 23:12:30 +01:30),
                datetime!(2026-11-24 21:42 UTC),
            ),
            // Before PostgreSQL's epoch the driver truncates towards it: up, to the
            // microsecond, which may be the next minute's first.
            (
                datetime!(1999-12-31 23:58:59.999_998 UTC),
                datetime!(1999-12-31 23:58 UTC),
            ),
            (
                datetime!(1999-12-31 23:58:59.999_999_5 UTC),
                datetime!(1999-12-31 23:59 UTC),
            ),
            (
                datetime!(1999-12-31 23:59:59.999_999_9 UTC),
                datetime!(2000-01-01 00:00 UTC),
            ),
        ];
        for (at, minute) in cases {
            assert_eq!(
                stored_minute(at).and_then(from_micros),
                Some(minute),
                "{at}"
            );
        }
    }

    #[test]
    fn a_batch_is_counted_once_per_combination() {
        let key = uuid::Uuid::now_v7();
        let at = datetime!(2026-11-24 21:42:10 UTC);
        let event = |seconds: i64, key_id, tool: Option<&str>, outcome| {
            let mut e = AuditEvent::new(ActorType::McpKey, "mcp.query.executed", outcome);
            e.at = at + time::Duration::seconds(seconds);
            e.key_id = key_id;
            e.tool_name = tool.map(str::to_owned);
            e
        };
        let events = [
            event(0, Some(key), Some("execute_query_safe"), Outcome::Success),
            event(40, Some(key), Some("execute_query_safe"), Outcome::Success),
            event(50, Some(key), Some("execute_query_safe"), Outcome::Success),
            event(1, None, None, Outcome::Denied),
            event(2, None, None, Outcome::Denied),
            event(3, Some(key), Some("execute_query_safe"), Outcome::Failed),
        ];
        let counts = Counts::of(events.iter()).unwrap();
        let rows: Vec<_> = (0..counts.events.len())
            .map(|i| {
                (
                    counts.minute[i],
                    counts.key_id[i],
                    counts.tool_name[i],
                    counts.outcome[i],
                    counts.events[i],
                )
            })
            .collect();
        let tool = Some("execute_query_safe");
        assert_eq!(
            rows,
            [
                (
                    datetime!(2026-11-24 21:42 UTC),
                    Some(key),
                    tool,
                    "success",
                    2
                ),
                (
                    datetime!(2026-11-24 21:43 UTC),
                    Some(key),
                    tool,
                    "success",
                    1
                ),
                (datetime!(2026-11-24 21:42 UTC), None, None, "denied", 2),
                (
                    datetime!(2026-11-24 21:42 UTC),
                    Some(key),
                    tool,
                    "failed",
                    1
                ),
            ]
        );
        assert!(counts.action.iter().all(|a| *a == "mcp.query.executed"));
    }
}
