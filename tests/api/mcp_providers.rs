//! `POST /mcp` on every provider (PostgreSQL, MariaDB, SQLite): one body per scenario, run
//! once per engine against the same shop dataset. Covers injection through tool arguments,
//! the HTTP exposure of the endpoint, time limits cancelled on the server, row and byte caps,
//! and how values decode.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Engine, McpAgent, PASSWORD, SHOP_HUGE_ORDER, SHOP_NOTE_CHARS, SHOP_NOTED_ORDERS, SHOP_ORDERS,
    SHOP_SECRET, ShopTarget, TestApp, spawn_app, spawn_app_with,
};

/// One `#[tokio::test]` per provider for a scenario `async fn(Engine)`.
macro_rules! on_every_provider {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use crate::helpers::Engine;

            #[tokio::test]
            async fn postgresql() {
                super::$scenario(Engine::Postgres).await;
            }

            #[tokio::test]
            async fn mariadb() {
                super::$scenario(Engine::Maria).await;
            }

            #[tokio::test]
            async fn sqlite() {
                super::$scenario(Engine::Sqlite).await;
            }
        }
    )*};
}

on_every_provider!(
    values_over_the_grant_decode_with_their_json_types,
    injection_through_tool_arguments_reaches_nothing,
    a_query_past_its_time_limit_is_cancelled_on_the_server,
    the_row_cap_holds_through_limits_unions_and_ctes,
    the_byte_cap_cuts_big_text_between_rows,
    explain_query_shows_the_plan_without_running_it,
);

/// A fresh shop on `engine`, registered, and a key with `grants` for it. The whitelist
/// defaults to customers and orders (never secrets).
async fn shop_agent(app: &TestApp, engine: Engine, mut grants: Value) -> (ShopTarget, String) {
    let shop = ShopTarget::new(engine).await;
    let token = app.admin_token().await;
    if grants.get("tableWhitelist").is_none() {
        grants["tableWhitelist"] = json!([shop.qualified("customers"), shop.qualified("orders")]);
    }
    let key = app.shop_key(&token, &shop, grants).await;
    (shop, key)
}

fn rows(result: &Value) -> &Vec<Value> {
    result["structuredContent"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("a result with rows: {result}"))
}

/// Asserts a successful query and returns it.
async fn query(agent: &McpAgent<'_>, engine: Engine, args: Value) -> Value {
    let result = agent.call("execute_query_safe", args.clone()).await;
    assert_eq!(result["isError"], false, "{engine:?}: {args} -> {result}");
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap())
        .expect("the text block is JSON");
    assert_eq!(
        text, result["structuredContent"],
        "{engine:?}: the text block repeats the structured result"
    );
    result
}

/// SQLite keeps timestamps as the text written (`2024-01-02 03:04:05`); the servers send
/// ISO 8601 (`2024-01-02T03:04:05`).
fn timestamp(engine: Engine, iso: &str) -> Value {
    match engine {
        Engine::Sqlite => json!(iso.replacen('T', " ", 1)),
        Engine::Postgres | Engine::Maria => json!(iso),
    }
}

