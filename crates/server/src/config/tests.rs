//! Loading settings from files and the environment, and the checks that refuse bad ones.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_safe() {
    let s = Settings::load(None, env(&[])).unwrap();
    assert_eq!(
        s.listen.to_string(),
        "127.0.0.1:8080",
        "binds loopback by default"
    );
    assert!(!s.auth.allow_signup);
    assert_eq!(s.env, Mode::Development);
}

#[test]
fn http_workers_default_to_half_the_cores_and_follow_the_setting() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let s = Settings::load(None, env(&[])).unwrap();
    assert_eq!(s.http.worker_threads(), (cores / 2).max(1));
    let s = Settings::load(None, env(&[("SLUICE_HTTP__WORKERS", "3")])).unwrap();
    assert_eq!(s.http.worker_threads(), 3);
}

#[test]
fn the_cpu_policy_defaults_to_batch_and_follows_the_setting() {
    let s = Settings::load(None, env(&[])).unwrap();
    assert_eq!(s.cpu_policy, CpuPolicy::Batch);
    let s = Settings::load(None, env(&[("SLUICE_CPU_POLICY", "normal")])).unwrap();
    assert_eq!(s.cpu_policy, CpuPolicy::Normal);
    let err = Settings::load(None, env(&[("SLUICE_CPU_POLICY", "realtime")])).unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("realtime") && text.contains("cpu_policy"),
        "{text}"
    );
}

#[test]
fn fixed_variable_names_are_read() {
    let s = Settings::load(
        None,
        env(&[
            ("SLUICE_DATABASE_URL", "postgres://x@db/y"),
            ("SLUICE_LISTEN", "0.0.0.0:9000"),
            ("SLUICE_ENV", "production"),
            ("SLUICE_MASTER_KEY", "0123456789"),
            ("SLUICE_AUTH__ALLOW_SIGNUP", "true"),
            ("SLUICE_HTTP__TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
            ("SLUICE_DATABASE__MAX_CONNECTIONS", "4"),
            ("OTHER_VARIABLE", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(s.database_url, "postgres://x@db/y");
    assert_eq!(s.listen.port(), 9000);
    assert_eq!(s.env, Mode::Production);
    assert_eq!(
        s.master_key.as_deref(),
        Some("0123456789"),
        "digits stay text"
    );
    assert!(s.auth.allow_signup);
    assert_eq!(s.http.trusted_proxies, vec!["10.0.0.0/8", "192.168.1.1"]);
    assert_eq!(s.database.max_connections, 4);
}

#[test]
fn a_misspelled_variable_stops_start_up_and_is_named() {
    let err = Settings::load(None, env(&[("SLUICE_AUTH__ALLOW_SIGNUPS", "true")])).unwrap_err();
    assert!(
        err.to_string().contains("SLUICE_AUTH__ALLOW_SIGNUPS"),
        "{err}"
    );
}

#[test]
fn invalid_values_are_named() {
    let err = Settings::load(None, env(&[("SLUICE_ENV", "staging")])).unwrap_err();
    assert!(
        format!("{err:#}").contains("staging") || format!("{err:#}").contains("env"),
        "{err:#}"
    );
    let err = Settings::load(None, env(&[("SLUICE_LISTEN", "nowhere")])).unwrap_err();
    assert!(format!("{err:#}").contains("listen"), "{err:#}");
    let err = Settings::load(
        None,
        env(&[("SLUICE_HTTP__TRUSTED_PROXIES", "10.0.0.0/33")]),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("SLUICE_HTTP__TRUSTED_PROXIES"),
        "{err:#}"
    );
    let err = Settings::load(None, env(&[("SLUICE_HTTP__BODY_TIMEOUT_SECS", "0")])).unwrap_err();
    assert!(
        format!("{err:#}").contains("http.body_timeout_secs"),
        "{err:#}"
    );
    let err = Settings::load(None, env(&[("SLUICE_HTTP__KEEP_ALIVE_SECS", "0")])).unwrap_err();
    assert!(
        format!("{err:#}").contains("http.keep_alive_secs"),
        "{err:#}"
    );
    let err =
        Settings::load(None, env(&[("SLUICE_DATABASE__MAX_CONNECTIONS", "many")])).unwrap_err();
    assert!(format!("{err:#}").contains("max_connections"), "{err:#}");
    // A queue smaller than a batch would make every linger hold up requests.
    let err = Settings::load(
        None,
        env(&[
            ("SLUICE_AUDIT__QUEUE_CAPACITY", "100"),
            ("SLUICE_AUDIT__BATCH_SIZE", "500"),
        ]),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("audit.queue_capacity"),
        "{err:#}"
    );
    let err = Settings::load(None, env(&[("SLUICE_AUDIT__LINGER_MS", "5000")])).unwrap_err();
    assert!(format!("{err:#}").contains("audit.linger_ms"), "{err:#}");
}

#[test]
fn unknown_keys_in_a_file_stop_start_up() {
    let dir = std::env::temp_dir().join(format!("sluice-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sluice.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9999\"\n[auth]\nallow_sign_up = true\n",
    )
    .unwrap();
    let err = Settings::load(Some(&file), env(&[])).unwrap_err();
    assert!(format!("{err:#}").contains("allow_sign_up"), "{err:#}");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9999\"\n[auth]\nallow_signup = true\n",
    )
    .unwrap();
    let s = Settings::load(Some(&file), env(&[("SLUICE_LISTEN", "127.0.0.1:7000")])).unwrap();
    assert!(s.auth.allow_signup, "the file is read");
    assert_eq!(s.listen.port(), 7000, "environment overrides the file");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_readme_documents_every_setting() {
    let readme = include_str!("../../../../README.md");
    for key in Settings::keys() {
        let env = Settings::env_name(&key);
        assert!(
            readme.contains(&format!("`{env}`")),
            "README.md must document {env} ({key})"
        );
    }
}
