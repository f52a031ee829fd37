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

use shoal_wire::Name;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::time::Instant;

/// What a heap entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    Check,
    Expire,
}

/// Due times and the refresh queue.
#[derive(Debug)]
pub struct Schedule {
    heap: BinaryHeap<Reverse<(Instant, Due, Name)>>,
    waiting: VecDeque<Name>,
    queued: HashSet<Name>,
    running: HashSet<Name>,
    limit: usize,
}

impl Schedule {
    /// At most `limit` (at least one) refreshes at once.
    pub fn new(limit: usize) -> Self {
        Schedule {
            heap: BinaryHeap::new(),
            waiting: VecDeque::new(),
            queued: HashSet::new(),
            running: HashSet::new(),
            limit: limit.max(1),
        }
    }

    /// Wake up for `zone` at `at`.
    pub fn at(&mut self, at: Instant, due: Due, zone: &Name) {
        self.heap.push(Reverse((at, due, zone.clone())));
    }

    /// The earliest time anything is due (possibly a stale entry: waking early is harmless).
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Take the next entry due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, Due, Name)> {
        if self.next()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| e)
    }

    /// Ask to refresh `zone`: true if it may start now (and is counted as running);
    /// false if it was queued (once; `urgent` puts it at the front). A zone whose
    /// previous refresh still runs (it was removed and added again meanwhile) waits.
    pub fn try_start(&mut self, zone: &Name, urgent: bool) -> bool {
        if self.running.len() < self.limit && !self.queued.contains(zone) && !self.running.contains(zone) {
            self.running.insert(zone.clone());
            return true;
        }
        if self.queued.insert(zone.clone()) {
            if urgent {
                self.waiting.push_front(zone.clone());
            } else {
                self.waiting.push_back(zone.clone());
            }
        } else if urgent {
            // Already waiting: move it to the front.
            self.waiting.retain(|z| z != zone);
            self.waiting.push_front(zone.clone());
        }
        false
    }

    /// The refresh of `zone` ended (or could not start); returns the next queued zone
    /// that may start, which is counted as running.
    pub fn finished(&mut self, zone: &Name) -> Option<Name> {
        self.running.remove(zone);
        if self.running.len() >= self.limit {
            return None;
        }
        let pos = self.waiting.iter().position(|z| !self.running.contains(z))?;
        let next = self.waiting.remove(pos)?;
        self.queued.remove(&next);
        self.running.insert(next.clone());
        Some(next)
    }

    /// Forget a zone that is no longer configured (its heap entries go stale).
    pub fn forget(&mut self, zone: &Name) {
        if self.queued.remove(zone) {
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

    #[test]
    fn pops_in_time_order_and_only_when_due() {
        let mut s = Schedule::new(4);
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
        let mut s = Schedule::new(2);
        assert!(s.try_start(&n("a."), false));
        assert!(s.try_start(&n("b."), false));
        assert!(!s.try_start(&n("c."), false));
        assert!(!s.try_start(&n("d."), false));
        assert!(!s.try_start(&n("c."), false), "queued once");
        assert_eq!((s.running(), s.waiting()), (2, 2));
        // A NOTIFY for d jumps the queue.
        assert!(!s.try_start(&n("d."), true));
        assert_eq!(s.finished(&n("a.")), Some(n("d.")));
        assert_eq!(s.finished(&n("b.")), Some(n("c.")));
        assert_eq!((s.running(), s.waiting()), (2, 0));
        assert_eq!(s.finished(&n("d.")), None);
        assert_eq!(s.finished(&n("c.")), None);
        assert_eq!(s.running(), 0);
        assert_eq!(s.finished(&n("c.")), None, "a second end changes nothing");
        assert_eq!(s.running(), 0);
    }

    #[test]
    fn a_zone_still_running_waits_for_itself() {
        let mut s = Schedule::new(3);
        assert!(s.try_start(&n("a."), false));
        // Removed and configured again while its refresh runs: it queues behind it.
        assert!(!s.try_start(&n("a."), false));
        assert!(s.try_start(&n("b."), false));
        assert_eq!(s.finished(&n("a.")), Some(n("a.")));
        assert_eq!(s.running(), 2);
    }

    #[test]
    fn a_forgotten_zone_leaves_the_queue() {
        let mut s = Schedule::new(1);
        assert!(s.try_start(&n("a."), false));
        assert!(!s.try_start(&n("b."), false));
        s.forget(&n("b."));
        assert_eq!(s.finished(&n("a.")), None);
        assert!(s.try_start(&n("b."), false));
    }
}
