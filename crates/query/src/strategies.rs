//! Proptest strategies of random `execute_query_safe` arguments over the names of the
//! corpus catalog ([`crate::corpus`]): any JSON, objects with the contract's keys, mostly
//! well-formed one-table queries, and query shapes with joins, subqueries, CTEs and combined
//! queries. Test support only (feature `testing`).

use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Strings that matter here: catalog names in several spellings, operators, keywords of the
/// contract, and hostile text.
pub fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "users",
            "USERS",
            "public.users",
            "orders",
            "sales.orders",
            "events",
            "dup",
            "secrets",
            "public.secrets",
            "we\"ird",
            "a\"b",
            "x`y",
            "id",
            "name",
            "age",
            "total",
            "status",
            "note",
            "o",
            "o.id",
            "u.name",
            "users.id",
            "public.users.age",
            "=",
            "eq",
            "<>",
            ">=",
            "lt",
            "like",
            "notLike",
            "ilike",
            "startsWith",
            "endsWith",
            "contains",
            "in",
            "notIn",
            "between",
            "notBetween",
            "isNull",
            "isNotNull",
            "asc",
            "desc",
            "first",
            "last",
            "information_schema.tables",
            "pg_catalog.pg_user",
            "pg_catalog.pg_class",
            "otherdb.public.users",
            "count",
            "sum",
            "date_trunc",
            "month",
            "pg_read_file",
            "union",
            "cross",
            "recent",
            "x'; DROP TABLE users; --",
            "/* c */",
            "%_!",
            "$1",
            "?",
            "",
        ])
        .prop_map(str::to_owned),
        "[a-z_\"'`;%$?!. -]{0,12}",
    ]
}

/// Object keys: the contract's, sometimes any letters.
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "tableName", "alias", "distinct", "selectColumns", "where", "orderBy", "limit",
            "offset", "field", "value", "op", "otherField", "left", "group", "or", "not",
            "direction", "nulls", "joins", "function", "subquery", "exists", "with", "combine",
            "groupBy", "having", "args", "over", "operation", "right", "case", "else", "when",
            "then", "name", "query", "type", "table", "on", "partitionBy", "filter",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z]{1,8}",
    ]
}

/// JSON scalars: null, booleans, numbers and [`word`]s.
pub fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (0u64..200).prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        word().prop_map(Value::String),
    ]
}

/// Any JSON a few levels deep, keys mostly the contract's.
pub fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Mostly one of `good`, sometimes any word.
pub fn mostly(good: &[&'static str]) -> impl Strategy<Value = String> + Clone + use<> {
    prop_oneof![
        19 => prop::sample::select(good.to_vec()).prop_map(str::to_owned),
        1 => word(),
    ]
}

/// Column names of `users`, in several spellings, and a few others.
pub fn column_name() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => mostly(&["id", "ID", "Id", "users.id", "public.users.id"]),
        1 => mostly(&["name", "age", "o.id", "u.age", "a\"b", "x`y", "total"]),
    ]
}

