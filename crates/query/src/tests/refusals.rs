//! Refusals: names outside the catalog, malformed definitions, bounds.

use serde_json::{Value, json};

use super::*;
use crate::{
    MAX_CONDITIONS, MAX_DEPTH, MAX_LIST_ITEMS, MAX_ORDER_ITEMS, MAX_SELECT_ITEMS, MAX_VALUES,
    QueryErrorKind,
};

fn read(table: &str) -> QueryError {
    refused(&json!({"tableName": table}))
}

#[test]
fn unknown_and_ungranted_tables_are_refused_in_the_same_words() {
    let missing = read("nope");
    let ungranted = read("secrets");
    assert_eq!(missing.kind(), QueryErrorKind::UnknownTable);
    assert_eq!(ungranted.kind(), QueryErrorKind::UnknownTable);
    assert_eq!(missing.path(), "tableName");
    assert_eq!(
        missing.to_string().replace("\"nope\"", "X"),
        ungranted.to_string().replace("\"secrets\"", "X")
    );
    assert!(missing.message().contains("public.users"));
    assert!(!missing.message().contains("secrets"));
    assert_eq!(read("public.secrets").kind(), QueryErrorKind::UnknownTable);
}

#[test]
fn catalog_tables_and_hostile_names_are_unknown_tables() {
    for name in [
        "information_schema.tables",
        "pg_catalog.pg_user",
        "pg_user",
        "mysql.user",
        "sqlite_master",
        "users; DROP TABLE users",
        "users--",
        "users/* x */",
        "\"users\"",
        "\"public\".\"users\"",
        "`users`",
        "[users]",
        "public.users.id",
        "public . users",
        "users ",
        "other_db.public.users",
        "sales.users",
    ] {
        let e = read(name);
        assert_eq!(e.kind(), QueryErrorKind::UnknownTable, "{name}: {e}");
    }
    assert!(read("\"users\"").message().contains("leave out quotes"));
}

#[test]
fn a_bare_name_in_several_other_schemas_must_be_qualified() {
    let e = read("dup");
    assert_eq!(e.kind(), QueryErrorKind::Invalid);
    assert!(e.message().contains("a.dup, b.dup"), "{e}");
    assert!(e.message().contains("schema.table"), "{e}");
}

#[test]
fn unknown_columns_are_named_with_the_table_columns() {
    let e = refused(&json!({"tableName": "public.orders", "where": [
        {"field": "id", "op": "=", "value": 1},
        {"field": "totl", "op": ">", "value": 1}
    ]}));
    assert_eq!(e.kind(), QueryErrorKind::UnknownColumn);
    assert_eq!(
        e.to_string(),
        r#"where[1].field: unknown column "totl" in public.orders; its columns are: id, customer_id, total, status, note, created_at"#
    );
    for field in [
        "id; DROP TABLE users",
        "\"id\"",
        "id--",
        "*",
        "users.*",
        "token",
    ] {
        let e = refused(&json!({"tableName": "users", "selectColumns": [{"field": field}]}));
        assert_eq!(e.kind(), QueryErrorKind::UnknownColumn, "{field}: {e}");
        assert_eq!(e.path(), "selectColumns[0].field");
    }
    let e = refused(&json!({"tableName": "users", "orderBy": [{"field": "users.nope"}]}));
    assert_eq!(
        e.to_string(),
        r#"orderBy[0].field: unknown column "nope" in public.users; its columns are: id, name, email, age, created_at"#
    );
    let e = refused(
        &json!({"tableName": "users", "where": [{"field": "id", "op": "=", "otherField": "nope"}]}),
    );
    assert_eq!(e.path(), "where[0].otherField");
}

#[test]
fn a_prefix_must_be_the_alias_or_the_table() {
    for (alias, field) in [
        (None, "o.id"),
        (None, "orders.id"),
        (Some("u"), "x.id"),
        (None, "sales.users.id"),
    ] {
        let mut args = json!({"tableName": "users", "selectColumns": [{"field": field}]});
        if let Some(a) = alias {
            args["alias"] = json!(a);
        }
        let e = refused(&args);
        assert_eq!(e.kind(), QueryErrorKind::UnknownColumn, "{field}: {e}");
        assert!(e.message().contains("is not a table of this query"), "{e}");
    }
    let e =
        refused(&json!({"tableName": "users", "alias": "u", "selectColumns": [{"field": "o.id"}]}));
    assert!(e.message().contains("u, users or public.users"), "{e}");
}

