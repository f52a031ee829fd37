//! The workers: one per core, each owning its own SO_REUSEPORT UDP socket and TCP
//! listener for every listen address. A worker is a UDP thread per socket (blocking
//! batched receive, see [`udp`]) and a TCP thread (mio, see `tcp`), pinned to the
//! same core: under UDP load the TCP thread sleeps in `epoll_wait`, and the UDP path
//! makes two system calls per batch.
//!
//! A worker reads the zone set through an `arc_swap::Cache` (a few loads when nothing
//! changed), answers with the pure `shoal_zonedb::answer`, counts what it answered, and
//! never blocks, locks or allocates per query: its buffers are allocated once when it
//! starts, TCP buffers once per connection. Messages that need keys, ACLs or the zone
//! registry (NOTIFY, transfers, TSIG-signed queries) go to the transfer thread
//! ([`for_transfer_side`]). Answers to queries with a DNS cookie get a server cookie
//! ([`cookie`]); UDP answers pass [`rrl`], response rate limiting, when it is on (a
//! good server cookie exempts them). A failing socket operation is counted and the worker moves
//! on. On shutdown a TCP thread stops accepting and drains: it writes the answers
//! already owed, up to the drain timeout.

pub mod cookie;
pub mod rrl;
mod tcp;
pub mod udp;

use crate::metrics::WorkerStats;
use crate::zones::ZoneSet;
use arc_swap::{ArcSwap, Cache};
use mio::{Events, Interest, Poll, Token};
use shoal_wire::{Opcode, Request, Rtype};
use shoal_zonedb::answer::{answer_prepared, Options, Prepared, Response};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What all workers share, read-only (the zone set swaps atomically).
pub struct Shared {
    pub zones: Arc<ArcSwap<ZoneSet>>,
    pub identity: Option<Vec<u8>>,
    pub version: Option<Vec<u8>>,
    pub udp_payload: u16,
    pub tcp_idle_timeout: Duration,
    pub tcp_max_connections: usize,
    /// Connections from one address (0: no limit), across all workers.
    pub tcp_max_per_source: usize,
    /// Queries answered on one TCP connection before it is closed (0: no limit).
    pub tcp_max_queries: u32,
    /// Number of workers, to divide server-wide limits among them.
    pub workers: usize,
    pub stop: AtomicBool,
    /// How long TCP threads keep writing pending answers after `stop`.
    pub drain_timeout: Duration,
    /// Where AXFR/IXFR requests go; `None` refuses transfers.
    pub events: Option<crossbeam_channel::Sender<crate::transfer::Event>>,
    /// Response rate limiting of UDP answers (each UDP thread keeps its own table).
    pub rrl: crate::config::RrlConfig,
    /// The DNS cookie secrets (RFC 7873), when cookies are on; rotated in place.
    pub cookies: Option<crate::access::cookies::CookieKeeper>,
}

/// Send buffer of UDP sockets (answers to many clients may go out in one burst).
const UDP_SEND_BUFFER: usize = 4 << 20;
/// Connections the kernel queues for each TCP listener before the worker accepts them.
const TCP_BACKLOG: i32 = 1024;

/// Sockets of one worker: for each listen address, a UDP socket and a TCP listener.
pub struct Sockets {
    pub udp: Vec<std::net::UdpSocket>,
    /// A second handle on each UDP socket, through which the transfer thread answers
    /// the NOTIFYs this worker hands over.
    pub udp_replies: Vec<Arc<std::net::UdpSocket>>,
    pub tcp: Vec<mio::net::TcpListener>,
}

impl Sockets {
    /// Bind every address in `listen` (SO_REUSEPORT, so each worker has its own).
    pub fn bind(listen: &[SocketAddr], udp_rcvbuf: usize) -> io::Result<Sockets> {
        let mut s = Sockets { udp: Vec::new(), udp_replies: Vec::new(), tcp: Vec::new() };
        for &a in listen {
            let u = shoal_io::socket::udp_reuseport(a, udp_rcvbuf, UDP_SEND_BUFFER)
                .map_err(|e| io::Error::new(e.kind(), format!("UDP {a}: {e}")))?;
            s.udp_replies.push(Arc::new(u.try_clone()?));
            s.udp.push(u);
            let t = shoal_io::socket::tcp_listener(a, TCP_BACKLOG)
                .map_err(|e| io::Error::new(e.kind(), format!("TCP {a}: {e}")))?;
            s.tcp.push(mio::net::TcpListener::from_std(t));
        }
        Ok(s)
    }
}

/// How often the TCP thread wakes up with nothing to do (idle sweep, stop flag).
const TICK: Duration = Duration::from_millis(250);

