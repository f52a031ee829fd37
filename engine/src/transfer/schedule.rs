//! [`Schedule`]: when each secondary zone is next due, and how many refreshes run at once.
//!
//! A fleet secondary holds 100,000 zones, so nothing here walks them all: due times sit
//! in a binary heap (a zone's check of its primary, and its expiry), and the transfer
//! thread pops only what is due. An entry is not removed when the zone's timer moves;
//! the caller compares a popped time with the zone's current one and ignores stale
//! entries (a moved timer pushed a fresh entry of its own).
//!
//! At most `limit` refreshes run at once, as NSD's `xfrd-tcp-max` bounds its transfers:
//! the rest wait in a queue, first come first served, except that a NOTIFY goes to
//! the front (its zone is known to have changed). A secondary starting with 100,000
//! due zones therefore sends its primaries a bounded stream of SOA queries, not a storm
//! of threads.
//!
//! At most `rate` refreshes start per second (a token bucket holding a tenth of a
//! second's worth), as BIND's `serial-query-rate` bounds its SOA queries; a NOTIFY or
//! an operator's request that finds a slot free does not wait for a token (queued
//! behind the slots, it goes first but takes one). Without it, checks that fell due
//! while the queue was full (during a large secondary's first transfers) would all
//! start in the second the queue frees. A zone with nothing held yet ([`Start::First`])
//! never waits for a token, only for a slot: it has nothing to serve until its first
//! transfer, so a new secondary takes its zones as fast as `limit` allows.

use shoal_wire::Name;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// What a heap entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    Check,
    Expire,
}

/// Why a refresh is asked for, which says where it queues and whether it waits for
/// the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A check timer fell due: the back of the queue, and a token.
    Timer,
    /// A NOTIFY or an operator: the front of the queue; a token only once queued.
    Urgent,
    /// A zone with nothing held yet: the back of the queue, never a token.
    First,
}

/// Due times and the refresh queue.
#[derive(Debug)]
pub struct Schedule {
    heap: BinaryHeap<Reverse<(Instant, Due, Name)>>,
    waiting: VecDeque<Name>,
    queued: HashSet<Name>,
    /// Queued zones that start without a token ([`Start::First`]).
    unrated: HashSet<Name>,
    running: HashSet<Name>,
    limit: usize,
    /// Starts allowed per second (0: no limit), and the bucket of starts not yet used.
    rate: u32,
    tokens: f64,
    refilled: Instant,
}

impl Schedule {
    /// At most `limit` (at least one) refreshes at once, and `rate` started per second
    /// (0: no limit).
    pub fn new(limit: usize, rate: u32) -> Self {
        Schedule {
            heap: BinaryHeap::new(),
            waiting: VecDeque::new(),
            queued: HashSet::new(),
            unrated: HashSet::new(),
            running: HashSet::new(),
            limit: limit.max(1),
            rate,
            tokens: Self::burst(rate),
            refilled: Instant::now(),
        }
    }

    /// Change the rate (the zones were reloaded).
    pub fn set_rate(&mut self, rate: u32) {
        self.rate = rate;
        self.tokens = self.tokens.min(Self::burst(rate));
    }

    /// The most starts the bucket holds: a tenth of a second's worth, at least one.
    fn burst(rate: u32) -> f64 {
        (f64::from(rate) / 10.0).max(1.0)
    }

    /// Use one start of the bucket, if it holds one at `now`.
    fn take_token(&mut self, now: Instant) -> bool {
        if self.rate == 0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(self.rate)).min(Self::burst(self.rate));
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the queue may move again, if only the rate holds it back.
    fn queue_wake(&self) -> Option<Instant> {
        let held = self.rate > 0 && self.tokens < 1.0 && self.running.len() < self.limit;
        let next = self.waiting.iter().find(|z| !self.running.contains(*z));
        (held && next.is_some_and(|z| !self.unrated.contains(z)))
            .then(|| self.refilled + Duration::from_secs_f64((1.0 - self.tokens) / f64::from(self.rate)))
    }

    /// Wake up for `zone` at `at`.
    pub fn at(&mut self, at: Instant, due: Due, zone: &Name) {
        self.heap.push(Reverse((at, due, zone.clone())));
    }

