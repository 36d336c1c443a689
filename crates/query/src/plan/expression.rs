//! Expressions per dialect: columns, bound values, the allow-listed functions (with their
//! emulations), operations, CASE and scalar subqueries.

use db_configs::SqlValue;

use super::scope::Scope;
use super::{Ctx, Planner};
use crate::error::QueryError;
use crate::function::{Function, Kind};
use crate::model::*;
use crate::render::Dialect;

/// How a bound value gets its type on PostgreSQL (which receives parameters untyped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Typing {
    /// From what stands beside it (a column it is compared with).
    Inferred,
    /// From the JSON value (`CAST($1 AS BIGINT)`).
    Typed,
}

/// How a value beside `other` is typed: inferred from `other` unless that is a value too.
pub(super) fn beside(other: &Expression) -> Typing {
    match other {
        Expression::Value(_) => Typing::Typed,
        _ => Typing::Inferred,
    }
}

impl<'c> Planner<'c> {
    pub(super) fn expression(
        &mut self,
        e: &Expression,
        scope: &Scope<'_, 'c>,
        typing: Typing,
    ) -> Result<(), QueryError> {
        self.check_size()?;
        match e {
            Expression::Field(name) => {
                let column = scope.resolve(name)?;
                self.column(&column);
            }
            Expression::Value(value) => self.value(value, typing),
            Expression::Function(call) => self.call(call, scope)?,
            Expression::Operation(op) => self.operation(op, scope)?,
            Expression::Case(case) => self.case(case, scope)?,
            Expression::Subquery(q) => {
                self.r.sql("(");
                let columns = self.query(q, scope.ctes, Some(scope), None)?;
                self.r.sql(")");
                if columns.len() != 1 {
                    return Err(QueryError::invalid(
                        &q.path,
                        format!(
                            "a subquery used as a value must return exactly one column, and this one returns {}; give it exactly one selectColumns item",
                            columns.len()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn value(&mut self, value: &SqlValue, typing: Typing) {
        match typing {
            Typing::Inferred => self.r.bind(value.clone()),
            Typing::Typed => self.r.bind_typed(value.clone()),
        }
    }

    /// The database type an expression is known to have: a column's, or text for the text
    /// functions.
    pub(super) fn static_type(
        &self,
        e: &Expression,
        scope: &Scope<'_, 'c>,
    ) -> Result<Option<String>, QueryError> {
        let text = Some("text".to_owned());
        Ok(match e {
            Expression::Field(name) => scope.resolve(name)?.column.data_type,
            Expression::Value(SqlValue::Text(_)) => text,
            Expression::Function(call) => match call.function {
                Function::Lower
                | Function::Upper
                | Function::Trim
                | Function::Substring
                | Function::Concat => text,
                _ => None,
            },
            Expression::Operation(op) if op.op == Operator::Concat => text,
            _ => None,
        })
    }

    /// An expression used as text: on PostgreSQL, what is not known to be text is cast
    /// (LIKE, `lower`, `||` take text only); values are bound as text.
    pub(super) fn text_operand(
        &mut self,
        e: &Expression,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), QueryError> {
        if let Expression::Value(value) = e {
            self.r.bind_text(value.clone());
            return Ok(());
        }
        let cast = self.dialect() == Dialect::Postgres
            && !self
                .static_type(e, scope)?
                .is_some_and(|t| is_text_type(&t));
        if cast {
            self.r.sql("CAST(");
        }
        self.expression(e, scope, Typing::Typed)?;
        if cast {
            self.r.sql(" AS TEXT)");
        }
        Ok(())
    }

    fn operation(&mut self, op: &Operation, scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        if op.op == Operator::Concat {
            return match self.dialect() {
                // MySQL's || is OR; CONCAT is NULL when an operand is, like ||.
                Dialect::MySql => {
                    self.r.sql("CONCAT(");
                    self.expression(&op.left, scope, Typing::Typed)?;
                    self.r.sql(", ");
                    self.expression(&op.right, scope, Typing::Typed)?;
                    self.r.sql(")");
                    Ok(())
                }
                Dialect::Postgres | Dialect::Sqlite => {
                    self.r.sql("(");
                    self.text_operand(&op.left, scope)?;
                    self.r.sql(" || ");
                    self.text_operand(&op.right, scope)?;
                    self.r.sql(")");
                    Ok(())
                }
            };
        }
        self.r.sql("(");
        self.expression(&op.left, scope, beside(&op.right))?;
        self.r.sql(match op.op {
            Operator::Add => " + ",
            Operator::Subtract => " - ",
            Operator::Multiply => " * ",
            Operator::Divide => " / ",
            Operator::Modulo | Operator::Concat => " % ",
        });
        self.expression(&op.right, scope, beside(&op.left))?;
        self.r.sql(")");
        Ok(())
    }

    fn case(&mut self, case: &Case, scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        let results = case
            .branches
            .iter()
            .map(|(_, then)| then)
            .chain(case.otherwise.as_ref());
        let typing = if results.clone().all(|r| matches!(r, Expression::Value(_))) {
            Typing::Typed
        } else {
            Typing::Inferred
        };
        self.r.sql("CASE");
        for (when, then) in &case.branches {
            self.r.sql(" WHEN ");
            self.conditions(when, scope)?;
            self.r.sql(" THEN ");
            self.expression(then, scope, typing)?;
        }
        if let Some(otherwise) = &case.otherwise {
            self.r.sql(" ELSE ");
            self.expression(otherwise, scope, typing)?;
        }
        self.r.sql(" END");
        Ok(())
    }

    /// A function call: checked for where it stands, then rendered for the dialect.
    fn call(&mut self, call: &Call, scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        let name = call.function.name();
        let kind = call.function.kind();
        let ctx = self.ctx;
        let windowed = call.over.is_some();
        if kind == Kind::Aggregate && !windowed && !ctx.aggregates {
            let hint = match ctx.clause {
                "where" => "; conditions on aggregates go in having",
                "groupBy" => "; group by the plain values and aggregate in selectColumns",
                _ => "",
            };
            return Err(QueryError::invalid(
                &call.path,
                format!(
                    "the aggregate function {name} cannot be used in {}{hint}",
                    ctx.clause
                ),
            ));
        }
        if windowed && !ctx.windows {
            return Err(QueryError::invalid(
                &call.path,
                format!(
                    "{name} with over (a window function) cannot be used in {}; window functions go in selectColumns and orderBy only",
                    ctx.clause
                ),
            ));
        }
        if windowed {
            self.engine
                .require(crate::engine::Feature::Window, &call.path)?;
        }
        // What the arguments may hold: no aggregate inside an aggregate, no window inside
        // a window.
        let args_ctx = match (kind, windowed) {
            (Kind::Aggregate, false) => Ctx {
                clause: "the arguments of another aggregate",
                aggregates: false,
                windows: false,
            },
            (Kind::Scalar, _) => ctx,
            _ => Ctx {
                clause: "the arguments of a window function",
                aggregates: ctx.aggregates,
                windows: false,
            },
        };
        if let (Some(window), [_, _, _], Dialect::MySql) =
            (&call.over, call.args.as_slice(), self.dialect())
        {
            return self.lag_lead_with_default(call, window, scope, args_ctx);
        }
        self.within(args_ctx, |p| match kind {
            Kind::Aggregate => p.aggregate(call, scope),
            Kind::Window => p.window_function(call, scope),
            Kind::Scalar => p.scalar(call, scope),
        })?;
        if let Some(window) = &call.over {
            let window_ctx = Ctx {
                clause: "a window's partitionBy and orderBy",
                aggregates: ctx.aggregates,
                windows: false,
            };
            self.within(window_ctx, |p| p.over(window, scope))?;
        }
        Ok(())
    }
}

/// Whether a PostgreSQL type name (as `format_type` writes it) is a text type, usable with
/// LIKE without a cast.
pub(super) fn is_text_type(data_type: &str) -> bool {
    let t = data_type.trim().to_ascii_lowercase();
    !t.ends_with(']')
        && [
            "text", "char", "varchar", "citext", "name", "bpchar", "\"char\"",
        ]
        .iter()
        .any(|p| t.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_are_recognised() {
        for t in [
            "text",
            "character varying(20)",
            "character(3)",
            "citext",
            "name",
        ] {
            assert!(is_text_type(t), "{t}");
        }
        for t in [
            "integer",
            "text[]",
            "timestamp with time zone",
            "numeric(10,2)",
            "uuid",
        ] {
            assert!(!is_text_type(t), "{t}");
        }
    }
}
