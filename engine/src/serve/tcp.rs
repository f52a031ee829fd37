//! TCP per RFC 7766: length-prefixed messages, pipelined queries answered in order,
//! idle timeout, and a cap on connections.
//!
//! Against clients that hold connections: at most [`Limits::per_source`] connections
//! from one address (each worker its share), a client that leaves its answers unread
//! is dropped once its output has waited the idle timeout, at most
//! `tcp_max_queries` queries per connection (then it is closed once answered, as
//! NSD's `tcp-query-count`), and when three quarters of the connections are taken,
//! idle ones are closed after 500 ms (as Knot does when connections are scarce).
//!
//! Each connection has a read buffer for one maximum-size message and a write buffer
//! capped at [`MAX_PENDING`]: everything buffered is answered in one pass and the
//! responses go out in one `write`, so pipelined queries cost no syscall each. When the
//! peer does not read, the worker stops reading from it (backpressure) instead of
//! buffering without bound. A zero-length message or a broken stream closes that
//! connection only.

use super::{answer_counted, cookie, options, Shared};
use crate::metrics::WorkerStats;
use crate::zones::ZoneSet;
use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use shoal_zonedb::{prepare, Held};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

/// Read buffer: one maximum message with its length prefix, plus room to read ahead.
const READ_BUF: usize = 2 + 65535 + 4096;
/// Stop reading while this much output is waiting for the peer.
const MAX_PENDING: usize = 256 * 1024;
/// The idle timeout when connections are scarce.
const SCARCE_IDLE: Duration = Duration::from_millis(500);

/// A worker's share of the limits on TCP clients.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once.
    pub max: usize,
    /// Connections from one address (0: no limit).
    pub per_source: usize,
    /// A connection with nothing to do, or whose answers wait unread, this long is closed.
    pub idle: Duration,
}

struct Conn {
    stream: TcpStream,
    rbuf: Box<[u8]>,
    rlen: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    last_active: Instant,
    peer_closed: bool,
    want_write: bool,
    /// The client's address (for its DNS cookie and the per-source limit).
    peer: std::net::IpAddr,
    /// When the output was last all written.
    drained: Instant,
    /// Queries answered on this connection.
    queries: u32,
}

pub struct TcpState {
    first_token: usize,
    limits: Limits,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    open: usize,
    /// Connections open per client address.
    per_source: std::collections::HashMap<std::net::IpAddr, usize>,
    scratch: Box<[u8]>,
}

impl Conn {
    /// Whether a complete message is buffered.
    fn has_query(&self) -> bool {
        self.rlen >= 2 && self.rlen >= 2 + usize::from(u16::from_be_bytes([self.rbuf[0], self.rbuf[1]]))
    }
}

impl TcpState {
    pub fn new(first_token: usize, limits: Limits) -> Self {
        TcpState {
            first_token,
            limits,
            conns: Vec::new(),
            free: Vec::new(),
            open: 0,
            per_source: std::collections::HashMap::new(),
            scratch: vec![0; 65535].into_boxed_slice(),
        }
    }

