//! Counters. Each worker thread owns a [`WorkerStats`] and is its only writer, so an
//! increment is a plain load and store on a cache line no other core writes; a zone's
//! query counts live in its [`shoal_zonedb::QueryCounters`], one slot per worker thread.
//! Readers (the metrics endpoint) sum the threads' values when asked.
//!
//! Transfers, NOTIFYs and publishes are counted per zone in a [`ZoneMeter`]: these happen
//! off the hot path, on the transfer side's threads, so plain atomic additions are fine.

use shoal_wire::Rtype;
use shoal_zonedb::answer::{Outcome, Response};
use shoal_zonedb::counters::AnswerClass;
use std::sync::atomic::{AtomicU64, Ordering};

pub use shoal_zonedb::counters::Counter;

/// The query types counted by name; the rest are counted as `other`.
pub const QTYPES: [(&str, u16); 23] = [
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("PTR", 12),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
    ("SRV", 33),
    ("NAPTR", 35),
    ("DS", 43),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("TLSA", 52),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("IXFR", 251),
    ("AXFR", 252),
    ("ANY", 255),
    ("CAA", 257),
];

/// The bucket of a query type: its place in [`QTYPES`], or `QTYPES.len()` for other.
fn qtype_bucket(t: Rtype) -> usize {
    QTYPES.iter().position(|&(_, v)| v == t.0).unwrap_or(QTYPES.len())
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
    /// This thread's slot in every zone's [`shoal_zonedb::QueryCounters`].
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
    pub tcp_accepted: Counter,
    pub tcp_closed: Counter,
    pub tcp_rejected: Counter,
    pub tcp_closed_idle: Counter,
    pub tcp_errors: Counter,
    pub qtypes: [Counter; QTYPES.len() + 1],
    /// How long each UDP batch took, from the receive returning to the send returning.
    pub batch_time: BatchTimes,
}

impl WorkerStats {
    pub fn new(worker: usize, transport: Transport, slot: usize) -> Self {
        WorkerStats { worker, transport, slot, ..WorkerStats::default() }
    }

