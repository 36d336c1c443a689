//! Adapter: the metadata store on PostgreSQL. It owns the connection pool, applies the
//! migrations in `migrations/`, and implements the repository ports of the domain crates.

mod accounts;
mod db_configs;
mod migrate;
mod pool;

pub use accounts::{PgAdminRepository, PgSessionRepository};
pub use db_configs::PgDbConfigRepository;
pub use migrate::{MIGRATIONS, Migration, MigrationError, MigrationReport};
pub use pool::{PgStore, Readiness, StoreError, StoreSettings};
