//! Type, grouping and ordering checks: each refusal names where the problem is and how to
//! fix it, and values are bound with a type every database takes.

use serde_json::json;

use super::*;
use crate::QueryErrorKind;

/// The refusal's path and message (the same on every dialect).
fn refusal(arguments: serde_json::Value) -> (String, String) {
    let e = refused(&arguments);
    assert_eq!(e.kind(), QueryErrorKind::Invalid, "{e}");
    (e.path().to_owned(), e.message().to_owned())
}

fn users(conditions: serde_json::Value) -> serde_json::Value {
    json!({"tableName": "users", "selectColumns": [{"field": "id"}], "where": conditions})
}

#[test]
fn text_that_is_not_a_number_is_refused_against_a_number_column() {
    let (path, message) = refusal(users(json!([{"field": "id", "op": "<>", "value": "last"}])));
    assert_eq!(path, "where[0].value");
    assert!(message.contains("\"last\" is not a number"), "{message}");
    assert!(message.contains("{\"value\": 42}"), "{message}");
    let (path, _) = refusal(users(
        json!([{"field": "age", "op": "in", "value": [1, "x"]}]),
    ));
    assert_eq!(path, "where[0].value[1]");
    let (path, _) = refusal(users(
        json!([{"field": "age", "op": "between", "value": ["a", 3]}]),
    ));
    assert_eq!(path, "where[0].value[0]");
}

#[test]
fn numeric_strings_are_bound_as_numbers_and_numbers_as_text_beside_text() {
    let (sql, params) = pg(&users(json!([
        {"field": "id", "op": "=", "value": "42"},
        {"field": "name", "op": "=", "value": 53},
        {"field": "age", "op": ">", "value": 1.5}
    ])));
    assert_eq!(
        sql,
        r#"SELECT "id" FROM "public"."users" WHERE "id" = $1 AND "name" = $2 AND "age" > CAST($3 AS NUMERIC) LIMIT 101"#
    );
    assert_eq!(
        params,
        vec![SqlValue::Int(42), text("53"), SqlValue::Float(1.5)]
    );
}

