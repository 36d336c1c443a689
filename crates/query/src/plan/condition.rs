//! Conditions per dialect: comparisons, LIKE and its literal variants, lists, ranges,
//! subqueries, and their AND/OR/NOT structure.

use db_configs::SqlValue;

use super::Planner;
use super::expression::{Typing, describe, value_path};
use super::scope::Scope;
use super::types::ValueType;
use crate::error::{QueryError, index, join};
use crate::model::*;
use crate::render::Dialect;

/// The escape character of `startsWith`, `endsWith` and `contains` patterns: not special in
/// string literals of any dialect (unlike `\` in MySQL).
const LIKE_ESCAPE: char = '!';
/// The clause naming [`LIKE_ESCAPE`].
const ESCAPE_CLAUSE: &str = " ESCAPE '!'";

impl<'c> Planner<'c> {
    /// A list of conditions: AND between items, OR before items marked `or`. AND binds
    /// tighter, as in SQL (`a AND b OR c` is `(a AND b) OR c`); the parentheses are written out.
    pub(super) fn conditions(
        &mut self,
        list: &[Condition],
        scope: &Scope<'_, 'c>,
    ) -> Result<(), QueryError> {
        let mut runs: Vec<&[Condition]> = Vec::new();
        let mut start = 0;
        for (i, c) in list.iter().enumerate() {
            if i > 0 && c.or {
                runs.push(&list[start..i]);
                start = i;
            }
        }
        runs.push(&list[start..]);
        let several = runs.len() > 1;
        for (i, run) in runs.iter().enumerate() {
            if i > 0 {
                self.r.sql(" OR ");
            }
            let wrap = several && run.len() > 1;
            if wrap {
                self.r.sql("(");
            }
            for (j, c) in run.iter().enumerate() {
                if j > 0 {
                    self.r.sql(" AND ");
                }
                self.condition(c, scope)?;
            }
            if wrap {
                self.r.sql(")");
            }
        }
        Ok(())
    }

    /// One condition. A group is parenthesised; NOT parenthesises what it negates. A single
    /// predicate needs no parentheses: comparison, LIKE, IN, BETWEEN and IS bind tighter than
    /// NOT, AND and OR in every dialect.
    fn condition(&mut self, c: &Condition, scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        match (&c.predicate, c.not) {
            (Predicate::Group(_), true) => {
                self.r.sql("NOT ");
                self.predicate(&c.predicate, &c.path, scope)
            }
            (_, true) => {
                self.r.sql("NOT (");
                self.predicate(&c.predicate, &c.path, scope)?;
                self.r.sql(")");
                Ok(())
            }
            (_, false) => self.predicate(&c.predicate, &c.path, scope),
        }
    }

