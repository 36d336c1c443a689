//! Reading the audit log by spans of time that may hold matches: text search (`q`) through
//! the batches' words (migration 0008), and the key, tool and action filters through the
//! minutes' counts (migration 0011).
//!
//! Every stored batch of events has a row in `audit_word_batches` (its time span and its
//! words), and every minute a row in `audit_counts` per combination of key, tool, action and
//! outcome it holds. A search reads, newest first, the spans (batches or minutes) that hold
//! what it looks for, and checks only the events in those spans against the filter itself. Events stored before migration 0008 have one word batch of their own, holding
//! every word (see the migration). The spans are read a page at a time and the events a window
//! of spans at a time, so a search stops as soon as it has what it needs.

use audit::{AuditError, AuditFilter, Cursor};
use time::{Duration, OffsetDateTime, macros::datetime};
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::filter::{Param, and_each, count_conditions};
use super::{conditions, refs, unavailable};

/// Before any event.
pub(super) const FIRST: OffsetDateTime = datetime!(0001-01-01 0:00 UTC);
/// After any event.
pub(super) const LAST: OffsetDateTime = datetime!(9999-12-31 0:00 UTC);

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

/// Which batches may hold matching events.
pub(super) enum Spans {
    /// Those whose words hold these.
    Words(TextWords),
    /// The minutes holding events of the filter's key, tool, action and outcome (see
    /// [`super::filter::counted`]).
    Minutes,
}

/// The spans of the batches that may hold matches ($1), within the filter's dates ($2, $3),
/// not after the cursor ($4), before the last span read ($5, $6), latest first.
const WORD_SPANS: &str = "SELECT id, at_min, at_max FROM audit_word_batches \
    WHERE words @@ $1::text::tsquery \
      AND at_max >= $2 AND at_min < $3 AND at_min <= $4 \
      AND (at_max, id) < ($5, $6) \
    ORDER BY at_max DESC, id DESC LIMIT $7";
/// The minutes holding matches, latest first, as spans (with id 0, ending a microsecond before
/// the next minute): `conditions` on the key, tool, action and outcome take the `n` parameters
/// from $1, then come the filter's dates, the cursor's time, the end of the last span read and
/// the limit.
fn minute_spans(conditions: &[String], n: usize) -> String {
    format!(
        "SELECT DISTINCT 0::bigint AS id, minute AS at_min, \
                minute + interval '59.999999 seconds' AS at_max \
         FROM audit_counts \
         WHERE minute > ${}::timestamptz - interval '1 minute' \
           AND minute < ${}::timestamptz AND minute <= ${}::timestamptz \
           AND minute < ${}::timestamptz - interval '59.999999 seconds'{} \
         ORDER BY at_min DESC LIMIT ${}",
        n + 1,
        n + 2,
        n + 3,
        n + 4,
        and_each(conditions),
        n + 5
    )
}

/// What a scan found: the wanted events' `seq`s (newest first), and how many events matched
/// in all, `complete` when there are no more than counted.
pub(super) struct Matches {
    pub seqs: Vec<i64>,
    pub counted: usize,
    pub complete: bool,
}

/// What a text search (`q`) looks for in the batches' words: each word whole, or as a prefix
/// where it may go on.
pub(super) struct TextWords {
    /// `q`'s words: a batch must hold all of them.
    pub words: Vec<(String, bool)>,
    /// The words of request ids that start with `q`: a batch may hold any of them instead.
    pub request_ids: Vec<(String, bool)>,
}

/// `text` as a `tsquery`: all of its words, or any of its request ids' words, or the batches
/// with too many words to keep ([`EVERY`]).
fn tsquery(text: &TextWords) -> String {
    let lexeme = |(w, whole): &(String, bool)| {
        let quoted = w.replace('\\', "\\\\").replace('\'', "''");
        if *whole {
            format!("'{quoted}'")
        } else {
            format!("'{quoted}':*")
        }
    };
    let all = text
        .words
        .iter()
        .map(lexeme)
        .collect::<Vec<_>>()
        .join(" & ");
    let mut query = format!("({all})");
    for id in &text.request_ids {
        query.push_str(" | ");
        query.push_str(&lexeme(id));
    }
    query.push_str(&format!(" | '{EVERY}'"));
    query
}

/// The one word of a batch whose words were too many to keep: every search reads it. No word
/// of an event starts with a `-` (see `audit::batch_words`).
pub(super) const EVERY: &str = "-every-";

/// The events matching `filter`, newest first, found in the batches of `spans`, after `cursor`: the `seq`s of the `take` after the first `skip`, counting matches up to
/// `count`'s limit (at least `skip + take`; one more is looked for, to tell whether there are
/// more), or, once the wanted events are found, until its time is spent.
pub(super) async fn scan(
    c: &impl GenericClient,
    filter: &AuditFilter,
    spans: &Spans,
    cursor: Option<Cursor>,
    skip: usize,
    take: usize,
    count: Counting,
) -> Result<Matches, AuditError> {
    // When the wanted events were all found: counting goes on from then for `count.time`.
    let mut filled_at: Option<std::time::Instant> = None;
    // How the spans are read: their statement, and the parameters before the five it shares.
    let (spans_sql, span_params): (String, Vec<Param>) = match spans {
        Spans::Words(words) => (WORD_SPANS.to_owned(), vec![Box::new(tsquery(words))]),
        Spans::Minutes => {
            let (clauses, params) = count_conditions(filter);
            (minute_spans(&clauses, params.len()), params)
        }
    };
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
            let mut refs = refs(&span_params);
            refs.extend([&from as &(dyn ToSql + Sync), &to, &top, &after.0]);
            // (A minute's span is known by its end alone.)
            if let Spans::Words(_) = spans {
                refs.push(&after.1);
            }
            refs.push(&SPAN_PAGE);
            let rows = c.query(&spans_sql, &refs).await.map_err(unavailable)?;
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
    use super::{TextWords, tsquery};

    #[test]
    fn words_become_a_conjunction_with_prefixes_where_they_may_go_on_or_a_request_id() {
        let text = |words: Vec<(String, bool)>, request_ids: Vec<(String, bool)>| TextWords {
            words,
            request_ids,
        };
        assert_eq!(
            tsquery(&text(
                vec![("public".into(), true), ("ord".into(), false)],
                vec![]
            )),
            "('public' & 'ord':*) | '-every-'"
        );
        assert_eq!(
            tsquery(&text(vec![("it's".into(), true)], vec![])),
            "('it''s') | '-every-'"
        );
        assert_eq!(
            tsquery(&text(
                audit::search_words("0193A1B2-c3d4-7"),
                audit::request_id_search("0193A1B2-c3d4-7")
            )),
            "('0193a1b2' & 'c3d4' & '7':*) | 'rid:0193a1b2-c3d4-7':* | 'rid:0193a1b2-c3d4' \
             | '-every-'"
        );
    }
}
