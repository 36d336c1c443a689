//! Security: the whitelist holds for every place a table name can stand (REFERENCE 2.6), CTE
//! names never let another table in, only allow-listed functions run, the row cap holds for
//! every shape, and no definition can make planning unbounded.

use serde_json::json;

use super::*;
use crate::{
    FUNCTIONS, MAX_ARGS, MAX_COMBINE, MAX_CTES, MAX_EXPRESSION_DEPTH, MAX_EXPRESSIONS,
    MAX_GROUP_ITEMS, MAX_JOINS, MAX_NESTING, MAX_QUERY_DEPTH, MAX_SUBQUERIES, QueryErrorKind,
};

/// Names that must never reach a table outside the catalog: the forbidden table in quoting,
/// case and schema variants, other databases, system catalogs, and SQL pretending to be a name.
const HOSTILE: &[&str] = &[
    "secrets",
    "SECRETS",
    "public.secrets",
    "Public.Secrets",
    "\"secrets\"",
    "\"public\".\"secrets\"",
    "`secrets`",
    "[public].[secrets]",
    "otherdb.public.users",
    "otherdb.public.secrets",
    "otherdb.users",
    "information_schema.tables",
    "INFORMATION_SCHEMA.TABLES",
    "pg_catalog.pg_class",
    "pg_class",
    "pg_catalog.pg_user",
    "mysql.user",
    "sqlite_master",
    "main.sqlite_master",
    "sqlite_schema",
    "users; DROP TABLE users",
    "public.users--",
    "users /* x */",
    "users u",
    "(SELECT * FROM secrets)",
    "LATERAL (SELECT 1)",
    "generate_series(1, 10)",
    "pg_read_file('/etc/passwd')",
    "",
];

