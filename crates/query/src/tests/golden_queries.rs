//! Golden SQL of whole-query constructs: joins, subqueries in conditions and expressions,
//! CTEs and combined queries. Every statement here was run on PostgreSQL 15, MariaDB 10.11 and
//! SQLite 3.40 with the same results.

use super::*;
use crate::QueryErrorKind;

#[test]
fn an_inner_join_qualifies_every_column_with_its_alias() {
    let args = def("an_inner_join_qualifies_every_column_with_its_alias");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "o"."id", "u"."name", "o"."total" FROM "public"."orders" AS "o" INNER JOIN "public"."users" AS "u" ON "o"."customer_id" = "u"."id" WHERE "u"."age" >= $1 LIMIT 101"#,
            r#"SELECT `o`.`id`, `u`.`name`, `o`.`total` FROM `public`.`orders` AS `o` INNER JOIN `public`.`users` AS `u` ON `o`.`customer_id` = `u`.`id` WHERE `u`.`age` >= ? LIMIT 101"#,
            r#"SELECT "o"."id", "u"."name", "o"."total" FROM "public"."orders" AS "o" INNER JOIN "public"."users" AS "u" ON "o"."customer_id" = "u"."id" WHERE "u"."age" >= ? LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(18)]);
}

#[test]
fn join_types_render_as_written() {
    let args = def("join_types_render_as_written");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "u"."id", "o"."id", "s"."amount" FROM "public"."users" AS "u" LEFT JOIN "public"."orders" AS "o" ON "o"."customer_id" = "u"."id" AND "o"."status" = $1 RIGHT JOIN "sales"."orders" AS "s" ON "s"."id" = "o"."id" LIMIT 101"#,
            r#"SELECT `u`.`id`, `o`.`id`, `s`.`amount` FROM `public`.`users` AS `u` LEFT JOIN `public`.`orders` AS `o` ON `o`.`customer_id` = `u`.`id` AND `o`.`status` = ? RIGHT JOIN `sales`.`orders` AS `s` ON `s`.`id` = `o`.`id` LIMIT 101"#,
            r#"SELECT "u"."id", "o"."id", "s"."amount" FROM "public"."users" AS "u" LEFT JOIN "public"."orders" AS "o" ON "o"."customer_id" = "u"."id" AND "o"."status" = ? RIGHT JOIN "sales"."orders" AS "s" ON "s"."id" = "o"."id" LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text("paid")]);
}

#[test]
fn a_full_join_renders_on_postgres_and_sqlite() {
    let args = def("a_full_join_renders_on_postgres_and_sqlite");
    assert_eq!(
        render(&args, Dialect::Postgres).0,
        r#"SELECT "o"."id", "s"."amount" FROM "public"."orders" AS "o" FULL JOIN "sales"."orders" AS "s" ON "s"."id" = "o"."id" LIMIT 101"#
    );
    let e = try_plan(&args, Dialect::MySql).unwrap_err();
    assert_eq!(e.kind(), QueryErrorKind::Unsupported, "{e}");
    assert_eq!(
        render(&args, Dialect::Sqlite).0,
        r#"SELECT "o"."id", "s"."amount" FROM "public"."orders" AS "o" FULL JOIN "sales"."orders" AS "s" ON "s"."id" = "o"."id" LIMIT 101"#
    );
}

#[test]
fn a_cross_join_takes_no_on() {
    let args = def("a_cross_join_takes_no_on");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "public"."users"."name", "sales"."orders"."amount" FROM "public"."users" CROSS JOIN "sales"."orders" LIMIT 101"#,
            r#"SELECT `public`.`users`.`name`, `sales`.`orders`.`amount` FROM `public`.`users` CROSS JOIN `sales`.`orders` LIMIT 101"#,
            r#"SELECT "public"."users"."name", "sales"."orders"."amount" FROM "public"."users" CROSS JOIN "sales"."orders" LIMIT 101"#,
        ]
    );
}

