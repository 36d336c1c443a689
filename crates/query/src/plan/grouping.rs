//! Grouping: in a query with groupBy, having or an aggregate in its select list, what is
//! selected, ordered or tested in having must be grouped (a groupBy item, or built from
//! them) or inside an aggregate; and an aggregate may not order a query that does not group.

use super::Planner;
use super::scope::{ColumnRef, Scope};
use super::types::ValueType;
use crate::error::{QueryError, shown};
use crate::function::Kind;
use crate::model::*;
use crate::render::Renderer;

/// The grouping of one query being planned (one per SELECT, innermost last).
#[derive(Debug, Default)]
pub(super) struct GroupFrame {
    /// The query groups: groupBy, having, or an aggregate in its select list.
    pub grouped: bool,
    /// Its select list, having or orderBy is being planned: references are checked.
    pub active: bool,
    /// How many aggregate calls of this query are being planned (their arguments may use
    /// any column).
    pub in_aggregate: usize,
    /// The groupBy columns: (source, column name).
    pub columns: Vec<(usize, String)>,
    /// The groupBy expressions that are not plain columns, as rendered.
    pub expressions: Vec<Renderer>,
    /// The groupBy items naming a select item by its alias.
    pub aliases: Vec<String>,
}

impl<'c> Planner<'c> {
    /// Runs `f` with a grouping frame for one query, removed afterwards whatever happens.
    pub(super) fn with_group_frame<T>(
        &mut self,
        grouped: bool,
        f: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        let depth = self.groups.len();
        self.groups.push(GroupFrame {
            grouped,
            ..GroupFrame::default()
        });
        let result = f(self);
        self.groups.truncate(depth);
        result
    }

    /// The innermost query's frame.
    pub(super) fn frame(&mut self) -> Option<&mut GroupFrame> {
        self.groups.last_mut()
    }

    /// Marks whether references of the innermost query are checked now.
    pub(super) fn checking(&mut self, active: bool) {
        if let Some(frame) = self.frame() {
            frame.active = active;
        }
    }

