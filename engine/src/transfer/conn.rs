//! TCP connections handed over by a worker: the slow path for what the workers do not
//! do themselves — zone transfers, NOTIFY over TCP, and TSIG-signed queries; and TLS
//! connections from secondaries (XoT, RFC 9103, accepted by [`super::tls`]), which get
//! every answer here, their SOA queries included.
//!
//! Each connection gets its own thread (at most `max_transfer_connections` at once), which
//! keeps reading messages until the peer closes or stays idle, because peers reuse the
//! connection: Knot sends a signed SOA query and then the IXFR on one connection.
//! Decisions that need the zone registry (which zones, ACLs, journals, NOTIFY checks)
//! are asked of the transfer thread over the event channel; the streaming itself
//! happens here, so a large AXFR never holds up the transfer thread or a worker.

use super::xfr_out::{self, Transport};
use super::{signed, Event};
use crate::access::tsig::Key;
use crate::zones::ZoneSet;
use crossbeam_channel::Sender;
use shoal_wire::{Opcode, Request, Rtype};
use shoal_zonedb::{answer, Options};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// A connection idle this long is closed (RFC 7766 §6.2.3 suggests seconds).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the transfer thread's decision.
const DECISION_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection thread needs besides its socket.
#[derive(Clone)]
pub struct Context {
    pub events: Sender<Event>,
    pub keys: Vec<Key>,
    pub zones: Arc<arc_swap::ArcSwap<ZoneSet>>,
    pub udp_payload: u16,
    pub identity: Option<Vec<u8>>,
    pub version: Option<Vec<u8>>,
}

/// Set a handed-over socket blocking, with the write and idle timeouts.
pub fn blocking(stream: &TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
}

/// Serve a TCP connection a worker handed over: write `pending`, answer `first`, then
/// every further message, starting with those already read (`rest`).
pub fn serve(mut stream: TcpStream, peer: SocketAddr, first: Vec<u8>, pending: Vec<u8>, rest: Vec<u8>, ctx: Context) {
    blocking(&stream);
    if !pending.is_empty() && stream.write_all(&pending).is_err() {
        return;
    }
    serve_messages(&mut stream, peer, Some(first), rest, Transport::Tcp, &ctx);
}

/// Answer `first` if given, then each message read from `rest` and then `stream`,
/// until the peer closes, stays idle, or a message ends the connection.
pub fn serve_messages<S: Read + Write>(
    stream: &mut S,
    peer: SocketAddr,
    first: Option<Vec<u8>>,
    rest: Vec<u8>,
    transport: Transport,
    ctx: &Context,
) {
    let mut buffered = std::io::Cursor::new(rest);
    let mut msg = match first {
        Some(m) => m,
        None => match read_message(stream) {
            Some(m) => m,
            None => return,
        },
    };
    loop {
        if !handle(stream, peer, &msg, transport, ctx) {
            return;
        }
        let next = if (buffered.position() as usize) < buffered.get_ref().len() {
            // Pipelined behind the first: finish what was read, then the socket.
            let mut chain = Read::chain(&mut buffered, &mut *stream);
            read_message(&mut chain)
        } else {
            read_message(stream)
        };
        match next {
            Some(m) => msg = m,
            None => return,
        }
    }
}

/// Refuse a connection when too many are being served.
pub fn refuse(mut stream: TcpStream, query: &[u8], mut pending: Vec<u8>) {
    blocking(&stream);
    xfr_out::frame(&mut pending, &xfr_out::error_message(query, shoal_wire::Rcode::REFUSED, None));
    let _ = stream.write_all(&pending);
}

fn read_message(s: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let n = usize::from(u16::from_be_bytes(len));
    if n == 0 {
        return None;
    }
    let mut m = vec![0u8; n];
    s.read_exact(&mut m).ok()?;
    Some(m)
}

fn write_message(s: &mut impl Write, m: &[u8]) -> bool {
    let mut b = Vec::with_capacity(m.len() + 2);
    xfr_out::frame(&mut b, m);
    // Flushed: over TLS, what rustls still holds goes out now (a no-op over TCP).
    s.write_all(&b).and_then(|()| s.flush()).is_ok()
}

/// Answer one message; false when the connection must be closed.
fn handle(stream: &mut impl Write, peer: SocketAddr, msg: &[u8], transport: Transport, ctx: &Context) -> bool {
    let req = Request::parse(msg).ok();
    let is = |f: &dyn Fn(&Request<'_>) -> bool| req.as_ref().is_some_and(f);
    if is(&|r| r.opcode == Opcode::NOTIFY) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if ctx.events.send(Event::NotifyTcp { msg: msg.to_vec(), peer, reply: tx }).is_err() {
            return false;
        }
        return match rx.recv_timeout(DECISION_TIMEOUT) {
            Ok(Some(resp)) => write_message(stream, &resp),
            _ => false,
        };
    }
    if is(&|r| r.opcode == Opcode::QUERY && matches!(r.qtype, Rtype::AXFR | Rtype::IXFR)) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if ctx.events.send(Event::Plan { query: msg.to_vec(), peer, transport, reply: tx }).is_err() {
            return false;
        }
        return match rx.recv_timeout(DECISION_TIMEOUT) {
            Ok(plan) => xfr_out::send(stream, peer, msg, plan),
            Err(_) => false,
        };
    }
    let zones = ctx.zones.load_full();
    if is(&|r| r.tsig_at.is_some()) {
        return match signed::answer_signed(msg, &ctx.keys, &zones.catalog, true, ctx.udp_payload) {
            Some(resp) => write_message(stream, &resp),
            None => true,
        };
    }
    let opts = Options {
        tcp: true,
        udp_payload: ctx.udp_payload,
        identity: ctx.identity.as_deref(),
        version: ctx.version.as_deref(),
    };
    let mut out = vec![0u8; 65535];
    let r = answer(msg, &zones.catalog, &opts, &mut out);
    r.len == 0 || write_message(stream, &out[..r.len])
}
