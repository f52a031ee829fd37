//! The secondary's side of the wire: asking a primary for its SOA (UDP, then TCP on
//! truncation) and pulling a zone by IXFR or AXFR over TCP, with TSIG on every request
//! and every signed response checked. A zone whose primaries are reached over TLS
//! (RFC 9103, [`Via::tls`]) asks for the SOA and the transfer over TLS only, never in
//! clear text. Blocking I/O with timeouts; runs on a refresh thread, never on a worker.

use crate::access::tls::{ClientStream, TlsClient};
use crate::access::tsig::{self, Key, Signer, Verifier};
use crate::metrics::RefreshStats;
use shoal_wire::message::{Header, MessageBuilder, Section};
use shoal_wire::{Class, Name, Opcode, Rcode, Rtype, Serial};
use shoal_zonedb::change::diff::Rr;
use shoal_zonedb::change::xfr_in::{Received, XfrError, XfrParser};
use shoal_zonedb::text::load::Sink;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// Per-read and connect timeout.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole transfer must finish within this.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

/// How a secondary reaches a primary: the TSIG key its requests are signed with, and
/// the TLS profile its connections use, if any.
#[derive(Clone, Default)]
pub struct Via {
    pub key: Option<Key>,
    pub tls: Option<TlsClient>,
}

/// A connection to a primary: TCP, or TLS over TCP.
enum Conn {
    Tcp(TcpStream),
    Tls(Box<ClientStream>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// Why talking to a primary failed.
#[derive(Debug)]
pub enum ClientError {
    Io(std::io::Error),
    Timeout,
    /// The primary answered with this RCODE.
    Rcode(u8),
    /// The response's TSIG is missing or wrong (the TSIG error code).
    Tsig(u16),
    BadResponse(&'static str),
    Xfr(XfrError),
    /// The transfer passed `max_transfer_bytes` (the limit) and was cut off.
    TooLarge(u64),
    /// The TLS handshake failed (the primary not authenticated, no ALPN `dot`, …).
    Tls(std::io::Error),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::Timeout => write!(f, "timed out"),
            ClientError::Rcode(r) => write!(f, "primary answered RCODE {r}"),
            ClientError::Tsig(c) => write!(f, "TSIG verification failed (error {c})"),
            ClientError::BadResponse(w) => write!(f, "bad response: {w}"),
            ClientError::Xfr(e) => write!(f, "{e}"),
            ClientError::TooLarge(limit) => {
                write!(f, "the transfer passed max_transfer_bytes ({limit} bytes) and was cut off")
            }
            ClientError::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        // rustls reports through I/O errors what happens after the handshake, such as
        // the alert of a primary that wanted a client certificate.
        if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
            return ClientError::Tls(e);
        }
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ClientError::Timeout,
            _ => ClientError::Io(e),
        }
    }
}

fn new_id() -> u16 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (t ^ (t >> 16)) as u16 ^ std::process::id() as u16
}

/// Where a message carries its SOA record.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SoaIn {
    /// NOTIFY (RFC 1996 §3.7).
    Answer,
    /// IXFR request (RFC 1995 §3).
    Authority,
}

/// A request for `zone`/`qtype` with flag word `flags`, carrying `soa` (owner: the
/// question name) in the given section.
pub fn soa_message(
    id: u16,
    opcode: Opcode,
    bits: u16,
    zone: &Name,
    qtype: Rtype,
    soa: Option<(&Rr, SoaIn)>,
) -> Vec<u8> {
    let m = MessageBuilder::query(id, opcode, bits).question(zone.as_wire(), qtype, Class::IN);
    match soa {
        Some((soa, SoaIn::Answer)) => m.record(Section::Answer, zone.as_wire(), Rtype::SOA, soa.ttl, &soa.rdata),
        Some((soa, SoaIn::Authority)) => m.record(Section::Authority, zone.as_wire(), Rtype::SOA, soa.ttl, &soa.rdata),
        None => m,
    }
    .finish()
}

/// The EDNS EXPIRE option as a query carries it (RFC 7314 §2: no value).
const EXPIRE_ASKED: [u8; 4] = [0, 9, 0, 0];

/// A query for `zone`/`qtype`, with the held SOA in authority for IXFR, asking for the
/// primary's EDNS EXPIRE (RFC 7314).
fn request(id: u16, zone: &Name, qtype: Rtype, held: Option<&Rr>) -> Vec<u8> {
    let m = MessageBuilder::query(id, Opcode::QUERY, 0).question(zone.as_wire(), qtype, Class::IN);
    let m = match held {
        Some(soa) => m.record(Section::Authority, zone.as_wire(), Rtype::SOA, soa.ttl, &soa.rdata),
        None => m,
    };
    m.opt(shoal_zonedb::answer::DEFAULT_UDP_PAYLOAD, &EXPIRE_ASKED).finish()
}

/// A primary's answer to an SOA query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoaAnswer {
    pub serial: u32,
    /// Its EDNS EXPIRE value (RFC 7314), if it sent one.
    pub expire: Option<u32>,
}

