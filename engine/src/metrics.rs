//! Counters. Each worker owns a [`WorkerStats`] and is its only writer, so an increment
//! is a plain load and store on a cache line no other core writes; readers sum the
//! workers' values when asked.

use shoal_wire::Rcode;
use shoal_zonedb::answer::{AnswerKind, Outcome};
use std::sync::atomic::{AtomicU64, Ordering};

/// A counter with a single writer.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        // One writer: no read-modify-write instruction needed.
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One worker's counters, on their own cache lines.
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct WorkerStats {
    pub udp_queries: Counter,
    pub tcp_queries: Counter,
    pub dropped: Counter,
    pub noerror: Counter,
    pub nxdomain: Counter,
    pub referral: Counter,
    pub nodata: Counter,
    pub refused: Counter,
    pub formerr: Counter,
    pub servfail: Counter,
    pub notimp: Counter,
    pub other_rcode: Counter,
    pub truncated: Counter,
    pub udp_errors: Counter,
    pub udp_dropped: Counter,
    pub tcp_accepted: Counter,
    pub tcp_rejected: Counter,
    pub tcp_closed_idle: Counter,
    pub tcp_errors: Counter,
}

impl WorkerStats {
    /// Count one query's outcome.
    pub fn record(&self, o: &Outcome, tcp: bool) {
        if tcp {
            self.tcp_queries.inc();
        } else {
            self.udp_queries.inc();
        }
        let Outcome::Answered { rcode, kind, truncated } = *o else {
            if *o == Outcome::Dropped {
                self.dropped.inc();
            }
            return;
        };
        if truncated {
            self.truncated.inc();
        }
        match (rcode, kind) {
            (Rcode::NOERROR, AnswerKind::Referral) => self.referral.inc(),
            (Rcode::NOERROR, AnswerKind::NoData) => self.nodata.inc(),
            (Rcode::NOERROR, _) => self.noerror.inc(),
            (Rcode::NXDOMAIN, _) => self.nxdomain.inc(),
            (Rcode::REFUSED, _) => self.refused.inc(),
            (Rcode::FORMERR, _) => self.formerr.inc(),
            (Rcode::SERVFAIL, _) => self.servfail.inc(),
            (Rcode::NOTIMP, _) => self.notimp.inc(),
            _ => self.other_rcode.inc(),
        }
    }
}
