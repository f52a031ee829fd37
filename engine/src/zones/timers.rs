//! The timers of a secondary zone (RFC 1034 §4.3.5): when to check the primary's SOA
//! next, when the zone expires if no primary can be reached, and the jitter that keeps
//! many zones' checks from falling due together.

use crate::config::TimerBounds;
use shoal_zonedb::change::diff::soa_of;
use shoal_zonedb::Snapshot;
use std::time::{Duration, Instant};

/// Timers and flags of one secondary zone.
#[derive(Debug)]
pub struct SecondaryState {
    pub next_check: Instant,
    pub in_flight: bool,
    /// A NOTIFY arrived during a check: check again when it ends.
    pub again: bool,
    /// The next check transfers the whole zone (asked while one was running or queued).
    pub force_axfr: bool,
    pub last_success: Option<std::time::SystemTime>,
    /// When the zone stops being served if no primary answers before.
    pub expire_at: Option<Instant>,
    pub expired: bool,
    pub failures: u32,
}

impl SecondaryState {
    /// The timers of a zone at start-up. `held` is the copy from the state directory and
    /// `checked` the last time a primary confirmed it (the copy's modification time, which
    /// every successful check renews, as Knot keeps timers in its timer database and NSD
    /// in xfrd.state): the next check is due a refresh time after it, and the zone expires
    /// an expire time after it (at once, and unserved, if that has passed). A zone
    /// without a copy, or whose copy's time cannot be read, is checked at once.
    pub fn new(held: Option<&Snapshot>, checked: Option<std::time::SystemTime>, bounds: &TimerBounds) -> Self {
        let now = Instant::now();
        let mut state = SecondaryState {
            next_check: now,
            in_flight: false,
            again: false,
            force_axfr: false,
            last_success: None,
            expire_at: None,
            expired: false,
            failures: 0,
        };
        let Some(held) = held else { return state };
        let (refresh, _, expire) = timers(held, bounds);
        let Some(checked) = checked else {
            // No record of the last check: check at once, expire counted from now.
            state.expire_at = Some(now + secs(expire));
            return state;
        };
        // A time in the future (the clock went back) counts as just checked.
        let age = std::time::SystemTime::now().duration_since(checked).unwrap_or(Duration::ZERO);
        state.last_success = Some(checked);
        state.expire_at = Some(now + secs(expire).saturating_sub(age));
        state.expired = age >= secs(expire);
        if age < secs(refresh) && !state.expired {
            state.next_check = now + jitter(secs(refresh) - age);
        }
        state
    }
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// The SOA's refresh, retry and expire, clamped to `bounds`. Without a held zone, the
/// lower bounds.
pub fn timers(s: &Snapshot, bounds: &TimerBounds) -> (u32, u32, u32) {
    let soa = soa_of(s);
    let f = &soa.rdata[soa.rdata.len() - 20..];
    let field = |i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
    let clamp = |v: u32, (lo, hi): (u32, u32)| v.clamp(lo, hi);
    (clamp(field(4), bounds.refresh), clamp(field(8), bounds.retry), clamp(field(12), bounds.expire))
}

/// Between three quarters of `d` and all of it, at random, as BIND times its refresh
/// and retry: a check never comes later than the SOA asks, and the checks of many
/// zones (or of a fleet's members) that fell due together spread over a quarter of
/// the interval at every round instead of staying in step.
pub fn jitter(d: Duration) -> Duration {
    d - d.mul_f64(random_fraction() / 4.0)
}

/// A number in [0, 1) from a per-thread xorshift generator seeded by the clock.
fn random_fraction() -> f64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |t| t.as_nanos() as u64) | 1,
        );
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn zone() -> Snapshot {
        let apex = shoal_wire::name::from_ascii("example.com.").unwrap();
        // refresh 600, retry 60, expire 3600
        let text = "@ 60 SOA ns hm 1 600 60 3600 60\n@ 60 NS ns\nns 60 A 192.0.2.1\n";
        shoal_zonedb::load_zone_str(&apex, text, std::path::Path::new("t")).unwrap()
    }

    const BOUNDS: TimerBounds = TimerBounds { refresh: (1, 100_000), retry: (1, 100_000), expire: (1, 100_000) };

    #[test]
    fn jitter_spreads_over_the_last_quarter_and_is_never_late() {
        let d = Duration::from_secs(600);
        let draws: Vec<Duration> = (0..1000).map(|_| jitter(d)).collect();
        assert!(draws.iter().all(|&j| j <= d && j >= d * 3 / 4), "{draws:?}");
        // 1,000 uniform draws all missing either 5% end of the range: odds of 2 * 0.95^1000.
        assert!(draws.iter().any(|&j| j < d * 3 / 4 + d / 20));
        assert!(draws.iter().any(|&j| j > d - d / 20));
    }

    #[test]
    fn timers_resume_from_the_last_check() {
        let z = zone();
        let now = Instant::now();
        // Checked a minute ago: next check at most 540 s on (less up to a quarter), expiry 3540 s on.
        let s = SecondaryState::new(Some(&z), Some(SystemTime::now() - Duration::from_secs(60)), &BOUNDS);
        assert!(!s.expired);
        let next = s.next_check.duration_since(now).as_secs();
        assert!((400..=540).contains(&next), "next check in {next} s");
        let expire = s.expire_at.unwrap().duration_since(now).as_secs();
        assert!((3530..=3541).contains(&expire), "expires in {expire} s");
        // Past expire: unserved, checked at once.
        let old = SecondaryState::new(Some(&z), Some(SystemTime::now() - Duration::from_secs(7200)), &BOUNDS);
        assert!(old.expired && old.next_check <= Instant::now());
    }

    #[test]
    fn an_unknown_or_future_check_time_does_not_expire_the_copy() {
        let z = zone();
        let unknown = SecondaryState::new(Some(&z), None, &BOUNDS);
        assert!(!unknown.expired && unknown.next_check <= Instant::now());
        assert!(unknown.expire_at.unwrap() > Instant::now() + Duration::from_secs(3500));
        let future = SecondaryState::new(Some(&z), Some(SystemTime::now() + Duration::from_secs(86_400)), &BOUNDS);
        assert!(!future.expired);
        assert!(future.next_check > Instant::now() + Duration::from_secs(440), "counted as just checked");
        let none = SecondaryState::new(None, None, &BOUNDS);
        assert!(!none.expired && none.expire_at.is_none());
    }
}
