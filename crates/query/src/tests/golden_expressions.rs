//! Golden SQL of expressions: operations, case, the allow-listed functions per dialect (with
//! their emulations), aggregates with distinct and filter, windows, grouping and ordering by
//! expressions. Every statement here was run on PostgreSQL 15, MariaDB 10.11 and SQLite 3.40
//! with the same results.

use super::*;

#[test]
fn operations_are_parenthesised_and_values_typed_beside_columns() {
    let args = def("operations_are_parenthesised_and_values_typed_beside_columns");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT ("total" + $1) AS "add", (CAST($2 AS BIGINT) - CAST($3 AS BIGINT)) AS "seven", (("total" / $4) * "id") AS "multiply", ("id" % $5) AS "modulo" FROM "public"."orders" WHERE ("total" * CAST($6 AS NUMERIC)) > $7 LIMIT 101"#,
            r#"SELECT (`total` + ?) AS `add`, (? - ?) AS `seven`, ((`total` / ?) * `id`) AS `multiply`, (`id` % ?) AS `modulo` FROM `public`.`orders` WHERE (`total` * ?) > ? LIMIT 101"#,
            r#"SELECT ("total" + ?) AS "add", (? - ?) AS "seven", (("total" / ?) * "id") AS "multiply", ("id" % ?) AS "modulo" FROM "public"."orders" WHERE ("total" * ?) > ? LIMIT 101"#,
        ]
    );
    assert_eq!(
        pg(&args).1,
        vec![
            SqlValue::Int(1),
            SqlValue::Int(10),
            SqlValue::Int(3),
            SqlValue::Int(2),
            SqlValue::Int(2),
            SqlValue::Float(1.1),
            SqlValue::Int(100)
        ]
    );
}

#[test]
fn concat_operation_is_null_propagating_in_every_dialect() {
    let args = def("concat_operation_is_null_propagating_in_every_dialect");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT ("name" || (CAST($1 AS TEXT) || CAST("id" AS TEXT))) AS "label" FROM "public"."users" LIMIT 101"#,
            r#"SELECT CONCAT(`name`, CONCAT(?, `id`)) AS `label` FROM `public`.`users` LIMIT 101"#,
            r#"SELECT ("name" || (? || "id")) AS "label" FROM "public"."users" LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text(" #")]);
}

#[test]
fn case_picks_the_first_branch_that_holds() {
    let args = def("case_picks_the_first_branch_that_holds");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id", CASE WHEN "total" >= $1 THEN CAST($2 AS TEXT) WHEN "total" < $3 THEN CAST($4 AS TEXT) ELSE CAST($5 AS TEXT) END AS "size", CASE WHEN "note" IS NULL THEN "status" END AS "case" FROM "public"."orders" LIMIT 101"#,
            r#"SELECT `id`, CASE WHEN `total` >= ? THEN ? WHEN `total` < ? THEN ? ELSE ? END AS `size`, CASE WHEN `note` IS NULL THEN `status` END AS `case` FROM `public`.`orders` LIMIT 101"#,
            r#"SELECT "id", CASE WHEN "total" >= ? THEN ? WHEN "total" < ? THEN ? ELSE ? END AS "size", CASE WHEN "note" IS NULL THEN "status" END AS "case" FROM "public"."orders" LIMIT 101"#,
        ]
    );
    assert_eq!(
        pg(&args).1,
        vec![
            SqlValue::Int(100),
            text("big"),
            SqlValue::Int(0),
            text("refund"),
            text("small")
        ]
    );
}

