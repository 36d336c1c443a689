//! The keys service: issues, lists, changes and revokes keys, and verifies presented keys
//! through a short-lived cache that the store's change feed keeps honest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use db_configs::{DbConfigId, DbConfigRepository};
use time::OffsetDateTime;

use crate::{
    BUILTIN_TOOLS, IssuedKey, KeyAuthError, KeyError, KeyHasher, KeyId, KeyLimits, KeyListing,
    KeyPatch, KeyRepository, McpKey, NewKey, PresentedKey, READ_TOOLS, StoredKey, TablePattern,
};

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct KeySettings {
    /// How long a verified key is trusted without asking the store, while the change feed is
    /// connected. Without the feed, every request asks the store.
    pub cache_ttl: Duration,
    /// The largest `maxRows` a key may have.
    pub max_rows_cap: u32,
    /// The largest `timeoutMs` a key may have.
    pub max_timeout_ms: u32,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(60),
            max_rows_cap: 100_000,
            max_timeout_ms: 600_000,
        }
    }
}

const MAX_NAME: usize = 100;
const MAX_TABLES: usize = 1000;
const MAX_ORIGINS: usize = 50;
const MAX_CACHED: usize = 100_000;

#[derive(Debug, Default)]
struct Cache {
    entries: Mutex<HashMap<String, (Instant, Arc<StoredKey>)>>,
    /// Whether the change feed is connected, so cached entries can be trusted.
    feed_live: AtomicBool,
}

