//! The allow-listed functions per dialect: aggregates (FILTER emulated on MySQL), window
//! functions, and the scalar functions with their emulations (`date_trunc`, `date_part`,
//! SQLite's `floor`/`ceil`, MariaDB's `lag`/`lead` defaults).

use db_configs::SqlValue;

use std::borrow::Cow;

use super::expression::{INFERRED, Typing, describe, value_path};
use super::scope::Scope;
use super::types::{ValueType, is_date};
use super::{Ctx, Planner};
use crate::error::{QueryError, index, join, shown};
use crate::function::Function;
use crate::model::*;
use crate::render::{Dialect, Renderer};

impl<'c> Planner<'c> {
    /// `SUM(x)`, `COUNT(*)`, `COUNT(DISTINCT x)`, with FILTER (native on PostgreSQL and
    /// SQLite; on MySQL a CASE inside the aggregate, which skips the nulls it yields).
    pub(super) fn aggregate(
        &mut self,
        call: &Call,
        scope: &Scope<'_, 'c>,
    ) -> Result<ValueType, QueryError> {
        self.r.sql(match call.function {
            Function::Count => "COUNT(",
            Function::Sum => "SUM(",
            Function::Avg => "AVG(",
            Function::Min => "MIN(",
            _ => "MAX(",
        });
        if call.distinct {
            self.r.sql("DISTINCT ");
        }
        let native = self.engine.has_filter();
        let emulate = !call.filter.is_empty() && !native;
        if emulate {
            self.r.sql("CASE WHEN ");
            self.conditions(&call.filter, scope)?;
            self.r.sql(" THEN ");
        }
        let mut kind = ValueType::Number;
        match call.function {
            Function::Sum | Function::Avg => {
                let arg = number_arg(call, 0)?;
                let k = self.expression(&arg, scope, Typing::Typed)?;
                check_number(call, 0, k)?;
            }
            Function::Min | Function::Max => {
                kind = self.expression(&call.args[0], scope, Typing::Typed)?;
                if matches!(kind, ValueType::Bool | ValueType::Json) {
                    return Err(refuse_arg(
                        call,
                        0,
                        kind,
                        "numbers, text, dates and times (PostgreSQL has no min or max of true/false or JSON)",
                    ));
                }
            }
            _ => match call.args.first() {
                Some(arg) => {
                    self.expression(arg, scope, Typing::Typed)?;
                }
                None if emulate => self.r.sql("1"),
                None => self.r.sql("*"),
            },
        }
        if emulate {
            self.r.sql(" END");
        }
        self.r.sql(")");
        if !call.filter.is_empty() && native {
            self.r.sql(" FILTER (WHERE ");
            self.conditions(&call.filter, scope)?;
            self.r.sql(")");
        }
        Ok(kind)
    }

    pub(super) fn window_function(
        &mut self,
        call: &Call,
        scope: &Scope<'_, 'c>,
    ) -> Result<ValueType, QueryError> {
        self.r.sql(match call.function {
            Function::RowNumber => "ROW_NUMBER(",
            Function::Rank => "RANK(",
            Function::DenseRank => "DENSE_RANK(",
            Function::Lag => "LAG(",
            _ => "LEAD(",
        });
        let mut kind = ValueType::Number;
        if let Some(value) = call.args.first() {
            kind = self.expression(value, scope, Typing::Typed)?;
            if let Some(offset) = call.args.get(1) {
                self.r.sql(", ");
                self.constant_integer(offset, scope)?;
            }
            if let Some(default) = call.args.get(2) {
                self.r.sql(", ");
                self.lag_default(call, kind, default, scope)?;
            }
        }
        self.r.sql(")");
        Ok(kind)
    }

    /// The default of `lag`/`lead`: of the kind of the value (`kind`).
    fn lag_default(
        &mut self,
        call: &Call,
        kind: ValueType,
        default: &Expression,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), QueryError> {
        let at = arg_path(call, 2);
        let context = format!("the default of {}", call.function.name());
        if let Expression::Value(v) = default {
            let typing = if matches!(call.args[0], Expression::Value(_)) {
                Typing::Typed
            } else {
                Typing::Beside(kind)
            };
            self.value_as(
                v,
                kind,
                typing,
                || value_path(default, &at),
                || context.clone(),
            )?;
            return Ok(());
        }
        let k = self.expression(default, scope, INFERRED)?;
        if !k.compatible(kind) {
            return Err(QueryError::invalid(
                value_path(default, &at),
                format!(
                    "{} is {}, but {context} must be of the kind of the value ({})",
                    describe(default),
                    k.describe(),
                    kind.describe()
                ),
            ));
        }
        Ok(())
    }

