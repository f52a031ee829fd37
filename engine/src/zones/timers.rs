//! The timers of a secondary zone (RFC 1034 §4.3.5): the SOA's refresh, retry and
//! expire as the configured bounds allow them ([`Timers`]), and the jitter that keeps
//! many zones' checks from falling due together, drawn from a [`Random`] source.

use crate::config::TimerBounds;
use shoal_zonedb::change::diff::soa_of;
use shoal_zonedb::Snapshot;
use std::time::Duration;

/// A zone's refresh, retry and expire, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
}

impl Timers {
    /// The SOA's refresh, retry and expire, clamped to `bounds`.
    pub fn of(s: &Snapshot, bounds: &TimerBounds) -> Timers {
        let soa = soa_of(s);
        let f = &soa.rdata[soa.rdata.len() - 20..];
        let field = |i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
        let clamp = |v: u32, (lo, hi): (u32, u32)| v.clamp(lo, hi);
        Timers {
            refresh: clamp(field(4), bounds.refresh),
            retry: clamp(field(8), bounds.retry),
            expire: clamp(field(12), bounds.expire),
        }
    }

    /// Without a held zone: the lower bounds.
    pub fn lowest(bounds: &TimerBounds) -> Timers {
        Timers { refresh: bounds.refresh.0, retry: bounds.retry.0, expire: bounds.expire.0 }
    }
}

pub fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// A source of numbers in [0, 1).
pub trait Random {
    fn fraction(&mut self) -> f64;
}

/// The transfer thread's source: xorshift, seeded by the clock.
pub struct Xorshift(u64);

impl Xorshift {
    pub fn from_clock() -> Xorshift {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |t| t.as_nanos() as u64);
        Xorshift(t | 1)
    }
}

impl Random for Xorshift {
    fn fraction(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Between three quarters of `d` and all of it, at random, as BIND times its refresh
/// and retry: a check never comes later than the SOA asks, and the checks of many
/// zones (or of a fleet's members) that fell due together spread over a quarter of
/// the interval at every round instead of staying in step.
pub fn jitter(d: Duration, rng: &mut impl Random) -> Duration {
    d - d.mul_f64(rng.fraction() / 4.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spreads_over_the_last_quarter_and_is_never_late() {
        let d = Duration::from_secs(600);
        let mut rng = Xorshift::from_clock();
        let draws: Vec<Duration> = (0..1000).map(|_| jitter(d, &mut rng)).collect();
        assert!(draws.iter().all(|&j| j <= d && j >= d * 3 / 4), "{draws:?}");
        // 1,000 uniform draws all missing either 5% end of the range: odds of 2 * 0.95^1000.
        assert!(draws.iter().any(|&j| j < d * 3 / 4 + d / 20));
        assert!(draws.iter().any(|&j| j > d - d / 20));
    }

    #[test]
    fn timers_come_from_the_soa_within_bounds() {
        let apex = shoal_wire::name::from_ascii("example.com.").unwrap();
        let text = "@ 60 SOA ns hm 1 600 5 3600 60\n@ 60 NS ns\nns 60 A 192.0.2.1\n";
        let z = shoal_zonedb::load_zone_str(&apex, text, std::path::Path::new("t")).unwrap();
        let bounds = TimerBounds { refresh: (1, 300), retry: (10, 100), expire: (1, 100_000) };
        assert_eq!(Timers::of(&z, &bounds), Timers { refresh: 300, retry: 10, expire: 3600 });
        assert_eq!(Timers::lowest(&bounds), Timers { refresh: 1, retry: 10, expire: 1 });
    }
}
