//! Refusals: names outside the catalog, malformed definitions, bounds, later features.

use serde_json::json;

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
        r#"unknown field "colums"; the fields allowed here are: tableName, alias, distinct, selectColumns, where, orderBy, limit, offset"#
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
    assert!(
        e.message().contains("field, value, direction, nulls"),
        "{e}"
    );
    let e = refused(&json!({"tableName": "users", "x\"; DROP": 1}));
    assert_eq!(e.kind(), QueryErrorKind::Invalid);
}

#[test]
fn later_features_are_refused_as_not_supported_yet() {
    let cases = [
        (
            json!({"tableName": "users", "joins": [{"type": "inner", "table": "orders"}]}),
            "joins",
        ),
        (
            json!({"tableName": "users", "groupBy": [{"field": "age"}]}),
            "groupBy",
        ),
        (json!({"tableName": "users", "having": []}), "having"),
        (
            json!({"tableName": "users", "with": [{"name": "x", "query": {}}]}),
            "with",
        ),
        (json!({"tableName": "users", "combine": []}), "combine"),
        (
            json!({"tableName": "users", "selectColumns": [{"function": "count", "args": []}]}),
            "selectColumns[0].function",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"args": [{"field": "id"}]}]}),
            "selectColumns[0].args",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"operation": "add", "left": {"field": "id"}, "right": {"value": 1}}]}),
            "selectColumns[0].operation",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"case": [], "else": {"value": 1}}]}),
            "selectColumns[0].case",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"subquery": {"tableName": "orders"}}]}),
            "selectColumns[0].subquery",
        ),
        (
            json!({"tableName": "users", "where": [{"field": "id", "op": "in", "subquery": {"tableName": "orders"}}]}),
            "where[0].subquery",
        ),
        (
            json!({"tableName": "users", "where": [{"exists": {"tableName": "orders"}}]}),
            "where[0].exists",
        ),
        (
            json!({"tableName": "users", "where": [{"left": {"function": "lower", "args": [{"field": "name"}]}, "op": "=", "value": "x"}]}),
            "where[0].left.function",
        ),
        (
            json!({"tableName": "users", "orderBy": [{"function": "length", "args": [{"field": "name"}]}]}),
            "orderBy[0].function",
        ),
    ];
    for (args, path) in cases {
        let e = refused(&args);
        assert_eq!(e.kind(), QueryErrorKind::Unsupported, "{args}: {e}");
        assert_eq!(e.path(), path, "{args}: {e}");
        assert!(e.message().contains("not supported yet"), "{e}");
    }
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