#[test]
fn without_a_select_list_a_join_returns_every_column_of_every_table() {
    let args = def("without_a_select_list_a_join_returns_every_column_of_every_table");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "sales"."orders"."id", "sales"."orders"."amount", "a"."dup"."id" FROM "sales"."orders" INNER JOIN "a"."dup" ON "a"."dup"."id" = "sales"."orders"."id" LIMIT 101"#,
            r#"SELECT `sales`.`orders`.`id`, `sales`.`orders`.`amount`, `a`.`dup`.`id` FROM `sales`.`orders` INNER JOIN `a`.`dup` ON `a`.`dup`.`id` = `sales`.`orders`.`id` LIMIT 101"#,
            r#"SELECT "sales"."orders"."id", "sales"."orders"."amount", "a"."dup"."id" FROM "sales"."orders" INNER JOIN "a"."dup" ON "a"."dup"."id" = "sales"."orders"."id" LIMIT 101"#,
        ]
    );
}

#[test]
fn a_subquery_join_reads_its_result_columns() {
    let args = def("a_subquery_join_reads_its_result_columns");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "u"."name", COALESCE("t"."spent", $1) AS "spent" FROM "public"."users" AS "u" LEFT JOIN (SELECT "customer_id", SUM("total") AS "spent" FROM "public"."orders" GROUP BY "customer_id") AS "t" ON "t"."customer_id" = "u"."id" ORDER BY 2 DESC LIMIT 101"#,
            r#"SELECT `u`.`name`, COALESCE(`t`.`spent`, ?) AS `spent` FROM `public`.`users` AS `u` LEFT JOIN (SELECT `customer_id`, SUM(`total`) AS `spent` FROM `public`.`orders` GROUP BY `customer_id`) AS `t` ON `t`.`customer_id` = `u`.`id` ORDER BY COALESCE(`t`.`spent`, ?) IS NULL DESC, 2 DESC LIMIT 101"#,
            r#"SELECT "u"."name", COALESCE("t"."spent", ?) AS "spent" FROM "public"."users" AS "u" LEFT JOIN (SELECT "customer_id", SUM("total") AS "spent" FROM "public"."orders" GROUP BY "customer_id") AS "t" ON "t"."customer_id" = "u"."id" ORDER BY 2 DESC NULLS FIRST LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(0)]);
}

#[test]
fn a_table_joined_twice_needs_aliases() {
    let args = def("a_table_joined_twice_needs_aliases");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "o1"."id", "o2"."id" FROM "public"."orders" AS "o1" INNER JOIN "public"."orders" AS "o2" ON "o1"."customer_id" = "o2"."customer_id" AND "o1"."id" < "o2"."id" LIMIT 101"#,
            r#"SELECT `o1`.`id`, `o2`.`id` FROM `public`.`orders` AS `o1` INNER JOIN `public`.`orders` AS `o2` ON `o1`.`customer_id` = `o2`.`customer_id` AND `o1`.`id` < `o2`.`id` LIMIT 101"#,
            r#"SELECT "o1"."id", "o2"."id" FROM "public"."orders" AS "o1" INNER JOIN "public"."orders" AS "o2" ON "o1"."customer_id" = "o2"."customer_id" AND "o1"."id" < "o2"."id" LIMIT 101"#,
        ]
    );
}

#[test]
fn scalar_subqueries_may_use_the_outer_row() {
    let args = def("scalar_subqueries_may_use_the_outer_row");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "u"."name", (SELECT COUNT(*) AS "count" FROM "public"."orders" WHERE "customer_id" = "u"."id") AS "orders" FROM "public"."users" AS "u" WHERE NOT ("u"."id" = (SELECT MAX("customer_id") AS "max" FROM "public"."orders")) LIMIT 101"#,
            r#"SELECT `u`.`name`, (SELECT COUNT(*) AS `count` FROM `public`.`orders` WHERE `customer_id` = `u`.`id`) AS `orders` FROM `public`.`users` AS `u` WHERE NOT (`u`.`id` = (SELECT MAX(`customer_id`) AS `max` FROM `public`.`orders`)) LIMIT 101"#,
            r#"SELECT "u"."name", (SELECT COUNT(*) AS "count" FROM "public"."orders" WHERE "customer_id" = "u"."id") AS "orders" FROM "public"."users" AS "u" WHERE NOT ("u"."id" = (SELECT MAX("customer_id") AS "max" FROM "public"."orders")) LIMIT 101"#,
        ]
    );
}

