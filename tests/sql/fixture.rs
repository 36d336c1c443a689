//! The corpus catalog as a real database of each provider: a fresh PostgreSQL database
//! (`TEST_DATABASE_URL`), fresh MariaDB/MySQL databases (`TEST_MYSQL_URL`) or a temp SQLite
//! file, with the same few rows in each, dropped or removed at the end.
//!
//! The catalog's schemas cannot be created as they are everywhere: MySQL schemas are
//! server-wide databases (so `public` becomes `<run>`, `sales` becomes `<run>_sales`...), and
//! SQLite has only `main` (so only the `public` tables exist there). A [`Layout`] says where
//! each catalog schema lives, and definitions are rewritten to name the real schemas.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use db_configs::{
    ConnectSpec, DbConfigId, Location, Provider, ReadLimits, ReadStatement, ResultSet, Secret,
    ServerEndpoint, SslMode, TableInfo, TargetDatabase, TargetError,
};
use mysql_async::prelude::Queryable as _;
use query::{Catalog, Engine, Plan, Query, QueryError, corpus};
use serde_json::Value;

/// The token of `public.secrets`: it must never come back from a query.
pub const SECRET_TOKEN: &str = "s3cr3t-token-never-read";

/// Generous limits: nothing the fixture holds comes near them.
pub fn limits() -> ReadLimits {
    ReadLimits {
        max_rows: 1000,
        max_bytes: 16 << 20,
        timeout: Duration::from_secs(30),
    }
}

/// Where each schema of the corpus catalog lives on one provider.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Catalog schema -> real schema; schemas missing here do not exist on the provider.
    schemas: BTreeMap<String, String>,
}

impl Layout {
    fn real(&self, schema: &str) -> Option<&str> {
        self.schemas
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(schema))
            .map(|(_, r)| r.as_str())
    }

    /// The catalog schema of a real one.
    pub fn logical(&self, real: &str) -> Option<&str> {
        self.schemas
            .iter()
            .find(|(_, r)| r.as_str() == real)
            .map(|(s, _)| s.as_str())
    }

    /// `tables` moved to their real schemas; tables of schemas the provider lacks are left out.
    fn place(&self, tables: Vec<TableInfo>) -> Vec<TableInfo> {
        tables
            .into_iter()
            .filter_map(|mut t| {
                t.schema = self.real(&t.schema)?.to_owned();
                Some(t)
            })
            .collect()
    }

    /// `name` (`schema.table`, `schema.table.column`...) with a leading catalog schema
    /// replaced by its real name; other names unchanged.
    fn rename(&self, name: &str, min_dots: usize) -> String {
        match name.split_once('.') {
            Some((schema, rest)) if name.matches('.').count() >= min_dots => {
                match self.real(schema) {
                    Some(real) => format!("{real}.{rest}"),
                    None => name.to_owned(),
                }
            }
            _ => name.to_owned(),
        }
    }

    /// The definition naming the real schemas: in table names (`schema.table`) and in
    /// column references qualified by schema and table (`schema.table.column`).
    pub fn rewrite(&self, arguments: &Value) -> Value {
        match arguments {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = match (k.as_str(), v) {
                            ("tableName" | "table", Value::String(s)) => {
                                Value::String(self.rename(s, 1))
                            }
                            ("field" | "otherField", Value::String(s)) => {
                                Value::String(self.rename(s, 2))
                            }
                            _ => self.rewrite(v),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.rewrite(v)).collect()),
            other => other.clone(),
        }
    }
}

/// One provider's copy of the fixture, reachable through its real adapter.
pub struct TestDb {
    pub label: &'static str,
    pub provider: Provider,
    pub target: Arc<dyn TargetDatabase>,
    pub spec: ConnectSpec,
    pub engine: Engine,
    pub layout: Layout,
    pub catalog: Catalog,
    /// What the server reported, e.g. `15.4`, `10.11.6-MariaDB`, `SQLite 3.46.0`.
    pub version: String,
    _cleanup: Cleanup,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.label, self.version)
    }
}

impl TestDb {
    async fn finish(
        label: &'static str,
        target: Arc<dyn TargetDatabase>,
        spec: ConnectSpec,
        layout: Layout,
        cleanup: Cleanup,
    ) -> Self {
        let report = target
            .test(&spec, None)
            .await
            .unwrap_or_else(|e| panic!("{label}: cannot reach the fixture: {e}"));
        let default_schema = layout
            .real(corpus::DEFAULT_SCHEMA)
            .expect("public exists everywhere")
            .to_owned();
        let catalog = Catalog::new(layout.place(corpus::granted_tables()), default_schema);
        Self {
            label,
            provider: spec.provider,
            engine: Engine::from(spec.provider).with_server_version(&report.server_version),
            version: report.server_version,
            target,
            spec,
            layout,
            catalog,
            _cleanup: cleanup,
        }
    }

