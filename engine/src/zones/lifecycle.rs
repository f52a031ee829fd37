//! A secondary zone's lifecycle as a state machine (RFC 1034 §4.3.5, RFC 1996): what
//! happens when its check timer or expire timer falls due, when a NOTIFY arrives, and
//! when a check ends, as transitions of [`SecondaryState`]; and [`compare`], the serial
//! decision (RFC 1982) that starts a transfer.
//!
//! The machine is given the time ([`Now`]) and a random source ([`Random`], for the
//! jitter of [`super::timers::jitter`]); it never reads a clock, sleeps or does I/O, so
//! its tests run on a fake clock. The transfer thread (`transfer/secondary.rs`) feeds
//! it events and carries out what it returns: start a check, publish, expire.

use super::timers::{jitter, secs, Random, Timers};
use shoal_wire::Serial;
use std::time::{Duration, Instant, SystemTime};

/// The time, as the machine is told it: monotonic for timers, wall-clock for what is
/// kept across restarts.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub mono: Instant,
    pub wall: SystemTime,
}

impl Now {
    /// The real time (the transfer thread's; tests make their own).
    pub fn real() -> Now {
        Now { mono: Instant::now(), wall: SystemTime::now() }
    }
}

/// What a primary's serial means for the held version (RFC 1982 comparison).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Newer at the primary (or a retransfer was asked for): transfer.
    Transfer,
    /// The same serial: nothing to do.
    Current,
    /// Older at the primary, or too far apart to compare (RFC 1982 §3.2): kept, and
    /// logged; the check still counts as the primary answering.
    PrimaryOlder,
}

/// Compare the held serial (none held: transfer) with the primary's.
pub fn compare(held: Option<u32>, primary: u32, force_transfer: bool) -> Verdict {
    match held {
        None => Verdict::Transfer,
        Some(_) if force_transfer => Verdict::Transfer,
        Some(h) if Serial(primary).is_newer_than(Serial(h)) => Verdict::Transfer,
        Some(h) if h == primary => Verdict::Current,
        Some(_) => Verdict::PrimaryOlder,
    }
}

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// A new version was transferred and kept.
    Updated,
    /// A primary answered, with nothing newer.
    Current,
    /// No primary could be used.
    Failed,
}

/// The state of one secondary zone.
#[derive(Debug)]
pub struct SecondaryState {
    /// When the next check falls due.
    pub next_check: Instant,
    /// A check is running.
    pub in_flight: bool,
    /// A NOTIFY arrived during a check: check again when it ends.
    pub again: bool,
    /// The next check transfers the whole zone (asked while one was running or queued).
    pub force_axfr: bool,
    /// The newest serial a NOTIFY announced since the last check began.
    pub announced: Option<u32>,
    /// The serial a primary last answered or announced (what the served serial is
    /// behind of, while they differ).
    pub primary_serial: Option<u32>,
    pub last_success: Option<SystemTime>,
    /// When the zone stops being served if no primary answers before.
    pub expire_at: Option<Instant>,
    pub expired: bool,
    /// Checks failed in a row.
    pub failures: u32,
}

impl SecondaryState {
    /// The state of a zone at start-up. `held` are the timers of the copy from the state
    /// directory and `checked` the last time a primary confirmed it (the copy's
    /// modification time, which every successful check renews, as Knot keeps timers in
    /// its timer database and NSD in xfrd.state): the next check is due a refresh time
    /// after it, and the zone expires an expire time after it (at once, and unserved, if
    /// that has passed). A zone without a copy, or whose copy's time cannot be read, is
    /// checked at once.
    pub fn new(held: Option<Timers>, checked: Option<SystemTime>, now: Now, rng: &mut impl Random) -> Self {
        let mut state = SecondaryState {
            next_check: now.mono,
            in_flight: false,
            again: false,
            force_axfr: false,
            announced: None,
            primary_serial: None,
            last_success: None,
            expire_at: None,
            expired: false,
            failures: 0,
        };
        let Some(t) = held else { return state };
        let Some(checked) = checked else {
            // No record of the last check: check at once, expire counted from now.
            state.expire_at = Some(now.mono + secs(t.expire));
            return state;
        };
        // A time in the future (the clock went back) counts as just checked.
        let age = now.wall.duration_since(checked).unwrap_or(Duration::ZERO);
        state.last_success = Some(checked);
        state.expire_at = Some(now.mono + secs(t.expire).saturating_sub(age));
        state.expired = age >= secs(t.expire);
        if age < secs(t.refresh) && !state.expired {
            state.next_check = now.mono + jitter(secs(t.refresh) - age, rng);
        }
        state
    }