#[test]
fn text_functions_render_per_dialect() {
    let args = def("text_functions_render_per_dialect");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT LOWER("name") AS "lower", UPPER("email") AS "upper", LENGTH("name") AS "length", TRIM("name") AS "trim", SUBSTR("name", 1, 2) AS "substring", SUBSTR(CAST("age" AS TEXT), 2) AS "substring_2", CONCAT("name", CAST($1 AS TEXT), "age") AS "concat", LENGTH(CAST("age" AS TEXT)) AS "length_2" FROM "public"."users" LIMIT 101"#,
            r#"SELECT LOWER(`name`) AS `lower`, UPPER(`email`) AS `upper`, CHAR_LENGTH(`name`) AS `length`, TRIM(`name`) AS `trim`, SUBSTR(`name`, 1, 2) AS `substring`, SUBSTR(`age`, 2) AS `substring_2`, CONCAT_WS('', `name`, ?, `age`) AS `concat`, CHAR_LENGTH(`age`) AS `length_2` FROM `public`.`users` LIMIT 101"#,
            r#"SELECT LOWER("name") AS "lower", UPPER("email") AS "upper", LENGTH("name") AS "length", TRIM("name") AS "trim", SUBSTR("name", 1, 2) AS "substring", SUBSTR("age", 2) AS "substring_2", (COALESCE("name", '') || COALESCE(?, '') || COALESCE("age", '')) AS "concat", LENGTH("age") AS "length_2" FROM "public"."users" LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text(" ")]);
}

#[test]
fn null_and_number_functions_render_per_dialect() {
    let args = def("null_and_number_functions_render_per_dialect");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT COALESCE("note", "status", $1) AS "coalesce", NULLIF("status", $2) AS "nullif", ABS("total") AS "abs", ROUND("total") AS "round", ROUND(CAST("total" AS NUMERIC), 1) AS "round_2", FLOOR("total") AS "floor", CEIL("total") AS "ceil", CURRENT_DATE AS "current_date" FROM "public"."orders" LIMIT 101"#,
            r#"SELECT COALESCE(`note`, `status`, ?) AS `coalesce`, NULLIF(`status`, ?) AS `nullif`, ABS(`total`) AS `abs`, ROUND(`total`) AS `round`, ROUND(`total`, 1) AS `round_2`, FLOOR(`total`) AS `floor`, CEIL(`total`) AS `ceil`, CURRENT_DATE AS `current_date` FROM `public`.`orders` LIMIT 101"#,
            r#"SELECT COALESCE("note", "status", ?) AS "coalesce", NULLIF("status", ?) AS "nullif", ABS("total") AS "abs", ROUND("total") AS "round", ROUND("total", 1) AS "round_2", (CAST("total" AS INTEGER) - ("total" < CAST("total" AS INTEGER))) AS "floor", (CAST("total" AS INTEGER) + ("total" > CAST("total" AS INTEGER))) AS "ceil", CURRENT_DATE AS "current_date" FROM "public"."orders" LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![text("none"), text("paid")]);
}

#[test]
fn date_trunc_is_native_on_postgres_and_emulated_elsewhere() {
    let args = def("date_trunc_is_native_on_postgres_and_emulated_elsewhere");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT DATE_TRUNC('year', "created_at") AS "year", DATE_TRUNC('quarter', "created_at") AS "quarter", DATE_TRUNC('month', "created_at") AS "month", DATE_TRUNC('week', "created_at") AS "week", DATE_TRUNC('day', "created_at") AS "day", DATE_TRUNC('hour', "created_at") AS "hour", DATE_TRUNC('minute', "created_at") AS "minute", DATE_TRUNC('second', "created_at") AS "second" FROM "public"."orders" LIMIT 101"#,
            r#"SELECT CAST(DATE_FORMAT(`created_at`, '%Y-01-01') AS DATETIME) AS `year`, CAST(MAKEDATE(YEAR(`created_at`), 1) + INTERVAL (QUARTER(`created_at`) - 1) QUARTER AS DATETIME) AS `quarter`, CAST(DATE_FORMAT(`created_at`, '%Y-%m-01') AS DATETIME) AS `month`, CAST(DATE_SUB(DATE(`created_at`), INTERVAL WEEKDAY(`created_at`) DAY) AS DATETIME) AS `week`, CAST(DATE(`created_at`) AS DATETIME) AS `day`, CAST(DATE_FORMAT(`created_at`, '%Y-%m-%d %H:00:00') AS DATETIME) AS `hour`, CAST(DATE_FORMAT(`created_at`, '%Y-%m-%d %H:%i:00') AS DATETIME) AS `minute`, CAST(DATE_FORMAT(`created_at`, '%Y-%m-%d %H:%i:%s') AS DATETIME) AS `second` FROM `public`.`orders` LIMIT 101"#,
            r#"SELECT DATETIME("created_at", 'start of year') AS "year", DATETIME("created_at", 'start of month', '-' || ((CAST(STRFTIME('%m', "created_at") AS INTEGER) - 1) % 3) || ' months') AS "quarter", DATETIME("created_at", 'start of month') AS "month", DATETIME("created_at", 'start of day', '-6 days', 'weekday 1') AS "week", DATETIME("created_at", 'start of day') AS "day", STRFTIME('%Y-%m-%d %H:00:00', "created_at") AS "hour", STRFTIME('%Y-%m-%d %H:%M:00', "created_at") AS "minute", STRFTIME('%Y-%m-%d %H:%M:%S', "created_at") AS "second" FROM "public"."orders" LIMIT 101"#,
        ]
    );
}

