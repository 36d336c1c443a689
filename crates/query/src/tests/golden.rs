//! Golden SQL: what each definition renders to, per dialect, with its parameters.

use serde_json::json;

use super::*;

#[test]
fn the_seed_example_selects_two_columns_with_its_limit() {
    let args = def("the_seed_example_selects_two_columns_with_its_limit");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id", "name" FROM "public"."users" LIMIT 10"#,
            r#"SELECT `id`, `name` FROM `public`.`users` LIMIT 10"#,
            r#"SELECT "id", "name" FROM "public"."users" LIMIT 10"#,
        ]
    );
    let p = try_plan(&args, Dialect::Postgres).unwrap();
    assert!(p.statement.params.is_empty());
    assert_eq!(p.tables, vec!["public.users"]);
}

#[test]
fn no_select_list_means_every_column_listed_and_the_cap_plus_one() {
    for name in [
        "no_select_list_means_every_column_listed_and_the_cap_plus_one/1",
        "no_select_list_means_every_column_listed_and_the_cap_plus_one/2",
    ] {
        let args = def(name);
        assert_eq!(
            pg(&args).0,
            r#"SELECT "id", "name", "email", "age", "created_at" FROM "public"."users" LIMIT 101"#
        );
    }
}

#[test]
fn alias_qualifies_every_column_and_prefixes_may_be_alias_or_table() {
    let args = def("alias_qualifies_every_column_and_prefixes_may_be_alias_or_table");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT DISTINCT "o"."id", "o"."total" AS "amount", "o"."status", "o"."note" FROM "public"."orders" AS "o" LIMIT 101"#,
            r#"SELECT DISTINCT `o`.`id`, `o`.`total` AS `amount`, `o`.`status`, `o`.`note` FROM `public`.`orders` AS `o` LIMIT 101"#,
            r#"SELECT DISTINCT "o"."id", "o"."total" AS "amount", "o"."status", "o"."note" FROM "public"."orders" AS "o" LIMIT 101"#,
        ]
    );
}

#[test]
fn a_selected_value_is_bound_and_typed_on_postgres() {
    let args = def("a_selected_value_is_bound_and_typed_on_postgres");
    let [p, m, _] = sql3(&args);
    assert_eq!(
        p,
        r#"SELECT "id", CAST($1 AS BIGINT) AS "one" FROM "public"."users" LIMIT 101"#
    );
    assert_eq!(
        m,
        r#"SELECT `id`, ? AS `one` FROM `public`.`users` LIMIT 101"#
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(1)]);
}