/// Every place a table name can stand, with `t` there, and the path of the error.
fn carriers(t: &str) -> Vec<(Value, &'static str)> {
    let sub = json!({"tableName": t, "selectColumns": [{"field": "id"}]});
    let id = json!({"field": "id"});
    vec![
        (json!({"tableName": t}), "tableName"),
        (
            json!({"tableName": "users", "joins": [{"type": "left", "table": t, "alias": "x", "on": [{"field": "x.id", "op": "=", "otherField": "users.id"}]}]}),
            "joins[0].table",
        ),
        (
            json!({"tableName": "users", "joins": [{"type": "cross", "table": t}]}),
            "joins[0].table",
        ),
        (
            json!({"tableName": "users", "joins": [{"type": "inner", "subquery": sub, "alias": "x", "on": [{"field": "x.id", "op": "=", "otherField": "users.id"}]}]}),
            "joins[0].subquery.tableName",
        ),
        (
            json!({"tableName": "users", "selectColumns": [id, {"subquery": sub, "alias": "s"}]}),
            "selectColumns[1].subquery.tableName",
        ),
        (
            json!({"tableName": "users", "where": [{"field": "id", "op": "in", "subquery": sub}]}),
            "where[0].subquery.tableName",
        ),
        (
            json!({"tableName": "users", "where": [{"field": "id", "op": "notIn", "subquery": sub}]}),
            "where[0].subquery.tableName",
        ),
        (
            json!({"tableName": "users", "where": [{"field": "id", "op": ">", "subquery": sub}]}),
            "where[0].subquery.tableName",
        ),
        (
            json!({"tableName": "users", "where": [{"exists": {"tableName": t}}]}),
            "where[0].exists.tableName",
        ),
        (
            json!({"tableName": "users", "where": [{"exists": {"tableName": t}, "not": true}]}),
            "where[0].exists.tableName",
        ),
        (
            json!({"tableName": "users", "where": [{"group": [{"group": [{"exists": {"tableName": t}}]}]}]}),
            "where[0].group[0].group[0].exists.tableName",
        ),
        (
            json!({"tableName": "users", "where": [{"left": {"subquery": sub}, "op": "=", "value": 1}]}),
            "where[0].left.subquery.tableName",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"field": "age"}], "groupBy": [{"field": "age"}],
                "having": [{"exists": {"tableName": t}}]}),
            "having[0].exists.tableName",
        ),
        (
            json!({"tableName": "users", "orderBy": [{"subquery": sub}]}),
            "orderBy[0].subquery.tableName",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"case": [{"when": [{"exists": {"tableName": t}}], "then": {"value": 1}}]}]}),
            "selectColumns[0].case[0].when[0].exists.tableName",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"function": "count", "filter": [{"exists": {"tableName": t}}]}]}),
            "selectColumns[0].filter[0].exists.tableName",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"function": "coalesce", "args": [{"subquery": sub}, {"value": 0}]}]}),
            "selectColumns[0].args[0].subquery.tableName",
        ),
        (
            json!({"tableName": "users", "selectColumns": [{"function": "row_number", "over": {"partitionBy": [{"subquery": sub}]}}]}),
            "selectColumns[0].over.partitionBy[0].subquery.tableName",
        ),
        (
            json!({"tableName": "users", "joins": [{"table": "orders", "on": [{"exists": {"tableName": t}}]}]}),
            "joins[0].on[0].exists.tableName",
        ),
        (
            json!({"with": [{"name": "c", "query": {"tableName": t}}], "tableName": "users"}),
            "with[0].query.tableName",
        ),
        (
            json!({"with": [{"name": "users", "query": {"tableName": t}}], "tableName": "users"}),
            "with[0].query.tableName",
        ),
        (
            json!({"with": [{"name": "c", "query": {"tableName": "users", "selectColumns": [{"field": "users.id"}],
                "joins": [{"type": "cross", "table": t}]}}], "tableName": "c"}),
            "with[0].query.joins[0].table",
        ),
        (
            json!({"tableName": "users", "selectColumns": [id], "combine": [{"type": "union", "query": sub}]}),
            "combine[0].query.tableName",
        ),
        (
            json!({"tableName": "users", "selectColumns": [id], "combine": [{"type": "except", "query": {"tableName": "orders", "selectColumns": [id], "where": [{"exists": {"tableName": t}}]}}]}),
            "combine[0].query.where[0].exists.tableName",
        ),
        (
            json!({"tableName": "users", "selectColumns": [id], "combine": [{"type": "unionAll", "query": {"with": [{"name": "z", "query": sub}], "tableName": "z"}}]}),
            "combine[0].query.with[0].query.tableName",
        ),
        // Four queries deep: exists in an in-subquery in a scalar subquery.
        (
            json!({"tableName": "users", "selectColumns": [{"subquery": {"tableName": "orders", "selectColumns": [{"function": "count"}],
                "where": [{"field": "customer_id", "op": "in", "subquery": {"tableName": "users", "selectColumns": [id],
                    "where": [{"exists": {"tableName": t}}]}}]}}]}),
            "selectColumns[0].subquery.where[0].subquery.where[0].exists.tableName",
        ),
    ]
}

#[test]
fn every_place_a_table_can_stand_refuses_tables_outside_the_catalog() {
    for name in HOSTILE {
        for (args, path) in carriers(name) {
            let e = refused(&args);
            if name.is_empty() {
                assert_eq!(e.kind(), QueryErrorKind::Invalid, "{args}: {e}");
            } else {
                assert_eq!(e.kind(), QueryErrorKind::UnknownTable, "{args}: {e}");
                let listed = e.message().split("tables you may read: ").nth(1);
                assert!(
                    listed.is_some_and(|l| !l.contains("secrets")),
                    "the error must list the granted tables only: {e}"
                );
            }
            assert_eq!(e.path(), path, "{args}: {e}");
        }
    }
}