#[test]
fn date_part_is_extract_on_postgres_and_mysql_and_strftime_on_sqlite() {
    let args = def("date_part_is_extract_on_postgres_and_mysql_and_strftime_on_sqlite");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT EXTRACT(YEAR FROM "created_at") AS "year", EXTRACT(QUARTER FROM "created_at") AS "quarter", EXTRACT(MONTH FROM "created_at") AS "month", EXTRACT(WEEK FROM "created_at") AS "week", EXTRACT(DAY FROM "created_at") AS "day", EXTRACT(HOUR FROM "created_at") AS "hour", EXTRACT(MINUTE FROM "created_at") AS "minute", EXTRACT(SECOND FROM "created_at") AS "second", EXTRACT(DOW FROM "created_at") AS "dow", EXTRACT(DOY FROM "created_at") AS "doy", EXTRACT(EPOCH FROM "created_at") AS "epoch" FROM "public"."orders" LIMIT 101"#,
            r#"SELECT EXTRACT(YEAR FROM `created_at`) AS `year`, EXTRACT(QUARTER FROM `created_at`) AS `quarter`, EXTRACT(MONTH FROM `created_at`) AS `month`, WEEK(`created_at`, 3) AS `week`, EXTRACT(DAY FROM `created_at`) AS `day`, EXTRACT(HOUR FROM `created_at`) AS `hour`, EXTRACT(MINUTE FROM `created_at`) AS `minute`, EXTRACT(SECOND FROM `created_at`) AS `second`, (DAYOFWEEK(`created_at`) - 1) AS `dow`, DAYOFYEAR(`created_at`) AS `doy`, UNIX_TIMESTAMP(`created_at`) AS `epoch` FROM `public`.`orders` LIMIT 101"#,
            r#"SELECT CAST(STRFTIME('%Y', "created_at") AS INTEGER) AS "year", ((CAST(STRFTIME('%m', "created_at") AS INTEGER) + 2) / 3) AS "quarter", CAST(STRFTIME('%m', "created_at") AS INTEGER) AS "month", ((CAST(STRFTIME('%j', DATE("created_at", '-3 days', 'weekday 4')) AS INTEGER) - 1) / 7 + 1) AS "week", CAST(STRFTIME('%d', "created_at") AS INTEGER) AS "day", CAST(STRFTIME('%H', "created_at") AS INTEGER) AS "hour", CAST(STRFTIME('%M', "created_at") AS INTEGER) AS "minute", CAST(STRFTIME('%S', "created_at") AS INTEGER) AS "second", CAST(STRFTIME('%w', "created_at") AS INTEGER) AS "dow", CAST(STRFTIME('%j', "created_at") AS INTEGER) AS "doy", CAST(STRFTIME('%s', "created_at") AS INTEGER) AS "epoch" FROM "public"."orders" LIMIT 101"#,
        ]
    );
}

