//! Definitions of the golden tests of selection, conditions, ordering and limits.

use serde_json::json;

use super::{Definition, d, where_query};

pub(super) fn definitions() -> Vec<Definition> {
    let mut all = vec![
        d(
            "the_seed_example_selects_two_columns_with_its_limit",
            json!({"tableName": "users", "selectColumns": [{"field": "id"}, {"field": "name"}], "limit": 10}),
        ),
        d(
            "alias_qualifies_every_column_and_prefixes_may_be_alias_or_table",
            json!({
                "tableName": "public.orders", "alias": "o", "distinct": true,
                "selectColumns": [
                    {"field": "o.id"}, {"field": "orders.total", "alias": "amount"},
                    {"field": "public.orders.status"}, {"field": "NOTE"}
                ]
            }),
        ),
        d(
            "a_selected_value_is_bound_and_typed_on_postgres",
            json!({"tableName": "users", "selectColumns": [{"field": "id"}, {"value": 1, "alias": "one"}]}),
        ),
        d(
            "like_operators_cast_non_text_columns_on_postgres_and_lower_for_ilike_elsewhere/1",
            where_query(
                "users",
                json!([{"field": "name", "op": "like", "value": "A%"}]),
            ),
        ),
        d(
            "like_operators_cast_non_text_columns_on_postgres_and_lower_for_ilike_elsewhere/2",
            where_query(
                "users",
                json!([{"field": "age", "op": "notLike", "value": "3%"}]),
            ),
        ),
        d(
            "like_operators_cast_non_text_columns_on_postgres_and_lower_for_ilike_elsewhere/3",
            where_query(
                "users",
                json!([{"field": "email", "op": "ilike", "value": "%@EXAMPLE.com"}]),
            ),
        ),
        d(
            "like_operators_cast_non_text_columns_on_postgres_and_lower_for_ilike_elsewhere/4",
            where_query(
                "users",
                json!([{"field": "age", "op": "ilike", "otherField": "name"}]),
            ),
        ),
        d(
            "lists_and_ranges_bind_every_value",
            where_query(
                "orders",
                json!([
                    {"field": "status", "op": "in", "value": ["paid", "shipped"]},
                    {"field": "id", "op": "notIn", "value": [1, 2, 3]},
                    {"field": "total", "op": "between", "value": [10, 99.5]},
                    {"field": "created_at", "op": "notBetween", "value": ["2024-01-01", "2024-02-01"]}
                ]),
            ),
        ),
        d(
            "null_tests_take_no_value_and_equals_null_means_is_null",
            where_query(
                "orders",
                json!([
                    {"field": "note", "op": "isNull"},
                    {"field": "status", "op": "isNotNull"},
                    {"field": "note", "op": "=", "value": null},
                    {"field": "status", "op": "ne", "value": null},
                    {"field": "note", "op": "is null", "value": null}
                ]),
            ),
        ),
        d(
            "a_column_compares_with_another_column",
            where_query(
                "orders",
                json!([{"field": "id", "op": "<", "otherField": "customer_id"}]),
            ),
        ),
        d(
            "a_left_expression_may_be_a_field_or_a_value",
            where_query(
                "users",
                json!([
                    {"left": {"field": "age"}, "op": ">", "value": 18},
                    {"left": {"value": 65}, "op": ">=", "otherField": "age"},
                    {"left": {"value": 1}, "op": "=", "value": 1},
                    {"left": {"value": "x"}, "op": "like", "value": "x%"}
                ]),
            ),
        ),
        d(
            "json_values_map_to_sql_values",
            where_query(
                "orders",
                json!([{"field": "note", "op": "in", "value": [1, -2, 1.5, 2.0, 18446744073709551615u64, true, "t"]}]),
            ),
        ),
        d(
            "nulls_order_is_native_on_postgres_and_sqlite_and_emulated_on_mysql",
            json!({"tableName": "orders", "selectColumns": [{"field": "id"}], "orderBy": [
                {"field": "note", "direction": "desc", "nulls": "last"},
                {"field": "total", "nulls": "first"},
                {"field": "id", "direction": "ASC"}
            ]}),
        ),
        d(
            "hostile_identifiers_from_the_catalog_are_quoted_with_quotes_doubled",
            json!({"tableName": "we\"ird", "selectColumns": [{"field": "a\"b"}, {"field": "x`y"}],
                "where": [{"field": "A\"B", "op": "=", "value": "v"}]}),
        ),
    ];
    for (n, args) in [
        json!({"tableName": "users"}),
        json!({"tableName": "users", "selectColumns": []}),
    ]
    .into_iter()
    .enumerate()
    {
        all.push(d(
            &format!(
                "no_select_list_means_every_column_listed_and_the_cap_plus_one/{}",
                n + 1
            ),
            args,
        ));
    }
    for op in [
        "=", "eq", "<>", "ne", ">", "gt", ">=", "gte", "<", "lt", "<=", "lte",
    ] {
        all.push(d(
            &format!("comparison_operators_render_in_symbol_and_name_form/{op}"),
            json!({"tableName": "users", "selectColumns": [{"field": "id"}],
                "where": [{"field": "age", "op": op, "value": 30}]}),
        ));
    }
    let cases = [
        ("startsWith", json!("50%_off!")),
        ("endsWith", json!("a_b")),
        ("contains", json!("100%")),
        ("contains", json!("plain")),
        ("startsWith", json!(4)),
    ];
    for (op, value) in cases {
        let field = if value.is_string() { "name" } else { "age" };
        let shown = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        all.push(d(
            &format!(
                "starts_ends_and_contains_escape_wildcards_and_the_escape_character/{op}:{shown}"
            ),
            where_query("users", json!([{"field": field, "op": op, "value": value}])),
        ));
    }
    let a = json!({"field": "id", "op": "=", "value": 1});
    let b = json!({"field": "age", "op": "=", "value": 2});
    let mut c = json!({"field": "name", "op": "=", "value": "c"});
    c["or"] = json!(true);
    let d_ = json!({"field": "email", "op": "isNull"});
    let mut b_or = b.clone();
    b_or["or"] = json!(true);
    let mut not_a = a.clone();
    not_a["not"] = json!(true);
    let precedence = [
        json!([a, b, c]),
        json!([a, b_or, d_]),
        json!([a, {"group": [b, c]}]),
        json!([{"group": [a, c], "not": true}, {"group": [b, d_], "or": true}]),
        json!([not_a, {"group": [{"group": [b, c]}, d_]}]),
    ];
    for (n, conditions) in precedence.into_iter().enumerate() {
        all.push(d(
            &format!(
                "and_binds_tighter_than_or_and_the_parentheses_are_written_out/{}",
                n + 1
            ),
            where_query("users", conditions),
        ));
    }
    let limits = [
        json!({"tableName": "users"}),
        json!({"tableName": "users", "limit": 5000}),
        json!({"tableName": "users", "limit": 101}),
        json!({"tableName": "users", "limit": 0}),
        json!({"tableName": "users", "limit": 20, "offset": 40}),
        json!({"tableName": "users", "limit": 7}),
    ];
    for (n, args) in limits.into_iter().enumerate() {
        all.push(d(
            &format!(
                "limit_is_capped_at_max_rows_plus_one_and_offset_is_kept/{}",
                n + 1
            ),
            args,
        ));
    }
    for name in [
        "users",
        "USERS",
        "Users",
        "public.users",
        "PUBLIC.Users",
        "orders",
        "sales.orders",
        "events",
        "a.dup",
    ] {
        all.push(d(
            &format!("table_names_resolve_case_insensitively_to_the_catalog_spelling/{name}"),
            json!({"tableName": name}),
        ));
    }
    all
}