#[test]
fn a_list_operator_needs_a_list_and_a_single_value_is_not_one() {
    let cases = [
        (
            json!({"field": "id", "op": "in", "value": 1}),
            "where[0].value",
        ),
        (
            json!({"field": "id", "op": "notIn", "value": "1,2"}),
            "where[0].value",
        ),
        (
            json!({"field": "id", "op": "in", "value": []}),
            "where[0].value",
        ),
        (
            json!({"field": "id", "op": "in", "value": [1, [2]]}),
            "where[0].value[1]",
        ),
        (
            json!({"field": "id", "op": "in", "value": [1, null]}),
            "where[0].value[1]",
        ),
        (
            json!({"field": "id", "op": "in", "otherField": "age"}),
            "where[0].otherField",
        ),
        (
            json!({"field": "id", "op": "between", "value": [1, 2, 3]}),
            "where[0].value",
        ),
        (
            json!({"field": "id", "op": "between", "value": 1}),
            "where[0].value",
        ),
        (
            json!({"field": "id", "op": "between", "value": [1, null]}),
            "where[0].value[1]",
        ),
        (
            json!({"field": "id", "op": "=", "value": [1, 2]}),
            "where[0].value",
        ),
        (
            json!({"field": "id", "op": "=", "value": {"a": 1}}),
            "where[0].value",
        ),
        (
            json!({"field": "id", "op": ">", "value": null}),
            "where[0].value",
        ),
        (json!({"field": "id", "op": "="}), "where[0].value"),
        (
            json!({"field": "id", "op": "isNull", "value": 1}),
            "where[0].value",
        ),
        (
            json!({"field": "name", "op": "like", "value": 1}),
            "where[0].value",
        ),
        (
            json!({"field": "name", "op": "contains", "value": true}),
            "where[0].value",
        ),
        (
            json!({"field": "name", "op": "contains", "otherField": "email"}),
            "where[0].otherField",
        ),
        (
            json!({"field": "id", "op": "=", "value": 1, "otherField": "age"}),
            "where[0]",
        ),
        (json!({"field": "id", "op": "~", "value": 1}), "where[0].op"),
        (json!({"field": "id", "value": 1}), "where[0].op"),
        (json!({"op": "=", "value": 1}), "where[0]"),
        (
            json!({"field": "id", "left": {"field": "id"}, "op": "=", "value": 1}),
            "where[0]",
        ),
        (
            json!({"field": "", "op": "=", "value": 1}),
            "where[0].field",
        ),
        (json!({"field": 3, "op": "=", "value": 1}), "where[0].field"),
        (json!({"group": []}), "where[0].group"),
        (json!({"group": [], "field": "id"}), "where[0].field"),
        (json!("id = 1"), "where[0]"),
    ];
    for (condition, path) in cases {
        let e = refused(&json!({"tableName": "users", "where": [condition]}));
        assert_eq!(e.path(), path, "{condition}: {e}");
        assert_eq!(e.kind(), QueryErrorKind::Invalid, "{condition}: {e}");
    }
    let e =
        refused(&json!({"tableName": "users", "where": [{"field": "id", "op": "in", "value": 1}]}));
    assert!(e.message().contains("list"), "{e}");
}