    /// The earliest time anything is due (possibly a stale entry: waking early is
    /// harmless), or the queue may move again.
    pub fn next(&self) -> Option<Instant> {
        let due = self.heap.peek().map(|Reverse((t, _, _))| *t);
        match (due, self.queue_wake()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Take the next entry due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, Due, Name)> {
        if self.heap.peek()?.0 .0 > now {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| e)
    }

    /// Ask to refresh `zone` at `now`: true if it may start now (and is counted as
    /// running); false if it was queued (once; see [`Start`] for where, and whether it
    /// waits for the rate). A zone whose previous refresh still runs (it was removed
    /// and added again meanwhile) waits.
    pub fn try_start(&mut self, zone: &Name, start: Start, now: Instant) -> bool {
        if self.running.len() < self.limit
            && !self.queued.contains(zone)
            && !self.running.contains(zone)
            && (start != Start::Timer || self.take_token(now))
        {
            self.running.insert(zone.clone());
            return true;
        }
        if self.queued.insert(zone.clone()) {
            if start == Start::Urgent {
                self.waiting.push_front(zone.clone());
            } else {
                self.waiting.push_back(zone.clone());
            }
            if start == Start::First {
                self.unrated.insert(zone.clone());
            }
        } else if start == Start::Urgent {
            // Already waiting: move it to the front.
            self.waiting.retain(|z| z != zone);
            self.waiting.push_front(zone.clone());
        }
        false
    }

    /// The refresh of `zone` ended (or could not start); returns the next queued zone
    /// that may start at `now`, which is counted as running.
    pub fn finished(&mut self, zone: &Name, now: Instant) -> Option<Name> {
        self.running.remove(zone);
        self.start_waiting(now)
    }

    /// The next queued zone that may start at `now` (counted as running): a slot is
    /// free and the rate allows it.
    pub fn start_waiting(&mut self, now: Instant) -> Option<Name> {
        if self.running.len() >= self.limit {
            return None;
        }
        let pos = self.waiting.iter().position(|z| !self.running.contains(z))?;
        if !self.unrated.contains(&self.waiting[pos]) && !self.take_token(now) {
            return None;
        }
        let next = self.waiting.remove(pos)?;
        self.queued.remove(&next);
        self.unrated.remove(&next);
        self.running.insert(next.clone());
        Some(next)
    }

    /// Forget a zone that is no longer configured (its heap entries go stale).
    pub fn forget(&mut self, zone: &Name) {
        if self.queued.remove(zone) {
            self.unrated.remove(zone);
            self.waiting.retain(|z| z != zone);
        }
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;
    use std::time::Duration;

    fn n(s: &str) -> Name {
        from_ascii(s).unwrap()
    }

    fn now() -> Instant {
        Instant::now()
    }

    #[test]
    fn zones_with_nothing_held_wait_for_a_slot_but_not_for_the_rate() {
        let t0 = Instant::now();
        let mut s = Schedule::new(2, 10);
        let zones: Vec<Name> = (0..50).map(|i| n(&format!("z{i}."))).collect();
        let started = zones.iter().filter(|z| s.try_start(z, Start::First, t0)).count();
        assert_eq!(started, 2, "the slots bound them");
        assert_eq!(s.waiting(), 48);
        // Each finished check starts the next at once; the bucket (one token at this
        // rate) is never asked.
        let mut ran = 2;
        let mut running: Vec<Name> = zones[..2].to_vec();
        while let Some(done) = running.pop() {
            if let Some(next) = s.finished(&done, t0) {
                running.push(next);
                ran += 1;
            }
        }
        assert_eq!(ran, 50);
        assert!(s.next().is_none(), "nothing waits for the rate");
        // A timer's check still takes a token.
        assert!(s.try_start(&n("timer."), Start::Timer, t0));
        assert!(!s.try_start(&n("timer2."), Start::Timer, t0), "the bucket is empty");
    }

    #[test]
    fn at_most_rate_start_a_second_and_notify_does_not_wait() {
        // 20 a second: a bucket of 2, then one every 50 ms.
        let mut s = Schedule::new(100, 20);
        let t0 = Instant::now();
        let zones: Vec<Name> = (0..10).map(|i| n(&format!("z{i}."))).collect();
        let started = zones.iter().filter(|z| s.try_start(z, Start::Timer, t0)).count();
        assert_eq!(started, 2, "the bucket holds a tenth of a second's worth");
        assert_eq!(s.waiting(), 8);
        // The queue wakes the thread when the next start is allowed, not before.
        let wake = s.next().expect("the queue waits for the rate");
        assert!(wake > t0 && wake <= t0 + Duration::from_millis(50), "{:?}", wake - t0);
        assert_eq!(s.start_waiting(t0), None, "no token yet");
        assert_eq!(s.start_waiting(t0 + Duration::from_millis(50)), Some(n("z2.")));
        assert_eq!(s.start_waiting(t0 + Duration::from_millis(50)), None);
        // A NOTIFY starts at once, token or not.
        assert!(s.try_start(&n("notified."), Start::Urgent, t0 + Duration::from_millis(50)));
        // Over one more second, at most 20 more start.
        let mut more = 0;
        for ms in (51..=1050).step_by(5) {
            while s.start_waiting(t0 + Duration::from_millis(ms)).is_some() {
                more += 1;
            }
        }
        assert_eq!(more, 7, "the rest of the queue, one every 50 ms");
        assert_eq!(s.waiting(), 0);
        assert_eq!(s.next(), None, "nothing waits, nothing is due");
        // Without a rate, the queue is held by the slots alone.
        let mut free = Schedule::new(100, 0);
        assert_eq!(zones.iter().filter(|z| free.try_start(z, Start::Timer, t0)).count(), 10);
    }

    #[test]
    fn pops_in_time_order_and_only_when_due() {
        let mut s = Schedule::new(4, 0);
        let t0 = Instant::now();
        s.at(t0 + Duration::from_secs(5), Due::Check, &n("b."));
        s.at(t0 + Duration::from_secs(1), Due::Expire, &n("a."));
        s.at(t0 + Duration::from_secs(9), Due::Check, &n("c."));
        assert_eq!(s.next(), Some(t0 + Duration::from_secs(1)));
        assert!(s.pop_due(t0).is_none());
        let due: Vec<_> = std::iter::from_fn(|| s.pop_due(t0 + Duration::from_secs(6))).collect();
        assert_eq!(
            due,
            vec![
                (t0 + Duration::from_secs(1), Due::Expire, n("a.")),
                (t0 + Duration::from_secs(5), Due::Check, n("b."))
            ]
        );
        assert_eq!(s.next(), Some(t0 + Duration::from_secs(9)));
    }

    #[test]
    fn at_most_limit_run_and_the_rest_wait_in_order() {
        let mut s = Schedule::new(2, 0);
        assert!(s.try_start(&n("a."), Start::Timer, now()));
        assert!(s.try_start(&n("b."), Start::Timer, now()));
        assert!(!s.try_start(&n("c."), Start::Timer, now()));
        assert!(!s.try_start(&n("d."), Start::Timer, now()));
        assert!(!s.try_start(&n("c."), Start::Timer, now()), "queued once");
        assert_eq!((s.running(), s.waiting()), (2, 2));
        // A NOTIFY for d jumps the queue.
        assert!(!s.try_start(&n("d."), Start::Urgent, now()));
        assert_eq!(s.finished(&n("a."), now()), Some(n("d.")));
        assert_eq!(s.finished(&n("b."), now()), Some(n("c.")));
        assert_eq!((s.running(), s.waiting()), (2, 0));
        assert_eq!(s.finished(&n("d."), now()), None);
        assert_eq!(s.finished(&n("c."), now()), None);
        assert_eq!(s.running(), 0);
        assert_eq!(s.finished(&n("c."), now()), None, "a second end changes nothing");
        assert_eq!(s.running(), 0);
    }

    #[test]
    fn a_zone_still_running_waits_for_itself() {
        let mut s = Schedule::new(3, 0);
        assert!(s.try_start(&n("a."), Start::Timer, now()));
        // Removed and configured again while its refresh runs: it queues behind it.
        assert!(!s.try_start(&n("a."), Start::Timer, now()));
        assert!(s.try_start(&n("b."), Start::Timer, now()));
        assert_eq!(s.finished(&n("a."), now()), Some(n("a.")));
        assert_eq!(s.running(), 2);
    }

    #[test]
    fn a_forgotten_zone_leaves_the_queue() {
        let mut s = Schedule::new(1, 0);
        assert!(s.try_start(&n("a."), Start::Timer, now()));
        assert!(!s.try_start(&n("b."), Start::Timer, now()));
        s.forget(&n("b."));
        assert_eq!(s.finished(&n("a."), now()), None);
        assert!(s.try_start(&n("b."), Start::Timer, now()));
    }
}
