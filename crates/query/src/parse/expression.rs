//! Expressions: fields, values, function calls from the allow-list, operations, case and
//! scalar subqueries.

use db_configs::SqlValue;
use serde_json::Value;

use super::fields::*;
use super::{Object, Parser, normalized};
use crate::error::{QueryError, QueryErrorKind, index, join, shown};
use crate::function::{FUNCTIONS, Function, Kind};
use crate::model::*;

/// The largest `digits` of `round`.
const MAX_ROUND_DIGITS: i64 = 30;
/// The largest `offset` of `lag` and `lead`.
const MAX_LAG: i64 = i32::MAX as i64;

impl Parser {
    /// The expression `value` holds: exactly one of the forms, plus the `extra` keys the
    /// place allows (`alias` in a select item, `direction` and `nulls` in an order item).
    pub(super) fn expression(
        &mut self,
        value: &Value,
        path: &str,
        extra: &[&str],
    ) -> Result<Expression, QueryError> {
        self.expressions += 1;
        if self.expressions > MAX_EXPRESSIONS {
            return Err(QueryError::too_large(
                path,
                format!("a query may hold at most {MAX_EXPRESSIONS} expressions in total"),
            ));
        }
        if self.expression_depth >= MAX_EXPRESSION_DEPTH {
            return Err(QueryError::too_large(
                path,
                format!("expressions may nest at most {MAX_EXPRESSION_DEPTH} levels deep"),
            ));
        }
        self.expression_depth += 1;
        let result = self.nested(path, |p| p.expression_form(value, path, extra));
        self.expression_depth -= 1;
        result
    }

    fn expression_form(
        &mut self,
        value: &Value,
        path: &str,
        extra: &[&str],
    ) -> Result<Expression, QueryError> {
        let obj = object(
            value,
            path,
            "an expression like {\"field\": \"total\"} or {\"value\": 10}",
        )?;
        let forms: Vec<&(&str, &[&str])> = EXPRESSION_FORMS
            .iter()
            .filter(|(key, _)| obj.contains_key(*key))
            .collect();
        let (form, parts) = match forms.as_slice() {
            [one] => **one,
            [] => {
                let mut allowed: Vec<&str> = EXPRESSION_FORMS.iter().map(|(k, _)| *k).collect();
                allowed.extend_from_slice(extra);
                check_keys(obj, path, &allowed)?;
                return Err(QueryError::invalid(
                    path,
                    format!(
                        "missing the expression: give one of {FORMS_HELP}, like {{\"field\": \"id\"}}"
                    ),
                ));
            }
            [a, b, ..] => {
                return Err(QueryError::invalid(
                    path,
                    format!(
                        "give only one of {FORMS_HELP} in one expression; found {} and {}",
                        a.0, b.0
                    ),
                ));
            }
        };
        let mut allowed = vec![form];
        allowed.extend_from_slice(parts);
        allowed.extend_from_slice(extra);
        check_keys(obj, path, &allowed)?;
        let form_path = join(path, form);
        let v = &obj[form];
        Ok(match form {
            "field" => Expression::Field(name(v, &form_path)?),
            "value" => Expression::Value(self.scalar(v, &form_path)?),
            "subquery" => Expression::Subquery(Box::new(self.subquery(v, &form_path)?)),
            "operation" => self.operation(obj, path)?,
            "case" => self.case(obj, path)?,
            _ => Expression::Function(Box::new(self.call(obj, path)?)),
        })
    }

    fn operation(&mut self, obj: &Object, path: &str) -> Result<Expression, QueryError> {
        let op_path = join(path, "operation");
        let help = "use add, subtract, multiply, divide, modulo or concat";
        let op = match &obj["operation"] {
            Value::String(s) => operator(s).ok_or_else(|| {
                QueryError::invalid(&op_path, format!("unknown operation {}; {help}", shown(s)))
            })?,
            _ => {
                return Err(QueryError::invalid(
                    op_path,
                    format!("expected a string; {help}"),
                ));
            }
        };
        let mut side = |key: &str| -> Result<Expression, QueryError> {
            match optional(obj, key) {
                Some(v) => self.expression(v, &join(path, key), &[]),
                None => Err(QueryError::invalid(
                    join(path, key),
                    format!(
                        "required: the {key} operand, an expression like {{\"field\": \"price\"}} or {{\"value\": 2}}"
                    ),
                )),
            }
        };
        let left = side("left")?;
        let right = side("right")?;
        Ok(Expression::Operation(Box::new(Operation {
            op,
            left,
            right,
            path: path.to_owned(),
        })))
    }