#[test]
fn every_carrier_plans_with_an_allowed_table_and_lists_it() {
    for (args, path) in carriers("sales.orders") {
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            let p = try_plan(&args, dialect).unwrap_or_else(|e| panic!("{path}: {args}: {e}"));
            assert!(
                p.tables.contains(&"sales.orders".to_owned()),
                "{path}: {:?}",
                p.tables
            );
            assert!(!p.statement.sql.contains("secrets"), "{}", p.statement.sql);
        }
    }
}

#[test]
fn a_cte_named_like_an_allowed_table_cannot_read_a_forbidden_one() {
    let e = refused(&json!({
        "with": [{"name": "users", "query": {"tableName": "secrets"}}],
        "tableName": "users"
    }));
    assert_eq!(
        (e.kind(), e.path()),
        (QueryErrorKind::UnknownTable, "with[0].query.tableName")
    );
    // Its own name, in its own body, is the catalog's table, not itself (no recursion).
    let e = refused(&json!({
        "with": [{"name": "secrets", "query": {"tableName": "secrets"}}],
        "tableName": "secrets"
    }));
    assert_eq!(e.kind(), QueryErrorKind::UnknownTable);
    assert_eq!(e.path(), "with[0].query.tableName");
}

#[test]
fn a_cte_named_like_a_forbidden_table_reads_only_its_own_body() {
    let args = json!({
        "with": [{"name": "secrets", "query": {"tableName": "users", "selectColumns": [{"field": "id"}, {"field": "name"}]}}],
        "tableName": "secrets",
        "joins": [{"table": "SECRETS", "alias": "s2", "on": [{"field": "s2.id", "op": "=", "otherField": "secrets.id"}]}],
        "where": [{"exists": {"tableName": "secrets", "alias": "s3", "where": [{"field": "s3.id", "op": "=", "otherField": "secrets.id"}]}}]
    });
    for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
        let p = try_plan(&args, dialect).unwrap();
        assert_eq!(p.tables, vec!["public.users"]);
        let q = |s: &str| dialect.quote_identifier(s);
        assert!(
            !p.statement
                .sql
                .contains(&format!("{}.{}", q("public"), q("secrets"))),
            "{}",
            p.statement.sql
        );
        assert!(p.statement.sql.contains(&format!("FROM {}", q("secrets"))));
    }
    // A schema-qualified name is never a CTE.
    let e = refused(&json!({
        "with": [{"name": "secrets", "query": {"tableName": "users"}}],
        "tableName": "public.secrets"
    }));
    assert_eq!(e.kind(), QueryErrorKind::UnknownTable);
    assert!(e.message().contains("CTE names from with: secrets"), "{e}");
}

#[test]
fn cte_names_are_visible_only_inside_their_query() {
    // Defined in a subquery: not a name of the main query.
    let e = refused(&json!({
        "tableName": "inner_cte",
        "where": [{"exists": {"with": [{"name": "inner_cte", "query": {"tableName": "users"}}], "tableName": "inner_cte"}}]
    }));
    assert_eq!(
        (e.kind(), e.path()),
        (QueryErrorKind::UnknownTable, "tableName")
    );
    // Defined later in the same with: not visible to an earlier body.
    let e = refused(&json!({
        "with": [
            {"name": "a", "query": {"tableName": "b"}},
            {"name": "b", "query": {"tableName": "users"}}
        ],
        "tableName": "a"
    }));
    assert_eq!(
        (e.kind(), e.path()),
        (QueryErrorKind::UnknownTable, "with[0].query.tableName")
    );
}

