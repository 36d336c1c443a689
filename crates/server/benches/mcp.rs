//! `make bench`: `execute_query_safe` through the real `sluice` binary (the 10 most recent
//! orders of one customer, 100,000 orders, 32 concurrent keep-alive clients) against the same
//! SQL sent straight to PostgreSQL by `pgbench -M prepared`, in the same run.
//! Each round runs three short phases, in an order that goes through all six permutations
//! over the rounds: sluice with auditing on, a second sluice with auditing off, and pgbench. A change in
//! the machine's load (a shared host's neighbours) then moves all three alike, and the median
//! of many rounds decides (the middle half of the rounds is printed too). Prints requests/s,
//! p50, p99, the throughput ratio, what auditing costs, CPU per request (sluice, the machine as
//! a whole) and the server's peak RSS, with PASS/MISS per target; fails only when a request fails. `BENCH_SECS` (default 4),
//! `BENCH_CLIENTS` (32), `BENCH_ROUNDS` (9) and `PGBENCH` change the run; `SLUICE_*` variables
//! reach the servers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};
use tokio_postgres::NoTls;

mod common;
use common::url_for;

const TARGET_DB: &str = "sluice_bench_target";
const META_DB: &str = "sluice_bench_meta";
const ORDERS: u32 = 100_000;
const CUSTOMERS: u32 = 1_000;
/// The statement pgbench runs; `execute_query_safe` is asked for the same rows.
const DIRECT_SQL: &str = "SELECT id, customer_id, total, status, created_at FROM public.orders \
    WHERE customer_id = :cid ORDER BY created_at DESC LIMIT 10;";

/// Targets of the issue, on the 2-core development machine.
const TARGET_RATIO: f64 = 0.6;
const TARGET_P99_MS: f64 = 15.0;
const TARGET_RSS_MB: f64 = 150.0;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Throughput and latency of one side.
#[derive(Debug, Clone, Copy)]
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    /// CPU time of the server and of the clients per request, in µs (sluice only).
    server_cpu_us: Option<f64>,
    client_cpu_us: Option<f64>,
    /// CPU time of the whole machine per request, in µs: server, database, clients, kernel.
    machine_cpu_us: Option<f64>,
}

/// Percentiles of latencies in microseconds (sorted in place).
fn percentiles(latencies: &mut [u64]) -> (f64, f64) {
    if latencies.is_empty() {
        return (0.0, 0.0);
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1000.0
    };
    (at(0.50), at(0.99))
}

/// The `sluice serve` child, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// VmHWM of the server process, in MB (10^6 bytes).
    fn peak_rss_mb(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("no VmHWM in /proc/<pid>/status")?;
        Ok(kb * 1024.0 / 1e6)
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// Busy CPU time of the whole machine so far (every core), from `/proc/stat`.
fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy = all but idle, iowait and steal.
    let busy = ticks.get(..8)?.iter().enumerate().fold(0, |sum, (i, t)| {
        if matches!(i, 3 | 4 | 7) { sum } else { sum + t }
    });
    Some(Duration::from_millis(busy * 10))
}

