//! The words of events, for text search (`q`) without reading the whole log.
//!
//! A stored batch of events keeps the set of its words (a summary); a search for `q` reads
//! only the batches whose words hold all of `q`'s, then checks those batches' events for `q`
//! itself. A word is a run of letters and digits, lower-cased, at most [`MAX_WORD_BYTES`]
//! long (longer runs are cut, and a search for one matches by that prefix). So `q` is found
//! where it starts at the beginning of a word: `orders`, `ord` and `public.orders` all find
//! `public.orders`, `rders` does not.
//!
//! A request id is one word of its own, found from its beginning only (see
//! [`request_id_word`]): split into words, each of Sluice's ids (a UUIDv7) would add three or
//! four words found in no other event, and each distinct word of a batch costs PostgreSQL its
//! GIN entry. Request ids are compared with ASCII case folding only, here and in the store's
//! SQL (`COLLATE "C"`), so that both agree on every id whatever the database's locale.

use std::collections::HashSet;

use foldhash::fast::RandomState;

use crate::AuditEvent;

/// The longest word kept, in bytes (cut at a character boundary).
pub const MAX_WORD_BYTES: usize = 64;

/// A batch's words take at most this many bytes; a batch with more is summarised as "not
/// indexed" ([`batch_words`] returns `None`) and is read whole by every search.
pub const MAX_BATCH_WORD_BYTES: usize = 256 * 1024;

/// The distinct words of `events`' searchable fields, sorted, or `None` when there are more
/// than [`MAX_BATCH_WORD_BYTES`] of them. The fields are those a search looks in: action,
/// tool, error, actor, tables, arguments, client address and user agent (their words), and
/// request id ([`request_id_word`]).
#[must_use]
pub fn batch_words<'a>(events: impl IntoIterator<Item = &'a AuditEvent>) -> Option<Vec<String>> {
    // foldhash rather than SipHash: this hashes every word of every event the server records.
    let mut words: HashSet<String, RandomState> = HashSet::default();
    // The texts read already: most events of a batch share their action, tool, actor, address
    // and user agent, and a text read once has no new words.
    let mut read: HashSet<&str, RandomState> = HashSet::default();
    let mut bytes = 0usize;
    for e in events {
        let fields = [
            Some(e.action.as_str()),
            e.tool_name.as_deref(),
            e.error.as_deref(),
            e.actor_id.as_deref(),
            e.arguments.as_deref(),
            e.client_addr.as_deref(),
            e.user_agent.as_deref(),
        ];
        for text in fields
            .into_iter()
            .flatten()
            .chain(e.tables.iter().map(String::as_str))
        {
            if !read.insert(text) {
                continue;
            }
            each_word(text, |w| {
                if !words.contains(w) {
                    bytes += w.len();
                    words.insert(w.to_owned());
                }
            });
        }
        if let Some(id) = &e.request_id {
            let w = request_id_word(id);
            if !words.contains(&w) {
                bytes += w.len();
                words.insert(w);
            }
        }
        if bytes > MAX_BATCH_WORD_BYTES {
            return None;
        }
    }
    let mut words: Vec<String> = words.into_iter().collect();
    words.sort_unstable();
    Some(words)
}

/// A search text's words, in order, each with whether it must be matched whole: every word but
/// the last is followed by something else in `q`, so it ends there in a match too; the last
/// (and any cut to [`MAX_WORD_BYTES`]) may go on.
#[must_use]
pub fn search_words(q: &str) -> Vec<(String, bool)> {
    let mut words: Vec<(String, bool)> = Vec::new();
    each_word(q, |w| words.push((w.to_owned(), true)));
    // Where a word was cut, the cut one is a prefix of the one in the text.
    for (w, whole) in &mut words {
        if w.len() >= MAX_WORD_BYTES {
            *whole = false;
        }
    }
    let ends_in_word = q.chars().next_back().is_some_and(char::is_alphanumeric);
    if ends_in_word && let Some(last) = words.last_mut() {
        last.1 = false;
    }
    words
}

/// What starts every request id's word: no other word has a `:` (the word `rid` of some other
/// text is a prefix of these, which only means a search for `rid` reads those batches too).
const REQUEST_ID: &str = "rid:";

/// The length of a UUID's time, to the millisecond, in its text: `0193a1b2-c3d4`.
const UUID_TIME_LEN: usize = 13;

