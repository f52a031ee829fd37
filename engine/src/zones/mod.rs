//! The zone registry: every configured zone, its versions and its lifecycle state.
//!
//! [`load`] reads a zone from its source; [`zonemd`] verifies the ZONEMD digest of a
//! new version (a zone file, or a transfer) before it is published; [`entry`] is one
//! zone (configuration, version served, journal, counters, [`timers`] and [`lifecycle`]
//! state of a secondary);
//! [`registry`] holds them all and publishes each zone's version into its slot of the
//! [`ZoneSet`] the workers answer from;
//! [`reload`] re-reads the configuration and changed files; [`status`] reports each
//! zone; [`catalog`] reads and writes catalog zones (RFC 9432) and [`members`] keeps
//! the member zones of consumed catalogs in the registry. The transfer thread owns the registry; nothing here opens a socket.

pub mod catalog;
pub mod entry;
pub mod lifecycle;
pub mod load;
pub mod members;
pub mod registry;
pub mod reload;
pub mod status;
pub mod timers;
pub mod zonemd;

pub use registry::{Registry, ZoneSet};
pub use status::ZoneStatus;
