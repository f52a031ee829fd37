//! Per-zone query counters that many threads write without sharing a cache line.
//!
//! A [`QueryCounters`] belongs to one configured zone and outlives its versions (the
//! registry publishes the same one with every zone set). It has one
//! [`ZoneSlot`] per answering thread, each on its own cache line and written by that
//! thread only, so counting costs a plain load and store; a reader (the metrics
//! endpoint) sums the slots.

use super::counter::Counter;
use shoal_wire::Rcode;
use shoal_zonedb::{AnswerKind, Outcome};

/// What an answered query got, as operators count it: its RCODE, with NOERROR split
/// into answers, NODATA and referrals. The one classification every counter uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerClass {
    Answer,
    NoData,
    Referral,
    NxDomain,
    Refused,
    FormErr,
    ServFail,
    NotImp,
    Other,
}

impl AnswerClass {
    /// Every class, in the order of their `as usize` values.
    pub const ALL: [AnswerClass; 9] = [
        AnswerClass::Answer,
        AnswerClass::NoData,
        AnswerClass::Referral,
        AnswerClass::NxDomain,
        AnswerClass::Refused,
        AnswerClass::FormErr,
        AnswerClass::ServFail,
        AnswerClass::NotImp,
        AnswerClass::Other,
    ];

    #[inline]
    pub fn of(rcode: Rcode, kind: AnswerKind) -> Self {
        match (rcode, kind) {
            (Rcode::NOERROR, AnswerKind::Referral) => AnswerClass::Referral,
            (Rcode::NOERROR, AnswerKind::NoData) => AnswerClass::NoData,
            (Rcode::NOERROR, _) => AnswerClass::Answer,
            (Rcode::NXDOMAIN, _) => AnswerClass::NxDomain,
            (Rcode::REFUSED, _) => AnswerClass::Refused,
            (Rcode::FORMERR, _) => AnswerClass::FormErr,
            (Rcode::SERVFAIL, _) => AnswerClass::ServFail,
            (Rcode::NOTIMP, _) => AnswerClass::NotImp,
            _ => AnswerClass::Other,
        }
    }

    /// The RCODE label (`OTHER` for the rest).
    pub fn rcode(self) -> &'static str {
        match self {
            AnswerClass::Answer | AnswerClass::NoData | AnswerClass::Referral => "NOERROR",
            AnswerClass::NxDomain => "NXDOMAIN",
            AnswerClass::Refused => "REFUSED",
            AnswerClass::FormErr => "FORMERR",
            AnswerClass::ServFail => "SERVFAIL",
            AnswerClass::NotImp => "NOTIMP",
            AnswerClass::Other => "OTHER",
        }
    }

    /// A lowercase name of the class.
    pub fn label(self) -> &'static str {
        match self {
            AnswerClass::Answer => "answer",
            AnswerClass::NoData => "nodata",
            AnswerClass::Referral => "referral",
            AnswerClass::NxDomain => "nxdomain",
            AnswerClass::Refused => "refused",
            AnswerClass::FormErr => "formerr",
            AnswerClass::ServFail => "servfail",
            AnswerClass::NotImp => "notimp",
            AnswerClass::Other => "other",
        }
    }
}

/// One thread's counts for one zone: a cache line.
#[derive(Default, Debug)]
#[repr(align(64))]
pub struct ZoneSlot {
    pub queries: Counter,
    pub noerror: Counter,
    pub nxdomain: Counter,
    pub nodata: Counter,
    pub referral: Counter,
    pub servfail: Counter,
    pub other: Counter,
    pub truncated: Counter,
}

impl ZoneSlot {
    /// Count one answered query.
    #[inline]
    pub fn record(&self, o: &Outcome) {
        self.queries.inc();
        let Outcome::Answered { rcode, kind, truncated } = *o else { return };
        if truncated {
            self.truncated.inc();
        }
        match AnswerClass::of(rcode, kind) {
            AnswerClass::Referral => self.referral.inc(),
            AnswerClass::NoData => self.nodata.inc(),
            AnswerClass::Answer => self.noerror.inc(),
            AnswerClass::NxDomain => self.nxdomain.inc(),
            AnswerClass::ServFail => self.servfail.inc(),
            _ => self.other.inc(),
        }
    }
}

/// Totals over every slot of a zone.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneTotals {
    pub queries: u64,
    pub noerror: u64,
    pub nxdomain: u64,
    pub nodata: u64,
    pub referral: u64,
    pub servfail: u64,
    pub other: u64,
    pub truncated: u64,
}

/// A zone's counters: one slot per answering thread.
#[derive(Debug)]
pub struct QueryCounters {
    slots: Box<[ZoneSlot]>,
}

impl QueryCounters {
    /// Counters for `threads` writers (at least one).
    pub fn new(threads: usize) -> Self {
        QueryCounters { slots: (0..threads.max(1)).map(|_| ZoneSlot::default()).collect() }
    }

    /// The slot of thread `i`, if there is one (a thread without a slot does not count).
    #[inline]
    pub fn slot(&self, i: usize) -> Option<&ZoneSlot> {
        self.slots.get(i)
    }

    /// The sums over every slot.
    pub fn totals(&self) -> ZoneTotals {
        let mut t = ZoneTotals::default();
        for s in self.slots.iter() {
            t.queries += s.queries.get();
            t.noerror += s.noerror.get();
            t.nxdomain += s.nxdomain.get();
            t.nodata += s.nodata.get();
            t.referral += s.referral.get();
            t.servfail += s.servfail.get();
            t.other += s.other.get();
            t.truncated += s.truncated.get();
        }
        t
    }
}

impl Default for QueryCounters {
    fn default() -> Self {
        QueryCounters::new(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_index_their_own_place() {
        for (i, c) in AnswerClass::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        assert_eq!(AnswerClass::of(Rcode::NOERROR, AnswerKind::Referral), AnswerClass::Referral);
        assert_eq!(AnswerClass::of(Rcode::BADVERS, AnswerKind::Other), AnswerClass::Other);
    }

    #[test]
    fn slots_are_cache_lines_and_sum() {
        assert_eq!(std::mem::align_of::<ZoneSlot>(), 64);
        assert_eq!(std::mem::size_of::<ZoneSlot>(), 64);
        let c = QueryCounters::new(2);
        let nx = Outcome::Answered { rcode: Rcode::NXDOMAIN, kind: AnswerKind::Other, truncated: false };
        let tc = Outcome::Answered { rcode: Rcode::NOERROR, kind: AnswerKind::Positive, truncated: true };
        c.slot(0).unwrap().record(&nx);
        c.slot(1).unwrap().record(&nx);
        c.slot(1).unwrap().record(&tc);
        assert!(c.slot(2).is_none());
        let t = c.totals();
        assert_eq!((t.queries, t.nxdomain, t.noerror, t.truncated), (3, 2, 1, 1));
    }
}