/// CPU spent between two readings, per request, in µs.
fn per_request(before: Option<Duration>, after: Option<Duration>, requests: u64) -> Option<f64> {
    let used = after?.checked_sub(before?)?;
    Some(used.as_secs_f64() * 1e6 / requests.max(1) as f64)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sluice(meta_url: &str, listen: &str, data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.env("SLUICE_DATABASE_URL", meta_url)
        .env("SLUICE_LISTEN", listen)
        // Development mode keeps a generated master key there.
        .env("SLUICE_DATA_DIR", data_dir);
    cmd
}

fn run_ok(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().context("cannot run sluice")?;
    ensure!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn create_databases(admin: &str) -> anyhow::Result<()> {
    let (client, conn) = tokio_postgres::connect(admin, NoTls).await?;
    tokio::spawn(conn);
    for db in [TARGET_DB, META_DB] {
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await?;
        client
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await?;
    }
    let (target, conn) = tokio_postgres::connect(&url_for(admin, TARGET_DB), NoTls).await?;
    tokio::spawn(conn);
    target
        .batch_execute(&format!(
            "CREATE TABLE orders (
                 id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 customer_id integer NOT NULL,
                 total numeric(10, 2) NOT NULL,
                 status text NOT NULL,
                 created_at timestamptz NOT NULL);
             INSERT INTO orders (customer_id, total, status, created_at)
             SELECT 1 + (i * 7919) % {CUSTOMERS},
                    ((i * 37) % 100000) / 100.0,
                    (ARRAY['new', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + i % 5],
                    timestamptz '2024-01-01' + i * interval '7 minutes'
             FROM generate_series(1, {ORDERS}) AS i;
             CREATE INDEX orders_customer_id ON orders (customer_id);"
        ))
        .await?;
    target.batch_execute("VACUUM ANALYZE orders").await?;
    Ok(())
}

async fn drop_databases(admin: &str) -> anyhow::Result<()> {
    let (client, conn) = tokio_postgres::connect(admin, NoTls).await?;
    tokio::spawn(conn);
    for db in [TARGET_DB, META_DB] {
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

/// Migrates, creates the administrator and starts `sluice serve`; returns once it answers.
async fn start_server(
    admin: &str,
    data_dir: &Path,
    http: &reqwest::Client,
    extra_env: &[(&str, &str)],
) -> anyhow::Result<(Server, Option<String>)> {
    let meta_url = url_for(admin, META_DB);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    run_ok(sluice(&meta_url, &listen, data_dir).arg("migrate"))?;
    let out = run_ok(sluice(&meta_url, &listen, data_dir).args([
        "create-admin",
        "--username",
        "admin",
        "--if-first",
    ]))?;
    // Printed only when the administrator is created (the first server of a run).
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .map(|p| p.trim().to_owned());
    let log = std::fs::File::create(data_dir.join("server.log"))?;
    let child = sluice(&meta_url, &listen, data_dir)
        .envs(extra_env.iter().copied())
        .arg("serve")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let mut server = Server {
        child,
        base: format!("http://{listen}"),
    };
    for _ in 0..200 {
        if let Some(status) = server.child.try_wait()? {
            bail!(
                "sluice serve exited ({status}); see {}",
                data_dir.join("server.log").display()
            );
        }
        if http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok((server, password));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("sluice serve did not answer within 10 s")
}

async fn api(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> anyhow::Result<Value> {
    let mut req = http.post(format!("{}{path}", server.base)).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let status = res.status();
    let body: Value = res.json().await?;
    ensure!(status.is_success(), "POST {path}: {status} {body}");
    Ok(body)
}

/// Signs in, registers the target database and issues a key for `public.orders`.
async fn issue_key(
    admin: &str,
    http: &reqwest::Client,
    server: &Server,
    password: &str,
) -> anyhow::Result<String> {
    let signed_in = api(
        http,
        server,
        "/api/auth/sign-in",
        None,
        &json!({"username": "admin", "password": password}),
    )
    .await?;
    let token = signed_in["accessToken"]
        .as_str()
        .context("no accessToken")?;
    let pg: tokio_postgres::Config = admin.parse()?;
    let host = match pg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    let user = pg.get_user().unwrap_or("postgres");
    let mut connection =
        json!({"host": host, "port": port, "database": TARGET_DB, "username": user, "ssl": false});
    if let Some(p) = pg.get_password() {
        connection["password"] = json!(String::from_utf8_lossy(p));
    }
    let created = api(
        http,
        server,
        "/api/database-configs",
        Some(token),
        &json!({"name": "bench", "provider": "postgresql", "connection_config": connection}),
    )
    .await?;
    let db = created["data"]["id"].as_str().context("no connection id")?;
    let issued = api(
        http,
        server,
        "/api/mcp-keys",
        Some(token),
        &json!({"name": "bench", "dbManagementId": db, "tableWhitelist": ["public.orders"],
                "rateLimitPerMinute": 1_000_000}),
    )
    .await?;
    Ok(issued["keyValue"]
        .as_str()
        .context("no keyValue")?
        .to_owned())
}

/// The JSON-RPC request for the orders of `customer`.
fn call_body(customer: u32) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "execute_query_safe",
        "arguments": {
            "tableName": "public.orders",
            "selectColumns": [{"field": "id"}, {"field": "customer_id"}, {"field": "total"},
                              {"field": "status"}, {"field": "created_at"}],
            "where": [{"field": "customer_id", "op": "=", "value": customer}],
            "orderBy": [{"field": "created_at", "direction": "desc"}],
            "limit": 10
        }
    }})
    .to_string()
}

/// A small xorshift generator: each client draws its own customer ids.
struct Rng(u64);

impl Rng {
    fn customer(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        1 + (self.0 % u64::from(CUSTOMERS)) as u32
    }
}

/// What one client saw.
#[derive(Default)]
struct ClientRun {
    latencies_us: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// A minimal HTTP/1.1 keep-alive connection: pgbench is a lean C client, so the load
/// generator must not spend more CPU than sluice itself (reqwest took about 36 µs a request).
struct Connection {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    async fn open(addr: &str) -> std::io::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends `request` and reads the response: its status and body.
    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, &[u8]), String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        self.stream
            .write_all(request)
            .await
            .map_err(|e| e.to_string())?;
        self.buf.clear();
        let mut head: Option<(u16, usize, usize)> = None;
        loop {
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            if head.is_none() {
                head = parse_head(&self.buf)?;
            }
            if let Some((status, body_at, length)) = head
                && self.buf.len() >= body_at + length
            {
                return Ok((status, &self.buf[body_at..body_at + length]));
            }
        }
    }
}

/// Status, where the body starts and its length, once the whole head has arrived.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize, usize)>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {head}"))?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| format!("a response without Content-Length: {head}"))?;
    Ok(Some((status, end + 4, length)))
}

