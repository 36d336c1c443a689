use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use db_configs::{Provider, ServerEndpoint, SslMode};

use super::*;

/// A file in the temp directory, removed (with SQLite's side files) when dropped.
#[derive(Debug)]
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        Self(std::env::temp_dir().join(format!(
            "sluice-target-sqlite-{}-{}-{nanos}-{tag}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
        )))
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8 here")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

const FIXTURE: &str = r#"
    CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT DEFAULT 'none');
    CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), amount NUMERIC);
    CREATE TABLE order_lines(order_id INTEGER REFERENCES orders, line INT, sku VARCHAR(20) NOT NULL, PRIMARY KEY (order_id, line));
    CREATE TABLE "odd ""name"""(k INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
    CREATE VIEW big_orders AS
        SELECT o.id, c.name, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id
        WHERE o.amount > 10;
    INSERT INTO customers(name, email) VALUES ('Ada', 'ada@example.com'), ('Brian', NULL);
    INSERT INTO customers(name) VALUES ('Cleo');
    INSERT INTO orders(customer_id, amount) VALUES (1, 5), (1, 12.5), (2, 40), (3, 1), (3, 99);
    INSERT INTO order_lines VALUES (1, 1, 'A-1'), (1, 2, 'B-2');
    INSERT INTO "odd ""name"""(v) VALUES ('x');
"#;

fn fixture() -> TempFile {
    let file = TempFile::new("fixture");
    let conn = Connection::open(&file.0).expect("create the fixture");
    conn.execute_batch(FIXTURE).expect("fill the fixture");
    file
}

fn spec(path: &str) -> ConnectSpec {
    ConnectSpec {
        provider: Provider::Sqlite,
        location: Location::File {
            path: path.to_owned(),
        },
        password: None,
        resolved: None,
        connect_timeout_secs: 5,
        pool_key: None,
    }
}

fn table(name: &str) -> TableName {
    TableName::parse(name, "probe").expect("a valid table name")
}

fn column(name: &str, data_type: &str, nullable: bool, default: Option<&str>) -> ColumnInfo {
    ColumnInfo {
        name: name.to_owned(),
        data_type: data_type.to_owned(),
        nullable,
        default: default.map(str::to_owned),
        comment: None,
    }
}

fn entry(name: &str, row_count: Option<i64>) -> RelationEntry {
    RelationEntry {
        name: name.to_owned(),
        row_count,
    }
}

#[test]
fn quote_ident_doubles_quotes() {
    assert_eq!(quote_ident("orders"), "\"orders\"");
    assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    assert_eq!(
        quote_ident("x\"; DROP TABLE t; --"),
        "\"x\"\"; DROP TABLE t; --\""
    );
}

#[tokio::test]
async fn test_reports_the_version_and_probes_tables() {
    let db = fixture();
    let spec = spec(db.path());

    let report = SqliteTarget.test(&spec, None).await.expect("test");
    assert!(report.server_version.starts_with("SQLite 3."), "{report:?}");
    assert!(report.warnings.is_empty());
    assert_eq!(report.tested_table, None);
    assert_eq!(report.tested_table_accessible, None);

    let probe = |name: &str| {
        let spec = spec.clone();
        let name = table(name);
        async move {
            let report = SqliteTarget.test(&spec, Some(&name)).await.expect("test");
            (
                report.tested_table.expect("probed"),
                report.tested_table_accessible.expect("probed"),
            )
        }
    };
    assert_eq!(probe("customers").await, ("customers".to_owned(), true));
    assert_eq!(probe("main.orders").await, ("main.orders".to_owned(), true));
    assert!(probe("MAIN.big_orders").await.1);
    assert_eq!(probe("missing").await, ("missing".to_owned(), false));
    assert_eq!(
        probe("other.orders").await,
        ("other.orders".to_owned(), false)
    );
    assert!(!probe("temp.orders").await.1);
}

#[tokio::test]
async fn discover_lists_tables_with_exact_counts_and_views() {
    let db = fixture();
    let listing = SqliteTarget
        .discover(&spec(db.path()))
        .await
        .expect("discover");
    assert_eq!(
        listing,
        vec![SchemaListing {
            name: "main".into(),
            // sqlite_sequence (made by AUTOINCREMENT) is internal and left out.
            tables: vec![
                entry("customers", Some(3)),
                entry("odd \"name\"", Some(1)),
                entry("order_lines", Some(2)),
                entry("orders", Some(5)),
            ],
            views: vec![entry("big_orders", None)],
        }]
    );
}

#[tokio::test]
async fn introspect_reads_columns_keys_and_counts() {
    let db = fixture();
    let tables = SqliteTarget
        .introspect(&spec(db.path()))
        .await
        .expect("introspect");
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "big_orders",
            "customers",
            "odd \"name\"",
            "order_lines",
            "orders"
        ]
    );
    let get = |name: &str| tables.iter().find(|t| t.name == name).expect(name);

    assert_eq!(
        get("customers"),
        &TableInfo {
            schema: "main".into(),
            name: "customers".into(),
            kind: RelationKind::Table,
            comment: None,
            row_estimate: Some(3),
            columns: vec![
                column("id", "INTEGER", false, None),
                column("name", "TEXT", false, None),
                column("email", "TEXT", true, Some("'none'")),
            ],
            primary_key: vec!["id".into()],
            foreign_keys: vec![],
        }
    );

    let orders = get("orders");
    assert_eq!(orders.row_estimate, Some(5));
    assert_eq!(
        orders.columns,
        vec![
            column("id", "INTEGER", false, None),
            column("customer_id", "INTEGER", false, None),
            column("amount", "NUMERIC", true, None),
        ]
    );
    assert_eq!(orders.primary_key, ["id"]);
    assert_eq!(
        orders.foreign_keys,
        vec![ForeignKey {
            name: "fk_orders_0".into(),
            columns: vec!["customer_id".into()],
            referenced_schema: "main".into(),
            referenced_table: "customers".into(),
            referenced_columns: vec!["id".into()],
        }]
    );

    // A composite key, a type with a length, and `REFERENCES orders` resolved to its key.
    let lines = get("order_lines");
    assert_eq!(lines.primary_key, ["order_id", "line"]);
    assert_eq!(
        lines.columns,
        vec![
            column("order_id", "INTEGER", true, None),
            column("line", "INT", true, None),
            column("sku", "VARCHAR(20)", false, None),
        ]
    );
    assert_eq!(lines.foreign_keys[0].referenced_table, "orders");
    assert_eq!(lines.foreign_keys[0].referenced_columns, ["id"]);

    let odd = get("odd \"name\"");
    assert_eq!(odd.row_estimate, Some(1));
    assert_eq!(odd.primary_key, ["k"]);

    let view = get("big_orders");
    assert_eq!(view.kind, RelationKind::View);
    assert_eq!(view.row_estimate, None);
    assert!(view.primary_key.is_empty() && view.foreign_keys.is_empty());
    let view_columns: Vec<&str> = view.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(view_columns, ["id", "name", "amount"]);
}

