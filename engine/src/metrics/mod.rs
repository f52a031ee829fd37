//! Counters: what every room counts, and nothing that reads or renders them.
//!
//! Hot-path counters have one writer each ([`Counter`]: a relaxed load and store on a
//! cache line no other core writes): each worker thread owns a [`WorkerStats`]
//! ([`worker`]) and its slot in every zone's [`QueryCounters`] ([`query`]). Transfers,
//! NOTIFYs and publishes happen off the hot path and are counted per zone with plain
//! atomic additions ([`Total`], [`transfer`]); both kinds are in [`counter`]. Readers
//! (the metrics page, the bad-packet log) sum the threads' values when asked.

pub mod counter;
pub mod query;
pub mod transfer;
pub mod worker;

pub use counter::{resident_bytes, Counter, Total};
pub use query::{AnswerClass, QueryCounters};
pub use transfer::{RefreshStats, XfrMeter, ZoneMeter};
pub use worker::{BatchTimes, Transport, WorkerStats, BATCH_BOUNDS_MICROS, QTYPES};