#[test]
fn cte_names_and_aliases_must_be_plain_names_and_aliases_are_not_tables() {
    for name in ["public.users", "users; DROP TABLE x", "\"users\"", "1x", ""] {
        let e = refused(
            &json!({"with": [{"name": name, "query": {"tableName": "users"}}], "tableName": "users"}),
        );
        assert_eq!(e.kind(), QueryErrorKind::Invalid, "{name}: {e}");
        assert_eq!(e.path(), "with[0].name");
    }
    let e = refused(&json!({
        "tableName": "users", "alias": "u",
        "joins": [{"table": "u", "alias": "u2", "on": [{"field": "u2.id", "op": "=", "otherField": "u.id"}]}]
    }));
    assert_eq!(
        (e.kind(), e.path()),
        (QueryErrorKind::UnknownTable, "joins[0].table")
    );
    let e = refused(&json!({
        "tableName": "users",
        "joins": [
            {"subquery": {"tableName": "orders"}, "alias": "t", "on": [{"field": "t.customer_id", "op": "=", "otherField": "users.id"}]},
            {"type": "cross", "table": "t"}
        ]
    }));
    assert_eq!(
        (e.kind(), e.path()),
        (QueryErrorKind::UnknownTable, "joins[1].table")
    );
}

#[test]
fn mariadb_never_sees_an_outer_cte_from_inside_another_cte() {
    // MariaDB would look "big" up as a table of the default database.
    let args = json!({
        "with": [{"name": "big", "query": {"tableName": "orders"}}],
        "tableName": "users",
        "where": [{"field": "id", "op": "in", "subquery": {
            "with": [{"name": "ids", "query": {"tableName": "big", "selectColumns": [{"field": "customer_id"}]}}],
            "tableName": "ids"
        }}]
    });
    let e = try_plan(&args, Dialect::MySql).unwrap_err();
    assert_eq!(e.kind(), QueryErrorKind::Unsupported);
    assert_eq!(e.path(), "where[0].subquery.with[0].query.tableName");
    assert!(e.message().contains("MariaDB"), "{e}");
    render(&args, Dialect::Postgres);
    render(&args, Dialect::Sqlite);
}

#[test]
fn a_join_subquery_cannot_see_the_tables_beside_it() {
    // Not LATERAL: the joined subquery is planned alone.
    let e = refused(&json!({
        "tableName": "users", "alias": "u",
        "joins": [{"alias": "t", "subquery": {"tableName": "orders", "where": [{"field": "customer_id", "op": "=", "otherField": "u.id"}]},
            "on": [{"field": "t.customer_id", "op": "=", "otherField": "u.id"}]}]
    }));
    assert_eq!(e.kind(), QueryErrorKind::UnknownColumn);
    assert_eq!(e.path(), "joins[0].subquery.where[0].otherField");
}

#[test]
fn columns_of_tables_outside_the_query_are_unknown() {
    for field in [
        "secrets.token",
        "public.secrets.token",
        "token",
        "information_schema.tables.table_name",
        "otherdb.public.users.id",
    ] {
        let e = refused(&json!({"tableName": "users", "selectColumns": [{"field": field}]}));
        assert_eq!(e.kind(), QueryErrorKind::UnknownColumn, "{field}: {e}");
        let e = refused(
            &json!({"tableName": "users", "where": [{"exists": {"tableName": "orders",
            "where": [{"field": field, "op": "isNull"}]}}]}),
        );
        assert_eq!(e.kind(), QueryErrorKind::UnknownColumn, "{field}: {e}");
    }
}