    /// Parses and plans `arguments` (written for the corpus catalog) for this database.
    pub fn plan(&self, arguments: &Value) -> Result<Plan, QueryError> {
        let query = Query::parse(&self.layout.rewrite(arguments))?;
        query::plan_for(&query, &self.catalog, &self.engine, corpus::MAX_ROWS)
    }

    /// Runs a planned statement through the adapter.
    pub async fn read(&self, statement: &ReadStatement) -> Result<ResultSet, TargetError> {
        self.target.read(&self.spec, statement, limits()).await
    }

    /// `schema.table` of a plan, in the corpus catalog's names.
    pub fn logical_table(&self, real: &str) -> String {
        match real.split_once('.') {
            Some((schema, table)) => match self.layout.logical(schema) {
                Some(s) => format!("{s}.{table}"),
                None => real.to_owned(),
            },
            None => real.to_owned(),
        }
    }
}

/// Rows shared by every provider: `{schema}` is replaced by the real schema, `"` quotes
/// identifiers (backticks on MySQL), and `TS`/`TSZ` are the timestamp types.
const ROWS: &[&str] = &[
    r#"INSERT INTO {public}."users" VALUES
        (1, 'Ada', 'ada@example.com', 36, '2024-01-15 10:00:00'),
        (2, 'Bob', 'bob@example.com', 45, '2024-02-20 12:30:00'),
        (3, 'Cy', NULL, NULL, '2024-03-15 10:00:00'),
        (4, 'dee', 'dee@EXAMPLE.com', 30, '2023-12-31 23:59:59'),
        (5, 'Eve', 'eve@example.org', 65, NULL)"#,
    r#"INSERT INTO {public}."orders" VALUES
        (1, 1, 120.50, 'paid', NULL, '2024-01-16 09:00:00'),
        (2, 1, 35.00, 'shipped', 'gift', '2024-02-01 10:15:00'),
        (3, 2, 99.50, 'paid', NULL, '2024-02-20 13:00:00'),
        (4, 3, -10.00, 'refund', 'damaged', '2024-03-16 08:00:00'),
        (5, NULL, 15.25, 'paid', NULL, '2024-03-31 23:00:00'),
        (6, 2, NULL, 'pending', '100% sure', '2024-04-01 00:00:00')"#,
    r#"INSERT INTO {sales}."orders" VALUES (1, 10.00), (2, 250.75), (7, 3.50)"#,
    r#"INSERT INTO {archive}."events" VALUES (1, '{"k": 1}'), (2, '{"k": [2, 3]}')"#,
    r#"INSERT INTO {a}."dup" VALUES (1), (2)"#,
    r#"INSERT INTO {b}."dup" VALUES (2), (3)"#,
    r#"INSERT INTO {public}."we""ird" VALUES (1, 'x', 'y'), (2, 'v', 'w')"#,
    r#"INSERT INTO {public}."secrets" VALUES (1, '{SECRET}')"#,
];

