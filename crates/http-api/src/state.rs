//! What the handlers share: services, settings, and the readiness check.

use std::sync::Arc;

use async_trait::async_trait;

use crate::TrustedProxies;

/// The outcome of a readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessReport {
    pub ready: bool,
    /// Each dependency and its state, e.g. `("database", "ok")`.
    pub checks: Vec<(String, String)>,
}

/// Tells whether the server can serve requests (its metadata database reachable and
/// migrated).
#[async_trait]
pub trait ReadinessCheck: Send + Sync + 'static {
    async fn check(&self) -> ReadinessReport;
}

/// HTTP settings the handlers need.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long an MCP request's body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// The token `/metrics` asks of non-loopback clients; `None`: loopback only.
    pub metrics_token: Option<String>,
}

/// Shared state of the application.
#[derive(Clone)]
pub struct AppState {
    pub auth: accounts::AuthService,
    pub db_configs: db_configs::DbConfigService,
    pub keys: keys::KeyService,
    pub mcp: Arc<mcp::McpService>,
    pub readiness: Arc<dyn ReadinessCheck>,
    pub semantic: semantic::SemanticService,
    /// Where events are recorded (the queue of the batch writer).
    pub audit: audit::AuditLog,
    /// Where events are searched and verified.
    pub audit_store: Arc<dyn audit::AuditStore>,
    /// HTTP counters for `/metrics`.
    pub http_stats: Arc<crate::HttpStats>,
    pub settings: HttpSettings,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
