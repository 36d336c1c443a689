//! Adapter: the metadata store on PostgreSQL. It owns the connection pool, applies the
//! migrations in `migrations/`, and implements the repository ports of the domain crates.

mod accounts;
mod audit;
mod changes;
mod db_configs;
mod keys;
mod migrate;
mod pool;
mod semantic;

pub use accounts::{PgAdminRepository, PgSessionRepository};
pub use audit::PgAuditStore;
pub use changes::{CHANNEL, Change, FeedEvent};
pub use db_configs::PgDbConfigRepository;
pub use keys::PgKeyRepository;
pub use migrate::{MIGRATIONS, Migration, MigrationError, MigrationReport};
pub use pool::{PgStore, Readiness, StoreError, StoreSettings};
pub use semantic::PgSemanticRepository;