    /// The check timer set for `at` fell due; true: start a check. A timer that moved
    /// since (`at` is stale) or a check already running does nothing.
    pub fn check_due(&self, at: Instant) -> bool {
        self.next_check == at && !self.in_flight
    }

    /// The expire timer set for `at` fell due; true: the zone expired now (stop
    /// serving it). A stale timer does nothing.
    pub fn expire_due(&mut self, at: Instant) -> bool {
        if self.expire_at != Some(at) || self.expired {
            return false;
        }
        self.expired = true;
        true
    }

    /// A NOTIFY (or an operator's refresh) asks for a check now; `force_axfr` asks for
    /// the whole zone, `announced` is the serial the NOTIFY carried (the newest one is
    /// kept for the check). True: start one. During a check, it is remembered and the
    /// check runs again when the current one ends (a NOTIFY is never lost to a transfer
    /// in progress).
    pub fn notify(&mut self, force_axfr: bool, announced: Option<u32>) -> bool {
        self.force_axfr |= force_axfr;
        if let Some(a) = announced {
            let newer = self.announced.is_none_or(|held| Serial(a).is_newer_than(Serial(held)));
            if newer {
                self.announced = Some(a);
            }
            self.primary_serial = Some(a);
        }
        if self.in_flight {
            self.again = true;
            return false;
        }
        true
    }

    /// A check starts; returns whether it transfers the whole zone, and the serial a
    /// NOTIFY announced for it.
    pub fn begin(&mut self) -> (bool, Option<u32>) {
        self.in_flight = true;
        (std::mem::take(&mut self.force_axfr), self.announced.take())
    }

    /// A check could not start (no thread): try again shortly.
    pub fn not_started(&mut self, now: Now) {
        self.in_flight = false;
        self.next_check = now.mono + Duration::from_secs(5);
    }