/// Mostly well-formed conditions, so that many arguments reach the renderer.
pub fn condition() -> impl Strategy<Value = Value> {
    let ops = mostly(&[
        "=",
        "eq",
        "<>",
        ">=",
        "lt",
        "like",
        "notLike",
        "ilike",
        "startsWith",
        "endsWith",
        "contains",
        "isNull",
        "isNotNull",
    ]);
    let simple = (column_name(), ops, leaf(), any::<bool>(), any::<bool>()).prop_map(
        |(field, op, value, or, not)| {
            let value = match (op.as_str(), value) {
                ("isNull" | "isNotNull", _) => Value::Null,
                ("like" | "notLike" | "ilike" | "startsWith" | "endsWith" | "contains", v) => {
                    json!(v.to_string())
                }
                (_, Value::Null) => json!("x"),
                (_, v) => v,
            };
            json!({"field": field, "op": op, "value": value, "or": or, "not": not})
        },
    );
    let other = (column_name(), column_name(), mostly(&["=", "<", "like"])).prop_map(
        |(field, other, op)| json!({"left": {"field": field}, "op": op, "otherField": other}),
    );
    let listed = (
        column_name(),
        prop::collection::vec(any::<i64>(), 1..4),
        mostly(&["in", "notIn", "between", "notBetween"]),
    )
        .prop_map(|(field, values, op)| {
            let values = if op.contains("etween") {
                values[..1].repeat(2)
            } else {
                values
            };
            json!({"field": field, "op": op, "value": values})
        });
    let leafs = prop_oneof![4 => simple, 1 => other, 2 => listed];
    leafs.prop_recursive(4, 24, 4, |inner| {
        (
            prop::collection::vec(inner, 1..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(mut group, or, not)| {
                group[0]["or"] = json!(false);
                json!({"group": group, "or": or, "not": not})
            })
    })
}

/// Mostly well-formed one-table arguments: select list, conditions, order, limit and offset.
pub fn arguments() -> impl Strategy<Value = Value> {
    (
        mostly(&["users", "USERS", "public.users", "we\"ird"]),
        prop::option::of(prop::sample::select(vec!["o", "u", "t1"])),
        prop::collection::vec(column_name(), 0..4),
        prop::collection::vec(condition(), 0..4),
        prop::collection::vec(
            (column_name(), mostly(&["asc", "desc"]), mostly(&["first", "last"])),
            0..3,
        ),
        prop::option::of(0u64..500),
        prop::option::of(0u64..500),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(table, alias, select, mut conditions, order, limit, offset, distinct)| {
            if let Some(first) = conditions.first_mut() {
                first["or"] = json!(false);
            }
            let mut args = json!({
                "tableName": table,
                "selectColumns": select.into_iter().map(|f| json!({"field": f})).collect::<Vec<_>>(),
                "where": conditions,
                "orderBy": order.into_iter()
                    .map(|(f, d, n)| json!({"field": f, "direction": d, "nulls": n}))
                    .collect::<Vec<_>>(),
                "distinct": distinct,
            });
            if let Some(a) = alias {
                args["alias"] = json!(a);
            }
            if let Some(l) = limit {
                args["limit"] = json!(l);
            }
            if let Some(o) = offset {
                args["offset"] = json!(o);
            }
            args
        })
}

/// Table names for the query shapes: granted ones in several spellings, CTE names, and names
/// outside the grant.
pub fn relation() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        40 => prop::sample::select(vec!["users", "USERS", "public.users"]).prop_map(str::to_owned),
        6 => prop::sample::select(vec!["orders", "sales.orders", "events", "we\"ird", "recent", "c1"])
            .prop_map(str::to_owned),
        2 => prop::sample::select(vec![
            "secrets", "public.secrets", "Secrets", "\"secrets\"", "information_schema.tables",
            "pg_catalog.pg_class", "otherdb.public.users", "sqlite_master",
        ])
        .prop_map(str::to_owned),
        1 => word(),
    ]
}

/// `q` returning one column (for in, comparisons, scalar subqueries and combined queries).
pub fn one_column(mut q: Value) -> Value {
    q["selectColumns"] = json!([{"function": "count"}]);
    if let Some(o) = q.as_object_mut() {
        o.remove("combine");
    }
    q
}

/// A column of `users` (most query shapes read it), sometimes anything.
pub fn shape_column() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        12 => prop::sample::select(vec!["id", "name", "age", "created_at"]).prop_map(str::to_owned),
        1 => column_name(),
    ]
}

/// A condition that is well-formed for `users` (most query shapes read it).
pub fn clean_condition() -> impl Strategy<Value = Value> + Clone {
    (
        prop::sample::select(vec!["id", "age", "name", "users.id"]),
        prop::sample::select(vec!["=", ">", "isNull", "contains", "in", "between"]),
        -5i64..500,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(field, op, n, not, or)| {
            let value = match op {
                "isNull" => Value::Null,
                "contains" => json!(n.to_string()),
                "in" => json!([n, n + 1]),
                "between" => json!([n, n + 10]),
                _ => json!(n),
            };
            json!({"field": field, "op": op, "value": value, "not": not, "or": or})
        })
}

