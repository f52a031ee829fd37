//! # shoal-engine: the server around the pure answer function
//!
//! Owns everything with a side effect, in rooms that depend only on those listed
//! before them:
//!
//! - [`access`]: address lists and TSIG keys; [`config`]: the TOML configuration,
//!   validated into one value; [`metrics`]: the counters every room writes (the
//!   system calls, batched UDP, pinning and signals, are `shoal_io`'s, and this crate
//!   has no `unsafe`);
//! - [`zones`]: the zone registry: each configured zone's versions, journal, counters
//!   and timers, reload, status, and the publishing of the zone set workers answer from;
//! - [`transfer`]: the transfer thread: refresh and transfers in, AXFR/IXFR out,
//!   NOTIFY, TSIG-signed queries;
//! - [`serve`]: the workers: one per core, SO_REUSEPORT UDP and TCP sockets, answering
//!   from the published zone set and handing what needs keys to the transfer thread;
//! - [`ops`]: the metrics page, health endpoints, the control socket, the bad-packet log;
//! - [`server`]: starting and stopping all of it. The binary `shoal` (src/main.rs) is
//!   thin glue over this library.
//!
//! ## Limitations
//!
//! - No DNS UPDATE, no catalog zones (RFC 9432), no EDNS EXPIRE (RFC 7314).
//! - No response rate limiting and no DNS cookies; TCP limits are a connection cap and
//!   an idle timeout.
//! - Zone transfers run over plain TCP (no XFR over TLS); TSIG is the only
//!   authentication.
//! - A new version of a secondary zone is saved whole to the state directory, and
//!   every publish rebuilds the set of all zones.

#![forbid(unsafe_code)]

pub mod access;
pub mod config;
pub mod metrics;
pub mod ops;
pub mod serve;
pub mod server;
pub mod transfer;
pub mod zones;
