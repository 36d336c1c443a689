//! Test harness: per-test databases cloned from a migrated template, and `spawn_app`.

use std::sync::LazyLock;

use secrets::MasterKey;
use serde_json::{Value, json};
use server::config::Settings;
use server::startup::Application;
use tokio_postgres::NoTls;

/// The maintenance database of the test PostgreSQL server (`TEST_DATABASE_URL`).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The same server, another database.
pub fn url_for(db: &str) -> String {
    let admin = admin_url();
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_owned(), format!("?{q}")),
        None => (admin.clone(), String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base[authority..].find('/') {
        Some(i) => &base[..authority + i],
        None => base.as_str(),
    };
    format!("{prefix}/{db}{query}")
}

/// The master key every test server uses, so tests can forge tokens with the real key.
pub const TEST_MASTER_KEY: &str =
    "5b0c8ad9a8f44c9f5f0a76f4b3e2d1c0ffeeddccbbaa99887766554433221100";

pub fn master_key() -> MasterKey {
    MasterKey::parse(TEST_MASTER_KEY).expect("test master key parses")
}

static TEMPLATE: LazyLock<String> = LazyLock::new(|| {
    let sums: String = store_postgres::MIGRATIONS
        .iter()
        .map(|m| m.checksum())
        .collect();
    let digest = sums.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("sluice_test_tpl_{digest:016x}")
});

async fn admin_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&admin_url(), NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to the test PostgreSQL at TEST_DATABASE_URL ({}): {e}",
                admin_url()
            )
        });
    tokio::spawn(conn);
    client
}

/// Runs a clean-up future to completion from `Drop`, on a runtime of its own (the test's
/// runtime may be shutting down, or be the current thread).
pub fn cleanup(fut: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(fut);
        }
    })
    .join();
}

/// Drops a database of the test server, disconnecting its sessions.
pub async fn drop_pg_database(name: &str) {
    let _ = admin_client()
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
}

/// A database of its own for one test, dropped when the test ends.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let client = admin_client().await;
        let template = TEMPLATE.as_str();
        // One process at a time builds the template.
        client
            .execute("SELECT pg_advisory_lock(72110)", &[])
            .await
            .unwrap();
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
            .await
            .unwrap()
            .is_some();
        if !exists {
            let building = format!("{template}_building");
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .await
                .unwrap();
            client
                .batch_execute(&format!("CREATE DATABASE {building}"))
                .await
                .unwrap();
            {
                let (c, conn) = tokio_postgres::connect(&url_for(&building), NoTls)
                    .await
                    .unwrap();
                let task = tokio::spawn(conn);
                let store = server::startup::open_store(&Settings {
                    database_url: url_for(&building),
                    ..Settings::default()
                })
                .unwrap();
                store
                    .migrate()
                    .await
                    .expect("migrations apply to an empty database");
                drop(store);
                drop(c);
                let _ = task.await;
            }
            client
                .batch_execute(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{building}' AND pid <> pg_backend_pid()"
                ))
                .await
                .unwrap();
            client
                .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
                .await
                .unwrap();
        }
        client
            .execute("SELECT pg_advisory_unlock(72110)", &[])
            .await
            .unwrap();

        let name = format!("sluice_test_{}", uuid::Uuid::now_v7().simple());
        let mut attempt = 0;
        loop {
            match client
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await
            {
                Ok(()) => break,
                // The template is briefly busy while another test clones it.
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot clone the template database: {e}"),
            }
        }
        let url = url_for(&name);
        Self { name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        cleanup(async move { drop_pg_database(&name).await });
    }
}

/// A running server with its own database.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    handle: actix_web::dev::ServerHandle,
    /// Disconnected when the server's thread has ended.
    ended: std::sync::mpsc::Receiver<()>,
}

