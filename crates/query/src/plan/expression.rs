//! Expressions per dialect: columns, bound values, the allow-listed functions (with their
//! emulations), operations, CASE and scalar subqueries.

use db_configs::SqlValue;

use super::scope::{ColumnRef, Scope};
use super::types::{ValueType, ascii_lowercase};
use super::{Ctx, Planner};
use crate::error::{QueryError, index, join, shown};
use crate::function::{Function, Kind};
use crate::model::*;
use crate::render::{Dialect, Renderer};

/// How a bound value gets its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Typing {
    /// From the JSON value (`CAST($1 AS BIGINT)` on PostgreSQL, which receives parameters
    /// untyped): nothing around it gives one.
    Typed,
    /// From the expression beside it, of this kind: the value is first made one of that kind
    /// (a numeric string a number, a number text), and a fraction beside a number is bound
    /// as NUMERIC on PostgreSQL (which would read it as the integer column's type).
    Beside(ValueType),
}

/// The fallback typing: what stands beside a value says nothing the checks know.
pub(super) const INFERRED: Typing = Typing::Beside(ValueType::Other);

/// Where a value inside the expression at `at` is (`at.value`), or the expression itself.
pub(super) fn value_path(e: &Expression, at: &str) -> String {
    match e {
        Expression::Field(name) => name.path.clone(),
        Expression::Value(_) => join(at, "value"),
        Expression::Subquery(q) => q.path.clone(),
        _ => at.to_owned(),
    }
}

/// What an expression is, for messages.
pub(super) fn describe(e: &Expression) -> String {
    match e {
        Expression::Field(name) => format!("the column {}", shown(&name.text)),
        Expression::Value(v) => format!("the value {}", shown_value(v)),
        Expression::Function(call) => format!("{}(...)", call.function.name()),
        Expression::Operation(op) => format!("the {} operation", op.op.name()),
        Expression::Case(_) => "the case".to_owned(),
        Expression::Subquery(_) => "the subquery".to_owned(),
    }
}

/// A value as the caller wrote it, for messages.
pub(super) fn shown_value(v: &SqlValue) -> String {
    match v {
        SqlValue::Text(s) => shown(s),
        SqlValue::Int(n) => n.to_string(),
        SqlValue::Float(x) => x.to_string(),
        SqlValue::Bool(b) => b.to_string(),
        SqlValue::Null => "null".to_owned(),
    }
}

/// The smallest number taken as a Unix time against a SQLite `DATETIME` column: 1973-03-03 in
/// seconds.
const UNIX_TIME_FROM: u64 = 100_000_000;