    /// `lag`/`lead` with a default on MySQL/MariaDB (MariaDB's take none): the row `n` before
    /// (after) exists when `LAG(1, n)` over the same window is not null; else the default.
    pub(super) fn lag_lead_with_default(
        &mut self,
        call: &Call,
        window: &Window,
        scope: &Scope<'_, 'c>,
        args_ctx: Ctx,
    ) -> Result<ValueType, QueryError> {
        let window_ctx = Ctx {
            clause: "a window's partitionBy and orderBy",
            aggregates: self.ctx.aggregates,
            windows: false,
        };
        let (over, ()) = self.within(window_ctx, |p| p.fragment(|p| p.over(window, scope)))?;
        let name = if call.function == Function::Lag {
            "LAG("
        } else {
            "LEAD("
        };
        let (value, offset, default) = (&call.args[0], &call.args[1], &call.args[2]);
        self.within(args_ctx, |p| {
            let (value, kind) = p.fragment(|p| p.expression(value, scope, Typing::Typed))?;
            p.r.sql("CASE WHEN ");
            p.r.sql(name);
            p.r.sql("1, ");
            p.constant_integer(offset, scope)?;
            p.r.sql(")");
            p.r.append(&over);
            p.r.sql(" IS NULL THEN ");
            p.lag_default(call, kind, default, scope)?;
            p.r.sql(" ELSE ");
            p.r.sql(name);
            p.r.append(&value);
            p.r.sql(", ");
            p.constant_integer(offset, scope)?;
            p.r.sql(")");
            p.r.append(&over);
            p.r.sql(" END");
            Ok(kind)
        })
    }

    /// ` OVER (PARTITION BY ... ORDER BY ...)`.
    pub(super) fn over(
        &mut self,
        window: &Window,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), QueryError> {
        self.r.sql(" OVER (");
        for (i, e) in window.partition_by.iter().enumerate() {
            self.r.sql(if i == 0 { "PARTITION BY " } else { ", " });
            self.expression(e, scope, Typing::Typed)?;
        }
        if !window.order_by.is_empty() {
            if !window.partition_by.is_empty() {
                self.r.sql(" ");
            }
            self.order_by(&window.order_by, scope, None, false)?;
        }
        self.r.sql(")");
        Ok(())
    }

    /// A whole-number argument: a checked constant is written as a number, anything else is
    /// rendered (and cast to INTEGER on PostgreSQL, whose functions want `integer`).
    fn constant_integer(
        &mut self,
        e: &Expression,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), QueryError> {
        match e {
            Expression::Value(SqlValue::Int(n)) => {
                self.r.integer(*n);
                Ok(())
            }
            _ if self.dialect() == Dialect::Postgres => {
                self.r.sql("CAST(");
                self.expression(e, scope, Typing::Typed)?;
                self.r.sql(" AS INTEGER)");
                Ok(())
            }
            _ => self.expression(e, scope, Typing::Typed).map(|_| ()),
        }
    }

    /// A date/time argument: values are cast to TIMESTAMP on PostgreSQL.
    fn timestamp(
        &mut self,
        e: &Expression,
        scope: &Scope<'_, 'c>,
    ) -> Result<ValueType, QueryError> {
        match e {
            Expression::Value(v) => {
                self.r.bind_cast(v.clone(), "TIMESTAMP");
                Ok(ValueType::of_value(v))
            }
            _ => self.expression(e, scope, Typing::Typed),
        }
    }

