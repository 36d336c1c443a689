//! Configuration: built-in defaults, then an optional file (`--config`), then environment
//! variables (`SLUICE_<KEY>`, sections joined by `__`, e.g. `SLUICE_AUTH__ALLOW_SIGNUP`).
//! An unknown key or an invalid value stops start-up with a message that names it.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::cpu::CpuPolicy;

/// The prefix of every environment variable Sluice reads.
pub const ENV_PREFIX: &str = "SLUICE_";

/// Deployment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Readable logs; a master key is generated and kept in the data directory if none is set.
    Development,
    /// JSON logs; a strong master key is required.
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `pretty` in development, `json` in production.
    Auto,
    Pretty,
    Json,
}

/// Every setting of the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `development` or `production`.
    pub env: Mode,
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// URL of the metadata PostgreSQL database.
    pub database_url: String,
    /// The master secret, hex or base64, at least 32 bytes.
    pub master_key: Option<String>,
    /// Where the development master key is kept.
    pub data_dir: PathBuf,
    /// How the kernel schedules the server's threads: `batch` (`SCHED_BATCH` on Linux) or
    /// `normal` (see `crate::cpu`).
    pub cpu_policy: CpuPolicy,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub targets: TargetSettings,
    pub mcp: McpSettings,
    pub audit: AuditSettings,
    pub metrics: MetricsSettings,
}

/// `GET /metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// The bearer token non-loopback clients must send; empty: loopback clients only.
    pub token: String,
}

/// The audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Events waiting to be written before requests wait for room (nothing is dropped).
    pub queue_capacity: usize,
    /// Events written in one statement at most.
    pub batch_size: usize,
    /// Milliseconds the writer waits after an event for more before it writes a batch: a busy
    /// server then writes a few large batches instead of many small ones (each batch costs
    /// PostgreSQL about 0.3 ms of CPU besides its events: see `make bench`). 0 writes at once.
    pub linger_ms: u64,
    /// Replace the values in recorded tool arguments (`value`s of conditions and expressions)
    /// with `"***"`; names of tables and columns are kept.
    pub redact_values: bool,
    /// Days events are kept; older ones are removed by an hourly job. 0 keeps them forever.
    pub retention_days: u32,
    /// Record events at all. Off only to measure what auditing costs: nothing is recorded.
    pub enabled: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            queue_capacity: 10_000,
            batch_size: 500,
            linger_ms: 50,
            redact_values: false,
            retention_days: 90,
            enabled: true,
        }
    }
}

/// The MCP endpoint and the limits of keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSettings {
    /// Host names (the `Host` header) `/mcp` answers to besides loopback names, e.g. the
    /// public name behind a proxy. Guards against DNS rebinding.
    #[serde(deserialize_with = "list_or_csv")]
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed for every key (keys add their own); loopback origins are
    /// always allowed.
    #[serde(deserialize_with = "list_or_csv")]
    pub allowed_origins: Vec<String>,
    /// Rows a query returns when the key sets no `maxRows`.
    pub default_max_rows: u32,
    /// The largest `maxRows` a key may be given.
    pub max_rows_cap: u32,
    /// Milliseconds a query may run when the key sets no `timeoutMs`.
    pub default_timeout_ms: u32,
    /// The largest `timeoutMs` a key may be given.
    pub max_timeout_ms: u32,
    /// Bytes of row data (as JSON) one result holds at most.
    pub max_result_bytes: usize,
    /// Requests per minute per key when the key sets no `rateLimitPerMinute`.
    pub default_rate_limit_per_minute: u32,
    /// Seconds a verified key is trusted without asking the metadata database (changes reach
    /// every instance at once through LISTEN/NOTIFY regardless).
    pub key_cache_ttl_secs: u64,
    /// How deeply a structured query's queries may nest (1 to 5).
    pub max_query_depth: usize,
    /// Joins in a whole structured query (0 to 16).
    pub max_joins: usize,
    /// Subqueries, CTEs and combined queries in a whole structured query (0 to 32).
    pub max_subqueries: usize,
    /// Conditions in a whole structured query (1 to 100).
    pub max_conditions: usize,
}