/// Settings of a test server on `db`: port 0, one worker, the test master key.
pub fn test_settings(db: &TestDb) -> Settings {
    let mut s = Settings {
        database_url: db.url.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        master_key: Some(TEST_MASTER_KEY.to_owned()),
        data_dir: std::env::temp_dir().join(format!("sluice-test-{}", db.name)),
        ..Settings::default()
    };
    s.http.workers = 1;
    s.database.max_connections = 4;
    s.targets.refresh_interval_secs = 0;
    s.targets.connect_timeout_secs = 2;
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        server::telemetry::init(&Settings::default(), std::io::stdout);
    }
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    customize(&mut settings);
    // The server runs on threads of its own, as it would in its own process: when a test
    // ends, its runtime stops polling while the test's databases are dropped, and a server on
    // that runtime would stop half-way through whatever it was doing (an audit batch's `COPY`
    // left waiting for its rows holds up every `DROP DATABASE` on the cluster).
    let (started, ready) = tokio::sync::oneshot::channel();
    // Closed when the server's thread ends.
    let (ended_tx, ended) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let _ended = ended_tx;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the server");
        runtime.block_on(async move {
            match Application::build(&settings, &master_key(), false).await {
                Ok(app) => {
                    let _ = started.send(Ok((app.port(), app.handle())));
                    let _ = app.run_until_stopped().await;
                }
                Err(e) => {
                    let _ = started.send(Err(format!("{e:#}")));
                }
            }
        });
    });
    let (port, handle) = ready
        .await
        .expect("the server thread answers")
        .expect("the server starts");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        handle,
        ended,
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request is sent")
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request is sent")
    }

    /// Signs up the first administrator `admin` and returns the token response.
    pub async fn sign_up_admin(&self) -> Value {
        let res = self
            .post_json(
                "/api/auth/sign-up",
                &json!({"username": "admin", "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), 200, "first sign-up succeeds");
        res.json().await.unwrap()
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/auth/sign-in",
            &json!({"username": username, "password": password}),
        )
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stopping is requested at once; the future only waits for completion.
        drop(self.handle.stop(false));
        // The server drains its audit queue while its database still exists; then the
        // database is dropped (a field, after this).
        let _ = self.ended.recv_timeout(std::time::Duration::from_secs(10));
    }
}

/// Reads a problem+json response, checking its media type and members.
pub async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        ct.as_deref(),
        Some("application/problem+json"),
        "content type"
    );
    let body: Value = res.json().await.expect("a JSON body");
    assert_eq!(body["status"], status);
    for member in ["type", "title", "detail", "code"] {
        assert!(body[member].is_string(), "problem has `{member}`: {body}");
    }
    body
}

/// A user's PostgreSQL database for one test: schema `shop` with `customers`, `orders`
/// (a foreign key to customers), a view and comments, and a read-only login that may read
/// `customers` and `orders` only. Dropped (with the login) at the end.
#[derive(Debug)]
pub struct TargetPg {
    pub database: String,
    pub reader: String,
    pub reader_password: String,
}

impl TargetPg {
    pub async fn new() -> Self {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let database = format!("sluice_target_{id}");
        let reader = format!("sluice_reader_{}", &id[id.len() - 12..]);
        let reader_password = format!("pw-{}", &id[..16]);
        let admin = admin_client().await;
        admin
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!(
                "CREATE ROLE {reader} LOGIN PASSWORD '{reader_password}'"
            ))
            .await
            .unwrap();
        let (c, conn) = tokio_postgres::connect(&url_for(&database), NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!(
            "CREATE SCHEMA shop;
             CREATE TABLE shop.customers (id bigint PRIMARY KEY, name text NOT NULL, email text);
             COMMENT ON TABLE shop.customers IS 'People who buy things';
             COMMENT ON COLUMN shop.customers.email IS 'Where receipts go';
             CREATE TABLE shop.orders (
                 id bigint PRIMARY KEY,
                 customer_id bigint NOT NULL REFERENCES shop.customers (id),
                 amount numeric(10, 2) NOT NULL DEFAULT 0,
                 placed_at timestamptz NOT NULL DEFAULT now());
             CREATE TABLE shop.secrets (id int PRIMARY KEY, token text);
             CREATE VIEW shop.big_orders AS SELECT * FROM shop.orders WHERE amount > 100;
             INSERT INTO shop.customers SELECT g, 'customer ' || g, NULL FROM generate_series(1, 50) g;
             INSERT INTO shop.orders SELECT g, 1 + g % 50, g, now() FROM generate_series(1, 200) g;
             ANALYZE;
             GRANT USAGE ON SCHEMA shop TO {reader};
             GRANT SELECT ON shop.customers, shop.orders TO {reader};
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             REVOKE CREATE ON DATABASE {database} FROM PUBLIC;"
        ))
        .await
        .unwrap();
        Self {
            database,
            reader,
            reader_password,
        }
    }

    /// The seed 000 `connection_config` for the read-only login.
    pub fn reader_config(&self) -> Value {
        let (host, port) = server_address();
        json!({"host": host, "port": port, "database": self.database, "username": self.reader, "password": self.reader_password, "ssl": false})
    }

    /// The seed 000 `connection_config` for the superuser.
    pub fn superuser_config(&self) -> Value {
        let (host, port) = server_address();
        json!({"host": host, "port": port, "database": self.database, "username": "postgres", "ssl": false})
    }
}

