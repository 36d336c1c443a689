//! Searching the log: a filter's SQL conditions and count, and what a text search (`q`) needs.

use audit::{AuditError, AuditFilter, Cursor, Outcome, StoredEvent};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use super::{COLUMNS, from_row, spans, unavailable};

pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// A filter's conditions (to be joined with `AND`), with their parameters; with a cursor, only
/// events after it (newest first).
pub(super) fn conditions(f: &AuditFilter, cursor: Option<Cursor>) -> (Vec<String>, Vec<Param>) {
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
        // it starts with a letter or digit (a cheap `ILIKE` first, then the word's start), or
        // at the beginning of the request id. Where `q` has words, the search reads only the
        // events of batches holding them or the request id's (`text_words`).
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        params.push(Box::new(format!("%{escaped}%")));
        let anywhere = params.len();
        let mut fields = format!(
            "(action ILIKE ${anywhere} OR tool_name ILIKE ${anywhere} OR error ILIKE ${anywhere} \
             OR actor_id ILIKE ${anywhere} OR array_to_string(tables, ' ') ILIKE ${anywhere} \
             OR arguments ILIKE ${anywhere} OR client_addr ILIKE ${anywhere} \
             OR user_agent ILIKE ${anywhere})"
        );
        if q.starts_with(char::is_alphanumeric) {
            params.push(Box::new(at_word_start(q)));
            let word = params.len();
            fields = format!(
                "({fields} AND (action ~* ${word} OR tool_name ~* ${word} OR error ~* ${word} \
                 OR actor_id ~* ${word} OR array_to_string(tables, ' ') ~* ${word} \
                 OR arguments ~* ${word} OR client_addr ~* ${word} OR user_agent ~* ${word}))"
            );
        }
        // ASCII case folding only, as `audit::request_id_word` does: under another collation
        // `ILIKE` would fold more (`İ` to `i`) than the batches' words do.
        params.push(Box::new(format!("{escaped}%")));
        clauses.push(format!(
            "({fields} OR request_id COLLATE \"C\" ILIKE ${})",
            params.len()
        ));
    }
    // A literal, not a parameter (one of three fixed words): the planner then sees that
    // `denied` and `failed` are covered by the index of unsuccessful events (0009).
    if let Some(o) = outcome {
        clauses.push(outcome_clause(o));
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
pub(super) fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
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

/// The condition on an outcome (`success`, `denied`, `failed`).
fn outcome_clause(outcome: &str) -> String {
    format!("outcome = '{outcome}'")
}

/// The statement counting the events that `clauses` (of [`conditions`], without a cursor)
/// match, with the same parameters. Successes, most of the log and without an index of their
/// own, are counted as all the events the other conditions match less the unsuccessful ones.
pub(super) fn count_sql(clauses: &[String]) -> String {
    let success = outcome_clause(Outcome::Success.as_str());
    let mut others: Vec<String> = clauses.iter().filter(|c| **c != success).cloned().collect();
    if others.len() == clauses.len() {
        return format!("SELECT count(*) FROM audit_events {}", where_sql(clauses));
    }
    let all = format!("SELECT count(*) FROM audit_events {}", where_sql(&others));
    others.push("outcome <> 'success'".to_owned());
    let unsuccessful = format!("SELECT count(*) FROM audit_events {}", where_sql(&others));
    format!("SELECT ({all}) - ({unsuccessful})")
}

/// ` AND ...` for each condition, to follow conditions of a statement's own.
pub(super) fn and_each(clauses: &[String]) -> String {
    clauses.iter().map(|c| format!(" AND {c}")).collect()
}

/// `WHERE ...` for conditions (empty for none).
pub(super) fn where_sql(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    }
}

/// For `q`: matches are counted up to 1,000 past the page (`total` is exact below it), and
/// for no longer than 50 ms once the page is found (a word in one event of hundreds, such as
/// an address, would otherwise mean reading hundreds of thousands of events for the count).
pub(super) fn text_counting(skip: usize, take: usize) -> spans::Counting {
    spans::Counting {
        limit: (skip + take).max(1_000),
        time: Some(std::time::Duration::from_millis(50)),
    }
}

