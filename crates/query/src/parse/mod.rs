//! From the JSON arguments to a [`Query`]: shape, types, operators and size bounds. Names are
//! kept as written; the catalog is consulted only when planning.

mod condition;
mod expression;
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
pub(crate) fn parse_query(arguments: &Value, bounds: Bounds) -> Result<Query, QueryError> {
    Parser {
        bounds: bounds.clamped(),
        ..Parser::default()
    }
    .query(arguments, "")
}

/// Counts what the bounds limit across the whole query, and how deep parsing is.
#[derive(Debug, Default)]
struct Parser {
    bounds: Bounds,
    conditions: usize,
    values: usize,
    subqueries: usize,
    joins: usize,
    expressions: usize,
    query_depth: usize,
    expression_depth: usize,
    nesting: usize,
}

/// `path`, or `arguments` for the whole object.
fn at(path: &str) -> &str {
    if path.is_empty() { "arguments" } else { path }
}

impl Parser {
    /// Runs `f` one nesting level deeper: every recursive construct goes through here, so
    /// no JSON shape can make parsing (or planning, which follows the parsed shape) recurse
    /// more than [`MAX_NESTING`] levels.
    fn nested<T>(
        &mut self,
        path: &str,
        f: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        if self.nesting >= MAX_NESTING {
            return Err(QueryError::too_large(
                at(path),
                format!(
                    "the query nests too deeply (at most {MAX_NESTING} levels of queries, expressions and groups in total); flatten it, for example with a CTE in with"
                ),
            ));
        }
        self.nesting += 1;
        let result = f(self);
        self.nesting -= 1;
        result
    }

    /// A query inside the main one: counted against [`MAX_SUBQUERIES`].
    fn subquery(&mut self, value: &Value, path: &str) -> Result<Query, QueryError> {
        self.subqueries += 1;
        if self.subqueries > self.bounds.subqueries {
            return Err(QueryError::too_large(
                path,
                format!(
                    "a query may contain at most {} subqueries, CTEs and combined queries in total; split it into several calls",
                    self.bounds.subqueries
                ),
            ));
        }
        self.query(value, path)
    }

    fn query(&mut self, value: &Value, path: &str) -> Result<Query, QueryError> {
        if self.query_depth >= self.bounds.query_depth {
            return Err(QueryError::too_large(
                at(path),
                format!(
                    "queries may nest at most {} levels deep (the main query is level 1); flatten it, for example with a CTE in with or a join",
                    self.bounds.query_depth
                ),
            ));
        }
        self.query_depth += 1;
        let result = self.nested(path, |p| p.query_fields(value, path));
        self.query_depth -= 1;
        result
    }