#[test]
fn functions_outside_the_allow_list_are_refused_naming_the_allowed_ones() {
    let denied = [
        "pg_read_file",
        "load_file",
        "LOAD_FILE",
        "set_config",
        "pg_sleep",
        "sleep",
        "dblink",
        "lo_export",
        "pg_terminate_backend",
        "setval",
        "benchmark",
        "version",
        "current_user",
        "sum; DROP TABLE users",
        "count(*) FROM secrets --",
        "pg_catalog.lower",
        "",
    ];
    for name in denied {
        let f = json!({"function": name, "args": [{"value": "/etc/passwd"}]});
        let places = [
            json!({"tableName": "users", "selectColumns": [f]}),
            json!({"tableName": "users", "where": [{"left": f, "op": "=", "value": 1}]}),
            json!({"tableName": "users", "groupBy": [f]}),
            json!({"tableName": "users", "orderBy": [f]}),
            json!({"tableName": "users", "selectColumns": [{"function": "lower", "args": [f]}]}),
            json!({"tableName": "users", "selectColumns": [{"operation": "add", "left": {"value": 1}, "right": f}]}),
            json!({"tableName": "users", "where": [{"exists": {"tableName": "orders", "selectColumns": [f]}}]}),
            json!({"with": [{"name": "c", "query": {"tableName": "users", "selectColumns": [f]}}], "tableName": "c"}),
        ];
        for args in places {
            let e = refused(&args);
            if name.is_empty() {
                continue;
            }
            assert_eq!(e.kind(), QueryErrorKind::UnknownFunction, "{args}: {e}");
            assert!(e.path().ends_with("function"), "{}", e.path());
            assert!(
                e.message().contains(&FUNCTIONS.join(", ")),
                "the error lists the allowed functions: {e}"
            );
        }
    }
    // Not a function either: a table-valued call in tableName is an unknown table.
    let e = refused(&json!({"tableName": "pg_ls_dir('.')"}));
    assert_eq!(e.kind(), QueryErrorKind::UnknownTable);
}

#[test]
fn the_row_cap_holds_for_every_shape() {
    let id = json!([{"field": "id"}]);
    let shapes = [
        json!({"tableName": "users", "limit": 1_000_000}),
        json!({"tableName": "users", "selectColumns": id, "combine": [{"type": "unionAll", "query": {"tableName": "orders", "selectColumns": id, "limit": 1_000_000}}]}),
        json!({"tableName": "users", "selectColumns": id, "limit": 1_000_000, "orderBy": [{"field": "id"}],
            "combine": [{"type": "union", "query": {"tableName": "orders", "selectColumns": id}}]}),
        json!({"with": [{"name": "c", "query": {"tableName": "users", "limit": 1_000_000}}], "tableName": "c", "limit": 1_000_000}),
        json!({"tableName": "users", "joins": [{"subquery": {"tableName": "orders", "limit": 1_000_000}, "alias": "t",
            "on": [{"field": "t.customer_id", "op": "=", "otherField": "users.id"}]}]}),
        json!({"tableName": "users", "selectColumns": id, "combine": [{"type": "intersect", "query": {"tableName": "orders",
            "selectColumns": id, "combine": [{"type": "union", "query": {"tableName": "sales.orders", "selectColumns": id, "limit": 1_000_000}}]}}]}),
    ];
    for args in shapes {
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            let sql = render(&args, dialect).0;
            assert!(sql.ends_with(" LIMIT 101"), "{dialect:?}: {sql}");
        }
    }
    let with_offset = json!({"tableName": "users", "limit": 7, "offset": 3, "selectColumns": id,
        "combine": [{"type": "union", "query": {"tableName": "orders", "selectColumns": id, "limit": 1_000_000}}]});
    assert!(pg(&with_offset).0.ends_with(" LIMIT 7 OFFSET 3"));
}