async fn values_over_the_grant_decode_with_their_json_types(engine: Engine) {
    let app = spawn_app().await;
    let (shop, key) = shop_agent(&app, engine, json!({})).await;
    let agent = McpAgent { app: &app, key };

    let schemas = agent.call("get_schemas", json!({})).await;
    assert_eq!(
        schemas["structuredContent"]["schemas"],
        json!([{"name": shop.schema, "tableCount": 2}]),
        "{engine:?}: secrets is readable by the login but not granted"
    );
    let tables = agent.call("get_tables", json!({})).await;
    let listed: Vec<&str> = tables["structuredContent"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["customers", "orders"], "{engine:?}");

    let customers = query(
        &agent,
        engine,
        json!({"tableName": shop.qualified("customers"),
               "selectColumns": [{"field": "id"}, {"field": "name"}, {"field": "email"}, {"field": "balance"}, {"field": "joined_at"}],
               "orderBy": [{"field": "id"}]}),
    )
    .await;
    assert_eq!(
        customers["structuredContent"]["rows"],
        json!([
            [
                1,
                "Ada Lovelace",
                "ada@example.com",
                12.5,
                timestamp(engine, "2024-01-02T03:04:05")
            ],
            [
                2,
                "Zoë O'Brien ✓",
                null,
                0.1,
                timestamp(engine, "2023-12-31T23:59:59")
            ],
            [
                3,
                "Edsger",
                "edsger@example.com",
                -7.25,
                timestamp(engine, "2024-02-29T12:00:00")
            ],
        ]),
        "{engine:?}: ints, text, null, decimals and timestamps keep their JSON types"
    );
    assert_eq!(customers["structuredContent"]["truncated"], false);
    let columns: Vec<&str> = customers["structuredContent"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["id", "name", "email", "balance", "joined_at"],
        "{engine:?}"
    );

    let totals = query(
        &agent,
        engine,
        json!({"tableName": "orders",
               "selectColumns": [{"function": "count", "args": [], "alias": "n"},
                                 {"function": "sum", "args": [{"field": "amount"}], "alias": "total"},
                                 {"function": "max", "args": [{"field": "placed_at"}], "alias": "latest"}]}),
    )
    .await;
    let row = &rows(&totals)[0];
    assert_eq!(
        row[0],
        json!(SHOP_ORDERS),
        "{engine:?}: count is an integer"
    );
    // The sum of `id + 0.5` over every order is exact in binary, so even SQLite's REAL sum is.
    let expected = (SHOP_ORDERS * (SHOP_ORDERS + 1) / 2) as f64 + SHOP_ORDERS as f64 / 2.0;
    assert_eq!(row[1].as_f64(), Some(expected), "{engine:?}: {row}");
    assert_eq!(
        row[2],
        timestamp(engine, "2024-03-01T10:59:00"),
        "{engine:?}"
    );

    // A bound value with a quote and non-ASCII letters, through a join.
    let joined = query(
        &agent,
        engine,
        json!({"tableName": "orders", "alias": "o",
               "selectColumns": [{"field": "c.name"}, {"function": "count", "args": [], "alias": "n"}],
               "joins": [{"type": "inner", "table": "customers", "alias": "c",
                          "on": [{"field": "o.customer_id", "op": "=", "otherField": "c.id"}]}],
               "where": [{"field": "c.name", "op": "=", "value": "Zoë O'Brien ✓"}],
               "groupBy": [{"field": "c.name"}]}),
    )
    .await;
    let orders_of_2 = (1..=SHOP_ORDERS).filter(|i| 1 + i % 3 == 2).count();
    assert_eq!(
        joined["structuredContent"]["rows"],
        json!([["Zoë O'Brien ✓", orders_of_2]]),
        "{engine:?}"
    );

    let nulls = query(
        &agent,
        engine,
        json!({"tableName": "customers", "selectColumns": [{"field": "id"}],
               "where": [{"field": "email", "op": "isNull"}]}),
    )
    .await;
    assert_eq!(
        nulls["structuredContent"]["rows"],
        json!([[2]]),
        "{engine:?}"
    );
}

/// Table names (for `tableName`, joins and subqueries) that must reach nothing: injections,
/// quoting, lookalikes, tables outside the grant and catalogs of every engine.
fn hostile_tables(shop: &ShopTarget) -> Vec<String> {
    let mut names: Vec<String> = [
        "orders; DROP TABLE customers",
        "orders; DROP TABLE customers; --",
        "orders\"; DROP TABLE customers; --",
        "orders`; DROP TABLE customers; --",
        "orders'; DROP TABLE customers; --",
        "orders -- ",
        "orders/*",
        "orders /* */ UNION SELECT * FROM secrets",
        "\"orders\"",
        "`orders`",
        "[orders]",
        "'orders'",
        "orders\0",
        "\0orders",
        "оrders",
        "orders\u{200b}",
        "ｏｒｄｅｒｓ",
        " orders",
        "orders ",
        "orders.",
        ".orders",
        "secrets",
        "SECRETS",
        "Secrets",
        "information_schema.tables",
        "INFORMATION_SCHEMA.TABLES",
        "pg_catalog.pg_user",
        "pg_catalog.pg_authid",
        "pg_user",
        "mysql.user",
        "performance_schema.threads",
        "sqlite_master",
        "main.sqlite_master",
        "sqlite_schema",
        "temp.sqlite_master",
        "public.orders",
        "other.orders",
        "sluice.mcp_keys",
        "",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for t in ["secrets", "SECRETS"] {
        names.push(format!("{}.{t}", shop.schema));
        names.push(format!("{}.{t}", shop.schema.to_uppercase()));
    }
    names.push(format!("\"{}\".\"orders\"", shop.schema));
    names.push(format!("{}.orders; DROP TABLE customers", shop.schema));
    names.push(format!("{}.orders.id", shop.schema));
    names
}

/// Column names and expressions that must name nothing.
const HOSTILE_COLUMNS: &[&str] = &[
    "id; DROP TABLE customers",
    "id); DROP TABLE customers; --",
    "\"id\"",
    "`id`",
    "id--",
    "id/*",
    "id\0",
    "іd",
    "*",
    "token",
    "secrets.token",
    "1",
    "id, token",
    "(SELECT token FROM secrets)",
    "o.id\" FROM secrets --",
];

/// Aliases (select items, tables, joins, CTEs) that are not plain names.
const HOSTILE_ALIASES: &[&str] = &[
    "x\"; DROP TABLE customers; --",
    "x`; DROP TABLE customers; --",
    "x'; --",
    "x y",
    "x;",
    "x--",
    "x/*",
    "x\0",
    "х",
    "1x",
    "",
];

/// A refused call: an `isError` result that says something, or a JSON-RPC -32602; nothing
/// of the secrets table in either.
fn assert_refused(engine: Engine, what: &str, body: &Value) {
    let text = body.to_string();
    assert!(
        !text.contains(SHOP_SECRET),
        "{engine:?}: {what} leaked the secret: {text}"
    );
    if let Some(error) = body.get("error") {
        assert_eq!(error["code"], -32602, "{engine:?}: {what}: {body}");
        return;
    }
    let result = &body["result"];
    assert_eq!(result["isError"], true, "{engine:?}: {what}: {body}");
    assert!(
        result.get("structuredContent").is_none(),
        "{engine:?}: {what}: an error carries no rows: {body}"
    );
    let message = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        message.len() > 10,
        "{engine:?}: {what}: the error says what to fix: {body}"
    );
}