#[test]
fn in_and_not_in_take_a_one_column_subquery() {
    let args = def("in_and_not_in_take_a_one_column_subquery");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id" FROM "public"."users" WHERE "id" IN (SELECT "customer_id" FROM "public"."orders" WHERE "status" = $1) AND "id" NOT IN (SELECT "customer_id" FROM "public"."orders" ORDER BY "total" DESC LIMIT 1) LIMIT 101"#,
            r#"SELECT `id` FROM `public`.`users` WHERE `id` IN (SELECT `customer_id` FROM `public`.`orders` WHERE `status` = ?) AND `id` NOT IN (SELECT * FROM (SELECT `customer_id` FROM `public`.`orders` ORDER BY `total` IS NULL DESC, `total` DESC LIMIT 1) AS `in_subquery`) LIMIT 101"#,
            r#"SELECT "id" FROM "public"."users" WHERE "id" IN (SELECT "customer_id" FROM "public"."orders" WHERE "status" = ?) AND "id" NOT IN (SELECT "customer_id" FROM "public"."orders" ORDER BY "total" DESC NULLS FIRST LIMIT 1) LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text("paid")]);
}

#[test]
fn exists_and_not_exists_may_be_correlated() {
    let args = def("exists_and_not_exists_may_be_correlated");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "u"."id" FROM "public"."users" AS "u" WHERE EXISTS (SELECT "id", "customer_id", "total", "status", "note", "created_at" FROM "public"."orders" WHERE "customer_id" = "u"."id") OR NOT (EXISTS (SELECT "o"."id", "o"."customer_id", "o"."total", "o"."status", "o"."note", "o"."created_at" FROM "public"."orders" AS "o" WHERE "o"."customer_id" = "u"."id" AND "o"."status" = $1)) LIMIT 101"#,
            r#"SELECT `u`.`id` FROM `public`.`users` AS `u` WHERE EXISTS (SELECT `id`, `customer_id`, `total`, `status`, `note`, `created_at` FROM `public`.`orders` WHERE `customer_id` = `u`.`id`) OR NOT (EXISTS (SELECT `o`.`id`, `o`.`customer_id`, `o`.`total`, `o`.`status`, `o`.`note`, `o`.`created_at` FROM `public`.`orders` AS `o` WHERE `o`.`customer_id` = `u`.`id` AND `o`.`status` = ?)) LIMIT 101"#,
            r#"SELECT "u"."id" FROM "public"."users" AS "u" WHERE EXISTS (SELECT "id", "customer_id", "total", "status", "note", "created_at" FROM "public"."orders" WHERE "customer_id" = "u"."id") OR NOT (EXISTS (SELECT "o"."id", "o"."customer_id", "o"."total", "o"."status", "o"."note", "o"."created_at" FROM "public"."orders" AS "o" WHERE "o"."customer_id" = "u"."id" AND "o"."status" = ?)) LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text("refund")]);
}

#[test]
fn groups_nest_with_subqueries_inside() {
    let args = def("groups_nest_with_subqueries_inside");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id" FROM "public"."orders" WHERE NOT ("status" = $1 OR (EXISTS (SELECT "id", "name", "email", "age", "created_at" FROM "public"."users" WHERE "id" = "public"."orders"."customer_id" AND "age" < $2) AND "total" > (SELECT AVG("o2"."total") AS "avg" FROM "public"."orders" AS "o2"))) LIMIT 101"#,
            r#"SELECT `id` FROM `public`.`orders` WHERE NOT (`status` = ? OR (EXISTS (SELECT `id`, `name`, `email`, `age`, `created_at` FROM `public`.`users` WHERE `id` = `public`.`orders`.`customer_id` AND `age` < ?) AND `total` > (SELECT AVG(`o2`.`total`) AS `avg` FROM `public`.`orders` AS `o2`))) LIMIT 101"#,
            r#"SELECT "id" FROM "public"."orders" WHERE NOT ("status" = ? OR (EXISTS (SELECT "id", "name", "email", "age", "created_at" FROM "public"."users" WHERE "id" = "public"."orders"."customer_id" AND "age" < ?) AND "total" > (SELECT AVG("o2"."total") AS "avg" FROM "public"."orders" AS "o2"))) LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text("paid"), SqlValue::Int(18)]);
}

