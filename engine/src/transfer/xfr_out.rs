//! AXFR and IXFR out (RFC 5936, RFC 1995) over a connection handed over by a TCP
//! worker (see [`super::conn`]).
//!
//! [`plan`] runs on the transfer thread and decides, from the request alone: which
//! zone, whether the peer may transfer it (`allow_transfer`), whether the TSIG is
//! valid and the one required, and what to send — the full zone, the condensed diffs
//! since the client's serial, just the SOA (client is current), or an error. [`send`]
//! then streams that from an `Arc<Snapshot>` on the connection's thread, signing every message
//! when TSIG is in use, and logs one line per transfer.
//!
//! Refusals follow BIND: REFUSED for an unknown zone, a peer outside the ACL or a
//! missing required signature; NOTAUTH with the TSIG error (BADKEY, BADSIG, BADTIME) and
//! an unsigned TSIG record for a bad signature.

use crate::access::acl::Acl;
use crate::access::tsig::{self, Key, Signer};
use crate::metrics::ZoneMeter;
use crate::transfer::client::XfrKind;
use shoal_wire::edns::OptOut;
use shoal_wire::message::Header;
use shoal_wire::name::Display;
use shoal_wire::types::flags;
use shoal_wire::{Name, Rcode, Request, Rtype, Serial};
use shoal_zonedb::change::diff::{soa_of, Diff, Rr};
use shoal_zonedb::change::journal::Journal;
use shoal_zonedb::change::xfr_out::{axfr_records, condense, ixfr_records, Packer, RrRef};
use shoal_zonedb::Snapshot;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Room left in each message for the TSIG record.
const TSIG_ROOM: usize = 512;

/// The size of a transfer's messages: 16 KiB, as NSD and BIND send, so that every name
/// in a message can be the target of a compression pointer (which reaches 16 KiB); in
/// 64 KiB messages, the names past the first 16 KiB compressed nothing after them.
const MESSAGE_LIMIT: usize = 16384 - TSIG_ROOM;

/// The transport a request came over, as transfer policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// What the transfer thread knows of a zone, for planning.
pub struct ZoneView<'a> {
    pub name: &'a Name,
    /// Where the transfer (or its refusal) is counted.
    pub meter: &'a Arc<ZoneMeter>,
    pub snapshot: Option<&'a Arc<Snapshot>>,
    pub journal: &'a Journal,
    pub acl: &'a Acl,
    pub key: Option<&'a Key>,
    /// Transfers only over TLS (`transfer_require_tls`).
    pub require_tls: bool,
    /// Seconds until a secondary zone expires (`None` for a primary zone).
    pub expires_in: Option<u32>,
}

/// What to send.
pub enum Plan {
    /// One error response.
    Error { rcode: Rcode, tsig_error: Option<(Vec<u8>, Vec<u8>, u16)>, zone: String, reason: String },
    Transfer {
        zone: Name,
        body: Body,
        signing: Option<(Key, Vec<u8>)>,
        meter: Arc<ZoneMeter>,
        /// The EDNS EXPIRE value (RFC 7314), when the request asked for it.
        expire: Option<u32>,
    },
}

/// The records of a transfer.
pub enum Body {
    Axfr { snapshot: Arc<Snapshot>, ixfr_fallback: bool },
    Ixfr { current: Rr, diff: Diff },
    UpToDate { current: Rr },
}

fn plan_error(rcode: Rcode, zone: String, reason: &str) -> Plan {
    Plan::Error { rcode, tsig_error: None, zone, reason: reason.into() }
}

/// Decide what to do with a transfer request. `zone` finds a zone by apex.
pub fn plan<'a>(
    query: &[u8],
    peer: SocketAddr,
    transport: Transport,
    keys: &[Key],
    zone: impl Fn(&[u8]) -> Option<ZoneView<'a>>,
) -> Plan {
    let err = plan_error;
    let Ok(req) = Request::parse(query) else {
        return err(Rcode::FORMERR, "?".into(), "malformed request");
    };
    let zname = Display(req.qname.as_wire()).to_string();
    let Some(z) = zone(req.qname.as_wire()) else {
        return err(Rcode::REFUSED, zname, "not a zone of this server");
    };
    let plan = if z.require_tls && transport != Transport::Tls {
        err(Rcode::REFUSED, zname, "transfer_require_tls, and the request did not come over TLS")
    } else {
        plan_zone(query, &req, peer, keys, &z, zname)
    };
    if matches!(plan, Plan::Error { .. }) {
        z.meter.xfr_out_refused.inc();
    }
    plan
}