    pub fn accept(&mut self, listener: &mio::net::TcpListener, registry: &Registry, stats: &WorkerStats) {
        // Bounded: at most a few hundred accepts per readiness event; mio re-arms on
        // the next poll only for new connections, so drain to WouldBlock.
        loop {
            let (mut stream, peer) = match listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    stats.tcp_errors.inc();
                    return;
                }
            };
            let from_source = self.per_source.get(&peer.ip()).copied().unwrap_or(0);
            let per_source = self.limits.per_source;
            if self.open >= self.limits.max || (per_source > 0 && from_source >= per_source) {
                stats.tcp_rejected.inc();
                drop(stream);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let slot = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            let token = Token(self.first_token + slot);
            if registry.register(&mut stream, token, Interest::READABLE).is_err() {
                stats.tcp_errors.inc();
                self.free.push(slot);
                continue;
            }
            self.conns[slot] = Some(Conn {
                stream,
                rbuf: vec![0; READ_BUF].into_boxed_slice(),
                rlen: 0,
                wbuf: Vec::with_capacity(4096),
                wpos: 0,
                last_active: Instant::now(),
                peer_closed: false,
                want_write: false,
                peer: peer.ip(),
                drained: Instant::now(),
                queries: 0,
            });
            *self.per_source.entry(peer.ip()).or_insert(0) += 1;
            self.open += 1;
            stats.tcp_accepted.inc();
        }
    }

    pub fn ready(
        &mut self,
        token: usize,
        _ev: &Event,
        zones: &ZoneSet,
        shared: &Shared,
        stats: &WorkerStats,
        registry: &Registry,
    ) {
        let slot = token - self.first_token;
        let Some(Some(conn)) = self.conns.get_mut(slot) else { return };
        conn.last_active = Instant::now();
        match service(conn, zones, shared, stats, &mut self.scratch, registry, Token(token)) {
            Ok(true) => {}
            Ok(false) => self.close(slot, registry, stats),
            Err((query, rest)) => self.hand_over(slot, query, rest, shared, registry, stats),
        }
    }

    /// Give the connection to the transfer thread, which answers the AXFR/IXFR
    /// `query` after writing what is still pending, then closes it.
    fn hand_over(
        &mut self,
        slot: usize,
        query: Vec<u8>,
        rest: Vec<u8>,
        shared: &Shared,
        registry: &Registry,
        stats: &WorkerStats,
    ) {
        let Some(mut c) = self.conns[slot].take() else { return };
        let _ = registry.deregister(&mut c.stream);
        self.free.push(slot);
        self.open -= 1;
        self.left(c.peer);
        stats.tcp_closed.inc();
        let Ok(peer) = c.stream.peer_addr() else { return };
        let pending = c.wbuf[c.wpos..].to_vec();
        let stream = std::net::TcpStream::from(c.stream);
        let _ = stream.set_nonblocking(false);
        if let Some(tx) = &shared.events {
            if tx.try_send(crate::transfer::Event::Xfr { stream, peer, query, pending, rest }).is_err() {
                stats.tcp_errors.inc();
            }
        }
    }

    /// Close the connections idle too long (500 ms while three quarters of the
    /// connections are taken), and those whose answers have waited unread as long.
    pub fn sweep_idle(&mut self, registry: &Registry, stats: &WorkerStats) {
        let now = Instant::now();
        let scarce = self.open * 4 >= self.limits.max * 3;
        let idle = if scarce { self.limits.idle.min(SCARCE_IDLE) } else { self.limits.idle };
        for slot in 0..self.conns.len() {
            let Some(c) = &self.conns[slot] else { continue };
            let unread = c.wpos < c.wbuf.len() && now.duration_since(c.drained) > self.limits.idle;
            if unread {
                self.close(slot, registry, stats);
                stats.tcp_closed_slow.inc();
            } else if now.duration_since(c.last_active) > idle {
                self.close(slot, registry, stats);
                stats.tcp_closed_idle.inc();
            }
        }
    }

    /// A connection from `ip` is gone.
    fn left(&mut self, ip: std::net::IpAddr) {
        if let Some(n) = self.per_source.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&ip);
            }
        }
    }

    /// Shutting down: close every connection that owes nothing: every answer written
    /// and no complete query read but not yet answered. (One that still owes is served
    /// by [`TcpState::ready`] as its peer reads.) Returns how many stay open.
    pub fn close_flushed(&mut self, registry: &Registry, stats: &WorkerStats) -> usize {
        for slot in 0..self.conns.len() {
            let flushed = matches!(&self.conns[slot], Some(c) if c.wpos == c.wbuf.len() && !c.has_query());
            if flushed {
                self.close(slot, registry, stats);
            }
        }
        self.open
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open
    }

    fn close(&mut self, slot: usize, registry: &Registry, stats: &WorkerStats) {
        if let Some(mut c) = self.conns[slot].take() {
            let _ = registry.deregister(&mut c.stream);
            self.free.push(slot);
            self.open -= 1;
            self.left(c.peer);
            stats.tcp_closed.inc();
        }
    }
}

