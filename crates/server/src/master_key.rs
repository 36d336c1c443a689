//! Where the master key comes from: `SLUICE_MASTER_KEY`, or in development a key generated
//! once and kept in the data directory.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use secrets::MasterKey;

use crate::config::{Mode, Settings};

const KEY_FILE: &str = "master.key";

/// Resolves the master key for the settings.
///
/// # Errors
/// In production, a missing or weak key. In any mode, a key that does not parse (the message
/// never contains the key). In development, an unreadable or unwritable key file.
pub fn resolve(settings: &Settings) -> anyhow::Result<MasterKey> {
    if let Some(text) = &settings.master_key {
        return MasterKey::parse(text)
            .map_err(|e| anyhow::anyhow!("SLUICE_MASTER_KEY is not usable: {e}"));
    }
    if settings.env == Mode::Production {
        bail!(
            "SLUICE_MASTER_KEY is required in production: set it to at least 32 random bytes, \
             hex or base64 (for example the output of `openssl rand -hex 32`)"
        );
    }
    let path = settings.data_dir.join(KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read the development master key {}", path.display())
        })?;
        return MasterKey::parse(&text).map_err(|e| {
            anyhow::anyhow!(
                "the development master key {} is not usable: {e}",
                path.display()
            )
        });
    }
    let key = MasterKey::generate();
    write_key_file(&settings.data_dir, &path, &key)?;
    tracing::warn!(
        path = %path.display(),
        "no SLUICE_MASTER_KEY is set: generated a development master key and saved it; \
         set SLUICE_MASTER_KEY (and SLUICE_ENV=production) for any real deployment"
    );
    Ok(key)
}

fn write_key_file(dir: &Path, path: &Path, key: &MasterKey) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write the development master key {}", path.display()))?;
    writeln!(file, "{}", key.to_hex())?;
    Ok(())
}
