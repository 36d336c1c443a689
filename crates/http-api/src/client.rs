//! The client's address: the socket peer, unless the peer is a trusted proxy, in which case the
//! nearest untrusted address of `X-Forwarded-For`. A client can never pick its own address by
//! sending the header directly.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// Proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Proxies given as addresses or CIDR blocks.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request.
    pub fn client_address(&self, req: &HttpRequest) -> IpAddr {
        let peer = req
            .peer_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        // Walk from the nearest hop outwards; the first address we do not trust is the client.
        forwarded
            .iter()
            .rev()
            .copied()
            .find(|ip| !self.trusts(*ip))
            .or_else(|| forwarded.first().copied())
            .unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(x) = xff {
            r = r.insert_header(("X-Forwarded-For", x));
        }
        r.to_http_request()
    }

    #[test]
    fn untrusted_peers_cannot_spoof_their_address() {
        let t = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let ip = t.client_address(&req("203.0.113.9:5000", Some("1.2.3.4")));
        assert_eq!(ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_trusted_proxy_hands_over_the_nearest_untrusted_hop() {
        let t = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        // The client forged "1.2.3.4"; the proxy appended the real address 198.51.100.7.
        let ip = t.client_address(&req(
            "10.0.0.2:5000",
            Some("1.2.3.4, 198.51.100.7, 10.0.0.3"),
        ));
        assert_eq!(ip, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn no_trusted_proxies_means_the_peer() {
        let t = TrustedProxies::default();
        let ip = t.client_address(&req("127.0.0.1:5000", Some("1.2.3.4")));
        assert_eq!(ip, "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}
