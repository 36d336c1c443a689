//! The JSON Schema of the arguments of `execute_query_safe`, as the tool's `inputSchema`.

use serde_json::{Map, Value, json};

use crate::function::FUNCTIONS;
use crate::model::{
    MAX_ARGS, MAX_COMBINE, MAX_CTES, MAX_GROUP_ITEMS, MAX_LIST_ITEMS, MAX_ORDER_ITEMS,
    MAX_SELECT_ITEMS,
};

/// The seed's example, valid as written.
pub(crate) fn seed_example() -> Value {
    json!({"tableName": "users", "selectColumns": [{"field": "id"}, {"field": "name"}], "limit": 10})
}

/// A join with aggregates: revenue per customer.
pub(crate) fn join_example() -> Value {
    json!({
        "tableName": "orders",
        "alias": "o",
        "joins": [{"type": "inner", "table": "customers", "alias": "c",
            "on": [{"field": "o.customer_id", "op": "=", "otherField": "c.id"}]}],
        "selectColumns": [
            {"field": "c.name"},
            {"function": "count", "alias": "orders"},
            {"function": "sum", "args": [{"field": "o.total"}], "alias": "revenue"}
        ],
        "where": [{"field": "o.status", "op": "=", "value": "paid"}],
        "groupBy": [{"field": "c.name"}],
        "having": [{"left": {"function": "sum", "args": [{"field": "o.total"}]}, "op": ">", "value": 1000}],
        "orderBy": [{"field": "revenue", "direction": "desc"}],
        "limit": 10
    })
}

/// A CTE: monthly revenue, then the months above a threshold.
pub(crate) fn cte_example() -> Value {
    json!({
        "with": [{"name": "monthly", "query": {
            "tableName": "orders",
            "selectColumns": [
                {"function": "date_trunc", "args": [{"value": "month"}, {"field": "created_at"}], "alias": "month"},
                {"function": "sum", "args": [{"field": "total"}], "alias": "revenue"}
            ],
            "groupBy": [{"field": "month"}]
        }}],
        "tableName": "monthly",
        "where": [{"field": "revenue", "op": ">", "value": 10000}],
        "orderBy": [{"field": "month"}]
    })
}

/// The keys of every expression form, with descriptions.
fn expression_properties() -> Map<String, Value> {
    let scalar = json!(["string", "number", "boolean", "null"]);
    let props = json!({
        "field": {
            "type": "string",
            "description": "A column: \"total\", or prefixed by a table alias, table or CTE name: \"o.total\"."
        },
        "value": {
            "type": scalar,
            "description": "A constant, sent as a bound parameter."
        },
        "function": {
            "type": "string",
            "enum": FUNCTIONS,
            "description": "A function of the allow-list (nothing else): aggregates count, sum, avg, min, max; text lower, upper, length, trim, substring, concat (nulls skipped); coalesce, nullif; numbers abs, round, floor, ceil; dates date_trunc, date_part, current_date; window functions row_number, rank, dense_rank, lag, lead (these need over)."
        },
        "args": {
            "type": "array",
            "maxItems": MAX_ARGS,
            "items": {"$ref": "#/$defs/Expression"},
            "description": "The function's arguments. count with none counts rows. date_trunc and date_part take the unit first, {\"value\": \"month\"}: year, quarter, month, week, day, hour, minute, second (date_part also dow, doy, epoch). round's digits, substring's start (from 1) and length, and lag/lead's offset are whole-number values."
        },
        "distinct": {
            "type": "boolean",
            "description": "With an aggregate: each distinct value once (count distinct customers)."
        },
        "filter": {
            "type": "array",
            "items": {"$ref": "#/$defs/Condition"},
            "description": "With an aggregate: only the rows meeting these conditions are aggregated."
        },
        "over": {
            "$ref": "#/$defs/Window",
            "description": "The window of a window function (required for row_number, rank, dense_rank, lag, lead), or of an aggregate computed per row."
        },
        "operation": {
            "type": "string",
            "enum": ["add", "subtract", "multiply", "divide", "modulo", "concat"],
            "description": "left OP right: arithmetic, or concat (text; null if either side is). Dividing two integers truncates on PostgreSQL and SQLite."
        },
        "left": {
            "$ref": "#/$defs/Expression",
            "description": "The left operand of operation."
        },
        "right": {
            "$ref": "#/$defs/Expression",
            "description": "The right operand of operation."
        },
        "case": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ARGS,
            "items": {"$ref": "#/$defs/CaseBranch"},
            "description": "CASE: the then of the first branch whose when holds; otherwise else (or null)."
        },
        "else": {
            "$ref": "#/$defs/Expression",
            "description": "The result of case when no branch holds."
        },
        "subquery": {
            "$ref": "#",
            "description": "A query returning one column and at most one row, used as a value; it may use the outer query's columns (prefixed)."
        }
    });
    match props {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// An object schema: the expression keys plus `extra`.
fn expression_object(description: &str, extra: Value) -> Value {
    let mut properties = expression_properties();
    if let Value::Object(extra) = extra {
        properties.extend(extra);
    }
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": false
    })
}