/// A request id's word: `rid:` and the id, ASCII lower-cased and cut to [`MAX_WORD_BYTES`] in
/// all. For a UUIDv7 (the ids Sluice makes for requests that bring none) only its time, to the
/// millisecond: the events of a batch share a few of these instead of each adding its own,
/// and a search for the id reads the events of that millisecond's batch. (A client that sends
/// UUIDv7s with a fixed time, such as `00000000-0000-7000-...`, gets one word for all of them:
/// still found, by reading every batch that holds one.)
#[must_use]
pub fn request_id_word(id: &str) -> String {
    let id = id.to_ascii_lowercase();
    let kept = if is_uuid_v7(&id) {
        &id[..UUID_TIME_LEN]
    } else {
        &id
    };
    cut(format!("{REQUEST_ID}{kept}"))
}

/// The words whose batches may hold a request id that starts with `q` (ASCII lower-cased): each
/// with whether it must be matched whole (as in [`search_words`]). A request id is found from
/// its beginning only: `0193a1b2-c3` finds `0193a1b2-c3d4-7e5f-...`, `c3d4` does not.
#[must_use]
pub fn request_id_search(q: &str) -> Vec<(String, bool)> {
    let q = q.to_ascii_lowercase();
    // A longer id that starts with `q`, or a UUIDv7 in a millisecond that starts with `q`.
    let mut words = vec![(cut(format!("{REQUEST_ID}{q}")), false)];
    // A UUIDv7 that `q` goes on into: its word is its time.
    if let Some(time) = q.get(..UUID_TIME_LEN)
        && q.len() > UUID_TIME_LEN
        && is_uuid_time(time)
    {
        words.push((format!("{REQUEST_ID}{time}"), true));
    }
    words
}

/// Whether `id` is a UUID of version 7 in its hyphenated form:
/// `0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b`.
fn is_uuid_v7(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok_and(|u| u.get_version_num() == 7)
}

/// Whether `text` (lower-cased) has the shape of a UUID's time: `0193a1b2-c3d4`.
fn is_uuid_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == UUID_TIME_LEN
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// `word` cut to [`MAX_WORD_BYTES`] at a character boundary.
fn cut(mut word: String) -> String {
    if word.len() > MAX_WORD_BYTES {
        let mut end = MAX_WORD_BYTES;
        while !word.is_char_boundary(end) {
            end -= 1;
        }
        word.truncate(end);
    }
    word
}