#[test]
fn a_cte_is_read_by_name() {
    let args = def("a_cte_is_read_by_name");
    assert_eq!(
        sql3(&args),
        [
            r#"WITH "paid" AS (SELECT "customer_id", "total" FROM "public"."orders" WHERE "status" = $1) SELECT "customer_id", SUM("total") AS "spent" FROM "paid" GROUP BY "customer_id" LIMIT 101"#,
            r#"WITH `paid` AS (SELECT `customer_id`, `total` FROM `public`.`orders` WHERE `status` = ?) SELECT `customer_id`, SUM(`total`) AS `spent` FROM `paid` GROUP BY `customer_id` LIMIT 101"#,
            r#"WITH "paid" AS (SELECT "customer_id", "total" FROM "public"."orders" WHERE "status" = ?) SELECT "customer_id", SUM("total") AS "spent" FROM "paid" GROUP BY "customer_id" LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text("paid")]);
}

#[test]
fn ctes_read_earlier_ctes_and_join_tables() {
    let args = def("ctes_read_earlier_ctes_and_join_tables");
    assert_eq!(
        sql3(&args),
        [
            r#"WITH "paid" AS (SELECT "id", "customer_id", "total", "status", "note", "created_at" FROM "public"."orders" WHERE "status" = $1), "per_customer" AS (SELECT "customer_id", COUNT(*) AS "n" FROM "paid" GROUP BY "customer_id") SELECT "u"."name", "p"."n" FROM "public"."users" AS "u" INNER JOIN "per_customer" AS "p" ON "p"."customer_id" = "u"."id" LIMIT 101"#,
            r#"WITH `paid` AS (SELECT `id`, `customer_id`, `total`, `status`, `note`, `created_at` FROM `public`.`orders` WHERE `status` = ?), `per_customer` AS (SELECT `customer_id`, COUNT(*) AS `n` FROM `paid` GROUP BY `customer_id`) SELECT `u`.`name`, `p`.`n` FROM `public`.`users` AS `u` INNER JOIN `per_customer` AS `p` ON `p`.`customer_id` = `u`.`id` LIMIT 101"#,
            r#"WITH "paid" AS (SELECT "id", "customer_id", "total", "status", "note", "created_at" FROM "public"."orders" WHERE "status" = ?), "per_customer" AS (SELECT "customer_id", COUNT(*) AS "n" FROM "paid" GROUP BY "customer_id") SELECT "u"."name", "p"."n" FROM "public"."users" AS "u" INNER JOIN "per_customer" AS "p" ON "p"."customer_id" = "u"."id" LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text("paid")]);
}

#[test]
fn a_cte_named_like_a_table_reads_the_table_in_its_body() {
    let args = def("a_cte_named_like_a_table_reads_the_table_in_its_body");
    assert_eq!(
        sql3(&args),
        [
            r#"WITH "users" AS (SELECT "id", "name" FROM "public"."users" WHERE "age" >= $1) SELECT "o"."id" FROM "public"."orders" AS "o" WHERE EXISTS (SELECT "id", "name" FROM "users" WHERE "id" = "o"."customer_id") LIMIT 101"#,
            r#"WITH `users` AS (SELECT `id`, `name` FROM `public`.`users` WHERE `age` >= ?) SELECT `o`.`id` FROM `public`.`orders` AS `o` WHERE EXISTS (SELECT `id`, `name` FROM `users` WHERE `id` = `o`.`customer_id`) LIMIT 101"#,
            r#"WITH "users" AS (SELECT "id", "name" FROM "public"."users" WHERE "age" >= ?) SELECT "o"."id" FROM "public"."orders" AS "o" WHERE EXISTS (SELECT "id", "name" FROM "users" WHERE "id" = "o"."customer_id") LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(18)]);
}

#[test]
fn without_a_select_list_a_cte_has_its_source_columns() {
    let args = def("without_a_select_list_a_cte_has_its_source_columns");
    assert_eq!(
        sql3(&args),
        [
            r#"WITH "s" AS (SELECT "id", "amount" FROM "sales"."orders") SELECT "amount" FROM "s" ORDER BY "id" LIMIT 101"#,
            r#"WITH `s` AS (SELECT `id`, `amount` FROM `sales`.`orders`) SELECT `amount` FROM `s` ORDER BY `id` LIMIT 101"#,
            r#"WITH "s" AS (SELECT "id", "amount" FROM "sales"."orders") SELECT "amount" FROM "s" ORDER BY "id" LIMIT 101"#,
        ]
    );
}

#[test]
fn a_subquery_may_have_its_own_ctes_and_read_outer_ones() {
    let args = def("a_subquery_may_have_its_own_ctes_and_read_outer_ones");
    assert_eq!(
        render(&args, Dialect::Postgres).0,
        r#"WITH "big" AS (SELECT "id", "customer_id", "total", "status", "note", "created_at" FROM "public"."orders" WHERE "total" > $1) SELECT "id" FROM "public"."users" WHERE "id" IN (WITH "ids" AS (SELECT "customer_id" FROM "big") SELECT "customer_id" FROM "ids") LIMIT 101"#
    );
    let e = try_plan(&args, Dialect::MySql).unwrap_err();
    assert_eq!(e.kind(), QueryErrorKind::Unsupported, "{e}");
    assert_eq!(
        render(&args, Dialect::Sqlite).0,
        r#"WITH "big" AS (SELECT "id", "customer_id", "total", "status", "note", "created_at" FROM "public"."orders" WHERE "total" > ?) SELECT "id" FROM "public"."users" WHERE "id" IN (WITH "ids" AS (SELECT "customer_id" FROM "big") SELECT "customer_id" FROM "ids") LIMIT 101"#
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(50)]);
}

#[test]
fn combine_renders_every_set_operation() {
    let args = def("combine_renders_every_set_operation");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id" FROM "public"."users" UNION SELECT "customer_id" FROM "public"."orders" UNION ALL SELECT "id" FROM "sales"."orders" EXCEPT SELECT "id" FROM "a"."dup" LIMIT 101"#,
            r#"SELECT `id` FROM `public`.`users` UNION SELECT `customer_id` FROM `public`.`orders` UNION ALL SELECT `id` FROM `sales`.`orders` EXCEPT SELECT `id` FROM `a`.`dup` LIMIT 101"#,
            r#"SELECT "id" FROM "public"."users" UNION SELECT "customer_id" FROM "public"."orders" UNION ALL SELECT "id" FROM "sales"."orders" EXCEPT SELECT "id" FROM "a"."dup" LIMIT 101"#,
        ]
    );
}

#[test]
fn intersect_after_union_wraps_the_left_side() {
    let args = def("intersect_after_union_wraps_the_left_side");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT * FROM (SELECT "id" FROM "public"."users" UNION SELECT "customer_id" FROM "public"."orders") AS "set_1" INTERSECT SELECT "id" FROM "sales"."orders" LIMIT 101"#,
            r#"SELECT * FROM (SELECT `id` FROM `public`.`users` UNION SELECT `customer_id` FROM `public`.`orders`) AS `set_1` INTERSECT SELECT `id` FROM `sales`.`orders` LIMIT 101"#,
            r#"SELECT * FROM (SELECT "id" FROM "public"."users" UNION SELECT "customer_id" FROM "public"."orders") AS "set_1" INTERSECT SELECT "id" FROM "sales"."orders" LIMIT 101"#,
        ]
    );
}

#[test]
fn the_cap_applies_to_the_combined_result_whatever_the_operands_limits() {
    let args = def("the_cap_applies_to_the_combined_result_whatever_the_operands_limits");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id" FROM "public"."users" UNION ALL SELECT * FROM (SELECT "customer_id" FROM "public"."orders" LIMIT 100000 OFFSET 1) AS "combined_1" LIMIT 101"#,
            r#"SELECT `id` FROM `public`.`users` UNION ALL SELECT * FROM (SELECT `customer_id` FROM `public`.`orders` LIMIT 100000 OFFSET 1) AS `combined_1` LIMIT 101"#,
            r#"SELECT "id" FROM "public"."users" UNION ALL SELECT * FROM (SELECT "customer_id" FROM "public"."orders" LIMIT 100000 OFFSET 1) AS "combined_1" LIMIT 101"#,
        ]
    );
}

