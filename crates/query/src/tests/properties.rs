//! Properties: any JSON either plans or is refused (never a panic); a plan only reads catalog
//! tables (whatever joins, subqueries, CTEs and combined queries hold), binds every value,
//! caps its rows, and holds no caller text outside quoted identifiers.

use proptest::prelude::*;
use serde_json::{Map, json};

use super::*;

/// Strings that matter here: catalog names in several spellings, operators, keywords of the
/// contract, and hostile text.
fn word() -> impl Strategy<Value = String> {
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

fn key() -> impl Strategy<Value = String> {
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

fn leaf() -> impl Strategy<Value = Value> {
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

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Mostly one of `good`, sometimes any word.
fn mostly(good: &[&'static str]) -> impl Strategy<Value = String> + Clone + use<> {
    prop_oneof![
        19 => prop::sample::select(good.to_vec()).prop_map(str::to_owned),
        1 => word(),
    ]
}

fn column_name() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => mostly(&["id", "ID", "Id", "users.id", "public.users.id"]),
        1 => mostly(&["name", "age", "o.id", "u.age", "a\"b", "x`y", "total"]),
    ]
}

/// Mostly well-formed conditions, so that many arguments reach the renderer.
fn condition() -> impl Strategy<Value = Value> {
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

fn arguments() -> impl Strategy<Value = Value> {
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
fn relation() -> impl Strategy<Value = String> + Clone {
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
fn one_column(mut q: Value) -> Value {
    q["selectColumns"] = json!([{"function": "count"}]);
    if let Some(o) = q.as_object_mut() {
        o.remove("combine");
    }
    q
}

/// A column of `users` (most query shapes read it), sometimes anything.
fn shape_column() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        12 => prop::sample::select(vec!["id", "name", "age", "created_at"]).prop_map(str::to_owned),
        1 => column_name(),
    ]
}

/// A condition that is well-formed for `users` (most query shapes read it).
fn clean_condition() -> impl Strategy<Value = Value> + Clone {
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

fn alias() -> impl Strategy<Value = Option<String>> + Clone {
    prop::option::of(prop::sample::select(vec!["o", "u", "t1", "x"]).prop_map(str::to_owned))
}

/// Expressions: columns, values, allowed (and a few denied) functions, operations, case.
fn expression() -> impl Strategy<Value = Value> {
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
fn simple_query() -> impl Strategy<Value = Value> {
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
fn query_shapes() -> impl Strategy<Value = Value> {
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
                    if !group.is_empty() {
                        q["groupBy"] = json!(group
                            .into_iter()
                            .map(|f| json!({"field": f}))
                            .collect::<Vec<_>>());
                        q["having"] = json!([{"left": {"function": "count"}, "op": ">", "value": 0}]);
                    }
                    q["orderBy"] = json!(order
                        .into_iter()
                        .map(|(mut e, d, n)| {
                            e["direction"] = json!(d);
                            e["nulls"] = json!(n);
                            e
                        })
                        .collect::<Vec<_>>());
                    q
                },
            )
    })
}

/// Every word the renderer writes, besides quoted identifiers, numbers and placeholders.
const KEYWORDS: &[&str] = &[
    "SELECT",
    "DISTINCT",
    "FROM",
    "AS",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "ESCAPE",
    "IN",
    "BETWEEN",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "CAST",
    "TEXT",
    "BIGINT",
    "DOUBLE",
    "PRECISION",
    "BOOLEAN",
    "LOWER",
    "UPPER",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "?",
    "I",
    "WITH",
    "UNION",
    "ALL",
    "INTERSECT",
    "EXCEPT",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "JOIN",
    "ON",
    "GROUP",
    "HAVING",
    "EXISTS",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "FILTER",
    "OVER",
    "PARTITION",
    "ROW_NUMBER",
    "RANK",
    "DENSE_RANK",
    "LAG",
    "LEAD",
    "LENGTH",
    "CHAR_LENGTH",
    "TRIM",
    "SUBSTR",
    "CONCAT",
    "CONCAT_WS",
    "COALESCE",
    "NULLIF",
    "ABS",
    "ROUND",
    "FLOOR",
    "CEIL",
    "NUMERIC",
    "INTEGER",
    "TIMESTAMP",
    "DATETIME",
    "CURRENT_DATE",
    "DATE_TRUNC",
    "EXTRACT",
    "YEAR",
    "QUARTER",
    "MONTH",
    "WEEK",
    "DAY",
    "HOUR",
    "MINUTE",
    "SECOND",
    "DOW",
    "DOY",
    "EPOCH",
    "DATE_FORMAT",
    "MAKEDATE",
    "INTERVAL",
    "DATE_SUB",
    "DATE",
    "WEEKDAY",
    "DAYOFWEEK",
    "DAYOFYEAR",
    "UNIX_TIMESTAMP",
    "STRFTIME",
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "L",
];

/// The only string literals the renderer writes (caller text is always a parameter).
const LITERALS: &[&str] = &[
    "!",
    "",
    "year",
    "quarter",
    "month",
    "week",
    "day",
    "hour",
    "minute",
    "second",
    "%Y-01-01",
    "%Y-%m-01",
    "%Y-%m-%d %H:00:00",
    "%Y-%m-%d %H:%i:00",
    "%Y-%m-%d %H:%i:%s",
    "start of year",
    "start of month",
    "start of day",
    "-6 days",
    "weekday 1",
    "%m",
    "-",
    " months",
    "%Y-%m-%d %H:%M:00",
    "%Y-%m-%d %H:%M:%S",
    "%j",
    "-3 days",
    "weekday 4",
    "%Y",
    "%d",
    "%H",
    "%M",
    "%S",
    "%w",
    "%s",
];

/// The SQL with every quoted identifier replaced by `I` and every string literal by `L`
/// (checked against [`LITERALS`]), and the identifier chains (`"a"."b"."c"`); `None` if a
/// quote is left open.
fn without_identifiers(sql: &str, quote: char) -> Option<(String, Vec<Vec<String>>)> {
    let mut out = String::new();
    let mut chains: Vec<Vec<String>> = Vec::new();
    let mut chars = sql.chars().peekable();
    let mut after_dot = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            let mut literal = String::new();
            loop {
                match chars.next()? {
                    '\'' => break,
                    other => literal.push(other),
                }
            }
            if !LITERALS.contains(&literal.as_str()) {
                return None;
            }
            out.push('L');
            after_dot = false;
            continue;
        }
        if c != quote {
            after_dot = c == '.';
            out.push(c);
            continue;
        }
        let mut name = String::new();
        loop {
            match chars.next()? {
                q if q == quote && chars.peek() == Some(&quote) => {
                    chars.next();
                    name.push(q);
                }
                q if q == quote => break,
                other => name.push(other),
            }
        }
        match chains.last_mut() {
            Some(chain) if after_dot => chain.push(name),
            _ => chains.push(vec![name]),
        }
        after_dot = false;
        out.push('I');
    }
    Some((out, chains))
}

