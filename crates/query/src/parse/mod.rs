//! From the JSON arguments to a [`Query`]: shape, types, operators and size bounds. Names are
//! kept as written; the catalog is consulted only when planning.

mod condition;
mod fields;

use db_configs::SqlValue;
use serde_json::{Map, Value};

use crate::error::{QueryError, index, join, shown};
use crate::model::*;
use fields::*;

type Object = Map<String, Value>;

/// Below this, every whole `f64` is an exact integer (2^53).
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

/// Parses the arguments of `execute_query_safe`; see [`Query::parse`].
pub(crate) fn parse_query(arguments: &Value) -> Result<Query, QueryError> {
    Parser::default().query(arguments)
}

/// Counts what the bounds limit across the whole query.
#[derive(Debug, Default)]
struct Parser {
    conditions: usize,
    values: usize,
}

impl Parser {
    fn query(&mut self, arguments: &Value) -> Result<Query, QueryError> {
        let obj = arguments.as_object().ok_or_else(|| {
            QueryError::invalid(
                "arguments",
                "expected a JSON object like {\"tableName\": \"users\", \"limit\": 10}",
            )
        })?;
        check_keys(obj, "", QUERY_FIELDS, QUERY_LATER, &[])?;
        let table = match optional(obj, "tableName") {
            Some(v) => name(v, "tableName")?,
            None => {
                return Err(QueryError::invalid(
                    "tableName",
                    "required: the table to read, as \"schema.table\" or \"table\"",
                ));
            }
        };
        let alias = alias(obj, "")?;
        let distinct = flag(obj, "", "distinct")?;

        let mut select = Vec::new();
        if let Some(items) = list(obj, "", "selectColumns")? {
            if items.len() > MAX_SELECT_ITEMS {
                return Err(QueryError::too_large(
                    "selectColumns",
                    format!("at most {MAX_SELECT_ITEMS} columns may be selected"),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                select.push(self.select_item(item, &index("selectColumns", i))?);
            }
        }

        let filter = match list(obj, "", "where")? {
            Some(items) => self.conditions(items, "where", 1)?,
            None => Vec::new(),
        };

        let mut order_by = Vec::new();
        if let Some(items) = list(obj, "", "orderBy")? {
            if items.len() > MAX_ORDER_ITEMS {
                return Err(QueryError::too_large(
                    "orderBy",
                    format!("at most {MAX_ORDER_ITEMS} orderBy items are allowed"),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                order_by.push(self.order_item(item, &index("orderBy", i))?);
            }
        }

        let limit = count(obj, "limit")?;
        let offset = count(obj, "offset")?;
        if offset.is_some_and(|o| o > MAX_OFFSET) {
            return Err(QueryError::too_large(
                "offset",
                format!("offset may be at most {MAX_OFFSET}"),
            ));
        }
        Ok(Query {
            table,
            alias,
            distinct,
            select,
            filter,
            order_by,
            limit,
            offset,
        })
    }

    fn select_item(&mut self, item: &Value, path: &str) -> Result<SelectItem, QueryError> {
        let obj = object(item, path, "a column like {\"field\": \"id\"}")?;
        check_keys(
            obj,
            path,
            SELECT_FIELDS,
            EXPRESSION_LATER,
            EXPRESSION_LATER_PARTS,
        )?;
        Ok(SelectItem {
            expr: self.expression(obj, path)?,
            alias: alias(obj, path)?,
        })
    }

    fn order_item(&mut self, item: &Value, path: &str) -> Result<OrderItem, QueryError> {
        let obj = object(
            item,
            path,
            "an order like {\"field\": \"created_at\", \"direction\": \"desc\"}",
        )?;
        check_keys(
            obj,
            path,
            ORDER_FIELDS,
            EXPRESSION_LATER,
            EXPRESSION_LATER_PARTS,
        )?;
        let direction = match text(obj, path, "direction")? {
            None => None,
            Some(d) if d.eq_ignore_ascii_case("asc") => Some(Direction::Asc),
            Some(d) if d.eq_ignore_ascii_case("desc") => Some(Direction::Desc),
            Some(d) => {
                return Err(QueryError::invalid(
                    join(path, "direction"),
                    format!("unknown direction {}; use \"asc\" or \"desc\"", shown(d)),
                ));
            }
        };
        let nulls = match text(obj, path, "nulls")? {
            None => None,
            Some(n) if n.eq_ignore_ascii_case("first") => Some(Nulls::First),
            Some(n) if n.eq_ignore_ascii_case("last") => Some(Nulls::Last),
            Some(n) => {
                return Err(QueryError::invalid(
                    join(path, "nulls"),
                    format!(
                        "unknown nulls order {}; use \"first\" or \"last\"",
                        shown(n)
                    ),
                ));
            }
        };
        Ok(OrderItem {
            expr: self.expression(obj, path)?,
            direction,
            nulls,
            path: path.to_owned(),
        })
    }

    /// The expression held by `obj` (whose keys were checked): `field` or `value`.
    fn expression(&mut self, obj: &Object, path: &str) -> Result<Expression, QueryError> {
        match (obj.get("field"), obj.get("value")) {
            (Some(f), None) => Ok(Expression::Field(name(f, &join(path, "field"))?)),
            (None, Some(v)) => Ok(Expression::Value(self.scalar(v, &join(path, "value"))?)),
            (Some(_), Some(_)) => Err(QueryError::invalid(
                path,
                "give either field or value, not both",
            )),
            (None, None) => Err(QueryError::invalid(
                path,
                "missing the expression: give {\"field\": \"column\"} or {\"value\": ...}",
            )),
        }
    }

    fn count_value(&mut self, path: &str) -> Result<(), QueryError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(QueryError::too_large(
                path,
                format!("a query may hold at most {MAX_VALUES} values in total"),
            ));
        }
        Ok(())
    }

    /// A single JSON value as a bound parameter.
    fn scalar(&mut self, value: &Value, path: &str) -> Result<SqlValue, QueryError> {
        self.count_value(path)?;
        Ok(match value {
            Value::Null => SqlValue::Null,
            Value::Bool(b) => SqlValue::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => SqlValue::Int(i),
                // `1.0` is the integer 1: PostgreSQL refuses "1.0" for an integer column.
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < MAX_EXACT_FLOAT => {
                    SqlValue::Int(f as i64)
                }
                (None, Some(f)) => SqlValue::Float(f),
                (None, None) => {
                    return Err(QueryError::invalid(path, "this number cannot be used"));
                }
            },
            Value::String(s) => SqlValue::Text(s.clone()),
            Value::Array(_) => {
                return Err(QueryError::invalid(
                    path,
                    "expected a single value (text, number, boolean or null), not a list; lists are only for in, notIn and between",
                ));
            }
            Value::Object(_) => {
                return Err(QueryError::invalid(
                    path,
                    "expected a single value (text, number, boolean or null), not an object",
                ));
            }
        })
    }

    /// A list item or bound: a single value, not null (null never matches in SQL).
    fn non_null(&mut self, value: &Value, path: &str, what: &str) -> Result<SqlValue, QueryError> {
        if value.is_null() {
            return Err(QueryError::invalid(
                path,
                format!(
                    "null is not allowed in {what}: it never matches; test for null with a separate condition using op \"isNull\""
                ),
            ));
        }
        self.scalar(value, path)
    }
}