#[test]
fn date_functions_take_values_as_timestamps() {
    let args = def("date_functions_take_values_as_timestamps");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id" FROM "public"."users" WHERE EXTRACT(YEAR FROM "created_at") = $1 AND DATE_TRUNC('month', CAST($2 AS TIMESTAMP)) <= "created_at" LIMIT 101"#,
            r#"SELECT `id` FROM `public`.`users` WHERE EXTRACT(YEAR FROM `created_at`) = ? AND CAST(DATE_FORMAT(?, '%Y-%m-01') AS DATETIME) <= `created_at` LIMIT 101"#,
            r#"SELECT "id" FROM "public"."users" WHERE CAST(STRFTIME('%Y', "created_at") AS INTEGER) = ? AND DATETIME(?, 'start of month') <= "created_at" LIMIT 101"#,
        ]
    );
    assert_eq!(
        pg(&args).1,
        vec![SqlValue::Int(2024), text("2024-03-15 10:00:00")]
    );
}

#[test]
fn aggregates_take_distinct_and_filter() {
    let args = def("aggregates_take_distinct_and_filter");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT COUNT(*) AS "count", COUNT("note") AS "count_2", COUNT(DISTINCT "customer_id") AS "count_3", SUM("total") AS "sum", AVG("total") AS "avg", MIN("created_at") AS "min", MAX("created_at") AS "max", COUNT(*) FILTER (WHERE "status" = $1) AS "paid", SUM("total") FILTER (WHERE "status" = $2 OR "total" > $3) AS "paid_total", COUNT(DISTINCT "customer_id") FILTER (WHERE "status" <> $4) AS "buyers" FROM "public"."orders" LIMIT 101"#,
            r#"SELECT COUNT(*) AS `count`, COUNT(`note`) AS `count_2`, COUNT(DISTINCT `customer_id`) AS `count_3`, SUM(`total`) AS `sum`, AVG(`total`) AS `avg`, MIN(`created_at`) AS `min`, MAX(`created_at`) AS `max`, COUNT(CASE WHEN `status` = ? THEN 1 END) AS `paid`, SUM(CASE WHEN `status` = ? OR `total` > ? THEN `total` END) AS `paid_total`, COUNT(DISTINCT CASE WHEN `status` <> ? THEN `customer_id` END) AS `buyers` FROM `public`.`orders` LIMIT 101"#,
            r#"SELECT COUNT(*) AS "count", COUNT("note") AS "count_2", COUNT(DISTINCT "customer_id") AS "count_3", SUM("total") AS "sum", AVG("total") AS "avg", MIN("created_at") AS "min", MAX("created_at") AS "max", COUNT(*) FILTER (WHERE "status" = ?) AS "paid", SUM("total") FILTER (WHERE "status" = ? OR "total" > ?) AS "paid_total", COUNT(DISTINCT "customer_id") FILTER (WHERE "status" <> ?) AS "buyers" FROM "public"."orders" LIMIT 101"#,
        ]
    );
    assert_eq!(
        pg(&args).1,
        vec![
            text("paid"),
            text("paid"),
            SqlValue::Int(100),
            text("refund")
        ]
    );
}

#[test]
fn count_star_may_be_written_as_a_field() {
    let args = def("count_star_may_be_written_as_a_field");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT COUNT(*) AS "count" FROM "public"."orders" LIMIT 101"#,
            r#"SELECT COUNT(*) AS `count` FROM `public`.`orders` LIMIT 101"#,
            r#"SELECT COUNT(*) AS "count" FROM "public"."orders" LIMIT 101"#,
        ]
    );
}