    /// The date or timestamp argument of `date_trunc` / `date_part`, rendered apart (to be
    /// repeated): a date string, or an expression of a date or timestamp (or unknown) kind.
    fn temporal_arg(&mut self, call: &Call, scope: &Scope<'_, 'c>) -> Result<Renderer, QueryError> {
        let e = &call.args[0];
        let at = arg_path(call, 0);
        let name = call.function.name();
        if let Expression::Value(v) = e
            && !matches!(v, SqlValue::Null)
            && !matches!(v, SqlValue::Text(s) if is_date(s))
        {
            return Err(QueryError::invalid(
                value_path(e, &at),
                format!(
                    "{name} takes a date or timestamp, and {} is not one; give a date string like {{\"value\": \"2024-01-31\"}} or a date column",
                    super::expression::shown_value(v)
                ),
            ));
        }
        let (fragment, kind) = self.fragment(|p| p.timestamp(e, scope))?;
        let clock = matches!(
            call.unit,
            Some(DateUnit::Hour | DateUnit::Minute | DateUnit::Second)
        );
        let fits = match kind {
            ValueType::Timestamp => true,
            ValueType::Date => call.function == Function::DateTrunc || !clock,
            k => k.unchecked() || matches!(e, Expression::Value(_)),
        };
        if !fits {
            let why = if kind == ValueType::Date {
                "; a date has no hours, minutes or seconds".to_owned()
            } else {
                format!("; {name} takes a date or timestamp")
            };
            return Err(QueryError::invalid(
                value_path(e, &at),
                format!("{} is {}{why}", describe(e), kind.describe()),
            ));
        }
        Ok(fragment)
    }

    /// Renders `e` apart, to repeat it where an emulation needs it more than once.
    fn repeated(
        &mut self,
        e: &Expression,
        scope: &Scope<'_, 'c>,
    ) -> Result<(Renderer, ValueType), QueryError> {
        self.fragment(|p| p.expression(e, scope, Typing::Typed))
    }

