//! Two `sluice serve` processes on one metadata database, as behind a load balancer: a key
//! revoked, suspended, narrowed or expired through one instance, or a connection deleted
//! through it, stops working on the other at once, although the other trusts verified keys
//! for an hour (`SLUICE_MCP__KEY_CACHE_TTL_SECS=3600`). Only the change feed can explain it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{Running, start};
use crate::helpers::{PASSWORD, TEST_MASTER_KEY, TargetPg, TestDb};

/// How long a change may take to reach the other instance. The feed delivers in
/// milliseconds; the margin absorbs a loaded CI machine, and stays far below the cache TTL.
const PROPAGATION: Duration = Duration::from_secs(3);

struct Instance {
    _process: Running,
    base: String,
}

fn instance(db: &TestDb) -> Instance {
    let process = start(&[
        ("SLUICE_DATABASE_URL", &db.url),
        ("SLUICE_LISTEN", "127.0.0.1:0"),
        ("SLUICE_MASTER_KEY", TEST_MASTER_KEY),
        ("SLUICE_LOG__FORMAT", "json"),
        ("SLUICE_HTTP__WORKERS", "1"),
        ("SLUICE_DATABASE__MAX_CONNECTIONS", "4"),
        ("SLUICE_TARGETS__REFRESH_INTERVAL_SECS", "0"),
        ("SLUICE_MCP__KEY_CACHE_TTL_SECS", "3600"),
    ]);
    Instance {
        base: format!("http://127.0.0.1:{}", process.port),
        _process: process,
    }
}

struct Fleet {
    http: reqwest::Client,
    a: Instance,
    b: Instance,
    admin: String,
}

impl Fleet {
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.a.base))
            .bearer_auth(&self.admin);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// `get_tables` through instance `on`: the HTTP status and the table names listed.
    async fn tables(&self, on: &Instance, key: &str) -> (u16, Vec<String>) {
        let res = self
            .http
            .post(format!("{}/mcp", on.base))
            .header("X-MCP-Server-Key", key)
            .header("Accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "get_tables", "arguments": {}}}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let names = body["result"]["structuredContent"]["tables"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        (status, names)
    }

    /// Waits until `get_tables` on `on` answers `status` (and, on 200, lists `names`).
    async fn until(&self, on: &Instance, key: &str, status: u16, names: &[&str], what: &str) {
        let started = Instant::now();
        loop {
            let (got, listed) = self.tables(on, key).await;
            if got == status && (status != 200 || listed == names) {
                return;
            }
            assert!(
                started.elapsed() < PROPAGATION,
                "{what}: the other instance still answers {got} {listed:?} after {PROPAGATION:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_change_through_one_instance_holds_on_the_other_at_once() {
    let db = TestDb::new().await;
    let target = TargetPg::new().await;
    let fleet = {
        let a = instance(&db);
        let b = instance(&db);
        let http = reqwest::Client::new();
        let tokens: Value = http
            .post(format!("{}/api/auth/sign-up", a.base))
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let admin = tokens["accessToken"]
            .as_str()
            .expect("signed up")
            .to_owned();
        Fleet { http, a, b, admin }
    };
    let connection = |name: &str| json!({"name": name, "provider": "postgresql", "connection_config": target.reader_config()});
    let shop = fleet
        .admin(
            reqwest::Method::POST,
            "/api/database-configs",
            Some(connection("Shop")),
        )
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = fleet
        .admin(
            reqwest::Method::POST,
            "/api/database-configs",
            Some(connection("Shop copy")),
        )
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut keys = Vec::new();
    for (name, db) in [
        ("revoked", &shop),
        ("suspended", &shop),
        ("narrowed", &shop),
        ("expired", &shop),
        ("orphaned", &other),
    ] {
        let issued = fleet
            .admin(
                reqwest::Method::POST,
                "/api/mcp-keys",
                Some(json!({"name": name, "dbManagementId": db,
                    "tableWhitelist": ["shop.orders", "shop.customers"]})),
            )
            .await;
        keys.push((
            issued["id"].as_str().unwrap().to_owned(),
            issued["keyValue"].as_str().unwrap().to_owned(),
        ));
    }

    // Every key works on both instances, and both have it cached now.
    let all = ["customers", "orders"];
    for (_, key) in &keys {
        for on in [&fleet.a, &fleet.b] {
            assert_eq!(
                fleet.tables(on, key).await,
                (200, all.map(String::from).to_vec())
            );
        }
    }

    let [revoked, suspended, narrowed, expired, orphaned] = &keys[..] else {
        unreachable!()
    };
    fleet
        .admin(
            reqwest::Method::DELETE,
            &format!("/api/mcp-keys/{}", revoked.0),
            None,
        )
        .await;
    fleet
        .until(&fleet.b, &revoked.1, 401, &[], "revoked key")
        .await;

    fleet
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/mcp-keys/{}", suspended.0),
            Some(json!({"isActive": false})),
        )
        .await;
    fleet
        .until(&fleet.b, &suspended.1, 401, &[], "suspended key")
        .await;

    fleet
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/mcp-keys/{}", narrowed.0),
            Some(json!({"tableWhitelist": ["shop.customers"]})),
        )
        .await;
    fleet
        .until(
            &fleet.b,
            &narrowed.1,
            200,
            &["customers"],
            "narrowed whitelist",
        )
        .await;

    // An expiry set through A, two seconds ahead: B's cached copy had none, so only the feed
    // makes B refuse the key once that moment passes.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    fleet
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/mcp-keys/{}", expired.0),
            Some(json!({"expiresAt": soon})),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    fleet
        .until(&fleet.b, &expired.1, 401, &[], "expired key")
        .await;

    fleet
        .admin(
            reqwest::Method::DELETE,
            &format!("/api/database-configs/{other}"),
            None,
        )
        .await;
    fleet
        .until(
            &fleet.b,
            &orphaned.1,
            401,
            &[],
            "key of a deleted connection",
        )
        .await;

    // Nothing else was disturbed: an untouched grant still works on both.
    for on in [&fleet.a, &fleet.b] {
        assert_eq!(
            fleet.tables(on, &narrowed.1).await,
            (200, vec!["customers".to_owned()])
        );
    }
}
