//! `sluice demo`: what a newcomer needs to try an agent at once. A small shop database
//! (SQLite, in the data directory), registered as the connection "Demo shop" with a described
//! semantic layer, and an MCP key for it whose value is printed once. Running it again changes
//! nothing and issues no second key.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use audit::AuditStore;
use db_configs::{DbConfigDraft, DbConfigService, ListFilter, Location, Provider};
use keys::{KeyLimits, KeyService, NewKey};
use semantic::{NotePatch, SemanticService, SemanticUpdate, TablePatch};

use crate::startup::record_command_change;

/// The connection's name.
pub const CONNECTION: &str = "Demo shop";
/// The key's name.
pub const KEY: &str = "demo";

/// What `sluice demo` did.
#[derive(Debug)]
pub struct Demo {
    pub file: PathBuf,
    pub created_connection: bool,
    /// The new key's value; `None` when a demo key already existed.
    pub key: Option<String>,
}

/// Writes the shop database at `file` (customers, products, orders; fixed data).
///
/// # Errors
/// The file cannot be created.
pub fn write_shop(file: &Path) -> anyhow::Result<()> {
    let db = rusqlite::Connection::open(file)
        .with_context(|| format!("cannot create {}", file.display()))?;
    db.execute_batch(
        "CREATE TABLE customers (
             id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
             country TEXT NOT NULL, created_at TEXT NOT NULL);
         CREATE TABLE products (
             id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL,
             price NUMERIC NOT NULL);
         CREATE TABLE orders (
             id INTEGER PRIMARY KEY,
             customer_id INTEGER NOT NULL REFERENCES customers (id),
             product_id INTEGER NOT NULL REFERENCES products (id),
             quantity INTEGER NOT NULL, total NUMERIC NOT NULL, status TEXT NOT NULL,
             ordered_at TEXT NOT NULL);
         CREATE INDEX orders_customer ON orders (customer_id);",
    )?;
    let first = [
        "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret",
        "Dennis",
    ];
    let last = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov"];
    let countries = ["GB", "US", "NL", "DE", "FR", "JP"];
    let products = [
        ("Mechanical keyboard", "hardware", 129.0),
        ("USB-C hub", "hardware", 49.5),
        ("27-inch monitor", "hardware", 289.0),
        ("Noise-cancelling headphones", "audio", 199.0),
        ("Desk microphone", "audio", 89.9),
        ("Laptop stand", "accessories", 39.0),
        ("Cable organiser", "accessories", 12.5),
        ("Ergonomic mouse", "hardware", 59.0),
    ];
    let statuses = [
        "paid",
        "paid",
        "shipped",
        "delivered",
        "delivered",
        "cancelled",
    ];
    let tx = db.unchecked_transaction()?;
    for (i, f) in first.iter().enumerate() {
        for (j, l) in last.iter().enumerate() {
            let id = i * last.len() + j + 1;
            tx.execute(
                "INSERT INTO customers VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    id as i64,
                    format!("{f} {l}"),
                    format!("{}.{}@example.com", f.to_lowercase(), l.to_lowercase()),
                    countries[id % countries.len()],
                    format!("2025-{:02}-{:02} 09:00:00", 1 + id % 12, 1 + id % 28),
                ],
            )?;
        }
    }
    for (i, (name, category, price)) in products.iter().enumerate() {
        tx.execute(
            "INSERT INTO products VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![(i + 1) as i64, name, category, price],
        )?;
    }
    let customers = first.len() * last.len();
    for id in 1..=500_usize {
        let (product, price) = {
            let p = (id * 7) % products.len();
            (p + 1, products[p].2)
        };
        let quantity = 1 + (id * 13) % 3;
        tx.execute(
            "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                id as i64,
                (1 + (id * 31) % customers) as i64,
                product as i64,
                quantity as i64,
                price * quantity as f64,
                statuses[id % statuses.len()],
                format!(
                    "2026-{:02}-{:02} {:02}:{:02}:00",
                    1 + id % 10,
                    1 + id % 28,
                    id % 24,
                    id % 60
                ),
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The actor of the demo's changes in the audit log (a `system` actor).
pub const ACTOR: &str = "sluice demo";

/// Sets up the demo: the file under `data_dir`, the connection, its semantic layer, a key.
/// Each change is in the audit log (`audit`; `None` when auditing is off), by the `system`
/// actor `sluice demo`.
///
/// # Errors
/// The file, the metadata store or a service failed.
pub async fn set_up(
    data_dir: &Path,
    db_configs: &DbConfigService,
    semantic: &SemanticService,
    keys: &KeyService,
    audit: Option<&dyn AuditStore>,
) -> anyhow::Result<Demo> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let file = std::path::absolute(data_dir.join("demo-shop.sqlite"))?;
    if !file.exists() {
        // Written aside and renamed, so a run that fails half-way leaves no half-built file.
        let partial = file.with_extension("sqlite.partial");
        let _ = std::fs::remove_file(&partial);
        write_shop(&partial)?;
        std::fs::rename(&partial, &file)?;
    }
    let path = file.to_string_lossy().into_owned();
    // The demo's own connection, found by its file: never another connection that happens to
    // carry the same name.
    let existing = db_configs
        .list(ListFilter::default())
        .await?
        .into_iter()
        .find(|c| matches!(&c.location, Location::File { path: p } if *p == path));
    let (config, created_connection) = match existing {
        Some(c) => (c, false),
        None => {
            let draft = DbConfigDraft {
                name: CONNECTION.to_owned(),
                description: Some("A small shop to try Sluice with (sluice demo)".to_owned()),
                provider: Provider::Sqlite,
                location: Location::File { path },
                allowed_tables: Vec::new(),
                is_primary: false,
                is_active: true,
            };
            let created = db_configs.create(draft, None).await?;
            record_command_change(audit, ACTOR, "db.config.created", |e| {
                e.db_config_id = Some(created.id.as_uuid());
            })
            .await;
            (created, true)
        }
    };
    if created_connection {
        let note = |text: &str| NotePatch {
            description: Some(Some(text.to_owned())),
            ..NotePatch::default()
        };
        semantic
            .update(SemanticUpdate {
                db_config_id: config.id,
                description: Some(Some(
                    "A small online shop: customers, the products it sells and their orders."
                        .to_owned(),
                )),
                tables: vec![
                    TablePatch {
                        name: "customers".into(),
                        note: note("People who bought something, with their country (ISO code)."),
                        columns: Vec::new(),
                    },
                    TablePatch {
                        name: "orders".into(),
                        note: NotePatch {
                            synonyms: Some(vec!["purchases".into(), "sales".into()]),
                            ..note("One row per order line; total = quantity x price, in EUR.")
                        },
                        columns: Vec::new(),
                    },
                ],
            })
            .await?;
        record_command_change(audit, ACTOR, "semantic.updated", |e| {
            e.db_config_id = Some(config.id.as_uuid());
        })
        .await;
    }
    let has_key = keys.list().await?.iter().any(|k| {
        k.key.name == KEY && k.key.db_config_id == config.id && k.key.revoked_at.is_none()
    });
    let key = if has_key {
        None
    } else {
        let issued = keys
            .issue(NewKey {
                name: KEY.to_owned(),
                db_config_id: config.id,
                allowed_tools: None,
                table_whitelist: vec!["*".to_owned()],
                expires_at: None,
                limits: KeyLimits::default(),
                allowed_origins: Vec::new(),
            })
            .await?;
        let k = &issued.listing.key;
        record_command_change(audit, ACTOR, "mcp.key.issued", |e| {
            e.key_id = Some(k.id.as_uuid());
            e.db_config_id = Some(k.db_config_id.as_uuid());
        })
        .await;
        Some(issued.value.expose().to_owned())
    };
    Ok(Demo {
        file,
        created_connection,
        key,
    })
}
