//! The audit log: every `/mcp` request (allowed, denied, failed, unauthenticated) and every
//! administrator change is an event; the log is searched through `/api/audit`, its hash chain
//! checked through `/api/audit/verify`, and a SIGTERM loses nothing that was answered.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::audit_store::connect;
use crate::cli::start;
use crate::helpers::{
    PASSWORD, TEST_MASTER_KEY, TargetPg, TestApp, TestDb, spawn_app, spawn_app_with,
};

/// Every event, newest first, once at least `at_least` are there (the writer is
/// asynchronous).
pub(crate) async fn events(app: &TestApp, token: &str, query: &str, at_least: u64) -> Value {
    let started = Instant::now();
    loop {
        let page = app
            .json(
                Method::GET,
                &format!("/api/audit?pageSize=200{query}"),
                token,
                None,
            )
            .await;
        if page["total"].as_u64().unwrap() >= at_least {
            return page;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "only {} events for {query:?}: {page}",
            page["total"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn find<'a>(page: &'a Value, action: &str) -> Vec<&'a Value> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .collect()
}

pub(crate) struct Scene {
    pub(crate) token: String,
    pub(crate) db: String,
    pub(crate) key: String,
    pub(crate) key_id: String,
}

pub(crate) async fn scene(app: &TestApp, target: &TargetPg) -> Scene {
    let token = app.admin_token().await;
    let db = app
        .json(
            Method::POST,
            "/api/database-configs",
            &token,
            Some(&json!({"name": "Shop", "provider": "postgresql", "connection_config": target.reader_config()})),
        )
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let issued = app
        .json(
            Method::POST,
            "/api/mcp-keys",
            &token,
            Some(
                &json!({"name": "agent", "dbManagementId": db, "tableWhitelist": ["shop.orders"]}),
            ),
        )
        .await;
    Scene {
        token,
        db,
        key: issued["keyValue"].as_str().unwrap().to_owned(),
        key_id: issued["id"].as_str().unwrap().to_owned(),
    }
}

async fn mcp(app: &TestApp, key: Option<&str>, body: Value, headers: &[(&str, &str)]) -> u16 {
    let mut req = app
        .client
        .post(app.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("User-Agent", "audit-test/1.0")
        .json(&body);
    if let Some(k) = key {
        req = req.header("X-MCP-Server-Key", k);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
}

#[tokio::test]
async fn every_mcp_request_and_admin_change_is_an_event() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let s = scene(&app, &target).await;
    let key = Some(s.key.as_str());

    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    assert_eq!(mcp(&app, key, init, &[]).await, 200);
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(mcp(&app, key, note, &[]).await, 202);
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    assert_eq!(mcp(&app, key, list, &[]).await, 200);
    let query = call(
        "execute_query_safe",
        json!({"tableName": "shop.orders", "where": [{"field": "amount", "op": ">", "value": 150}], "limit": 5}),
    );
    assert_eq!(
        mcp(&app, key, query, &[("X-Request-Id", "trace-me-42")]).await,
        200
    );
    let hidden = call("execute_query_safe", json!({"tableName": "shop.secrets"}));
    assert_eq!(mcp(&app, key, hidden, &[]).await, 200);
    let broken = call(
        "execute_query_safe",
        json!({"tableName": "shop.orders", "where": [{"field": "placed_at", "op": "=", "value": "not a time"}]}),
    );
    assert_eq!(mcp(&app, key, broken, &[]).await, 200);
    assert_eq!(
        mcp(&app, key, call("drop_everything", json!({})), &[]).await,
        200
    );
    let flipped = if s.key.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{flipped}", &s.key[..s.key.len() - 1]);
    assert_eq!(
        mcp(&app, Some(&wrong), call("get_tables", json!({})), &[]).await,
        401
    );
    assert_eq!(
        mcp(&app, None, call("get_tables", json!({})), &[]).await,
        401
    );
    assert_eq!(
        mcp(
            &app,
            key,
            call("get_tables", json!({})),
            &[("Host", "evil.example.com")]
        )
        .await,
        403
    );

    let res = app
        .send(
            Method::PATCH,
            &format!("/api/mcp-keys/{}", s.key_id),
            &s.token,
            Some(&json!({"maxRows": 10})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .send(
            Method::PUT,
            "/api/semantic",
            &s.token,
            Some(&json!({"dbManagementId": s.db, "tables": [{"name": "shop.orders", "description": "Orders"}]})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/mcp-keys/{}", s.key_id),
            &s.token,
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let wrong_password = "a wrong password that must not be recorded";
    assert_eq!(app.sign_in("admin", wrong_password).await.status(), 401);
    assert_eq!(app.sign_in("admin", PASSWORD).await.status(), 200);

    // 10 MCP requests and 8 administrator events: sign-up, connection, key, key update,
    // semantic update, revocation, a failed and a successful sign-in.
    let page = events(&app, &s.token, "", 18).await;
    assert_eq!(page["total"], 18);
    let dump = page.to_string();
    assert!(
        !dump.contains(wrong_password),
        "passwords are never recorded"
    );
    assert!(
        !dump.contains(&s.key[20..]),
        "the secret part of a key is never recorded"
    );
    let times: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["createdAt"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    for (action, result) in [
        ("db.config.created", "success"),
        ("mcp.key.issued", "success"),
        ("mcp.initialize", "success"),
        ("mcp.notification", "success"),
        ("mcp.tools.list", "success"),
        ("mcp.tools.call", "denied"),
        ("mcp.key.auth.failed", "denied"),
        ("mcp.request.denied", "denied"),
        ("mcp.key.updated", "success"),
        ("semantic.updated", "success"),
        ("mcp.key.revoked", "success"),
        ("auth.sign_in.failed", "denied"),
        ("auth.signed_up", "success"),
        ("auth.signed_in", "success"),
    ] {
        let found = find(&page, action);
        assert!(!found.is_empty(), "{action} in {dump}");
        assert!(
            found.iter().all(|e| e["result"] == result),
            "{action}: {found:?}"
        );
    }

    let queries = find(&page, "mcp.query.executed");
    assert_eq!(queries.len(), 3, "{queries:?}");
    let ok = queries
        .iter()
        .find(|e| e["requestId"] == "trace-me-42")
        .expect("the request id is kept");
    assert_eq!(ok["result"], "success");
    assert_eq!(ok["toolName"], "execute_query_safe");
    assert_eq!(ok["keyId"], s.key_id.as_str());
    assert_eq!(ok["dbManagementId"], s.db.as_str());
    assert_eq!(ok["tables"], json!(["shop.orders"]));
    assert_eq!(ok["rowCount"], 5);
    assert_eq!(ok["truncated"], false);
    assert_eq!(ok["actorType"], "mcp-key");
    assert_eq!(ok["clientAddress"], "127.0.0.1");
    assert_eq!(ok["userAgent"], "audit-test/1.0");
    assert_eq!(ok["arguments"]["where"][0]["value"], 150);
    assert!(ok["durationMs"].is_u64());
    let refused = queries
        .iter()
        .find(|e| e["arguments"]["tableName"] == "shop.secrets")
        .unwrap();
    assert_eq!(
        refused["result"], "denied",
        "a table outside the grant is a refusal"
    );
    assert!(refused["error"].as_str().unwrap().contains("shop.secrets"));
    let failed = queries
        .iter()
        .find(|e| e["result"] == "failed")
        .expect("a query the database rejected is a failure");
    assert!(failed["error"].is_string());

    let auth = find(&page, "mcp.key.auth.failed");
    assert_eq!(auth.len(), 2);
    assert!(
        auth.iter()
            .any(|e| e["actorId"] == s.key[..19] && e["keyId"].is_null()),
        "a wrong key is recorded by its public prefix only: {auth:?}"
    );
    let signin = &find(&page, "auth.sign_in.failed")[0];
    assert_eq!(signin["actorId"], "admin");

    // Filters.
    let by_key = events(&app, &s.token, &format!("&keyId={}", s.key_id), 1).await;
    assert!(
        by_key["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["keyId"] == s.key_id.as_str())
    );
    let by_tool = events(&app, &s.token, "&toolName=execute_query_safe", 3).await;
    assert_eq!(by_tool["total"], 3);
    let denied = events(&app, &s.token, "&result=denied", 1).await;
    assert!(
        denied["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["result"] == "denied")
    );
    let by_action = events(&app, &s.token, "&action=mcp.key.auth.failed", 2).await;
    assert_eq!(by_action["total"], 2);
    let text = events(&app, &s.token, "&q=SHOP.SECRETS", 1).await;
    assert_eq!(text["total"], 1, "case-insensitive text search: {text}");
    assert_eq!(text["totalExact"], true);
    let future = app
        .json(
            Method::GET,
            "/api/audit?dateFrom=2999-01-01",
            &s.token,
            None,
        )
        .await;
    assert_eq!(future["total"], 0);
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let day = app
        .json(
            Method::GET,
            &format!("/api/audit?dateFrom={today}&dateTo={today}&pageSize=1&page=2"),
            &s.token,
            None,
        )
        .await;
    assert_eq!(day["total"], page["total"], "dateTo takes in the whole day");
    assert_eq!(day["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (day["page"].as_u64(), day["pageSize"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(day["items"][0]["id"], page["items"][1]["id"]);
    for bad in [
        "pageSize=201",
        "page=0",
        "result=maybe",
        "keyId=7",
        "dateFrom=yesterday",
        "sort=asc",
    ] {
        let res = app
            .send(Method::GET, &format!("/api/audit?{bad}"), &s.token, None)
            .await;
        assert_eq!(res.status(), 400, "{bad}");
    }
    let res = app.client.get(app.url("/api/audit")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn redaction_keeps_names_and_drops_values() {
    let app = spawn_app_with(|s| s.audit.redact_values = true).await;
    let target = TargetPg::new().await;
    let s = scene(&app, &target).await;
    let query = call(
        "execute_query_safe",
        json!({"tableName": "shop.orders", "where": [{"field": "customer_id", "op": "in", "value": [4242, 4343]}]}),
    );
    assert_eq!(mcp(&app, Some(&s.key), query, &[]).await, 200);
    // A value the planner refuses is quoted in its message; the log keeps only the path.
    let refused = call(
        "execute_query_safe",
        json!({"tableName": "shop.orders", "where": [{"field": "placed_at", "op": "=", "value": "secret-4242"}]}),
    );
    assert_eq!(mcp(&app, Some(&s.key), refused, &[]).await, 200);
    let page = events(&app, &s.token, "&toolName=execute_query_safe", 2).await;
    let ok = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["result"] == "success")
        .unwrap();
    assert_eq!(ok["arguments"]["where"][0]["field"], "customer_id");
    assert_eq!(ok["arguments"]["where"][0]["value"], json!(["***", "***"]));
    let failed = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["result"] == "failed")
        .unwrap();
    assert_eq!(failed["error"], "where[0].value (details redacted)");
    assert!(!page.to_string().contains("4242"), "{page}");
}

#[tokio::test]
async fn a_row_edited_by_hand_breaks_verification_at_that_row() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let s = scene(&app, &target).await;
    for _ in 0..5 {
        mcp(&app, Some(&s.key), call("get_tables", json!({})), &[]).await;
    }
    // sign-up, connection, key and the five calls
    let page = events(&app, &s.token, "", 8).await;
    let total = page["total"].as_u64().unwrap();
    assert_eq!(total, 8);
    let verified = app
        .json(Method::GET, "/api/audit/verify", &s.token, None)
        .await;
    assert_eq!(
        verified,
        json!({"ok": true, "checked": total, "firstBrokenId": null})
    );

    // Someone with database access blames another actor.
    let victim = page["items"][3]["id"].as_str().unwrap().to_owned();
    let db = connect(&app.db.url).await;
    db.execute(
        "UPDATE audit_events SET actor_id = 'someone-else' WHERE id = $1::text::uuid",
        &[&victim],
    )
    .await
    .unwrap();
    let verified = app
        .json(Method::GET, "/api/audit/verify", &s.token, None)
        .await;
    assert_eq!(verified["ok"], false);
    assert_eq!(verified["firstBrokenId"], victim.as_str());
    assert_eq!(
        verified["checked"],
        total - 4,
        "the rows before it still check"
    );
}

#[tokio::test]
async fn sigterm_right_after_a_burst_loses_no_event() {
    let db = TestDb::new().await;
    let running = start(&[
        ("SLUICE_DATABASE_URL", &db.url),
        ("SLUICE_LISTEN", "127.0.0.1:0"),
        ("SLUICE_MASTER_KEY", TEST_MASTER_KEY),
        ("SLUICE_LOG__FORMAT", "json"),
        // One event per statement: the queue is still full when the signal comes.
        ("SLUICE_AUDIT__BATCH_SIZE", "1"),
    ]);
    let base = format!("http://127.0.0.1:{}", running.port);
    let http = reqwest::Client::new();
    const BURST: usize = 300;
    let mut calls = Vec::new();
    for i in 0..BURST {
        let http = http.clone();
        let url = format!("{base}/mcp");
        calls.push(tokio::spawn(async move {
            http.post(url)
                .header(
                    "X-MCP-Server-Key",
                    format!("sluice_{i:012x}_{}", "0".repeat(64)),
                )
                .json(&json!({"jsonrpc": "2.0", "id": i, "method": "tools/list"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for c in calls {
        assert_eq!(c.await.unwrap(), 401);
    }
    let (status, log) = running.stop_and_collect();
    assert!(status.success(), "{log:#?}");

    let c = connect(&db.url).await;
    let written: i64 = c
        .query_one(
            "SELECT count(*) FROM audit_events WHERE action = 'mcp.key.auth.failed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let audit_lines: Vec<&String> = log.iter().filter(|l| l.contains("audit")).collect();
    assert_eq!(
        written, BURST as i64,
        "every answered call is in the log: {audit_lines:#?}"
    );
}

#[tokio::test]
async fn summary_export_and_dashboard_tell_the_same_story() {
    let app = spawn_app().await;
    let target = TargetPg::new().await;
    let s = scene(&app, &target).await;
    let key = Some(s.key.as_str());
    for _ in 0..3 {
        let q = call(
            "execute_query_safe",
            json!({"tableName": "shop.orders", "limit": 2}),
        );
        assert_eq!(mcp(&app, key, q, &[]).await, 200);
    }
    let hidden = call("execute_query_safe", json!({"tableName": "shop.secrets"}));
    assert_eq!(mcp(&app, key, hidden, &[]).await, 200);
    // A user agent written to be a spreadsheet formula.
    let evil = "=HYPERLINK(\"http://evil.example\",\"click\")";
    let res = app
        .client
        .post(app.url("/mcp"))
        .header("User-Agent", evil)
        .json(&call("get_tables", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // sign-up + connection + key + 4 calls + 1 refused key
    let page = events(&app, &s.token, "", 8).await;
    let total = page["total"].as_u64().unwrap();
    assert_eq!(total, 8);

    let summary = app
        .json(
            Method::GET,
            "/api/audit/daily-summary?days=3",
            &s.token,
            None,
        )
        .await;
    assert_eq!(summary["days"], 3);
    let items = summary["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let today = &items[2];
    assert_eq!(
        today["day"],
        time::OffsetDateTime::now_utc().date().to_string()
    );
    assert_eq!(today["deniedCount"], 2, "{summary}");
    assert_eq!(today["failedCount"], 0);
    assert_eq!(
        today["successCount"].as_u64().unwrap() + 2,
        total,
        "every event of today is counted once"
    );
    assert_eq!(items[0]["successCount"], 0, "empty days are listed");
    for bad in ["days=0", "days=91", "days=x"] {
        let res = app
            .send(
                Method::GET,
                &format!("/api/audit/daily-summary?{bad}"),
                &s.token,
                None,
            )
            .await;
        assert_eq!(res.status(), 400, "{bad}");
    }

    let res = app
        .send(Method::GET, "/api/audit/export?format=csv", &s.token, None)
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,createdAt,actorType"));
    assert_eq!(
        lines.len() as u64,
        total + 1,
        "a header and one line per event"
    );
    let evil_line = lines
        .iter()
        .find(|l| l.contains("HYPERLINK"))
        .expect("the hostile user agent is exported");
    assert!(
        evil_line.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\""),
        "defused and quoted: {evil_line}"
    );
    assert!(!csv.contains(",=HYPERLINK"), "never a bare formula cell");

    let json_export: Value = app
        .send(
            Method::GET,
            "/api/audit/export?format=json&result=denied",
            &s.token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let exported = json_export.as_array().unwrap();
    assert_eq!(exported.len(), 2);
    assert!(exported.iter().all(|e| e["result"] == "denied"));
    let res = app
        .send(Method::GET, "/api/audit/export?format=xml", &s.token, None)
        .await;
    assert_eq!(res.status(), 400);

    let dashboard = app
        .json(Method::GET, "/api/dashboard", &s.token, None)
        .await;
    assert_eq!(dashboard["totalKeys"], 1);
    assert_eq!(dashboard["activeKeys"], 1);
    assert_eq!(
        dashboard["totalQueries"], 4,
        "tool calls, allowed or not: {dashboard}"
    );
    assert_eq!(
        dashboard["recentAuditLogs"].as_array().unwrap().len() as u64,
        total.min(10)
    );
    assert_eq!(
        dashboard["recentAuditLogs"][0]["id"],
        page["items"][0]["id"]
    );
    let days = dashboard["callsPerDay"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days[13]["calls"], 4);
    assert_eq!(days[13]["errors"], 1);
    assert_eq!(
        dashboard["topTools"],
        json!([{"name": "execute_query_safe", "count": 4}])
    );
    assert_eq!(dashboard["topKeys"][0]["name"], s.key_id.as_str());
    assert!(dashboard["p95LatencyMs24h"].as_f64().is_some());

    // A revoked key still counts in totalKeys, not in activeKeys.
    app.send(
        Method::DELETE,
        &format!("/api/mcp-keys/{}", s.key_id),
        &s.token,
        None,
    )
    .await;
    let dashboard = app
        .json(Method::GET, "/api/dashboard", &s.token, None)
        .await;
    assert_eq!(
        (
            dashboard["totalKeys"].as_u64(),
            dashboard["activeKeys"].as_u64()
        ),
        (Some(1), Some(0))
    );
}

#[tokio::test]
async fn retention_removes_old_events_and_the_rest_still_verifies() {
    let app = spawn_app().await;
    let store = server::startup::open_store(&server::config::Settings {
        database_url: app.db.url.clone(),
        ..server::config::Settings::default()
    })
    .unwrap();
    let audit_store = store_postgres::PgAuditStore::new(&store);
    let mut old = Vec::new();
    for days in [40, 30, 20] {
        let mut e = audit::AuditEvent::new(
            audit::ActorType::System,
            "test.old",
            audit::Outcome::Success,
        );
        e.at -= time::Duration::days(days);
        old.push(e);
    }
    audit::AuditStore::append(&audit_store, &old).await.unwrap();
    // Events are appended in time order, so retention removes the oldest end of the chain.
    let token = app.admin_token().await;
    for _ in 0..3 {
        mcp(&app, None, call("get_tables", json!({})), &[]).await;
    }
    // The sign-up, three old events and three refused calls.
    let page = events(&app, &token, "", 7).await;
    assert_eq!(page["total"], 7);

    let removed = audit::AuditStore::purge_before(&audit_store, audit::retention_cutoff(25))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    let verified = app
        .json(Method::GET, "/api/audit/verify", &token, None)
        .await;
    assert_eq!(
        verified,
        json!({"ok": true, "checked": 5, "firstBrokenId": null})
    );
}

#[tokio::test]
async fn a_nul_in_what_a_caller_typed_neither_breaks_nor_blocks_the_log() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .post_json(
            "/api/auth/sign-in",
            &json!({"username": "ad\u{0}min", "password": "whatever it is"}),
        )
        .await;
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .post(app.url("/mcp"))
        .header("User-Agent", "agent")
        .json(&call("get\u{0}tables", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Both are recorded (NUL made visible), and what follows is recorded too.
    let page = events(&app, &token, "&action=auth.sign_in.failed", 1).await;
    assert_eq!(page["items"][0]["actorId"], "ad\u{FFFD}min");
    assert_eq!(app.sign_in("admin", PASSWORD).await.status(), 200);
    events(&app, &token, "&action=auth.signed_in", 1).await;
}
