//! Domain: the databases Sluice connects to. A connection has a provider (PostgreSQL, MySQL,
//! MariaDB, SQLite), where it lives, an encrypted password, the tables it exposes, and a stored
//! snapshot of its schema. The `TargetDatabase` port is how the domain talks to a provider.

mod connstr;
mod error;
mod hosts;
mod model;
mod pools;
mod ports;
pub mod results;
mod service;

pub use connstr::{parse_connection_string, render_connection_string};
pub use error::{BoxError, DbConfigError, TargetError};
pub use hosts::DEFAULT_DENIED_HOSTS;
pub use hosts::{FilePolicy, HostPolicy};
pub use model::*;
pub use pools::{PoolCache, PoolCounters, PoolStat, Waiting};
pub use ports::{DbConfigRepository, TargetDatabase, Targets};
pub use service::{DbConfigService, Freshness, Reader, ServiceSettings};