#[test]
fn malformed_top_level_fields_are_refused_with_their_path() {
    let cases = [
        (json!([]), "arguments"),
        (json!("SELECT 1"), "arguments"),
        (json!({}), "tableName"),
        (json!({"tableName": 1}), "tableName"),
        (json!({"tableName": " "}), "tableName"),
        (json!({"tableName": "users", "alias": "u; DROP"}), "alias"),
        (json!({"tableName": "users", "alias": "1u"}), "alias"),
        (
            json!({"tableName": "users", "alias": "a".repeat(64)}),
            "alias",
        ),
        (json!({"tableName": "users", "alias": "\"u\""}), "alias"),
        (json!({"tableName": "users", "distinct": "yes"}), "distinct"),
        (
            json!({"tableName": "users", "selectColumns": "id"}),
            "selectColumns",
        ),
        (
            json!({"tableName": "users", "selectColumns": ["id"]}),
            "selectColumns[0]",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"field": "id", "alias": "a b"}]}),
            "selectColumns[0].alias",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"alias": "a"}]}),
            "selectColumns[0]",
        ),
        (
            json!({"tableName": "users", "where": {"field": "id"}}),
            "where",
        ),
        (
            json!({"tableName": "users", "where": [{"field": "id", "op": "isNull", "or": true}]}),
            "where[0].or",
        ),
        (
            json!({"tableName": "users", "where": [{"field": "id", "op": "isNull", "not": "yes"}]}),
            "where[0].not",
        ),
        (
            json!({"tableName": "users", "orderBy": [{"field": "id", "direction": "up"}]}),
            "orderBy[0].direction",
        ),
        (
            json!({"tableName": "users", "orderBy": [{"field": "id", "nulls": "middle"}]}),
            "orderBy[0].nulls",
        ),
        (
            json!({"tableName": "users", "orderBy": [{"value": 1}]}),
            "orderBy[0].value",
        ),
        (json!({"tableName": "users", "limit": -1}), "limit"),
        (json!({"tableName": "users", "limit": 1.5}), "limit"),
        (json!({"tableName": "users", "limit": "10"}), "limit"),
        (json!({"tableName": "users", "offset": -5}), "offset"),
    ];
    for (args, path) in cases {
        let e = refused(&args);
        assert_eq!(e.path(), path, "{args}: {e}");
        assert_eq!(e.kind(), QueryErrorKind::Invalid, "{args}: {e}");
    }
    let e = refused(&json!({"tableName": "users", "alias": "u; DROP"}));
    assert!(e.message().contains("plain name"), "{e}");
}

#[test]
fn distinct_orders_only_by_selected_columns() {
    let e = refused(&json!({"tableName": "users", "distinct": true,
        "selectColumns": [{"field": "name"}], "orderBy": [{"field": "age"}]}));
    assert_eq!(e.path(), "orderBy[0].field");
    assert!(e.message().contains("distinct"), "{e}");
    pg(&json!({"tableName": "users", "distinct": true,
        "selectColumns": [{"field": "name"}], "orderBy": [{"field": "NAME", "nulls": "first"}]}));
    pg(&json!({"tableName": "users", "distinct": true, "orderBy": [{"field": "age"}]}));
}

#[test]
fn unknown_fields_are_named_with_the_allowed_ones() {
    let e = refused(&json!({"tableName": "users", "colums": []}));
    assert_eq!(e.path(), "colums");
    assert_eq!(
        e.message(),
        r#"unknown field "colums"; the fields allowed here are: tableName, alias, distinct, selectColumns, joins, where, groupBy, having, orderBy, limit, offset, with, combine"#
    );
    let e = refused(&json!({"table_name": "users"}));
    assert!(e.message().contains("did you mean \"tableName\""), "{e}");
    let e = refused(&json!({"tableName": "users", "columns": [{"field": "id"}]}));
    assert!(
        e.message().contains("did you mean \"selectColumns\""),
        "{e}"
    );
    let e = refused(&json!({"tableName": "users", "where": [{"column": "id", "op": "isNull"}]}));
    assert_eq!(e.path(), "where[0].column");
    assert!(e.message().contains("did you mean \"field\""), "{e}");
    let e = refused(&json!({"tableName": "users", "orderBy": [{"field": "id", "dir": "asc"}]}));
    assert!(e.message().contains("field, direction, nulls"), "{e}");
    let e = refused(&json!({"tableName": "users", "x\"; DROP": 1}));
    assert_eq!(e.kind(), QueryErrorKind::Invalid);
}