#[test]
fn window_functions_take_partition_and_order() {
    let args = def("window_functions_take_partition_and_order");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id", ROW_NUMBER() OVER (PARTITION BY "customer_id" ORDER BY "created_at" DESC NULLS LAST) AS "row_number", RANK() OVER (ORDER BY "total" DESC) AS "rank", DENSE_RANK() OVER (ORDER BY "status") AS "dense_rank", LAG("total") OVER (ORDER BY "id") AS "lag", LEAD("total", 2, $1) OVER (PARTITION BY "customer_id" ORDER BY "id") AS "lead", SUM("total") OVER (PARTITION BY "customer_id" ORDER BY "id") AS "running", COUNT(*) OVER () AS "count" FROM "public"."orders" LIMIT 101"#,
            r#"SELECT `id`, ROW_NUMBER() OVER (PARTITION BY `customer_id` ORDER BY `created_at` IS NULL ASC, `created_at` DESC) AS `row_number`, RANK() OVER (ORDER BY `total` IS NULL DESC, `total` DESC) AS `rank`, DENSE_RANK() OVER (ORDER BY `status` IS NULL ASC, `status`) AS `dense_rank`, LAG(`total`) OVER (ORDER BY `id`) AS `lag`, CASE WHEN LEAD(1, 2) OVER (PARTITION BY `customer_id` ORDER BY `id`) IS NULL THEN ? ELSE LEAD(`total`, 2) OVER (PARTITION BY `customer_id` ORDER BY `id`) END AS `lead`, SUM(`total`) OVER (PARTITION BY `customer_id` ORDER BY `id`) AS `running`, COUNT(*) OVER () AS `count` FROM `public`.`orders` LIMIT 101"#,
            r#"SELECT "id", ROW_NUMBER() OVER (PARTITION BY "customer_id" ORDER BY "created_at" DESC NULLS LAST) AS "row_number", RANK() OVER (ORDER BY "total" DESC NULLS FIRST) AS "rank", DENSE_RANK() OVER (ORDER BY "status" NULLS LAST) AS "dense_rank", LAG("total") OVER (ORDER BY "id") AS "lag", LEAD("total", 2, ?) OVER (PARTITION BY "customer_id" ORDER BY "id") AS "lead", SUM("total") OVER (PARTITION BY "customer_id" ORDER BY "id") AS "running", COUNT(*) OVER () AS "count" FROM "public"."orders" LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(0)]);
}

#[test]
fn group_by_and_having_may_use_aggregates() {
    let args = def("group_by_and_having_may_use_aggregates");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "status", COUNT(*) AS "n", SUM("total") AS "revenue" FROM "public"."orders" GROUP BY "status" HAVING COUNT(*) > $1 OR SUM("total") >= $2 ORDER BY 3 DESC NULLS FIRST, MAX("id") LIMIT 101"#,
            r#"SELECT `status`, COUNT(*) AS `n`, SUM(`total`) AS `revenue` FROM `public`.`orders` GROUP BY `status` HAVING COUNT(*) > ? OR SUM(`total`) >= ? ORDER BY SUM(`total`) IS NULL DESC, 3 DESC, MAX(`id`) IS NULL ASC, MAX(`id`) LIMIT 101"#,
            r#"SELECT "status", COUNT(*) AS "n", SUM("total") AS "revenue" FROM "public"."orders" GROUP BY "status" HAVING COUNT(*) > ? OR SUM("total") >= ? ORDER BY 3 DESC NULLS FIRST, MAX("id") NULLS LAST LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(1), SqlValue::Int(10)]);
}

