//! Host and Origin checks: which `Host` names are answered, which Origins need the key's say.

use super::McpService;

fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// The host part of a `Host` header (`name:port`, `[v6]:port`).
fn host_name(header: &str) -> String {
    let h = header.trim().to_ascii_lowercase();
    if let Some(rest) = h.strip_prefix('[') {
        return rest
            .split_once(']')
            .map_or(h.clone(), |(v6, _)| format!("[{v6}]"));
    }
    h.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(h.clone(), |(name, _)| name.to_owned())
}

impl McpService {
    pub(super) fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(host) = host else { return true };
        let name = host_name(host);
        is_loopback_host(&name)
            || self
                .settings
                .allowed_hosts
                .iter()
                .any(|h| h == "*" || h.eq_ignore_ascii_case(&name))
    }

    /// `Some(true)` allowed for everyone, `Some(false)` only if the key allows it.
    pub(super) fn origin_globally_allowed(&self, origin: &str) -> bool {
        let Ok(url) = url::Url::parse(origin) else {
            return false;
        };
        let serialized = url.origin().ascii_serialization();
        url.host_str()
            .is_some_and(|h| is_loopback_host(&h.to_ascii_lowercase()))
            || self
                .settings
                .allowed_origins
                .iter()
                .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&serialized))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("LOCALHOST:8080"), "localhost");
        assert_eq!(host_name("[::1]:3000"), "[::1]");
        assert_eq!(host_name("example.com"), "example.com");
        assert!(is_loopback_host(&host_name("127.0.0.1:1")));
        assert!(!is_loopback_host(&host_name("evil.example.com:80")));
        assert!(!is_loopback_host(&host_name("localhost.evil.com")));
    }
}
