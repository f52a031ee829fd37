//! The bad-packet log: how many malformed queries were answered FORMERR and how many
//! messages were dropped, logged at most once per interval so that a flood of junk
//! cannot flood the log.

use crate::metrics::{AnswerClass, WorkerStats};
use std::sync::atomic::Ordering;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
