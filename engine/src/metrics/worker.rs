//! [`WorkerStats`]: one worker thread's counters (queries by outcome and type, TCP
//! connections, socket errors, hand-overs to the transfer side) and [`BatchTimes`], the
//! time its UDP batches take. One writer each.

use super::counter::Counter;
use super::query::{AnswerClass, QueryCounters};
use shoal_wire::Rtype;
use shoal_zonedb::answer::{Outcome, Response};

/// The query types counted by name (their mnemonics from the record-type table); the
/// rest are counted as `other`.
pub const QTYPES: [u16; 23] =
    [1, 2, 5, 6, 12, 15, 16, 28, 33, 35, 43, 46, 47, 48, 50, 51, 52, 64, 65, 251, 252, 255, 257];

/// The bucket of a query type: its place in [`QTYPES`], or `QTYPES.len()` for other.
fn qtype_bucket(t: Rtype) -> usize {
    QTYPES.iter().position(|&v| v == t.0).unwrap_or(QTYPES.len())
}

/// Which socket kind a worker thread serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// One worker thread's counters, on their own cache lines.
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct WorkerStats {
    /// The worker (core) this thread belongs to.
    pub worker: usize,
    pub transport: Transport,
    /// This thread's slot in every zone's [`QueryCounters`].
    pub slot: usize,
    pub queries: Counter,
    pub dropped: Counter,
    /// Answers by [`AnswerClass`] (indexed by `class as usize`).
    pub answers: [Counter; AnswerClass::ALL.len()],
    pub truncated: Counter,
    /// Messages handed to the transfer side (NOTIFY, transfers, signed queries).
    pub handed_over: Counter,
    pub udp_errors: Counter,
    /// Answers the kernel did not take (socket buffer full), or hand-overs refused.
    pub udp_dropped: Counter,
    /// Answers response rate limiting dropped, and sent truncated (slipped).
    pub rrl_dropped: Counter,
    pub rrl_slipped: Counter,
    pub tcp_accepted: Counter,
    pub tcp_closed: Counter,
    pub tcp_rejected: Counter,
    pub tcp_closed_idle: Counter,
    /// TCP connections closed because their answers waited unread too long.
    pub tcp_closed_slow: Counter,
    pub tcp_errors: Counter,
    pub qtypes: [Counter; QTYPES.len() + 1],
    /// How long each UDP batch took, from the receive returning to the send returning.
    pub batch_time: BatchTimes,
}

impl WorkerStats {
    pub fn new(worker: usize, transport: Transport, slot: usize) -> Self {
        WorkerStats { worker, transport, slot, ..WorkerStats::default() }
    }

    /// Count one answered (or dropped) message, in this thread's counters and in
    /// `zone`'s, the counters of the zone that answered it.
    #[inline]
    pub fn record(&self, r: &Response, zone: Option<&QueryCounters>) {
        self.queries.inc();
        if let Some(z) = zone.and_then(|z| z.slot(self.slot)) {
            z.record(&r.outcome);
        }
        let (rcode, kind, truncated) = match r.outcome {
            Outcome::Answered { rcode, kind, truncated } => (rcode, kind, truncated),
            Outcome::Dropped => return self.dropped.inc(),
        };
        if r.qtype.0 != 0 {
            self.qtypes[qtype_bucket(r.qtype)].inc();
        }
        if truncated {
            self.truncated.inc();
        }
        self.answers[AnswerClass::of(rcode, kind) as usize].inc();
    }

    /// Count one message handed to the transfer side (NOTIFY, transfers, signed queries).
    #[inline]
    pub fn record_handed_over(&self) {
        self.queries.inc();
        self.handed_over.inc();
    }

    /// Answers of one class.
    pub fn answered(&self, class: AnswerClass) -> u64 {
        self.answers[class as usize].get()
    }
}

/// Upper bounds of the [`BatchTimes`] buckets, in microseconds: 8 µs to 16 ms,
/// doubling. A last bucket holds everything above.
pub const BATCH_BOUNDS_MICROS: [u64; 12] = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

/// A histogram of the time a worker thread spent answering one batch of datagrams
/// (answering and the send, not the wait for the receive), with its sum. It tells a
/// worker's own delays (a slow lookup, a page fault, a new snapshot's cold memory)
/// from what happens to a query outside the worker, at the cost of two clock reads
/// (vDSO) per batch. One writer, like every [`WorkerStats`] counter.
#[derive(Default, Debug)]
pub struct BatchTimes {
    buckets: [Counter; BATCH_BOUNDS_MICROS.len() + 1],
    nanos: Counter,
}

impl BatchTimes {
    /// Count one batch that took `took`.
    #[inline]
    pub fn record(&self, took: std::time::Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[Self::bucket(nanos / 1000)].inc();
        self.nanos.add(nanos);
    }

    /// The bucket of a batch of `micros`: the first bound it does not exceed.
    fn bucket(micros: u64) -> usize {
        // Bounds are 8 << i: the bucket is ceil(log2(micros)) - 3, floored at 0.
        let bits = 64 - micros.saturating_sub(1).leading_zeros() as usize;
        bits.saturating_sub(3).min(BATCH_BOUNDS_MICROS.len())
    }

    /// Batches per bucket (not cumulative; the last is above every bound).
    pub fn counts(&self) -> [u64; BATCH_BOUNDS_MICROS.len() + 1] {
        std::array::from_fn(|i| self.buckets[i].get())
    }

    /// The time of every batch counted, in seconds.
    pub fn seconds(&self) -> f64 {
        self.nanos.get() as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qtypes_have_buckets() {
        assert_eq!(qtype_bucket(Rtype::A), 0);
        assert_eq!(QTYPES[qtype_bucket(Rtype::AAAA)], 28);
        assert_eq!(qtype_bucket(Rtype(9999)), QTYPES.len());
    }

    #[test]
    fn batch_times_fall_in_the_first_bound_they_do_not_exceed() {
        for (i, &bound) in BATCH_BOUNDS_MICROS.iter().enumerate() {
            assert_eq!(BatchTimes::bucket(bound), i, "{bound} µs");
            assert_eq!(BatchTimes::bucket(bound + 1), i + 1, "{} µs", bound + 1);
        }
        assert_eq!(BatchTimes::bucket(0), 0);
        assert_eq!(BatchTimes::bucket(u64::MAX), BATCH_BOUNDS_MICROS.len());
        let t = BatchTimes::default();
        t.record(std::time::Duration::from_micros(3));
        t.record(std::time::Duration::from_micros(700));
        t.record(std::time::Duration::from_secs(1));
        let mut want = [0; BATCH_BOUNDS_MICROS.len() + 1];
        want[0] = 1;
        want[7] = 1;
        want[12] = 1;
        assert_eq!(t.counts(), want);
        assert!((t.seconds() - 1.000703).abs() < 1e-9);
    }
}
