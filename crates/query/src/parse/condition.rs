//! Conditions: `where` items and groups, their operators and right-hand sides.

use db_configs::SqlValue;
use serde_json::Value;

use super::fields::*;
use super::{Object, Parser};
use crate::error::{QueryError, index, join, shown};
use crate::model::*;

const OPS_HELP: &str = "=, <>, >, >=, <, <= (or eq, ne, gt, gte, lt, lte), like, notLike, ilike, \
     startsWith, endsWith, contains, in, notIn, between, notBetween, isNull, isNotNull";

/// A condition operator as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Compare(CompareOp),
    IsNull(bool),
    Like(LikeKind),
    Match(MatchKind),
    In(bool),
    Between(bool),
}

impl Op {
    /// Symbols and names, case-insensitive, `_`, `-` and spaces ignored (`not like`, `is_null`).
    fn parse(text: &str, path: &str) -> Result<Self, QueryError> {
        let norm: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, '_' | ' ' | '-'))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match norm.as_str() {
            "=" | "==" | "eq" => Self::Compare(CompareOp::Eq),
            "<>" | "!=" | "ne" => Self::Compare(CompareOp::Ne),
            ">" | "gt" => Self::Compare(CompareOp::Gt),
            ">=" | "gte" => Self::Compare(CompareOp::Ge),
            "<" | "lt" => Self::Compare(CompareOp::Lt),
            "<=" | "lte" => Self::Compare(CompareOp::Le),
            "like" => Self::Like(LikeKind::Like),
            "notlike" => Self::Like(LikeKind::NotLike),
            "ilike" => Self::Like(LikeKind::ILike),
            "startswith" => Self::Match(MatchKind::StartsWith),
            "endswith" => Self::Match(MatchKind::EndsWith),
            "contains" => Self::Match(MatchKind::Contains),
            "in" => Self::In(false),
            "notin" => Self::In(true),
            "between" => Self::Between(false),
            "notbetween" => Self::Between(true),
            "isnull" => Self::IsNull(false),
            "isnotnull" => Self::IsNull(true),
            _ => {
                return Err(QueryError::invalid(
                    path,
                    format!("unknown operator {}; use one of {OPS_HELP}", shown(text)),
                ));
            }
        })
    }
}

impl Parser {
    pub(super) fn conditions(
        &mut self,
        items: &[Value],
        path: &str,
        depth: usize,
    ) -> Result<Vec<Condition>, QueryError> {
        let mut out = Vec::with_capacity(items.len().min(MAX_CONDITIONS));
        for (i, item) in items.iter().enumerate() {
            let item_path = index(path, i);
            let condition = self.condition(item, &item_path, depth)?;
            if i == 0 && condition.or {
                return Err(QueryError::invalid(
                    join(&item_path, "or"),
                    "the first condition of a list has nothing before it to be or-ed with; remove \"or\": true",
                ));
            }
            out.push(condition);
        }
        Ok(out)
    }