    /// One predicate of the condition at `at`.
    fn predicate(
        &mut self,
        p: &Predicate,
        at: &str,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), QueryError> {
        match p {
            Predicate::Group(inner) => {
                self.r.sql("(");
                self.conditions(inner, scope)?;
                self.r.sql(")");
            }
            Predicate::Compare { left, op, right } => {
                let left_at = join(at, "left");
                let [(l, lk), (r, rk)] = self.pair((left, &left_at), (right, at), None, scope)?;
                if !lk.compatible(rk) {
                    return Err(QueryError::invalid(
                        value_path(right, at),
                        format!(
                            "{} is {}, and it cannot be compared with {}, which is {}; compare values of the same kind",
                            describe(right),
                            rk.describe(),
                            describe(left),
                            lk.describe()
                        ),
                    ));
                }
                self.r.append(&l);
                self.r.sql(match op {
                    CompareOp::Eq => " = ",
                    CompareOp::Ne => " <> ",
                    CompareOp::Gt => " > ",
                    CompareOp::Ge => " >= ",
                    CompareOp::Lt => " < ",
                    CompareOp::Le => " <= ",
                });
                self.r.append(&r);
            }
            Predicate::IsNull { operand, negated } => {
                self.expression(operand, scope, Typing::Typed)?;
                self.r
                    .sql(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Predicate::Like {
                operand,
                kind,
                pattern,
            } => match (kind, self.dialect()) {
                (LikeKind::ILike, Dialect::MySql | Dialect::Sqlite) => {
                    self.r.sql("LOWER(");
                    self.text_operand(operand, scope)?;
                    self.r.sql(") LIKE LOWER(");
                    self.pattern(pattern, scope)?;
                    self.r.sql(")");
                }
                _ => {
                    self.text_operand(operand, scope)?;
                    self.r.sql(match kind {
                        LikeKind::Like => " LIKE ",
                        LikeKind::NotLike => " NOT LIKE ",
                        LikeKind::ILike => " ILIKE ",
                    });
                    self.pattern(pattern, scope)?;
                }
            },
            Predicate::Match {
                operand,
                kind,
                text,
            } => {
                let escaped = escape_like(text);
                let pattern = match kind {
                    MatchKind::StartsWith => format!("{escaped}%"),
                    MatchKind::EndsWith => format!("%{escaped}"),
                    MatchKind::Contains => format!("%{escaped}%"),
                };
                self.text_operand(operand, scope)?;
                self.r.sql(" LIKE ");
                self.r.bind(SqlValue::Text(pattern));
                self.r.sql(ESCAPE_CLAUSE);
            }
            Predicate::In {
                operand,
                negated,
                values,
            } => {
                let kind = self.expression(operand, scope, Typing::Typed)?;
                self.r.sql(if *negated { " NOT IN (" } else { " IN (" });
                let typing = typing_beside(operand, kind);
                let context = || format!("comparing with {}", describe(operand));
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        self.r.sql(", ");
                    }
                    let path = || index(&join(at, "value"), i);
                    self.value_as(value, kind, typing, path, context)?;
                }
                self.r.sql(")");
            }
            Predicate::InSubquery {
                operand,
                negated,
                query,
            } => {
                let kind = self.expression(operand, scope, Typing::Typed)?;
                self.r.sql(if *negated { " NOT IN (" } else { " IN (" });
                // MySQL refuses LIMIT in an IN subquery, but not in a table read by one.
                let wrap = self.dialect() == Dialect::MySql
                    && (query.limit.is_some() || query.offset.is_some());
                if wrap {
                    self.r.sql("SELECT * FROM (");
                }
                let columns = self.query(query, scope.ctes, Some(scope), None)?;
                if wrap {
                    self.r.sql(") AS ");
                    self.r.identifier("in_subquery");
                }
                self.r.sql(")");
                if columns.len() != 1 {
                    return Err(QueryError::invalid(
                        &query.path,
                        format!(
                            "a subquery after in or notIn must return exactly one column, and this one returns {}; give it exactly one selectColumns item",
                            columns.len()
                        ),
                    ));
                }
                if !columns[0].kind.compatible(kind) {
                    return Err(QueryError::invalid(
                        &query.path,
                        format!(
                            "this subquery returns {}, but {} is {}; select a column of the same kind",
                            columns[0].kind.describe(),
                            describe(operand),
                            kind.describe()
                        ),
                    ));
                }
            }
            Predicate::Exists(query) => {
                self.r.sql("EXISTS (");
                self.query(query, scope.ctes, Some(scope), None)?;
                self.r.sql(")");
            }
            Predicate::Between {
                operand,
                negated,
                low,
                high,
            } => {
                let kind = self.expression(operand, scope, Typing::Typed)?;
                self.r.sql(if *negated {
                    " NOT BETWEEN "
                } else {
                    " BETWEEN "
                });
                let typing = typing_beside(operand, kind);
                let context = || format!("comparing with {}", describe(operand));
                let path = |i| index(&join(at, "value"), i);
                self.value_as(low, kind, typing, || path(0), context)?;
                self.r.sql(" AND ");
                self.value_as(high, kind, typing, || path(1), context)?;
            }
        }
        Ok(())
    }

    /// A LIKE pattern: the caller's text (typed by the text beside it) or a column.
    fn pattern(&mut self, e: &Expression, scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        match e {
            Expression::Value(value) => {
                self.r.bind(value.clone());
                Ok(())
            }
            other => self.text_operand(other, scope),
        }
    }
}

/// How a value beside `operand` (of kind `kind`) is typed: from JSON beside a value.
fn typing_beside(operand: &Expression, kind: ValueType) -> Typing {
    match operand {
        Expression::Value(_) => Typing::Typed,
        _ => Typing::Beside(kind),
    }
}

/// `text` matched literally by LIKE with `ESCAPE '!'`: `!`, `%` and `_` escaped.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escaping_covers_wildcards_and_the_escape_character() {
        assert_eq!(escape_like("50%_off!"), "50!%!_off!!");
        assert_eq!(escape_like("plain"), "plain");
        assert_eq!(ESCAPE_CLAUSE, format!(" ESCAPE '{LIKE_ESCAPE}'"));
    }
}
