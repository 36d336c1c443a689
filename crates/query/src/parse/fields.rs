//! The keys each object of the arguments may have, and typed access to their values.

use serde_json::Value;

use super::Object;
use crate::error::{QueryError, join, shown};
use crate::model::{MAX_ALIAS_CHARS, Name};

pub(super) const QUERY_FIELDS: &[&str] = &[
    "tableName",
    "alias",
    "distinct",
    "selectColumns",
    "where",
    "orderBy",
    "limit",
    "offset",
];

/// Fields of the contract that a later version supports, with what to do meanwhile.
pub(super) const QUERY_LATER: &[(&str, &str)] = &[
    (
        "joins",
        "joins are not supported yet; query one table per call",
    ),
    (
        "groupBy",
        "groupBy (grouping and aggregates) is not supported yet",
    ),
    (
        "having",
        "having (conditions on groups) is not supported yet",
    ),
    (
        "with",
        "with (common table expressions) is not supported yet",
    ),
    (
        "combine",
        "combine (union, intersect, except) is not supported yet; run the queries one at a time",
    ),
];

pub(super) const EXPRESSION_LATER: &[(&str, &str)] = &[
    (
        "function",
        "function expressions are not supported yet; use {\"field\": ...} or {\"value\": ...}",
    ),
    (
        "operation",
        "operation expressions (arithmetic, concat) are not supported yet; use {\"field\": ...} or {\"value\": ...}",
    ),
    (
        "case",
        "case expressions are not supported yet; use {\"field\": ...} or {\"value\": ...}",
    ),
    (
        "subquery",
        "subqueries are not supported yet; use {\"field\": ...} or {\"value\": ...}",
    ),
];

/// Keys that only belong to a later expression form, and that form.
pub(super) const EXPRESSION_LATER_PARTS: &[(&str, &str)] = &[
    ("args", "function"),
    ("over", "function"),
    ("filter", "function"),
    ("distinct", "function"),
    ("when", "case"),
    ("else", "case"),
    ("left", "operation"),
    ("right", "operation"),
];

pub(super) const CONDITION_FIELDS: &[&str] = &[
    "field",
    "left",
    "op",
    "value",
    "otherField",
    "group",
    "or",
    "not",
];

pub(super) const CONDITION_LATER: &[(&str, &str)] = &[
    (
        "subquery",
        "conditions with a subquery are not supported yet; use op \"in\" with a list of values",
    ),
    (
        "exists",
        "exists conditions (subqueries) are not supported yet",
    ),
];

pub(super) const EXPRESSION_FIELDS: &[&str] = &["field", "value"];
pub(super) const SELECT_FIELDS: &[&str] = &["field", "value", "alias"];
pub(super) const ORDER_FIELDS: &[&str] = &["field", "value", "direction", "nulls"];

/// Names agents often use for a field, and the field they mean.
pub(super) const SYNONYMS: &[(&str, &str)] = &[
    ("table", "tableName"),
    ("from", "tableName"),
    ("columns", "selectColumns"),
    ("select", "selectColumns"),
    ("fields", "selectColumns"),
    ("filter", "where"),
    ("filters", "where"),
    ("conditions", "where"),
    ("order", "orderBy"),
    ("sort", "orderBy"),
    ("sortby", "orderBy"),
    ("top", "limit"),
    ("take", "limit"),
    ("skip", "offset"),
    ("column", "field"),
    ("operator", "op"),
    ("values", "value"),
    ("dir", "direction"),
];