impl<'c> Planner<'c> {
    /// Renders an expression; returns the kind of value it holds.
    pub(super) fn expression(
        &mut self,
        e: &Expression,
        scope: &Scope<'_, 'c>,
        typing: Typing,
    ) -> Result<ValueType, QueryError> {
        self.check_size()?;
        if let Some(kind) = self.grouping_key(e, scope)? {
            return Ok(kind);
        }
        Ok(match e {
            Expression::Field(name) => self.field(name, scope)?.column.kind,
            Expression::Value(value) => self.value(value, typing),
            Expression::Function(call) => self.call(call, scope)?,
            Expression::Operation(op) => self.operation(op, scope)?,
            Expression::Case(case) => self.case(case, scope)?,
            Expression::Subquery(q) => {
                self.r.sql("(");
                let columns = self.query(q, scope.ctes, Some(scope), None)?;
                self.r.sql(")");
                match columns.as_slice() {
                    [column] => column.kind,
                    _ => {
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
        })
    }

    /// A column reference: resolved, checked for grouping, then rendered.
    pub(super) fn field(
        &mut self,
        name: &Name,
        scope: &Scope<'_, 'c>,
    ) -> Result<ColumnRef, QueryError> {
        let column = scope.resolve(name)?;
        self.check_grouped(&column, name)?;
        self.column(&column);
        Ok(column)
    }

    /// Binds a value (already checked against what stands beside it).
    pub(super) fn value(&mut self, value: &SqlValue, typing: Typing) -> ValueType {
        match typing {
            Typing::Typed => self.r.bind_typed(value.clone()),
            Typing::Beside(kind) => {
                let value = kind.coerce(value).unwrap_or_else(|| value.clone());
                match (&value, kind) {
                    (SqlValue::Float(_), ValueType::Number) => {
                        self.r.bind_cast(value.clone(), "NUMERIC");
                    }
                    _ => self.r.bind(value.clone()),
                }
                return if kind.unchecked() {
                    ValueType::of_value(&value)
                } else {
                    kind
                };
            }
        }
        ValueType::of_value(value)
    }

    /// A value that must be of `kind` (beside an expression of that kind): bound so, or
    /// refused at `path`, saying what it meets (`context`). The two are only built for the
    /// refusal.
    pub(super) fn value_as(
        &mut self,
        value: &SqlValue,
        kind: ValueType,
        typing: Typing,
        path: impl FnOnce() -> String,
        context: impl FnOnce() -> String,
    ) -> Result<ValueType, QueryError> {
        // SQLite has no date type: a DATETIME column may hold Unix times, which compare with
        // numbers as numbers. Only numbers that can be one (from 1973 on, in seconds or
        // milliseconds) are taken: a year (`2024`) is a mistake against ISO text, where every
        // number sorts before every text, and is refused with the hint below.
        let unix_time = match value {
            SqlValue::Int(n) => n.unsigned_abs() >= UNIX_TIME_FROM,
            SqlValue::Float(x) => x.abs() >= UNIX_TIME_FROM as f64,
            _ => false,
        };
        if kind.is_temporal() && self.dialect() == Dialect::Sqlite && unix_time {
            self.r.bind(value.clone());
            return Ok(kind);
        }
        let Some(coerced) = kind.coerce(value) else {
            return Err(QueryError::invalid(
                path(),
                format!(
                    "{} is not {}, which {} needs; give {}",
                    shown_value(value),
                    kind.describe(),
                    context(),
                    kind.example()
                ),
            ));
        };
        Ok(match typing {
            Typing::Typed => match (&coerced, kind) {
                (SqlValue::Float(_), ValueType::Number) => {
                    self.r.bind_cast(coerced.clone(), "NUMERIC");
                    ValueType::Number
                }
                // A null typed as what it stands for, not as the text of its JSON.
                (SqlValue::Null, _) if kind.sql_type().is_some() => {
                    self.r
                        .bind_cast(SqlValue::Null, kind.sql_type().unwrap_or("TEXT"));
                    kind
                }
                _ => self.value(&coerced, Typing::Typed),
            },
            Typing::Beside(_) => self.value(&coerced, Typing::Beside(kind)),
        })
    }

    /// Two expressions that meet (the sides of a comparison, the operands of arithmetic),
    /// each rendered apart: a value takes the kind of the other side (or `want`, when the
    /// place needs one), and two values the kind of the first. Returns each side's rendering
    /// and kind; the caller checks that the kinds fit.
    pub(super) fn pair(
        &mut self,
        (a, a_at): (&Expression, &str),
        (b, b_at): (&Expression, &str),
        want: Option<ValueType>,
        scope: &Scope<'_, 'c>,
    ) -> Result<[(Renderer, ValueType); 2], QueryError> {
        let context = |other: &Expression, kind: ValueType| match want {
            Some(_) => "this operation".to_owned(),
            None => format!("comparing with {} ({})", describe(other), kind.describe()),
        };
        match (a, b) {
            (Expression::Value(va), Expression::Value(vb)) => {
                let kind = want.unwrap_or(ValueType::of_value(va));
                let ctx = || context(a, kind);
                let fa = self.fragment(|p| {
                    p.value_as(va, kind, Typing::Typed, || value_path(a, a_at), ctx)
                })?;
                let fb = self.fragment(|p| {
                    p.value_as(vb, kind, Typing::Typed, || value_path(b, b_at), ctx)
                })?;
                Ok([fa, fb])
            }
            (Expression::Value(va), other) => {
                let fb = self.fragment(|p| p.expression(other, scope, INFERRED))?;
                let kind = want.unwrap_or(fb.1);
                let fa = self.fragment(|p| {
                    p.value_as(
                        va,
                        kind,
                        Typing::Beside(fb.1),
                        || value_path(a, a_at),
                        || context(other, fb.1),
                    )
                })?;
                Ok([fa, fb])
            }
            (other, Expression::Value(vb)) => {
                let fa = self.fragment(|p| p.expression(other, scope, INFERRED))?;
                let kind = want.unwrap_or(fa.1);
                let fb = self.fragment(|p| {
                    p.value_as(
                        vb,
                        kind,
                        Typing::Beside(fa.1),
                        || value_path(b, b_at),
                        || context(other, fa.1),
                    )
                })?;
                Ok([fa, fb])
            }
            _ => {
                let fa = self.fragment(|p| p.expression(a, scope, INFERRED))?;
                let fb = self.fragment(|p| p.expression(b, scope, INFERRED))?;
                Ok([fa, fb])
            }
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
    /// (LIKE, `lower`, `||` take text only); values are bound as text. Any kind may be.
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

    /// `concat` (text of both sides), or arithmetic on numbers: dates, times, text and
    /// booleans are refused (dialects disagree on them, or refuse them).
    fn operation(
        &mut self,
        op: &Operation,
        scope: &Scope<'_, 'c>,
    ) -> Result<ValueType, QueryError> {
        if op.op == Operator::Concat {
            match self.dialect() {
                // MySQL's || is OR; CONCAT is NULL when an operand is, like ||.
                Dialect::MySql => {
                    self.r.sql("CONCAT(");
                    self.expression(&op.left, scope, Typing::Typed)?;
                    self.r.sql(", ");
                    self.expression(&op.right, scope, Typing::Typed)?;
                    self.r.sql(")");
                }
                Dialect::Postgres | Dialect::Sqlite => {
                    self.r.sql("(");
                    self.text_operand(&op.left, scope)?;
                    self.r.sql(" || ");
                    self.text_operand(&op.right, scope)?;
                    self.r.sql(")");
                }
            }
            return Ok(ValueType::Text);
        }
        let left_at = join(&op.path, "left");
        let right_at = join(&op.path, "right");
        let [(left, lk), (right, rk)] = self.pair(
            (&op.left, &left_at),
            (&op.right, &right_at),
            Some(ValueType::Number),
            scope,
        )?;
        for (kind, e, at) in [(lk, &op.left, &left_at), (rk, &op.right, &right_at)] {
            if kind == ValueType::Number || kind.unchecked() {
                continue;
            }
            let hint = if kind.is_temporal() {
                "; arithmetic on dates and times differs between databases: compare them, or use date_part (epoch, year...) to get numbers"
            } else {
                "; it takes numbers only (concat joins text)"
            };
            return Err(QueryError::invalid(
                value_path(e, at),
                format!(
                    "{} is {}, and {} cannot use it{hint}",
                    describe(e),
                    kind.describe(),
                    op.op.name()
                ),
            ));
        }
        self.r.sql("(");
        self.r.append(&left);
        self.r.sql(match op.op {
            Operator::Add => " + ",
            Operator::Subtract => " - ",
            Operator::Multiply => " * ",
            Operator::Divide => " / ",
            Operator::Modulo | Operator::Concat => " % ",
        });
        self.r.append(&right);
        self.r.sql(")");
        Ok(ValueType::Number)
    }

    /// Results that must be of one kind (CASE branches, `coalesce` and `nullif` arguments),
    /// each rendered apart: values take the kind of the other results, or are typed from
    /// JSON when all are values. Refused at the first result whose kind does not fit.
    pub(super) fn alike(
        &mut self,
        items: &[(&Expression, String)],
        what: &str,
        scope: &Scope<'_, 'c>,
    ) -> Result<(Vec<Renderer>, ValueType), QueryError> {
        let mut rendered: Vec<Option<Renderer>> = Vec::with_capacity(items.len());
        let mut kind = ValueType::Null;
        let mut first: Option<&Expression> = None;
        for (e, at) in items {
            if matches!(e, Expression::Value(_)) {
                rendered.push(None);
                continue;
            }
            let (fragment, k) = self.fragment(|p| p.expression(e, scope, INFERRED))?;
            if !kind.compatible(k) {
                return Err(QueryError::invalid(
                    value_path(e, at),
                    format!(
                        "{} is {}, but {} is {}; {what} must all be of one kind (cast nothing: pick results of the same kind)",
                        describe(e),
                        k.describe(),
                        first.map(describe).unwrap_or_default(),
                        kind.describe()
                    ),
                ));
            }
            if first.is_none() && !k.unchecked() {
                first = Some(e);
            }
            kind = kind.unify(k);
            rendered.push(Some(fragment));
        }
        let all_values = rendered.iter().all(Option::is_none);
        if all_values {
            kind = items
                .iter()
                .filter_map(|(e, _)| match e {
                    Expression::Value(v) => Some(ValueType::of_value(v)),
                    _ => None,
                })
                .find(|k| *k != ValueType::Null)
                .unwrap_or(ValueType::Null);
        }
        let typing = if all_values {
            Typing::Typed
        } else {
            Typing::Beside(kind)
        };
        let context = || format!("{what} ({})", kind.describe());
        let mut out = Vec::with_capacity(items.len());
        for ((e, at), fragment) in items.iter().zip(rendered) {
            match (fragment, e) {
                (Some(f), _) => out.push(f),
                (None, Expression::Value(v)) => {
                    let (f, _) = self
                        .fragment(|p| p.value_as(v, kind, typing, || value_path(e, at), context))?;
                    out.push(f);
                }
                (None, _) => {}
            }
        }
        Ok((out, kind))
    }

    fn case(&mut self, case: &Case, scope: &Scope<'_, 'c>) -> Result<ValueType, QueryError> {
        let mut results: Vec<(&Expression, String)> = case
            .branches
            .iter()
            .enumerate()
            .map(|(i, (_, then))| (then, join(&index(&join(&case.path, "case"), i), "then")))
            .collect();
        if let Some(otherwise) = &case.otherwise {
            results.push((otherwise, join(&case.path, "else")));
        }
        let (rendered, kind) = self.alike(&results, "the results of a case", scope)?;
        self.r.sql("CASE");
        for ((when, _), then) in case.branches.iter().zip(&rendered) {
            self.r.sql(" WHEN ");
            self.conditions(when, scope)?;
            self.r.sql(" THEN ");
            self.r.append(then);
        }
        if let Some(otherwise) = rendered.get(case.branches.len()) {
            self.r.sql(" ELSE ");
            self.r.append(otherwise);
        }
        self.r.sql(" END");
        Ok(kind)
    }

    /// A function call: checked for where it stands, then rendered for the dialect.
    fn call(&mut self, call: &Call, scope: &Scope<'_, 'c>) -> Result<ValueType, QueryError> {
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
        let result = self.within(args_ctx, |p| match (kind, windowed) {
            (Kind::Aggregate, false) => p.inside_aggregate(|p| p.aggregate(call, scope)),
            (Kind::Aggregate, true) => p.aggregate(call, scope),
            (Kind::Window, _) => p.window_function(call, scope),
            (Kind::Scalar, _) => p.scalar(call, scope),
        })?;
        if let Some(window) = &call.over {
            let window_ctx = Ctx {
                clause: "a window's partitionBy and orderBy",
                aggregates: ctx.aggregates,
                windows: false,
            };
            self.within(window_ctx, |p| p.over(window, scope))?;
        }
        Ok(result)
    }
}

/// Whether a PostgreSQL type name (as `format_type` writes it) is a text type, usable with
/// LIKE without a cast.
pub(super) fn is_text_type(data_type: &str) -> bool {
    let t = ascii_lowercase(data_type.trim());
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