#[test]
fn comparison_operators_render_in_symbol_and_name_form() {
    let ops = [
        ("=", "eq", "="),
        ("<>", "ne", "<>"),
        (">", "gt", ">"),
        (">=", "gte", ">="),
        ("<", "lt", "<"),
        ("<=", "lte", "<="),
    ];
    for (symbol, name, sql) in ops {
        for op in [symbol, name] {
            let args = def(&format!(
                "comparison_operators_render_in_symbol_and_name_form/{op}"
            ));
            let [p, m, s] = sql3(&args);
            assert_eq!(
                p,
                format!(r#"SELECT "id" FROM "public"."users" WHERE "age" {sql} $1 LIMIT 101"#)
            );
            assert_eq!(
                m,
                format!("SELECT `id` FROM `public`.`users` WHERE `age` {sql} ? LIMIT 101")
            );
            assert_eq!(
                s,
                format!(r#"SELECT "id" FROM "public"."users" WHERE "age" {sql} ? LIMIT 101"#)
            );
            assert_eq!(pg(&args).1, vec![SqlValue::Int(30)]);
        }
    }
}

/// The WHERE clause alone, for PostgreSQL, MySQL and SQLite, with the PostgreSQL parameters.
fn where_of(args: &Value) -> ([String; 3], Vec<SqlValue>) {
    let sql = sql3(args).map(|s| {
        let start = s.find(" WHERE ").expect("a WHERE clause") + 7;
        let end = s.rfind(" LIMIT ").unwrap();
        s[start..end].to_owned()
    });
    (sql, pg(args).1)
}

#[test]
fn like_operators_cast_non_text_columns_on_postgres_and_lower_for_ilike_elsewhere() {
    let (sql, params) = where_of(&def(
        "like_operators_cast_non_text_columns_on_postgres_and_lower_for_ilike_elsewhere/1",
    ));
    assert_eq!(
        sql,
        [r#""name" LIKE $1"#, "`name` LIKE ?", r#""name" LIKE ?"#]
    );
    assert_eq!(params, vec![text("A%")]);

    let (sql, _) = where_of(&def(
        "like_operators_cast_non_text_columns_on_postgres_and_lower_for_ilike_elsewhere/2",
    ));
    assert_eq!(
        sql,
        [
            r#"CAST("age" AS TEXT) NOT LIKE $1"#,
            "`age` NOT LIKE ?",
            r#""age" NOT LIKE ?"#
        ]
    );

    let (sql, _) = where_of(&def(
        "like_operators_cast_non_text_columns_on_postgres_and_lower_for_ilike_elsewhere/3",
    ));
    assert_eq!(
        sql,
        [
            r#""email" ILIKE $1"#,
            "LOWER(`email`) LIKE LOWER(?)",
            r#"LOWER("email") LIKE LOWER(?)"#
        ]
    );

    let (sql, _) = where_of(&def(
        "like_operators_cast_non_text_columns_on_postgres_and_lower_for_ilike_elsewhere/4",
    ));
    assert_eq!(
        sql,
        [
            r#"CAST("age" AS TEXT) ILIKE "name""#,
            "LOWER(`age`) LIKE LOWER(`name`)",
            r#"LOWER("age") LIKE LOWER("name")"#
        ]
    );
}

#[test]
fn starts_ends_and_contains_escape_wildcards_and_the_escape_character() {
    let cases = [
        ("startsWith", "50%_off!", "50!%!_off!!%"),
        ("endsWith", "a_b", "%a!_b"),
        ("contains", "100%", "%100!%%"),
        ("contains", "plain", "%plain%"),
    ];
    for (op, value, pattern) in cases {
        let (sql, params) = where_of(&def(&format!(
            "starts_ends_and_contains_escape_wildcards_and_the_escape_character/{op}:{value}"
        )));
        assert_eq!(
            sql,
            [
                r#""name" LIKE $1 ESCAPE '!'"#,
                "`name` LIKE ? ESCAPE '!'",
                r#""name" LIKE ? ESCAPE '!'"#
            ]
        );
        assert_eq!(params, vec![text(pattern)], "{op} {value}");
    }
    let (sql, params) = where_of(&def(
        "starts_ends_and_contains_escape_wildcards_and_the_escape_character/startsWith:4",
    ));
    assert_eq!(sql[0], r#"CAST("age" AS TEXT) LIKE $1 ESCAPE '!'"#);
    assert_eq!(params, vec![text("4%")]);
}

#[test]
fn lists_and_ranges_bind_every_value() {
    let (sql, params) = where_of(&def("lists_and_ranges_bind_every_value"));
    assert_eq!(
        sql[0],
        r#""status" IN ($1, $2) AND "id" NOT IN ($3, $4, $5) AND "total" BETWEEN $6 AND CAST($7 AS NUMERIC) AND "created_at" NOT BETWEEN $8 AND $9"#
    );
    assert_eq!(
        sql[1],
        "`status` IN (?, ?) AND `id` NOT IN (?, ?, ?) AND `total` BETWEEN ? AND ? AND `created_at` NOT BETWEEN ? AND ?"
    );
    assert_eq!(
        params,
        vec![
            text("paid"),
            text("shipped"),
            SqlValue::Int(1),
            SqlValue::Int(2),
            SqlValue::Int(3),
            SqlValue::Int(10),
            SqlValue::Float(99.5),
            text("2024-01-01"),
            text("2024-02-01"),
        ]
    );
}

#[test]
fn null_tests_take_no_value_and_equals_null_means_is_null() {
    let (sql, params) = where_of(&def(
        "null_tests_take_no_value_and_equals_null_means_is_null",
    ));
    assert_eq!(
        sql[0],
        r#""note" IS NULL AND "status" IS NOT NULL AND "note" IS NULL AND "status" IS NOT NULL AND "note" IS NULL"#
    );
    assert!(params.is_empty());
}

#[test]
fn a_column_compares_with_another_column() {
    let (sql, params) = where_of(&def("a_column_compares_with_another_column"));
    assert_eq!(
        sql,
        [
            r#""id" < "customer_id""#,
            "`id` < `customer_id`",
            r#""id" < "customer_id""#
        ]
    );
    assert!(params.is_empty());
}

#[test]
fn a_left_expression_may_be_a_field_or_a_value() {
    let (sql, params) = where_of(&def("a_left_expression_may_be_a_field_or_a_value"));
    assert_eq!(
        sql[0],
        r#""age" > $1 AND $2 >= "age" AND CAST($3 AS BIGINT) = CAST($4 AS BIGINT) AND CAST($5 AS TEXT) LIKE $6"#
    );
    assert_eq!(sql[1], "`age` > ? AND ? >= `age` AND ? = ? AND ? LIKE ?");
    assert_eq!(
        params,
        vec![
            SqlValue::Int(18),
            SqlValue::Int(65),
            SqlValue::Int(1),
            SqlValue::Int(1),
            text("x"),
            text("x%"),
        ]
    );
}

#[test]
fn json_values_map_to_sql_values() {
    // Listed against a text column, numbers and booleans are bound as their text, so that
    // every dialect compares text with text.
    let (_, params) = where_of(&def("json_values_map_to_sql_values"));
    assert_eq!(
        params,
        vec![
            text("1"),
            text("-2"),
            text("1.5"),
            text("2"),
            text("18446744073709552000"),
            text("true"),
            text("t"),
        ]
    );
}

#[test]
fn and_binds_tighter_than_or_and_the_parentheses_are_written_out() {
    let name = "and_binds_tighter_than_or_and_the_parentheses_are_written_out";
    let (sql, _) = where_of(&def(&format!("{name}/1")));
    assert_eq!(sql[0], r#"("id" = $1 AND "age" = $2) OR "name" = $3"#);

    let (sql, _) = where_of(&def(&format!("{name}/2")));
    assert_eq!(sql[0], r#""id" = $1 OR ("age" = $2 AND "email" IS NULL)"#);

    let (sql, _) = where_of(&def(&format!("{name}/3")));
    assert_eq!(sql[0], r#""id" = $1 AND ("age" = $2 OR "name" = $3)"#);
    assert_eq!(sql[1], "`id` = ? AND (`age` = ? OR `name` = ?)");

    let (sql, _) = where_of(&def(&format!("{name}/4")));
    assert_eq!(
        sql[0],
        r#"NOT ("id" = $1 OR "name" = $2) OR ("age" = $3 AND "email" IS NULL)"#
    );

    let (sql, _) = where_of(&def(&format!("{name}/5")));
    assert_eq!(
        sql[0],
        r#"NOT ("id" = $1) AND (("age" = $2 OR "name" = $3) AND "email" IS NULL)"#
    );
}

#[test]
fn nulls_order_is_native_on_postgres_and_sqlite_and_emulated_on_mysql() {
    let args = def("nulls_order_is_native_on_postgres_and_sqlite_and_emulated_on_mysql");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id" FROM "public"."orders" ORDER BY "note" DESC NULLS LAST, "total" NULLS FIRST, "id" ASC LIMIT 101"#,
            "SELECT `id` FROM `public`.`orders` ORDER BY `note` IS NULL ASC, `note` DESC, `total` IS NULL DESC, `total`, `id` ASC LIMIT 101",
            r#"SELECT "id" FROM "public"."orders" ORDER BY "note" DESC NULLS LAST, "total" NULLS FIRST, "id" ASC LIMIT 101"#,
        ]
    );
}

#[test]
fn limit_is_capped_at_max_rows_plus_one_and_offset_is_kept() {
    let limit_of = |n: usize| {
        let name = "limit_is_capped_at_max_rows_plus_one_and_offset_is_kept";
        let sql = pg(&def(&format!("{name}/{n}"))).0;
        sql[sql.find(" LIMIT ").unwrap()..].to_owned()
    };
    assert_eq!(limit_of(1), " LIMIT 101");
    assert_eq!(limit_of(2), " LIMIT 101");
    assert_eq!(limit_of(3), " LIMIT 101");
    assert_eq!(limit_of(4), " LIMIT 0");
    assert_eq!(limit_of(5), " LIMIT 20 OFFSET 40");
    let query = Query::parse(&def(
        "limit_is_capped_at_max_rows_plus_one_and_offset_is_kept/6",
    ))
    .unwrap();
    let p = plan(&query, &catalog(), Dialect::Sqlite, usize::MAX).unwrap();
    assert!(p.statement.sql.ends_with(" LIMIT 7"));
}

#[test]
fn hostile_identifiers_from_the_catalog_are_quoted_with_quotes_doubled() {
    let args = def("hostile_identifiers_from_the_catalog_are_quoted_with_quotes_doubled");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "a""b", "x`y" FROM "public"."we""ird" WHERE "a""b" = $1 LIMIT 101"#,
            r#"SELECT `a"b`, `x``y` FROM `public`.`we"ird` WHERE `a"b` = ? LIMIT 101"#,
            r#"SELECT "a""b", "x`y" FROM "public"."we""ird" WHERE "a""b" = ? LIMIT 101"#,
        ]
    );
}

#[test]
fn table_names_resolve_case_insensitively_to_the_catalog_spelling() {
    let named = |name: &str| {
        def(&format!(
            "table_names_resolve_case_insensitively_to_the_catalog_spelling/{name}"
        ))
    };
    for name in ["users", "USERS", "Users", "public.users", "PUBLIC.Users"] {
        let p = try_plan(&named(name), Dialect::Postgres).unwrap();
        assert_eq!(p.tables, vec!["public.users"], "{name}");
        assert!(p.statement.sql.contains(r#"FROM "public"."users""#));
    }
    let tables_of = |name: &str| try_plan(&named(name), Dialect::Postgres).unwrap().tables;
    assert_eq!(tables_of("orders"), vec!["public.orders"]);
    assert_eq!(tables_of("sales.orders"), vec!["sales.orders"]);
    assert_eq!(tables_of("events"), vec!["archive.events"]);
    assert_eq!(tables_of("a.dup"), vec!["a.dup"]);
}

#[test]
fn names_differing_only_in_case_prefer_the_exact_spelling() {
    let catalog = Catalog::new(
        vec![
            table("public", "Mixed", &[("id", "integer"), ("ID", "integer")]),
            table("public", "mixed", &[("id", "integer")]),
        ],
        "public",
    );
    let run = |args: Value| {
        plan(
            &Query::parse(&args).unwrap(),
            &catalog,
            Dialect::Postgres,
            10,
        )
    };
    assert_eq!(
        run(json!({"tableName": "Mixed", "selectColumns": [{"field": "ID"}]}))
            .unwrap()
            .statement
            .sql,
        r#"SELECT "ID" FROM "public"."Mixed" LIMIT 11"#
    );
    assert_eq!(
        run(json!({"tableName": "mixed"})).unwrap().tables,
        vec!["public.mixed"]
    );
    let e = run(json!({"tableName": "MIXED"})).unwrap_err();
    assert!(e.to_string().contains("differ only in case"), "{e}");
    let e = run(json!({"tableName": "Mixed", "selectColumns": [{"field": "Id"}]})).unwrap_err();
    assert!(e.to_string().contains("differ only in case"), "{e}");
}
