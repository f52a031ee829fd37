//! Response rate limiting (as Knot's and NSD's RRL): answers over UDP per second per
//! source prefix (/24 for IPv4, /56 for IPv6 by default), with a burst, so that Shoal
//! is no amplifier for floods with spoofed sources.
//!
//! Each UDP thread has its own [`Limiter`]: a fixed table of token buckets indexed by a
//! keyed hash of the prefix, allocated once, never locked, never grown. A prefix that
//! lands on a bucket held by another takes it over with a full burst (an attacker who
//! sprays prefixes only makes limiting looser, never stricter for others). Each thread
//! gets its share of the configured rate and burst: the kernel spreads a flood's source
//! ports over the workers' sockets, so together they answer about the configured rate.
//!
//! A limited answer is dropped, except every `slip`-th one of a bucket, which goes out
//! truncated (TC, no records) so that a real client behind that prefix retries over TCP,
//! which is not limited. Exempt prefixes are never limited.

use crate::access::acl::Acl;
use crate::config::RrlConfig;
use std::net::IpAddr;

/// Buckets per UDP thread (16 bytes each).
const TABLE: usize = 1 << 16;

/// What becomes of one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Limited: not sent.
    Drop,
    /// Limited: sent truncated, without records.
    Slip,
}

#[derive(Clone, Copy, Default)]
struct Bucket {
    /// The prefix's key, 0 for a bucket never used.
    key: u64,
    /// Thousandths of an answer.
    tokens: u32,
    /// Milliseconds since the limiter started, when `tokens` was last brought up to date.
    stamp: u32,
    /// Answers limited since the bucket was taken, for `slip`.
    limited: u32,
    _pad: u32,
}

/// One UDP thread's rate limiter.
pub struct Limiter {
    table: Box<[Bucket]>,
    /// Thousandths of an answer added per millisecond: the thread's share of the rate.
    per_ms: u32,
    /// The most thousandths a bucket holds: the thread's share of the burst.
    capacity: u32,
    slip: u32,
    v4_mask: u32,
    v6_mask: u128,
    exempt: Acl,
    /// Keys the hash, so that nobody outside can aim prefixes at one bucket.
    seed: u64,
    started: std::time::Instant,
}

