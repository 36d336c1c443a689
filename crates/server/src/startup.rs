//! Wiring: opens the metadata store, migrates it, builds the services and the HTTP server.
//! `Application::build` can bind port 0, so tests run many servers side by side.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use accounts::{AuthPolicy, AuthService, LoginThrottle, ThrottlePolicy, TokenCodec};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};
use anyhow::Context as _;
use async_trait::async_trait;
use db_configs::{DbConfigService, HostPolicy, Provider, ServiceSettings, Targets};
use http_api::{AppState, ReadinessCheck, ReadinessReport, TrustedProxies};
use keys::{KeyHasher, KeyService, KeySettings};
use secrets::{KeyPurpose, MasterKey};
use semantic::SemanticService;
use store_postgres::{
    Change, FeedEvent, PgAdminRepository, PgDbConfigRepository, PgKeyRepository,
    PgSemanticRepository, PgSessionRepository, PgStore, Readiness, StoreSettings,
};

use crate::config::Settings;

/// A built, bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
    store: PgStore,
    keys: KeyService,
    audit_writer: audit::AuditWriter,
}

/// How often keys' `lastUsedAt` is written.
const LAST_USED_INTERVAL: Duration = Duration::from_secs(5);

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Opens the metadata store described by the settings.
///
/// # Errors
/// An invalid database URL.
pub fn open_store(settings: &Settings) -> anyhow::Result<PgStore> {
    Ok(PgStore::open(&StoreSettings {
        url: settings.database_url.clone(),
        max_connections: settings.database.max_connections,
        connect_timeout: Duration::from_secs(settings.database.connect_timeout_secs),
        acquire_timeout: Duration::from_secs(settings.database.acquire_timeout_secs),
    })?)
}

/// Builds the authentication service on a store.
pub fn auth_service(settings: &Settings, store: &PgStore, master: &MasterKey) -> AuthService {
    AuthService::new(
        Arc::new(PgAdminRepository::new(store)),
        Arc::new(PgSessionRepository::new(store)),
        TokenCodec::new(&master.derive(KeyPurpose::JwtSigning)),
        Arc::new(LoginThrottle::new(ThrottlePolicy {
            max_failures_per_address: settings.auth.max_failed_sign_ins_per_address,
            max_failures_per_username: settings.auth.max_failed_sign_ins_per_username,
            window: Duration::from_secs(settings.auth.throttle_window_secs),
        })),
        AuthPolicy {
            allow_signup: settings.auth.allow_signup,
            access_ttl_secs: settings.auth.access_token_ttl_secs,
            refresh_ttl_secs: settings.auth.refresh_token_ttl_secs,
        },
    )
}

/// Builds the database-connection service on a store.
///
/// # Errors
/// An invalid host policy (already checked when the settings were loaded).
pub fn db_config_service(
    settings: &Settings,
    store: &PgStore,
    master: &MasterKey,
) -> anyhow::Result<DbConfigService> {
    let t = &settings.targets;
    let hosts = HostPolicy::new(&t.allowed_hosts, &t.denied_hosts).map_err(anyhow::Error::msg)?;
    let mysql = Arc::new(target_mysql::MySqlTarget::new(t.pool_size));
    let targets = Targets::default()
        .with(
            Provider::Postgresql,
            Arc::new(target_postgres::PgTarget::new(t.pool_size)),
        )
        .with(Provider::Mysql, mysql.clone())
        .with(Provider::Mariadb, mysql)
        .with(Provider::Sqlite, Arc::new(target_sqlite::SqliteTarget));
    Ok(DbConfigService::new(
        Arc::new(PgDbConfigRepository::new(store)),
        targets,
        secrets::Cipher::new(&master.derive(KeyPurpose::Encryption)),
        hosts,
        db_configs::FilePolicy::new(&t.sqlite_dirs),
        ServiceSettings {
            connect_timeout: Duration::from_secs(t.connect_timeout_secs),
            introspect_timeout: Duration::from_secs(t.introspect_timeout_secs),
            max_snapshot_age: Duration::from_secs(t.snapshot_max_age_hours * 3600),
        },
    ))
}

/// Builds the MCP key service on a store.
pub fn key_service(settings: &Settings, store: &PgStore, master: &MasterKey) -> KeyService {
    KeyService::new(
        Arc::new(PgKeyRepository::new(store)),
        Arc::new(PgDbConfigRepository::new(store)),
        KeyHasher::new(&master.derive(KeyPurpose::McpKeyHashing)),
        KeySettings {
            cache_ttl: Duration::from_secs(settings.mcp.key_cache_ttl_secs),
            max_rows_cap: settings.mcp.max_rows_cap,
            max_timeout_ms: settings.mcp.max_timeout_ms,
        },
    )
}