    /// The scalar functions, per dialect.
    pub(super) fn scalar(
        &mut self,
        call: &Call,
        scope: &Scope<'_, 'c>,
    ) -> Result<ValueType, QueryError> {
        let d = self.dialect();
        let args = &call.args;
        let mut kind = ValueType::Number;
        match call.function {
            Function::Lower | Function::Upper | Function::Trim | Function::Length => {
                self.r.sql(match (call.function, d) {
                    (Function::Lower, _) => "LOWER(",
                    (Function::Upper, _) => "UPPER(",
                    (Function::Trim, _) => "TRIM(",
                    // MySQL's LENGTH counts bytes.
                    (_, Dialect::MySql) => "CHAR_LENGTH(",
                    _ => "LENGTH(",
                });
                self.text_operand(&args[0], scope)?;
                self.r.sql(")");
                if call.function != Function::Length {
                    kind = ValueType::Text;
                }
            }
            Function::Substring => {
                self.r.sql("SUBSTR(");
                self.text_operand(&args[0], scope)?;
                for arg in &args[1..] {
                    self.r.sql(", ");
                    self.constant_integer(arg, scope)?;
                }
                self.r.sql(")");
                kind = ValueType::Text;
            }
            Function::Concat => {
                self.concat(args, scope)?;
                kind = ValueType::Text;
            }
            Function::Coalesce | Function::NullIf => {
                self.r.sql(if call.function == Function::Coalesce {
                    "COALESCE("
                } else {
                    "NULLIF("
                });
                let items: Vec<(&Expression, String)> = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (a, arg_path(call, i)))
                    .collect();
                let what = format!("the arguments of {}", call.function.name());
                let (rendered, k) = self.alike(&items, &what, scope)?;
                for (i, arg) in rendered.iter().enumerate() {
                    if i > 0 {
                        self.r.sql(", ");
                    }
                    self.r.append(arg);
                }
                self.r.sql(")");
                kind = k;
            }
            Function::Abs => {
                self.r.sql("ABS(");
                let x = number_arg(call, 0)?;
                let k = self.expression(&x, scope, Typing::Typed)?;
                check_number(call, 0, k)?;
                self.r.sql(")");
            }
            Function::Round => {
                self.r.sql("ROUND(");
                let x = number_arg(call, 0)?;
                match (args.get(1), d) {
                    // PostgreSQL rounds to digits only a numeric.
                    (Some(digits), Dialect::Postgres) => {
                        self.r.sql("CAST(");
                        let k = self.expression(&x, scope, Typing::Typed)?;
                        check_number(call, 0, k)?;
                        self.r.sql(" AS NUMERIC), ");
                        self.constant_integer(digits, scope)?;
                    }
                    (Some(digits), _) => {
                        let k = self.expression(&x, scope, Typing::Typed)?;
                        check_number(call, 0, k)?;
                        self.r.sql(", ");
                        self.constant_integer(digits, scope)?;
                    }
                    (None, _) => {
                        let k = self.expression(&x, scope, Typing::Typed)?;
                        check_number(call, 0, k)?;
                    }
                }
                self.r.sql(")");
            }
            Function::Floor | Function::Ceil if d == Dialect::Sqlite => {
                // SQLite has FLOOR and CEIL only when built with its math functions: truncate,
                // then step down (floor of a negative fraction) or up (ceil of a positive one).
                let arg = number_arg(call, 0)?;
                let (x, k) = self.repeated(&arg, scope)?;
                check_number(call, 0, k)?;
                self.r.sql("(CAST(");
                self.r.append(&x);
                self.r.sql(" AS INTEGER)");
                self.r.sql(if call.function == Function::Floor {
                    " - ("
                } else {
                    " + ("
                });
                self.r.append(&x);
                self.r.sql(if call.function == Function::Floor {
                    " < CAST("
                } else {
                    " > CAST("
                });
                self.r.append(&x);
                self.r.sql(" AS INTEGER)))");
            }
            Function::Floor | Function::Ceil => {
                self.r.sql(if call.function == Function::Floor {
                    "FLOOR("
                } else {
                    "CEIL("
                });
                let x = number_arg(call, 0)?;
                let k = self.expression(&x, scope, Typing::Typed)?;
                check_number(call, 0, k)?;
                self.r.sql(")");
            }
            Function::CurrentDate => {
                self.r.sql("CURRENT_DATE");
                kind = ValueType::Date;
            }
            Function::DateTrunc => {
                self.date_trunc(call, scope)?;
                kind = ValueType::Timestamp;
            }
            Function::DatePart => self.date_part(call, scope)?,
            other => {
                return Err(QueryError::invalid(
                    &call.path,
                    format!("{} is not a scalar function", shown(other.name())),
                ));
            }
        }
        Ok(kind)
    }

    /// `concat`: text of every non-null argument, nulls skipped (as PostgreSQL's CONCAT).
    fn concat(&mut self, args: &[Expression], scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        let d = self.dialect();
        self.r.sql(match d {
            Dialect::Postgres => "CONCAT(",
            // CONCAT_WS skips nulls; MySQL's CONCAT is null when any argument is.
            Dialect::MySql => "CONCAT_WS('', ",
            Dialect::Sqlite => "(",
        });
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                self.r.sql(if d == Dialect::Sqlite { " || " } else { ", " });
            }
            match d {
                Dialect::Sqlite => {
                    self.r.sql("COALESCE(");
                    self.expression(arg, scope, Typing::Typed)?;
                    self.r.sql(", '')");
                }
                Dialect::Postgres => match arg {
                    Expression::Value(v) => self.r.bind_text(v.clone()),
                    _ => {
                        self.expression(arg, scope, Typing::Typed)?;
                    }
                },
                Dialect::MySql => {
                    self.expression(arg, scope, Typing::Typed)?;
                }
            }
        }
        self.r.sql(")");
        Ok(())
    }

    /// `date_trunc(unit, x)`: the start of the unit holding `x`, as a timestamp. Native on
    /// PostgreSQL; DATE_FORMAT/MAKEDATE on MySQL; date modifiers and STRFTIME on SQLite (as
    /// `YYYY-MM-DD HH:MM:SS` text). Weeks start on Monday.
    fn date_trunc(&mut self, call: &Call, scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        let unit = call.unit.unwrap_or(DateUnit::Day);
        let x = self.temporal_arg(call, scope)?;
        let (before, between, after): (&'static str, &'static str, &'static str) =
            match (self.dialect(), unit) {
                (Dialect::Postgres, _) => {
                    self.r.sql("DATE_TRUNC('");
                    self.r.sql(unit_name(unit));
                    self.r.sql("', ");
                    self.r.append(&x);
                    self.r.sql(")");
                    return Ok(());
                }
                (Dialect::MySql, DateUnit::Year) => {
                    ("CAST(DATE_FORMAT(", "", ", '%Y-01-01') AS DATETIME)")
                }
                (Dialect::MySql, DateUnit::Quarter) => (
                    "CAST(MAKEDATE(YEAR(",
                    "), 1) + INTERVAL (QUARTER(",
                    ") - 1) QUARTER AS DATETIME)",
                ),
                (Dialect::MySql, DateUnit::Month) => {
                    ("CAST(DATE_FORMAT(", "", ", '%Y-%m-01') AS DATETIME)")
                }
                (Dialect::MySql, DateUnit::Week) => (
                    "CAST(DATE_SUB(DATE(",
                    "), INTERVAL WEEKDAY(",
                    ") DAY) AS DATETIME)",
                ),
                (Dialect::MySql, DateUnit::Hour) => (
                    "CAST(DATE_FORMAT(",
                    "",
                    ", '%Y-%m-%d %H:00:00') AS DATETIME)",
                ),
                (Dialect::MySql, DateUnit::Minute) => (
                    "CAST(DATE_FORMAT(",
                    "",
                    ", '%Y-%m-%d %H:%i:00') AS DATETIME)",
                ),
                (Dialect::MySql, DateUnit::Second) => (
                    "CAST(DATE_FORMAT(",
                    "",
                    ", '%Y-%m-%d %H:%i:%s') AS DATETIME)",
                ),
                (Dialect::MySql, _) => ("CAST(DATE(", "", ") AS DATETIME)"),
                (Dialect::Sqlite, DateUnit::Year) => ("DATETIME(", "", ", 'start of year')"),
                (Dialect::Sqlite, DateUnit::Quarter) => (
                    "DATETIME(",
                    ", 'start of month', '-' || ((CAST(STRFTIME('%m', ",
                    ") AS INTEGER) - 1) % 3) || ' months')",
                ),
                (Dialect::Sqlite, DateUnit::Month) => ("DATETIME(", "", ", 'start of month')"),
                (Dialect::Sqlite, DateUnit::Week) => {
                    ("DATETIME(", "", ", 'start of day', '-6 days', 'weekday 1')")
                }
                (Dialect::Sqlite, DateUnit::Hour) => ("STRFTIME('%Y-%m-%d %H:00:00', ", "", ")"),
                (Dialect::Sqlite, DateUnit::Minute) => ("STRFTIME('%Y-%m-%d %H:%M:00', ", "", ")"),
                (Dialect::Sqlite, DateUnit::Second) => ("STRFTIME('%Y-%m-%d %H:%M:%S', ", "", ")"),
                (Dialect::Sqlite, _) => ("DATETIME(", "", ", 'start of day')"),
            };
        self.r.sql(before);
        self.r.append(&x);
        if !between.is_empty() {
            self.r.sql(between);
            self.r.append(&x);
        }
        self.r.sql(after);
        Ok(())
    }

    /// `date_part(unit, x)`: a number. EXTRACT on PostgreSQL and MySQL (with WEEK, DAYOFWEEK,
    /// DAYOFYEAR and UNIX_TIMESTAMP where MySQL's EXTRACT lacks the unit); STRFTIME on SQLite.
    /// Weeks are ISO weeks; dow counts from 0 on Sunday.
    fn date_part(&mut self, call: &Call, scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        let unit = call.unit.unwrap_or(DateUnit::Year);
        let x = self.temporal_arg(call, scope)?;
        let (before, after): (&'static str, &'static str) = match (self.dialect(), unit) {
            (Dialect::Postgres, _) | (Dialect::MySql, DateUnit::Year) => {
                self.r.sql("EXTRACT(");
                self.r.sql(extract_unit(unit));
                self.r.sql(" FROM ");
                self.r.append(&x);
                self.r.sql(")");
                return Ok(());
            }
            (Dialect::MySql, DateUnit::Week) => ("WEEK(", ", 3)"),
            (Dialect::MySql, DateUnit::DayOfWeek) => ("(DAYOFWEEK(", ") - 1)"),
            (Dialect::MySql, DateUnit::DayOfYear) => ("DAYOFYEAR(", ")"),
            (Dialect::MySql, DateUnit::Epoch) => ("UNIX_TIMESTAMP(", ")"),
            (Dialect::MySql, DateUnit::Quarter) => ("EXTRACT(QUARTER FROM ", ")"),
            (Dialect::MySql, DateUnit::Month) => ("EXTRACT(MONTH FROM ", ")"),
            (Dialect::MySql, DateUnit::Day) => ("EXTRACT(DAY FROM ", ")"),
            (Dialect::MySql, DateUnit::Hour) => ("EXTRACT(HOUR FROM ", ")"),
            (Dialect::MySql, DateUnit::Minute) => ("EXTRACT(MINUTE FROM ", ")"),
            (Dialect::MySql, DateUnit::Second) => ("EXTRACT(SECOND FROM ", ")"),
            (Dialect::Sqlite, DateUnit::Quarter) => {
                ("((CAST(STRFTIME('%m', ", ") AS INTEGER) + 2) / 3)")
            }
            (Dialect::Sqlite, DateUnit::Week) => (
                "((CAST(STRFTIME('%j', DATE(",
                ", '-3 days', 'weekday 4')) AS INTEGER) - 1) / 7 + 1)",
            ),
            (Dialect::Sqlite, DateUnit::Year) => ("CAST(STRFTIME('%Y', ", ") AS INTEGER)"),
            (Dialect::Sqlite, DateUnit::Month) => ("CAST(STRFTIME('%m', ", ") AS INTEGER)"),
            (Dialect::Sqlite, DateUnit::Day) => ("CAST(STRFTIME('%d', ", ") AS INTEGER)"),
            (Dialect::Sqlite, DateUnit::Hour) => ("CAST(STRFTIME('%H', ", ") AS INTEGER)"),
            (Dialect::Sqlite, DateUnit::Minute) => ("CAST(STRFTIME('%M', ", ") AS INTEGER)"),
            (Dialect::Sqlite, DateUnit::Second) => ("CAST(STRFTIME('%S', ", ") AS INTEGER)"),
            (Dialect::Sqlite, DateUnit::DayOfWeek) => ("CAST(STRFTIME('%w', ", ") AS INTEGER)"),
            (Dialect::Sqlite, DateUnit::DayOfYear) => ("CAST(STRFTIME('%j', ", ") AS INTEGER)"),
            (Dialect::Sqlite, DateUnit::Epoch) => ("CAST(STRFTIME('%s', ", ") AS INTEGER)"),
        };
        self.r.sql(before);
        self.r.append(&x);
        self.r.sql(after);
        Ok(())
    }
}