impl Limiter {
    /// A limiter for one of `threads` UDP threads sharing a listen address; `None` when
    /// limiting is off.
    pub fn new(config: &RrlConfig, threads: usize) -> Option<Limiter> {
        if config.rate == 0 {
            return None;
        }
        let threads = u32::try_from(threads.max(1)).unwrap_or(u32::MAX);
        let share = |v: u32| v.div_ceil(threads).max(1);
        let burst = if config.burst == 0 { config.rate } else { config.burst };
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0x5eed, |d| d.as_nanos() as u64)
                ^ (std::process::id() as u64).rotate_left(32);
        Some(Limiter {
            table: vec![Bucket::default(); TABLE].into_boxed_slice(),
            per_ms: share(config.rate),
            capacity: share(burst).saturating_mul(1000),
            slip: config.slip,
            v4_mask: u32::MAX.checked_shl(32 - u32::from(config.ipv4_prefix.min(32))).unwrap_or(0),
            v6_mask: u128::MAX.checked_shl(128 - u32::from(config.ipv6_prefix.min(128))).unwrap_or(0),
            exempt: config.exempt.clone(),
            seed: seed | 1,
            started: std::time::Instant::now(),
        })
    }

    /// Milliseconds since the limiter started (the clock `check` takes).
    pub fn now(&self) -> u32 {
        self.started.elapsed().as_millis() as u32
    }

    /// Count one answer to `ip` at `now` (from [`Limiter::now`], read once per batch).
    pub fn check(&mut self, ip: IpAddr, now: u32) -> Verdict {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if !self.exempt.0.is_empty() && self.exempt.allows(ip) {
            return Verdict::Send;
        }
        let prefix: u128 = match ip {
            IpAddr::V4(a) => u128::from(u32::from(a) & self.v4_mask) | (1 << 127),
            IpAddr::V6(a) => u128::from(a) & self.v6_mask,
        };
        let key = mix(prefix, self.seed) | 1;
        let b = &mut self.table[(key >> 48) as usize & (TABLE - 1)];
        if b.key != key {
            *b = Bucket { key, tokens: self.capacity, stamp: now, limited: 0, _pad: 0 };
        } else {
            let elapsed = now.wrapping_sub(b.stamp);
            b.tokens = self.capacity.min(b.tokens.saturating_add(elapsed.saturating_mul(self.per_ms)));
            b.stamp = now;
        }
        if b.tokens >= 1000 {
            b.tokens -= 1000;
            return Verdict::Send;
        }
        b.limited = b.limited.wrapping_add(1);
        if self.slip > 0 && b.limited.is_multiple_of(self.slip) {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

/// A keyed 64-bit mix of a prefix (two rounds of multiply and xor-shift).
fn mix(prefix: u128, seed: u64) -> u64 {
    let mut h = (prefix as u64) ^ ((prefix >> 64) as u64).rotate_left(29) ^ seed;
    for _ in 0..2 {
        h ^= h >> 32;
        h = h.wrapping_mul(0xd6e8_feb8_6659_fd93);
    }
    h ^ (h >> 32)
}

/// Rewrite the answer in `out` (of `len` bytes) as its truncated form: the header with
/// TC set, the question, and the OPT record if there was one (RFC 6891 §7), no other
/// records. Returns the new length.
pub fn truncate(out: &mut [u8], len: usize) -> usize {
    let Some(end) = question_end(&out[..len]) else { return len.min(12) };
    let opt = opt_record(&out[..len], end);
    out[2] |= 0x02;
    out[6..12].fill(0);
    match opt {
        Some((start, opt_len)) => {
            out.copy_within(start..start + opt_len, end);
            out[10..12].copy_from_slice(&1u16.to_be_bytes());
            end + opt_len
        }
        None => end,
    }
}

/// Where the OPT record of a message is (its start and length), the question ending
/// at `pos`.
fn opt_record(m: &[u8], mut pos: usize) -> Option<(usize, usize)> {
    let count = |i: usize| usize::from(u16::from_be_bytes([m[i], m[i + 1]]));
    let (answers, total) = (count(6) + count(8), count(6) + count(8) + count(10));
    for i in 0..total {
        let start = pos;
        pos = shoal_wire::name::skip_name(m, pos).ok()?;
        let rtype = u16::from_be_bytes([*m.get(pos)?, *m.get(pos + 1)?]);
        let rdlen = usize::from(u16::from_be_bytes([*m.get(pos + 8)?, *m.get(pos + 9)?]));
        pos += 10 + rdlen;
        if pos > m.len() {
            return None;
        }
        if i >= answers && rtype == 41 {
            return Some((start, pos - start));
        }
    }
    None
}

/// Where the question of a message ends.
fn question_end(m: &[u8]) -> Option<usize> {
    if m.len() < 12 || u16::from_be_bytes([m[4], m[5]]) != 1 {
        return None;
    }
    let end = shoal_wire::name::skip_name(m, 12).ok()? + 4;
    (end <= m.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, burst: u32, slip: u32) -> Limiter {
        Limiter::new(&RrlConfig { rate, burst, slip, ..RrlConfig::default() }, 1).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_prefix_gets_its_burst_then_its_rate() {
        let mut l = limiter(10, 5, 0);
        let sent = (0..20).filter(|_| l.check(ip("192.0.2.1"), 0) == Verdict::Send).count();
        assert_eq!(sent, 5, "the burst");
        // The same /24 shares the bucket; 100 ms later one more answer (10 per second).
        assert_eq!(l.check(ip("192.0.2.200"), 0), Verdict::Drop);
        assert_eq!(l.check(ip("192.0.2.7"), 100), Verdict::Send);
        assert_eq!(l.check(ip("192.0.2.7"), 100), Verdict::Drop);
        // Another prefix is not touched; a long quiet refills only up to the burst.
        assert_eq!(l.check(ip("192.0.3.1"), 100), Verdict::Send);
        let later = (0..20).filter(|_| l.check(ip("192.0.2.1"), 60_000) == Verdict::Send).count();
        assert_eq!(later, 5);
    }

    #[test]
    fn every_slip_th_limited_answer_goes_out_truncated() {
        let mut l = limiter(1, 1, 3);
        assert_eq!(l.check(ip("198.51.100.1"), 0), Verdict::Send);
        let v: Vec<Verdict> = (0..6).map(|_| l.check(ip("198.51.100.1"), 0)).collect();
        use Verdict::*;
        assert_eq!(v, [Drop, Drop, Slip, Drop, Drop, Slip]);
    }

    #[test]
    fn ipv6_by_slash_56_exempt_prefixes_and_mapped_addresses() {
        let mut l = Limiter::new(
            &RrlConfig {
                rate: 1,
                burst: 1,
                slip: 0,
                exempt: Acl(vec!["203.0.113.0/24".parse().unwrap()]),
                ..RrlConfig::default()
            },
            1,
        )
        .unwrap();
        assert_eq!(l.check(ip("2001:db8:0:100::1"), 0), Verdict::Send);
        assert_eq!(l.check(ip("2001:db8:0:1ff::2"), 0), Verdict::Drop, "the same /56");
        assert_eq!(l.check(ip("2001:db8:0:200::1"), 0), Verdict::Send, "another /56");
        assert!((0..50).all(|_| l.check(ip("203.0.113.9"), 0) == Verdict::Send), "exempt");
        assert!((0..50).all(|_| l.check(ip("::ffff:203.0.113.9"), 0) == Verdict::Send), "exempt, as mapped");
        assert_eq!(l.check(ip("::ffff:192.0.2.1"), 0), Verdict::Send);
        assert_eq!(l.check(ip("192.0.2.1"), 0), Verdict::Drop, "a mapped address is its IPv4 prefix");
    }

    #[test]
    fn the_rate_is_shared_among_threads_and_off_at_zero() {
        assert!(Limiter::new(&RrlConfig::default(), 2).is_none());
        let mut l = Limiter::new(&RrlConfig { rate: 10, burst: 10, ..RrlConfig::default() }, 2).unwrap();
        let sent = (0..20).filter(|_| l.check(ip("192.0.2.1"), 0) == Verdict::Send).count();
        assert_eq!(sent, 5, "half the burst on each of two threads");
    }

    #[test]
    fn a_truncated_answer_keeps_the_header_and_question() {
        let mut m = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        m.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
        let len = m.len();
        let n = truncate(&mut m, len);
        assert_eq!(n, 19 + 11, "header, question, OPT");
        assert_eq!(&m[..12], &[0x12, 0x34, 0x86, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&m[19..30], &[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
        let mut plain = m[..19].to_vec();
        plain[11] = 0;
        assert_eq!(truncate(&mut plain, 19), 19, "no OPT, nothing after the question");
    }
}