    /// Runs `f` without grouping checks (rendering to compare, or a grouped select item).
    pub(super) fn unchecked<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        self.unchecked += 1;
        let result = f(self);
        self.unchecked -= 1;
        result
    }

    /// Runs `f` (an aggregate's arguments and filter) where any column of the innermost
    /// query may be used.
    pub(super) fn inside_aggregate<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        if let Some(frame) = self.frame() {
            frame.in_aggregate += 1;
        }
        let result = f(self);
        if let Some(frame) = self.frame() {
            frame.in_aggregate -= 1;
        }
        result
    }

    /// When `e` is one of the groupBy expressions of a query being checked: renders it (its
    /// parts need not be grouped) and returns its kind.
    pub(super) fn grouping_key(
        &mut self,
        e: &Expression,
        scope: &Scope<'_, 'c>,
    ) -> Result<Option<ValueType>, QueryError> {
        let checked = self.unchecked == 0
            && self.groups.last().is_some_and(|f| {
                f.active && f.grouped && f.in_aggregate == 0 && !f.expressions.is_empty()
            });
        if !checked || matches!(e, Expression::Value(_) | Expression::Field(_)) {
            return Ok(None);
        }
        let Ok((fragment, kind)) =
            self.unchecked(|p| p.fragment(|p| p.expression(e, scope, super::expression::INFERRED)))
        else {
            return Ok(None);
        };
        let known = self
            .groups
            .last()
            .is_some_and(|f| f.expressions.contains(&fragment));
        if known {
            self.r.append(&fragment);
            return Ok(Some(kind));
        }
        Ok(None)
    }

    /// Refuses a column of a grouping query, being checked, that is neither grouped nor
    /// inside an aggregate.
    pub(super) fn check_grouped(&self, column: &ColumnRef, name: &Name) -> Result<(), QueryError> {
        if self.unchecked > 0 {
            return Ok(());
        }
        let Some(at) = self.groups.len().checked_sub(1 + column.level) else {
            return Ok(());
        };
        let frame = &self.groups[at];
        if !frame.active || !frame.grouped || frame.in_aggregate > 0 {
            return Ok(());
        }
        let grouped = frame
            .columns
            .iter()
            .any(|(s, c)| *s == column.source && *c == column.column.name);
        if grouped {
            return Ok(());
        }
        Err(ungrouped(&name.path, &name.text))
    }

    /// The groupBy items of `q`, noted in the innermost frame before its select list is
    /// planned (unknown columns are left to the groupBy clause to report, after the select
    /// list's errors).
    pub(super) fn note_group_keys(
        &mut self,
        q: &Query,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), QueryError> {
        for e in &q.group_by {
            match e {
                Expression::Field(name) => match scope.resolve(name) {
                    Ok(c) if c.level == 0 => {
                        if let Some(frame) = self.frame() {
                            frame.columns.push((c.source, c.column.name));
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let text = name.text.clone();
                        if let Some(frame) = self.frame() {
                            frame.aliases.push(text);
                        }
                    }
                },
                Expression::Value(_) => {}
                other => {
                    let (fragment, _) = self.unchecked(|p| {
                        p.within(super::Ctx::GROUP_BY, |p| {
                            p.fragment(|p| p.expression(other, scope, super::expression::INFERRED))
                        })
                    })?;
                    if let Some(frame) = self.frame() {
                        frame.expressions.push(fragment);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The refusal of a column neither grouped nor aggregated.
pub(super) fn ungrouped(path: &str, text: &str) -> QueryError {
    QueryError::invalid(
        path,
        format!(
            "{} is neither in groupBy nor inside an aggregate function, and this query groups rows (it has groupBy, having or an aggregate); add it to groupBy, or aggregate it (count, min, max...)",
            shown(text)
        ),
    )
}

/// Whether `e` holds an aggregate of its own query (not one of a subquery): a call without
/// `over`, anywhere in it, window specifications included.
pub(super) fn has_aggregate(e: &Expression) -> bool {
    match e {
        Expression::Field(_) | Expression::Value(_) | Expression::Subquery(_) => false,
        Expression::Function(call) => {
            (call.function.kind() == Kind::Aggregate && call.over.is_none())
                || call.args.iter().any(has_aggregate)
                || call.over.as_ref().is_some_and(|w| {
                    w.partition_by.iter().any(has_aggregate)
                        || w.order_by.iter().any(|o| has_aggregate(&o.expr))
                })
        }
        Expression::Operation(op) => has_aggregate(&op.left) || has_aggregate(&op.right),
        Expression::Case(case) => {
            case.branches
                .iter()
                .any(|(when, then)| has_aggregate(then) || when.iter().any(condition_has_aggregate))
                || case.otherwise.as_ref().is_some_and(has_aggregate)
        }
    }
}

fn condition_has_aggregate(c: &Condition) -> bool {
    match &c.predicate {
        Predicate::Group(inner) => inner.iter().any(condition_has_aggregate),
        Predicate::Compare { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        Predicate::IsNull { operand, .. }
        | Predicate::Match { operand, .. }
        | Predicate::In { operand, .. }
        | Predicate::InSubquery { operand, .. }
        | Predicate::Between { operand, .. } => has_aggregate(operand),
        Predicate::Like {
            operand, pattern, ..
        } => has_aggregate(operand) || has_aggregate(pattern),
        Predicate::Exists(_) => false,
    }
}

/// Whether `e` may be null, as far as the planner knows: not a non-null column, a count or a
/// ranking.
pub(super) fn may_be_null(e: &Expression, scope: &Scope<'_, '_>) -> bool {
    match e {
        Expression::Field(name) => scope.resolve(name).map_or(true, |c| c.column.nullable),
        Expression::Function(call) => !matches!(
            call.function,
            Function::Count | Function::RowNumber | Function::Rank | Function::DenseRank
        ),
        _ => true,
    }
}