/// [`plan`] for a zone of this server.
fn plan_zone(query: &[u8], req: &Request<'_>, peer: SocketAddr, keys: &[Key], z: &ZoneView<'_>, zname: String) -> Plan {
    let err = plan_error;
    if !z.acl.allows(peer.ip()) {
        return err(Rcode::REFUSED, zname, "peer not in allow_transfer");
    }
    let signing = match tsig::verify_request(query, keys, tsig::now()) {
        Err(e) => {
            let (k, a) = e.record.map(|r| (r.key_name, r.algorithm)).unwrap_or_default();
            let what = match e.code {
                tsig::BADKEY => "unknown TSIG key",
                tsig::BADTIME => "TSIG time outside the fudge",
                _ => "bad TSIG signature",
            };
            return Plan::Error {
                rcode: Rcode::NOTAUTH,
                tsig_error: Some((k, a, e.code)),
                zone: zname,
                reason: what.into(),
            };
        }
        Ok(None) => None,
        Ok(Some((k, mac))) => Some((k.clone(), mac)),
    };
    if let Some(required) = z.key {
        match &signing {
            None => return err(Rcode::REFUSED, zname, "transfer_key required but request not signed"),
            Some((k, _)) if k.name != required.name => {
                return Plan::Error {
                    rcode: Rcode::NOTAUTH,
                    tsig_error: Some((k.name.as_wire().to_vec(), k.algorithm.wire_name().to_vec(), tsig::BADKEY)),
                    zone: zname,
                    reason: "signed with a key other than transfer_key".into(),
                };
            }
            Some(_) => {}
        }
    }
    let Some(snapshot) = z.snapshot else {
        return err(Rcode::SERVFAIL, zname, "zone not loaded");
    };
    let body = if req.qtype == Rtype::AXFR {
        Body::Axfr { snapshot: Arc::clone(snapshot), ixfr_fallback: false }
    } else {
        match ixfr_client_serial(req) {
            None => return err(Rcode::FORMERR, zname, "IXFR without the client's SOA"),
            Some(serial) if Serial(serial) >= Serial(snapshot.serial()) => Body::UpToDate { current: soa_of(snapshot) },
            Some(serial) => match z.journal.since(serial).and_then(|d| condense(&d)) {
                Some(diff) if diff.new_serial() == snapshot.serial() => Body::Ixfr { current: soa_of(snapshot), diff },
                _ => Body::Axfr { snapshot: Arc::clone(snapshot), ixfr_fallback: true },
            },
        }
    };
    // EDNS EXPIRE (RFC 7314): a secondary's time left, or a primary's SOA EXPIRE.
    let expire = req.edns.is_some_and(|e| e.expire).then(|| z.expires_in.unwrap_or_else(|| snapshot.soa_expire()));
    Plan::Transfer { zone: z.name.clone(), body, signing, meter: Arc::clone(z.meter), expire }
}

/// The serial of the SOA a client sent in an IXFR request's authority section.
fn ixfr_client_serial(req: &Request<'_>) -> Option<u32> {
    let msg = req.msg;
    let mut pos = req.question_end;
    for _ in 0..req.ancount {
        pos = shoal_wire::name::skip_name(msg, pos).ok()?;
        pos += 10 + usize::from(u16::from_be_bytes([*msg.get(pos + 8)?, *msg.get(pos + 9)?]));
    }
    for _ in 0..req.nscount {
        pos = shoal_wire::name::skip_name(msg, pos).ok()?;
        let rtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
        let rdlen = usize::from(u16::from_be_bytes([*msg.get(pos + 8)?, *msg.get(pos + 9)?]));
        let rdata = msg.get(pos + 10..pos + 10 + rdlen)?;
        if rtype == Rtype::SOA.0 && rdlen >= 20 {
            let f = &rdata[rdlen - 20..];
            return Some(u32::from_be_bytes([f[0], f[1], f[2], f[3]]));
        }
        pos += 10 + rdlen;
    }
    None
}