async fn injection_through_tool_arguments_reaches_nothing(engine: Engine) {
    let app = spawn_app().await;
    let (shop, key) = shop_agent(&app, engine, json!({"rateLimitPerMinute": 100000})).await;
    let agent = McpAgent { app: &app, key };
    let orders = shop.qualified("orders");

    for name in hostile_tables(&shop) {
        let shown = format!("table {name:?}");
        let calls = [
            ("execute_query_safe", json!({"tableName": name})),
            (
                "execute_query_safe",
                json!({"tableName": orders, "joins": [{"type": "cross", "table": name, "alias": "t"}]}),
            ),
            (
                "execute_query_safe",
                json!({"tableName": orders, "where": [{"exists": {"tableName": name}}]}),
            ),
            (
                "execute_query_safe",
                json!({"tableName": orders, "selectColumns": [{"subquery": {"tableName": name, "selectColumns": [{"function": "count", "args": []}]}, "alias": "n"}]}),
            ),
            (
                "execute_query_safe",
                json!({"tableName": orders, "combine": [{"type": "unionAll", "query": {"tableName": name}}]}),
            ),
            ("get_columns", json!({"tableName": name})),
            (
                "get_columns",
                json!({"schemaName": name, "tableName": "orders"}),
            ),
            ("get_tables", json!({"schemaName": name})),
        ];
        for (tool, args) in calls {
            let body = agent.call_raw(tool, args.clone()).await;
            assert_refused(engine, &format!("{tool} {shown} {args}"), &body);
        }
    }

    for column in HOSTILE_COLUMNS {
        let shown = format!("column {column:?}");
        for args in [
            json!({"tableName": orders, "selectColumns": [{"field": column}]}),
            json!({"tableName": orders, "where": [{"field": column, "op": "=", "value": 1}]}),
            json!({"tableName": orders, "orderBy": [{"field": column}]}),
            json!({"tableName": orders, "selectColumns": [{"field": "id"}], "groupBy": [{"field": column}]}),
            json!({"tableName": orders, "where": [{"field": "id", "op": "=", "otherField": column}]}),
        ] {
            let body = agent.call_raw("execute_query_safe", args.clone()).await;
            assert_refused(engine, &format!("{shown} {args}"), &body);
        }
    }

    for alias in HOSTILE_ALIASES {
        let shown = format!("alias {alias:?}");
        for args in [
            json!({"tableName": orders, "selectColumns": [{"field": "id", "alias": alias}]}),
            json!({"tableName": orders, "alias": alias}),
            json!({"tableName": orders, "joins": [{"type": "cross", "table": shop.qualified("customers"), "alias": alias}]}),
            json!({"tableName": alias, "with": [{"name": alias, "query": {"tableName": orders}}]}),
        ] {
            let body = agent.call_raw("execute_query_safe", args.clone()).await;
            assert_refused(engine, &format!("{shown} {args}"), &body);
        }
    }

    // Tool names are not SQL either.
    for tool in [
        "execute_query_safe; DROP TABLE customers",
        "EXECUTE_QUERY_SAFE",
        "execute_query_safe\0",
    ] {
        let body = agent.call_raw(tool, json!({"tableName": orders})).await;
        assert_eq!(
            body["error"]["code"], -32602,
            "{engine:?}: {tool:?}: {body}"
        );
    }

    // SQL in a value is bound: it matches nothing (or the database refuses the value).
    for value in [
        "x' OR '1'='1",
        "'; DROP TABLE customers; --",
        "Ada Lovelace' --",
        "\" OR \"\"=\"",
        "%' OR 1=1 --",
        "Ada Lovelace\0",
        "' UNION SELECT token FROM secrets --",
    ] {
        // A NUL is no SQL, yet engines treat it their own way: PostgreSQL refuses it in
        // text, MariaDB's collation ignores it and SQLite's LIKE stops at it. Only that it
        // reaches nothing outside the grant is checked for it.
        let nul = value.contains('\0');
        for op in ["=", "contains", "startsWith", "like"] {
            let args = json!({"tableName": shop.qualified("customers"), "selectColumns": [{"field": "id"}],
                              "where": [{"field": "name", "op": op, "value": value}]});
            let body = agent.call_raw("execute_query_safe", args.clone()).await;
            assert!(
                !body.to_string().contains(SHOP_SECRET),
                "{engine:?}: {body}"
            );
            let result = &body["result"];
            if nul {
                assert!(
                    result["isError"] == true || rows(result).len() <= 1,
                    "{engine:?}: {args}: {body}"
                );
            } else {
                assert_eq!(result["isError"], false, "{engine:?}: {args}: {body}");
                assert_eq!(rows(result), &Vec::<Value>::new(), "{engine:?}: {args}");
            }
        }
    }
    let in_list = agent
        .call_raw(
            "execute_query_safe",
            json!({"tableName": shop.qualified("customers"), "selectColumns": [{"field": "id"}],
                   "where": [{"field": "name", "op": "in", "value": ["x') OR ('1'='1", "Edsger"]}]}),
        )
        .await;
    assert_eq!(rows(&in_list["result"]), &vec![json!([3])], "{engine:?}");

    // Case variants of granted names are the granted tables (unquoted names fold case).
    for name in [
        "ORDERS".to_owned(),
        "Orders".to_owned(),
        orders.to_uppercase(),
    ] {
        let result = query(
            &agent,
            engine,
            json!({"tableName": name, "selectColumns": [{"field": "ID"}], "orderBy": [{"field": "Id"}], "limit": 1}),
        )
        .await;
        assert_eq!(rows(&result), &vec![json!([1])], "{engine:?}: {name}");
    }

    // Nothing changed on the database.
    assert_eq!(shop.count("customers").await, 3, "{engine:?}");
    assert_eq!(shop.count("orders").await, SHOP_ORDERS, "{engine:?}");
    assert_eq!(shop.count("secrets").await, 1, "{engine:?}");
}

