//! Counters: what every room counts, and nothing that reads or renders them.
//!
//! Hot-path counters have one writer each ([`Counter`]: a relaxed load and store on a
//! cache line no other core writes): each worker thread owns a [`WorkerStats`]
//! ([`worker`]) and its slot in every zone's [`QueryCounters`] ([`query`]). Transfers,
//! NOTIFYs and publishes happen off the hot path and are counted per zone with plain
//! atomic additions ([`Total`], [`transfer`]). Readers (the metrics page, the bad-packet
//! log) sum the threads' values when asked.

pub mod query;
pub mod transfer;
pub mod worker;

pub use query::{AnswerClass, QueryCounters};
pub use transfer::{RefreshStats, XfrMeter, ZoneMeter};
pub use worker::{BatchTimes, Transport, WorkerStats, BATCH_BOUNDS_MICROS, QTYPES};

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter with a single writer: an increment is a relaxed load and store, no locked
/// instruction. Readers on other threads see a recent value.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    #[inline]
    pub fn add(&self, n: u64) {
        // One writer: no read-modify-write instruction needed.
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
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
    fn resident_memory_is_read() {
        assert!(resident_bytes().is_some_and(|b| b > 1 << 20));
    }
}