    fn condition(
        &mut self,
        item: &Value,
        path: &str,
        depth: usize,
    ) -> Result<Condition, QueryError> {
        self.conditions += 1;
        if self.conditions > self.bounds.conditions {
            return Err(QueryError::too_large(
                path,
                format!(
                    "a query may have at most {} conditions (groups included); simplify it or split it",
                    self.bounds.conditions
                ),
            ));
        }
        let obj = object(
            item,
            path,
            "a condition like {\"field\": \"status\", \"op\": \"=\", \"value\": \"paid\"}",
        )?;
        check_keys(obj, path, CONDITION_FIELDS)?;
        let or = flag(obj, path, "or")?;
        let not = flag(obj, path, "not")?;

        if let Some(group) = obj.get("group") {
            only_with_or_and_not(obj, path, "group")?;
            let group_path = join(path, "group");
            let items = group
                .as_array()
                .ok_or_else(|| QueryError::invalid(&group_path, "expected a list of conditions"))?;
            if items.is_empty() {
                return Err(QueryError::invalid(
                    group_path,
                    "a group needs at least one condition",
                ));
            }
            if depth >= MAX_DEPTH {
                return Err(QueryError::too_large(
                    group_path,
                    format!("groups may nest at most {MAX_DEPTH} levels deep"),
                ));
            }
            let inner =
                self.nested(&group_path, |p| p.conditions(items, &group_path, depth + 1))?;
            return Ok(Condition {
                or,
                not,
                predicate: Predicate::Group(inner),
                path: path.to_owned(),
            });
        }
        if let Some(query) = obj.get("exists") {
            only_with_or_and_not(obj, path, "exists")?;
            let query = self.subquery(query, &join(path, "exists"))?;
            return Ok(Condition {
                or,
                not,
                predicate: Predicate::Exists(Box::new(query)),
                path: path.to_owned(),
            });
        }

        let operand = match (obj.get("field"), obj.get("left")) {
            (Some(f), None) => Expression::Field(name(f, &join(path, "field"))?),
            (None, Some(left)) => self.expression(left, &join(path, "left"), &[])?,
            (Some(_), Some(_)) => {
                return Err(QueryError::invalid(
                    path,
                    "give either field or left, not both",
                ));
            }
            (None, None) => {
                return Err(QueryError::invalid(
                    path,
                    "a condition needs field (a column), left (an expression), group (a list of conditions) or exists (a query)",
                ));
            }
        };
        let op_path = join(path, "op");
        let op = match obj.get("op") {
            Some(Value::String(s)) => Op::parse(s, &op_path)?,
            Some(_) => {
                return Err(QueryError::invalid(
                    op_path,
                    format!("expected a string, one of {OPS_HELP}"),
                ));
            }
            None => {
                return Err(QueryError::invalid(
                    op_path,
                    format!("required; one of {OPS_HELP}"),
                ));
            }
        };
        let predicate = self.predicate(obj, path, operand, op)?;
        Ok(Condition {
            or,
            not,
            predicate,
            path: path.to_owned(),
        })
    }