/// The HTTP request for the orders of `customer`, with the headers MCP clients send
/// (`Accept-Encoding` as Python's httpx sends it by default).
fn call_request(host: &str, key: &str, customer: u32) -> Vec<u8> {
    let body = call_body(customer);
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nX-MCP-Server-Key: {key}\r\n\
         Accept: application/json, text/event-stream\r\nAccept-Encoding: gzip, deflate\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One keep-alive client sending calls until `stop`; it reconnects after an error.
async fn client_loop(
    host: String,
    requests: Arc<Vec<Vec<u8>>>,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> ClientRun {
    let mut rng = Rng(seed | 1);
    let mut run = ClientRun {
        latencies_us: Vec::with_capacity(1 << 14),
        ..ClientRun::default()
    };
    let mut conn: Option<Connection> = None;
    while !stop.load(Ordering::Relaxed) {
        let request = &requests[rng.customer() as usize - 1];
        let started = Instant::now();
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Connection::open(&host).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    run.errors += 1;
                    run.first_error.get_or_insert(e.to_string());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        // A cheap check: one answer was parsed in full before the run.
        let outcome = match c.exchange(request).await {
            Ok((200, body)) if contains(body, b"\"isError\":false") => Ok(()),
            Ok((status, body)) => Err(format!("{status}: {}", String::from_utf8_lossy(body))),
            Err(e) => {
                conn = None;
                Err(e)
            }
        };
        run.latencies_us
            .push(started.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
        if let Err(e) = outcome {
            run.errors += 1;
            run.first_error.get_or_insert(e);
        }
    }
    run
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Drives `clients` concurrent clients for `secs`.
async fn drive_sluice(
    server: &Server,
    key: &str,
    clients: usize,
    secs: u64,
) -> anyhow::Result<(Figures, u64, Option<String>)> {
    let host = server.base.trim_start_matches("http://").to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    // Every request made once, as wrk and pgbench do: the load generator's CPU is the
    // machine's, which the servers under test share.
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        (1..=CUSTOMERS)
            .map(|customer| call_request(&host, key, customer))
            .collect(),
    );
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            tokio::spawn(client_loop(
                host.clone(),
                requests.clone(),
                0x9E37_79B9_7F4A_7C15 ^ ((i as u64 + 1) * 0x1000_0001),
                stop.clone(),
            ))
        })
        .collect();
    let started = Instant::now();
    let pid = server.child.id().to_string();
    let before = (cpu_time(&pid), cpu_time("self"), machine_busy());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let after = (cpu_time(&pid), cpu_time("self"), machine_busy());
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let run = t.await?;
        latencies.extend(run.latencies_us);
        errors += run.errors;
        if first_error.is_none() {
            first_error = run.first_error;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = latencies.len() as u64;
    let (p50_ms, p99_ms) = percentiles(&mut latencies);
    Ok((
        Figures {
            rps: requests as f64 / elapsed,
            p50_ms,
            p99_ms,
            requests,
            server_cpu_us: per_request(before.0, after.0, requests),
            client_cpu_us: per_request(before.1, after.1, requests),
            machine_cpu_us: per_request(before.2, after.2, requests),
        },
        errors,
        first_error,
    ))
}

/// Runs pgbench with the same statement and reads tps and per-transaction latencies.
fn drive_pgbench(
    admin: &str,
    dir: &Path,
    clients: usize,
    secs: u64,
    round: u32,
) -> anyhow::Result<Figures> {
    let script = dir.join("orders.sql");
    std::fs::write(
        &script,
        format!("\\set cid random(1, {CUSTOMERS})\n{DIRECT_SQL}\n"),
    )?;
    let logs = dir.join(format!("pgbench-{round}"));
    std::fs::create_dir_all(&logs)?;
    let pgbench = std::env::var("PGBENCH").unwrap_or_else(|_| "pgbench".to_owned());
    let before = machine_busy();
    let out = Command::new(&pgbench)
        .current_dir(&logs)
        .args(["-n", "-M", "prepared", "-j", "2", "-l", "--log-prefix=tx"])
        .args(["-c", &clients.to_string(), "-T", &secs.to_string()])
        .arg("-f")
        .arg(&script)
        .arg(url_for(admin, TARGET_DB))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {pgbench} (set PGBENCH to its path)"))?;
    let after = machine_busy();
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "pgbench failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tps: f64 = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))?;
    // Per-transaction log lines: client, transaction, latency in µs, script, epoch s, µs.
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(&logs)? {
        let text = std::fs::read_to_string(entry?.path())?;
        latencies.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
        );
    }
    let requests = latencies.len() as u64;
    let (p50_ms, p99_ms) = percentiles(&mut latencies);
    Ok(Figures {
        rps: tps,
        p50_ms,
        p99_ms,
        requests,
        server_cpu_us: None,
        client_cpu_us: None,
        machine_cpu_us: per_request(before, after, requests),
    })
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let secs: u64 = env_or("BENCH_SECS", 4);
    let clients: usize = env_or("BENCH_CLIENTS", 32);
    let rounds: u32 = env_or("BENCH_ROUNDS", 9).max(1);
    let dir: PathBuf = std::env::temp_dir().join(format!("sluice-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let t0 = Instant::now();
    create_databases(&admin).await?;
    println!(
        "setup: {ORDERS} orders of {CUSTOMERS} customers in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let http = reqwest::Client::new();
    let (audited, password) = start_server(&admin, &dir, &http, &[]).await?;
    let password = password.context("create-admin printed no password")?;
    let key = issue_key(&admin, &http, &audited, &password).await?;
    // A second server over the same metadata (the key is valid there too), with auditing off:
    // what recording every call costs.
    let (quiet, _) =
        start_server(&admin, &dir, &http, &[("SLUICE_AUDIT__ENABLED", "false")]).await?;

    // Checks one answer in full on each, then warms up the pools and caches.
    for server in [&audited, &quiet] {
        let answer: Value = http
            .post(format!("{}/mcp", server.base))
            .header("X-MCP-Server-Key", &key)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(call_body(7))
            .send()
            .await?
            .json()
            .await?;
        let result = &answer["result"];
        ensure!(
            result["isError"] == false && result["structuredContent"]["rowCount"] == 10,
            "unexpected answer: {answer}"
        );
        let (_, errors, first) = drive_sluice(server, &key, clients, 2).await?;
        ensure!(
            errors == 0,
            "{errors} failed requests in warm-up: {first:?}"
        );
    }

    println!(
        "execute_query_safe, 10 latest orders of a random customer, {clients} concurrent clients, \
         {secs} s per phase; CPU in µs per request"
    );
    println!(
        "{:<6} {:<10} {:>9} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8}",
        "round",
        "side",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ratio",
        "sluice",
        "client",
        "machine"
    );
    let mut rounds_run = Vec::new();
    let mut failed = 0;
    for round in 1..=rounds {
        let mut phase = async |server: &Server| -> anyhow::Result<Figures> {
            let (f, errors, first) = drive_sluice(server, &key, clients, secs).await?;
            if errors > 0 {
                eprintln!(
                    "{errors} of {} requests failed; first: {first:?}",
                    f.requests
                );
                failed += errors;
            }
            Ok(f)
        };
        // The order goes through all six permutations, so that no side always runs first or
        // always follows the same side; a pause lets the audit writer flush the last events
        // (and the database settle) before the next phase is measured.
        const ORDERS: [[usize; 3]; 6] = [
            [0, 1, 2],
            [1, 2, 0],
            [2, 0, 1],
            [0, 2, 1],
            [2, 1, 0],
            [1, 0, 2],
        ];
        let (mut on, mut off, mut direct) = (None, None, None);
        for side in ORDERS[(round as usize - 1) % ORDERS.len()] {
            tokio::time::sleep(Duration::from_millis(500)).await;
            match side {
                0 => on = Some(phase(&audited).await?),
                1 => off = Some(phase(&quiet).await?),
                _ => direct = Some(drive_pgbench(&admin, &dir, clients, secs, round)?),
            }
        }
        let (Some(on), Some(off), Some(direct)) = (on, off, direct) else {
            unreachable!("each side ran once");
        };
        let ratio = on.rps / direct.rps;
        let cpu = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.0}"));
        for (side, f, ratio) in [
            ("audit on", on, format!("{ratio:.2}")),
            ("audit off", off, format!("{:.2}", off.rps / direct.rps)),
            ("pgbench", direct, String::new()),
        ] {
            println!(
                "{round:<6} {side:<10} {:>9} {:>8.0} {:>8.2} {:>8.2} {ratio:>7} {:>7} {:>7} {:>8}",
                f.requests,
                f.rps,
                f.p50_ms,
                f.p99_ms,
                cpu(f.server_cpu_us),
                cpu(f.client_cpu_us),
                cpu(f.machine_cpu_us),
            );
        }
        rounds_run.push((on, off, direct));
    }
    let rss = audited.peak_rss_mb()?.max(quiet.peak_rss_mb()?);
    drop((audited, quiet));

    // The median round by ratio decides: noise from the machine moves single rounds.
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratios: Vec<f64> = rounds_run.iter().map(|(on, _, d)| on.rps / d.rps).collect();
    let costs: Vec<f64> = rounds_run
        .iter()
        .map(|(on, off, _)| 1.0 - on.rps / off.rps)
        .collect();
    // The middle half of the rounds: how far the verdict is from flipping on this host.
    let quartiles = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        (v[n / 4], v[(3 * n / 4).min(n - 1)])
    };
    let (ratio_low, ratio_high) = quartiles(&ratios);
    let (cost_low, cost_high) = quartiles(&costs);
    let ratio = median(ratios);
    let audit_cost = median(costs);
    let p99 = median(rounds_run.iter().map(|(on, _, _)| on.p99_ms).collect());
    type Round = (Figures, Figures, Figures);
    let cpu = |pick: &dyn Fn(&Round) -> Option<f64>| {
        let v: Vec<f64> = rounds_run.iter().filter_map(pick).collect();
        if v.is_empty() {
            String::new()
        } else {
            format!("{:.0}", median(v))
        }
    };
    for (side, pick) in [
        ("audit on", (|r| r.0) as fn(&Round) -> Figures),
        ("audit off", |r| r.1),
        ("pgbench", |r| r.2),
    ] {
        println!(
            "{:<6} {side:<10} {:>9} {:>8.0} {:>8.2} {:>8.2} {:>7} {:>7} {:>7} {:>8}",
            "median",
            "",
            median(rounds_run.iter().map(|r| pick(r).rps).collect()),
            median(rounds_run.iter().map(|r| pick(r).p50_ms).collect()),
            median(rounds_run.iter().map(|r| pick(r).p99_ms).collect()),
            "",
            cpu(&|r| pick(r).server_cpu_us),
            cpu(&|r| pick(r).client_cpu_us),
            cpu(&|r| pick(r).machine_cpu_us),
        );
    }
    println!(
        "ratio sluice/direct {ratio:.2}  (target >= {TARGET_RATIO})  {}  (middle half of the rounds {ratio_low:.2}-{ratio_high:.2})",
        verdict(ratio >= TARGET_RATIO)
    );
    println!(
        "sluice p99 {p99:.2} ms  (target < {TARGET_P99_MS} ms)  {}",
        verdict(p99 < TARGET_P99_MS)
    );
    println!(
        "sluice peak RSS {rss:.1} MB  (target < {TARGET_RSS_MB} MB)  {}",
        verdict(rss < TARGET_RSS_MB)
    );
    println!(
        "throughput lost to auditing {:.1}%  (target <= 10%)  {}  (middle half of the rounds {:.1}-{:.1}%)",
        audit_cost * 100.0,
        verdict(audit_cost <= 0.10),
        cost_low * 100.0,
        cost_high * 100.0,
    );

    drop_databases(&admin).await?;
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(failed == 0, "{failed} requests failed");
    Ok(())
}
