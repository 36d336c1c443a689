//! Which hosts Sluice may connect to: allow and deny lists of host names and CIDR blocks. Deny
//! wins; an empty allow list allows every host not denied. Names are checked as written, and
//! every address a name resolves to is checked too, so a friendly name pointing at a denied
//! address is still denied. Cloud metadata endpoints are denied by default.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::TargetError;

/// The deny list used when none is configured: link-local (every cloud's metadata service at
/// 169.254.169.254, ECS at 169.254.170.2), AWS's IPv6 metadata address, Alibaba's, and the
/// metadata host names.
pub const DEFAULT_DENIED_HOSTS: &[&str] = &[
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    // 169.254.0.0/16 embedded in IPv6: NAT64, 6to4 and the old IPv4-compatible form.
    "64:ff9b::a9fe:0/112",
    "2002:a9fe::/32",
    "::a9fe:0/112",
    "100.100.100.200/32",
    "metadata.google.internal",
    "metadata",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Net(IpNet),
    /// An exact name, or `*.example.com` for any subdomain.
    Name(String),
}

impl Rule {
    fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        if let Ok(net) = t.parse::<IpNet>() {
            return Ok(Self::Net(net));
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Self::Net(IpNet::from(ip)));
        }
        let name = t.strip_prefix("*.").unwrap_or(&t);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(format!(
                "{text:?} is not a host name, an IP address or a CIDR block"
            ));
        }
        Ok(Self::Name(t))
    }

    fn matches_name(&self, host: &str) -> bool {
        match self {
            Self::Name(rule) => match rule.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => host == rule,
            },
            Self::Net(net) => host
                .parse::<IpAddr>()
                .is_ok_and(|ip| net.contains(&ip.to_canonical())),
        }
    }

    fn matches_addr(&self, ip: IpAddr) -> bool {
        matches!(self, Self::Net(net) if net.contains(&ip.to_canonical()))
    }
}

/// The host policy for connections to users' databases.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostPolicy {
    allow: Vec<Rule>,
    deny: Vec<Rule>,
}

impl HostPolicy {
    /// Builds a policy from configured lists.
    ///
    /// # Errors
    /// A rule that is neither a host name, an address nor a CIDR block.
    pub fn new(allow: &[String], deny: &[String]) -> Result<Self, String> {
        Ok(Self {
            allow: allow
                .iter()
                .map(|r| Rule::parse(r))
                .collect::<Result<_, _>>()?,
            deny: deny
                .iter()
                .map(|r| Rule::parse(r))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Checks a host as written (before resolving it).
    ///
    /// # Errors
    /// [`TargetError::HostNotAllowed`].
    pub fn check_name(&self, host: &str) -> Result<(), TargetError> {
        let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
        if self.deny.iter().any(|r| r.matches_name(&h)) {
            return Err(TargetError::HostNotAllowed(host.to_owned()));
        }
        Ok(())
    }

    /// Checks one resolved address of `host`.
    ///
    /// # Errors
    /// [`TargetError::HostNotAllowed`].
    pub fn check_addr(&self, host: &str, ip: IpAddr) -> Result<(), TargetError> {
        let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
        if self.deny.iter().any(|r| r.matches_addr(ip)) {
            return Err(TargetError::HostNotAllowed(host.to_owned()));
        }
        if !self.allow.is_empty()
            && !self
                .allow
                .iter()
                .any(|r| r.matches_name(&h) || r.matches_addr(ip))
        {
            return Err(TargetError::HostNotAllowed(host.to_owned()));
        }
        Ok(())
    }

    /// Resolves `host` and checks the name and every address. Returns the address to connect
    /// to, so the connection cannot be re-pointed by a second lookup.
    ///
    /// # Errors
    /// [`TargetError::HostNotAllowed`], [`TargetError::UnknownHost`].
    pub async fn resolve(&self, host: &str, port: u16) -> Result<IpAddr, TargetError> {
        self.check_name(host)?;
        let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| TargetError::UnknownHost(host.to_owned()))?
                .map(|a| a.ip())
                .collect(),
        };
        if addrs.is_empty() {
            return Err(TargetError::UnknownHost(host.to_owned()));
        }
        for ip in &addrs {
            self.check_addr(host, *ip)?;
        }
        // Prefer IPv4 (what most database servers listen on first).
        Ok(addrs
            .iter()
            .copied()
            .find(IpAddr::is_ipv4)
            .unwrap_or(addrs[0]))
    }
}

/// Directories SQLite files may be opened from; empty allows any path the server can read.
/// Paths are compared after resolving `..` and symbolic links.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilePolicy {
    dirs: Vec<std::path::PathBuf>,
}