async fn a_query_past_its_time_limit_is_cancelled_on_the_server(engine: Engine) {
    let app = spawn_app().await;
    let (shop, key) = shop_agent(&app, engine, json!({"timeoutMs": 300})).await;
    let agent = McpAgent { app: &app, key };
    let orders = shop.qualified("orders");
    // Warm up: the snapshot and the pool, so the time below is the query's.
    query(&agent, engine, json!({"tableName": orders, "limit": 1})).await;

    // SHOP_ORDERS^4 rows to count: hours of work.
    let joins: Vec<Value> = ["b", "c", "d"]
        .iter()
        .map(|a| json!({"type": "cross", "table": orders, "alias": a}))
        .collect();
    let started = Instant::now();
    let done = AtomicBool::new(false);
    let call = async {
        let result = agent
            .call(
                "execute_query_safe",
                json!({"tableName": orders, "alias": "a", "joins": joins,
                       "selectColumns": [{"function": "count", "args": [], "alias": "n"}]}),
            )
            .await;
        done.store(true, Ordering::SeqCst);
        (result, started.elapsed())
    };
    // Watches the server while the query runs, so the check afterwards is known to see it.
    let probe = async {
        let mut seen = 0;
        while seen == 0 && !done.load(Ordering::SeqCst) {
            seen = shop.running_statements().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen
    };
    let ((result, took), seen) = tokio::join!(call, probe);
    if engine != Engine::Sqlite {
        assert!(seen > 0, "{engine:?}: the query was seen running");
    }
    assert_eq!(result["isError"], true, "{engine:?}: {result}");
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("300 ms") && text.contains("time limit"),
        "{engine:?}: the error names the limit: {text}"
    );
    assert!(
        took < Duration::from_secs(5),
        "{engine:?}: answered after {took:?} for a 300 ms limit"
    );

    // The statement is gone from the server, not just abandoned by Sluice.
    let mut running = shop.running_statements().await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while running > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        running = shop.running_statements().await;
    }
    assert_eq!(
        running, 0,
        "{engine:?}: the cancelled query still runs on the server"
    );

    // The next query works, and quickly: the connection was not left behind busy.
    let started = Instant::now();
    let after = query(
        &agent,
        engine,
        json!({"tableName": orders, "selectColumns": [{"function": "count", "args": []}]}),
    )
    .await;
    assert_eq!(rows(&after)[0][0], json!(SHOP_ORDERS), "{engine:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{engine:?}: {:?}",
        started.elapsed()
    );
}