fn sign(m: &mut Vec<u8>, key: Option<&Key>) -> Vec<u8> {
    match key {
        Some(k) => {
            let mut s = Signer::new(k, &[]);
            s.sign(m, tsig::now());
            s.last_mac().to_vec()
        }
        None => Vec::new(),
    }
}

/// The serial of the primary's SOA for `zone`, and its EDNS EXPIRE; each datagram
/// sent, and each try left unanswered, is counted in `stats`.
pub fn query_soa(primary: SocketAddr, zone: &Name, via: &Via, stats: &RefreshStats) -> Result<SoaAnswer, ClientError> {
    let id = new_id();
    let key = via.key.as_ref();
    let mut q = request(id, zone, Rtype::SOA, None);
    let mac = sign(&mut q, key);
    let resp = if via.tls.is_some() {
        // Over TLS only: a primary reached over TLS is never asked in clear text.
        stats.soa_sent.inc();
        exchange(primary, via, &q)?
    } else {
        soa_over_udp(primary, id, &q, via, stats)?
    };
    if let Some(k) = key {
        tsig::verify_response(&resp, k, &mac, tsig::now()).map_err(|e| ClientError::Tsig(e.code))?;
    }
    let serial = soa_serial_from(&resp, zone)?;
    Ok(SoaAnswer { serial, expire: shoal_wire::edns::expire_value(&resp) })
}

/// The answer to SOA query `q` (ID `id`) over UDP, asked again over TCP when it is
/// truncated or refused.
fn soa_over_udp(
    primary: SocketAddr,
    id: u16,
    q: &[u8],
    via: &Via,
    stats: &RefreshStats,
) -> Result<Vec<u8>, ClientError> {
    let bind: SocketAddr =
        if primary.is_ipv4() { "0.0.0.0:0".parse().expect("valid") } else { "[::]:0".parse().expect("valid") };
    let sock = UdpSocket::bind(bind)?;
    sock.connect(primary)?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = vec![0u8; 65535];
    let mut resp = None;
    'tries: for _ in 0..3 {
        sock.send(q)?;
        stats.soa_sent.inc();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match sock.recv(&mut buf) {
                Ok(n) if Header::of(&buf[..n]).is_some_and(|h| h.id() == id && h.is_response()) => {
                    resp = Some(buf[..n].to_vec());
                    break 'tries;
                }
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
                Err(e) => return Err(e.into()),
            }
        }
        stats.soa_unanswered.inc();
    }
    let mut resp = resp.ok_or(ClientError::Timeout)?;
    // Truncated, or refused over UDP: ask again over TCP. Knot answers its catalog
    // zones over TCP only.
    if Header::of(&resp).is_some_and(|h| h.is_truncated() || h.rcode() == Rcode::REFUSED) {
        resp = exchange(primary, via, q)?;
    }
    Ok(resp)
}

fn soa_serial_from(resp: &[u8], zone: &Name) -> Result<u32, ClientError> {
    let rcode = Header::of(resp).ok_or(ClientError::BadResponse("shorter than a header"))?.rcode();
    if rcode != Rcode::NOERROR {
        return Err(ClientError::Rcode(rcode.0 as u8));
    }
    let mut p = XfrParser::new(zone.clone(), Some(0));
    p.feed(resp, &mut shoal_zonedb::text::load::Loaded::default()).map_err(ClientError::Xfr)?;
    match p.finish() {
        Ok(Received::UpToDate { serial }) => Ok(serial),
        _ => Err(ClientError::BadResponse("no SOA for the zone in the answer")),
    }
}

/// A connection to `primary`: over TLS when `via` says so, with the handshake done.
fn connect(primary: SocketAddr, via: &Via) -> Result<Conn, ClientError> {
    let s = TcpStream::connect_timeout(&primary, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    match &via.tls {
        None => Ok(Conn::Tcp(s)),
        Some(tls) => tls.connect(s, primary).map(|t| Conn::Tls(Box::new(t))).map_err(ClientError::Tls),
    }
}

/// One query `q` and its answer over a connection of its own.
fn exchange(primary: SocketAddr, via: &Via, q: &[u8]) -> Result<Vec<u8>, ClientError> {
    let mut s = connect(primary, via)?;
    write_msg(&mut s, q)?;
    read_msg(&mut s)
}

fn write_msg(s: &mut Conn, m: &[u8]) -> Result<(), ClientError> {
    let mut b = Vec::with_capacity(m.len() + 2);
    b.extend_from_slice(&(m.len() as u16).to_be_bytes());
    b.extend_from_slice(m);
    s.write_all(&b)?;
    Ok(())
}

fn read_msg(s: &mut Conn) -> Result<Vec<u8>, ClientError> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut m)?;
    Ok(m)
}

/// The kinds of zone transfer, as logs and counters name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XfrKind {
    /// The whole zone (RFC 5936).
    Axfr,
    /// The differences from a version held (RFC 1995).
    Ixfr,
    /// An IXFR request answered with the whole zone (RFC 1995 §4).
    IxfrWhole,
}

