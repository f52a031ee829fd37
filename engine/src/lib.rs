//! # shoal-engine: the server around the pure answer function
//!
//! Owns everything with a side effect, in rooms that depend only on those listed
//! before them:
//!
//! - [`access`]: address lists, TSIG keys, DNS cookies and TLS identities;
//!   [`config`]: the TOML configuration, validated into one value; [`metrics`]: the
//!   counters every room writes (the system calls, batched UDP, pinning and signals,
//!   are `shoal_io`'s, and this crate has no `unsafe`);
//! - [`zones`]: the zone registry: each configured zone's versions, journal, counters
//!   and timers, reload, status, and the publishing of the zone set workers answer from;
//! - [`transfer`]: the transfer thread: refresh and transfers in, AXFR/IXFR out (over
//!   TCP or TLS), NOTIFY, TSIG-signed queries;
//! - [`serve`]: the workers: one per core, SO_REUSEPORT UDP and TCP sockets, answering
//!   from the published zone set (with rate limiting, cookies and TCP limits) and
//!   handing what needs keys to the transfer thread;
//! - [`ops`]: the metrics page, health endpoints, the control socket, the bad-packet log;
//! - [`server`]: starting and stopping all of it. The binary `shoal` (src/main.rs) is
//!   thin glue over this library.
//!
//! ## Limitations
//!
//! - No DNS UPDATE; catalog zones of schema version 2 only.
//! - TLS serves zone transfers (RFC 9103), not DNS over TLS or HTTPS for clients.
//! - No signing: signed zones are served as signed elsewhere.

#![forbid(unsafe_code)]

pub mod access;
pub mod config;
pub mod metrics;
pub mod ops;
pub mod serve;
pub mod server;
pub mod transfer;
pub mod zones;