async fn the_row_cap_holds_through_limits_unions_and_ctes(engine: Engine) {
    let app = spawn_app().await;
    let (shop, key) = shop_agent(&app, engine, json!({"maxRows": 5})).await;
    let agent = McpAgent { app: &app, key };
    let orders = shop.qualified("orders");
    let ids = json!([{"field": "id"}]);

    let capped = |args: Value| {
        let agent = &agent;
        async move {
            let result = query(agent, engine, args.clone()).await;
            let s = &result["structuredContent"];
            assert_eq!(s["rowCount"], 5, "{engine:?}: {args}: {result}");
            assert_eq!(rows(&result).len(), 5, "{engine:?}: {args}");
            assert_eq!(s["truncated"], true, "{engine:?}: {args}");
            assert_eq!(s["truncatedBy"], "rows", "{engine:?}: {args}");
        }
    };
    capped(json!({"tableName": orders, "selectColumns": ids, "limit": 1000})).await;
    capped(json!({"tableName": orders, "selectColumns": ids})).await;
    capped(json!({"tableName": orders, "selectColumns": ids, "limit": 1000,
                  "combine": [{"type": "unionAll", "query": {"tableName": orders, "selectColumns": ids, "limit": 1000}}]}))
    .await;
    capped(json!({"tableName": orders, "selectColumns": ids, "where": [{"field": "id", "op": "<=", "value": 3}],
                  "combine": [{"type": "unionAll", "query": {"tableName": orders, "selectColumns": ids, "where": [{"field": "id", "op": ">", "value": 197}]}}]}))
    .await;
    capped(json!({"tableName": "big", "selectColumns": ids, "limit": 1000,
                  "with": [{"name": "big", "query": {"tableName": orders, "selectColumns": ids, "limit": 1000}}]}))
    .await;
    capped(json!({"tableName": orders, "alias": "a", "selectColumns": [{"field": "a.id"}], "limit": 1000,
                  "joins": [{"type": "cross", "table": orders, "alias": "b"}]}))
    .await;

    // Exactly the cap is not a cut; fewer rows than asked neither.
    let exact = query(
        &agent,
        engine,
        json!({"tableName": orders, "selectColumns": ids, "where": [{"field": "id", "op": ">", "value": SHOP_ORDERS - 5}], "orderBy": [{"field": "id"}]}),
    )
    .await;
    assert_eq!(
        exact["structuredContent"]["rows"],
        json!([[196], [197], [198], [199], [200]]),
        "{engine:?}"
    );
    assert_eq!(exact["structuredContent"]["truncated"], false, "{engine:?}");
    let few = query(
        &agent,
        engine,
        json!({"tableName": orders, "selectColumns": ids, "orderBy": [{"field": "id", "direction": "desc"}], "limit": 3}),
    )
    .await;
    assert_eq!(
        few["structuredContent"]["rows"],
        json!([[200], [199], [198]]),
        "{engine:?}"
    );
    assert_eq!(few["structuredContent"]["truncated"], false, "{engine:?}");
}

/// The byte cap of the server in the byte-cap scenario.
const MAX_RESULT_BYTES: usize = 8_000;

async fn the_byte_cap_cuts_big_text_between_rows(engine: Engine) {
    let app = spawn_app_with(|s| s.mcp.max_result_bytes = MAX_RESULT_BYTES).await;
    let (shop, key) = shop_agent(&app, engine, json!({})).await;
    let agent = McpAgent { app: &app, key };
    let orders = shop.qualified("orders");

    let res = agent
        .post(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "execute_query_safe", "arguments":
                {"tableName": orders, "selectColumns": [{"field": "id"}, {"field": "note"}],
                 "where": [{"field": "id", "op": "<=", "value": SHOP_NOTED_ORDERS}], "orderBy": [{"field": "id"}]}}}),
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    let raw = res.text().await.unwrap();
    assert!(
        raw.len() < 3 * MAX_RESULT_BYTES,
        "{engine:?}: a {} byte response for a {MAX_RESULT_BYTES} byte cap",
        raw.len()
    );
    let body: Value = serde_json::from_str(&raw).unwrap();
    let result = &body["result"];
    assert_eq!(result["isError"], false, "{engine:?}: {result}");
    let s = &result["structuredContent"];
    assert_eq!(s["truncated"], true, "{engine:?}");
    assert_eq!(s["truncatedBy"], "bytes", "{engine:?}");
    let kept = rows(result);
    assert!(
        !kept.is_empty() && kept.len() < SHOP_NOTED_ORDERS as usize,
        "{engine:?}: {} rows",
        kept.len()
    );
    assert_eq!(s["rowCount"], kept.len(), "{engine:?}");
    let size = serde_json::to_string(kept).unwrap().len();
    assert!(
        size <= MAX_RESULT_BYTES,
        "{engine:?}: {size} bytes of rows for a {MAX_RESULT_BYTES} byte cap"
    );
    for (i, row) in kept.iter().enumerate() {
        assert_eq!(row[0], json!(i + 1), "{engine:?}: the first rows, in order");
        let note = row[1].as_str().unwrap();
        assert_eq!(
            note.len(),
            SHOP_NOTE_CHARS,
            "{engine:?}: rows are cut, never cells"
        );
        assert!(note.starts_with(&format!("{:04}", i + 1)), "{engine:?}");
    }

    // One cell larger than the cap: no row fits, and the result says why.
    let huge = query(
        &agent,
        engine,
        json!({"tableName": orders, "selectColumns": [{"field": "id"}, {"field": "note"}],
               "where": [{"field": "id", "op": "=", "value": SHOP_HUGE_ORDER}]}),
    )
    .await;
    assert_eq!(huge["structuredContent"]["rows"], json!([]), "{engine:?}");
    assert_eq!(
        huge["structuredContent"]["truncatedBy"], "bytes",
        "{engine:?}"
    );
    assert!(
        !huge.to_string().contains("hhhhhhhhhhhhhhhh"),
        "{engine:?}: nothing of the huge cell is sent"
    );

    // Small values fit: every id, uncut.
    let small = query(
        &agent,
        engine,
        json!({"tableName": orders, "selectColumns": [{"field": "id"}]}),
    )
    .await;
    assert_eq!(
        small["structuredContent"]["rowCount"], SHOP_ORDERS,
        "{engine:?}"
    );
    assert_eq!(small["structuredContent"]["truncated"], false, "{engine:?}");
}