#[tokio::test]
async fn a_missing_file_is_not_found_and_not_created() {
    let missing = TempFile::new("missing");
    let spec = spec(missing.path());
    let expected =
        TargetError::NotFound(format!("the SQLite file {} does not exist", missing.path()));
    assert_eq!(SqliteTarget.test(&spec, None).await, Err(expected.clone()));
    assert_eq!(SqliteTarget.discover(&spec).await, Err(expected.clone()));
    assert_eq!(SqliteTarget.introspect(&spec).await, Err(expected));
    assert!(!missing.0.exists(), "the attempt created the file");
}

#[tokio::test]
async fn a_uri_is_not_interpreted() {
    let target = TempFile::new("uri");
    let uri = format!("file:{}?mode=rwc", target.path());
    let result = SqliteTarget.test(&spec(&uri), None).await;
    assert!(
        matches!(result, Err(TargetError::NotFound(_))),
        "{result:?}"
    );
    assert!(!target.0.exists(), "the URI created the file");
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_a_clear_error() {
    let file = TempFile::new("text");
    std::fs::write(
        &file.0,
        "this is a plain text file, not a database\n".repeat(50),
    )
    .expect("write the text file");
    let spec = spec(file.path());
    let expected = TargetError::Query(format!("the file {} is not a SQLite database", file.path()));
    assert_eq!(SqliteTarget.test(&spec, None).await, Err(expected.clone()));
    assert_eq!(SqliteTarget.discover(&spec).await, Err(expected.clone()));
    assert_eq!(SqliteTarget.introspect(&spec).await, Err(expected));
}

#[tokio::test]
async fn a_directory_is_unreachable() {
    let dir = std::env::temp_dir();
    let result = SqliteTarget
        .discover(&spec(dir.to_str().expect("UTF-8")))
        .await;
    assert!(
        matches!(&result, Err(TargetError::Unreachable(m)) if m.contains("directory")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_server_location_is_unsupported() {
    let mut spec = spec("unused");
    spec.location = Location::Server(ServerEndpoint {
        host: "localhost".into(),
        port: 5432,
        database: "db".into(),
        username: "u".into(),
        ssl: SslMode::Disable,
    });
    assert!(matches!(
        SqliteTarget.test(&spec, None).await,
        Err(TargetError::Unsupported(_))
    ));
    assert!(matches!(
        SqliteTarget.introspect(&spec).await,
        Err(TargetError::Unsupported(_))
    ));
}

fn customer_count(path: &Path) -> i64 {
    Connection::open(path)
        .expect("open read-write")
        .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))
        .expect("count")
}

#[test]
fn the_handle_cannot_write() {
    let db = fixture();
    let conn = open_read_only(db.path(), 1).expect("open read-only");
    conn.query_row("SELECT count(*) FROM customers", [], |r| r.get::<_, i64>(0))
        .expect("reading works");

    let insert = "INSERT INTO customers(name) VALUES ('Mallory')";
    assert!(conn.execute(insert, []).is_err());
    assert!(conn.execute_batch("CREATE TABLE t(x)").is_err());
    assert!(conn.execute("DELETE FROM orders", []).is_err());

    // Not only the pragma: with query_only turned off, the read-only open still refuses.
    conn.execute_batch("PRAGMA query_only = OFF")
        .expect("the pragma itself is allowed");
    let err = conn
        .execute(insert, [])
        .expect_err("the file is opened read-only");
    assert_eq!(err.sqlite_error_code(), Some(ErrorCode::ReadOnly), "{err}");
    drop(conn);

    assert_eq!(customer_count(&db.0), 3);
}

#[tokio::test]
async fn a_broken_view_does_not_hide_the_rest() {
    let db = fixture();
    Connection::open(&db.0)
        .expect("open read-write")
        .execute_batch(
            "CREATE TABLE gone(x); CREATE VIEW dangling AS SELECT x FROM gone; DROP TABLE gone;",
        )
        .expect("make a dangling view");
    let spec = spec(db.path());

    let tables = SqliteTarget.introspect(&spec).await.expect("introspect");
    let dangling = tables
        .iter()
        .find(|t| t.name == "dangling")
        .expect("listed");
    assert_eq!(dangling.kind, RelationKind::View);
    assert!(dangling.columns.is_empty());
    assert_eq!(tables.len(), 6);

    let listing = SqliteTarget.discover(&spec).await.expect("discover");
    assert_eq!(
        listing[0].views,
        [entry("big_orders", None), entry("dangling", None)]
    );

    let report = SqliteTarget
        .test(&spec, Some(&table("dangling")))
        .await
        .expect("test");
    assert_eq!(report.tested_table_accessible, Some(false));
}

#[tokio::test]
async fn reads_beyond_the_handles_of_a_file_are_busy() {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use db_configs::{ReadLimits, Truncation};

    let db = fixture();
    let pool = Arc::new(read::FilePool::new(db.path().to_owned(), 1, 1));
    let endless =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let limits = |ms| ReadLimits {
        max_rows: 10,
        max_bytes: 10_000,
        timeout: Duration::from_millis(ms),
    };
    let holder = tokio::spawn(read::read_pooled(pool.clone(), endless, &[], limits(2_500)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let second = read::read_pooled(pool.clone(), "SELECT 1", &[], limits(1_000)).await;
    assert_eq!(second, Err(TargetError::Busy));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(holder.await.unwrap(), Err(TargetError::QueryTimeout(2_500)));
    let after = read::read_pooled(pool, "SELECT name FROM customers", &[], limits(1_000))
        .await
        .unwrap();
    assert_eq!(after.rows.len(), 3);
    assert_eq!(after.truncated, None::<Truncation>);
}