    /// A check ended with `checked`, the primary having answered with `primary_serial`
    /// (none when no primary answered); `timers` are those of the version held now. Sets
    /// the next check (refresh after success, retry after failure, at once after a
    /// NOTIFY that came during the check) and the expiry (renewed by any answer of a
    /// primary). Returns whether an expired zone is served again.
    pub fn finish(
        &mut self,
        checked: Checked,
        primary_serial: Option<u32>,
        timers: Timers,
        now: Now,
        rng: &mut impl Random,
    ) -> bool {
        self.in_flight = false;
        self.primary_serial = primary_serial.or(self.primary_serial);
        let mut served_again = false;
        if checked == Checked::Failed {
            self.failures += 1;
            self.next_check = now.mono + jitter(secs(timers.retry), rng);
        } else {
            self.failures = 0;
            self.last_success = Some(now.wall);
            self.expire_at = Some(now.mono + secs(timers.expire));
            served_again = std::mem::take(&mut self.expired);
            self.next_check = now.mono + jitter(secs(timers.refresh), rng);
        }
        if std::mem::take(&mut self.again) {
            self.next_check = now.mono;
        }
        served_again
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random source that always draws the same fraction.
    struct Fixed(f64);
    impl Random for Fixed {
        fn fraction(&mut self) -> f64 {
            self.0
        }
    }

    /// A fake clock: `at(s)` is `s` seconds after its start, on both clocks.
    struct Clock {
        mono: Instant,
        wall: SystemTime,
    }
    impl Clock {
        fn new() -> Clock {
            Clock { mono: Instant::now(), wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) }
        }
        fn at(&self, s: u64) -> Now {
            Now { mono: self.mono + secs_u64(s), wall: self.wall + secs_u64(s) }
        }
    }
    fn secs_u64(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    const T: Timers = Timers { refresh: 600, retry: 60, expire: 3600 };

    #[test]
    fn serials_compare_across_the_wrap() {
        assert_eq!(compare(Some(0xFFFF_FFF0), 5, false), Verdict::Transfer, "5 is after 2^32 - 16");
        assert_eq!(compare(Some(5), 0xFFFF_FFF0, false), Verdict::PrimaryOlder);
        assert_eq!(compare(Some(7), 7, false), Verdict::Current);
        assert_eq!(compare(Some(7), 7, true), Verdict::Transfer, "a retransfer takes the same serial");
        assert_eq!(compare(None, 1, false), Verdict::Transfer);
        // 2^31 apart: undefined in RFC 1982, never taken as newer.
        assert_eq!(compare(Some(0), 0x8000_0000, false), Verdict::PrimaryOlder);
        assert_eq!(compare(Some(0x8000_0000), 0, false), Verdict::PrimaryOlder);
    }

    #[test]
    fn failures_retry_then_expire_and_an_answer_serves_again() {
        let c = Clock::new();
        let mut rng = Fixed(0.0);
        let mut s = SecondaryState::new(Some(T), Some(c.at(0).wall), c.at(0), &mut rng);
        assert_eq!(s.next_check, c.at(600).mono, "refresh after the last check");
        assert_eq!(s.expire_at, Some(c.at(3600).mono));
        let mut t = 600;
        while t < 3600 {
            assert!(s.check_due(s.next_check));
            assert!(!s.begin().0);
            assert!(!s.finish(Checked::Failed, None, T, c.at(t), &mut rng));
            assert_eq!(s.next_check, c.at(t + 60).mono, "retry after a failure");
            t += 60;
        }
        assert_eq!(s.failures, 50);
        assert!(!s.expire_due(c.at(3599).mono), "a stale expire timer does nothing");
        assert!(s.expire_due(c.at(3600).mono));
        assert!(s.expired && !s.expire_due(c.at(3600).mono), "expires once");
        s.begin();
        assert!(s.finish(Checked::Current, None, T, c.at(3700), &mut rng), "a primary answered: served again");
        assert_eq!((s.failures, s.expired), (0, false));
        assert_eq!(s.expire_at, Some(c.at(3700 + 3600).mono));
        assert_eq!(s.next_check, c.at(3700 + 600).mono);
    }

    #[test]
    fn jitter_comes_early_never_late() {
        let c = Clock::new();
        let mut s = SecondaryState::new(Some(T), Some(c.at(0).wall), c.at(0), &mut Fixed(0.999));
        assert!(s.next_check >= c.at(450).mono && s.next_check < c.at(451).mono, "up to a quarter early");
        s.begin();
        s.finish(Checked::Updated, None, T, c.at(10), &mut Fixed(0.5));
        assert_eq!(s.next_check, c.at(10 + 525).mono);
    }

    #[test]
    fn a_notify_during_a_check_runs_another_when_it_ends() {
        let c = Clock::new();
        let mut rng = Fixed(0.0);
        let mut s = SecondaryState::new(Some(T), Some(c.at(0).wall), c.at(0), &mut rng);
        assert!(s.notify(false, None), "idle: check now");
        assert!(!s.begin().0);
        assert!(!s.notify(true, None), "running: remembered");
        assert!(s.again);
        assert!(!s.check_due(s.next_check), "no second check while one runs");
        s.finish(Checked::Updated, None, T, c.at(5), &mut rng);
        assert_eq!(s.next_check, c.at(5).mono, "again at once");
        assert!(s.check_due(s.next_check));
        assert!(s.begin().0, "and the AXFR asked for meanwhile");
        s.finish(Checked::Current, None, T, c.at(6), &mut rng);
        assert_eq!(s.next_check, c.at(606).mono);
    }

    #[test]
    fn the_newest_announced_serial_goes_with_the_next_check() {
        let c = Clock::new();
        let mut s = SecondaryState::new(Some(T), Some(c.at(0).wall), c.at(0), &mut Fixed(0.0));
        assert!(s.notify(false, Some(5)));
        assert_eq!(s.begin(), (false, Some(5)));
        assert!(!s.notify(false, Some(0xFFFF_FFFF)), "during the check");
        assert!(!s.notify(false, Some(7)), "7 is after 2^32 - 1");
        assert!(!s.notify(false, Some(6)), "an older announcement does not replace it");
        s.finish(Checked::Updated, None, T, c.at(1), &mut Fixed(0.0));
        assert_eq!(s.begin(), (false, Some(7)));
        s.finish(Checked::Current, None, T, c.at(2), &mut Fixed(0.0));
        assert_eq!(s.begin(), (false, None), "taken by the check it went with");
    }

    #[test]
    fn a_primary_with_an_older_serial_still_renews_expiry() {
        let c = Clock::new();
        let mut rng = Fixed(0.0);
        let mut s = SecondaryState::new(Some(T), Some(c.at(0).wall), c.at(0), &mut rng);
        // The primary went back to serial 3 while 10 is held: kept, not transferred.
        let checked = match compare(Some(10), 3, false) {
            Verdict::Transfer => Checked::Updated,
            Verdict::Current | Verdict::PrimaryOlder => Checked::Current,
        };
        s.begin();
        s.finish(checked, Some(3), T, c.at(3000), &mut rng);
        assert_eq!(s.primary_serial, Some(3), "what the primary said, though older");
        assert_eq!(s.expire_at, Some(c.at(6600).mono), "the primary answered");
        assert!(!s.expire_due(c.at(3600).mono), "the old expire timer is stale");
    }

    #[test]
    fn start_up_resumes_from_the_last_check() {
        let c = Clock::new();
        let mut rng = Fixed(0.0);
        // Checked a minute before start: next check 540 s on, expiry 3540 s on.
        let s = SecondaryState::new(Some(T), Some(c.at(0).wall), c.at(60), &mut rng);
        assert_eq!(s.next_check, c.at(600).mono);
        assert_eq!(s.expire_at, Some(c.at(3600).mono));
        // Past expire: unserved, checked at once.
        let old = SecondaryState::new(Some(T), Some(c.at(0).wall), c.at(7200), &mut rng);
        assert!(old.expired && old.next_check == c.at(7200).mono);
        // No time recorded: checked at once, expiry from now.
        let unknown = SecondaryState::new(Some(T), None, c.at(100), &mut rng);
        assert!(!unknown.expired && unknown.next_check == c.at(100).mono);
        assert_eq!(unknown.expire_at, Some(c.at(3700).mono));
        // A check time in the future (the clock went back): just checked.
        let future = SecondaryState::new(Some(T), Some(c.at(86_400).wall), c.at(0), &mut rng);
        assert!(!future.expired && future.next_check == c.at(600).mono);
        // Nothing held: checked at once, no expiry.
        let none = SecondaryState::new(None, None, c.at(0), &mut rng);
        assert!(!none.expired && none.expire_at.is_none() && none.next_check == c.at(0).mono);
    }

    #[test]
    fn a_check_that_cannot_start_is_tried_again_shortly() {
        let c = Clock::new();
        let mut s = SecondaryState::new(None, None, c.at(0), &mut Fixed(0.0));
        s.begin();
        s.not_started(c.at(1));
        assert!(!s.in_flight);
        assert_eq!(s.next_check, c.at(6).mono);
    }
}
