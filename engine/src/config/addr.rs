//! Addresses as the configuration spells them: `IP:PORT`, `[IPv6]:PORT`, or a bare IP
//! that takes the key's default port (53 for DNS, 853 for TLS).

use std::net::SocketAddr;

/// `IP:PORT`, `[IPv6]:PORT`, or a bare IP with `default_port`.
pub(super) fn parse_addr(s: &str, default_port: u16) -> Result<SocketAddr, ()> {
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, default_port)))
        .map_err(|_| ())
}