/// The tables, per dialect: (catalog schema, statement).
fn create_tables(kind: Kind) -> Vec<(&'static str, String)> {
    let (text, varchar, ts, tsz, numeric, json, bigint) = match kind {
        Kind::Postgres => (
            "text",
            "varchar(255)",
            "timestamp",
            "timestamptz",
            "numeric",
            "jsonb",
            "bigint",
        ),
        Kind::MySql => (
            "varchar(255)",
            "varchar(255)",
            "datetime",
            "datetime",
            "decimal(12, 2)",
            "json",
            "bigint",
        ),
        Kind::Sqlite => ("TEXT", "TEXT", "TEXT", "TEXT", "NUMERIC", "TEXT", "INTEGER"),
    };
    let total = if kind == Kind::Sqlite {
        "NUMERIC"
    } else {
        "decimal(10, 2)"
    };
    vec![
        (
            "public",
            format!(
                r#"CREATE TABLE {{public}}."users" ("id" integer PRIMARY KEY, "name" {text}, "email" {varchar}, "age" integer, "created_at" {ts})"#
            ),
        ),
        (
            "public",
            format!(
                r#"CREATE TABLE {{public}}."orders" ("id" integer PRIMARY KEY, "customer_id" integer, "total" {total}, "status" {text}, "note" {text}, "created_at" {tsz})"#
            ),
        ),
        (
            "sales",
            format!(
                r#"CREATE TABLE {{sales}}."orders" ("id" integer PRIMARY KEY, "amount" {numeric})"#
            ),
        ),
        (
            "archive",
            format!(
                r#"CREATE TABLE {{archive}}."events" ("id" {bigint} PRIMARY KEY, "payload" {json})"#
            ),
        ),
        (
            "a",
            r#"CREATE TABLE {a}."dup" ("id" integer PRIMARY KEY)"#.to_owned(),
        ),
        (
            "b",
            r#"CREATE TABLE {b}."dup" ("id" integer PRIMARY KEY)"#.to_owned(),
        ),
        (
            "public",
            format!(
                r#"CREATE TABLE {{public}}."we""ird" ("id" integer PRIMARY KEY, "a""b" {text}, "x`y" {text})"#
            ),
        ),
        (
            "public",
            format!(
                r#"CREATE TABLE {{public}}."secrets" ("id" integer PRIMARY KEY, "token" {text})"#
            ),
        ),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Postgres,
    MySql,
    Sqlite,
}

/// The fixture's statements for `kind`, schemas placed by `layout`, in the dialect's quotes.
fn fixture_sql(kind: Kind, layout: &Layout) -> Vec<String> {
    let created = create_tables(kind).into_iter().filter_map(|(schema, sql)| {
        layout.real(schema)?;
        Some(sql)
    });
    let rows = ROWS
        .iter()
        .filter(|sql| {
            ["public", "sales", "archive", "a", "b"]
                .iter()
                .any(|s| sql.contains(&format!("{{{s}}}")) && layout.real(s).is_some())
        })
        .map(|s| (*s).to_owned());
    created
        .chain(rows)
        .map(|sql| {
            let mut sql = sql.replace("{SECRET}", SECRET_TOKEN);
            for schema in ["public", "sales", "archive", "a", "b"] {
                let real = layout.real(schema).unwrap_or("absent");
                let quoted = if kind == Kind::MySql {
                    format!("`{real}`.")
                } else {
                    format!("\"{real}\".")
                };
                sql = sql.replace(&format!("{{{schema}}}."), &quoted);
            }
            if kind == Kind::MySql {
                // Identifiers in backticks; the only double quotes in values are JSON's.
                sql = mysql_quotes(&sql);
            }
            sql
        })
        .collect()
}

/// Double-quoted identifiers as backtick-quoted ones (`""` is a quote inside a name), values
/// in single quotes left as they are.
fn mysql_quotes(sql: &str) -> String {
    let mut out = String::new();
    let mut chars = sql.chars().peekable();
    let (mut in_value, mut in_name) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\'' if !in_name => {
                in_value = !in_value;
                out.push(c);
            }
            '"' if !in_value => {
                if in_name && chars.peek() == Some(&'"') {
                    chars.next();
                    out.push('"');
                } else {
                    in_name = !in_name;
                    out.push('`');
                }
            }
            '`' if in_name => out.push_str("``"),
            _ => out.push(c),
        }
    }
    out
}

/// A short unique suffix for names of this run.
fn run_id() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    id[id.len() - 16..].to_owned()
}

/// What to remove at the end.
enum Cleanup {
    Postgres(String),
    MySql(Vec<String>),
    File(PathBuf),
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::File(path) => {
                for suffix in ["", "-journal", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Postgres(name) => {
                let name = name.clone();
                in_own_runtime(async move {
                    let admin = pg_connect(&pg_admin_config()).await;
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                });
            }
            Cleanup::MySql(names) => {
                let names = names.clone();
                in_own_runtime(async move {
                    let mut c = mysql_admin().await;
                    for name in names {
                        let _ = c
                            .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                            .await;
                    }
                    let _ = c.disconnect().await;
                });
            }
        }
    }
}

/// Runs `f` on a runtime of its own (the test's may be gone when a fixture is dropped).
fn in_own_runtime(f: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f);
    })
    .join();
}

fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn pg_admin_config() -> tokio_postgres::Config {
    pg_admin_url()
        .parse()
        .expect("TEST_DATABASE_URL is a postgres:// URL")
}

async fn pg_connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL ({}): {e}", pg_admin_url()));
    tokio::spawn(connection);
    client
}

