//! The allow-listed functions per dialect: aggregates (FILTER emulated on MySQL), window
//! functions, and the scalar functions with their emulations (`date_trunc`, `date_part`,
//! SQLite's `floor`/`ceil`, MariaDB's `lag`/`lead` defaults).

use db_configs::SqlValue;

use super::expression::{Typing, beside};
use super::scope::Scope;
use super::{Ctx, Planner};
use crate::error::{QueryError, shown};
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
    ) -> Result<(), QueryError> {
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
        match call.args.first() {
            Some(arg) => self.expression(arg, scope, Typing::Typed)?,
            None if emulate => self.r.sql("1"),
            None => self.r.sql("*"),
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
        Ok(())
    }

    pub(super) fn window_function(
        &mut self,
        call: &Call,
        scope: &Scope<'_, 'c>,
    ) -> Result<(), QueryError> {
        self.r.sql(match call.function {
            Function::RowNumber => "ROW_NUMBER(",
            Function::Rank => "RANK(",
            Function::DenseRank => "DENSE_RANK(",
            Function::Lag => "LAG(",
            _ => "LEAD(",
        });
        if let Some(value) = call.args.first() {
            self.expression(value, scope, Typing::Typed)?;
            if let Some(offset) = call.args.get(1) {
                self.r.sql(", ");
                self.constant_integer(offset, scope)?;
            }
            if let Some(default) = call.args.get(2) {
                self.r.sql(", ");
                self.expression(default, scope, beside(value))?;
            }
        }
        self.r.sql(")");
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
    ) -> Result<(), QueryError> {
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
            p.r.sql("CASE WHEN ");
            p.r.sql(name);
            p.r.sql("1, ");
            p.constant_integer(offset, scope)?;
            p.r.sql(")");
            p.r.append(&over);
            p.r.sql(" IS NULL THEN ");
            p.expression(default, scope, beside(value))?;
            p.r.sql(" ELSE ");
            p.r.sql(name);
            p.expression(value, scope, Typing::Typed)?;
            p.r.sql(", ");
            p.constant_integer(offset, scope)?;
            p.r.sql(")");
            p.r.append(&over);
            p.r.sql(" END");
            Ok(())
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
            _ => self.expression(e, scope, Typing::Typed),
        }
    }

    /// A date/time argument: values are cast to TIMESTAMP on PostgreSQL.
    fn timestamp(&mut self, e: &Expression, scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        match e {
            Expression::Value(v) => {
                self.r.bind_cast(v.clone(), "TIMESTAMP");
                Ok(())
            }
            _ => self.expression(e, scope, Typing::Typed),
        }
    }

    /// Renders `e` apart, to repeat it where an emulation needs it more than once.
    fn repeated(
        &mut self,
        e: &Expression,
        scope: &Scope<'_, 'c>,
        timestamp: bool,
    ) -> Result<Renderer, QueryError> {
        let (fragment, ()) = self.fragment(|p| {
            if timestamp {
                p.timestamp(e, scope)
            } else {
                p.expression(e, scope, Typing::Typed)
            }
        })?;
        Ok(fragment)
    }

    /// The scalar functions, per dialect.
    pub(super) fn scalar(&mut self, call: &Call, scope: &Scope<'_, 'c>) -> Result<(), QueryError> {
        let d = self.dialect();
        let args = &call.args;
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
            }
            Function::Substring => {
                self.r.sql("SUBSTR(");
                self.text_operand(&args[0], scope)?;
                for arg in &args[1..] {
                    self.r.sql(", ");
                    self.constant_integer(arg, scope)?;
                }
                self.r.sql(")");
            }
            Function::Concat => self.concat(args, scope)?,
            Function::Coalesce | Function::NullIf => {
                self.r.sql(if call.function == Function::Coalesce {
                    "COALESCE("
                } else {
                    "NULLIF("
                });
                let typing = if args.iter().all(|a| matches!(a, Expression::Value(_))) {
                    Typing::Typed
                } else {
                    Typing::Inferred
                };
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        self.r.sql(", ");
                    }
                    self.expression(arg, scope, typing)?;
                }
                self.r.sql(")");
            }
            Function::Abs => {
                self.r.sql("ABS(");
                self.expression(&args[0], scope, Typing::Typed)?;
                self.r.sql(")");
            }
            Function::Round => {
                self.r.sql("ROUND(");
                match (args.get(1), d) {
                    // PostgreSQL rounds to digits only a numeric.
                    (Some(digits), Dialect::Postgres) => {
                        self.r.sql("CAST(");
                        self.expression(&args[0], scope, Typing::Typed)?;
                        self.r.sql(" AS NUMERIC), ");
                        self.constant_integer(digits, scope)?;
                    }
                    (Some(digits), _) => {
                        self.expression(&args[0], scope, Typing::Typed)?;
                        self.r.sql(", ");
                        self.constant_integer(digits, scope)?;
                    }
                    (None, _) => self.expression(&args[0], scope, Typing::Typed)?,
                }
                self.r.sql(")");
            }
            Function::Floor | Function::Ceil if d == Dialect::Sqlite => {
                // SQLite has FLOOR and CEIL only when built with its math functions: truncate,
                // then step down (floor of a negative fraction) or up (ceil of a positive one).
                let x = self.repeated(&args[0], scope, false)?;
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
                self.expression(&args[0], scope, Typing::Typed)?;
                self.r.sql(")");
            }
            Function::CurrentDate => self.r.sql("CURRENT_DATE"),
            Function::DateTrunc => self.date_trunc(call, scope)?,
            Function::DatePart => self.date_part(call, scope)?,
            other => {
                return Err(QueryError::invalid(
                    &call.path,
                    format!("{} is not a scalar function", shown(other.name())),
                ));
            }
        }
        Ok(())
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
                    _ => self.expression(arg, scope, Typing::Typed)?,
                },
                Dialect::MySql => self.expression(arg, scope, Typing::Typed)?,
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
        let x = self.repeated(&call.args[0], scope, true)?;
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
        let x = self.repeated(&call.args[0], scope, true)?;
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
