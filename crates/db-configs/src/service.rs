//! The db-configs service: validates and stores connections with sealed passwords, tests and
//! discovers databases within the host policy and a bounded time, and keeps schema snapshots.

use std::sync::Arc;
use std::time::Duration;

use secrets::Cipher;
use time::OffsetDateTime;

use crate::{
    ConnectSpec, ConnectionReport, DbConfig, DbConfigDraft, DbConfigError, DbConfigId,
    DbConfigPatch, DbConfigRepository, FilePolicy, HostPolicy, ListFilter, Location, PASSWORD_MASK,
    Provider, SchemaListing, SchemaSnapshot, Secret, ServerEndpoint, StoredDbConfig, TableName,
    TargetError, Targets,
};

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    pub connect_timeout: Duration,
    /// Introspection of a big schema may take longer than a connection test.
    pub introspect_timeout: Duration,
    /// A snapshot older than this needs a refresh.
    pub max_snapshot_age: Duration,
}

/// How fresh a connection's snapshot is.
#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    pub needs_refresh: bool,
    pub last_refresh: Option<OffsetDateTime>,
    pub age_hours: Option<f64>,
}

/// A stored connection ready for reads (see [`DbConfigService::reader`]).
#[derive(Clone)]
pub struct Reader {
    pub config: DbConfig,
    pub spec: ConnectSpec,
    pub target: Arc<dyn crate::TargetDatabase>,
    pub snapshot: Arc<SchemaSnapshot>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("config", &self.config.id)
            .field("tables", &self.snapshot.tables.len())
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// The schema a bare table name means: `public` on PostgreSQL, the database on MySQL and
    /// MariaDB, `main` on SQLite.
    pub fn default_schema(&self) -> String {
        self.config.default_schema()
    }

    /// Whether the connection exposes `schema.name` (its allowed tables; empty means all).
    pub fn exposes(&self, schema: &str, name: &str) -> bool {
        self.config.allowed_tables.is_empty()
            || self
                .config
                .allowed_tables
                .iter()
                .any(|t| t.matches(schema, name))
    }

    /// Runs one read-only statement within `limits`.
    ///
    /// # Errors
    /// As [`crate::TargetDatabase::read`].
    pub async fn read(
        &self,
        statement: &crate::ReadStatement,
        limits: crate::ReadLimits,
    ) -> Result<crate::ResultSet, TargetError> {
        self.target.read(&self.spec, statement, limits).await
    }

    /// How the database would run one read-only statement, without running it.
    ///
    /// # Errors
    /// As [`crate::TargetDatabase::explain`].
    pub async fn explain(
        &self,
        statement: &crate::ReadStatement,
        timeout: std::time::Duration,
    ) -> Result<crate::QueryPlan, TargetError> {
        self.target.explain(&self.spec, statement, timeout).await
    }
}

/// Database connections.
#[derive(Clone)]
pub struct DbConfigService {
    repo: Arc<dyn DbConfigRepository>,
    targets: Targets,
    cipher: Cipher,
    hosts: HostPolicy,
    files: FilePolicy,
    settings: ServiceSettings,
}

impl std::fmt::Debug for DbConfigService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfigService")
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 2000;
const MAX_ALLOWED_TABLES: usize = 10_000;