#[test]
fn bounds_are_enforced_and_named() {
    let condition = json!({"field": "id", "op": "=", "value": 1});
    let e = refused(
        &json!({"tableName": "users", "where": vec![condition.clone(); MAX_CONDITIONS + 1]}),
    );
    assert_eq!(e.kind(), QueryErrorKind::TooLarge);
    assert!(e.message().contains("at most 100 conditions"), "{e}");
    pg(&json!({"tableName": "users", "where": vec![condition.clone(); MAX_CONDITIONS]}));

    let mut nested = json!({"group": [condition.clone()]});
    for _ in 0..MAX_DEPTH - 2 {
        nested = json!({"group": [nested]});
    }
    pg(&json!({"tableName": "users", "where": [nested.clone()]}));
    let e = refused(&json!({"tableName": "users", "where": [{"group": [nested]}]}));
    assert_eq!(e.kind(), QueryErrorKind::TooLarge);
    assert!(e.message().contains("at most 8 levels"), "{e}");

    let e = refused(
        &json!({"tableName": "users", "selectColumns": vec![json!({"field": "id"}); MAX_SELECT_ITEMS + 1]}),
    );
    assert_eq!(
        (e.kind(), e.path()),
        (QueryErrorKind::TooLarge, "selectColumns")
    );
    assert!(e.message().contains("100"), "{e}");

    let e = refused(
        &json!({"tableName": "users", "orderBy": vec![json!({"field": "id"}); MAX_ORDER_ITEMS + 1]}),
    );
    assert_eq!((e.kind(), e.path()), (QueryErrorKind::TooLarge, "orderBy"));

    let list: Vec<i64> = (0..=MAX_LIST_ITEMS as i64).collect();
    let e = refused(
        &json!({"tableName": "users", "where": [{"field": "id", "op": "in", "value": list}]}),
    );
    assert_eq!(
        (e.kind(), e.path()),
        (QueryErrorKind::TooLarge, "where[0].value")
    );
    assert!(e.message().contains("1000"), "{e}");

    let full: Vec<i64> = (0..MAX_LIST_ITEMS as i64).collect();
    let many =
        vec![json!({"field": "id", "op": "in", "value": full}); MAX_VALUES / MAX_LIST_ITEMS + 1];
    let e = refused(&json!({"tableName": "users", "where": many}));
    assert_eq!(e.kind(), QueryErrorKind::TooLarge);
    assert!(e.message().contains("10000 values"), "{e}");

    let e = refused(&json!({"tableName": "users", "offset": u64::MAX}));
    assert_eq!((e.kind(), e.path()), (QueryErrorKind::TooLarge, "offset"));
}

#[test]
fn an_empty_snapshot_table_cannot_select_every_column() {
    let catalog = Catalog::new(vec![table("public", "bare", &[])], "public");
    let query = Query::parse(&json!({"tableName": "bare"})).unwrap();
    let e = plan(&query, &catalog, Dialect::Postgres, 10).unwrap_err();
    assert!(e.message().contains("refresh"), "{e}");
}

/// The error of `args` (the same in every dialect), checked for kind and path.
fn refused_at(args: Value, kind: QueryErrorKind, path: &str) -> QueryError {
    let e = refused(&args);
    assert_eq!((e.kind(), e.path()), (kind, path), "{args}: {e}");
    e
}