impl Default for McpSettings {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            default_max_rows: 1000,
            max_rows_cap: 100_000,
            default_timeout_ms: 30_000,
            max_timeout_ms: 600_000,
            max_result_bytes: 4 * 1024 * 1024,
            default_rate_limit_per_minute: 120,
            key_cache_ttl_secs: 60,
            max_query_depth: query::MAX_QUERY_DEPTH,
            max_joins: query::MAX_JOINS,
            max_subqueries: query::MAX_SUBQUERIES,
            max_conditions: query::MAX_CONDITIONS,
        }
    }
}

/// Connections to users' databases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetSettings {
    /// Host names (`*.example.com` for subdomains), addresses or CIDR blocks Sluice may connect
    /// to; empty = any host not denied.
    #[serde(deserialize_with = "list_or_csv")]
    pub allowed_hosts: Vec<String>,
    /// Hosts Sluice never connects to; the default denies cloud metadata endpoints.
    #[serde(deserialize_with = "list_or_csv")]
    pub denied_hosts: Vec<String>,
    /// Directories SQLite files may be opened from; empty = any path the server can read.
    #[serde(deserialize_with = "list_or_csv")]
    pub sqlite_dirs: Vec<String>,
    /// Most connections kept open to each registered database.
    pub pool_size: usize,
    /// Seconds to wait for a connection to a user's database.
    pub connect_timeout_secs: u64,
    /// Seconds an introspection (schema refresh or discovery) may take.
    pub introspect_timeout_secs: u64,
    /// Hours after which a schema snapshot is stale.
    pub snapshot_max_age_hours: u64,
    /// Seconds between background checks for stale snapshots; 0 turns them off.
    pub refresh_interval_secs: u64,
}

impl Default for TargetSettings {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            denied_hosts: db_configs::DEFAULT_DENIED_HOSTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            sqlite_dirs: Vec::new(),
            pool_size: 16,
            connect_timeout_secs: 5,
            introspect_timeout_secs: 120,
            snapshot_max_age_hours: 24,
            refresh_interval_secs: 300,
        }
    }
}

/// The metadata database pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub max_connections: usize,
    pub connect_timeout_secs: u64,
    pub acquire_timeout_secs: u64,
}

/// Administrator authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub allow_signup: bool,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub max_failed_sign_ins_per_address: u32,
    pub max_failed_sign_ins_per_username: u32,
    pub throttle_window_secs: u64,
}

/// The HTTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    /// Addresses or CIDR blocks of reverse proxies whose `X-Forwarded-For` is believed.
    #[serde(deserialize_with = "list_or_csv")]
    pub trusted_proxies: Vec<String>,
    /// Worker threads; 0 = half the cores, at least one (see `worker_threads`).
    pub workers: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open. Longer than HTTP clients keep theirs
    /// (httpx 5 s, Node 4 s), so the client closes an idle connection first: a server closing
    /// it as the client reuses it fails that request (a `tools/call` is not retried).
    pub keep_alive_secs: u64,
    /// Seconds a request body may take to arrive once the request is allowed (408 past it).
    pub body_timeout_secs: u64,
}

