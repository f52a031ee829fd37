//! Audits of a compiled zone, each a pure function of a [`crate::Snapshot`]: the
//! ZONEMD digest and its verification ([`zonemd`], RFC 8976), and the DNSSEC audit
//! ([`signatures`]: unsigned RRsets and expiring signatures; [`chain`]: the NSEC and
//! NSEC3 chains) whose findings are [`warning::DnssecWarning`]s. [`order`] puts the
//! zone's nodes in canonical order for both.
//!
//! Nothing here changes a zone, reads a clock or logs: callers decide what a finding
//! means (the engine refuses a version whose digest does not match; `shoal check`
//! prints the DNSSEC warnings).

pub mod chain;
pub mod order;
pub mod signatures;
pub mod warning;
pub mod zonemd;

pub use signatures::audit as dnssec_audit;
pub use warning::DnssecWarning;
pub use zonemd::{verify as verify_zonemd, ZonemdError, ZonemdOutcome};
