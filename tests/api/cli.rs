//! The `sluice` binary as an operator runs it: start-up checks, the development master key,
//! `create-admin`, graceful shutdown on SIGTERM, and no secret in any log line.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TEST_MASTER_KEY, TestDb};

pub(crate) const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// The binary with a clean environment: only what the test sets.
pub(crate) fn sluice(envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(SLUICE);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn a_misspelled_setting_stops_start_up_and_is_named() {
    let out = sluice(&[("SLUICE_LISTN", "127.0.0.1:0")])
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SLUICE_LISTN"), "{stderr}");
    assert!(
        stderr.contains("SLUICE_LISTEN"),
        "the known names are listed: {stderr}"
    );
}

#[test]
fn production_refuses_to_start_without_a_strong_master_key() {
    let out = sluice(&[("SLUICE_ENV", "production")])
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SLUICE_MASTER_KEY is required in production"),
        "{stderr}"
    );

    let weak = "ab".repeat(20);
    let out = sluice(&[
        ("SLUICE_ENV", "production"),
        ("SLUICE_MASTER_KEY", &weak[..40]),
    ])
    .arg("serve")
    .output()
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 32 are required"), "{stderr}");
    assert!(
        !stderr.contains(&weak[..40]),
        "the key itself is never printed"
    );
}