#[test]
fn query_size_is_bounded_in_every_direction() {
    let users = json!({"tableName": "users", "selectColumns": [{"field": "id"}]});
    let too_large = |args: Value, needle: &str| {
        let e = refused(&args);
        assert_eq!(e.kind(), QueryErrorKind::TooLarge, "{e}");
        assert!(e.message().contains(needle), "{needle}: {e}");
    };

    // Queries nest MAX_QUERY_DEPTH levels, the main one included.
    let nest = |levels: usize| {
        let mut q = users.clone();
        for _ in 1..levels {
            q = json!({"tableName": "users", "where": [{"exists": q}]});
        }
        q
    };
    pg(&nest(MAX_QUERY_DEPTH));
    too_large(
        nest(MAX_QUERY_DEPTH + 1),
        &format!("at most {MAX_QUERY_DEPTH} levels"),
    );

    let exists = json!({"exists": users});
    pg(&json!({"tableName": "users", "where": vec![exists.clone(); MAX_SUBQUERIES]}));
    too_large(
        json!({"tableName": "users", "where": vec![exists; MAX_SUBQUERIES + 1]}),
        &format!("at most {MAX_SUBQUERIES} subqueries"),
    );

    let join = json!({"type": "cross", "table": "sales.orders"});
    let joins: Vec<Value> = (0..=MAX_JOINS)
        .map(|i| {
            let mut j = join.clone();
            j["alias"] = json!(format!("s{i}"));
            j
        })
        .collect();
    pg(&json!({"tableName": "users", "joins": joins[..MAX_JOINS]}));
    too_large(
        json!({"tableName": "users", "joins": joins}),
        &format!("at most {MAX_JOINS} joins"),
    );

    let ctes: Vec<Value> = (0..=MAX_CTES)
        .map(|i| json!({"name": format!("c{i}"), "query": users}))
        .collect();
    pg(&json!({"with": ctes[..MAX_CTES], "tableName": "c0"}));
    too_large(
        json!({"with": ctes, "tableName": "c0"}),
        &format!("at most {MAX_CTES} common table expressions"),
    );

    let combined = json!({"type": "unionAll", "query": users});
    pg(
        &json!({"tableName": "users", "selectColumns": [{"field": "id"}], "combine": vec![combined.clone(); MAX_COMBINE]}),
    );
    too_large(
        json!({"tableName": "users", "selectColumns": [{"field": "id"}], "combine": vec![combined; MAX_COMBINE + 1]}),
        &format!("at most {MAX_COMBINE} queries"),
    );

    let mut deep = json!({"field": "age"});
    for _ in 1..MAX_EXPRESSION_DEPTH {
        deep = json!({"function": "abs", "args": [deep]});
    }
    pg(&json!({"tableName": "users", "selectColumns": [deep.clone()]}));
    too_large(
        json!({"tableName": "users", "selectColumns": [{"function": "abs", "args": [deep]}]}),
        &format!("at most {MAX_EXPRESSION_DEPTH} levels"),
    );

    let many: Vec<Value> = (0..MAX_ARGS).map(|_| json!({"field": "age"})).collect();
    pg(&json!({"tableName": "users", "selectColumns": [{"function": "coalesce", "args": many}]}));
    let item = json!({"function": "coalesce", "args": many});
    too_large(
        json!({"tableName": "users", "selectColumns": vec![item; MAX_EXPRESSIONS / MAX_ARGS]}),
        &format!("at most {MAX_EXPRESSIONS} expressions"),
    );
    let e = refused(
        &json!({"tableName": "users", "selectColumns": [{"function": "coalesce",
        "args": vec![json!({"value": 1}); MAX_ARGS + 1]}]}),
    );
    assert!(
        e.message().contains("coalesce takes at least 1 argument"),
        "{e}"
    );

    too_large(
        json!({"tableName": "users", "groupBy": vec![json!({"field": "age"}); MAX_GROUP_ITEMS + 1]}),
        &format!("at most {MAX_GROUP_ITEMS} groupBy"),
    );
}

