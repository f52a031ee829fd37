//! Values the file gives relative to something else: an address that takes its key's
//! default port when it has none (53 for DNS, 853 for TLS), and a path relative to the
//! configuration file's folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `IP:PORT`, `[IPv6]:PORT`, or a bare IP with `default_port`.
pub(super) fn parse_addr(s: &str, default_port: u16) -> Result<SocketAddr, ()> {
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, default_port)))
        .map_err(|_| ())
}

/// `p` as given when absolute, else under `base` (the configuration file's folder).
pub(super) fn path(base: &Path, p: &Path) -> PathBuf {
    if p.is_relative() {
        base.join(p)
    } else {
        p.to_path_buf()
    }
}