#[tokio::test]
async fn development_generates_a_master_key_once_and_create_admin_prints_the_password_once() {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("sluice-cli-{}", db.name));
    let dir_s = dir.to_string_lossy().into_owned();
    let env = [
        ("SLUICE_DATABASE_URL", db.url.as_str()),
        ("SLUICE_DATA_DIR", dir_s.as_str()),
    ];

    let out = sluice(&env)
        .args(["create-admin", "--username", "root", "--if-first"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("created administrator root"), "{stdout}");
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password");
    assert!(password.len() >= 20);
    assert!(String::from_utf8_lossy(&out.stderr).contains("generated a development master key"));

    let key_file = dir.join("master.key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let out = sluice(&env)
        .args(["create-admin", "--username", "other", "--if-first"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("already exists") && !stdout.contains("password:"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        key,
        "the key is kept, not regenerated"
    );
    // The administrator made here is in the audit log, once; the refused second one is not.
    let created = system_events(&db).await;
    assert_eq!(created.len(), 1, "{created:?}");
    let e = &created[0];
    assert_eq!(
        (e.action.as_str(), e.actor_id.as_deref()),
        ("auth.admin.created", Some("sluice create-admin"))
    );
    assert!(e.arguments.as_deref().is_some_and(|a| a.contains("root")));
    std::fs::remove_dir_all(dir).ok();
}

/// The events the `system` actor recorded in `db`, oldest first.
async fn system_events(db: &TestDb) -> Vec<audit::AuditEvent> {
    use audit::AuditStore as _;
    let page = crate::audit_store::audit_store(db)
        .search(&audit::AuditFilter {
            page: 1,
            page_size: 100,
            ..audit::AuditFilter::default()
        })
        .await
        .unwrap();
    let mut events: Vec<audit::AuditEvent> = page
        .items
        .into_iter()
        .map(|s| s.event)
        .filter(|e| e.actor_type == audit::ActorType::System)
        .collect();
    events.reverse();
    events
}

/// A `sluice serve` child process, its log lines and the port it listens on.
pub(crate) struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    pub(crate) port: u16,
}

pub(crate) fn start(envs: &[(&str, &str)]) -> Running {
    let mut child = sluice(envs)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut log = Vec::new();
    let port = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no start-up line; log so far: {log:#?}"));
        log.push(line.clone());
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && v["message"] == "sluice is listening"
        {
            break v["port"].as_u64().unwrap() as u16;
        }
    };
    Running {
        child,
        lines: rx,
        log,
        port,
    }
}

impl Running {
    pub(crate) fn stop_and_collect(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.log.push(line);
        }
        (status, std::mem::take(&mut self.log))
    }
}

impl Drop for Running {
    /// A test that fails half-way leaves no server behind.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn secrets_never_reach_the_logs_and_sigterm_stops_gracefully() {
    let db = TestDb::new().await;
    let running = start(&[
        ("SLUICE_DATABASE_URL", &db.url),
        ("SLUICE_LISTEN", "127.0.0.1:0"),
        ("SLUICE_MASTER_KEY", TEST_MASTER_KEY),
        ("SLUICE_LOG__LEVEL", "trace"),
        ("SLUICE_LOG__FORMAT", "json"),
        ("SLUICE_HTTP__WORKERS", "1"),
    ]);
    let base = format!("http://127.0.0.1:{}", running.port);
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();

    let tokens: Value = post(
        "/api/auth/sign-up",
        json!({"username": "admin", "password": PASSWORD}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let wrong = "a wrong password that must not be logged";
    assert_eq!(
        post(
            "/api/auth/sign-in",
            json!({"username": "admin", "password": wrong})
        )
        .await
        .unwrap()
        .status(),
        401
    );
    let refreshed: Value = post(
        "/api/auth/refresh",
        json!({"refreshToken": tokens["refreshToken"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let new_password = "another secret passphrase";
    let res = http
        .post(format!("{base}/api/auth/change-password"))
        .bearer_auth(refreshed["accessToken"].as_str().unwrap())
        .json(&json!({"currentPassword": PASSWORD, "newPassword": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    let admin = changed["accessToken"].as_str().unwrap().to_owned();
    // A database password goes through create, test and a connection string.
    let db_password = "db-password-that-must-not-be-logged";
    let (host, port) = crate::helpers::server_address();
    let body = json!({"name": "Shop", "provider": "postgresql",
        "connection_config": {"host": host, "port": port, "database": "postgres", "username": "postgres", "password": db_password}});
    let res = http
        .post(format!("{base}/api/database-configs"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body =
        json!({"host": host, "port": 1, "database": "d", "username": "u", "password": db_password});
    let res = http
        .post(format!("{base}/api/db/test-postgres"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json!({"name": "Shop2", "provider": "PostgreSQL", "connectionString": format!("Host=h;Port=99999;Database=d;Username=u;Password={db_password}")});
    let res = http
        .post(format!("{base}/api/db-management"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // A request sent just before SIGTERM still gets its answer.
    let in_flight = post(
        "/api/auth/sign-in",
        json!({"username": "admin", "password": new_password}),
    );

    let (in_flight, (status, log)) = tokio::join!(in_flight, async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        tokio::task::spawn_blocking(move || running.stop_and_collect())
            .await
            .unwrap()
    });
    assert_eq!(
        in_flight.unwrap().status(),
        200,
        "the in-flight request finished"
    );
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
    let text = log.join("\n");
    assert!(text.contains("sluice stopped gracefully"), "{text}");
    assert!(text.contains("request_id"), "request lines carry their id");

    let secrets = [
        db_password,
        PASSWORD,
        wrong,
        new_password,
        TEST_MASTER_KEY,
        tokens["accessToken"].as_str().unwrap(),
        tokens["refreshToken"].as_str().unwrap(),
        refreshed["refreshToken"].as_str().unwrap(),
        changed["accessToken"].as_str().unwrap(),
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "a secret reached the log: {secret}");
        // Token signatures alone are secrets too.
        if let Some(sig) = secret.rsplit('.').next().filter(|s| s.len() > 20) {
            assert!(!text.contains(sig), "a token signature reached the log");
        }
    }
}

#[tokio::test]
async fn sluice_demo_sets_up_a_database_and_a_key_an_agent_can_use_at_once() {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("sluice-demo-{}", db.name));
    let dir_s = dir.to_string_lossy().into_owned();
    let env = [
        ("SLUICE_DATABASE_URL", db.url.as_str()),
        ("SLUICE_DATA_DIR", dir_s.as_str()),
        ("SLUICE_MASTER_KEY", TEST_MASTER_KEY),
    ];
    let out = sluice(&env).arg("demo").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .expect("the key is printed")
        .to_owned();
    assert!(dir.join("demo-shop.sqlite").exists());

    let again = sluice(&env).arg("demo").output().unwrap();
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.contains("a demo key exists") && !again.contains("key: sluice_"),
        "a second run issues no second key: {again}"
    );
    // What the first run did is in the audit log, by the system; the second did nothing.
    let done: Vec<(String, Option<String>)> = system_events(&db)
        .await
        .into_iter()
        .map(|e| (e.action, e.actor_id))
        .collect();
    let by_demo = Some("sluice demo".to_owned());
    assert_eq!(
        done,
        [
            ("db.config.created".to_owned(), by_demo.clone()),
            ("semantic.updated".to_owned(), by_demo.clone()),
            ("mcp.key.issued".to_owned(), by_demo),
        ]
    );

    let mut serve_env = env.to_vec();
    serve_env.extend([
        ("SLUICE_LISTEN", "127.0.0.1:0"),
        ("SLUICE_LOG__FORMAT", "json"),
        ("SLUICE_HTTP__WORKERS", "1"),
    ]);
    let running = start(&serve_env);
    let http = reqwest::Client::new();
    let rpc = |method: &str, params: Value| {
        http.post(format!("http://127.0.0.1:{}/mcp", running.port))
            .header("X-MCP-Server-Key", &key)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
    };
    let init: Value = rpc(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        init["result"]["instructions"]
            .as_str()
            .is_some_and(|i| i.contains("online shop")),
        "{init}"
    );
    let tables: Value = rpc("tools/call", json!({"name": "get_tables", "arguments": {}}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<&str> = tables["result"]["structuredContent"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["customers", "orders", "products"]);
    let count: Value = rpc(
        "tools/call",
        json!({"name": "execute_query_safe", "arguments": {"tableName": "orders",
            "selectColumns": [{"function": "count", "args": [], "alias": "n"}]}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        count["result"]["structuredContent"]["rows"],
        json!([[500]]),
        "{count}"
    );
    let (status, _) = running.stop_and_collect();
    assert!(status.success());
    std::fs::remove_dir_all(dir).ok();
}

/// The scheduling policy of every thread of a process (field 41 of each thread's stat line):
/// 0 is `SCHED_OTHER`, 3 `SCHED_BATCH`. A thread that ends meanwhile is skipped.
#[cfg(target_os = "linux")]
fn thread_policies(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
            let (_, fields) = stat.rsplit_once(')')?;
            fields.split_whitespace().nth(41 - 3)?.parse().ok()
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_threads_run_under_sched_batch_unless_told_otherwise() {
    // The server inherits this thread's policy; only the default policy at nice 0 is changed.
    let (inherited, nice) = server::cpu::current().unwrap();
    let changes = (inherited, nice) == (0, 0);
    let batch = if changes { 3 } else { inherited };
    let db = TestDb::new().await;
    for (policy, expected) in [(None, batch), (Some("normal"), inherited)] {
        let mut envs = vec![
            ("SLUICE_DATABASE_URL", db.url.as_str()),
            ("SLUICE_LISTEN", "127.0.0.1:0"),
            ("SLUICE_MASTER_KEY", TEST_MASTER_KEY),
            ("SLUICE_LOG__FORMAT", "json"),
        ];
        envs.extend(policy.map(|p| ("SLUICE_CPU_POLICY", p)));
        let running = start(&envs);
        // A request, so that the HTTP worker and the runtime's threads have all started.
        let health = reqwest::get(format!("http://127.0.0.1:{}/healthz", running.port))
            .await
            .unwrap();
        assert!(health.status().is_success());
        let policies = thread_policies(running.child.id());
        assert!(policies.len() > 2, "threads: {policies:?}");
        assert!(
            policies.iter().all(|p| *p == expected),
            "cpu_policy {policy:?}: every thread's policy should be {expected}: {policies:?}"
        );
        let (_, log) = running.stop_and_collect();
        assert_eq!(
            log.iter().any(|l| l.contains("run under SCHED_BATCH")),
            policy.is_none() && changes,
            "start-up says when it set SCHED_BATCH: {log:#?}"
        );
    }
}