#[test]
fn deeply_nested_json_is_refused_without_deep_recursion() {
    // Each shape nests far deeper than any bound; parsing stops at the first bound it meets.
    let depth = 5_000;
    let object = |pairs: Vec<(&str, Value)>| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let mut group = json!({"field": "id", "op": "isNull"});
    let mut expr = json!({"field": "id"});
    let mut case = json!({"value": 1});
    let mut query = json!({"tableName": "users"});
    for _ in 0..depth {
        // Built by moving, not with json!, which would copy the nested value each time.
        group = object(vec![("group", Value::Array(vec![group]))]);
        expr = object(vec![
            ("operation", json!("add")),
            ("left", expr),
            ("right", json!({"value": 1})),
        ]);
        let when = object(vec![("left", case), ("op", json!("isNull"))]);
        let branch = object(vec![
            ("when", Value::Array(vec![when])),
            ("then", json!({"value": 1})),
        ]);
        case = object(vec![("case", Value::Array(vec![branch]))]);
        let exists = object(vec![("exists", query)]);
        query = object(vec![
            ("tableName", json!("users")),
            ("where", Value::Array(vec![exists])),
        ]);
    }
    for args in [
        object(vec![
            ("tableName", json!("users")),
            ("where", Value::Array(vec![group])),
        ]),
        object(vec![
            ("tableName", json!("users")),
            ("selectColumns", Value::Array(vec![expr])),
        ]),
        object(vec![
            ("tableName", json!("users")),
            ("selectColumns", Value::Array(vec![case])),
        ]),
        query,
    ] {
        let e = refused(&args);
        assert_eq!(e.kind(), QueryErrorKind::TooLarge, "{e}");
        // Dropping a value this deep recurses too; do it on a thread with a large stack.
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || drop(args))
            .unwrap()
            .join()
            .unwrap();
    }
    // The overall guard catches what the specific bounds allow in combination.
    let mut mixed = json!({"field": "id", "op": "isNull"});
    for i in 0..MAX_NESTING {
        mixed = if i % 2 == 0 {
            object(vec![("group", Value::Array(vec![mixed]))])
        } else {
            let branch = object(vec![
                ("when", Value::Array(vec![mixed])),
                ("then", json!({"value": 1})),
            ]);
            object(vec![
                ("left", object(vec![("case", Value::Array(vec![branch]))])),
                ("op", json!("isNull")),
            ])
        };
    }
    let e = refused(&json!({"tableName": "users", "where": [mixed]}));
    assert_eq!(e.kind(), QueryErrorKind::TooLarge, "{e}");
}

#[test]
fn emulations_cannot_blow_up_the_statement() {
    // SQLite's floor repeats its argument three times: nested, that grows as 3^depth.
    let mut x = json!({"field": "age"});
    for _ in 1..MAX_EXPRESSION_DEPTH {
        x = json!({"function": "floor", "args": [x]});
    }
    let args = json!({"tableName": "users", "selectColumns": [x]});
    pg(&args);
    let e = try_plan(&args, Dialect::Sqlite).unwrap_err();
    assert_eq!(e.kind(), QueryErrorKind::TooLarge, "{e}");
    assert!(e.message().contains("too large"), "{e}");
}

/// A plan says when it reads a view, wherever the view is named (the caller then withholds
/// the database's plan, which would show the view's definition).
#[test]
fn a_plan_says_whether_it_reads_a_view_anywhere() {
    let mut tables = crate::corpus::tables();
    let mut view = crate::corpus::table("sales.eu", "big_orders", &[("id", "integer")]);
    view.kind = db_configs::RelationKind::View;
    tables.push(view);
    let catalog = Catalog::new(tables, crate::corpus::DEFAULT_SCHEMA);
    let reads_view = |arguments: serde_json::Value| {
        let query = Query::parse(&arguments).unwrap();
        plan(&query, &catalog, Dialect::Postgres, MAX_ROWS)
            .unwrap_or_else(|e| panic!("{arguments}: {e}"))
            .reads_view
    };
    let view = "sales.eu.big_orders";
    assert!(!reads_view(serde_json::json!({"tableName": "users"})));
    assert!(reads_view(serde_json::json!({"tableName": view})));
    assert!(reads_view(
        serde_json::json!({"tableName": "users", "where": [{"field": "id", "op": "in", "subquery": {"tableName": view, "selectColumns": [{"field": "id"}]}}]})
    ));
    assert!(reads_view(
        serde_json::json!({"with": [{"name": "v", "query": {"tableName": view}}], "tableName": "v"})
    ));
    assert!(reads_view(
        serde_json::json!({"tableName": "users", "alias": "u", "joins": [{"type": "cross", "table": view, "alias": "b"}]})
    ));
}
