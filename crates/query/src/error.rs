//! The error of parsing or planning a query: where in the arguments it is, and what to change.

use serde::Serialize;

/// What kind of problem a [`QueryError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryErrorKind {
    /// The arguments do not follow the contract: wrong type, missing or unknown field, unknown
    /// operator, bad alias...
    Invalid,
    /// A construct the target database lacks (FULL JOIN on MySQL, INTERSECT on an old MySQL...).
    Unsupported,
    /// A bound on the size of a query was exceeded.
    TooLarge,
    /// The table is not one the key may read; it may or may not exist (never told apart).
    UnknownTable,
    /// The column is not in the table's snapshot, or its prefix names no table of the query.
    UnknownColumn,
    /// The function is not on the allow-list (it may or may not exist in the database).
    UnknownFunction,
}

impl QueryErrorKind {
    /// A stable snake_case code (`invalid`, `unsupported`, `too_large`, `unknown_table`,
    /// `unknown_column`, `unknown_function`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Unsupported => "unsupported",
            Self::TooLarge => "too_large",
            Self::UnknownTable => "unknown_table",
            Self::UnknownColumn => "unknown_column",
            Self::UnknownFunction => "unknown_function",
        }
    }
}

/// Why a query definition was refused. `Display` is `"<path>: <what is wrong and how to fix
/// it>"`, written for the agent that sent it; `path` is like `where[1].field` (`arguments` for
/// the whole object).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct QueryError {
    kind: QueryErrorKind,
    path: String,
    message: String,
}

impl QueryError {
    pub(crate) fn new(
        kind: QueryErrorKind,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(QueryErrorKind::Invalid, path, message)
    }

    pub(crate) fn unsupported(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(QueryErrorKind::Unsupported, path, message)
    }

    pub(crate) fn too_large(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(QueryErrorKind::TooLarge, path, message)
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> QueryErrorKind {
        self.kind
    }

    /// Where in the arguments: `tableName`, `where[1].field`, `arguments`...
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong and how to fix it, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The longest piece of caller text repeated in an error message.
const SHOWN_MAX: usize = 80;

/// Caller text as it appears in an error: quoted and escaped, cut when long.
pub(crate) fn shown(text: &str) -> String {
    if text.chars().count() <= SHOWN_MAX {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(SHOWN_MAX).collect();
        format!("{cut:?}...")
    }
}

/// `path.key`, or `key` at the top. Built without `format!`: the parser and the planner
/// make a path for every node of every query, error or not.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        return key.to_owned();
    }
    let mut out = String::with_capacity(path.len() + 1 + key.len());
    out.push_str(path);
    out.push('.');
    out.push_str(key);
    out
}

/// `path[index]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(i);
    let mut out = String::with_capacity(path.len() + digits.len() + 2);
    out.push_str(path);
    out.push('[');
    out.push_str(digits);
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_keys_and_indexes() {
        assert_eq!(join("", "where"), "where");
        assert_eq!(join("where[1]", "op"), "where[1].op");
        assert_eq!(index("where", 0), "where[0]");
        assert_eq!(index("select", 1234), "select[1234]");
        assert_eq!(index("a", usize::MAX), format!("a[{}]", usize::MAX));
    }

    #[test]
    fn display_is_path_then_message() {
        let e = QueryError::invalid("where[1].op", "unknown operator");
        assert_eq!(e.to_string(), "where[1].op: unknown operator");
        assert_eq!(e.kind().code(), "invalid");
    }

    #[test]
    fn long_caller_text_is_cut_and_escaped() {
        let long = "x\"".repeat(100);
        let s = shown(&long);
        assert!(s.ends_with("..."));
        assert!(s.len() < 200);
        assert_eq!(shown("a\"b"), "\"a\\\"b\"");
    }
}
