//! `[rrl]`: response rate limiting's settings (see `serve::rrl` for what they do), read
//! from the file and checked.

use super::file::RawRrl;
use crate::access::acl::{Acl, Prefix};

/// The `[rrl]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrlConfig {
    /// Answers per second per prefix; 0 turns limiting off.
    pub rate: u32,
    /// Answers a prefix may get at once before the rate applies.
    pub burst: u32,
    /// Every `slip`-th limited answer goes out truncated; 0: all are dropped.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Never limited.
    pub exempt: Acl,
}

impl Default for RrlConfig {
    fn default() -> Self {
        RrlConfig { rate: 0, burst: 0, slip: 2, ipv4_prefix: 24, ipv6_prefix: 56, exempt: Acl::default() }
    }
}

impl RrlConfig {
    /// Check the raw section; the error names the key.
    pub(super) fn from_raw(raw: &RawRrl) -> Result<RrlConfig, String> {
        let d = RrlConfig::default();
        let ipv4_prefix = raw.ipv4_prefix.unwrap_or(d.ipv4_prefix);
        let ipv6_prefix = raw.ipv6_prefix.unwrap_or(d.ipv6_prefix);
        if ipv4_prefix == 0 || ipv4_prefix > 32 {
            return Err(format!("rrl.ipv4_prefix {ipv4_prefix} is not 1 to 32"));
        }
        if ipv6_prefix == 0 || ipv6_prefix > 128 {
            return Err(format!("rrl.ipv6_prefix {ipv6_prefix} is not 1 to 128"));
        }
        let mut exempt = Vec::new();
        for p in &raw.exempt {
            exempt.push(p.parse::<Prefix>().map_err(|e| format!("rrl.exempt: {e}"))?);
        }
        Ok(RrlConfig {
            rate: raw.rate,
            // Twice the rate unless given, as the example in the README.
            burst: raw.burst.unwrap_or(raw.rate.saturating_mul(2)),
            slip: raw.slip.unwrap_or(d.slip),
            ipv4_prefix,
            ipv6_prefix,
            exempt: Acl(exempt),
        })
    }
}
