//! Time for a run: one monotonic clock in nanoseconds shared by every thread, the phases
//! of a run (warm-up, measurement, drain) and the open-loop pacer.
//!
//! The pacer sends in ticks: at each tick it owes the queries that the fixed rate has
//! accumulated since the start, and the sender sends them as a few batches. A sender that
//! cannot keep up (no free slot, full socket) carries at most `max_burst` into the next
//! tick; the rest is counted as skipped, so a stall never turns into a burst.

use std::time::{Duration, Instant};

/// Nanoseconds since a start shared by all threads.
#[derive(Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    pub fn new(start: Instant) -> Clock {
        Clock { start }
    }

    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// The phases of a run, in nanoseconds of its [`Clock`]: queries sent before `measure_ns`
/// are warm-up, sending stops at `send_end_ns`, and waiting for the last answers stops
/// at `hard_end_ns` (one timeout later).
#[derive(Clone, Copy, Debug)]
pub struct Phases {
    pub measure_ns: u64,
    pub send_end_ns: u64,
    pub hard_end_ns: u64,
    pub timeout_ns: u64,
}

impl Phases {
    pub fn new(warmup: Duration, duration: Duration, timeout: Duration) -> Phases {
        let measure_ns = warmup.as_nanos() as u64;
        let send_end_ns = measure_ns + duration.as_nanos() as u64;
        let timeout_ns = timeout.as_nanos() as u64;
        Phases { measure_ns, send_end_ns, hard_end_ns: send_end_ns + timeout_ns, timeout_ns }
    }
}

/// How often the open-loop sender wakes to send what the rate owes.
pub const TICK: Duration = Duration::from_micros(100);

pub struct Pacer {
    per_ns: f64,
    issued: u64,
    next_tick_ns: u64,
    max_burst: u64,
}

impl Pacer {
    /// `rate` queries per second from time 0 of the clock.
    pub fn new(rate: f64) -> Pacer {
        let per_ns = rate / 1e9;
        // Up to 10 ms of queries may be owed; at least one batch's worth.
        let max_burst = ((rate * 0.010) as u64).max(64);
        Pacer { per_ns, issued: 0, next_tick_ns: 0, max_burst }
    }

    /// At a tick, how many queries are owed now and how many were given up as skipped;
    /// (0, 0) between ticks.
    pub fn due(&mut self, now_ns: u64) -> (u64, u64) {
        if now_ns < self.next_tick_ns {
            return (0, 0);
        }
        self.next_tick_ns = now_ns + TICK.as_nanos() as u64;
        let target = (now_ns as f64 * self.per_ns) as u64;
        let owed = target.saturating_sub(self.issued);
        if owed > self.max_burst {
            let skipped = owed - self.max_burst;
            self.issued += skipped;
            (self.max_burst, skipped)
        } else {
            (owed, 0)
        }
    }

    /// Record that `n` of the owed queries went out.
    pub fn sent(&mut self, n: u64) {
        self.issued += n;
    }

    /// Time until the next tick.
    pub fn until_next_tick(&self, now_ns: u64) -> Duration {
        Duration::from_nanos(self.next_tick_ns.saturating_sub(now_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_owes_the_rate_per_tick() {
        let mut p = Pacer::new(1_000_000.0);
        assert_eq!(p.due(0), (0, 0));
        assert_eq!(p.due(50_000), (0, 0), "between ticks");
        let (owed, skipped) = p.due(100_000);
        assert_eq!((owed, skipped), (100, 0));
        p.sent(60);
        let (owed, _) = p.due(200_000);
        assert_eq!(owed, 140, "what was not sent is still owed");
    }

    #[test]
    fn pacer_skips_beyond_max_burst() {
        let mut p = Pacer::new(100_000.0);
        let (owed, skipped) = p.due(1_000_000_000);
        assert_eq!((owed, skipped), (1_000, 99_000));
        p.sent(owed);
        assert_eq!(p.due(1_000_100_000), (10, 0));
    }
}