#[test]
fn malformed_joins_say_how_to_fix_them() {
    use QueryErrorKind::{Invalid, UnknownColumn};
    let on = json!([{"field": "o.customer_id", "op": "=", "otherField": "users.id"}]);
    let cases = [
        (
            json!({"table": "orders", "alias": "o"}),
            Invalid,
            "joins[0].on",
            "required",
        ),
        (
            json!({"table": "orders", "alias": "o", "on": []}),
            Invalid,
            "joins[0].on",
            "required",
        ),
        (
            json!({"type": "cross", "table": "orders", "on": on}),
            Invalid,
            "joins[0].on",
            "cross join",
        ),
        (
            json!({"table": "orders", "subquery": {"tableName": "orders"}, "on": on}),
            Invalid,
            "joins[0]",
            "either table or subquery",
        ),
        (
            json!({"alias": "o", "on": on}),
            Invalid,
            "joins[0]",
            "needs table",
        ),
        (
            json!({"subquery": {"tableName": "orders"}, "on": on}),
            Invalid,
            "joins[0].alias",
            "required for a subquery",
        ),
        (
            json!({"type": "outer left", "table": "orders", "alias": "o", "on": on}),
            Invalid,
            "joins[0].type",
            "inner, left, right, full or cross",
        ),
        (
            json!({"table": "orders", "alias": "o", "where": on}),
            Invalid,
            "joins[0].where",
            "did you mean \"on\"",
        ),
        (
            json!({"table": "users", "on": on}),
            Invalid,
            "joins[0].alias",
            "own alias",
        ),
        (
            json!({"table": "orders", "alias": "o", "on": [{"field": "o.nope", "op": "isNull"}]}),
            UnknownColumn,
            "joins[0].on[0].field",
            "unknown column",
        ),
    ];
    for (join, kind, path, needle) in cases {
        let e = refused_at(json!({"tableName": "users", "joins": [join]}), kind, path);
        assert!(e.message().contains(needle), "{needle}: {e}");
    }
    // A join's on sees the tables before it and its own, not later ones.
    let e = refused_at(
        json!({"tableName": "users", "joins": [
            {"table": "orders", "alias": "o", "on": [{"field": "o.id", "op": "=", "otherField": "s.id"}]},
            {"table": "sales.orders", "alias": "s", "on": [{"field": "s.id", "op": "=", "otherField": "o.id"}]}
        ]}),
        UnknownColumn,
        "joins[0].on[0].otherField",
    );
    assert!(
        e.message().contains("\"s\" is not a table of this query"),
        "{e}"
    );
    // The same column name in two tables must be prefixed.
    let e = refused_at(
        json!({"tableName": "users", "selectColumns": [{"field": "id"}], "joins": [{"table": "orders", "alias": "o", "on": on}]}),
        Invalid,
        "selectColumns[0].field",
    );
    assert!(e.message().contains("\"users.id\""), "{e}");
    let e = refused_at(
        json!({"tableName": "users", "selectColumns": [{"field": "nope"}], "joins": [{"table": "orders", "alias": "o", "on": on}]}),
        UnknownColumn,
        "selectColumns[0].field",
    );
    assert!(e.message().contains("o (public.orders)"), "{e}");
    // FULL JOIN does not exist on MySQL and MariaDB.
    let args = json!({"tableName": "users", "joins": [{"type": "full", "table": "orders", "alias": "o", "on": on}]});
    let e = try_plan(&args, Dialect::MySql).unwrap_err();
    assert_eq!(
        (e.kind(), e.path()),
        (QueryErrorKind::Unsupported, "joins[0].type")
    );
    assert!(e.message().contains("no FULL JOIN"), "{e}");
}

