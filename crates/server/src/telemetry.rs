//! Logging: readable lines in development, JSON in production. Sluice's own modules log at the
//! configured level; dependencies only at `warn`, whatever that level. This matters for the
//! database driver: at `debug` it prints statement parameters, which may be secrets.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, Mode, Settings};

const OUR_CRATES: &[&str] = &[
    "server",
    "sluice",
    "http_api",
    "accounts",
    "store_postgres",
    "secrets",
];

/// The filter for a level of Sluice's own modules.
pub fn filter(level: &str) -> EnvFilter {
    let mut directives = String::from("warn,actix_server=info");
    for c in OUR_CRATES {
        directives.push_str(&format!(",{c}={level}"));
    }
    EnvFilter::new(directives)
}

/// Installs the global subscriber, writing to `writer`.
pub fn init<W>(settings: &Settings, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let json = match settings.log.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => settings.env == Mode::Production,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(&settings.log.level))
        .with_writer(writer)
        .with_target(true);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.try_init()
    };
}