/// Builds the semantic-layer service on a store.
pub fn semantic_service(store: &PgStore, db_configs: DbConfigService) -> SemanticService {
    SemanticService::new(Arc::new(PgSemanticRepository::new(store)), db_configs)
}

/// The audit log a command (`sluice demo`, `sluice create-admin`) records its changes in:
/// none when auditing is off.
pub fn command_audit(settings: &Settings, store: &PgStore) -> Option<store_postgres::PgAuditStore> {
    settings
        .audit
        .enabled
        .then(|| store_postgres::PgAuditStore::new(store))
}

/// Records a change a command made, as the `system` actor `actor` (the command), as the REST
/// API records an administrator's. A failure is said on standard error and stops nothing:
/// the change is made, and a new secret must still be shown.
pub async fn record_command_change(
    audit: Option<&dyn audit::AuditStore>,
    actor: &str,
    action: &str,
    edit: impl FnOnce(&mut audit::AuditEvent),
) {
    let Some(audit) = audit else {
        return;
    };
    let mut e = audit::AuditEvent::new(audit::ActorType::System, action, audit::Outcome::Success);
    e.actor_id = Some(actor.to_owned());
    edit(&mut e);
    if let Err(err) = audit.append(&[e]).await {
        tracing::warn!(error = %err, action, "a command's change is not in the audit log");
        eprintln!("warning: {action} is not in the audit log: {err}");
    }
}

/// Follows the change feed: drops cached keys (and connections) that changed on any instance.
fn spawn_change_feed(store: &PgStore, keys: KeyService, mcp: Arc<mcp::McpService>) {
    store.spawn_change_feed(move |event| match event {
        FeedEvent::Connected => {
            keys.set_feed_live(true);
            mcp.forget_all();
        }
        FeedEvent::Disconnected => {
            keys.set_feed_live(false);
            mcp.forget_all();
        }
        FeedEvent::Changed(Change::Key(id)) => keys.key_changed(keys::KeyId::from_uuid(id)),
        FeedEvent::Changed(Change::Semantic(id)) => {
            mcp.connection_changed(db_configs::DbConfigId::from_uuid(id));
        }
        FeedEvent::Changed(Change::DbConfig(id)) => {
            let id = db_configs::DbConfigId::from_uuid(id);
            keys.connection_changed(id);
            mcp.connection_changed(id);
        }
    });
}

/// Removes audit events older than `days` days, at start-up and then every hour.
fn spawn_audit_retention(store: Arc<dyn audit::AuditStore>, days: u32) {
    if days == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let before = audit::retention_cutoff(days);
            match store.purge_before(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, days, "removed old audit events"),
                Err(e) => tracing::warn!(error = %e, "cannot remove old audit events"),
            }
        }
    });
}

/// Writes keys' `lastUsedAt` in batches every `interval`.
fn spawn_last_used_writer(keys: KeyService, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = keys.flush_last_used().await {
                tracing::warn!(error = %e, "cannot record when keys were last used");
            }
        }
    });
}

/// Refreshes stale schema snapshots every `interval`, until the process ends.
fn spawn_snapshot_refresher(service: DbConfigService, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match service.refresh_stale().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(refreshed = n, "refreshed stale schema snapshots"),
                Err(e) => tracing::warn!(error = %e, "cannot look for stale schema snapshots"),
            }
        }
    });
}

struct StoreReadiness(PgStore);

#[async_trait]
impl ReadinessCheck for StoreReadiness {
    async fn check(&self) -> ReadinessReport {
        let (database, migrations) = match self.0.readiness().await {
            Readiness::Ready => ("ok".to_owned(), "ok".to_owned()),
            Readiness::Unreachable => ("unreachable".to_owned(), "unknown".to_owned()),
            Readiness::MigrationsPending(v) => ("ok".to_owned(), format!("pending: {v:?}")),
        };
        ReadinessReport {
            ready: database == "ok" && migrations == "ok",
            checks: vec![
                ("database".into(), database),
                ("migrations".into(), migrations),
            ],
        }
    }
}