/// Host and port of the test PostgreSQL server.
pub fn server_address() -> (String, u16) {
    let config: tokio_postgres::Config = admin_url().parse().unwrap();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

impl Drop for TargetPg {
    fn drop(&mut self) {
        let (database, reader) = (self.database.clone(), self.reader.clone());
        cleanup(async move {
            drop_pg_database(&database).await;
            let _ = admin_client()
                .await
                .batch_execute(&format!("DROP ROLE IF EXISTS {reader}"))
                .await;
        });
    }
}

impl TestApp {
    /// Signs up the first admin and returns its access token.
    pub async fn admin_token(&self) -> String {
        self.sign_up_admin().await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Sends a request and reads its JSON body.
    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Value {
        self.send(method, path, token, body)
            .await
            .json()
            .await
            .expect("a JSON body")
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request is sent")
    }
}

/// The test MariaDB/MySQL server (`TEST_MYSQL_URL`), as an administrator.
pub fn mysql_admin_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// A user's MariaDB database for one test: `customers`, `orders` (a foreign key), a view,
/// comments, and a login (with a password) that may read `customers` and `orders` only.
#[derive(Debug)]
pub struct TargetMaria {
    pub database: String,
    pub reader: String,
    pub reader_password: String,
    pub host: String,
    pub port: u16,
}

async fn mysql_admin() -> mysql_async::Conn {
    use mysql_async::prelude::Queryable as _;
    let url = mysql_admin_url();
    let opts = mysql_async::Opts::from_url(&url).expect("TEST_MYSQL_URL is a mysql:// URL");
    let mut conn = mysql_async::Conn::new(opts).await.unwrap_or_else(|e| {
        panic!("cannot connect to the test MariaDB at TEST_MYSQL_URL ({url}): {e}")
    });
    conn.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'")
        .await
        .ok();
    conn
}

impl TargetMaria {
    pub async fn new() -> Self {
        use mysql_async::prelude::Queryable as _;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let database = format!("sluice_target_{}", &id[id.len() - 16..]);
        let reader = format!("sl_r_{}", &id[id.len() - 10..]);
        let reader_password = format!("pw-{}", &id[..16]);
        let mut c = mysql_admin().await;
        for sql in [
            format!("CREATE DATABASE {database}"),
            format!(
                "CREATE TABLE {database}.customers (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) COMMENT 'Where receipts go') COMMENT 'People who buy things'"
            ),
            format!(
                "CREATE TABLE {database}.orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, amount DECIMAL(10,2) NOT NULL DEFAULT 0, CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES {database}.customers (id))"
            ),
            format!("CREATE TABLE {database}.secrets (id INT PRIMARY KEY, token TEXT)"),
            format!(
                "CREATE VIEW {database}.big_orders AS SELECT * FROM {database}.orders WHERE amount > 100"
            ),
            format!(
                "INSERT INTO {database}.customers (id, name) VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Edsger')"
            ),
            format!("INSERT INTO {database}.orders VALUES (1, 1, 10.5), (2, 1, 250), (3, 2, 99)"),
            format!("ANALYZE TABLE {database}.customers, {database}.orders"),
        ] {
            c.query_drop(sql).await.unwrap();
        }
        for host in ["%", "localhost", "127.0.0.1"] {
            c.query_drop(format!(
                "CREATE USER '{reader}'@'{host}' IDENTIFIED BY '{reader_password}'"
            ))
            .await
            .unwrap();
            c.query_drop(format!(
                "GRANT SELECT ON {database}.customers TO '{reader}'@'{host}'"
            ))
            .await
            .unwrap();
            c.query_drop(format!(
                "GRANT SELECT ON {database}.orders TO '{reader}'@'{host}'"
            ))
            .await
            .unwrap();
        }
        let opts = mysql_async::Opts::from_url(&mysql_admin_url()).unwrap();
        let host = opts.ip_or_hostname().to_owned();
        let port = opts.tcp_port();
        let _ = c.disconnect().await;
        Self {
            database,
            reader,
            reader_password,
            host,
            port,
        }
    }

    pub fn reader_config(&self) -> Value {
        json!({"host": self.host, "port": self.port, "database": self.database, "username": self.reader, "password": self.reader_password})
    }
}

impl Drop for TargetMaria {
    fn drop(&mut self) {
        let (database, reader) = (self.database.clone(), self.reader.clone());
        cleanup(async move {
            use mysql_async::prelude::Queryable as _;
            let mut c = mysql_admin().await;
            let _ = c
                .query_drop(format!("DROP DATABASE IF EXISTS {database}"))
                .await;
            for host in ["%", "localhost", "127.0.0.1"] {
                let _ = c
                    .query_drop(format!("DROP USER IF EXISTS '{reader}'@'{host}'"))
                    .await;
            }
            let _ = c.disconnect().await;
        });
    }
}

/// The engine a [`ShopTarget`] lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Maria,
    Sqlite,
}

/// Orders in a [`ShopTarget`].
pub const SHOP_ORDERS: i64 = 200;
/// Orders `1..=SHOP_NOTED_ORDERS` carry a note of [`SHOP_NOTE_CHARS`] characters.
pub const SHOP_NOTED_ORDERS: i64 = 30;
pub const SHOP_NOTE_CHARS: usize = 1000;
/// The order holding one huge note of [`SHOP_HUGE_NOTE_CHARS`] characters.
pub const SHOP_HUGE_ORDER: i64 = 31;
pub const SHOP_HUGE_NOTE_CHARS: usize = 50_000;
/// The only value of the table no key is given: it must never reach an agent.
pub const SHOP_SECRET: &str = "tok-SECRET-7f3a9c";

/// The same small shop on every engine, for tests that run one body per provider:
/// `customers` (3 rows: text with quotes and non-ASCII letters, a null, decimals,
/// timestamps), `orders` ([`SHOP_ORDERS`] rows, amount `id + 0.5`, some with big notes) and
/// `secrets` (readable by the login, meant to stay outside every key's whitelist). The
/// login may read all three (so only Sluice keeps `secrets` out). Dropped at the end.
#[derive(Debug)]
pub struct ShopTarget {
    pub engine: Engine,
    /// The database (PostgreSQL, MariaDB) or the file path (SQLite).
    pub database: String,
    /// Where the tables are: `shop`, the database name, or `main`.
    pub schema: String,
    pub reader: String,
    pub reader_password: String,
}

fn shop_inserts(prefix: &str) -> Vec<String> {
    let customers = format!(
        "INSERT INTO {prefix}customers (id, name, email, balance, joined_at) VALUES \
         (1, 'Ada Lovelace', 'ada@example.com', 12.50, '2024-01-02 03:04:05'), \
         (2, 'Zoë O''Brien ✓', NULL, 0.10, '2023-12-31 23:59:59'), \
         (3, 'Edsger', 'edsger@example.com', -7.25, '2024-02-29 12:00:00')"
    );
    let orders: Vec<String> = (1..=SHOP_ORDERS)
        .map(|i| {
            let note = match i {
                _ if i <= SHOP_NOTED_ORDERS => {
                    format!("'{i:04}{}'", "x".repeat(SHOP_NOTE_CHARS - 4))
                }
                SHOP_HUGE_ORDER => format!("'{}'", "h".repeat(SHOP_HUGE_NOTE_CHARS)),
                _ => "NULL".to_owned(),
            };
            format!(
                "({i}, {}, {i}.50, '2024-03-01 10:{:02}:00', {note})",
                1 + i % 3,
                i % 60
            )
        })
        .collect();
    vec![
        customers,
        format!(
            "INSERT INTO {prefix}orders (id, customer_id, amount, placed_at, note) VALUES {}",
            orders.join(", ")
        ),
        format!("INSERT INTO {prefix}secrets (id, token) VALUES (1, '{SHOP_SECRET}')"),
    ]
}

impl ShopTarget {
    pub async fn new(engine: Engine) -> Self {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let reader_password = format!("pw-{}", &id[..16]);
        match engine {
            Engine::Postgres => {
                let database = format!("sluice_shop_{id}");
                let reader = format!("sluice_shop_{}", &id[id.len() - 12..]);
                let admin = admin_client().await;
                for sql in [
                    format!("CREATE DATABASE {database}"),
                    format!("CREATE ROLE {reader} LOGIN PASSWORD '{reader_password}'"),
                ] {
                    admin.batch_execute(&sql).await.unwrap();
                }
                let (c, conn) = tokio_postgres::connect(&url_for(&database), NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                c.batch_execute(
                    "CREATE SCHEMA shop;
                     CREATE TABLE shop.customers (id bigint PRIMARY KEY, name text NOT NULL, email text,
                         balance numeric(10, 2) NOT NULL, joined_at timestamp NOT NULL);
                     CREATE TABLE shop.orders (id bigint PRIMARY KEY,
                         customer_id bigint NOT NULL REFERENCES shop.customers (id),
                         amount numeric(10, 2) NOT NULL, placed_at timestamp NOT NULL, note text);
                     CREATE TABLE shop.secrets (id int PRIMARY KEY, token text NOT NULL);
                     CREATE VIEW shop.big_orders AS
                         SELECT id, customer_id FROM shop.orders WHERE amount > 100;",
                )
                .await
                .unwrap();
                for sql in shop_inserts("shop.") {
                    c.batch_execute(&sql).await.unwrap();
                }
                c.batch_execute(&format!(
                    "ANALYZE;
                     GRANT USAGE ON SCHEMA shop TO {reader};
                     GRANT SELECT ON ALL TABLES IN SCHEMA shop TO {reader};
                     REVOKE CREATE ON SCHEMA public FROM PUBLIC;
                     REVOKE CREATE ON DATABASE {database} FROM PUBLIC;"
                ))
                .await
                .unwrap();
                Self {
                    engine,
                    database,
                    schema: "shop".into(),
                    reader,
                    reader_password,
                }
            }
            Engine::Maria => {
                use mysql_async::prelude::Queryable as _;
                let database = format!("sluice_shop_{}", &id[id.len() - 16..]);
                let reader = format!("sl_s_{}", &id[id.len() - 10..]);
                let mut c = mysql_admin().await;
                let mut script = vec![
                    format!(
                        "CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    ),
                    format!(
                        "CREATE TABLE {database}.customers (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200), balance DECIMAL(10,2) NOT NULL, joined_at DATETIME NOT NULL)"
                    ),
                    format!(
                        "CREATE TABLE {database}.orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, amount DECIMAL(10,2) NOT NULL, placed_at DATETIME NOT NULL, note MEDIUMTEXT, FOREIGN KEY (customer_id) REFERENCES {database}.customers (id))"
                    ),
                    format!(
                        "CREATE TABLE {database}.secrets (id INT PRIMARY KEY, token TEXT NOT NULL)"
                    ),
                    format!(
                        "CREATE VIEW {database}.big_orders AS SELECT id, customer_id FROM {database}.orders WHERE amount > 100"
                    ),
                ];
                script.extend(shop_inserts(&format!("{database}.")));
                script.push(format!(
                    "ANALYZE TABLE {database}.customers, {database}.orders, {database}.secrets"
                ));
                for host in ["%", "localhost", "127.0.0.1"] {
                    script.push(format!(
                        "CREATE USER '{reader}'@'{host}' IDENTIFIED BY '{reader_password}'"
                    ));
                    script.push(format!(
                        "GRANT SELECT ON {database}.* TO '{reader}'@'{host}'"
                    ));
                }
                for sql in script {
                    c.query_drop(&sql)
                        .await
                        .unwrap_or_else(|e| panic!("{e}: {}", &sql[..sql.len().min(200)]));
                }
                let _ = c.disconnect().await;
                Self {
                    engine,
                    schema: database.clone(),
                    database,
                    reader,
                    reader_password,
                }
            }
            Engine::Sqlite => {
                let path = std::env::temp_dir().join(format!("sluice-shop-{id}.db"));
                let c = rusqlite::Connection::open(&path).unwrap();
                c.execute_batch(
                    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT,
                         balance NUMERIC(10, 2) NOT NULL, joined_at DATETIME NOT NULL);
                     CREATE TABLE orders (id INTEGER PRIMARY KEY,
                         customer_id INTEGER NOT NULL REFERENCES customers (id),
                         amount NUMERIC(10, 2) NOT NULL, placed_at DATETIME NOT NULL, note TEXT);
                     CREATE TABLE secrets (id INTEGER PRIMARY KEY, token TEXT NOT NULL);
                     CREATE VIEW big_orders AS
                         SELECT id, customer_id FROM orders WHERE amount > 100;
                     -- Unix times in a DATETIME column, as many SQLite applications keep them.
                     CREATE TABLE visits (id INTEGER PRIMARY KEY, at DATETIME NOT NULL);
                     INSERT INTO visits VALUES (1, 1700000000), (2, 1700003600), (3, 1800000000);",
                )
                .unwrap();
                for sql in shop_inserts("") {
                    c.execute_batch(&sql).unwrap();
                }
                Self {
                    engine,
                    database: path.to_string_lossy().into_owned(),
                    schema: "main".into(),
                    reader: String::new(),
                    reader_password: String::new(),
                }
            }
        }
    }

    /// `schema.table` as Sluice lists it.
    pub fn qualified(&self, table: &str) -> String {
        format!("{}.{table}", self.schema)
    }

    /// The body of `POST /api/database-configs` for the read-only login.
    pub fn connection(&self) -> Value {
        let (provider, config) = match self.engine {
            Engine::Postgres => {
                let (host, port) = server_address();
                (
                    "postgresql",
                    json!({"host": host, "port": port, "database": self.database, "username": self.reader, "password": self.reader_password, "ssl": false}),
                )
            }
            Engine::Maria => {
                let opts = mysql_async::Opts::from_url(&mysql_admin_url()).unwrap();
                (
                    "mariadb",
                    json!({"host": opts.ip_or_hostname(), "port": opts.tcp_port(), "database": self.database, "username": self.reader, "password": self.reader_password}),
                )
            }
            Engine::Sqlite => ("sqlite", json!({"path": self.database})),
        };
        json!({"name": "Shop", "provider": provider, "connection_config": config})
    }

    /// Rows of `table`, counted directly on the database (not through Sluice).
    pub async fn count(&self, table: &str) -> i64 {
        match self.engine {
            Engine::Postgres => {
                let (c, conn) = tokio_postgres::connect(&url_for(&self.database), NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                c.query_one(&format!("SELECT count(*) FROM shop.{table}"), &[])
                    .await
                    .unwrap_or_else(|e| panic!("shop.{table} is gone: {e}"))
                    .get(0)
            }
            Engine::Maria => {
                use mysql_async::prelude::Queryable as _;
                let mut c = mysql_admin().await;
                let n: Option<i64> = c
                    .query_first(format!("SELECT COUNT(*) FROM {}.{table}", self.database))
                    .await
                    .unwrap_or_else(|e| panic!("{}.{table} is gone: {e}", self.database));
                let _ = c.disconnect().await;
                n.unwrap()
            }
            Engine::Sqlite => rusqlite::Connection::open(&self.database)
                .unwrap()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{table} is gone: {e}")),
        }
    }

    /// Statements of the login still running on the server (always 0 for SQLite, which
    /// has no server).
    pub async fn running_statements(&self) -> i64 {
        match self.engine {
            Engine::Postgres => admin_client()
                .await
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND state = 'active'",
                    &[&self.reader],
                )
                .await
                .unwrap()
                .get(0),
            Engine::Maria => {
                use mysql_async::prelude::Queryable as _;
                let mut c = mysql_admin().await;
                let n: Option<i64> = c
                    .exec_first(
                        "SELECT COUNT(*) FROM information_schema.processlist WHERE user = ? AND command IN ('Query', 'Execute', 'Killed')",
                        (self.reader.as_str(),),
                    )
                    .await
                    .unwrap();
                let _ = c.disconnect().await;
                n.unwrap()
            }
            Engine::Sqlite => 0,
        }
    }
}

impl Drop for ShopTarget {
    fn drop(&mut self) {
        let (engine, database, reader) = (self.engine, self.database.clone(), self.reader.clone());
        match engine {
            Engine::Postgres => cleanup(async move {
                drop_pg_database(&database).await;
                let _ = admin_client()
                    .await
                    .batch_execute(&format!("DROP ROLE IF EXISTS {reader}"))
                    .await;
            }),
            Engine::Maria => cleanup(async move {
                use mysql_async::prelude::Queryable as _;
                let mut c = mysql_admin().await;
                let _ = c
                    .query_drop(format!("DROP DATABASE IF EXISTS {database}"))
                    .await;
                for host in ["%", "localhost", "127.0.0.1"] {
                    let _ = c
                        .query_drop(format!("DROP USER IF EXISTS '{reader}'@'{host}'"))
                        .await;
                }
                let _ = c.disconnect().await;
            }),
            Engine::Sqlite => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let _ = std::fs::remove_file(format!("{database}{suffix}"));
                }
            }
        }
    }
}