impl FilePolicy {
    /// A policy for the given directories (they need not exist yet).
    pub fn new(dirs: &[String]) -> Self {
        Self {
            dirs: dirs
                .iter()
                .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| std::path::PathBuf::from(d)))
                .collect(),
        }
    }

    /// Checks a SQLite path.
    ///
    /// # Errors
    /// [`TargetError::HostNotAllowed`] (naming only the path as given) when it resolves outside
    /// every allowed directory.
    pub fn check(&self, path: &str) -> Result<(), TargetError> {
        if self.dirs.is_empty() {
            return Ok(());
        }
        let p = std::path::Path::new(path);
        // A missing file is judged by its directory, so the answer does not reveal existence.
        let resolved = std::fs::canonicalize(p).ok().or_else(|| {
            let parent = std::fs::canonicalize(p.parent()?).ok()?;
            Some(parent.join(p.file_name()?))
        });
        match resolved {
            Some(r) if self.dirs.iter().any(|d| r.starts_with(d)) => Ok(()),
            _ => Err(TargetError::HostNotAllowed(format!("the file {path}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> HostPolicy {
        let deny: Vec<String> = DEFAULT_DENIED_HOSTS.iter().map(|s| s.to_string()).collect();
        HostPolicy::new(&[], &deny).unwrap()
    }

    #[tokio::test]
    async fn cloud_metadata_addresses_are_denied_by_default_in_every_spelling() {
        let p = default_policy();
        for host in [
            "169.254.169.254",
            "169.254.170.2",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
            "metadata.google.internal",
            "METADATA.GOOGLE.INTERNAL.",
        ] {
            assert!(
                matches!(
                    p.resolve(host, 5432).await,
                    Err(TargetError::HostNotAllowed(_))
                ),
                "{host} must be denied"
            );
        }
        assert!(p.resolve("127.0.0.1", 5432).await.is_ok());
    }

    #[tokio::test]
    async fn an_allow_list_admits_only_its_hosts() {
        let p = HostPolicy::new(
            &[
                "10.0.0.0/8".into(),
                "*.db.example.com".into(),
                "localhost".into(),
            ],
            &[],
        )
        .unwrap();
        assert!(
            p.check_addr("10.1.2.3", "10.1.2.3".parse().unwrap())
                .is_ok()
        );
        assert!(
            p.check_addr("pg.db.example.com", "192.0.2.1".parse().unwrap())
                .is_ok()
        );
        assert!(
            p.check_addr("db.example.com.evil.net", "192.0.2.1".parse().unwrap())
                .is_err()
        );
        assert!(
            p.check_addr("192.0.2.9", "192.0.2.9".parse().unwrap())
                .is_err()
        );
        assert!(p.resolve("localhost", 5432).await.is_ok());
    }

    #[test]
    fn deny_wins_and_bad_rules_are_refused() {
        let p = HostPolicy::new(&["10.0.0.0/8".into()], &["10.9.0.0/16".into()]).unwrap();
        assert!(
            p.check_addr("10.9.1.1", "10.9.1.1".parse().unwrap())
                .is_err()
        );
        assert!(HostPolicy::new(&["not a host!".into()], &[]).is_err());
    }

    #[test]
    fn sqlite_paths_must_resolve_inside_an_allowed_directory() {
        let dir = std::env::temp_dir().join(format!("sluice-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let allowed = dir.to_string_lossy().into_owned();
        let p = FilePolicy::new(std::slice::from_ref(&allowed));
        assert!(
            p.check(&format!("{allowed}/app.db")).is_ok(),
            "a missing file inside is fine"
        );
        assert!(
            p.check(&format!("{allowed}/../etc.db")).is_err(),
            "'..' is resolved"
        );
        assert!(p.check("/etc/passwd").is_err());
        assert!(
            FilePolicy::default().check("/etc/passwd").is_ok(),
            "no list: any path"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn unknown_names_are_reported() {
        let p = default_policy();
        assert!(matches!(
            p.resolve("no-such-host.invalid", 5432).await,
            Err(TargetError::UnknownHost(_))
        ));
    }
}