/// No response may allow any origin, and none may pair `*` with credentials.
fn assert_cors_safe(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    let allow = h
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap());
    assert_ne!(allow, Some("*"), "{what}: Access-Control-Allow-Origin: *");
    if h.contains_key("access-control-allow-credentials") {
        assert!(
            allow.is_some_and(|a| a != "*"),
            "{what}: credentials need a named origin"
        );
    }
}

#[tokio::test]
async fn the_endpoint_answers_only_granted_tools_hosts_and_origins() {
    assert!(
        server::config::Settings::default()
            .listen
            .ip()
            .is_loopback(),
        "Sluice listens on loopback unless told otherwise"
    );
    let app = spawn_app_with(|s| {
        s.mcp.allowed_hosts = vec!["mcp.example.com".into()];
        s.mcp.allowed_origins = vec!["https://global.example.com".into()];
    })
    .await;
    let shop = ShopTarget::new(Engine::Sqlite).await;
    let token = app.admin_token().await;
    let narrow = app
        .shop_key(
            &token,
            &shop,
            json!({"tableWhitelist": ["*"], "allowedTools": ["get_tables"], "allowedOrigins": ["https://agent.example.com"]}),
        )
        .await;
    let dbs = app
        .json(Method::GET, "/api/database-configs", &token, None)
        .await;
    let db = dbs["data"][0]["id"].as_str().unwrap();
    let issued = app
        .json(
            Method::POST,
            "/api/mcp-keys",
            &token,
            Some(&json!({"name": "wide", "dbManagementId": db, "tableWhitelist": ["*"]})),
        )
        .await;
    let wide = issued["keyValue"].as_str().unwrap().to_owned();
    let narrow = McpAgent {
        app: &app,
        key: narrow,
    };
    let wide = McpAgent {
        app: &app,
        key: wide,
    };
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});

    // A tool the key was not granted is neither listed nor callable, in either era.
    assert_eq!(narrow.tool_names().await, ["get_tables"]);
    assert_eq!(
        wide.tool_names().await,
        [
            "get_schemas",
            "get_tables",
            "get_columns",
            "execute_query_safe",
            "explain_query"
        ]
    );
    for tool in ["execute_query_safe", "get_schemas", "get_columns"] {
        let body = narrow.call_raw(tool, json!({"tableName": "orders"})).await;
        assert_eq!(body["error"]["code"], -32602, "{tool}: {body}");
        assert!(body.get("result").is_none());
    }
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let res = narrow
        .post(
            &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "execute_query_safe", "arguments": {"tableName": "orders"}, "_meta": meta}}),
            &[
                ("MCP-Protocol-Version", "2026-07-28"),
                ("Mcp-Method", "tools/call"),
                ("Mcp-Name", "execute_query_safe"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400, "the modern era refuses it too");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32602);
    assert_eq!(narrow.call("get_tables", json!({})).await["isError"], false);

    // The key in `Authorization: Bearer` works like the header; other schemes do not.
    let send = |key: Option<(&str, String)>, headers: Vec<(&'static str, &'static str)>| {
        let mut req = app.client.post(app.url("/mcp")).json(&ping);
        if let Some((name, value)) = key {
            req = req.header(name, value);
        }
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let res = send(
        Some(("Authorization", format!("Bearer {}", wide.key))),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let res = send(
        Some(("Authorization", format!("Basic {}", wide.key))),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 401, "only Bearer carries a key");
    let res = send(Some(("X-MCP-Server-Key", String::new())), vec![])
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "an empty key");
    assert!(res.headers().contains_key("www-authenticate"));
    assert_cors_safe(&res, "401");

    // Without a key, a foreign origin learns nothing more than 403.
    let res = send(None, vec![("Origin", "https://evil.example.com")])
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    // Origins: the key's own, the server's, loopback; nothing that merely looks alike.
    for (agent, origin, status) in [
        (&narrow, "https://agent.example.com", 200),
        (&narrow, "https://global.example.com", 200),
        (&wide, "https://global.example.com", 200),
        (&wide, "http://localhost:6274", 200),
        (&wide, "http://127.0.0.1:3000", 200),
        (&wide, "https://agent.example.com", 403),
        (&narrow, "http://agent.example.com", 403),
        (&narrow, "https://agent.example.com:8443", 403),
        (&narrow, "https://agent.example.com.evil.com", 403),
        (&narrow, "https://evil.com/https://agent.example.com", 403),
        (&narrow, "https://evilagent.example.com", 403),
        (&narrow, "null", 403),
        (&narrow, "file://", 403),
        (&wide, "http://localhost.evil.com", 403),
        (&wide, "https://global.example.com.evil.com", 403),
    ] {
        let res = agent.post(&ping, &[("Origin", origin)]).await;
        let what = format!("Origin {origin}");
        assert_eq!(res.status(), status, "{what}");
        assert_cors_safe(&res, &what);
        let allow = res
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        if status == 200 {
            assert_eq!(allow.as_deref(), Some(origin), "{what}: echoed");
            assert_eq!(res.headers()["vary"], "Origin", "{what}");
        } else {
            assert_eq!(allow, None, "{what}: a refused origin is not echoed");
        }
    }

    // Hosts: loopback names and the configured one; no lookalike.
    for (host, status) in [
        ("mcp.example.com", 200),
        ("MCP.Example.com:443", 200),
        ("localhost:8080", 200),
        ("[::1]:8080", 200),
        ("mcp.example.com.evil.com", 403),
        ("localhost.evil.com", 403),
        ("evil.com", 403),
        ("127.0.0.1.nip.io", 403),
    ] {
        let res = wide.post(&ping, &[("Host", host)]).await;
        assert_eq!(res.status(), status, "Host {host}");
    }

    // Preflights name the origin, never `*`, and do not invite credentials with it.
    for origin in ["https://agent.example.com", "https://evil.example.com"] {
        let res = app
            .client
            .request(Method::OPTIONS, app.url("/mcp"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "x-mcp-server-key")
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "preflight from {origin}");
        assert_cors_safe(&res, &format!("preflight from {origin}"));
    }
}

