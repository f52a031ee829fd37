//! The transfer side (NSD's xfrd, Knot's background workers): everything about zone
//! versions that is not answering a query. One thread ([`Transfers`]) owns the zone
//! registry and receives [`Event`]s over a crossbeam channel:
//!
//! - AXFR/IXFR out: a TCP worker hands over a connection whose next message is a
//!   transfer request (or NOTIFY, or a signed query); a connection thread ([`conn`])
//!   serves it, asking this thread what a request gets ([`xfr_out::plan`]: zone, ACL,
//!   TSIG) and streaming from an `Arc<Snapshot>`, never on a worker;
//! - refresh in ([`secondary`]): the secondary timers fall due in a [`schedule`] that
//!   bounds checks at once and per second; each check runs on its own thread
//!   ([`refresh`], through [`client`]) and reports its outcome back; new versions are
//!   made durable together ([`flush`]) before they are published;
//! - XoT (RFC 9103): connections accepted on the `[tls]` addresses ([`tls`]) are
//!   served by a connection thread after their handshake, as those from the workers;
//! - NOTIFY in and out ([`notify`]), and TSIG-signed queries over UDP ([`signed`]);
//! - reload and status, through the registry.
//!
//! This room holds the sockets and threads of transfers; the versions themselves are
//! built by `shoal_zonedb::change` and kept by the registry (`crate::zones`).

pub mod client;
pub mod conn;
pub mod flush;
pub mod notify;
pub mod refresh;
pub mod schedule;
pub mod secondary;
pub mod signed;
pub mod thread;
pub mod tls;
pub mod xfr_out;

use crate::metrics::RefreshStats;
use crate::zones::Registry;
use schedule::Schedule;
use shoal_wire::Name;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// What the transfer thread is asked to do.
pub enum Event {
    /// An AXFR/IXFR request read by a TCP worker, with the connection itself.
    Xfr {
        stream: std::net::TcpStream,
        peer: SocketAddr,
        query: Vec<u8>,
        /// Responses to earlier pipelined queries not yet written.
        pending: Vec<u8>,
        /// Bytes read after `query` (further pipelined messages).
        rest: Vec<u8>,
    },
    /// A NOTIFY or a TSIG-signed query received by a UDP worker; the reply goes out
    /// through `reply`, a handle on the worker's socket.
    Udp {
        msg: Vec<u8>,
        peer: SocketAddr,
        reply: Arc<std::net::UdpSocket>,
    },
    /// A refresh thread finished.
    Refreshed {
        zone: Name,
        outcome: refresh::Outcome,
    },
    /// A background write of a zone's copy in the state directory finished.
    /// A worker answered a NOTIFY for `zone` (over UDP, as the zone set's policy
    /// allowed or refused it): count it, and check the primary if it was accepted.
    Notified {
        zone: Name,
        accepted: bool,
        /// The serial the NOTIFY announced, if it carried the SOA.
        serial: Option<u32>,
        peer: SocketAddr,
    },
    /// The flush thread wrote a batch of journals; `written` are the zones whose
    /// journal is on disk.
    Flushed {
        written: std::collections::HashSet<Name>,
    },
    Saved {
        zone: Name,
    },
    /// Check a secondary zone now (`force_axfr`: transfer the whole zone).
    Refresh {
        zone: Name,
        force_axfr: bool,
    },
    /// A connection accepted on a `[tls]` listen address, before its handshake.
    Tls {
        stream: std::net::TcpStream,
        peer: SocketAddr,
    },
    /// A connection thread asks what an AXFR/IXFR request gets.
    Plan {
        query: Vec<u8>,
        peer: SocketAddr,
        transport: xfr_out::Transport,
        reply: crossbeam_channel::Sender<xfr_out::Plan>,
    },
    /// A connection thread received a NOTIFY over TCP; the reply to send comes back.
    NotifyTcp {
        msg: Vec<u8>,
        peer: SocketAddr,
        reply: crossbeam_channel::Sender<Option<Vec<u8>>>,
    },
    /// Send NOTIFY for a zone now.
    SendNotify {
        zone: Name,
    },
    /// Report the state of every zone.
    Status {
        reply: crossbeam_channel::Sender<Vec<crate::zones::ZoneStatus>>,
    },
    Reload,
    Stop,
}

/// The transfer thread's state: the registry and what runs around it.
pub struct Transfers {
    registry: Registry,
    active_xfrs: Arc<AtomicUsize>,
    /// For refresh threads to report back.
    events: Option<crossbeam_channel::Sender<Event>>,
    /// Secondary timers, and the bound on refreshes running at once.
    schedule: Schedule,
    /// Zones to NOTIFY about once the zone set is published.
    notify_pending: Vec<Name>,
    /// Checks of primaries over every zone, for the metrics endpoint.
    refresh_stats: Arc<RefreshStats>,
    /// Zones with a new version waiting for its journal ([`flush`]).
    unsynced: Vec<Name>,
    /// The flush thread, once connected, and the batch it is writing.
    flusher: Option<crossbeam_channel::Sender<Vec<flush::Job>>>,
    in_flight: Option<flush::InFlight>,
    /// The jitter of the secondaries' timers.
    rng: crate::zones::timers::Xorshift,
}