#[test]
fn numbers_and_bad_dates_are_refused_against_timestamps() {
    let newer = users(json!([{"field": "created_at", "op": ">", "value": 2024}]));
    for dialect in [Dialect::Postgres, Dialect::MySql] {
        let e = try_plan(&newer, dialect).unwrap_err();
        assert_eq!(e.path(), "where[0].value");
        assert!(e.message().contains("is not a timestamp"), "{e}");
        assert!(e.message().contains("2024-01-31"), "{e}");
    }
    // SQLite has no date type: its DATETIME columns often hold Unix times, compared as numbers
    // (a year is still refused: against ISO text every number sorts first).
    let (sql, params) = render(
        &users(json!([
            {"field": "created_at", "op": ">=", "value": 1_700_000_000},
            {"field": "created_at", "op": "between", "value": [1_700_000_000.5, 2e12]},
            {"field": "created_at", "op": "in", "value": [1_700_000_001, 1_700_000_002]}
        ])),
        Dialect::Sqlite,
    );
    assert!(sql.contains(r#""created_at" >= ?"#), "{sql}");
    assert_eq!(
        params,
        [
            SqlValue::Int(1_700_000_000),
            SqlValue::Float(1_700_000_000.5),
            SqlValue::Int(2_000_000_000_000),
            SqlValue::Int(1_700_000_001),
            SqlValue::Int(1_700_000_002)
        ]
    );
    for not_a_time in [json!(true), json!(2024), json!(99_999_999)] {
        let e = try_plan(
            &users(json!([{"field": "created_at", "op": ">", "value": not_a_time}])),
            Dialect::Sqlite,
        )
        .unwrap_err();
        assert!(e.message().contains("is not a timestamp"), "{e}");
    }
    let (path, _) = refusal(users(
        json!([{"field": "created_at", "op": "<", "value": "2023-02-30"}]),
    ));
    assert_eq!(path, "where[0].value");
    pg(&users(
        json!([{"field": "created_at", "op": ">=", "value": "2024-01-31 12:00:00"}]),
    ));
}

#[test]
fn columns_and_subqueries_of_other_kinds_cannot_be_compared() {
    let (path, message) = refusal(users(
        json!([{"field": "name", "op": "=", "otherField": "age"}]),
    ));
    assert_eq!(path, "where[0].otherField");
    assert!(message.contains("cannot be compared"), "{message}");
    let (path, message) = refusal(users(json!([{"field": "name", "op": ">", "subquery":
        {"tableName": "orders", "selectColumns": [{"function": "count"}]}}])));
    assert_eq!(path, "where[0].subquery");
    assert!(message.contains("is a number"), "{message}");
    let (path, message) = refusal(users(
        json!([{"field": "created_at", "op": "in", "subquery":
        {"tableName": "orders", "selectColumns": [{"function": "count"}]}}]),
    ));
    assert_eq!(path, "where[0].subquery");
    assert!(message.contains("returns a number"), "{message}");
}

#[test]
fn arithmetic_takes_numbers_only() {
    let select = |e: serde_json::Value| json!({"tableName": "users", "selectColumns": [e]});
    let (path, message) = refusal(select(
        json!({"operation": "add", "left": {"field": "created_at"}, "right": {"value": 1}}),
    ));
    assert_eq!(path, "selectColumns[0].left.field");
    assert!(message.contains("date_part"), "{message}");
    let (path, _) = refusal(select(
        json!({"operation": "multiply", "left": {"field": "name"}, "right": {"field": "age"}}),
    ));
    assert_eq!(path, "selectColumns[0].left.field");
    let (path, message) = refusal(select(
        json!({"operation": "add", "left": {"field": "age"}, "right": {"value": "x"}}),
    ));
    assert_eq!(path, "selectColumns[0].right.value");
    assert!(message.contains("is not a number"), "{message}");
}

#[test]
fn functions_refuse_arguments_of_kinds_they_do_not_take() {
    let select = |e: serde_json::Value| json!({"tableName": "users", "selectColumns": [e]});
    let (path, message) = refusal(select(
        json!({"function": "sum", "args": [{"field": "created_at"}]}),
    ));
    assert_eq!(path, "selectColumns[0].args[0].field");
    assert!(message.contains("sum takes numbers"), "{message}");
    let (path, _) = refusal(select(
        json!({"function": "round", "args": [{"field": "name"}]}),
    ));
    assert_eq!(path, "selectColumns[0].args[0].field");
    let (path, _) = refusal(select(
        json!({"function": "abs", "args": [{"value": "abc"}]}),
    ));
    assert_eq!(path, "selectColumns[0].args[0].value");
    let (path, message) = refusal(select(
        json!({"function": "date_part", "args": [{"value": "month"}, {"field": "age"}]}),
    ));
    assert_eq!(path, "selectColumns[0].args[1].field");
    assert!(message.contains("takes a date or timestamp"), "{message}");
    let (path, _) = refusal(select(
        json!({"function": "date_trunc", "args": [{"value": "year"}, {"value": ";%n"}]}),
    ));
    assert_eq!(path, "selectColumns[0].args[1].value");
    // Text functions take anything: every dialect turns it into text.
    pg(&select(
        json!({"function": "lower", "args": [{"field": "age"}]}),
    ));
}

#[test]
fn case_branches_and_coalesce_arguments_must_be_of_one_kind() {
    let (path, message) = refusal(json!({"tableName": "users", "selectColumns": [{"case": [
        {"when": [{"field": "id", "op": ">", "value": 1}], "then": {"field": "name"}}
    ], "else": {"field": "age"}}]}));
    assert_eq!(path, "selectColumns[0].else.field");
    assert!(message.contains("must all be of one kind"), "{message}");
    let (path, _) = refusal(
        json!({"tableName": "users", "selectColumns": [{"function": "coalesce",
        "args": [{"field": "age"}, {"value": "none"}]}]}),
    );
    assert_eq!(path, "selectColumns[0].args[1].value");
}

#[test]
fn combined_queries_must_return_columns_of_the_same_kinds() {
    let (path, message) = refusal(
        json!({"tableName": "users", "selectColumns": [{"field": "name"}],
        "combine": [{"type": "union", "query": {"tableName": "users", "selectColumns": [{"field": "age"}]}}]}),
    );
    assert_eq!(path, "combine[0].query");
    assert!(message.contains("same kinds"), "{message}");
}

#[test]
fn selected_and_ordered_columns_of_a_grouping_query_must_be_grouped() {
    let (path, message) = refusal(json!({"tableName": "users",
        "selectColumns": [{"field": "name"}, {"field": "age"}], "groupBy": [{"field": "name"}]}));
    assert_eq!(path, "selectColumns[1].field");
    assert!(
        message.contains("neither in groupBy nor inside an aggregate"),
        "{message}"
    );
    let (path, _) = refusal(json!({"tableName": "users",
        "selectColumns": [{"field": "id"}, {"function": "count"}]}));
    assert_eq!(path, "selectColumns[0].field");
    let (path, _) = refusal(
        json!({"tableName": "users", "selectColumns": [{"field": "name"}],
        "groupBy": [{"field": "name"}], "orderBy": [{"field": "age"}]}),
    );
    assert_eq!(path, "orderBy[0].field");
    let (path, message) = refusal(json!({"tableName": "users", "groupBy": [{"field": "name"}]}));
    assert_eq!(path, "selectColumns");
    assert!(message.contains("list the grouped columns"), "{message}");
    // Grouped expressions, aliases and aggregates are fine.
    pg(&json!({"tableName": "users",
        "selectColumns": [{"function": "lower", "args": [{"field": "name"}], "alias": "n"},
            {"function": "max", "args": [{"field": "age"}]}],
        "groupBy": [{"field": "n"}],
        "orderBy": [{"function": "count"}]}));
    pg(&json!({"tableName": "users",
        "selectColumns": [{"function": "lower", "args": [{"field": "name"}]}, {"function": "count"}],
        "groupBy": [{"function": "lower", "args": [{"field": "name"}]}]}));
}

#[test]
fn an_aggregate_cannot_order_a_query_that_does_not_group() {
    let (path, message) = refusal(
        json!({"tableName": "users", "selectColumns": [{"field": "id"}],
        "orderBy": [{"function": "count"}]}),
    );
    assert_eq!(path, "orderBy[0]");
    assert!(
        message.contains("neither groups nor aggregates"),
        "{message}"
    );
}

#[test]
fn nulls_sort_as_the_largest_value_on_every_dialect_without_nulls() {
    let args = json!({"tableName": "users", "selectColumns": [{"field": "id"}],
        "orderBy": [{"field": "age"}, {"field": "name", "direction": "desc"}, {"field": "id"}]});
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id" FROM "public"."users" ORDER BY "age", "name" DESC, "id" LIMIT 101"#.to_owned(),
            "SELECT `id` FROM `public`.`users` ORDER BY `age` IS NULL ASC, `age`, `name` IS NULL DESC, `name` DESC, `id` LIMIT 101".to_owned(),
            r#"SELECT "id" FROM "public"."users" ORDER BY "age" NULLS LAST, "name" DESC NULLS FIRST, "id" LIMIT 101"#.to_owned(),
        ]
    );
}