/// An alias of the main table, or none.
pub fn alias() -> impl Strategy<Value = Option<String>> + Clone {
    prop::option::of(prop::sample::select(vec!["o", "u", "t1", "x"]).prop_map(str::to_owned))
}

/// Expressions: columns, values, allowed (and a few denied) functions, operations, case.
pub fn expression() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => shape_column().prop_map(|f| json!({"field": f})),
        2 => leaf().prop_map(|v| json!({"value": v})),
        1 => Just(json!({"function": "count"})),
        1 => Just(json!({"function": "current_date"})),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        let call = (
            mostly(&[
                "count", "sum", "avg", "min", "max", "lower", "upper", "length", "trim", "abs",
                "floor", "ceil", "round", "coalesce", "concat", "nullif",
            ]),
            inner.clone(),
            inner.clone(),
            any::<bool>(),
        )
            .prop_map(|(f, a, b, distinct)| {
                let args = match f.as_str() {
                    "coalesce" | "concat" | "nullif" => json!([a, b]),
                    _ => json!([a]),
                };
                json!({"function": f, "args": args, "distinct": distinct && f == "count"})
            });
        prop_oneof![
            call,
            (
                mostly(&["add", "subtract", "multiply", "divide", "modulo", "concat"]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, l, r)| json!({"operation": op, "left": l, "right": r})),
            (clean_condition(), inner.clone(), inner.clone()).prop_map(|(c, t, e)| {
                let mut c = c;
                c["or"] = json!(false);
                json!({"case": [{"when": [c], "then": t}], "else": e})
            }),
            (
                prop::sample::select(vec!["date_trunc", "date_part"]),
                prop::sample::select(vec!["month", "week", "quarter", "year"]),
                inner.clone()
            )
                .prop_map(|(f, unit, x)| json!({"function": f, "args": [{"value": unit}, x]})),
            (
                prop::sample::select(vec!["row_number", "rank", "lag", "lead"]),
                inner.clone(),
                inner
            )
                .prop_map(|(f, x, order)| {
                    let args = if f.starts_with('l') { json!([x]) } else { json!([]) };
                    json!({"function": f, "args": args, "over": {"partitionBy": [x], "orderBy": [order]}})
                }),
        ]
    })
}

/// A one-table query: the leaf of the query shapes.
pub fn simple_query() -> impl Strategy<Value = Value> {
    (
        relation(),
        alias(),
        prop::collection::vec(
            prop_oneof![
                3 => shape_column().prop_map(|f| json!({"field": f})),
                1 => expression(),
            ],
            0..3,
        ),
        prop::collection::vec(prop_oneof![19 => clean_condition(), 1 => condition()], 0..3),
        prop::option::of(0u64..500),
    )
        .prop_map(|(table, alias, select, mut conditions, limit)| {
            if let Some(first) = conditions.first_mut() {
                first["or"] = json!(false);
            }
            let mut q = json!({"tableName": table, "selectColumns": select, "where": conditions});
            if let Some(a) = alias {
                q["alias"] = json!(a);
            }
            if let Some(l) = limit {
                q["limit"] = json!(l);
            }
            q
        })
}