/// MCP keys.
#[derive(Clone)]
pub struct KeyService {
    repo: Arc<dyn KeyRepository>,
    connections: Arc<dyn DbConfigRepository>,
    hasher: KeyHasher,
    settings: KeySettings,
    cache: Arc<Cache>,
    used: Arc<Mutex<HashMap<KeyId, OffsetDateTime>>>,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

fn check_name(name: &str) -> Result<String, KeyError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(KeyError::invalid("name", "must not be empty"));
    }
    if trimmed.chars().count() > MAX_NAME {
        return Err(KeyError::invalid(
            "name",
            format!("must be at most {MAX_NAME} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(KeyError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Checks tool names and puts them in catalog order without duplicates.
fn check_tools(tools: &[String]) -> Result<Vec<String>, KeyError> {
    if tools.is_empty() {
        return Err(KeyError::invalid(
            "allowedTools",
            format!("must name at least one tool: {}", BUILTIN_TOOLS.join(", ")),
        ));
    }
    for (i, tool) in tools.iter().enumerate() {
        if !BUILTIN_TOOLS.contains(&tool.as_str()) {
            return Err(KeyError::invalid(
                &format!("allowedTools[{i}]"),
                format!(
                    "unknown tool {tool:?}; the tools are: {}",
                    BUILTIN_TOOLS.join(", ")
                ),
            ));
        }
    }
    Ok(BUILTIN_TOOLS
        .iter()
        .filter(|t| tools.iter().any(|x| x == *t))
        .map(|t| (*t).to_owned())
        .collect())
}

fn check_tables(tables: &[String]) -> Result<Vec<TablePattern>, KeyError> {
    if tables.is_empty() {
        return Err(KeyError::invalid(
            "tableWhitelist",
            "must name at least one table (`schema.table`, `table`, `schema.*`, or `*` for every table the connection exposes)",
        ));
    }
    if tables.len() > MAX_TABLES {
        return Err(KeyError::invalid(
            "tableWhitelist",
            format!("at most {MAX_TABLES} entries"),
        ));
    }
    let mut out: Vec<TablePattern> = Vec::with_capacity(tables.len());
    for (i, t) in tables.iter().enumerate() {
        let p = TablePattern::parse(t, &format!("tableWhitelist[{i}]"))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

fn check_origins(origins: &[String]) -> Result<Vec<String>, KeyError> {
    if origins.len() > MAX_ORIGINS {
        return Err(KeyError::invalid(
            "allowedOrigins",
            format!("at most {MAX_ORIGINS} origins"),
        ));
    }
    let mut out = Vec::with_capacity(origins.len());
    for (i, o) in origins.iter().enumerate() {
        let field = format!("allowedOrigins[{i}]");
        let bad = || {
            KeyError::invalid(
                &field,
                format!(
                    "{o:?} is not an origin like https://app.example.com (no path, no wildcard)"
                ),
            )
        };
        let url = url::Url::parse(o.trim()).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || !matches!(url.path(), "" | "/")
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.host_str().is_some_and(|h| h.contains('*'))
        {
            return Err(bad());
        }
        let origin = url.origin().ascii_serialization();
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

impl KeyService {
    pub fn new(
        repo: Arc<dyn KeyRepository>,
        connections: Arc<dyn DbConfigRepository>,
        hasher: KeyHasher,
        settings: KeySettings,
    ) -> Self {
        Self {
            repo,
            connections,
            hasher,
            settings,
            cache: Arc::default(),
            used: Arc::default(),
        }
    }

    fn check_limits(&self, limits: KeyLimits) -> Result<KeyLimits, KeyError> {
        let range = |field: &str, v: Option<u32>, min: u32, max: u32| match v {
            Some(v) if v < min || v > max => Err(KeyError::invalid(
                field,
                format!("must be from {min} to {max} (got {v})"),
            )),
            _ => Ok(()),
        };
        range("maxRows", limits.max_rows, 1, self.settings.max_rows_cap)?;
        range(
            "timeoutMs",
            limits.timeout_ms,
            100,
            self.settings.max_timeout_ms,
        )?;
        range(
            "rateLimitPerMinute",
            limits.rate_limit_per_minute,
            1,
            1_000_000,
        )?;
        Ok(limits)
    }

    async fn check_connection(&self, id: DbConfigId) -> Result<String, KeyError> {
        let stored = self
            .connections
            .get(id)
            .await
            .map_err(|e| KeyError::Unavailable(Box::new(e)))?;
        match stored {
            Some(s) if s.config.deleted_at.is_none() => Ok(s.config.name),
            _ => Err(KeyError::invalid(
                "dbManagementId",
                format!("no database connection with id {id}"),
            )),
        }
    }

    /// Issues a key. Its value is in the result and nowhere else, ever.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] naming the field, [`KeyError::Unavailable`].
    pub async fn issue(&self, new: NewKey) -> Result<IssuedKey, KeyError> {
        let now = now();
        let name = check_name(&new.name)?;
        let allowed_tools = match &new.allowed_tools {
            None => READ_TOOLS.iter().map(|t| (*t).to_owned()).collect(),
            Some(tools) => check_tools(tools)?,
        };
        let table_whitelist = check_tables(&new.table_whitelist)?;
        let limits = self.check_limits(new.limits)?;
        let allowed_origins = check_origins(&new.allowed_origins)?;
        if new.expires_at.is_some_and(|e| e <= now) {
            return Err(KeyError::invalid("expiresAt", "must be in the future"));
        }
        let db_config_name = self.check_connection(new.db_config_id).await?;
        let value = PresentedKey::generate();
        let key = McpKey {
            id: KeyId::new(),
            name,
            prefix: value.display_prefix(),
            db_config_id: new.db_config_id,
            allowed_tools,
            table_whitelist,
            limits,
            allowed_origins,
            is_active: true,
            created_at: now,
            updated_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        self.repo
            .create(&key, value.lookup(), &self.hasher.hash(&value))
            .await?;
        Ok(IssuedKey {
            listing: KeyListing {
                key,
                db_config_name: Some(db_config_name),
            },
            value,
        })
    }

    /// Every key, revoked ones too, newest first.
    ///
    /// # Errors
    /// [`KeyError::Unavailable`].
    pub async fn list(&self) -> Result<Vec<KeyListing>, KeyError> {
        self.repo.list().await
    }

    /// One key.
    ///
    /// # Errors
    /// [`KeyError::NotFound`], [`KeyError::Unavailable`].
    pub async fn get(&self, id: KeyId) -> Result<KeyListing, KeyError> {
        self.repo
            .get(id)
            .await?
            .ok_or_else(|| KeyError::NotFound(id.to_string()))
    }

    /// Changes a key's grants, limits or state. Every instance stops using the old grants
    /// within a moment (the change feed).
    ///
    /// # Errors
    /// [`KeyError::Invalid`], [`KeyError::NotFound`], [`KeyError::Revoked`],
    /// [`KeyError::Unavailable`].
    pub async fn update(&self, id: KeyId, patch: KeyPatch) -> Result<KeyListing, KeyError> {
        let current = self.get(id).await?;
        let mut key = current.key;
        if key.revoked_at.is_some() {
            return Err(KeyError::Revoked(id.to_string()));
        }
        if let Some(name) = &patch.name {
            key.name = check_name(name)?;
        }
        if let Some(tools) = &patch.allowed_tools {
            key.allowed_tools = check_tools(tools)?;
        }
        if let Some(tables) = &patch.table_whitelist {
            key.table_whitelist = check_tables(tables)?;
        }
        if let Some(expires_at) = patch.expires_at {
            if expires_at.is_some_and(|e| e <= now()) {
                return Err(KeyError::invalid("expiresAt", "must be in the future"));
            }
            key.expires_at = expires_at;
        }
        let mut limits = key.limits;
        if let Some(v) = patch.max_rows {
            limits.max_rows = v;
        }
        if let Some(v) = patch.timeout_ms {
            limits.timeout_ms = v;
        }
        if let Some(v) = patch.rate_limit_per_minute {
            limits.rate_limit_per_minute = v;
        }
        key.limits = self.check_limits(limits)?;
        if let Some(origins) = &patch.allowed_origins {
            key.allowed_origins = check_origins(origins)?;
        }
        if let Some(active) = patch.is_active {
            key.is_active = active;
        }
        key.updated_at = now();
        self.repo.update(&key).await?;
        self.forget(|stored| stored.key.id == id);
        Ok(KeyListing {
            key,
            db_config_name: current.db_config_name,
        })
    }

    /// Revokes a key for good; it is kept, marked revoked. Revoking twice is not an error.
    ///
    /// # Errors
    /// [`KeyError::NotFound`], [`KeyError::Unavailable`].
    pub async fn revoke(&self, id: KeyId) -> Result<(), KeyError> {
        if !self.repo.revoke(id, now()).await? {
            return Err(KeyError::NotFound(id.to_string()));
        }
        self.forget(|stored| stored.key.id == id);
        Ok(())
    }

    /// Verifies a presented key: it must exist, match, be active, unrevoked and unexpired, and
    /// its connection must be live. Records the use for `lastUsedAt`.
    ///
    /// # Errors
    /// The reason, for the audit log; clients are only told the key is invalid.
    pub async fn verify(&self, presented: &str) -> Result<Arc<StoredKey>, KeyAuthError> {
        if presented.trim().is_empty() {
            return Err(KeyAuthError::Missing);
        }
        let key = PresentedKey::parse(presented).ok_or(KeyAuthError::Malformed)?;
        let stored = match self.cached(key.lookup()) {
            Some(stored) => stored,
            None => {
                let found = self
                    .repo
                    .find_by_lookup(key.lookup())
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, "key lookup failed");
                        KeyAuthError::Unavailable
                    })?
                    .ok_or(KeyAuthError::Unknown)?;
                let found = Arc::new(found);
                self.remember(key.lookup(), found.clone());
                found
            }
        };
        if !self.hasher.verify(&key, &stored.hash) {
            return Err(KeyAuthError::Unknown);
        }
        let now = OffsetDateTime::now_utc();
        let k = &stored.key;
        if k.revoked_at.is_some() {
            return Err(KeyAuthError::Revoked);
        }
        if !k.is_active {
            return Err(KeyAuthError::Inactive);
        }
        if k.expires_at.is_some_and(|e| e <= now) {
            return Err(KeyAuthError::Expired);
        }
        if !stored.connection_usable {
            return Err(KeyAuthError::ConnectionGone);
        }
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(k.id, now);
        Ok(stored)
    }

    fn cached(&self, lookup: &str) -> Option<Arc<StoredKey>> {
        if !self.cache.feed_live.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.cache.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(lookup)
            .filter(|(at, _)| at.elapsed() < self.settings.cache_ttl)
            .map(|(_, stored)| stored.clone())
    }

    fn remember(&self, lookup: &str, stored: Arc<StoredKey>) {
        if !self.cache.feed_live.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.cache.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_CACHED {
            entries.clear();
        }
        entries.insert(lookup.to_owned(), (Instant::now(), stored));
    }

    fn forget(&self, which: impl Fn(&StoredKey) -> bool) {
        self.cache
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (_, stored)| !which(stored));
    }

    /// A key changed somewhere (change feed): forget it.
    pub fn key_changed(&self, id: KeyId) {
        self.forget(|stored| stored.key.id == id);
    }

    /// A connection changed or was deleted (change feed): forget its keys.
    pub fn connection_changed(&self, id: DbConfigId) {
        self.forget(|stored| stored.key.db_config_id == id);
    }

    /// The change feed connected (`true`: cached keys may be trusted until their TTL) or
    /// dropped (`false`: every request asks the store until it is back). Either way the cache
    /// starts empty, since changes may have been missed.
    pub fn set_feed_live(&self, live: bool) {
        self.cache.feed_live.store(live, Ordering::Release);
        self.cache
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Writes the `lastUsedAt` times gathered since the last flush, in one batch.
    ///
    /// # Errors
    /// [`KeyError::Unavailable`]; the times are kept for the next flush.
    pub async fn flush_last_used(&self) -> Result<usize, KeyError> {
        let batch: Vec<(KeyId, OffsetDateTime)> = {
            let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
            used.drain().collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(e) = self.repo.touch_last_used(&batch).await {
            let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in batch {
                let slot = used.entry(id).or_insert(at);
                *slot = (*slot).max(at);
            }
            return Err(e);
        }
        Ok(batch.len())
    }
}
