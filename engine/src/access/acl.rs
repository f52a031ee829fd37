//! Address access lists: addresses and prefixes (`192.0.2.1`, `10.0.0.0/8`, `::1`,
//! `2001:db8::/32`), as `allow_transfer` and `allow_notify` use them.

use std::net::IpAddr;
use std::str::FromStr;

/// One address prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// Exactly one address.
    pub fn host(addr: IpAddr) -> Prefix {
        Prefix { addr, len: if addr.is_ipv4() { 32 } else { 128 } }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on an IPv6 socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(p), IpAddr::V4(a)) => mask_eq(&p.octets(), &a.octets(), self.len),
            (IpAddr::V6(p), IpAddr::V6(a)) => mask_eq(&p.octets(), &a.octets(), self.len),
            _ => false,
        }
    }
}

fn mask_eq(p: &[u8], a: &[u8], len: u8) -> bool {
    let full = usize::from(len / 8);
    if p[..full] != a[..full] {
        return false;
    }
    let rem = len % 8;
    if rem == 0 {
        return true;
    }
    let m = 0xffu8 << (8 - rem);
    p[full] & m == a[full] & m
}

impl FromStr for Prefix {
    type Err = String;

    fn from_str(s: &str) -> Result<Prefix, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| format!("bad address {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => {
                l.parse::<u8>().ok().filter(|&l| l <= max).ok_or_else(|| format!("bad prefix length in {s:?}"))?
            }
            None => max,
        };
        Ok(Prefix { addr, len })
    }
}

/// A list of prefixes; empty allows nobody.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl(pub Vec<Prefix>);

impl Acl {
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|p| p.contains(ip))
    }

    /// Exactly these hosts (a secondary's primaries, for `allow_notify`).
    pub fn hosts(addrs: &[std::net::SocketAddr]) -> Acl {
        Acl(addrs.iter().map(|a| Prefix::host(a.ip())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match() {
        let acl =
            Acl(vec!["127.0.0.2".parse().unwrap(), "10.0.0.0/8".parse().unwrap(), "2001:db8::/33".parse().unwrap()]);
        assert!(acl.allows("127.0.0.2".parse().unwrap()));
        assert!(!acl.allows("127.0.0.3".parse().unwrap()));
        assert!(acl.allows("10.9.8.7".parse().unwrap()));
        assert!(acl.allows("::ffff:10.1.1.1".parse().unwrap()));
        assert!(acl.allows("2001:db8:7fff::1".parse().unwrap()));
        assert!(!acl.allows("2001:db8:8000::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Prefix>().is_err());
        assert!("nope".parse::<Prefix>().is_err());
    }
}