/// An MCP client with one key, speaking JSON-RPC to `POST /mcp`.
#[derive(Debug)]
pub struct McpAgent<'a> {
    pub app: &'a TestApp,
    pub key: String,
}

impl McpAgent<'_> {
    /// Posts a JSON-RPC message with the key and extra headers.
    pub async fn post(&self, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .app
            .client
            .post(self.app.url("/mcp"))
            .header("X-MCP-Server-Key", &self.key)
            .header("Accept", "application/json, text/event-stream")
            .json(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request is sent")
    }

    /// `tools/call`: the whole JSON-RPC response body (`result` or `error`).
    pub async fn call_raw(&self, tool: &str, arguments: Value) -> Value {
        let res = self
            .post(
                &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}),
                &[],
            )
            .await;
        assert_eq!(res.status(), 200, "tools/call {tool}");
        res.json().await.expect("a JSON-RPC body")
    }

    /// `tools/call`: the `result`.
    pub async fn call(&self, tool: &str, arguments: Value) -> Value {
        let body = self.call_raw(tool, arguments).await;
        assert!(body.get("error").is_none(), "{tool}: {body}");
        body["result"].clone()
    }

    /// The names `tools/list` shows.
    pub async fn tool_names(&self) -> Vec<String> {
        let list: Value = self
            .post(
                &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
                &[],
            )
            .await
            .json()
            .await
            .unwrap();
        list["result"]["tools"]
            .as_array()
            .expect("a tool list")
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl TestApp {
    /// Registers `shop` and issues a key for it (`key` gives the grants, e.g.
    /// `tableWhitelist`, `maxRows`); returns the key.
    pub async fn shop_key(&self, token: &str, shop: &ShopTarget, key: Value) -> String {
        let res = self
            .send(
                reqwest::Method::POST,
                "/api/database-configs",
                token,
                Some(&shop.connection()),
            )
            .await;
        assert_eq!(res.status(), 201, "the connection is registered");
        let created: Value = res.json().await.unwrap();
        let db = created["data"]["id"].as_str().unwrap().to_owned();
        let mut body = key;
        body["name"] = json!(format!("agent-{}", &db[..8]));
        body["dbManagementId"] = json!(db);
        let issued = self
            .json(reqwest::Method::POST, "/api/mcp-keys", token, Some(&body))
            .await;
        issued["keyValue"]
            .as_str()
            .unwrap_or_else(|| panic!("a key is issued: {issued}"))
            .to_owned()
    }
}