/// The JSON Schema (draft 2020-12) of the arguments, with a short description on every property
/// for the agent that fills them in.
pub fn input_schema() -> Value {
    let alias_pattern = "^[A-Za-z_][A-Za-z0-9_]{0,62}$";
    let expression_help =
        "Give exactly one of field, value, function, operation, case or subquery.";
    json!({
        "type": "object",
        "description": "A read: rows of tableName (with joins), which rows (where), grouped (groupBy, having), what to return (selectColumns), in what order and how many. Names are tables and columns as listed by the schema tools (case does not matter); values are always sent as bound parameters, never as SQL text. Subqueries (in expressions, in/exists conditions, joins, with, combine) are queries of this same shape.",
        "properties": {
            "tableName": {
                "type": "string",
                "description": "The table to read: \"schema.table\", or a bare \"table\" (looked up in the database's default schema first), or the name of a CTE from with."
            },
            "alias": {
                "type": "string",
                "pattern": alias_pattern,
                "description": "A short name for the table, usable as a column prefix (\"u.id\"). Letters, digits and _."
            },
            "distinct": {
                "type": "boolean",
                "description": "Return identical rows only once (SELECT DISTINCT)."
            },
            "selectColumns": {
                "type": "array",
                "maxItems": MAX_SELECT_ITEMS,
                "items": {"$ref": "#/$defs/SelectItem"},
                "description": "What to return, in order: columns and expressions. Absent or empty: every column of every table. An expression without alias is named after its function or operation (\"sum\", \"sum_2\")."
            },
            "joins": {
                "type": "array",
                "items": {"$ref": "#/$defs/Join"},
                "description": "Tables, CTEs or subqueries joined to the main table, in order; each join's on may use the tables before it and its own."
            },
            "where": {
                "type": "array",
                "items": {"$ref": "#/$defs/Condition"},
                "description": "Conditions the rows must meet, combined with AND; an item with \"or\": true is joined to the previous one with OR. AND binds tighter, as in SQL: [a, b, {c, or}] means (a AND b) OR c. Use a group for other bracketing. No aggregates here (use having)."
            },
            "groupBy": {
                "type": "array",
                "maxItems": MAX_GROUP_ITEMS,
                "items": {"$ref": "#/$defs/Expression"},
                "description": "Group rows by these expressions (a field may also name a select item's alias); selectColumns then holds them and aggregates."
            },
            "having": {
                "type": "array",
                "items": {"$ref": "#/$defs/Condition"},
                "description": "Conditions on groups, combined like where; they may use aggregates, like {\"left\": {\"function\": \"count\"}, \"op\": \">\", \"value\": 5}."
            },
            "orderBy": {
                "type": "array",
                "maxItems": MAX_ORDER_ITEMS,
                "items": {"$ref": "#/$defs/OrderItem"},
                "description": "The sort order, most significant first: expressions, or a select item's alias as {\"field\": alias}."
            },
            "limit": {
                "type": "integer",
                "minimum": 0,
                "description": "Return at most this many rows. The server's row cap applies too; the result says when rows were left out."
            },
            "offset": {
                "type": "integer",
                "minimum": 0,
                "description": "Skip this many rows first (with orderBy, for stable pages)."
            },
            "with": {
                "type": "array",
                "maxItems": MAX_CTES,
                "items": {"$ref": "#/$defs/Cte"},
                "description": "Named queries (common table expressions), read by name as tableName or a join's table in this query and its subqueries; each may read the ones before it. The names are not tables: a name here hides a table of the same name."
            },
            "combine": {
                "type": "array",
                "maxItems": MAX_COMBINE,
                "items": {"$ref": "#/$defs/Combine"},
                "description": "Queries whose rows are combined with this one's, left to right; each returns as many columns as this one. With combine, this query's orderBy, limit and offset apply to the combined result, and orderBy names its columns."
            }
        },
        "required": ["tableName"],
        "additionalProperties": false,
        "examples": [
            seed_example(),
            {
                "tableName": "public.orders",
                "alias": "o",
                "selectColumns": [{"field": "o.id"}, {"field": "o.total", "alias": "amount"}],
                "where": [
                    {"field": "status", "op": "in", "value": ["paid", "shipped"]},
                    {"group": [
                        {"field": "total", "op": ">=", "value": 100},
                        {"field": "note", "op": "contains", "value": "urgent", "or": true}
                    ]}
                ],
                "orderBy": [{"field": "created_at", "direction": "desc", "nulls": "last"}],
                "limit": 50
            },
            join_example(),
            cte_example()
        ],
        "$defs": {
            "Expression": expression_object(
                &format!("A value: a column ({{\"field\": \"total\"}}), a constant ({{\"value\": 10}}), a function call ({{\"function\": \"sum\", \"args\": [{{\"field\": \"total\"}}]}}), an operation, a case or a scalar subquery. {expression_help}"),
                json!({})
            ),
            "SelectItem": expression_object(
                &format!("A column or expression to return. {expression_help}"),
                json!({
                    "alias": {
                        "type": "string",
                        "pattern": alias_pattern,
                        "description": "The name of this column in the result (letters, digits and _); orderBy and groupBy may use it as a field."
                    }
                })
            ),
            "OrderItem": expression_object(
                &format!("What to sort by. {expression_help}"),
                json!({
                    "direction": {
                        "type": "string",
                        "enum": ["asc", "desc"],
                        "description": "asc (the default) or desc."
                    },
                    "nulls": {
                        "type": "string",
                        "enum": ["first", "last"],
                        "description": "Where nulls go; the database's default when absent."
                    }
                })
            ),
            "Condition": {
                "type": "object",
                "description": "A test on rows: {\"field\": \"status\", \"op\": \"=\", \"value\": \"paid\"}; column against column with otherField; against a subquery ({\"field\": \"id\", \"op\": \"in\", \"subquery\": {...}}); {\"exists\": Query}; or a bracketed {\"group\": [Condition, ...]}. Any may carry \"or\" and \"not\".",
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "The column tested (optionally prefixed by the table alias). Give field or left."
                    },
                    "left": {
                        "$ref": "#/$defs/Expression",
                        "description": "What is tested, as an expression (a function, an operation...), instead of field."
                    },
                    "op": {
                        "type": "string",
                        "enum": [
                            "=", "<>", ">", ">=", "<", "<=", "eq", "ne", "gt", "gte", "lt", "lte",
                            "like", "notLike", "ilike", "startsWith", "endsWith", "contains",
                            "in", "notIn", "between", "notBetween", "isNull", "isNotNull"
                        ],
                        "description": "The comparison. like/notLike/ilike take a pattern (% any text, _ one character; ilike ignores case); startsWith/endsWith/contains take plain text; in/notIn take a list or a subquery; between/notBetween take [low, high] (inclusive); isNull/isNotNull take no value. \"=\" with null means isNull."
                    },
                    "value": {
                        "type": ["string", "number", "boolean", "null", "array"],
                        "items": {
                            "type": ["string", "number", "boolean"],
                            "description": "One value of the list (not null)."
                        },
                        "maxItems": MAX_LIST_ITEMS,
                        "description": "What it is compared with: one value, or a list for in/notIn ([a, b, ...]) and between/notBetween ([low, high])."
                    },
                    "otherField": {
                        "type": "string",
                        "description": "Another column to compare with, instead of value (comparisons and like only): {\"field\": \"o.customer_id\", \"op\": \"=\", \"otherField\": \"c.id\"}."
                    },
                    "subquery": {
                        "$ref": "#",
                        "description": "A one-column query, instead of value: with in/notIn its rows, with a comparison its single value. It may use the outer query's columns."
                    },
                    "exists": {
                        "$ref": "#",
                        "description": "True when this query returns a row (with not: when it returns none); it may use the outer query's columns, like {\"field\": \"customer_id\", \"op\": \"=\", \"otherField\": \"c.id\"}. Takes no field or op."
                    },
                    "group": {
                        "type": "array",
                        "items": {"$ref": "#/$defs/Condition"},
                        "description": "Conditions bracketed together, combined like where. A group takes no field, op or value."
                    },
                    "or": {
                        "type": "boolean",
                        "description": "Join this condition to the previous one with OR instead of AND."
                    },
                    "not": {
                        "type": "boolean",
                        "description": "Negate this condition (or group, or exists)."
                    }
                },
                "additionalProperties": false
            },
            "Join": {
                "type": "object",
                "description": "A table, CTE or subquery joined to the query: {\"type\": \"left\", \"table\": \"customers\", \"alias\": \"c\", \"on\": [{\"field\": \"o.customer_id\", \"op\": \"=\", \"otherField\": \"c.id\"}]}.",
                "properties": {
                    "type": {
                        "type": "string",
                        "enum": ["inner", "left", "right", "full", "cross"],
                        "description": "inner (the default), left, right, full (not on MySQL/MariaDB) or cross (every pair, no on)."
                    },
                    "table": {
                        "type": "string",
                        "description": "The table (\"schema.table\" or \"table\") or a CTE name. Give table or subquery."
                    },
                    "subquery": {
                        "$ref": "#",
                        "description": "A query joined like a table; needs an alias. It cannot use the outer query's columns."
                    },
                    "alias": {
                        "type": "string",
                        "pattern": alias_pattern,
                        "description": "The prefix of the joined columns (\"c.name\"); required for a subquery or a table joined twice."
                    },
                    "on": {
                        "type": "array",
                        "items": {"$ref": "#/$defs/Condition"},
                        "description": "How rows match, combined like where; required except for cross."
                    }
                },
                "additionalProperties": false
            },
            "Window": {
                "type": "object",
                "description": "The rows a window function runs over: {\"partitionBy\": [{\"field\": \"customer_id\"}], \"orderBy\": [{\"field\": \"created_at\"}]}; {} is every row.",
                "properties": {
                    "partitionBy": {
                        "type": "array",
                        "maxItems": MAX_GROUP_ITEMS,
                        "items": {"$ref": "#/$defs/Expression"},
                        "description": "Restart the window for each value of these."
                    },
                    "orderBy": {
                        "type": "array",
                        "maxItems": MAX_ORDER_ITEMS,
                        "items": {"$ref": "#/$defs/OrderItem"},
                        "description": "The order of rows within the window (row_number, rank, lag and running totals follow it)."
                    }
                },
                "additionalProperties": false
            },
            "CaseBranch": {
                "type": "object",
                "description": "One branch of a case: {\"when\": [Condition, ...], \"then\": Expression}.",
                "properties": {
                    "when": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"$ref": "#/$defs/Condition"},
                        "description": "Conditions, combined like where; aggregates allowed where the case is in selectColumns or having."
                    },
                    "then": {
                        "$ref": "#/$defs/Expression",
                        "description": "The result when the conditions hold."
                    }
                },
                "required": ["when", "then"],
                "additionalProperties": false
            },
            "Cte": {
                "type": "object",
                "description": "A named query: {\"name\": \"recent\", \"query\": {\"tableName\": \"orders\", ...}}.",
                "properties": {
                    "name": {
                        "type": "string",
                        "pattern": alias_pattern,
                        "description": "The name the query reads it by, as tableName or a join's table (letters, digits and _)."
                    },
                    "query": {
                        "$ref": "#",
                        "description": "The query whose result the name stands for; its columns are its selectColumns' names (every column when absent)."
                    }
                },
                "required": ["name", "query"],
                "additionalProperties": false
            },
            "Combine": {
                "type": "object",
                "description": "A query combined with this one: {\"type\": \"union\", \"query\": {...}}.",
                "properties": {
                    "type": {
                        "type": "string",
                        "enum": ["union", "unionAll", "intersect", "except"],
                        "description": "union (rows of both, duplicates once), unionAll (all rows), intersect (rows in both), except (rows not in the query)."
                    },
                    "query": {
                        "$ref": "#",
                        "description": "The query whose rows are combined; it returns as many columns as the main query, in the same order."
                    }
                },
                "required": ["type", "query"],
                "additionalProperties": false
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dialect, Query};

    /// Every `properties` entry anywhere in `schema`, with its path.
    fn properties(schema: &Value, path: &str, out: &mut Vec<(String, Value)>) {
        match schema {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get("properties") {
                    for (name, prop) in props {
                        out.push((format!("{path}.{name}"), prop.clone()));
                    }
                }
                for (key, value) in map {
                    properties(value, &format!("{path}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    properties(item, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_property_has_a_description() {
        let schema = input_schema();
        assert_eq!(schema["type"], "object");
        let mut all = Vec::new();
        properties(&schema, "", &mut all);
        assert!(all.len() > 20);
        for (path, prop) in all {
            let description = prop["description"].as_str().unwrap_or_default();
            assert!(description.len() > 10, "{path} has no description");
        }
    }

    #[test]
    fn every_reference_points_at_a_definition() {
        let text = input_schema().to_string();
        let defs = input_schema()["$defs"].clone();
        for part in text.split("\"#/$defs/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(defs.get(name).is_some(), "missing $defs/{name}");
        }
    }

    #[test]
    fn the_examples_parse_and_plan_in_every_dialect() {
        use db_configs::{ColumnInfo, RelationKind, TableInfo};
        let table = |name: &str, columns: &[&str]| TableInfo {
            schema: "public".to_owned(),
            name: name.to_owned(),
            kind: RelationKind::Table,
            comment: None,
            row_estimate: None,
            columns: columns
                .iter()
                .map(|c| ColumnInfo {
                    name: (*c).to_owned(),
                    // No type: the examples plan whatever the columns hold.
                    data_type: String::new(),
                    nullable: true,
                    default: None,
                    comment: None,
                })
                .collect(),
            primary_key: vec!["id".to_owned()],
            foreign_keys: Vec::new(),
        };
        let catalog = crate::Catalog::new(
            vec![
                table("users", &["id", "name"]),
                table("customers", &["id", "name"]),
                table(
                    "orders",
                    &["id", "customer_id", "total", "status", "note", "created_at"],
                ),
            ],
            "public",
        );
        let schema = input_schema();
        let examples = schema["examples"].as_array().unwrap();
        assert_eq!(examples[0], seed_example());
        assert!(examples.contains(&join_example()) && examples.contains(&cte_example()));
        for example in examples {
            let query = Query::parse(example).unwrap();
            for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
                crate::plan(&query, &catalog, dialect, 100)
                    .unwrap_or_else(|e| panic!("{example}: {e}"));
            }
        }
    }

    #[test]
    fn every_function_and_contract_field_is_described() {
        let text = input_schema().to_string();
        for f in FUNCTIONS {
            assert!(text.contains(&format!("\"{f}\"")), "{f}");
        }
        for field in [
            "joins",
            "groupBy",
            "having",
            "with",
            "combine",
            "partitionBy",
            "otherField",
            "subquery",
            "exists",
            "filter",
            "over",
            "case",
            "else",
            "operation",
        ] {
            assert!(text.contains(&format!("\"{field}\":")), "{field}");
        }
    }
}