/// Whether a filter asks for a key, a tool or an action: such a search is counted from
/// `audit_counts` (migration 0011) and reads the events of the minutes that hold matches (an
/// outcome alone is found through the index of unsuccessful events instead).
pub(super) fn counted(f: &AuditFilter) -> bool {
    f.key_id.is_some() || f.tool_name.is_some() || f.action.is_some()
}

/// A filter's conditions on what `audit_counts` holds (key, tool, action, outcome): its column
/// names are the events'.
pub(super) fn count_conditions(f: &AuditFilter) -> (Vec<String>, Vec<Param>) {
    conditions(
        &AuditFilter {
            from: None,
            to: None,
            text: None,
            ..f.clone()
        },
        None,
    )
}

/// The minute `at` falls in (UTC, as `audit_counts` has it).
fn minute_of(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(at)
}

/// The exact number of events a [`counted`] filter matches: the counts of the minutes wholly
/// within its dates, plus the events, counted one by one, of the minutes its dates cut through.
pub(super) async fn counted_total(
    c: &impl tokio_postgres::GenericClient,
    f: &AuditFilter,
) -> Result<u64, AuditError> {
    // In UTC (a date that has none, near the year 9999, as the last).
    let utc = |at: OffsetDateTime| {
        at.checked_to_offset(time::UtcOffset::UTC)
            .unwrap_or(spans::LAST)
    };
    let from = utc(f.from.unwrap_or(spans::FIRST));
    let to = utc(f.to.unwrap_or(spans::LAST));
    // The whole minutes: from the first starting at or after `from` to the last ending at or
    // before `to`.
    let first = match minute_of(from) {
        m if m == from => m,
        m => m.checked_add(time::Duration::MINUTE).unwrap_or(spans::LAST),
    };
    let end = minute_of(to);
    let (clauses, mut params) = count_conditions(f);
    let n = params.len();
    params.extend([Box::new(first) as Param, Box::new(end)]);
    let whole = format!(
        "SELECT coalesce(sum(events), 0)::bigint FROM audit_counts \
         WHERE minute >= ${} AND minute < ${}{}",
        n + 1,
        n + 2,
        and_each(&clauses)
    );
    // The minutes cut through, counted event by event: before the first whole minute and
    // after the last, or the one minute both dates fall in.
    let cut: Vec<(OffsetDateTime, OffsetDateTime)> = if first > end {
        vec![(from, to)]
    } else {
        [(from, first), (end, to)]
            .into_iter()
            .filter(|(lo, hi)| lo < hi)
            .collect()
    };
    let whole_refs = refs(&params);
    let whole = c.query_one(&whole, &whole_refs);
    let cut = futures_util::future::try_join_all(cut.into_iter().map(|(lo, hi)| async move {
        let (clauses, mut params) = count_conditions(f);
        let n = params.len();
        params.extend([Box::new(lo) as Param, Box::new(hi)]);
        let sql = format!(
            "SELECT count(*) FROM audit_events WHERE at >= ${} AND at < ${}{}",
            n + 1,
            n + 2,
            and_each(&clauses)
        );
        c.query_one(&sql, &refs(&params))
            .await
            .map(|r| r.get::<_, i64>(0))
    }));
    let (whole, cut) = futures_util::future::try_join(whole, cut)
        .await
        .map_err(unavailable)?;
    let cut: i64 = cut.iter().sum();
    Ok((whole.get::<_, i64>(0) + cut).max(0) as u64)
}

/// What a text search looks for in the batches' words, when `q` has words (a search without
/// any reads every event).
pub(super) fn text_words(f: &AuditFilter) -> Option<spans::TextWords> {
    let q = f.text.as_deref()?;
    let words = audit::search_words(q);
    (!words.is_empty()).then(|| spans::TextWords {
        words,
        request_ids: audit::request_id_search(q),
    })
}

/// A read-only transaction for a search by spans (text, or key, tool and action), without JIT:
/// PostgreSQL would compile the per-span statement (its estimate is high, the spans being
/// unknown to the planner), which takes 10 to 40 ms, longer than running it. Rolled back when
/// dropped.
pub(super) async fn span_search(
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
pub(super) async fn by_seq(
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