#[test]
fn an_ordered_combination_is_wrapped_and_ordered_by_result_columns() {
    let args = def("an_ordered_combination_is_wrapped_and_ordered_by_result_columns");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT * FROM (SELECT "id", "name" AS "label" FROM "public"."users" UNION SELECT "id", "status" FROM "public"."orders" WHERE "total" > $1) AS "combined" ORDER BY "combined"."label" NULLS FIRST, LENGTH("combined"."label") DESC, "combined"."id" LIMIT 3 OFFSET 1"#,
            r#"SELECT * FROM (SELECT `id`, `name` AS `label` FROM `public`.`users` UNION SELECT `id`, `status` FROM `public`.`orders` WHERE `total` > ?) AS `combined` ORDER BY `combined`.`label` IS NULL DESC, `combined`.`label`, CHAR_LENGTH(`combined`.`label`) IS NULL DESC, CHAR_LENGTH(`combined`.`label`) DESC, `combined`.`id` IS NULL ASC, `combined`.`id` LIMIT 3 OFFSET 1"#,
            r#"SELECT * FROM (SELECT "id", "name" AS "label" FROM "public"."users" UNION SELECT "id", "status" FROM "public"."orders" WHERE "total" > ?) AS "combined" ORDER BY "combined"."label" NULLS FIRST, LENGTH("combined"."label") DESC NULLS FIRST, "combined"."id" NULLS LAST LIMIT 3 OFFSET 1"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(10)]);
}