#[test]
fn malformed_expressions_say_how_to_fix_them() {
    use QueryErrorKind::Invalid;
    let cases = [
        (
            json!({"field": "id", "value": 1}),
            "selectColumns[0]",
            "only one of",
        ),
        (
            json!({"alias": "x"}),
            "selectColumns[0]",
            "missing the expression",
        ),
        (
            json!({"field": "id", "args": []}),
            "selectColumns[0].args",
            "belongs to a function",
        ),
        (
            json!({"value": 1, "else": {"value": 2}}),
            "selectColumns[0].else",
            "belongs to a case",
        ),
        (
            json!({"operation": "power", "left": {"value": 1}, "right": {"value": 2}}),
            "selectColumns[0].operation",
            "add, subtract",
        ),
        (
            json!({"operation": "add", "left": {"value": 1}}),
            "selectColumns[0].right",
            "required",
        ),
        (
            json!({"operation": "add", "left": 1, "right": {"value": 2}}),
            "selectColumns[0].left",
            "expected an expression",
        ),
        (
            json!({"case": []}),
            "selectColumns[0].case",
            "list of branches",
        ),
        (
            json!({"case": [{"then": {"value": 1}}]}),
            "selectColumns[0].case[0].when",
            "required",
        ),
        (
            json!({"case": [{"when": [{"field": "id", "op": "isNull"}]}]}),
            "selectColumns[0].case[0].then",
            "required",
        ),
        (
            json!({"case": [{"when": [], "then": {"value": 1}}]}),
            "selectColumns[0].case[0].when",
            "non-empty",
        ),
        (
            json!({"case": [{"if": [], "then": {"value": 1}}]}),
            "selectColumns[0].case[0].if",
            "when, then",
        ),
        (
            json!({"function": 3}),
            "selectColumns[0].function",
            "count, sum",
        ),
        (
            json!({"function": "lower"}),
            "selectColumns[0].args",
            "lower takes one argument; got 0",
        ),
        (
            json!({"function": "nullif", "args": [{"value": 1}]}),
            "selectColumns[0].args",
            "nullif(value, other)",
        ),
        (
            json!({"function": "current_date", "args": [{"value": 1}]}),
            "selectColumns[0].args",
            "no arguments",
        ),
        (
            json!({"function": "lower", "args": ["name"]}),
            "selectColumns[0].args[0]",
            "each argument is an expression",
        ),
        (
            json!({"function": "lower", "args": [{"field": "name"}], "distinct": true}),
            "selectColumns[0].distinct",
            "aggregate functions",
        ),
        (
            json!({"function": "lower", "args": [{"field": "name"}], "filter": [{"field": "id", "op": "isNull"}]}),
            "selectColumns[0].filter",
            "aggregate functions",
        ),
        (
            json!({"function": "lower", "args": [{"field": "name"}], "over": {}}),
            "selectColumns[0].over",
            "window functions",
        ),
        (
            json!({"function": "row_number"}),
            "selectColumns[0].over",
            "window function",
        ),
        (
            json!({"function": "count", "distinct": true}),
            "selectColumns[0].distinct",
            "needs the value",
        ),
        (
            json!({"function": "count", "args": [{"field": "id"}], "distinct": true, "over": {}}),
            "selectColumns[0].over",
            "distinct cannot be combined",
        ),
        (
            json!({"function": "row_number", "over": {"partition": []}}),
            "selectColumns[0].over.partition",
            "did you mean \"partitionBy\"",
        ),
        (
            json!({"function": "round", "args": [{"field": "age"}, {"value": 1.5}]}),
            "selectColumns[0].args[1]",
            "whole number",
        ),
        (
            json!({"function": "round", "args": [{"field": "age"}, {"field": "id"}]}),
            "selectColumns[0].args[1]",
            "whole number",
        ),
        (
            json!({"function": "lag", "args": [{"field": "age"}, {"value": -1}], "over": {}}),
            "selectColumns[0].args[1]",
            "whole number from 0",
        ),
        (
            json!({"function": "substring", "args": [{"field": "name"}, {"value": "1"}]}),
            "selectColumns[0].args[1]",
            "whole numbers",
        ),
        (
            json!({"function": "date_trunc", "args": [{"value": "fortnight"}, {"field": "created_at"}]}),
            "selectColumns[0].args[0]",
            "year, quarter",
        ),
        (
            json!({"function": "date_trunc", "args": [{"value": "dow"}, {"field": "created_at"}]}),
            "selectColumns[0].args[0]",
            "the unit",
        ),
        (
            json!({"function": "date_part", "args": [{"field": "created_at"}, {"value": "year"}]}),
            "selectColumns[0].args[0]",
            "the unit",
        ),
    ];
    for (item, path, needle) in cases {
        let e = refused_at(
            json!({"tableName": "users", "selectColumns": [item]}),
            Invalid,
            path,
        );
        assert!(e.message().contains(needle), "{needle}: {e}");
    }
}

#[test]
fn aggregates_and_windows_are_refused_where_sql_does_not_allow_them() {
    use QueryErrorKind::Invalid;
    let count = json!({"function": "count"});
    let window = json!({"function": "row_number", "over": {}});
    let nested =
        json!({"function": "sum", "args": [{"function": "max", "args": [{"field": "age"}]}]});
    let cases = [
        (
            json!({"tableName": "users", "where": [{"left": count, "op": ">", "value": 1}]}),
            "where[0].left",
            "conditions on aggregates go in having",
        ),
        (
            json!({"tableName": "users", "groupBy": [count]}),
            "groupBy[0]",
            "cannot be used in groupBy",
        ),
        (
            json!({"tableName": "users", "joins": [{"table": "orders", "on": [{"left": count, "op": ">", "value": 1}]}]}),
            "joins[0].on[0].left",
            "a join's on",
        ),
        (
            json!({"tableName": "users", "selectColumns": [nested]}),
            "selectColumns[0].args[0]",
            "another aggregate",
        ),
        (
            json!({"tableName": "users", "where": [{"left": window, "op": ">", "value": 1}]}),
            "where[0].left",
            "window functions go in selectColumns and orderBy",
        ),
        (
            json!({"tableName": "users", "having": [{"left": window, "op": ">", "value": 1}]}),
            "having[0].left",
            "window",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"function": "sum", "args": [window]}]}),
            "selectColumns[0].args[0]",
            "window",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"function": "count", "filter": [{"left": count, "op": ">", "value": 1}]}]}),
            "selectColumns[0].filter[0].left",
            "aggregate",
        ),
        (
            json!({"tableName": "users", "groupBy": [{"value": 1}]}),
            "groupBy[0]",
            "constant",
        ),
    ];
    for (args, path, needle) in cases {
        let e = refused_at(args, Invalid, path);
        assert!(e.message().contains(needle), "{needle}: {e}");
    }
    // Aggregates inside a window's order in a grouped query, and in having, are fine.
    pg(
        &json!({"tableName": "orders", "selectColumns": [{"field": "status"},
        {"function": "rank", "over": {"orderBy": [{"function": "sum", "args": [{"field": "total"}], "direction": "desc"}]}}],
        "groupBy": [{"field": "status"}], "having": [{"left": {"function": "count"}, "op": ">", "value": 1}]}),
    );
}

