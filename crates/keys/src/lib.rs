//! Domain: MCP keys. A key is bound to one database connection and grants a set of tools, a
//! table whitelist and limits. Keys are high-entropy secrets with a recognisable prefix, kept
//! only as HMAC-SHA256, and verified on the hot path through a short-lived cache that the
//! store's change feed invalidates on every instance.

mod error;
mod model;
mod ports;
mod secret;
mod service;

pub use error::{KeyAuthError, KeyError};
pub use model::*;
pub use ports::KeyRepository;
pub use secret::{KEY_PREFIX, KeyHasher, PresentedKey};
pub use service::{KeyService, KeySettings};