fn check_text(field: &str, value: &str, max: usize) -> Result<(), DbConfigError> {
    let len = value.chars().count();
    if value.trim().is_empty() {
        return Err(DbConfigError::invalid(field, "must not be empty"));
    }
    if len > max {
        return Err(DbConfigError::invalid(
            field,
            format!("must be at most {max} characters (got {len})"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(DbConfigError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

impl DbConfigService {
    pub fn new(
        repo: Arc<dyn DbConfigRepository>,
        targets: Targets,
        cipher: Cipher,
        hosts: HostPolicy,
        files: FilePolicy,
        settings: ServiceSettings,
    ) -> Self {
        Self {
            repo,
            targets,
            cipher,
            hosts,
            files,
            settings,
        }
    }

    /// Checks every field of a draft, naming the first wrong one (`connection_config.host`...).
    ///
    /// # Errors
    /// [`DbConfigError::Invalid`].
    pub fn validate(&self, draft: &DbConfigDraft) -> Result<(), DbConfigError> {
        check_text("name", &draft.name, MAX_NAME)?;
        if let Some(d) = &draft.description
            && d.chars().count() > MAX_DESCRIPTION
        {
            return Err(DbConfigError::invalid(
                "description",
                format!("must be at most {MAX_DESCRIPTION} characters"),
            ));
        }
        self.validate_location(draft.provider, &draft.location)?;
        if draft.allowed_tables.len() > MAX_ALLOWED_TABLES {
            return Err(DbConfigError::invalid(
                "allowed_tables",
                format!("at most {MAX_ALLOWED_TABLES} tables"),
            ));
        }
        Ok(())
    }

    fn validate_location(
        &self,
        provider: Provider,
        location: &Location,
    ) -> Result<(), DbConfigError> {
        match (provider.is_file(), location) {
            (false, Location::Server(e)) => {
                check_text("connection_config.host", &e.host, 253)?;
                if e.host
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#'))
                {
                    return Err(DbConfigError::invalid(
                        "connection_config.host",
                        "is not a host name or address",
                    ));
                }
                if e.port == 0 {
                    return Err(DbConfigError::invalid(
                        "connection_config.port",
                        "must be from 1 to 65535",
                    ));
                }
                check_text("connection_config.database", &e.database, 128)?;
                check_text("connection_config.username", &e.username, 128)?;
                self.hosts.check_name(&e.host).map_err(|err| {
                    DbConfigError::invalid("connection_config.host", err.to_string())
                })
            }
            (true, Location::File { path }) => {
                check_text("connection_config.path", path, 4096)?;
                self.files.check(path).map_err(|err| {
                    DbConfigError::invalid("connection_config.path", err.to_string())
                })
            }
            (true, Location::Server(_)) => Err(DbConfigError::invalid(
                "connection_config.path",
                "a SQLite connection needs the path of the database file",
            )),
            (false, Location::File { .. }) => Err(DbConfigError::invalid(
                "connection_config.host",
                format!(
                    "a {} connection needs host, port, database and username",
                    provider.display_name()
                ),
            )),
        }
    }

    fn seal(&self, id: DbConfigId, password: Option<&Secret>) -> Option<Vec<u8>> {
        password.map(|p| {
            self.cipher
                .seal(p.expose().as_bytes(), id.as_uuid().as_bytes())
        })
    }

    fn unseal(&self, stored: &StoredDbConfig) -> Result<Option<Secret>, DbConfigError> {
        stored
            .sealed_password
            .as_ref()
            .map(|sealed| {
                let clear = self
                    .cipher
                    .open(sealed, stored.config.id.as_uuid().as_bytes())
                    .map_err(|_| DbConfigError::Undecryptable)?;
                String::from_utf8(clear)
                    .map(Secret::new)
                    .map_err(|_| DbConfigError::Undecryptable)
            })
            .transpose()
    }

    /// Registers a connection.
    ///
    /// # Errors
    /// [`DbConfigError::Invalid`], [`DbConfigError::NameTaken`], [`DbConfigError::Unavailable`].
    pub async fn create(
        &self,
        draft: DbConfigDraft,
        password: Option<Secret>,
    ) -> Result<DbConfig, DbConfigError> {
        self.validate(&draft)?;
        let now = now();
        let config = DbConfig {
            id: DbConfigId::new(),
            name: draft.name.trim().to_owned(),
            description: draft.description,
            provider: draft.provider,
            location: draft.location,
            has_password: password.is_some(),
            allowed_tables: draft.allowed_tables,
            is_primary: draft.is_primary,
            is_active: draft.is_active,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            schema_refreshed_at: None,
        };
        let sealed = self.seal(config.id, password.as_ref());
        self.repo.create(&config, sealed.as_deref()).await?;
        tracing::info!(id = %config.id, provider = %config.provider, "database connection created");
        Ok(config)
    }

    async fn stored(
        &self,
        id: DbConfigId,
        include_deleted: bool,
    ) -> Result<StoredDbConfig, DbConfigError> {
        match self.repo.get(id).await? {
            Some(s) if include_deleted || s.config.deleted_at.is_none() => Ok(s),
            _ => Err(DbConfigError::NotFound(id.to_string())),
        }
    }

    /// How busy every stored connection's pool is, for `/metrics`.
    pub fn pool_stats(&self) -> Vec<crate::PoolStat> {
        self.targets.pool_stats()
    }

    /// One connection.
    ///
    /// # Errors
    /// [`DbConfigError::NotFound`] (also when deleted, unless `include_deleted`).
    pub async fn get(
        &self,
        id: DbConfigId,
        include_deleted: bool,
    ) -> Result<DbConfig, DbConfigError> {
        Ok(self.stored(id, include_deleted).await?.config)
    }

    /// Connections, oldest first.
    ///
    /// # Errors
    /// [`DbConfigError::Unavailable`].
    pub async fn list(&self, filter: ListFilter) -> Result<Vec<DbConfig>, DbConfigError> {
        self.repo.list(filter).await
    }

    /// Applies a partial update. An omitted password (or the mask) keeps the stored one.
    ///
    /// # Errors
    /// [`DbConfigError::NotFound`], [`DbConfigError::Invalid`], [`DbConfigError::NameTaken`].
    pub async fn update(
        &self,
        id: DbConfigId,
        patch: DbConfigPatch,
    ) -> Result<DbConfig, DbConfigError> {
        let stored = self.stored(id, false).await?;
        let mut config = stored.config.clone();
        if let Some(name) = patch.name.clone() {
            config.name = name.trim().to_owned();
        }
        if let Some(d) = patch.description.clone() {
            config.description = d;
        }
        if let Some(p) = patch.provider {
            config.provider = p;
        }
        let wants_server = !config.provider.is_file();
        config.location = match (config.location.clone(), wants_server) {
            (Location::Server(mut e), true) => {
                apply_endpoint(&mut e, &patch);
                Location::Server(e)
            }
            (Location::File { path }, false) => Location::File {
                path: patch.path.clone().unwrap_or(path),
            },
            (_, true) => {
                let mut e = ServerEndpoint {
                    host: String::new(),
                    port: config.provider.default_port().unwrap_or(0),
                    database: String::new(),
                    username: String::new(),
                    ssl: Default::default(),
                };
                apply_endpoint(&mut e, &patch);
                Location::Server(e)
            }
            (_, false) => Location::File {
                path: patch.path.clone().unwrap_or_default(),
            },
        };
        if let Some(t) = patch.allowed_tables.clone() {
            config.allowed_tables = t;
        }
        if let Some(p) = patch.is_primary {
            config.is_primary = p;
        }
        if let Some(a) = patch.is_active {
            config.is_active = a;
        }
        let mut sealed = stored.sealed_password.clone();
        let new_password = match &patch.password {
            Some(Some(p)) if p.expose() != PASSWORD_MASK => Some(p.clone()),
            _ => None,
        };
        // The stored password only ever goes where it was meant to go: pointing a connection
        // at another server, login or provider needs the password again.
        if sealed.is_some()
            && new_password.is_none()
            && patch.password != Some(None)
            && endpoint_identity(stored.config.provider, &stored.config.location)
                != endpoint_identity(config.provider, &config.location)
        {
            return Err(DbConfigError::invalid(
                "connection_config.password",
                "changing the provider, host, port or username needs the password again",
            ));
        }
        match (new_password, &patch.password) {
            (Some(p), _) => sealed = self.seal(id, Some(&p)),
            (None, Some(None)) => sealed = None,
            (None, _) => {}
        }
        if config.provider.is_file() {
            sealed = None;
        }
        config.has_password = sealed.is_some();
        config.updated_at = now();
        self.validate(&DbConfigDraft {
            name: config.name.clone(),
            description: config.description.clone(),
            provider: config.provider,
            location: config.location.clone(),
            allowed_tables: config.allowed_tables.clone(),
            is_primary: config.is_primary,
            is_active: config.is_active,
        })?;
        self.repo.update(&config, sealed.as_deref()).await?;
        self.release(stored.config.provider, id).await;
        tracing::info!(id = %config.id, "database connection updated");
        Ok(config)
    }

    /// Soft-deletes a connection: hidden from lists unless asked for, kept for the audit trail.
    ///
    /// # Errors
    /// [`DbConfigError::NotFound`] when it does not exist or is already deleted.
    pub async fn delete(&self, id: DbConfigId) -> Result<(), DbConfigError> {
        let provider = self.repo.get(id).await?.map(|s| s.config.provider);
        if self.repo.soft_delete(id, now()).await? {
            if let Some(p) = provider {
                self.release(p, id).await;
            }
            tracing::info!(id = %id, "database connection deleted");
            Ok(())
        } else {
            Err(DbConfigError::NotFound(id.to_string()))
        }
    }

    /// Closes the adapter's pool for a connection that changed or went away.
    async fn release(&self, provider: Provider, id: DbConfigId) {
        if let Ok(target) = self.targets.get(provider) {
            target.release(id).await;
        }
    }

    async fn spec(
        &self,
        provider: Provider,
        location: &Location,
        password: Option<Secret>,
        pool_key: Option<DbConfigId>,
    ) -> Result<ConnectSpec, TargetError> {
        let resolved = match location {
            Location::Server(e) => Some(self.hosts.resolve(&e.host, e.port).await?),
            Location::File { path } => {
                // Again at connect time: a symbolic link may have changed since it was stored.
                self.files.check(path)?;
                None
            }
        };
        Ok(ConnectSpec {
            provider,
            location: location.clone(),
            password,
            resolved,
            connect_timeout_secs: self.settings.connect_timeout.as_secs().max(1),
            pool_key,
        })
    }

    async fn bounded<T>(
        &self,
        limit: Duration,
        f: impl std::future::Future<Output = Result<T, TargetError>>,
    ) -> Result<T, TargetError> {
        tokio::time::timeout(limit, f)
            .await
            .unwrap_or(Err(TargetError::Timeout(limit.as_secs())))
    }

    /// Tests connection settings that are not stored (yet).
    ///
    /// # Errors
    /// [`DbConfigError::Invalid`] for bad settings; a failed connection is
    /// [`DbConfigError::Target`].
    pub async fn test_unsaved(
        &self,
        provider: Provider,
        location: Location,
        password: Option<Secret>,
        probe: Option<TableName>,
    ) -> Result<ConnectionReport, DbConfigError> {
        self.validate_location(provider, &location)?;
        let target = self.targets.get(provider)?;
        let limit = self.settings.connect_timeout + Duration::from_secs(5);
        Ok(self
            .bounded(limit, async {
                let spec = self.spec(provider, &location, password, None).await?;
                target.test(&spec, probe.as_ref()).await
            })
            .await?)
    }

    /// Tests a stored connection, probing its first allowed table.
    ///
    /// # Errors
    /// [`DbConfigError::NotFound`]; a failed connection is [`DbConfigError::Target`].
    pub async fn test_saved(&self, id: DbConfigId) -> Result<ConnectionReport, DbConfigError> {
        let stored = self.stored(id, false).await?;
        let password = self.unseal(&stored)?;
        let c = stored.config;
        let target = self.targets.get(c.provider)?;
        let limit = self.settings.connect_timeout + Duration::from_secs(5);
        Ok(self
            .bounded(limit, async {
                let spec = self
                    .spec(c.provider, &c.location, password, Some(c.id))
                    .await?;
                target.test(&spec, c.allowed_tables.first()).await
            })
            .await?)
    }

    /// Lists the schemas of connection settings that are not stored.
    ///
    /// # Errors
    /// As [`DbConfigService::test_unsaved`].
    pub async fn discover_unsaved(
        &self,
        provider: Provider,
        location: Location,
        password: Option<Secret>,
    ) -> Result<Vec<SchemaListing>, DbConfigError> {
        self.validate_location(provider, &location)?;
        let target = self.targets.get(provider)?;
        Ok(self
            .bounded(self.settings.introspect_timeout, async {
                let spec = self.spec(provider, &location, password, None).await?;
                target.discover(&spec).await
            })
            .await?)
    }

    /// Introspects a stored connection and stores the snapshot.
    ///
    /// # Errors
    /// [`DbConfigError::NotFound`]; a failed connection is [`DbConfigError::Target`].
    pub async fn refresh_schema(&self, id: DbConfigId) -> Result<SchemaSnapshot, DbConfigError> {
        let stored = self.stored(id, false).await?;
        let password = self.unseal(&stored)?;
        let c = stored.config;
        let target = self.targets.get(c.provider)?;
        let tables = self
            .bounded(self.settings.introspect_timeout, async {
                let spec = self
                    .spec(c.provider, &c.location, password, Some(c.id))
                    .await?;
                target.introspect(&spec).await
            })
            .await?;
        let snapshot = SchemaSnapshot {
            tables,
            refreshed_at: now(),
        };
        self.repo.save_snapshot(id, &snapshot).await?;
        tracing::info!(id = %id, tables = snapshot.tables.len(), "schema snapshot refreshed");
        Ok(snapshot)
    }

    /// What reads against a stored connection need: its settings, a connect spec checked
    /// against the host policy, the provider's adapter, and the schema snapshot (taken now
    /// when there is none yet). Callers may keep it for a while; it holds the password in
    /// memory only.
    ///
    /// # Errors
    /// [`DbConfigError::NotFound`] (also when deleted or inactive), [`DbConfigError::Target`]
    /// when the host is no longer allowed or the first snapshot fails.
    pub async fn reader(&self, id: DbConfigId) -> Result<Reader, DbConfigError> {
        let stored = self.stored(id, false).await?;
        if !stored.config.is_active {
            return Err(DbConfigError::NotFound(id.to_string()));
        }
        let password = self.unseal(&stored)?;
        let c = stored.config;
        let target = self.targets.get(c.provider)?;
        let snapshot = match self.repo.snapshot(id).await? {
            Some(s) => s,
            None => self.refresh_schema(id).await?,
        };
        let spec = self
            .bounded(
                self.settings.connect_timeout,
                self.spec(c.provider, &c.location, password, Some(c.id)),
            )
            .await?;
        Ok(Reader {
            config: c,
            spec,
            target,
            snapshot: Arc::new(snapshot),
        })
    }

    /// The stored snapshot of a connection.
    ///
    /// # Errors
    /// [`DbConfigError::NotFound`].
    pub async fn snapshot(&self, id: DbConfigId) -> Result<Option<SchemaSnapshot>, DbConfigError> {
        self.stored(id, false).await?;
        self.repo.snapshot(id).await
    }

    /// How old a connection's snapshot is.
    ///
    /// # Errors
    /// [`DbConfigError::NotFound`].
    pub async fn freshness(&self, id: DbConfigId) -> Result<Freshness, DbConfigError> {
        let c = self.get(id, false).await?;
        let now = now();
        Ok(match c.schema_refreshed_at {
            None => Freshness {
                needs_refresh: true,
                last_refresh: None,
                age_hours: None,
            },
            Some(at) => {
                let age = (now - at).max(time::Duration::ZERO);
                Freshness {
                    needs_refresh: age >= self.settings.max_snapshot_age,
                    last_refresh: Some(at),
                    age_hours: Some((age.as_seconds_f64() / 3600.0 * 100.0).round() / 100.0),
                }
            }
        })
    }

    /// Refreshes every active connection whose snapshot is missing or stale; returns how many
    /// were refreshed. Failures are logged and left for the next round.
    ///
    /// # Errors
    /// [`DbConfigError::Unavailable`] when the store cannot list them.
    pub async fn refresh_stale(&self) -> Result<usize, DbConfigError> {
        let cutoff = now() - self.settings.max_snapshot_age;
        let mut refreshed = 0;
        for id in self.repo.stale(cutoff).await? {
            match self.refresh_schema(id).await {
                Ok(_) => refreshed += 1,
                Err(e) => tracing::warn!(id = %id, error = %e, "background schema refresh failed"),
            }
        }
        Ok(refreshed)
    }
}

/// The current time at the metadata store's precision (microseconds), so what a call returns
/// equals what a later read returns.
fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// What a stored password is bound to: provider, host, port and login.
fn endpoint_identity(
    provider: Provider,
    location: &Location,
) -> Option<(Provider, String, u16, String)> {
    match location {
        Location::Server(e) => Some((
            provider,
            e.host.to_ascii_lowercase(),
            e.port,
            e.username.clone(),
        )),
        Location::File { .. } => None,
    }
}

fn apply_endpoint(e: &mut ServerEndpoint, patch: &DbConfigPatch) {
    if let Some(h) = &patch.host {
        e.host = h.clone();
    }
    if let Some(p) = patch.port {
        e.port = p;
    }
    if let Some(d) = &patch.database {
        e.database = d.clone();
    }
    if let Some(u) = &patch.username {
        e.username = u.clone();
    }
    if let Some(s) = patch.ssl {
        e.ssl = s;
    }
}
