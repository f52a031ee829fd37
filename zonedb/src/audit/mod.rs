//! Audits of a compiled zone, each a pure function of a [`crate::Snapshot`]: the
//! ZONEMD digest and its verification ([`zonemd`], RFC 8976). [`order`] puts the
//! zone's nodes in canonical order.
//!
//! Nothing here changes a zone, reads a clock or logs: callers decide what a finding
//! means (the engine refuses a version whose digest does not match).

pub mod order;
pub mod zonemd;

pub use zonemd::{verify as verify_zonemd, ZonemdError, ZonemdOutcome};