#[test]
fn group_by_a_select_alias_or_expression_uses_its_position() {
    let args = def("group_by_a_select_alias_or_expression_uses_its_position");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT DATE_TRUNC('month', "created_at") AS "month", CASE WHEN "total" >= $1 THEN CAST($2 AS TEXT) ELSE CAST($3 AS TEXT) END AS "size", COUNT(*) AS "count" FROM "public"."orders" GROUP BY 1, 2 ORDER BY 1, 2 DESC LIMIT 101"#,
            r#"SELECT CAST(DATE_FORMAT(`created_at`, '%Y-%m-01') AS DATETIME) AS `month`, CASE WHEN `total` >= ? THEN ? ELSE ? END AS `size`, COUNT(*) AS `count` FROM `public`.`orders` GROUP BY 1, 2 ORDER BY CAST(DATE_FORMAT(`created_at`, '%Y-%m-01') AS DATETIME) IS NULL ASC, 1, CASE WHEN `total` >= ? THEN ? ELSE ? END IS NULL DESC, 2 DESC LIMIT 101"#,
            r#"SELECT DATETIME("created_at", 'start of month') AS "month", CASE WHEN "total" >= ? THEN ? ELSE ? END AS "size", COUNT(*) AS "count" FROM "public"."orders" GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2 DESC NULLS FIRST LIMIT 101"#,
        ]
    );
    assert_eq!(
        pg(&args).1,
        vec![SqlValue::Int(100), text("big"), text("small")]
    );
}

#[test]
fn order_by_takes_expressions() {
    let args = def("order_by_takes_expressions");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id" FROM "public"."users" ORDER BY LENGTH("name") DESC, ($1 - "age") NULLS LAST LIMIT 101"#,
            r#"SELECT `id` FROM `public`.`users` ORDER BY CHAR_LENGTH(`name`) IS NULL DESC, CHAR_LENGTH(`name`) DESC, (? - `age`) IS NULL ASC, (? - `age`) LIMIT 101"#,
            r#"SELECT "id" FROM "public"."users" ORDER BY LENGTH("name") DESC NULLS FIRST, (? - "age") NULLS LAST LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(0)]);
}

#[test]
fn distinct_orders_by_selected_expressions() {
    let args = def("distinct_orders_by_selected_expressions");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT DISTINCT LOWER("name") AS "n" FROM "public"."users" ORDER BY 1, 1 DESC LIMIT 101"#,
            r#"SELECT DISTINCT LOWER(`name`) AS `n` FROM `public`.`users` ORDER BY LOWER(`name`) IS NULL ASC, 1, LOWER(`name`) IS NULL DESC, 1 DESC LIMIT 101"#,
            r#"SELECT DISTINCT LOWER("name") AS "n" FROM "public"."users" ORDER BY 1 NULLS LAST, 1 DESC NULLS FIRST LIMIT 101"#,
        ]
    );
}

#[test]
fn lag_and_lead_defaults_are_emulated_on_mysql() {
    let args = def("lag_and_lead_defaults_are_emulated_on_mysql");
    assert_eq!(
        sql3(&args),
        [
            r#"SELECT "id", LAG("total", 1, $1) OVER (PARTITION BY "customer_id" ORDER BY "id") AS "lag", LEAD("id", 1, $2) OVER (ORDER BY "id" DESC) AS "lead" FROM "public"."orders" LIMIT 101"#,
            r#"SELECT `id`, CASE WHEN LAG(1, 1) OVER (PARTITION BY `customer_id` ORDER BY `id`) IS NULL THEN ? ELSE LAG(`total`, 1) OVER (PARTITION BY `customer_id` ORDER BY `id`) END AS `lag`, CASE WHEN LEAD(1, 1) OVER (ORDER BY `id` DESC) IS NULL THEN ? ELSE LEAD(`id`, 1) OVER (ORDER BY `id` DESC) END AS `lead` FROM `public`.`orders` LIMIT 101"#,
            r#"SELECT "id", LAG("total", 1, ?) OVER (PARTITION BY "customer_id" ORDER BY "id") AS "lag", LEAD("id", 1, ?) OVER (ORDER BY "id" DESC) AS "lead" FROM "public"."orders" LIMIT 101"#,
        ]
    );
    assert_eq!(pg(&args).1, vec![SqlValue::Int(-1), SqlValue::Int(0)]);
}