/// Read what is there, answer every complete message, write what is pending.
/// `Ok(keep)`: whether to keep the connection; `Err((query, rest))`: the next message
/// is for the transfer side (transfer, NOTIFY, signed query) and the connection goes to
/// it, with the bytes already read after that message.
fn service(
    conn: &mut Conn,
    zones: &ZoneSet,
    shared: &Shared,
    stats: &WorkerStats,
    scratch: &mut [u8],
    registry: &Registry,
    token: Token,
) -> Result<bool, (Vec<u8>, Vec<u8>)> {
    let max_queries = shared.tcp_max_queries;
    let opts = options(shared, true);
    let secrets = shared.cookies.as_ref().map(|c| c.load());
    let cookie_now = if secrets.is_some() { cookie::now() } else { 0 };
    // The versions of the zones this connection's queries fall in, loaded once each.
    let mut held = Held::<4>::new();
    loop {
        // Answer every complete message already buffered.
        let mut off = 0;
        let capped = |c: &Conn| max_queries > 0 && c.queries >= max_queries;
        while conn.wbuf.len() - conn.wpos < MAX_PENDING && conn.rlen - off >= 2 && !capped(conn) {
            let mlen = u16::from_be_bytes([conn.rbuf[off], conn.rbuf[off + 1]]) as usize;
            if mlen == 0 {
                stats.tcp_errors.inc();
                return Ok(false);
            }
            if conn.rlen - off < 2 + mlen {
                break;
            }
            held.make_room();
            let query = prepare(&conn.rbuf[off + 2..off + 2 + mlen], &zones.catalog, &held);
            let Some(r) = answer_counted(&query, zones, shared, &opts, scratch, stats) else {
                // A transfer, NOTIFY or signed query: the transfer side takes the
                // connection, with what was read behind this message.
                return Err((
                    conn.rbuf[off + 2..off + 2 + mlen].to_vec(),
                    conn.rbuf[off + 2 + mlen..conn.rlen].to_vec(),
                ));
            };
            let len = match (&secrets, query.request()) {
                (Some(s), Some(req)) if r.len > 0 => cookie::answer(req, &r, scratch, conn.peer, s, cookie_now, true).0,
                _ => r.len,
            };
            if len > 0 {
                conn.wbuf.extend_from_slice(&(len as u16).to_be_bytes());
                conn.wbuf.extend_from_slice(&scratch[..len]);
            }
            conn.queries += 1;
            off += 2 + mlen;
        }
        if off > 0 {
            conn.rbuf.copy_within(off..conn.rlen, 0);
            conn.rlen -= off;
        }
        // Flush.
        while conn.wpos < conn.wbuf.len() {
            match conn.stream.write(&conn.wbuf[conn.wpos..]) {
                Ok(0) => return Ok(false),
                Ok(n) => conn.wpos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return Ok(false),
            }
        }
        if conn.wpos == conn.wbuf.len() {
            conn.wbuf.clear();
            conn.wpos = 0;
            conn.drained = Instant::now();
        }
        let pending = conn.wbuf.len() - conn.wpos;
        if (pending > 0) != conn.want_write {
            conn.want_write = pending > 0;
            let interest = if conn.want_write { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            if registry.reregister(&mut conn.stream, token, interest).is_err() {
                return Ok(false);
            }
        }
        if pending >= MAX_PENDING {
            return Ok(true); // backpressure: resume on WRITABLE
        }
        if conn.has_query() && !capped(conn) {
            // The answers went out and queries read earlier are still waiting: answer
            // them now (no event would come for them: the peer may be waiting).
            continue;
        }
        if conn.peer_closed || capped(conn) {
            // Everything sent before the close (or up to the cap) is answered; hang up
            // once flushed.
            return Ok(pending > 0);
        }
        // Read more.
        if conn.rlen == conn.rbuf.len() {
            // Cannot happen with a full message's room, but never spin.
            return Ok(false);
        }
        match conn.stream.read(&mut conn.rbuf[conn.rlen..]) {
            Ok(0) => {
                conn.peer_closed = true;
                if conn.rlen >= 2 {
                    continue; // answer complete messages still buffered
                }
                return Ok(conn.wbuf.len() > conn.wpos);
            }
            Ok(n) => conn.rlen += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Ok(false),
        }
    }
}