/// Run one worker's TCP side until `shared.stop` is set (its UDP sockets each have a
/// thread of their own, see [`udp::run`]).
pub fn run_tcp(listeners: Vec<mio::net::TcpListener>, shared: Arc<Shared>, stats: Arc<WorkerStats>) -> io::Result<()> {
    let mut listeners = listeners;
    let mut poll = Poll::new()?;
    for (i, l) in listeners.iter_mut().enumerate() {
        poll.registry().register(l, Token(i), Interest::READABLE)?;
    }
    let first_conn = listeners.len();
    let mut cache = Cache::new(Arc::clone(&shared.zones));
    let share = |n: usize| n.div_ceil(shared.workers.max(1)).max(1);
    let limits = tcp::Limits {
        max: share(shared.tcp_max_connections),
        per_source: if shared.tcp_max_per_source == 0 { 0 } else { share(shared.tcp_max_per_source) },
        idle: shared.tcp_idle_timeout,
    };
    let mut tcp = tcp::TcpState::new(first_conn, limits);
    let mut events = Events::with_capacity(256);
    let mut last_sweep = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        if let Err(e) = poll.poll(&mut events, Some(TICK)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let zones = cache.load();
        for ev in events.iter() {
            let t = ev.token().0;
            if t < first_conn {
                tcp.accept(&listeners[t], poll.registry(), &stats);
            } else {
                tcp.ready(t, ev, zones, &shared, &stats, poll.registry());
            }
        }
        if last_sweep.elapsed() >= TICK {
            tcp.sweep_idle(poll.registry(), &stats);
            last_sweep = Instant::now();
        }
    }
    drain(&mut tcp, &mut poll, listeners, &shared, &stats, &mut cache, first_conn)
}

/// Shutting down: stop accepting, finish writing the answers to queries already read,
/// close each connection once it is flushed; whatever is still open at the drain
/// deadline is closed.
fn drain(
    tcp: &mut tcp::TcpState,
    poll: &mut Poll,
    mut listeners: Vec<mio::net::TcpListener>,
    shared: &Shared,
    stats: &WorkerStats,
    cache: &mut Cache<Arc<ArcSwap<ZoneSet>>, Arc<ZoneSet>>,
    first_conn: usize,
) -> io::Result<()> {
    for l in listeners.iter_mut() {
        let _ = poll.registry().deregister(l);
    }
    drop(listeners);
    let deadline = Instant::now() + shared.drain_timeout;
    let mut events = Events::with_capacity(256);
    // Bounded by the deadline.
    while tcp.close_flushed(poll.registry(), stats) > 0 && Instant::now() < deadline {
        match poll.poll(&mut events, Some(Duration::from_millis(20))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let zones = cache.load();
        for ev in events.iter() {
            if ev.token().0 >= first_conn {
                tcp.ready(ev.token().0, ev, zones, shared, stats, poll.registry());
            }
        }
    }
    if tcp.open() > 0 {
        tracing::warn!(
            worker = stats.worker,
            open = tcp.open(),
            "shutdown: drain deadline reached; closing TCP connections with answers unsent"
        );
    }
    Ok(())
}

/// Answer options for this worker's listeners.
fn options(shared: &Shared, tcp: bool) -> Options<'_> {
    Options {
        tcp,
        udp_payload: shared.udp_payload,
        identity: shared.identity.as_deref(),
        version: shared.version.as_deref(),
    }
}

/// Whether a message is for the transfer side, which holds the keys, ACLs and zone
/// registry: TSIG-signed messages, NOTIFY, IXFR, and AXFR over TCP (AXFR over UDP is
/// answered NOTIMP here, RFC 5936 §4.2).
pub fn for_transfer_side(req: &Request<'_>, tcp: bool) -> bool {
    let transfer = req.opcode == Opcode::QUERY && (req.qtype == Rtype::IXFR || (tcp && req.qtype == Rtype::AXFR));
    req.tsig_at.is_some() || req.opcode == Opcode::NOTIFY || transfer
}

/// Answer a prepared query into `out` and count it, unless it is for the transfer side
/// (and there is one): then count the hand-over and return `None`.
#[inline]
fn answer_counted(
    query: &Prepared<'_, '_>,
    zones: &ZoneSet,
    shared: &Shared,
    opts: &Options<'_>,
    out: &mut [u8],
    stats: &WorkerStats,
) -> Option<Response> {
    if shared.events.is_some() && query.request().is_some_and(|r| for_transfer_side(r, opts.tcp)) {
        stats.record_handed_over();
        return None;
    }
    let r = answer_prepared(query, opts, out);
    stats.record(&r, r.zone.and_then(|i| zones.counters(i)));
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::for_transfer_side;
    use shoal_wire::Request;

    fn message(opcode: u8, qtype: u16, signed: bool) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, opcode << 3, 0, 0, 1, 0, 0, 0, 0, 0, u8::from(signed)];
        m.extend_from_slice(b"\x07example\x00");
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        if signed {
            // A TSIG record (its RDATA is not read here): root owner, type 250, class ANY.
            m.extend_from_slice(&[0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0]);
        }
        m
    }

    #[test]
    fn notify_transfers_and_signed_messages_go_to_the_transfer_side() {
        let routed = |m: &[u8], tcp: bool| for_transfer_side(&Request::parse(m).expect("parses"), tcp);
        assert!(routed(&message(4, 6, false), false), "NOTIFY");
        assert!(routed(&message(0, 251, false), false), "IXFR over UDP");
        assert!(routed(&message(0, 252, false), true), "AXFR over TCP");
        assert!(!routed(&message(0, 252, false), false), "AXFR over UDP is answered NOTIMP here");
        assert!(routed(&message(0, 1, true), false), "a signed query");
        assert!(!routed(&message(0, 1, false), false), "a plain query");
        assert!(!routed(&message(5, 6, false), false), "UPDATE is answered NOTIMP here");
    }
}