/// A single error response to `query`.
pub fn error_message(query: &[u8], rcode: Rcode, tsig_error: Option<&(Vec<u8>, Vec<u8>, u16)>) -> Vec<u8> {
    let Some(header) = Header::of(query) else { return Vec::new() };
    let mut out = vec![0u8; 1024];
    let mut w = shoal_wire::ResponseWriter::new(&mut out, 1024);
    let (id, qfl) = (header.id(), header.flags());
    let parsed = Request::parse(query).ok();
    w.header(id, flags::QR | (qfl & flags::OPCODE) | u16::from(rcode.header_bits()), u16::from(parsed.is_some()));
    if let Some(r) = &parsed {
        let _ = w.question(r.question_bytes());
        if let Some(e) = r.edns {
            let _ =
                w.opt(shoal_zonedb::answer::DEFAULT_UDP_PAYLOAD, rcode.extended_bits(), e.dnssec_ok, OptOut::default());
        }
    }
    let n = w.finish();
    out.truncate(n);
    if let Some((k, a, code)) = tsig_error {
        if !k.is_empty() {
            tsig::append_tsig(&mut out, k, a, tsig::now(), &[], id, *code);
        }
    }
    out
}

/// Add an OPT record with the EDNS EXPIRE option (RFC 7314) to a message without one.
fn append_expire(m: &mut Vec<u8>, seconds: u32) {
    m.push(0);
    m.extend_from_slice(&Rtype::OPT.0.to_be_bytes());
    m.extend_from_slice(&shoal_zonedb::answer::DEFAULT_UDP_PAYLOAD.to_be_bytes());
    m.extend_from_slice(&0u32.to_be_bytes());
    m.extend_from_slice(&8u16.to_be_bytes());
    m.extend_from_slice(&shoal_wire::edns::OPT_EXPIRE.to_be_bytes());
    m.extend_from_slice(&4u16.to_be_bytes());
    m.extend_from_slice(&seconds.to_be_bytes());
    if let Some(mut h) = shoal_wire::message::HeaderMut::of(m) {
        h.add_arcount(1);
    }
}

/// Append `msg` with its two-byte length prefix (RFC 7766 §8).
pub fn frame(buf: &mut Vec<u8>, msg: &[u8]) {
    buf.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    buf.extend_from_slice(msg);
}

/// The reply to an IXFR over UDP (RFC 1995 §2): for an allowed peer, the current SOA
/// alone, which tells the client to come back over TCP for the changes; otherwise the
/// error.
pub fn udp_reply(query: &[u8], peer: SocketAddr, plan: Plan) -> Vec<u8> {
    let (zone, body, signing, expire) = match plan {
        Plan::Error { rcode, tsig_error, zone, reason } => {
            tracing::warn!(%zone, %peer, rcode = rcode.0, "IXFR over UDP refused: {reason}");
            return error_message(query, rcode, tsig_error.as_ref());
        }
        Plan::Transfer { zone, body, signing, expire, .. } => (zone, body, signing, expire),
    };
    let current = match body {
        Body::Axfr { snapshot, .. } => soa_of(&snapshot),
        Body::Ixfr { current, .. } | Body::UpToDate { current } => current,
    };
    let Ok(req) = Request::parse(query) else { return Vec::new() };
    let mut out = vec![0u8; 1024];
    let mut w = shoal_wire::ResponseWriter::new(&mut out, 1024);
    w.header(req.id, flags::QR | flags::AA | (req.flags & flags::RD), 1);
    let _ = w.question(req.question_bytes());
    let _ = w.rr(
        shoal_wire::writer::Section::Answer,
        shoal_wire::writer::Owner::Question,
        Rtype::SOA,
        shoal_wire::Class::IN,
        current.ttl,
        &current.rdata,
    );
    if let Some(e) = req.edns {
        let _ =
            w.opt(shoal_zonedb::answer::DEFAULT_UDP_PAYLOAD, 0, e.dnssec_ok, OptOut { expire, ..OptOut::default() });
    }
    let n = w.finish();
    out.truncate(n);
    if let Some((k, mac)) = &signing {
        Signer::new(k, mac).sign(&mut out, tsig::now());
    }
    tracing::info!(%zone, %peer, serial = soa_serial(&current), "IXFR over UDP answered with the SOA");
    out
}