    fn query_fields(&mut self, value: &Value, path: &str) -> Result<Query, QueryError> {
        let obj = value.as_object().ok_or_else(|| {
            QueryError::invalid(
                at(path),
                "expected a query: a JSON object like {\"tableName\": \"users\", \"limit\": 10}",
            )
        })?;
        check_keys(obj, path, QUERY_FIELDS)?;
        let with = self.ctes(obj, path)?;
        let table_path = join(path, "tableName");
        let table = match optional(obj, "tableName") {
            Some(v) => name(v, &table_path)?,
            None => {
                return Err(QueryError::invalid(
                    table_path,
                    "required: the table to read, as \"schema.table\" or \"table\" (or the name of a CTE from with)",
                ));
            }
        };
        let alias = alias(obj, path)?;
        let distinct = flag(obj, path, "distinct")?;

        let mut select = Vec::new();
        let select_path = join(path, "selectColumns");
        if let Some(items) = list(obj, path, "selectColumns")? {
            if items.len() > MAX_SELECT_ITEMS {
                return Err(QueryError::too_large(
                    select_path,
                    format!("at most {MAX_SELECT_ITEMS} columns may be selected"),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                select.push(self.select_item(item, &index(&select_path, i))?);
            }
        }

        let joins = self.joins(obj, path)?;
        let filter = self.condition_list(obj, path, "where")?;

        let mut group_by = Vec::new();
        let group_path = join(path, "groupBy");
        if let Some(items) = list(obj, path, "groupBy")? {
            if items.len() > MAX_GROUP_ITEMS {
                return Err(QueryError::too_large(
                    group_path,
                    format!("at most {MAX_GROUP_ITEMS} groupBy items are allowed"),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                group_by.push(self.expression(item, &index(&group_path, i), &[])?);
            }
        }
        let having = self.condition_list(obj, path, "having")?;
        let order_by = self.order_list(obj, path, "orderBy")?;

        let limit = count(obj, path, "limit")?;
        let offset = count(obj, path, "offset")?;
        if offset.is_some_and(|o| o > MAX_OFFSET) {
            return Err(QueryError::too_large(
                join(path, "offset"),
                format!("offset may be at most {MAX_OFFSET}"),
            ));
        }
        let combine = self.combine(obj, path)?;
        Ok(Query {
            path: path.to_owned(),
            with,
            table,
            alias,
            distinct,
            select,
            joins,
            filter,
            group_by,
            having,
            order_by,
            limit,
            offset,
            combine,
        })
    }

    /// `where` or `having`: a list of conditions, or nothing.
    fn condition_list(
        &mut self,
        obj: &Object,
        path: &str,
        key: &str,
    ) -> Result<Vec<Condition>, QueryError> {
        match list(obj, path, key)? {
            Some(items) => self.conditions(items, &join(path, key), 1),
            None => Ok(Vec::new()),
        }
    }

    /// `orderBy` of a query or a window.
    fn order_list(
        &mut self,
        obj: &Object,
        path: &str,
        key: &str,
    ) -> Result<Vec<OrderItem>, QueryError> {
        let mut order_by = Vec::new();
        let order_path = join(path, key);
        if let Some(items) = list(obj, path, key)? {
            if items.len() > MAX_ORDER_ITEMS {
                return Err(QueryError::too_large(
                    order_path,
                    format!("at most {MAX_ORDER_ITEMS} orderBy items are allowed"),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                order_by.push(self.order_item(item, &index(&order_path, i))?);
            }
        }
        Ok(order_by)
    }

    fn ctes(&mut self, obj: &Object, path: &str) -> Result<Vec<Cte>, QueryError> {
        let with_path = join(path, "with");
        let Some(items) = list(obj, path, "with")? else {
            return Ok(Vec::new());
        };
        if items.len() > MAX_CTES {
            return Err(QueryError::too_large(
                with_path,
                format!("at most {MAX_CTES} common table expressions are allowed in one with"),
            ));
        }
        let mut ctes: Vec<Cte> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = index(&with_path, i);
            let cte = object(
                item,
                &item_path,
                "a common table expression like {\"name\": \"recent\", \"query\": {\"tableName\": \"orders\"}}",
            )?;
            check_keys(cte, &item_path, CTE_FIELDS)?;
            let Some(name) = identifier(cte, &item_path, "name")? else {
                return Err(QueryError::invalid(
                    join(&item_path, "name"),
                    "required: the name the rest of the query reads this result by, like \"recent\"",
                ));
            };
            if let Some(j) = ctes.iter().position(|c| c.name.eq_ignore_ascii_case(&name)) {
                return Err(QueryError::invalid(
                    join(&item_path, "name"),
                    format!(
                        "{} is already the name of {}; give each CTE its own name",
                        shown(&name),
                        index(&with_path, j)
                    ),
                ));
            }
            let query_path = join(&item_path, "query");
            let Some(body) = optional(cte, "query") else {
                return Err(QueryError::invalid(
                    query_path,
                    "required: the query whose result the name stands for, like {\"tableName\": \"orders\"}",
                ));
            };
            let query = self.subquery(body, &query_path)?;
            ctes.push(Cte {
                name,
                query,
                path: item_path,
            });
        }
        Ok(ctes)
    }

    fn joins(&mut self, obj: &Object, path: &str) -> Result<Vec<Join>, QueryError> {
        let joins_path = join(path, "joins");
        let Some(items) = list(obj, path, "joins")? else {
            return Ok(Vec::new());
        };
        let mut joins = Vec::with_capacity(items.len().min(MAX_JOINS));
        for (i, item) in items.iter().enumerate() {
            let item_path = index(&joins_path, i);
            self.joins += 1;
            if self.joins > self.bounds.joins {
                return Err(QueryError::too_large(
                    item_path,
                    format!(
                        "a query may have at most {} joins in total, subqueries included",
                        self.bounds.joins
                    ),
                ));
            }
            let j = object(
                item,
                &item_path,
                "a join like {\"type\": \"inner\", \"table\": \"customers\", \"alias\": \"c\", \"on\": [...]}",
            )?;
            check_keys(j, &item_path, JOIN_FIELDS)?;
            let kind = match text(j, &item_path, "type")? {
                None => JoinKind::Inner,
                Some(t) => join_kind(t).ok_or_else(|| {
                    QueryError::invalid(
                        join(&item_path, "type"),
                        format!(
                            "unknown join type {}; use inner, left, right, full or cross",
                            shown(t)
                        ),
                    )
                })?,
            };
            let alias = alias(j, &item_path)?;
            let source = match (optional(j, "table"), optional(j, "subquery")) {
                (Some(t), None) => JoinSource::Table(name(t, &join(&item_path, "table"))?),
                (None, Some(q)) => {
                    let query = self.subquery(q, &join(&item_path, "subquery"))?;
                    if alias.is_none() {
                        return Err(QueryError::invalid(
                            join(&item_path, "alias"),
                            "required for a subquery join: the name its columns are prefixed with, like \"t\"",
                        ));
                    }
                    JoinSource::Subquery(Box::new(query))
                }
                (Some(_), Some(_)) => {
                    return Err(QueryError::invalid(
                        item_path,
                        "give either table or subquery, not both",
                    ));
                }
                (None, None) => {
                    return Err(QueryError::invalid(
                        item_path,
                        "a join needs table (a table or CTE name) or subquery (a query)",
                    ));
                }
            };
            let on_path = join(&item_path, "on");
            let on = match (kind, list(j, &item_path, "on")?) {
                (JoinKind::Cross, None) => Vec::new(),
                (JoinKind::Cross, Some([])) => Vec::new(),
                (JoinKind::Cross, Some(_)) => {
                    return Err(QueryError::invalid(
                        on_path,
                        "a cross join pairs every row with every row and takes no on; use an inner join to give conditions",
                    ));
                }
                (_, Some(items)) if !items.is_empty() => self.conditions(items, &on_path, 1)?,
                (_, _) => {
                    return Err(QueryError::invalid(
                        on_path,
                        "required: how rows match, like [{\"field\": \"o.customer_id\", \"op\": \"=\", \"otherField\": \"c.id\"}] (only a cross join has no on)",
                    ));
                }
            };
            joins.push(Join {
                kind,
                source,
                alias,
                on,
                path: item_path,
            });
        }
        Ok(joins)
    }

    fn combine(&mut self, obj: &Object, path: &str) -> Result<Vec<Combine>, QueryError> {
        let combine_path = join(path, "combine");
        let Some(items) = list(obj, path, "combine")? else {
            return Ok(Vec::new());
        };
        if items.len() > MAX_COMBINE {
            return Err(QueryError::too_large(
                combine_path,
                format!("at most {MAX_COMBINE} queries may be combined with one query"),
            ));
        }
        let mut combine = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = index(&combine_path, i);
            let c = object(
                item,
                &item_path,
                "a combined query like {\"type\": \"union\", \"query\": {\"tableName\": \"archived_orders\"}}",
            )?;
            check_keys(c, &item_path, COMBINE_FIELDS)?;
            let type_path = join(&item_path, "type");
            let op = match text(c, &item_path, "type")? {
                Some(t) => set_op(t).ok_or_else(|| {
                    QueryError::invalid(
                        &type_path,
                        format!(
                            "unknown combine type {}; use union, unionAll, intersect or except",
                            shown(t)
                        ),
                    )
                })?,
                None => {
                    return Err(QueryError::invalid(
                        type_path,
                        "required: union, unionAll, intersect or except",
                    ));
                }
            };
            let query_path = join(&item_path, "query");
            let Some(body) = optional(c, "query") else {
                return Err(QueryError::invalid(
                    query_path,
                    "required: the query to combine with, like {\"tableName\": \"archived_orders\"}",
                ));
            };
            let query = self.subquery(body, &query_path)?;
            combine.push(Combine {
                op,
                query,
                path: item_path,
            });
        }
        Ok(combine)
    }

    fn select_item(&mut self, item: &Value, path: &str) -> Result<SelectItem, QueryError> {
        let obj = object(item, path, "a column like {\"field\": \"id\"}")?;
        Ok(SelectItem {
            expr: self.expression(item, path, SELECT_EXTRA)?,
            alias: alias(obj, path)?,
        })
    }

    fn order_item(&mut self, item: &Value, path: &str) -> Result<OrderItem, QueryError> {
        let obj = object(
            item,
            path,
            "an order like {\"field\": \"created_at\", \"direction\": \"desc\"}",
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
            expr: self.expression(item, path, ORDER_EXTRA)?,
            direction,
            nulls,
            path: path.to_owned(),
        })
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
            Value::String(s) => SqlValue::Text(text_value(s, path)?),
            Value::Array(_) => {
                return Err(QueryError::invalid(
                    path,
                    "expected a single value (text, number, boolean or null), not a list; lists are only for in, notIn and between",
                ));
            }
            Value::Object(_) => {
                return Err(QueryError::invalid(
                    path,
                    "expected a single value (text, number, boolean or null), not an object; to compare with an expression, put it in left and the column in otherField",
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

/// Letters of `text`, lowercase, without spaces, `_` and `-`: `"Left Outer"` -> `leftouter`.
fn normalized(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| !matches!(c, '_' | ' ' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn join_kind(text: &str) -> Option<JoinKind> {
    Some(match normalized(text).as_str() {
        "inner" | "join" | "innerjoin" => JoinKind::Inner,
        "left" | "leftouter" | "leftjoin" | "leftouterjoin" => JoinKind::Left,
        "right" | "rightouter" | "rightjoin" | "rightouterjoin" => JoinKind::Right,
        "full" | "fullouter" | "outer" | "fulljoin" | "fullouterjoin" => JoinKind::Full,
        "cross" | "crossjoin" => JoinKind::Cross,
        _ => return None,
    })
}

fn set_op(text: &str) -> Option<SetOp> {
    Some(match normalized(text).as_str() {
        "union" => SetOp::Union,
        "unionall" => SetOp::UnionAll,
        "intersect" => SetOp::Intersect,
        "except" | "minus" => SetOp::Except,
        _ => return None,
    })
}

/// A text value as it will be bound. NUL is refused: databases disagree about it (PostgreSQL
/// rejects it, MariaDB's collations ignore it, SQLite's LIKE stops at it), so one query would
/// mean different things on different providers.
pub(crate) fn text_value(s: &str, path: &str) -> Result<String, QueryError> {
    if s.contains('\0') {
        return Err(QueryError::invalid(
            path,
            "text values cannot contain the NUL character (\\u0000)",
        ));
    }
    Ok(s.to_owned())
}
