//! Text search (`q`) over the audit log through the batches' words (migration 0008).
//!
//! Every stored batch of events has a row in `audit_word_batches`: its time span and its
//! words. A search for `q` reads, newest first, the spans of the batches whose words hold
//! `q`'s (a GIN index), and checks only the events in those spans against `q` itself (with
//! the other filters). Events stored before the migration have one batch of their own, holding
//! every word (see the migration). The spans are read a page at a time and the events a window of
//! spans at a time, so a search stops as soon as it has what it needs.

use audit::{AuditError, AuditFilter, Cursor};
use time::{Duration, OffsetDateTime, macros::datetime};
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::{conditions, refs, unavailable};

/// Before any event.
const FIRST: OffsetDateTime = datetime!(0001-01-01 0:00 UTC);
/// After any event.
const LAST: OffsetDateTime = datetime!(9999-12-31 0:00 UTC);

/// Batch spans read per round trip.
const SPAN_PAGE: i64 = 512;

/// Spans whose events are read per round trip, at most (a few thousand events): between
/// windows a search can stop.
const MAX_WINDOW: usize = 256;

/// How far a scan counts matches past the ones it returns.
#[derive(Debug, Clone, Copy)]
pub(super) struct Counting {
    /// Matches counted at most.
    pub limit: usize,
    /// Once the wanted events are found, counting stops when this is spent.
    pub time: Option<std::time::Duration>,
}

/// What a scan found: the wanted events' `seq`s (newest first), and how many events matched
/// in all, `complete` when there are no more than counted.
pub(super) struct Matches {
    pub seqs: Vec<i64>,
    pub counted: usize,
    pub complete: bool,
}

/// `q`'s words as a `tsquery`: each word whole, or as a prefix where it may go on, or the
/// batches with too many words to keep ([`EVERY`]).
fn tsquery(words: &[(String, bool)]) -> String {
    let all = words
        .iter()
        .map(|(w, whole)| {
            let quoted = w.replace('\\', "\\\\").replace('\'', "''");
            if *whole {
                format!("'{quoted}'")
            } else {
                format!("'{quoted}':*")
            }
        })
        .collect::<Vec<_>>()
        .join(" & ");
    format!("({all}) | '{EVERY}'")
}

/// The one word of a batch whose words were too many to keep: every search reads it. No word
/// of an event has a `-` (see `audit::batch_words`).
pub(super) const EVERY: &str = "-every-";

/// The events matching `filter` (its text among them, with `words` its words), newest first,
/// after `cursor`: the `seq`s of the `take` after the first `skip`, counting matches up to
/// `count`'s limit (at least `skip + take`; one more is looked for, to tell whether there are
/// more), or, once the wanted events are found, until its time is spent.
pub(super) async fn scan(
    c: &impl GenericClient,
    filter: &AuditFilter,
    words: &[(String, bool)],
    cursor: Option<Cursor>,
    skip: usize,
    take: usize,
    count: Counting,
) -> Result<Matches, AuditError> {
    // When the wanted events were all found: counting goes on from then for `count.time`.
    let mut filled_at: Option<std::time::Instant> = None;
    let tsq = tsquery(words);
    let from = filter.from.unwrap_or(FIRST);
    let to = filter.to.unwrap_or(LAST);
    let top = cursor.map_or(LAST, |c| c.at);
    let count_to = count.limit.max(skip + take);

    // The events' conditions, then the window's spans and the row limit.
    let (clauses, params) = conditions(filter, cursor);
    let n = params.len();
    let mut sql = format!(
        "SELECT e.at, e.seq FROM unnest(${}::timestamptz[], ${}::timestamptz[]) AS s(lo, hi) \
         CROSS JOIN LATERAL (SELECT at, seq FROM audit_events WHERE at >= s.lo AND at <= s.hi",
        // (`OFFSET 0` below keeps the subquery per span: flattened, the planner may read the
        // whole log once, the text's selectivity being unknown to it.)
        n + 1,
        n + 2
    );
    for clause in &clauses {
        sql.push_str(" AND ");
        sql.push_str(clause);
    }
    sql.push_str(&format!(
        " OFFSET 0) e ORDER BY e.at DESC, e.seq DESC LIMIT ${}",
        n + 3
    ));
    let window_sql = c.prepare(&sql).await.map_err(unavailable)?;

    let mut found = Matches {
        seqs: Vec::with_capacity(take),
        counted: 0,
        complete: false,
    };
    // Everything from `frontier` on that is in a candidate span has been read (spans come by
    // their end, latest first; each is cut to what lies before the frontier).
    let mut frontier = LAST;
    let mut after: (OffsetDateTime, i64) = (LAST, i64::MAX);
    let mut batches_done = false;
    let mut window = 16usize;
    let mut pending: Vec<(OffsetDateTime, OffsetDateTime)> = Vec::new();
    loop {
        // Enough spans for the next window, or all of them.
        while pending.len() < window && !batches_done {
            let rows = c
                .query(
                    "SELECT id, at_min, at_max FROM audit_word_batches \
                     WHERE words @@ $1::text::tsquery \
                       AND at_max >= $2 AND at_min < $3 AND at_min <= $4 \
                       AND (at_max, id) < ($5, $6) \
                     ORDER BY at_max DESC, id DESC LIMIT $7",
                    &[&tsq, &from, &to, &top, &after.0, &after.1, &SPAN_PAGE],
                )
                .await
                .map_err(unavailable)?;
            batches_done = (rows.len() as i64) < SPAN_PAGE;
            for row in &rows {
                let (id, lo, hi): (i64, OffsetDateTime, OffsetDateTime) =
                    (row.get(0), row.get(1), row.get(2));
                after = (hi, id);
                let hi = hi.min(frontier - Duration::microseconds(1));
                if lo <= hi {
                    pending.push((lo, hi));
                    frontier = lo;
                }
            }
        }
        if pending.is_empty() {
            found.complete = true;
            return Ok(found);
        }
        let spans: Vec<_> = pending.drain(..pending.len().min(window)).collect();
        let (lo, hi): (Vec<_>, Vec<_>) = spans.into_iter().unzip();
        let limit = (count_to + 1 - found.counted) as i64;
        let mut refs = refs(&params);
        refs.extend([&lo as &(dyn ToSql + Sync), &hi, &limit]);
        let rows = c.query(&window_sql, &refs).await.map_err(unavailable)?;
        for row in &rows {
            if found.counted >= skip && found.seqs.len() < take {
                found.seqs.push(row.get(1));
            }
            found.counted += 1;
        }
        if found.counted > count_to {
            found.counted = count_to;
            return Ok(found);
        }
        if found.seqs.len() >= take && filled_at.is_none() {
            filled_at = Some(std::time::Instant::now());
        }
        let spent = filled_at
            .zip(count.time)
            .is_some_and(|(at, t)| at.elapsed() >= t);
        if spent && !(pending.is_empty() && batches_done) {
            return Ok(found);
        }
        window = (window * 4).min(MAX_WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::tsquery;

    #[test]
    fn words_become_a_conjunction_with_prefixes_where_they_may_go_on() {
        assert_eq!(
            tsquery(&[("public".into(), true), ("ord".into(), false)]),
            "('public' & 'ord':*) | '-every-'"
        );
        assert_eq!(tsquery(&[("it's".into(), true)]), "('it''s') | '-every-'");
    }
}