impl XfrKind {
    /// The name logs give it: `AXFR`, `IXFR`, `IXFR (full zone)`.
    pub fn as_str(self) -> &'static str {
        match self {
            XfrKind::Axfr => "AXFR",
            XfrKind::Ixfr => "IXFR",
            XfrKind::IxfrWhole => "IXFR (full zone)",
        }
    }
}

/// What a transfer brought, with figures for the log line.
pub struct Transfer {
    pub received: Received,
    /// What was asked for: AXFR, or IXFR.
    pub kind: XfrKind,
    pub records: usize,
    pub bytes: usize,
    pub messages: usize,
    /// The EDNS EXPIRE value (RFC 7314) the primary sent, if it did.
    pub expire: Option<u32>,
}

/// Pull `zone` from `primary`: IXFR from `held` when given, else AXFR. The records of
/// a whole zone go to `full` as they arrive.
pub fn transfer(
    primary: SocketAddr,
    zone: &Name,
    held: Option<&Rr>,
    via: &Via,
    full: &mut dyn Sink,
    max_bytes: u64,
) -> Result<Transfer, ClientError> {
    let started = Instant::now();
    let key = via.key.as_ref();
    let id = new_id();
    let (qtype, kind) = if held.is_some() { (Rtype::IXFR, XfrKind::Ixfr) } else { (Rtype::AXFR, XfrKind::Axfr) };
    let mut q = request(id, zone, qtype, held);
    let mac = sign(&mut q, key);
    let mut s = connect(primary, via)?;
    write_msg(&mut s, &q)?;
    let client_serial = held.map(|h| shoal_zonedb::change::diff::soa_serial(&h.rdata));
    let mut parser = XfrParser::new(zone.clone(), client_serial);
    let mut verifier = key.map(|k| Verifier::new(k, &mac));
    let mut expire = None;
    loop {
        if started.elapsed() > TRANSFER_TIMEOUT {
            return Err(ClientError::Timeout);
        }
        let m = match read_msg(&mut s) {
            Ok(m) => m,
            // The primary closed after a lone SOA: an up-to-date IXFR answer.
            Err(ClientError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof && parser.messages > 0 => break,
            Err(e) => return Err(e),
        };
        let Some(header) = Header::of(&m).filter(|h| h.id() == id) else {
            return Err(ClientError::BadResponse("response ID does not match"));
        };
        // Checked before the message is parsed (the parser counts what it was fed):
        // what is over the limit is never kept.
        if max_bytes > 0 && (parser.bytes + m.len()) as u64 > max_bytes {
            return Err(ClientError::TooLarge(max_bytes));
        }
        if let Some(v) = verifier.as_mut() {
            if let Err(e) = v.verify(&m, tsig::now()) {
                // An unsigned error answer still tells us the RCODE.
                if header.rcode() != Rcode::NOERROR {
                    return Err(ClientError::Rcode(header.rcode().0 as u8));
                }
                return Err(ClientError::Tsig(e.code));
            }
        }
        if expire.is_none() {
            expire = shoal_wire::edns::expire_value(&m);
        }
        parser.feed(&m, full).map_err(|e| match e {
            XfrError::Rcode(r) => ClientError::Rcode(r),
            other => ClientError::Xfr(other),
        })?;
        if parser.done() {
            break;
        }
        if let (Some(cs), 1) = (client_serial, parser.messages) {
            // A lone SOA not newer than ours: the primary has nothing for us.
            if parser.record_count() == 0 && lone_soa_not_newer(&m, cs) {
                break;
            }
        }
    }
    let (records, bytes, messages) = (parser.record_count(), parser.bytes, parser.messages);
    let received = parser.finish().map_err(ClientError::Xfr)?;
    Ok(Transfer { received, kind, records, bytes, messages, expire })
}

fn lone_soa_not_newer(m: &[u8], client_serial: u32) -> bool {
    if Header::of(m).is_none_or(|h| h.ancount() != 1) {
        return false;
    }
    match soa_serial_any(m) {
        Some(s) => !Serial(s).is_newer_than(Serial(client_serial)),
        None => false,
    }
}

/// The serial of the first answer record if it is an SOA.
fn soa_serial_any(m: &[u8]) -> Option<u32> {
    let mut pos = shoal_wire::HEADER_LEN;
    for _ in 0..Header::of(m)?.qdcount() {
        pos = shoal_wire::name::skip_name(m, pos).ok()? + 4;
    }
    pos = shoal_wire::name::skip_name(m, pos).ok()?;
    if u16::from_be_bytes([*m.get(pos)?, *m.get(pos + 1)?]) != Rtype::SOA.0 {
        return None;
    }
    let rdlen = u16::from_be_bytes([*m.get(pos + 8)?, *m.get(pos + 9)?]) as usize;
    let end = pos + 10 + rdlen;
    let f = m.get(end - 20..end - 16)?;
    Some(u32::from_be_bytes([f[0], f[1], f[2], f[3]]))
}