impl HttpSettings {
    /// The HTTP worker threads to run: `workers`, or by default half the cores (at least one).
    /// Sluice is a proxy whose work is mostly the kernel's network stack and the databases',
    /// often on the same host: one worker drives thousands of calls a second, and each worker
    /// more adds wakeups across threads (a pooled connection is driven by the worker that
    /// opened it). On the 2-core benchmark one worker served 25% more calls than two.
    pub fn worker_threads(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (cores / 2).max(1)
    }
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `error`, `warn`, `info`, `debug` or `trace`, for Sluice's own modules.
    pub level: String,
    /// `auto`, `pretty` or `json`.
    pub format: LogFormat,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            env: Mode::Development,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "postgres://postgres@127.0.0.1:5432/sluice".into(),
            master_key: None,
            data_dir: PathBuf::from(".data"),
            cpu_policy: CpuPolicy::Batch,
            database: DatabaseSettings::default(),
            auth: AuthSettings::default(),
            http: HttpSettings::default(),
            log: LogSettings::default(),
            targets: TargetSettings::default(),
            mcp: McpSettings::default(),
            audit: AuditSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout_secs: 5,
            acquire_timeout_secs: 10,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            allow_signup: false,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            max_failed_sign_ins_per_address: 30,
            max_failed_sign_ins_per_username: 10,
            throttle_window_secs: 15 * 60,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            trusted_proxies: Vec::new(),
            workers: 0,
            shutdown_timeout_secs: 30,
            keep_alive_secs: 75,
            body_timeout_secs: 60,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::List(v) => v,
        Raw::Text(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

impl Settings {
    /// Every setting's dotted key (`auth.allow_signup`), from the defaults.
    pub fn keys() -> BTreeSet<String> {
        let value = serde_json::to_value(Settings::default()).unwrap_or_default();
        let mut out = BTreeSet::new();
        flatten("", &value, &mut out);
        out
    }

    /// The environment variable of a dotted key: `auth.allow_signup` -> `SLUICE_AUTH__ALLOW_SIGNUP`.
    pub fn env_name(key: &str) -> String {
        format!(
            "{ENV_PREFIX}{}",
            key.replace('.', "__").to_ascii_uppercase()
        )
    }

    /// Loads the settings from defaults, the optional file and the given environment.
    ///
    /// # Errors
    /// An unknown key (in the file or as a `SLUICE_` variable), a value of the wrong type, or
    /// an invalid value, each named.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        let known = Self::keys();
        for (name, _) in &env {
            let key = name[ENV_PREFIX.len()..]
                .to_ascii_lowercase()
                .replace("__", ".");
            if !known.contains(&key) {
                bail!(
                    "unknown setting {name}: there is no setting `{key}`. Known variables: {}",
                    known
                        .iter()
                        .map(|k| Self::env_name(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        let mut builder =
            config::Config::builder().add_source(config::Config::try_from(&Settings::default())?);
        if let Some(path) = file {
            if !path.exists() {
                bail!("the configuration file {} does not exist", path.display());
            }
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let env_map: std::collections::HashMap<String, String> = env.into_iter().collect();
        builder = builder.add_source(
            config::Environment::with_prefix("SLUICE")
                .prefix_separator("_")
                .separator("__")
                .source(Some(env_map)),
        );
        let settings: Settings = builder
            .build()
            .context("cannot read the configuration")?
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let check = |ok: bool, key: &str, why: &str| -> anyhow::Result<()> {
            if ok {
                Ok(())
            } else {
                bail!(
                    "invalid configuration: {key} ({}) {why}",
                    Self::env_name(key)
                )
            }
        };
        check(
            !self.database_url.trim().is_empty(),
            "database_url",
            "must not be empty",
        )?;
        check(
            (1..=1000).contains(&self.database.max_connections),
            "database.max_connections",
            "must be between 1 and 1000",
        )?;
        check(
            self.database.connect_timeout_secs >= 1,
            "database.connect_timeout_secs",
            "must be at least 1",
        )?;
        check(
            self.database.acquire_timeout_secs >= 1,
            "database.acquire_timeout_secs",
            "must be at least 1",
        )?;
        check(
            (30..=24 * 3600).contains(&self.auth.access_token_ttl_secs),
            "auth.access_token_ttl_secs",
            "must be between 30 seconds and 24 hours",
        )?;
        check(
            self.auth.refresh_token_ttl_secs > self.auth.access_token_ttl_secs,
            "auth.refresh_token_ttl_secs",
            "must be longer than auth.access_token_ttl_secs",
        )?;
        check(
            self.auth.max_failed_sign_ins_per_address >= 1,
            "auth.max_failed_sign_ins_per_address",
            "must be at least 1",
        )?;
        check(
            self.auth.max_failed_sign_ins_per_username >= 1,
            "auth.max_failed_sign_ins_per_username",
            "must be at least 1",
        )?;
        check(
            self.auth.throttle_window_secs >= 1,
            "auth.throttle_window_secs",
            "must be at least 1",
        )?;
        check(
            (1024..=64 * 1024 * 1024).contains(&self.http.max_body_bytes),
            "http.max_body_bytes",
            "must be between 1 KiB and 64 MiB",
        )?;
        check(
            (1..=3600).contains(&self.http.body_timeout_secs),
            "http.body_timeout_secs",
            "must be between 1 and 3600",
        )?;
        check(
            (1..=3600).contains(&self.http.keep_alive_secs),
            "http.keep_alive_secs",
            "must be between 1 and 3600",
        )?;
        for p in &self.http.trusted_proxies {
            check(
                parse_net(p).is_some(),
                "http.trusted_proxies",
                &format!("has {p:?}, which is not an IP address or CIDR block"),
            )?;
        }
        if let Err(e) =
            db_configs::HostPolicy::new(&self.targets.allowed_hosts, &self.targets.denied_hosts)
        {
            bail!(
                "invalid configuration: targets.allowed_hosts or targets.denied_hosts (SLUICE_TARGETS__ALLOWED_HOSTS / SLUICE_TARGETS__DENIED_HOSTS): {e}"
            );
        }
        check(
            (1..=1000).contains(&self.targets.pool_size),
            "targets.pool_size",
            "must be between 1 and 1000",
        )?;
        check(
            (1..=300).contains(&self.targets.connect_timeout_secs),
            "targets.connect_timeout_secs",
            "must be between 1 and 300",
        )?;
        check(
            (1..=3600).contains(&self.targets.introspect_timeout_secs),
            "targets.introspect_timeout_secs",
            "must be between 1 and 3600",
        )?;
        check(
            self.targets.snapshot_max_age_hours >= 1,
            "targets.snapshot_max_age_hours",
            "must be at least 1",
        )?;
        check(
            (1..=1_000_000).contains(&self.audit.queue_capacity),
            "audit.queue_capacity",
            "must be between 1 and 1000000",
        )?;
        check(
            (1..=3_000).contains(&self.audit.batch_size),
            "audit.batch_size",
            "must be between 1 and 3000",
        )?;
        check(
            self.audit.queue_capacity >= self.audit.batch_size,
            "audit.queue_capacity",
            "must be at least audit.batch_size",
        )?;
        check(
            self.audit.linger_ms <= 1_000,
            "audit.linger_ms",
            "must be between 0 and 1000",
        )?;
        let m = &self.mcp;
        check(
            (1..=query::MAX_QUERY_DEPTH).contains(&m.max_query_depth),
            "mcp.max_query_depth",
            "must be between 1 and 5",
        )?;
        check(
            m.max_joins <= query::MAX_JOINS,
            "mcp.max_joins",
            "must be between 0 and 16",
        )?;
        check(
            m.max_subqueries <= query::MAX_SUBQUERIES,
            "mcp.max_subqueries",
            "must be between 0 and 32",
        )?;
        check(
            (1..=query::MAX_CONDITIONS).contains(&m.max_conditions),
            "mcp.max_conditions",
            "must be between 1 and 100",
        )?;
        check(
            (1..=1_000_000).contains(&m.max_rows_cap),
            "mcp.max_rows_cap",
            "must be between 1 and 1000000",
        )?;
        check(
            (1..=m.max_rows_cap).contains(&m.default_max_rows),
            "mcp.default_max_rows",
            "must be between 1 and mcp.max_rows_cap",
        )?;
        check(
            (100..=3_600_000).contains(&m.max_timeout_ms),
            "mcp.max_timeout_ms",
            "must be between 100 and 3600000",
        )?;
        check(
            (100..=m.max_timeout_ms).contains(&m.default_timeout_ms),
            "mcp.default_timeout_ms",
            "must be between 100 and mcp.max_timeout_ms",
        )?;
        check(
            (1024..=1024 * 1024 * 1024).contains(&m.max_result_bytes),
            "mcp.max_result_bytes",
            "must be between 1 KiB and 1 GiB",
        )?;
        check(
            m.default_rate_limit_per_minute >= 1,
            "mcp.default_rate_limit_per_minute",
            "must be at least 1",
        )?;
        for o in &m.allowed_origins {
            check(
                url::Url::parse(o).is_ok_and(|u| {
                    matches!(u.scheme(), "http" | "https") && matches!(u.path(), "" | "/")
                }),
                "mcp.allowed_origins",
                &format!("has {o:?}, which is not an origin like https://app.example.com"),
            )?;
        }
        check(
            ["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()),
            "log.level",
            "must be one of error, warn, info, debug, trace",
        )?;
        Ok(())
    }

    /// The trusted proxies as networks (validated at load).
    pub fn trusted_proxy_nets(&self) -> Vec<ipnet::IpNet> {
        self.http
            .trusted_proxies
            .iter()
            .filter_map(|p| parse_net(p))
            .collect()
    }
}

fn parse_net(text: &str) -> Option<ipnet::IpNet> {
    text.parse::<ipnet::IpNet>().ok().or_else(|| {
        text.parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    })
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

#[cfg(test)]
mod tests;