/// Refuses keys this object may not have: later features first (with what to do meanwhile),
/// then parts of later expression forms, then unknown keys (with the allowed ones).
pub(super) fn check_keys(
    obj: &Object,
    path: &str,
    allowed: &[&str],
    later: &[(&str, &str)],
    later_parts: &[(&str, &str)],
) -> Result<(), QueryError> {
    for (key, why) in later {
        if obj.contains_key(*key) {
            return Err(QueryError::unsupported(join(path, key), *why));
        }
    }
    for (key, form) in later_parts {
        if obj.contains_key(*key) && !allowed.contains(key) {
            return Err(QueryError::unsupported(
                join(path, key),
                format!(
                    "{key:?} belongs to {form} expressions, which are not supported yet; use {{\"field\": ...}} or {{\"value\": ...}}"
                ),
            ));
        }
    }
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            let hint = suggestion(key, allowed)
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_default();
            let key_path = if key.len() <= 40 && key.chars().all(|c| c.is_ascii_alphanumeric()) {
                join(path, key)
            } else {
                join(path, &shown(key))
            };
            return Err(QueryError::invalid(
                key_path,
                format!(
                    "unknown field {}{hint}; the fields allowed here are: {}",
                    shown(key),
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The allowed field an unknown key probably meant: the same letters in another case or
/// spelling (`table_name`), or a common synonym (`columns`).
pub(super) fn suggestion(key: &str, allowed: &[&str]) -> Option<&'static str> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let key = norm(key);
    let all = QUERY_FIELDS
        .iter()
        .chain(CONDITION_FIELDS)
        .chain(SELECT_FIELDS)
        .chain(ORDER_FIELDS);
    if let Some(found) = all.filter(|a| allowed.contains(a)).find(|a| norm(a) == key) {
        return Some(found);
    }
    SYNONYMS
        .iter()
        .find(|(synonym, field)| *synonym == key && allowed.contains(field))
        .map(|(_, field)| *field)
}

/// A key's value, with null taken as absent.
pub(super) fn optional<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

pub(super) fn object<'a>(
    value: &'a Value,
    path: &str,
    example: &str,
) -> Result<&'a Object, QueryError> {
    value
        .as_object()
        .ok_or_else(|| QueryError::invalid(path, format!("expected {example}")))
}

/// A non-empty string naming a table or column.
pub(super) fn name(value: &Value, path: &str) -> Result<Name, QueryError> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(Name {
            text: s.clone(),
            path: path.to_owned(),
        }),
        Value::String(_) => Err(QueryError::invalid(path, "must not be empty")),
        _ => Err(QueryError::invalid(path, "expected a name (a string)")),
    }
}

pub(super) fn flag(obj: &Object, path: &str, key: &str) -> Result<bool, QueryError> {
    match optional(obj, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(QueryError::invalid(
            join(path, key),
            "expected true or false",
        )),
    }
}

pub(super) fn text<'a>(
    obj: &'a Object,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, QueryError> {
    match optional(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(QueryError::invalid(join(path, key), "expected a string")),
    }
}

pub(super) fn list<'a>(
    obj: &'a Object,
    path: &str,
    key: &str,
) -> Result<Option<&'a [Value]>, QueryError> {
    match optional(obj, key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(QueryError::invalid(
            join(path, key),
            "expected a list ([...])",
        )),
    }
}

/// `limit` or `offset`: a whole number, 0 or more.
pub(super) fn count(obj: &Object, key: &str) -> Result<Option<u64>, QueryError> {
    match optional(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(c) => Ok(Some(c)),
            None => Err(QueryError::invalid(
                key,
                "expected a whole number, 0 or more",
            )),
        },
        Some(_) => Err(QueryError::invalid(
            key,
            "expected a whole number, 0 or more",
        )),
    }
}

/// Whether `text` is a plain identifier: ASCII letters, digits and `_`, not starting with a
/// digit, at most [`MAX_ALIAS_CHARS`] long.
pub(super) fn is_plain_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && text.len() <= MAX_ALIAS_CHARS
}

/// The `alias` of `obj`, checked to be a plain identifier.
pub(super) fn alias(obj: &Object, path: &str) -> Result<Option<String>, QueryError> {
    match text(obj, path, "alias")? {
        None => Ok(None),
        Some(a) if is_plain_identifier(a) => Ok(Some(a.to_owned())),
        Some(a) => Err(QueryError::invalid(
            join(path, "alias"),
            format!(
                "alias {} must be a plain name: letters, digits and _, not starting with a digit, at most {MAX_ALIAS_CHARS} characters",
                shown(a)
            ),
        )),
    }
}