impl Application {
    /// Connects to and migrates the metadata database, then binds the listener.
    /// With `handle_signals`, SIGTERM and SIGINT stop the server gracefully.
    ///
    /// # Errors
    /// An unreachable database, a failed migration, or an address that cannot be bound.
    pub async fn build(
        settings: &Settings,
        master: &MasterKey,
        handle_signals: bool,
    ) -> anyhow::Result<Self> {
        let store = open_store(settings)?;
        let report = store
            .migrate()
            .await
            .context("cannot migrate the metadata database")?;
        if !report.applied.is_empty() {
            tracing::info!(applied = ?report.applied, "migrated the metadata database");
        }
        let db_configs = db_config_service(settings, &store, master)?;
        spawn_snapshot_refresher(
            db_configs.clone(),
            Duration::from_secs(settings.targets.refresh_interval_secs),
        );
        let keys = key_service(settings, &store, master);
        let audit_store: Arc<dyn audit::AuditStore> =
            Arc::new(store_postgres::PgAuditStore::new(&store));
        spawn_audit_retention(audit_store.clone(), settings.audit.retention_days);
        let (audit_log, audit_writer) = if settings.audit.enabled {
            audit::AuditLog::start(
                audit_store.clone(),
                audit::WriterSettings {
                    capacity: settings.audit.queue_capacity,
                    batch: settings.audit.batch_size,
                    linger: Duration::from_millis(settings.audit.linger_ms),
                    ..audit::WriterSettings::default()
                },
            )
        } else {
            tracing::warn!(
                "auditing is turned off (SLUICE_AUDIT__ENABLED=false): nothing is recorded"
            );
            audit::AuditLog::disabled()
        };
        let semantic = semantic_service(&store, db_configs.clone());
        let m = &settings.mcp;
        let mcp = Arc::new(mcp::McpService::new(
            keys.clone(),
            db_configs.clone(),
            semantic.clone(),
            audit_log.clone(),
            mcp::McpSettings {
                allowed_hosts: m.allowed_hosts.clone(),
                allowed_origins: m.allowed_origins.clone(),
                default_max_rows: m.default_max_rows,
                default_timeout: Duration::from_millis(m.default_timeout_ms.into()),
                max_result_bytes: m.max_result_bytes,
                default_rate_limit_per_minute: m.default_rate_limit_per_minute,
                reader_ttl: Duration::from_secs(30),
                redact_values: settings.audit.redact_values,
                query_bounds: query::Bounds {
                    query_depth: m.max_query_depth,
                    joins: m.max_joins,
                    subqueries: m.max_subqueries,
                    conditions: m.max_conditions,
                },
                server_version: env!("CARGO_PKG_VERSION").to_owned(),
            },
        ));
        spawn_change_feed(&store, keys.clone(), mcp.clone());
        spawn_last_used_writer(keys.clone(), LAST_USED_INTERVAL);
        let state = AppState {
            auth: auth_service(settings, &store, master),
            db_configs,
            keys: keys.clone(),
            mcp,
            readiness: Arc::new(StoreReadiness(store.clone())),
            semantic,
            audit: audit_log,
            audit_store: audit_store.clone(),
            settings: http_api::HttpSettings {
                max_body_bytes: settings.http.max_body_bytes,
                body_timeout: std::time::Duration::from_secs(settings.http.body_timeout_secs),
                trusted_proxies: TrustedProxies::new(settings.trusted_proxy_nets()),
                metrics_token: Some(settings.metrics.token.clone()).filter(|t| !t.is_empty()),
            },
            http_stats: Arc::default(),
        };
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(http_api::request_context))
                .configure(http_api::configure(state.clone()))
        })
        .shutdown_timeout(settings.http.shutdown_timeout_secs)
        // A response written in pieces (compressed or streamed) otherwise waited for the
        // client's delayed acknowledgement, up to 40 ms, before each piece after the first.
        .tcp_nodelay(true)
        .keep_alive(std::time::Duration::from_secs(
            settings.http.keep_alive_secs,
        ))
        .workers(settings.http.worker_threads());
        if !handle_signals {
            server = server.disable_signals();
        }
        let server = server.listen(listener)?.run();
        Ok(Self {
            server,
            port,
            store,
            keys,
            audit_writer,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (by a signal or the handle), letting in-flight requests finish.
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        let _ = &self.store;
        if let Err(e) = self.keys.flush_last_used().await {
            tracing::warn!(error = %e, "cannot record when keys were last used");
        }
        // Every request has finished: write what is still queued.
        self.audit_writer.shutdown().await;
        result
    }
}