    /// Count one message and its outcome, in this thread's counters and its zone's.
    #[inline]
    pub fn record(&self, r: &Response<'_>) {
        self.queries.inc();
        if let Some(z) = r.zone.and_then(|z| z.slot(self.slot)) {
            z.record(&r.outcome);
        }
        let (rcode, kind, truncated) = match r.outcome {
            Outcome::Answered { rcode, kind, truncated } => (rcode, kind, truncated),
            Outcome::Dropped => return self.dropped.inc(),
            Outcome::Deferred => return self.handed_over.inc(),
        };
        if r.qtype.0 != 0 {
            self.qtypes[qtype_bucket(r.qtype)].inc();
        }
        if truncated {
            self.truncated.inc();
        }
        self.answers[AnswerClass::of(rcode, kind) as usize].inc();
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

/// A counter many threads add to (transfer side only: not for the hot path).
#[derive(Default, Debug)]
pub struct Total(AtomicU64);

impl Total {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One direction of zone transfers.
#[derive(Default, Debug)]
pub struct XfrMeter {
    pub axfr: Total,
    pub ixfr: Total,
    pub failed: Total,
    pub bytes: Total,
    pub micros: Total,
}

impl XfrMeter {
    /// Count one finished transfer.
    pub fn done(&self, full: bool, bytes: usize, took: std::time::Duration) {
        if full {
            self.axfr.inc();
        } else {
            self.ixfr.inc();
        }
        self.bytes.add(bytes as u64);
        self.micros.add(took.as_micros() as u64);
    }
}

/// A zone's transfer-side counters, kept across its versions and across reloads.
#[derive(Default, Debug)]
pub struct ZoneMeter {
    pub xfr_in: XfrMeter,
    pub xfr_out: XfrMeter,
    /// Transfer requests refused (ACL, TSIG, not loaded).
    pub xfr_out_refused: Total,
    pub notify_sent: Total,
    /// NOTIFYs that no target acknowledged after every retry.
    pub notify_failed: Total,
    pub notify_received: Total,
    pub notify_refused: Total,
    /// Refresh checks in which no primary could be used.
    pub refresh_failures: Total,
    /// New versions published to the workers.
    pub publishes: Total,
    /// Time to build the last published version (compile or apply), and the sum.
    pub last_apply_micros: Total,
    pub apply_micros: Total,
}

impl ZoneMeter {
    /// Count one published version that took `took` to build.
    pub fn published(&self, took: std::time::Duration) {
        let us = took.as_micros() as u64;
        self.publishes.inc();
        self.last_apply_micros.set(us);
        self.apply_micros.add(us);
    }
}

/// The secondary side's checks of its primaries, over every zone: cheap to scrape on an
/// instance of 100,000 zones (no per-zone series), and the figures that show whether
/// refreshes keep up (queued) and whether primaries answer (unanswered tries).
#[derive(Default, Debug)]
pub struct RefreshStats {
    /// Checks started (each begins with an SOA query).
    pub started: Total,
    /// SOA query datagrams sent to primaries, every try counted.
    pub soa_sent: Total,
    /// Tries no answer came to in time (each is retried, up to three in all).
    pub soa_unanswered: Total,
    /// Checks running now, and waiting for a slot or for the rate (gauges).
    pub running: Total,
    pub queued: Total,
}

/// Resident memory of this process, in bytes (Linux `/proc/self/statm`).
pub fn resident_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qtypes_have_buckets() {
        assert_eq!(qtype_bucket(Rtype::A), 0);
        assert_eq!(QTYPES[qtype_bucket(Rtype::AAAA)].0, "AAAA");
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

    #[test]
    fn bad_packets_are_reported_as_deltas() {
        let w = std::sync::Arc::new(WorkerStats::default());
        let mut b = BadPackets::default();
        assert_eq!(b.since_last(std::slice::from_ref(&w)), None);
        w.answers[AnswerClass::FormErr as usize].add(3);
        w.dropped.inc();
        assert_eq!(b.since_last(std::slice::from_ref(&w)), Some((3, 1)));
        assert_eq!(b.since_last(std::slice::from_ref(&w)), None, "reported once");
    }

    #[test]
    fn resident_memory_is_read() {
        assert!(resident_bytes().is_some_and(|b| b > 1 << 20));
    }
}

/// Bad packets since the last look: malformed queries answered FORMERR, and messages
/// dropped unanswered. Logged at most once per interval, so a flood of junk cannot
/// flood the log.
#[derive(Debug, Default)]
pub struct BadPackets {
    formerr: u64,
    dropped: u64,
}

impl BadPackets {
    /// What arrived since the last call: (answered FORMERR, dropped), or `None`.
    pub fn since_last(&mut self, stats: &[std::sync::Arc<WorkerStats>]) -> Option<(u64, u64)> {
        let formerr: u64 = stats.iter().map(|s| s.answered(AnswerClass::FormErr)).sum();
        let dropped: u64 = stats.iter().map(|s| s.dropped.get()).sum();
        let d = (formerr.saturating_sub(self.formerr), dropped.saturating_sub(self.dropped));
        self.formerr = formerr;
        self.dropped = dropped;
        (d != (0, 0)).then_some(d)
    }
}

/// How often bad packets are reported.
pub const BAD_PACKET_REPORT: std::time::Duration = std::time::Duration::from_secs(10);

/// Until `stop`, log every [`BAD_PACKET_REPORT`] how many bad packets arrived.
pub fn report_bad_packets(stats: Vec<std::sync::Arc<WorkerStats>>, stop: &std::sync::atomic::AtomicBool) {
    let mut seen = BadPackets::default();
    let mut last = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(250));
        if last.elapsed() < BAD_PACKET_REPORT {
            continue;
        }
        last = std::time::Instant::now();
        if let Some((formerr, dropped)) = seen.since_last(&stats) {
            tracing::warn!(
                formerr,
                dropped,
                "bad packets in the last {} s: {formerr} malformed (answered FORMERR), {dropped} dropped (not a query)",
                BAD_PACKET_REPORT.as_secs()
            );
        }
    }
}