/// Stream the planned response to `stream` (blocking, with the stream's write
/// timeout), flushed at the end (over TLS, rustls may hold the last records).
/// Returns false if the connection failed and must be closed.
pub fn send(stream: &mut impl Write, peer: SocketAddr, query: &[u8], plan: Plan) -> bool {
    let started = Instant::now();
    let mut out = Vec::new();
    let (zone, body, signing, meter, mut expire) = match plan {
        Plan::Error { rcode, tsig_error, zone, reason } => {
            tracing::warn!(%zone, %peer, rcode = rcode.0, "transfer refused: {reason}");
            frame(&mut out, &error_message(query, rcode, tsig_error.as_ref()));
            return stream.write_all(&out).and_then(|()| stream.flush()).is_ok();
        }
        Plan::Transfer { zone, body, signing, meter, expire } => (zone, body, signing, meter, expire),
    };
    let Ok(req) = Request::parse(query) else { return false };
    let kind = if req.qtype == Rtype::AXFR { XfrKind::Axfr } else { XfrKind::Ixfr }.as_str();
    let (records, from, to, note): (Box<dyn Iterator<Item = RrRef<'_>>>, Option<u32>, u32, &str) = match &body {
        Body::Axfr { snapshot, ixfr_fallback } => (
            Box::new(axfr_records(snapshot)),
            None,
            snapshot.serial(),
            if *ixfr_fallback { " (full zone: serial not in journal)" } else { "" },
        ),
        Body::Ixfr { current, diff } => (
            Box::new(ixfr_records(current, std::slice::from_ref(diff))),
            Some(diff.old_serial()),
            diff.new_serial(),
            "",
        ),
        Body::UpToDate { current } => {
            (Box::new(std::iter::once(RrRef::from(current))), None, soa_serial(current), " (client is current)")
        }
    };
    let mut records = records.peekable();
    let mut packer = Packer::new(req.id, req.question_bytes(), MESSAGE_LIMIT);
    let mut signer = signing.as_ref().map(|(k, mac)| Signer::new(k, mac));
    let mut msg = vec![0u8; 65535];
    let (mut nrec, mut bytes, mut messages) = (0usize, 0usize, 0usize);
    loop {
        let n = packer.next_message(&mut records, &mut msg);
        if n == 0 {
            break;
        }
        let mut m = msg[..n].to_vec();
        nrec += usize::from(Header::of(&m).map_or(0, |h| h.ancount()));
        if let Some(seconds) = expire.take() {
            // The first message carries EDNS EXPIRE (room is kept for TSIG, and for it).
            append_expire(&mut m, seconds);
        }
        if let Some(s) = signer.as_mut() {
            s.sign(&mut m, tsig::now());
        }
        frame(&mut out, &m);
        bytes += m.len();
        messages += 1;
        if out.len() >= 256 * 1024 {
            if let Err(e) = stream.write_all(&out) {
                tracing::warn!(%zone, %peer, kind, "transfer out failed after {nrec} records: {e}");
                meter.xfr_out.failed.inc();
                return false;
            }
            out.clear();
        }
    }
    if let Err(e) = stream.write_all(&out).and_then(|()| stream.flush()) {
        tracing::warn!(%zone, %peer, kind, "transfer out failed after {nrec} records: {e}");
        meter.xfr_out.failed.inc();
        return false;
    }
    meter.xfr_out.done(matches!(body, Body::Axfr { .. }), bytes, started.elapsed());
    let serials = match from {
        Some(f) => format!("{f} -> {to}"),
        None => to.to_string(),
    };
    tracing::info!(
        %zone, %peer, kind, serials, records = nrec, messages, bytes, ms = started.elapsed().as_millis() as u64,
        tsig = signing.is_some(),
        "transfer out done{note}"
    );
    true
}

fn soa_serial(r: &Rr) -> u32 {
    shoal_zonedb::change::diff::soa_serial(&r.rdata)
}