#[test]
fn malformed_subqueries_ctes_and_combinations_say_how_to_fix_them() {
    use QueryErrorKind::{Invalid, UnknownColumn};
    let two =
        json!({"tableName": "orders", "selectColumns": [{"field": "id"}, {"field": "total"}]});
    let id = json!([{"field": "id"}]);
    let cases = [
        (
            json!({"tableName": "users", "where": [{"field": "id", "op": "in", "subquery": two}]}),
            Invalid,
            "where[0].subquery",
            "exactly one column",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"subquery": two}]}),
            Invalid,
            "selectColumns[0].subquery",
            "exactly one column",
        ),
        (
            json!({"tableName": "users", "where": [{"field": "id", "op": "like", "subquery": two}]}),
            Invalid,
            "where[0].subquery",
            "in, notIn",
        ),
        (
            json!({"tableName": "users", "where": [{"field": "id", "op": "in", "value": [1], "subquery": two}]}),
            Invalid,
            "where[0]",
            "only one of value, otherField and subquery",
        ),
        (
            json!({"tableName": "users", "where": [{"exists": two, "field": "id"}]}),
            Invalid,
            "where[0].field",
            "takes only exists",
        ),
        (
            json!({"tableName": "users", "where": [{"exists": "orders"}]}),
            Invalid,
            "where[0].exists",
            "expected a query",
        ),
        (
            json!({"tableName": "users", "with": [{"query": two}]}),
            Invalid,
            "with[0].name",
            "required",
        ),
        (
            json!({"tableName": "users", "with": [{"name": "a"}]}),
            Invalid,
            "with[0].query",
            "required",
        ),
        (
            json!({"tableName": "users", "with": [{"name": "a", "query": two}, {"name": "A", "query": two}]}),
            Invalid,
            "with[1].name",
            "already the name of with[0]",
        ),
        (
            json!({"tableName": "c", "with": [{"name": "c", "query": {"tableName": "users", "joins": [{"type": "cross", "table": "orders"}]}}]}),
            Invalid,
            "with[0].query.selectColumns",
            "two columns named \"id\"",
        ),
        (
            json!({"tableName": "users", "selectColumns": id, "combine": [{"type": "union", "query": two}]}),
            Invalid,
            "combine[0].query",
            "returns 2 columns but the main query returns 1",
        ),
        (
            json!({"tableName": "users", "selectColumns": id, "combine": [{"type": "merge", "query": two}]}),
            Invalid,
            "combine[0].type",
            "union, unionAll",
        ),
        (
            json!({"tableName": "users", "selectColumns": id, "combine": [{"query": two}]}),
            Invalid,
            "combine[0].type",
            "required",
        ),
        (
            json!({"tableName": "users", "selectColumns": id, "combine": [{"type": "union"}]}),
            Invalid,
            "combine[0].query",
            "required",
        ),
        (
            json!({"tableName": "users", "selectColumns": id, "orderBy": [{"field": "users.id"}], "combine": [{"type": "union", "query": {"tableName": "orders", "selectColumns": id}}]}),
            UnknownColumn,
            "orderBy[0].field",
            "sorts the combined result",
        ),
        (
            json!({"tableName": "users", "distinct": true, "selectColumns": id, "orderBy": [{"function": "lower", "args": [{"field": "name"}]}]}),
            Invalid,
            "orderBy[0]",
            "with distinct",
        ),
    ];
    for (args, kind, path, needle) in cases {
        let e = refused_at(args, kind, path);
        assert!(e.message().contains(needle), "{needle}: {e}");
    }
}

