//! What the tests of `PgTarget` against a real PostgreSQL share (`TEST_DATABASE_URL`, a
//! superuser with trust authentication by default): each test makes a database of its own
//! and drops it. Each test binary uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use db_configs::{
    ConnectSpec, DbConfigId, Location, Provider, ReadLimits, ReadStatement, ResultSet,
    ServerEndpoint, SqlValue, SslMode, TargetDatabase,
};
use serde_json::Value;
use target_postgres::PgTarget;
use tokio_postgres::{Client, Config, NoTls};

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn admin_config() -> Config {
    admin_url()
        .parse()
        .expect("TEST_DATABASE_URL is a postgres:// URL")
}

pub async fn connect(config: &Config) -> Client {
    let (client, connection) = config.connect(NoTls).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to the test PostgreSQL ({}): {e}",
            admin_url()
        )
    });
    tokio::spawn(connection);
    client
}

pub const FIXTURE: &str = r#"
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
    CREATE TABLE items (
        id integer PRIMARY KEY, flag boolean, small smallint, big bigint, ratio real,
        precise double precision, price numeric(10, 2), huge numeric, label text,
        code varchar(10), letters char(3), doc json, docb jsonb, uid uuid, day date,
        at time, stamp timestamp, moment timestamptz, bytes bytea, tags text[],
        grid integer[], feeling mood, span interval, addr inet, score positive, pt point
    );
    INSERT INTO items VALUES (
        1, true, -3, 9007199254740993, 0.1, 2.5, 12.50,
        12345678901234567890.123456789, 'Ada "the first"', 'A-1', 'ab',
        '{"a": [1, 2], "b": null}', '{"k": "v"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '2024-02-29', '13:05:07.25', '2024-03-01 12:34:56', '2024-03-01 12:34:56.789+02',
        '\xdeadbeef', ARRAY['x', NULL, 'z'], '{{1,2},{3,4}}', 'happy', '1 day 2 hours',
        '192.168.0.1/24', 7, '(1,2)'
    );
    INSERT INTO items (id) VALUES (2);
    CREATE TABLE numbers (n integer PRIMARY KEY);
    INSERT INTO numbers SELECT generate_series(1, 50);
    CREATE TABLE wide (id integer PRIMARY KEY, payload text);
    INSERT INTO wide SELECT i, repeat('x', 1000) FROM generate_series(1, 10) i;
    CREATE SEQUENCE counter;
"#;

/// A database of its own, with the fixture, dropped at the end.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// A database with the reads' fixture.
    pub async fn new() -> Self {
        Self::with_fixture("read", FIXTURE).await
    }

    /// A database named after `kind`, loaded with `fixture`.
    pub async fn with_fixture(kind: &str, fixture: &str) -> Self {
        let name = format!("sluice_{kind}_{}", uuid::Uuid::now_v7().simple());
        let admin = connect(&admin_config()).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let db = Self { name };
        db.client()
            .await
            .batch_execute(fixture)
            .await
            .expect("load the fixture");
        db
    }

    pub fn config(&self) -> Config {
        let mut config = admin_config();
        config.dbname(&self.name);
        config
    }

    pub async fn client(&self) -> Client {
        connect(&self.config()).await
    }

    /// A stored connection to the database (its own pool).
    pub fn spec(&self) -> ConnectSpec {
        let config = self.config();
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        ConnectSpec {
            provider: Provider::Postgresql,
            location: Location::Server(ServerEndpoint {
                host,
                port: config.get_ports().first().copied().unwrap_or(5432),
                database: self.name.clone(),
                username: config.get_user().unwrap_or("postgres").to_owned(),
                ssl: SslMode::Disable,
            }),
            password: config
                .get_password()
                .map(|p| db_configs::Secret::new(String::from_utf8_lossy(p).into_owned())),
            resolved: None,
            connect_timeout_secs: 5,
            pool_key: Some(DbConfigId::new()),
        }
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.client()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0)
    }

    /// Statements of this database the server is running now, besides the asker's.
    pub async fn running(&self, like: &str) -> i64 {
        self.client()
            .await
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = $1 AND state = 'active' AND query LIKE $2
                   AND pid <> pg_backend_pid()",
                &[&self.name, &format!("%{like}%")],
            )
            .await
            .expect("read pg_stat_activity")
            .get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // The test's runtime may be gone: drop the database from a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                let admin = connect(&admin_config()).await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

pub fn limits() -> ReadLimits {
    ReadLimits {
        max_rows: 100,
        max_bytes: 1 << 20,
        timeout: Duration::from_secs(10),
    }
}

pub fn sql(text: &str) -> ReadStatement {
    ReadStatement {
        sql: text.to_owned(),
        params: Vec::new(),
    }
}

pub fn with(text: &str, params: Vec<SqlValue>) -> ReadStatement {
    ReadStatement {
        sql: text.to_owned(),
        params,
    }
}

pub async fn read(target: &PgTarget, spec: &ConnectSpec, statement: ReadStatement) -> ResultSet {
    target
        .read(spec, &statement, limits())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", statement.sql))
}

pub fn column<'a>(result: &'a ResultSet, row: usize, name: &str) -> &'a Value {
    let i = result
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    &result.rows[row][i]
}
