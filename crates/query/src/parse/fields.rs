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
    "joins",
    "where",
    "groupBy",
    "having",
    "orderBy",
    "limit",
    "offset",
    "with",
    "combine",
];

/// The key that makes each expression form, with the other keys that form takes.
pub(super) const EXPRESSION_FORMS: &[(&str, &[&str])] = &[
    ("field", &[]),
    ("value", &[]),
    ("function", &["args", "distinct", "filter", "over"]),
    ("operation", &["left", "right"]),
    ("case", &["else"]),
    ("subquery", &[]),
];

/// The form-making keys, for messages.
pub(super) const FORMS_HELP: &str = "field, value, function, operation, case or subquery";

pub(super) const SELECT_EXTRA: &[&str] = &["alias"];
pub(super) const ORDER_EXTRA: &[&str] = &["direction", "nulls"];

pub(super) const CONDITION_FIELDS: &[&str] = &[
    "field",
    "left",
    "op",
    "value",
    "otherField",
    "subquery",
    "exists",
    "group",
    "or",
    "not",
];

pub(super) const JOIN_FIELDS: &[&str] = &["type", "table", "subquery", "alias", "on"];
pub(super) const CTE_FIELDS: &[&str] = &["name", "query"];
pub(super) const COMBINE_FIELDS: &[&str] = &["type", "query"];
pub(super) const WINDOW_FIELDS: &[&str] = &["partitionBy", "orderBy"];
pub(super) const BRANCH_FIELDS: &[&str] = &["when", "then"];

/// Every field of the contract, for suggestions.
const ALL_FIELDS: &[&[&str]] = &[
    QUERY_FIELDS,
    CONDITION_FIELDS,
    JOIN_FIELDS,
    CTE_FIELDS,
    COMBINE_FIELDS,
    WINDOW_FIELDS,
    BRANCH_FIELDS,
    SELECT_EXTRA,
    ORDER_EXTRA,
    &[
        "function",
        "args",
        "distinct",
        "filter",
        "over",
        "operation",
        "left",
        "right",
        "case",
        "else",
    ],
];

/// Keys that only belong to some other kind of object, and what that is.
const BELONGS_TO: &[(&str, &str)] = &[
    ("args", "a function expression"),
    ("over", "a function expression"),
    (
        "filter",
        "a function expression (a where of a query is \"where\")",
    ),
    ("right", "an operation expression"),
    ("else", "a case expression"),
    ("when", "a branch of a case expression"),
    ("then", "a branch of a case expression"),
    ("alias", "a select item, a join or a query"),
    ("direction", "an orderBy item"),
    ("nulls", "an orderBy item"),
    ("on", "a join"),
    ("exists", "a condition"),
    ("partitionBy", "the over of a function"),
];

/// Names agents often use for a field, and the field they mean (the first one allowed wins).
const SYNONYMS: &[(&str, &str)] = &[
    ("table", "tableName"),
    ("from", "tableName"),
    ("columns", "selectColumns"),
    ("select", "selectColumns"),
    ("fields", "selectColumns"),
    ("filters", "where"),
    ("conditions", "where"),
    ("conditions", "on"),
    ("where", "on"),
    ("filter", "where"),
    ("join", "joins"),
    ("group", "groupBy"),
    ("order", "orderBy"),
    ("sort", "orderBy"),
    ("sortby", "orderBy"),
    ("top", "limit"),
    ("take", "limit"),
    ("skip", "offset"),
    ("cte", "with"),
    ("ctes", "with"),
    ("union", "combine"),
    ("setoperations", "combine"),
    ("column", "field"),
    ("operator", "op"),
    ("operator", "operation"),
    ("op", "operation"),
    ("values", "value"),
    ("dir", "direction"),
    ("fn", "function"),
    ("func", "function"),
    ("arguments", "args"),
    ("params", "args"),
    ("partition", "partitionBy"),
    ("window", "over"),
    ("default", "else"),
    ("otherwise", "else"),
    ("condition", "when"),
    ("result", "then"),
    ("jointype", "type"),
    ("kind", "type"),
    ("as", "alias"),
];

/// Refuses keys this object may not have, naming the allowed ones (and what was probably
/// meant).
pub(super) fn check_keys(obj: &Object, path: &str, allowed: &[&str]) -> Result<(), QueryError> {
    for key in obj.keys() {
        if allowed.contains(&key.as_str()) {
            continue;
        }
        let hint = match suggestion(key, allowed) {
            Some(s) => format!(" (did you mean {s:?}?)"),
            None => BELONGS_TO
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, owner)| format!(" ({key:?} belongs to {owner})"))
                .unwrap_or_default(),
        };
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
    let found = ALL_FIELDS
        .iter()
        .flat_map(|fields| fields.iter())
        .filter(|a| allowed.contains(a))
        .find(|a| norm(a) == key);
    if let Some(found) = found {
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
pub(super) fn count(obj: &Object, path: &str, key: &str) -> Result<Option<u64>, QueryError> {
    match optional(obj, key) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(_) => Err(QueryError::invalid(
            join(path, key),
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
    identifier(obj, path, "alias")
}

/// A plain identifier under `key` (an alias or a CTE name), if present.
pub(super) fn identifier(
    obj: &Object,
    path: &str,
    key: &str,
) -> Result<Option<String>, QueryError> {
    match text(obj, path, key)? {
        None => Ok(None),
        Some(a) if is_plain_identifier(a) => Ok(Some(a.to_owned())),
        Some(a) => Err(QueryError::invalid(
            join(path, key),
            format!(
                "{key} {} must be a plain name: letters, digits and _, not starting with a digit, at most {MAX_ALIAS_CHARS} characters",
                shown(a)
            ),
        )),
    }
}