/// A unit's name as written in SQL text: only these fixed strings reach it.
fn unit_name(unit: DateUnit) -> &'static str {
    DateUnit::ALL
        .iter()
        .find(|(u, _)| *u == unit)
        .map_or("day", |(_, name)| name)
}

/// The EXTRACT field of a unit (PostgreSQL names).
fn extract_unit(unit: DateUnit) -> &'static str {
    match unit {
        DateUnit::Year => "YEAR",
        DateUnit::Quarter => "QUARTER",
        DateUnit::Month => "MONTH",
        DateUnit::Week => "WEEK",
        DateUnit::Day => "DAY",
        DateUnit::Hour => "HOUR",
        DateUnit::Minute => "MINUTE",
        DateUnit::Second => "SECOND",
        DateUnit::DayOfWeek => "DOW",
        DateUnit::DayOfYear => "DOY",
        DateUnit::Epoch => "EPOCH",
    }
}

/// Where argument `i` of `call` is (the unit of `date_trunc` / `date_part` is argument 0 of
/// the JSON, so theirs are one further).
fn arg_path(call: &Call, i: usize) -> String {
    let offset = usize::from(call.unit.is_some());
    index(&join(&call.path, "args"), i + offset)
}

/// Argument `i` of `call`, which must be a number: a value is read as one (a numeric
/// string), or refused.
fn number_arg(call: &Call, i: usize) -> Result<Cow<'_, Expression>, QueryError> {
    let e = &call.args[i];
    let Expression::Value(v) = e else {
        return Ok(Cow::Borrowed(e));
    };
    match ValueType::Number.coerce(v) {
        Some(n) => Ok(Cow::Owned(Expression::Value(n))),
        None => Err(refuse_arg(call, i, ValueType::of_value(v), "numbers")),
    }
}

/// Refuses argument `i` of `call`, of kind `kind`, unless it is a number (or unknown).
fn check_number(call: &Call, i: usize, kind: ValueType) -> Result<(), QueryError> {
    if kind == ValueType::Number || kind.unchecked() {
        return Ok(());
    }
    let takes = if kind.is_temporal() && call.function.kind() == crate::function::Kind::Aggregate {
        "numbers (count, min and max take dates and times)"
    } else {
        "numbers"
    };
    Err(refuse_arg(call, i, kind, takes))
}

/// `<path>: f takes <takes>; <argument> is <kind>`.
fn refuse_arg(call: &Call, i: usize, kind: ValueType, takes: &str) -> QueryError {
    let e = &call.args[i];
    QueryError::invalid(
        value_path(e, &arg_path(call, i)),
        format!(
            "{} takes {takes}, and {} is {}; call it on a value of that kind",
            call.function.name(),
            describe(e),
            kind.describe()
        ),
    )
}