/// A fresh PostgreSQL database with the fixture, every catalog schema as itself.
pub async fn postgres() -> TestDb {
    let name = format!("sluice_sql_{}", run_id());
    let admin = pg_connect(&pg_admin_config()).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the PostgreSQL test database");
    let cleanup = Cleanup::Postgres(name.clone());
    let layout = Layout {
        schemas: ["public", "sales", "archive", "a", "b"]
            .into_iter()
            .map(|s| (s.to_owned(), s.to_owned()))
            .collect(),
    };
    let mut config = pg_admin_config();
    config.dbname(&name);
    let client = pg_connect(&config).await;
    client
        .batch_execute(
            "CREATE SCHEMA sales; CREATE SCHEMA archive; CREATE SCHEMA a; CREATE SCHEMA b;",
        )
        .await
        .expect("create the schemas");
    for sql in fixture_sql(Kind::Postgres, &layout) {
        client
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL fixture: {e}: {sql}"));
    }
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let spec = ConnectSpec {
        provider: Provider::Postgresql,
        location: Location::Server(ServerEndpoint {
            host,
            port: config.get_ports().first().copied().unwrap_or(5432),
            database: name,
            username: config.get_user().unwrap_or("postgres").to_owned(),
            ssl: SslMode::Disable,
        }),
        password: config
            .get_password()
            .map(|p| Secret::new(String::from_utf8_lossy(p).into_owned())),
        resolved: None,
        connect_timeout_secs: 5,
        pool_key: Some(DbConfigId::new()),
    };
    let target = Arc::new(target_postgres::PgTarget::default());
    TestDb::finish("PostgreSQL", target, spec, layout, cleanup).await
}

fn mysql_admin_opts() -> mysql_async::Opts {
    let url = std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    mysql_async::Opts::from_url(&url).expect("TEST_MYSQL_URL is a mysql:// URL")
}

async fn mysql_admin() -> mysql_async::Conn {
    mysql_async::Conn::new(mysql_admin_opts())
        .await
        .expect("cannot connect to the test MariaDB/MySQL at TEST_MYSQL_URL")
}

/// Fresh MariaDB/MySQL databases with the fixture: `public` is `sluice_sql_<run>`, every
/// other catalog schema `sluice_sql_<run>_<schema>`.
pub async fn mysql() -> TestDb {
    let base = format!("sluice_sql_{}", run_id());
    let layout = Layout {
        schemas: ["public", "sales", "archive", "a", "b"]
            .into_iter()
            .map(|s| {
                let real = if s == "public" {
                    base.clone()
                } else {
                    format!("{base}_{s}")
                };
                (s.to_owned(), real)
            })
            .collect(),
    };
    let names: Vec<String> = layout.schemas.values().cloned().collect();
    let mut c = mysql_admin().await;
    for name in &names {
        c.query_drop(format!("CREATE DATABASE `{name}`"))
            .await
            .expect("create a MariaDB/MySQL test database");
    }
    let cleanup = Cleanup::MySql(names);
    let version: String = c.query_first("SELECT VERSION()").await.unwrap().unwrap();
    for sql in fixture_sql(Kind::MySql, &layout) {
        c.query_drop(&sql)
            .await
            .unwrap_or_else(|e| panic!("MySQL fixture: {e}: {sql}"));
    }
    let _ = c.disconnect().await;
    let opts = mysql_admin_opts();
    let spec = ConnectSpec {
        provider: if version.to_ascii_lowercase().contains("mariadb") {
            Provider::Mariadb
        } else {
            Provider::Mysql
        },
        location: Location::Server(ServerEndpoint {
            host: opts.ip_or_hostname().to_owned(),
            port: opts.tcp_port(),
            database: base,
            username: opts.user().unwrap_or("root").to_owned(),
            ssl: SslMode::Disable,
        }),
        password: opts.pass().map(|p| Secret::new(p.to_owned())),
        resolved: None,
        connect_timeout_secs: 5,
        pool_key: Some(DbConfigId::new()),
    };
    let target = Arc::new(target_mysql::MySqlTarget::default());
    let label = if spec.provider == Provider::Mariadb {
        "MariaDB"
    } else {
        "MySQL"
    };
    TestDb::finish(label, target, spec, layout, cleanup).await
}

/// A temp SQLite file with the fixture's `public` tables in `main` (the only schema the
/// adapter reads).
pub async fn sqlite() -> TestDb {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "sluice-sql-{}-{}-{}.db",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        run_id()
    ));
    let cleanup = Cleanup::File(path.clone());
    let layout = Layout {
        schemas: [("public".to_owned(), "main".to_owned())].into(),
    };
    let conn = rusqlite::Connection::open(&path).expect("create the SQLite fixture");
    for sql in fixture_sql(Kind::Sqlite, &layout) {
        conn.execute_batch(&sql)
            .unwrap_or_else(|e| panic!("SQLite fixture: {e}: {sql}"));
    }
    drop(conn);
    let spec = ConnectSpec {
        provider: Provider::Sqlite,
        location: Location::File {
            path: path.to_str().expect("temp paths are UTF-8").to_owned(),
        },
        password: None,
        resolved: None,
        connect_timeout_secs: 5,
        pool_key: Some(DbConfigId::new()),
    };
    TestDb::finish(
        "SQLite",
        Arc::new(target_sqlite::SqliteTarget),
        spec,
        layout,
        cleanup,
    )
    .await
}