/// `explain_query` takes `execute_query_safe`'s arguments, keeps to the same grant, and asks
/// the database for its plan without running the query: a join far past the time limit is
/// explained at once.
async fn explain_query_shows_the_plan_without_running_it(engine: Engine) {
    let app = spawn_app().await;
    let (shop, key) = shop_agent(&app, engine, json!({"timeoutMs": 300})).await;
    let agent = McpAgent { app: &app, key };
    let orders = shop.qualified("orders");

    let result = agent
        .call(
            "explain_query",
            json!({"tableName": orders, "where": [{"field": "customer_id", "op": "=", "value": 2}], "limit": 10}),
        )
        .await;
    assert_eq!(result["isError"], false, "{engine:?}: {result}");
    let plan = &result["structuredContent"];
    assert!(
        plan["sql"].as_str().unwrap().contains("orders"),
        "{engine:?}: {plan}"
    );
    match engine {
        Engine::Postgres => {
            assert_eq!(plan["format"], "json");
            assert!(plan["plan"][0]["Plan"]["Node Type"].is_string(), "{plan}");
            assert!(
                plan["totalCost"].as_f64().is_some_and(|c| c > 0.0),
                "{plan}"
            );
        }
        Engine::Maria => {
            assert_eq!(plan["format"], "json");
            assert!(plan["plan"]["query_block"].is_object(), "{plan}");
        }
        Engine::Sqlite => {
            assert_eq!(plan["format"], "text");
            assert!(
                plan["plan"].as_str().is_some_and(|p| p.contains("orders")),
                "{plan}"
            );
            assert_eq!(plan["totalCost"], Value::Null);
        }
    }

    // Four copies of orders cross-joined: far past 300 ms when run (see the timeout test),
    // planned at once.
    let joins: Vec<Value> = ["b", "c", "d"]
        .iter()
        .map(|a| json!({"type": "cross", "table": orders, "alias": a}))
        .collect();
    let started = Instant::now();
    let explained = agent
        .call(
            "explain_query",
            json!({"tableName": orders, "alias": "a", "selectColumns": [{"function": "count", "args": [], "alias": "n"}], "joins": joins}),
        )
        .await;
    assert_eq!(explained["isError"], false, "{engine:?}: {explained}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{engine:?}: it ran"
    );

    // The grant holds as for queries, in the same words.
    let hidden = agent
        .call(
            "explain_query",
            json!({"tableName": shop.qualified("secrets")}),
        )
        .await;
    let query = agent
        .call(
            "execute_query_safe",
            json!({"tableName": shop.qualified("secrets")}),
        )
        .await;
    assert_eq!(hidden["isError"], true);
    assert_eq!(hidden["content"], query["content"], "{engine:?}");
    assert!(!hidden.to_string().contains(SHOP_SECRET));

    // A key granted a view, not the table under it: the plan would show the view's definition
    // (the table and its condition on `amount`), so only the estimates are given.
    let signed_in: Value = app.sign_in("admin", PASSWORD).await.json().await.unwrap();
    let token = signed_in["accessToken"].as_str().unwrap();
    let keys = app
        .json(reqwest::Method::GET, "/api/mcp-keys", token, None)
        .await;
    let issued = app
        .json(
            reqwest::Method::POST,
            "/api/mcp-keys",
            token,
            Some(&json!({
                "name": "view-only",
                "dbManagementId": keys[0]["dbManagementId"],
                "tableWhitelist": [shop.qualified("big_orders")],
            })),
        )
        .await;
    let view_only = issued["keyValue"].as_str().unwrap().to_owned();
    let agent = McpAgent {
        app: &app,
        key: view_only,
    };
    let args =
        json!({"tableName": shop.qualified("big_orders"), "selectColumns": [{"field": "id"}]});
    let explained = agent.call("explain_query", args.clone()).await;
    if engine == Engine::Maria {
        // MariaDB itself refuses to explain a view to a login without SHOW VIEW.
        assert_eq!(explained["isError"], true, "{engine:?}: {explained}");
        assert!(
            explained.to_string().contains("lacking privileges"),
            "{explained}"
        );
    } else {
        assert_eq!(explained["isError"], false, "{engine:?}: {explained}");
        let plan = &explained["structuredContent"];
        assert_eq!(plan["plan"], Value::Null, "{engine:?}: {plan}");
        assert!(
            plan["planHidden"]
                .as_str()
                .is_some_and(|w| w.contains("view")),
            "{engine:?}: {plan}"
        );
        assert!(plan["estimatedRows"].is_number() || engine == Engine::Sqlite);
    }
    assert!(
        !explained.to_string().contains("amount"),
        "{engine:?}: the view's definition shows: {explained}"
    );
    // The same key's queries on the view run as ever.
    assert_eq!(
        agent.call("execute_query_safe", args).await["isError"],
        false
    );
}