/// MySQL's BOOLEAN is TINYINT(1): agents sum it, compare it with numbers and with true/false.
#[test]
fn a_mysql_tinyint_1_takes_booleans_numbers_and_aggregates() {
    let catalog = Catalog::new(
        vec![table(
            "shop",
            "flags",
            &[("id", "int(11)"), ("is_active", "tinyint(1)")],
        )],
        "shop",
    );
    let plan_mysql = |arguments: serde_json::Value| {
        let query = Query::parse(&arguments).unwrap();
        plan(&query, &catalog, Dialect::MySql, MAX_ROWS)
            .unwrap_or_else(|e| panic!("{arguments} was refused: {e}"))
            .statement
    };
    let summed = plan_mysql(json!({"tableName": "flags", "selectColumns": [
        {"function": "sum", "args": [{"field": "is_active"}], "alias": "active"}]}));
    assert!(summed.sql.contains("SUM(`is_active`)"), "{}", summed.sql);
    for value in [json!(2), json!(true), json!(0)] {
        let filtered = plan_mysql(
            json!({"tableName": "flags", "selectColumns": [{"field": "id"}],
            "where": [{"field": "is_active", "op": "=", "value": value}]}),
        );
        assert_eq!(filtered.params.len(), 1, "{}", filtered.sql);
    }
}