/// Checks what must hold of every plan.
fn check_plan(p: &Plan, dialect: Dialect) -> Result<(), TestCaseError> {
    let granted: Vec<String> = catalog()
        .tables()
        .iter()
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    let schemas: Vec<String> = all_tables().into_iter().map(|t| t.schema).collect();
    prop_assert!(!p.tables.is_empty());
    for t in &p.tables {
        prop_assert!(granted.contains(t), "{} is not in the catalog", t);
    }
    let quote = if dialect == Dialect::MySql { '`' } else { '"' };
    let stripped = without_identifiers(&p.statement.sql, quote);
    prop_assert!(
        stripped.is_some(),
        "unbalanced quotes or a stray literal in {}",
        p.statement.sql
    );
    let (bare, chains) = stripped.unwrap_or_default();
    // Every relation the SQL names (a chain starting with a schema) is a listed table.
    let mut named = Vec::new();
    for chain in &chains {
        if schemas.contains(&chain[0]) && chain.len() >= 2 {
            let table = format!("{}.{}", chain[0], chain[1]);
            prop_assert!(
                p.tables.contains(&table),
                "{} is in the SQL but not in the plan's tables: {}",
                table,
                p.statement.sql
            );
            named.push(table);
        } else {
            prop_assert!(chain.len() <= 2, "{:?} in {}", chain, p.statement.sql);
        }
    }
    for t in &p.tables {
        prop_assert!(named.contains(t), "{} is listed but not read", t);
    }
    let mut placeholders = 0;
    for token in bare
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | '.'))
        .filter(|t| !t.is_empty())
    {
        if let Some(n) = token.strip_prefix('$') {
            prop_assert_eq!(dialect, Dialect::Postgres);
            placeholders += 1;
            prop_assert_eq!(
                n.parse::<usize>().ok(),
                Some(placeholders),
                "{}",
                p.statement.sql
            );
        } else if token == "?" {
            placeholders += 1;
        } else if !token
            .trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit())
        {
            prop_assert!(
                KEYWORDS.contains(&token),
                "unexpected {:?} in {}",
                token,
                p.statement.sql
            );
        }
    }
    prop_assert_eq!(
        placeholders,
        p.statement.params.len(),
        "{}",
        p.statement.sql
    );
    // The outermost statement ends with its LIMIT, at most the cap.
    let tail = p.statement.sql.rsplit(" LIMIT ").next().unwrap_or_default();
    let limit = tail.split(' ').next().and_then(|n| n.parse::<u64>().ok());
    prop_assert!(
        limit.is_some_and(|l| l <= MAX_ROWS as u64 + 1),
        "no capped LIMIT at the end of {}",
        p.statement.sql
    );
    Ok(())
}

fn check(args: &Value) -> Result<(), TestCaseError> {
    let Ok(query) = Query::parse(args) else {
        return Ok(());
    };
    for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
        if let Ok(p) = plan(&query, &catalog(), dialect, MAX_ROWS) {
            check_plan(&p, dialect)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_plans_or_is_refused(args in any_json()) {
        check(&args)?;
    }

    #[test]
    fn any_object_with_contract_keys_plans_or_is_refused(
        pairs in prop::collection::vec((key(), any_json()), 0..8),
        table in word(),
    ) {
        let mut args: Map<String, Value> = pairs.into_iter().collect();
        args.insert("tableName".to_owned(), Value::String(table));
        check(&Value::Object(args))?;
    }

    #[test]
    fn well_formed_arguments_plan_or_are_refused(args in arguments()) {
        check(&args)?;
    }

    #[test]
    fn query_shapes_plan_only_catalog_tables_or_are_refused(args in query_shapes()) {
        check(&args)?;
    }
}

/// How many of 300 generated arguments plan on PostgreSQL.
fn planned_of_300(strategy: impl Strategy<Value = Value>) -> usize {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    (0..300)
        .filter(|_| {
            let args = strategy.new_tree(&mut runner).unwrap().current();
            Query::parse(&args)
                .and_then(|q| plan(&q, &catalog(), Dialect::Postgres, MAX_ROWS))
                .is_ok()
        })
        .count()
}

#[test]
fn the_generated_arguments_often_plan() {
    let planned = planned_of_300(arguments());
    assert!(planned >= 30, "only {planned} of 300 planned");
    let planned = planned_of_300(query_shapes());
    assert!(planned >= 30, "only {planned} of 300 query shapes planned");
}