    fn case(&mut self, obj: &Object, path: &str) -> Result<Expression, QueryError> {
        let case_path = join(path, "case");
        let example = "a list of branches like [{\"when\": [{\"field\": \"total\", \"op\": \">\", \"value\": 100}], \"then\": {\"value\": \"big\"}}]";
        let items = match &obj["case"] {
            Value::Array(items) if !items.is_empty() => items,
            _ => {
                return Err(QueryError::invalid(
                    case_path,
                    format!("expected {example}"),
                ));
            }
        };
        if items.len() > MAX_ARGS {
            return Err(QueryError::too_large(
                case_path,
                format!("a case may have at most {MAX_ARGS} branches"),
            ));
        }
        let mut branches = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let branch_path = index(&case_path, i);
            let branch = object(item, &branch_path, &format!("a branch; case is {example}"))?;
            check_keys(branch, &branch_path, BRANCH_FIELDS)?;
            let when_path = join(&branch_path, "when");
            let when = match optional(branch, "when") {
                Some(Value::Array(items)) if !items.is_empty() => {
                    self.conditions(items, &when_path, 1)?
                }
                _ => {
                    return Err(QueryError::invalid(
                        when_path,
                        "required: a non-empty list of conditions, like [{\"field\": \"total\", \"op\": \">\", \"value\": 100}]",
                    ));
                }
            };
            let then_path = join(&branch_path, "then");
            let then = match optional(branch, "then") {
                Some(v) => self.expression(v, &then_path, &[])?,
                None => {
                    return Err(QueryError::invalid(
                        then_path,
                        "required: the result when the conditions hold, an expression like {\"value\": \"big\"}",
                    ));
                }
            };
            branches.push((when, then));
        }
        let otherwise = match optional(obj, "else") {
            Some(v) => Some(self.expression(v, &join(path, "else"), &[])?),
            None => None,
        };
        Ok(Expression::Case(Box::new(Case {
            branches,
            otherwise,
            path: path.to_owned(),
        })))
    }

    fn call(&mut self, obj: &Object, path: &str) -> Result<Call, QueryError> {
        let function_path = join(path, "function");
        let function = match &obj["function"] {
            Value::String(s) => Function::parse(s).ok_or_else(|| {
                QueryError::new(
                    QueryErrorKind::UnknownFunction,
                    &function_path,
                    format!(
                        "function {} is not allowed; the allowed functions are: {}",
                        shown(s),
                        FUNCTIONS.join(", ")
                    ),
                )
            })?,
            _ => {
                return Err(QueryError::invalid(
                    function_path,
                    format!("expected a function name, one of: {}", FUNCTIONS.join(", ")),
                ));
            }
        };
        let name = function.name();
        let kind = function.kind();
        let args_path = join(path, "args");
        let raw: &[Value] = list(obj, path, "args")?.unwrap_or_default();
        let (min, max) = function.arity();
        if raw.len() < min || raw.len() > max {
            return Err(QueryError::invalid(
                &args_path,
                format!(
                    "{name} takes {}; got {} argument{}. Call it as {}",
                    arity_text(min, max),
                    raw.len(),
                    if raw.len() == 1 { "" } else { "s" },
                    function.signature()
                ),
            ));
        }

        let mut unit = None;
        let mut rest = raw;
        if matches!(function, Function::DateTrunc | Function::DatePart) {
            let unit_path = index(&args_path, 0);
            let parsed =
                date_unit(&raw[0]).filter(|u| function != Function::DateTrunc || u.truncates());
            let Some(parsed) = parsed else {
                return Err(QueryError::invalid(
                    unit_path,
                    format!(
                        "the first argument of {name} is the unit, like {{\"value\": \"month\"}}; {}",
                        function.signature()
                    ),
                ));
            };
            unit = Some(parsed);
            rest = &raw[1..];
        }

        let mut args = Vec::with_capacity(rest.len());
        let count_star = function == Function::Count
            && matches!(rest, [Value::Object(o)] if o.len() == 1 && o.get("field") == Some(&Value::String("*".to_owned())));
        if !count_star {
            let offset = raw.len() - rest.len();
            for (i, arg) in rest.iter().enumerate() {
                let arg_path = index(&args_path, i + offset);
                if !arg.is_object() {
                    return Err(QueryError::invalid(
                        arg_path,
                        "each argument is an expression, like {\"field\": \"total\"} or {\"value\": 2}",
                    ));
                }
                args.push(self.expression(arg, &arg_path, &[])?);
            }
        }
        check_constants(function, &args, &args_path)?;

        let distinct = flag(obj, path, "distinct")?;
        if distinct && kind != Kind::Aggregate {
            return Err(QueryError::invalid(
                join(path, "distinct"),
                "distinct applies to the aggregate functions count, sum, avg, min and max only",
            ));
        }
        if distinct && args.is_empty() {
            return Err(QueryError::invalid(
                join(path, "distinct"),
                "count with distinct needs the value to count once each, like \"args\": [{\"field\": \"customer_id\"}]",
            ));
        }
        let filter_path = join(path, "filter");
        let filter = match list(obj, path, "filter")? {
            Some(items) if kind != Kind::Aggregate && !items.is_empty() => {
                return Err(QueryError::invalid(
                    filter_path,
                    "filter applies to the aggregate functions count, sum, avg, min and max only",
                ));
            }
            Some(items) => self.conditions(items, &filter_path, 1)?,
            None => Vec::new(),
        };
        let over_path = join(path, "over");
        let over = match optional(obj, "over") {
            None => None,
            Some(_) if kind == Kind::Scalar => {
                return Err(QueryError::invalid(
                    over_path,
                    "over applies to window functions (row_number, rank, dense_rank, lag, lead) and aggregates only",
                ));
            }
            Some(_) if distinct => {
                return Err(QueryError::invalid(
                    over_path,
                    "distinct cannot be combined with over; drop one of them",
                ));
            }
            Some(v) => Some(self.window(v, &over_path)?),
        };
        if kind == Kind::Window && over.is_none() {
            return Err(QueryError::invalid(
                over_path,
                format!(
                    "required: {name} is a window function; give the rows it runs over, like \"over\": {{\"partitionBy\": [{{\"field\": \"customer_id\"}}], \"orderBy\": [{{\"field\": \"created_at\"}}]}}"
                ),
            ));
        }
        Ok(Call {
            function,
            unit,
            args,
            distinct,
            filter,
            over,
            path: path.to_owned(),
        })
    }

    fn window(&mut self, value: &Value, path: &str) -> Result<Window, QueryError> {
        let obj = object(
            value,
            path,
            "a window like {\"partitionBy\": [{\"field\": \"customer_id\"}], \"orderBy\": [{\"field\": \"created_at\"}]}",
        )?;
        check_keys(obj, path, WINDOW_FIELDS)?;
        let mut partition_by = Vec::new();
        let partition_path = join(path, "partitionBy");
        if let Some(items) = list(obj, path, "partitionBy")? {
            if items.len() > MAX_GROUP_ITEMS {
                return Err(QueryError::too_large(
                    partition_path,
                    format!("at most {MAX_GROUP_ITEMS} partitionBy items are allowed"),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                partition_by.push(self.expression(item, &index(&partition_path, i), &[])?);
            }
        }
        let order_by = self.order_list(obj, path, "orderBy")?;
        Ok(Window {
            partition_by,
            order_by,
        })
    }
}

fn arity_text(min: usize, max: usize) -> String {
    match (min, max) {
        (0, 0) => "no arguments".to_owned(),
        (1, 1) => "one argument".to_owned(),
        (a, b) if a == b => format!("{a} arguments"),
        (a, b) if b >= MAX_ARGS => {
            format!("at least {a} argument{}", if a == 1 { "" } else { "s" })
        }
        (a, b) => format!("{a} to {b} arguments"),
    }
}

/// The arguments that must be whole-number constants (they are written into the SQL as
/// numbers): `round`'s digits, `lag`/`lead`'s offset; `substring`'s start and length when
/// given as values.
fn check_constants(function: Function, args: &[Expression], path: &str) -> Result<(), QueryError> {
    let whole = |i: usize, range: std::ops::RangeInclusive<i64>, what: &str| match args.get(i) {
        None => Ok(()),
        Some(Expression::Value(SqlValue::Int(n))) if range.contains(n) => Ok(()),
        Some(_) => Err(QueryError::invalid(
            index(path, i),
            format!(
                "{what} must be a whole number from {} to {}, like {{\"value\": 2}}",
                range.start(),
                range.end()
            ),
        )),
    };
    match function {
        Function::Round => whole(1, -MAX_ROUND_DIGITS..=MAX_ROUND_DIGITS, "digits"),
        Function::Lag | Function::Lead => whole(1, 0..=MAX_LAG, "the offset"),
        Function::Substring => {
            for (i, arg) in args.iter().enumerate().skip(1) {
                if let Expression::Value(v) = arg
                    && !matches!(v, SqlValue::Int(n) if i32::try_from(*n).is_ok())
                {
                    return Err(QueryError::invalid(
                        index(path, i),
                        "start and length must be whole numbers, like {\"value\": 1} (the first character is 1)",
                    ));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The unit of `date_trunc` / `date_part`: `"month"` or `{"value": "month"}`.
fn date_unit(value: &Value) -> Option<DateUnit> {
    let text = match value {
        Value::String(s) => s,
        Value::Object(o) if o.len() == 1 => o.get("value")?.as_str()?,
        _ => return None,
    };
    let norm = normalized(text);
    let norm = match norm.as_str() {
        "dayofweek" | "weekday" => "dow",
        "dayofyear" => "doy",
        n => n
            .strip_suffix('s')
            .filter(|_| n != "dow" && n != "doy")
            .unwrap_or(n),
    };
    DateUnit::ALL
        .iter()
        .find(|(_, name)| *name == norm)
        .map(|(unit, _)| *unit)
}

fn operator(text: &str) -> Option<Operator> {
    Some(match normalized(text).as_str() {
        "add" | "plus" | "+" => Operator::Add,
        "subtract" | "minus" | "sub" | "-" => Operator::Subtract,
        "multiply" | "times" | "mul" | "*" => Operator::Multiply,
        "divide" | "div" | "/" => Operator::Divide,
        "modulo" | "mod" | "%" | "remainder" => Operator::Modulo,
        "concat" | "concatenate" | "||" => Operator::Concat,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn date_units_parse_in_several_spellings() {
        assert_eq!(date_unit(&json!("month")), Some(DateUnit::Month));
        assert_eq!(
            date_unit(&json!({"value": "Months"})),
            Some(DateUnit::Month)
        );
        assert_eq!(date_unit(&json!("DOW")), Some(DateUnit::DayOfWeek));
        assert_eq!(date_unit(&json!("day_of_year")), Some(DateUnit::DayOfYear));
        assert_eq!(date_unit(&json!("hours")), Some(DateUnit::Hour));
        assert_eq!(date_unit(&json!("fortnight")), None);
        assert_eq!(date_unit(&json!({"field": "month"})), None);
        assert_eq!(date_unit(&json!("month'); DROP")), None);
    }

    #[test]
    fn operators_parse_by_name_and_symbol() {
        assert_eq!(operator("add"), Some(Operator::Add));
        assert_eq!(operator("*"), Some(Operator::Multiply));
        assert_eq!(operator("Concat"), Some(Operator::Concat));
        assert_eq!(operator("power"), None);
    }
}