/// Queries with joins (tables and subqueries), subqueries in conditions and expressions,
/// CTEs, combined queries and grouping, nested a few levels.
pub fn query_shapes() -> impl Strategy<Value = Value> {
    simple_query().prop_recursive(3, 16, 3, |inner| {
        let join = prop_oneof![
            (
                mostly(&["inner", "left", "right", "full", "cross"]),
                relation(),
                prop::option::of(shape_column()),
            )
                .prop_map(|(kind, table, other)| {
                    // The alias and a condition on the joined table are set below.
                    let mut j = json!({"type": kind, "table": table});
                    if let Some(other) = other {
                        j["otherField"] = json!(other);
                    }
                    j
                }),
            inner
                .clone()
                .prop_map(|q| json!({"type": "left", "subquery": q})),
        ];
        let sub_condition = prop_oneof![
            (shape_column(), mostly(&["in", "notIn", "=", ">"]), inner.clone())
                .prop_map(|(f, op, q)| json!({"field": f, "op": op, "subquery": one_column(q)})),
            (inner.clone(), any::<bool>()).prop_map(|(q, not)| json!({"exists": q, "not": not})),
        ];
        let cte = (mostly(&["recent", "c1", "users", "secrets"]), inner.clone())
            .prop_map(|(name, q)| json!({"name": name, "query": q}));
        let combined = (
            mostly(&["union", "unionAll", "intersect", "except"]),
            inner.clone(),
        )
            .prop_map(|(kind, q)| json!({"type": kind, "query": one_column(q)}));
        (
            simple_query(),
            prop::collection::vec(join, 0..3),
            prop::collection::vec(sub_condition, 0..2),
            prop::collection::vec(cte, 0..2),
            prop::collection::vec(combined, 0..2),
            prop::option::of(inner),
            prop::collection::vec(shape_column(), 0..2),
            prop::collection::vec(
                (
                    expression(),
                    prop::sample::select(vec!["asc", "desc"]),
                    prop::sample::select(vec!["first", "last"]),
                ),
                0..2,
            ),
        )
            .prop_map(
                |(mut q, joins, conditions, ctes, combine, scalar, group, order)| {
                    let main = q["alias"]
                        .as_str()
                        .or(q["tableName"].as_str())
                        .unwrap_or_default()
                        .to_owned();
                    let joins: Vec<Value> = joins
                        .into_iter()
                        .enumerate()
                        .map(|(i, mut j)| {
                            let alias = format!("j{i}");
                            let other = j
                                .as_object_mut()
                                .and_then(|o| o.remove("otherField"))
                                .unwrap_or_else(|| json!(format!("{main}.id")));
                            if j["type"] != "cross" {
                                j["on"] = json!([{"field": format!("{alias}.id"), "op": "=", "otherField": other}]);
                            }
                            j["alias"] = json!(alias);
                            j
                        })
                        .collect();
                    if !joins.is_empty()
                        && let Some(items) = q["selectColumns"].as_array_mut()
                    {
                        for item in items {
                            if let Some(f) = item["field"].as_str().filter(|f| !f.contains('.')) {
                                item["field"] = json!(format!("{main}.{f}"));
                            }
                        }
                    }
                    q["joins"] = json!(joins);
                    if let Some(list) = q["where"].as_array_mut() {
                        list.extend(conditions);
                    }
                    if !ctes.is_empty() {
                        q["with"] = json!(ctes);
                    }
                    if !combine.is_empty() {
                        q["selectColumns"] = json!([{"field": format!("{main}.id")}]);
                        q["combine"] = json!(combine);
                    }
                    if let (Some(sub), Some(list)) = (scalar, q["selectColumns"].as_array_mut())
                    {
                        list.push(json!({"subquery": one_column(sub), "alias": "s"}));
                    }
                    let mut order: Vec<Value> = order
                        .into_iter()
                        .map(|(mut e, d, n)| {
                            e["direction"] = json!(d);
                            e["nulls"] = json!(n);
                            e
                        })
                        .collect();
                    if !group.is_empty() && combine.is_empty() {
                        // A grouped query selects and orders by what it groups by, and counts.
                        let fields: Vec<Value> =
                            group.into_iter().map(|f| json!({"field": f})).collect();
                        let mut select = fields.clone();
                        select.push(json!({"function": "count", "alias": "n"}));
                        q["selectColumns"] = json!(select);
                        q["groupBy"] = json!(fields);
                        q["having"] = json!([{"left": {"function": "count"}, "op": ">", "value": 0}]);
                        order = fields;
                    }
                    q["orderBy"] = json!(order);
                    q
                },
            )
    })
}