/// Calls `f` with each word of `text`, lower-cased and cut to [`MAX_WORD_BYTES`]. The text is
/// taken as stored: in JSON text `line1\nline2` the words are `line1` and `nline2`, as the
/// search's check of the stored text sees them.
fn each_word(text: &str, mut f: impl FnMut(&str)) {
    let mut word = String::new();
    let chars = text.chars();
    let flush = |word: &mut String, f: &mut dyn FnMut(&str)| {
        if !word.is_empty() {
            f(word);
            word.clear();
        }
    };
    for c in chars {
        if c.is_ascii_alphanumeric() {
            if word.len() < MAX_WORD_BYTES {
                word.push(c.to_ascii_lowercase());
            }
            continue;
        }
        if !c.is_ascii() && c.is_alphanumeric() {
            if word.len() + c.len_utf8() <= MAX_WORD_BYTES {
                word.extend(c.to_lowercase());
            }
            continue;
        }
        flush(&mut word, &mut f);
    }
    flush(&mut word, &mut f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActorType, Outcome};

    fn words(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        each_word(text, |w| out.push(w.to_owned()));
        out
    }

    #[test]
    fn words_are_runs_of_letters_and_digits_lower_cased() {
        assert_eq!(
            words("public.Orders customer_id=42, Café-Ünïcode"),
            [
                "public",
                "orders",
                "customer",
                "id",
                "42",
                "café",
                "ünïcode"
            ]
        );
        assert_eq!(words("10.0.7.1"), ["10", "0", "7", "1"]);
        assert!(words(" .,;-_ ").is_empty());
    }

    #[test]
    fn text_is_split_as_stored_escapes_and_all() {
        assert_eq!(
            words(r#"{"v":"line1\nline2","p":"C:\\Users"}"#),
            ["v", "line1", "nline2", "p", "c", "users"]
        );
        assert_eq!(words("trailing\\"), ["trailing"]);
    }

    #[test]
    fn long_words_are_cut_at_a_character_boundary() {
        let long = "é".repeat(40);
        let w = words(&long);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0], "é".repeat(32));
        assert!(w[0].len() <= MAX_WORD_BYTES);
    }

    #[test]
    fn every_searchable_field_gives_its_words_once_sorted() {
        let mut e = AuditEvent::new(ActorType::McpKey, "mcp.query.executed", Outcome::Failed);
        e.tool_name = Some("execute_query_safe".into());
        e.error = Some("statement timeout".into());
        e.actor_id = Some("sluice_ab12".into());
        e.tables = vec!["shop.orders".into()];
        e.arguments = Some(r#"{"tableName":"orders"}"#.into());
        e.client_addr = Some("10.0.0.1".into());
        e.user_agent = Some("python-httpx/0.28".into());
        e.request_id = Some("req-7".into());
        let w = batch_words([&e, &e]).unwrap();
        for expected in [
            "mcp",
            "executed",
            "safe",
            "statement",
            "ab12",
            "shop",
            "tablename",
            "10",
            "httpx",
            "28",
            "rid:req-7",
        ] {
            assert!(w.iter().any(|x| x == expected), "{expected} in {w:?}");
        }
        // The request id is one word, not split into its own.
        assert!(!w.iter().any(|x| x == "req"), "{w:?}");
        let mut sorted = w.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(w, sorted);
    }

    #[test]
    fn a_request_id_is_one_word_and_a_uuid_v7_only_its_millisecond() {
        assert_eq!(request_id_word("Req-7_a.b:c"), "rid:req-7_a.b:c");
        // Sluice's own ids: the events of one millisecond share a word.
        assert_eq!(
            request_id_word("0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"),
            "rid:0193a1b2-c3d4"
        );
        // Other UUIDs (here version 4) are random throughout: kept whole.
        assert_eq!(
            request_id_word("0f8fad5b-d9cb-469f-a165-70867728950e"),
            "rid:0f8fad5b-d9cb-469f-a165-70867728950e"
        );
        // Not quite a UUID: kept whole.
        assert_eq!(
            request_id_word("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5"),
            "rid:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5"
        );
        let long = "x".repeat(128);
        assert_eq!(request_id_word(&long).len(), MAX_WORD_BYTES);
        // Words of letters and digits never collide with a request id's.
        assert!(words("rid:x").iter().all(|w| !w.contains(':')));
    }

    #[test]
    fn a_search_finds_request_ids_that_start_with_it() {
        // Whatever a matching id's word is, one of the search's words matches it.
        let found = |id: &str, q: &str| {
            let word = request_id_word(id);
            request_id_search(q).iter().any(|(w, whole)| {
                if *whole {
                    word == *w
                } else {
                    word.starts_with(w.as_str())
                }
            })
        };
        let v7 = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        for q in ["0", "0193A1B2", "0193a1b2-c3d4", "0193a1b2-c3d4-7", v7] {
            assert!(found(v7, q), "{q}");
        }
        for q in ["req", "REQ-7", "req-7"] {
            assert!(found("req-7", q), "{q}");
        }
        let long = "y".repeat(128);
        assert!(found(&long, &long));
        assert!(found(&long, &"y".repeat(70)));
        // Not from the beginning: the batch may be passed over (and the event never matches).
        assert!(!found("req-7", "7"));
        assert!(!found("0f8fad5b-d9cb-469f-a165-70867728950e", "d9cb"));
    }

    #[test]
    fn a_batch_with_too_many_words_is_not_summarised() {
        let mut e = AuditEvent::new(ActorType::McpKey, "mcp.query.executed", Outcome::Success);
        e.arguments = Some(
            (0..MAX_BATCH_WORD_BYTES / 4)
                .map(|i| format!("w{i}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
        assert!(batch_words([&e]).is_none());
        e.arguments = Some("few words".into());
        assert!(batch_words([&e]).is_some());
    }

    #[test]
    fn search_words_are_whole_except_the_last_unless_q_ends_after_it() {
        assert_eq!(
            search_words("Public.ORD"),
            [("public".to_owned(), true), ("ord".to_owned(), false)]
        );
        assert_eq!(search_words("orders "), [("orders".to_owned(), true)]);
        assert!(search_words("%_-").is_empty());
        let long = "x".repeat(100);
        assert_eq!(
            search_words(&format!("{long} y")),
            [("x".repeat(64), false), ("y".to_owned(), false)]
        );
    }
}
