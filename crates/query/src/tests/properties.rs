//! Properties: any JSON either plans or is refused (never a panic); a plan only reads catalog
//! tables, binds every value, and holds no caller text outside quoted catalog identifiers.

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
            "direction", "nulls", "joins", "function", "subquery", "exists",
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

/// The SQL with every quoted identifier replaced by `I`; `None` if a quote is left open.
fn without_identifiers(sql: &str, quote: char) -> Option<String> {
    let mut out = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != quote {
            out.push(c);
            continue;
        }
        loop {
            match chars.next()? {
                q if q == quote && chars.peek() == Some(&quote) => {
                    chars.next();
                }
                q if q == quote => break,
                _ => {}
            }
        }
        out.push('I');
    }
    Some(out)
}

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
    "'!'",
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
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "?",
    "I",
];

/// Checks what must hold of every plan.
fn check_plan(p: &Plan, dialect: Dialect) -> Result<(), TestCaseError> {
    let granted: Vec<String> = catalog()
        .tables()
        .iter()
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    prop_assert_eq!(p.tables.len(), 1);
    for t in &p.tables {
        prop_assert!(granted.contains(t), "{} is not in the catalog", t);
    }
    let quote = if dialect == Dialect::MySql { '`' } else { '"' };
    let bare = without_identifiers(&p.statement.sql, quote);
    prop_assert!(bare.is_some(), "unbalanced quotes in {}", p.statement.sql);
    let bare = bare.unwrap_or_default();
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
        } else if !token.chars().all(|c| c.is_ascii_digit()) {
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
    prop_assert!(p.statement.sql.contains(" LIMIT "));
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
}

#[test]
fn the_generated_arguments_often_plan() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = arguments();
    let planned = (0..300)
        .filter(|_| {
            let args = strategy.new_tree(&mut runner).unwrap().current();
            Query::parse(&args)
                .and_then(|q| plan(&q, &catalog(), Dialect::Postgres, MAX_ROWS))
                .is_ok()
        })
        .count();
    assert!(planned >= 30, "only {planned} of 300 planned");
}