#[test]
fn combine_shares_the_ctes_of_the_query() {
    let args = def("combine_shares_the_ctes_of_the_query");
    assert_eq!(
        sql3(&args),
        [
            r#"WITH "paid" AS (SELECT "id", "customer_id", "total", "status", "note", "created_at" FROM "public"."orders" WHERE "status" = $1) SELECT "id" FROM "paid" INTERSECT SELECT "customer_id" FROM "paid" LIMIT 101"#,
            r#"WITH `paid` AS (SELECT `id`, `customer_id`, `total`, `status`, `note`, `created_at` FROM `public`.`orders` WHERE `status` = ?) SELECT `id` FROM `paid` INTERSECT SELECT `customer_id` FROM `paid` LIMIT 101"#,
            r#"WITH "paid" AS (SELECT "id", "customer_id", "total", "status", "note", "created_at" FROM "public"."orders" WHERE "status" = ?) SELECT "id" FROM "paid" INTERSECT SELECT "customer_id" FROM "paid" LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text("paid")]);
}

#[test]
fn an_offset_without_limit_in_a_subquery() {
    let args = def("an_offset_without_limit_in_a_subquery");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id" FROM "public"."users" WHERE "id" IN (SELECT "customer_id" FROM "public"."orders" ORDER BY "id" OFFSET 1) LIMIT 101"#,
            r#"SELECT `id` FROM `public`.`users` WHERE `id` IN (SELECT * FROM (SELECT `customer_id` FROM `public`.`orders` ORDER BY `id` LIMIT 18446744073709551615 OFFSET 1) AS `in_subquery`) LIMIT 101"#,
            r#"SELECT "id" FROM "public"."users" WHERE "id" IN (SELECT "customer_id" FROM "public"."orders" ORDER BY "id" LIMIT -1 OFFSET 1) LIMIT 101"#,
        ]
    );
}

#[test]
fn a_cte_joined_without_alias_is_named_by_its_name() {
    let args = def("a_cte_joined_without_alias_is_named_by_its_name");
    assert_eq!(
        sql3(&args),
        [
            r#"WITH "big" AS (SELECT "id", "customer_id" FROM "public"."orders" WHERE "total" > $1) SELECT "public"."users"."name", "big"."id" FROM "public"."users" INNER JOIN "big" ON "big"."customer_id" = "public"."users"."id" AND "big"."id" IN (SELECT "id" FROM "sales"."orders") LIMIT 101"#,
            r#"WITH `big` AS (SELECT `id`, `customer_id` FROM `public`.`orders` WHERE `total` > ?) SELECT `public`.`users`.`name`, `big`.`id` FROM `public`.`users` INNER JOIN `big` ON `big`.`customer_id` = `public`.`users`.`id` AND `big`.`id` IN (SELECT `id` FROM `sales`.`orders`) LIMIT 101"#,
            r#"WITH "big" AS (SELECT "id", "customer_id" FROM "public"."orders" WHERE "total" > ?) SELECT "public"."users"."name", "big"."id" FROM "public"."users" INNER JOIN "big" ON "big"."customer_id" = "public"."users"."id" AND "big"."id" IN (SELECT "id" FROM "sales"."orders") LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(50)]);
}