    /// The predicate of a non-group condition, from its operator and right side.
    fn predicate(
        &mut self,
        obj: &Object,
        path: &str,
        operand: Expression,
        op: Op,
    ) -> Result<Predicate, QueryError> {
        let value_path = join(path, "value");
        let other_path = join(path, "otherField");
        let value = obj.get("value");
        let other = match obj.get("otherField") {
            Some(o) => Some(name(o, &other_path)?),
            None => None,
        };
        let given = [
            value.is_some(),
            other.is_some(),
            obj.contains_key("subquery"),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(QueryError::invalid(
                path,
                "give only one of value, otherField and subquery",
            ));
        }
        if let Some(query) = obj.get("subquery") {
            return self.subquery_predicate(query, path, operand, op);
        }
        let op_name = obj.get("op").and_then(Value::as_str).unwrap_or_default();
        let needs = |what: &str| {
            QueryError::invalid(&value_path, format!("op {} needs {what}", shown(op_name)))
        };
        let no_other = |what: &str| {
            QueryError::invalid(
                &other_path,
                format!(
                    "op {} compares with {what}, not with another column; use value",
                    shown(op_name)
                ),
            )
        };
        match op {
            Op::Compare(op) => match (value, other) {
                // `= null` is never true in SQL; what the caller means is IS NULL.
                (Some(Value::Null), _) if op == CompareOp::Eq => Ok(Predicate::IsNull {
                    operand,
                    negated: false,
                }),
                (Some(Value::Null), _) if op == CompareOp::Ne => Ok(Predicate::IsNull {
                    operand,
                    negated: true,
                }),
                (Some(Value::Null), _) => Err(QueryError::invalid(
                    &value_path,
                    format!(
                        "null cannot be compared with {}; use op \"isNull\" or \"isNotNull\"",
                        op.sql()
                    ),
                )),
                (Some(v), _) => Ok(Predicate::Compare {
                    left: operand,
                    op,
                    right: Expression::Value(self.scalar(v, &value_path)?),
                }),
                (None, Some(other)) => Ok(Predicate::Compare {
                    left: operand,
                    op,
                    right: Expression::Field(other),
                }),
                (None, None) => Err(needs("value (or otherField, a column)")),
            },
            Op::IsNull(negated) => match (value, other) {
                (None | Some(Value::Null), None) => Ok(Predicate::IsNull { operand, negated }),
                (Some(_), _) => Err(QueryError::invalid(
                    &value_path,
                    format!("op {} takes no value; remove value", shown(op_name)),
                )),
                (None, Some(_)) => Err(QueryError::invalid(
                    &other_path,
                    format!("op {} takes no otherField; remove it", shown(op_name)),
                )),
            },
            Op::Like(kind) => match (value, other) {
                (Some(Value::String(s)), _) => {
                    self.count_value(&value_path)?;
                    Ok(Predicate::Like {
                        operand,
                        kind,
                        pattern: Expression::Value(SqlValue::Text(super::text_value(
                            s,
                            &value_path,
                        )?)),
                    })
                }
                (Some(_), _) => Err(QueryError::invalid(
                    &value_path,
                    "expected a text pattern such as \"%smith%\" (% matches any text, _ one character)",
                )),
                (None, Some(other)) => Ok(Predicate::Like {
                    operand,
                    kind,
                    pattern: Expression::Field(other),
                }),
                (None, None) => Err(needs("a text pattern in value, such as \"%smith%\"")),
            },
            Op::Match(kind) => match (value, other) {
                (Some(v @ (Value::String(_) | Value::Number(_))), _) => {
                    let text = match v {
                        Value::String(s) => super::text_value(s, &value_path)?,
                        other => other.to_string(),
                    };
                    self.count_value(&value_path)?;
                    Ok(Predicate::Match {
                        operand,
                        kind,
                        text,
                    })
                }
                (Some(_), _) => Err(QueryError::invalid(
                    &value_path,
                    "expected a text value (matched literally: % and _ have no special meaning here)",
                )),
                (None, Some(_)) => Err(no_other("a text value")),
                (None, None) => Err(needs("a text value")),
            },
            Op::In(negated) => match (value, other) {
                (Some(Value::Array(items)), _) => {
                    if items.is_empty() {
                        return Err(QueryError::invalid(
                            &value_path,
                            "the list is empty; give at least one value",
                        ));
                    }
                    if items.len() > MAX_LIST_ITEMS {
                        return Err(QueryError::too_large(
                            &value_path,
                            format!("a list may hold at most {MAX_LIST_ITEMS} values"),
                        ));
                    }
                    let mut values = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        values.push(self.non_null(item, &index(&value_path, i), "a list")?);
                    }
                    Ok(Predicate::In {
                        operand,
                        negated,
                        values,
                    })
                }
                (Some(_), _) => Err(QueryError::invalid(
                    &value_path,
                    format!(
                        "op {} needs a list of values, such as [1, 2, 3]",
                        shown(op_name)
                    ),
                )),
                (None, Some(_)) => Err(no_other("a list of values")),
                (None, None) => Err(needs("a list of values, such as [1, 2, 3]")),
            },
            Op::Between(negated) => match (value, other) {
                (Some(Value::Array(items)), _) if items.len() == 2 => Ok(Predicate::Between {
                    operand,
                    negated,
                    low: self.non_null(&items[0], &index(&value_path, 0), "between")?,
                    high: self.non_null(&items[1], &index(&value_path, 1), "between")?,
                }),
                (Some(_), _) => Err(QueryError::invalid(
                    &value_path,
                    format!(
                        "op {} needs [low, high], a list of two values",
                        shown(op_name)
                    ),
                )),
                (None, Some(_)) => Err(no_other("[low, high]")),
                (None, None) => Err(needs("[low, high], a list of two values")),
            },
        }
    }

    /// `in` / `notIn` a subquery, or a comparison with a scalar subquery.
    fn subquery_predicate(
        &mut self,
        query: &Value,
        path: &str,
        operand: Expression,
        op: Op,
    ) -> Result<Predicate, QueryError> {
        let query_path = join(path, "subquery");
        match op {
            Op::In(negated) => Ok(Predicate::InSubquery {
                operand,
                negated,
                query: Box::new(self.subquery(query, &query_path)?),
            }),
            Op::Compare(op) => Ok(Predicate::Compare {
                left: operand,
                op,
                right: Expression::Subquery(Box::new(self.subquery(query, &query_path)?)),
            }),
            _ => Err(QueryError::invalid(
                query_path,
                "a subquery goes with op in, notIn (a one-column query) or a comparison (=, <>, >, >=, <, <= with a one-value query)",
            )),
        }
    }
}

/// Refuses keys other than `or` and `not` beside `key` (`group` or `exists`).
fn only_with_or_and_not(obj: &Object, path: &str, key: &str) -> Result<(), QueryError> {
    for other in [
        "field",
        "left",
        "op",
        "value",
        "otherField",
        "subquery",
        "group",
        "exists",
    ] {
        if other != key && obj.contains_key(other) {
            return Err(QueryError::invalid(
                join(path, other),
                format!(
                    "a condition with {key} takes only {key}, or and not; put this in a separate condition"
                ),
            ));
        }
    }
    Ok(())
}