#[test]
fn nul_in_a_text_value_is_refused_wherever_a_value_goes() {
    for (condition, path) in [
        (
            json!({"field": "name", "op": "=", "value": "Ada\u{0}"}),
            "where[0].value",
        ),
        (
            json!({"field": "name", "op": "like", "value": "%\u{0}%"}),
            "where[0].value",
        ),
        (
            json!({"field": "name", "op": "contains", "value": "\u{0}"}),
            "where[0].value",
        ),
        (
            json!({"field": "name", "op": "in", "value": ["a", "b\u{0}"]}),
            "where[0].value[1]",
        ),
    ] {
        let e = refused(&json!({"tableName": "users", "where": [condition]}));
        assert_eq!(e.path(), path, "{e}");
        assert!(e.message().contains("NUL"), "{e}");
    }
    // Other control characters are ordinary text.
    let (_, params) = pg(
        &json!({"tableName": "users", "where": [{"field": "name", "op": "=", "value": "a\tb\n"}]}),
    );
    assert_eq!(params[0], text("a\tb\n"));
}

#[test]
fn an_outer_column_under_a_cte_of_the_same_name_needs_an_alias() {
    // `age` is not in the CTE `users`, so it would come from the outer `users` table, whose
    // bare name the CTE hides inside the subquery.
    let shadowed = json!({"tableName": "public.users",
        "with": [{"name": "users", "query": {"tableName": "public.users", "selectColumns": [{"field": "created_at"}]}}],
        "where": [{"exists": {"tableName": "users", "selectColumns": [{"field": "created_at"}],
                              "where": [{"field": "age", "op": ">", "value": 3}]}}]});
    let e = refused(&shadowed);
    assert_eq!(e.path(), "where[0].exists.where[0].field", "{e}");
    assert!(e.message().contains("alias"), "{e}");
    // With an alias on the outer table, the same question is fine.
    let mut aliased = shadowed.clone();
    aliased["alias"] = json!("outer_users");
    aliased["where"][0]["exists"]["where"][0]["field"] = json!("outer_users.age");
    pg(&aliased);
}

#[test]
fn an_installation_may_tighten_the_bounds_but_not_loosen_them() {
    use crate::Bounds;
    let tight = Bounds {
        query_depth: 1,
        joins: 1,
        subqueries: 0,
        conditions: 2,
    };
    let refused_within = |args: Value| {
        let e = Query::parse_within(&args, tight).expect_err("refused");
        assert_eq!(e.kind(), QueryErrorKind::TooLarge, "{e}");
        e
    };
    let e = refused_within(json!({"tableName": "users", "joins": [
        {"type": "inner", "table": "orders", "on": [{"field": "orders.user_id", "op": "=", "otherField": "users.id"}]},
        {"type": "cross", "table": "orders", "alias": "o2"}]}));
    assert!(e.message().contains("at most 1 joins"), "{e}");
    let e = refused_within(json!({"tableName": "users", "where": [
        {"field": "id", "op": "=", "value": 1}, {"field": "id", "op": "=", "value": 2},
        {"field": "id", "op": "=", "value": 3}]}));
    assert!(e.message().contains("at most 2 conditions"), "{e}");
    refused_within(json!({"tableName": "users", "where": [
        {"field": "id", "op": "in", "subquery": {"tableName": "orders", "selectColumns": [{"field": "user_id"}]}}]}));
    // The same queries are fine with the defaults.
    assert!(
        Query::parse(&json!({"tableName": "users", "where": [
        {"field": "id", "op": "=", "value": 1}, {"field": "id", "op": "=", "value": 2},
        {"field": "id", "op": "=", "value": 3}]}))
        .is_ok()
    );

    let loose = Bounds {
        query_depth: 1000,
        joins: 1000,
        subqueries: 1000,
        conditions: 1000,
    };
    assert_eq!(
        loose.clamped(),
        Bounds::default(),
        "never past the built-in maxima"
    );
}