/// SQLite has no date type: a DATETIME column holding Unix times is filtered with numbers (the
/// servers' timestamp columns refuse them, see the query tests).
#[tokio::test]
async fn sqlite_unix_times_in_a_datetime_column_compare_with_numbers() {
    let app = spawn_app().await;
    let (shop, key) = shop_agent(
        &app,
        Engine::Sqlite,
        json!({"tableWhitelist": ["main.visits"]}),
    )
    .await;
    let agent = McpAgent { app: &app, key };
    let ids = |result: &Value| -> Vec<i64> {
        rows(result)
            .iter()
            .map(|r| r[0].as_i64().unwrap())
            .collect()
    };
    let visits = shop.qualified("visits");
    for (condition, expected) in [
        (
            json!({"field": "at", "op": ">=", "value": 1_700_003_600}),
            vec![2, 3],
        ),
        (
            json!({"field": "at", "op": "between", "value": [1_699_999_999.5, 1_700_003_600]}),
            vec![1, 2],
        ),
        (
            json!({"field": "at", "op": "in", "value": [1_800_000_000]}),
            vec![3],
        ),
    ] {
        let result = query(
            &agent,
            Engine::Sqlite,
            json!({"tableName": visits, "selectColumns": [{"field": "id"}, {"field": "at"}], "where": [condition], "orderBy": [{"field": "id"}]}),
        )
        .await;
        assert_eq!(ids(&result), expected, "{condition}: {result}");
    }
    // The times come back as the numbers they are.
    let all = query(
        &agent,
        Engine::Sqlite,
        json!({"tableName": visits, "orderBy": [{"field": "id"}]}),
    )
    .await;
    assert_eq!(rows(&all)[0], json!([1, 1_700_000_000]));
}
