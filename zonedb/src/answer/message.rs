//! [`answer`]: the pure function from the bytes of a query and the catalog to the bytes
//! of a response and what was done. No sockets, no clock, no allocation, no counting:
//! the workers, the benches and the differential tests all call it, and the caller
//! counts from the [`Response`] it returns.
//!
//! It reads the header and question (RFC 1035, RFC 6891 EDNS with NSID, RFC 5001),
//! answers what is not a zone's business (FORMERR, NOTIMP, BADVERS, CHAOS `id.server`
//! and `version.bind`, REFUSED with Extended DNS Error 20 outside every zone, SERVFAIL
//! for a configured zone without contents) and hands the rest to the zone
//! ([`crate::answer::resolve`]). Signed queries are answered unsigned, NOTIFY gets
//! NOTIMP and transfers are refused: a server with keys, ACLs and a transfer side
//! takes those messages before they reach here.

use crate::answer::prepare::{prepare, Found, Prepared};
use crate::answer::resolve::{AnswerKind, Resolver};
use crate::store::catalog::Catalog;
use crate::store::held::Held;
use shoal_wire::edns::{OptOut, COOKIE_ANSWER_LEN};
use shoal_wire::message::Header;
use shoal_wire::request::{ParseError, Request};
use shoal_wire::types::flags;
use shoal_wire::writer::{Owner, ResponseWriter, Section};
use shoal_wire::{Class, Opcode, Rcode, Rtype, HEADER_LEN};

/// The UDP payload size Shoal advertises and caps responses at (DNS flag day 2020).
pub const DEFAULT_UDP_PAYLOAD: u16 = 1232;

/// Per-listener settings for answering.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    /// The query came over TCP: 64 KiB responses.
    pub tcp: bool,
    /// Largest UDP response this server sends.
    pub udp_payload: u16,
    /// NSID and CHAOS `id.server` value; `None` hides it.
    pub identity: Option<&'a [u8]>,
    /// CHAOS `version.bind` value; `None` refuses it.
    pub version: Option<&'a [u8]>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options { tcp: false, udp_payload: DEFAULT_UDP_PAYLOAD, identity: None, version: None }
    }
}

/// What happened to a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No response is sent (too short, or a response packet).
    Dropped,
    Answered {
        rcode: Rcode,
        kind: AnswerKind,
        truncated: bool,
    },
}

/// Extended DNS Error "Not Authoritative" (RFC 8914 §4.21), which Knot and NSD attach
/// to REFUSED answers for names outside their zones.
pub const EDE_NOT_AUTHORITATIVE: u16 = 20;

/// The response and its outcome. `len` is 0 when nothing is to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    pub len: usize,
    pub outcome: Outcome,
    /// The query's type (0 when the question did not parse).
    pub qtype: Rtype,
    /// The catalog index of the zone that answered, if one did.
    pub zone: Option<usize>,
    /// Where the OPT record starts (0: none). It is the last record, with room after it
    /// for the COOKIE option the server adds when the query has one (RFC 7873).
    pub opt_at: usize,
}

/// How a zone's answer is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// Precompiled blocks where they apply.
    Precompiled,
    /// Every record encoded from the nodes.
    RecordByRecord,
}

/// Answer `query` from `catalog` into `out` (at least 512 bytes; 65535 for TCP).
pub fn answer(query: &[u8], catalog: &Catalog, opts: &Options<'_>, out: &mut [u8]) -> Response {
    answer_prepared(&prepare(query, catalog, &Held::<1>::new()), opts, out)
}

/// Answer a query [`prepare`]d before (a worker prepares a batch, then answers it).
#[inline]
pub fn answer_prepared(query: &Prepared<'_, '_>, opts: &Options<'_>, out: &mut [u8]) -> Response {
    write_answer(query, opts, Path::Precompiled, out)
}

/// The same answer as [`answer`], each record encoded from the zone's nodes instead of
/// copied from precompiled blocks: the reference the tests and benches compare the
/// precompiled path with.
pub fn answer_record_by_record(query: &[u8], catalog: &Catalog, opts: &Options<'_>, out: &mut [u8]) -> Response {
    write_answer(&prepare(query, catalog, &Held::<1>::new()), opts, Path::RecordByRecord, out)
}

fn write_answer(query: &Prepared<'_, '_>, opts: &Options<'_>, how: Path, out: &mut [u8]) -> Response {
    let msg = query.msg;
    let req = match &query.parsed {
        Ok(r) => r,
        Err(ParseError::Drop) => {
            return Response { len: 0, outcome: Outcome::Dropped, qtype: Rtype(0), zone: None, opt_at: 0 }
        }
        Err(ParseError::FormErr { question_end }) => return formerr(msg, *question_end, out),
    };
    let limit = if opts.tcp {
        out.len().min(65535)
    } else {
        match req.edns {
            Some(e) => e.payload.min(opts.udp_payload).max(512) as usize,
            None => 512,
        }
    };
    let mut w = ResponseWriter::new(out, limit);
    // RD is copied; CD is cleared in authoritative responses (RFC 4035 §3.1.6), as
    // Knot and NSD do.
    let fl = flags::QR | (u16::from(req.opcode.0) << 11) | (req.flags & flags::RD);
    w.header(req.id, fl, 1);
    // The question always fits: it came in a message no larger than our buffer.
    if w.question(req.question_bytes()).is_err() {
        return formerr(msg, None, out);
    }
    // Keep room for our OPT record.
    let nsid = if req.edns.is_some_and(|e| e.nsid) { opts.identity } else { None };
    let expire = expire_answer(req, query.zone);
    // OPT itself, NSID and EXPIRE. An Extended DNS Error (RFC 8914) goes only on
    // REFUSED answers without records, which always have room for it.
    // Room for the COOKIE option the server adds, when the query brought one.
    let cookie = if req.edns.is_some_and(|e| e.cookie.is_some()) { COOKIE_ANSWER_LEN } else { 0 };
    let opt_len = if req.edns.is_some() { 11 + OptOut { nsid, ede: None, expire }.len() + cookie } else { 0 };
    w.set_limit(limit.saturating_sub(opt_len));

    let mut zone = None;
    let (rcode, kind) = if req.edns.is_some_and(|e| e.version > 0) {
        (Rcode::BADVERS, AnswerKind::Other)
    } else if req.opcode != Opcode::QUERY {
        (Rcode::NOTIMP, AnswerKind::Other)
    } else {
        dispatch(req, query.zone, opts, how, &mut w, &mut zone)
    };
    let truncated = w.flags() & flags::TC != 0;
    w.set_rcode(rcode.header_bits());
    let mut opt_at = 0;
    if let Some(e) = req.edns {
        w.set_limit(limit);
        opt_at = w.written().len();
        // Room was reserved above, so this cannot fail.
        let ede = (kind == AnswerKind::NotAuthoritative).then_some(EDE_NOT_AUTHORITATIVE);
        let expire = expire.filter(|_| rcode == Rcode::NOERROR);
        let _ = w.opt(opts.udp_payload, rcode.extended_bits(), e.dnssec_ok, OptOut { nsid, ede, expire });
    }
    let len = w.finish();
    Response { len, outcome: Outcome::Answered { rcode, kind, truncated }, qtype: req.qtype, zone, opt_at }
}

/// The EDNS EXPIRE value (RFC 7314) for a query for the SOA of a zone served here that
/// asks for it: the seconds left before a secondary zone expires, or a primary zone's
/// SOA EXPIRE field. (AXFR and IXFR answers carry it from the transfer side.)
fn expire_answer(req: &Request<'_>, zone: Option<Found<'_>>) -> Option<u32> {
    if !req.edns.is_some_and(|e| e.expire) || req.qtype != Rtype::SOA {
        return None;
    }
    let found = zone?;
    let snapshot = found.snapshot.filter(|s| s.apex().as_wire() == req.qname.as_wire())?;
    Some(match found.entry.expires_at() {
        None => snapshot.soa_expire(),
        Some(at) => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            u32::try_from(at.saturating_sub(now)).unwrap_or(u32::MAX)
        }
    })
}

/// FORMERR: the header (ID, opcode, RD) and, when it parsed, the question.
fn formerr(query: &[u8], question_end: Option<usize>, out: &mut [u8]) -> Response {
    let Some(h) = Header::of(query) else {
        return Response { len: 0, outcome: Outcome::Dropped, qtype: Rtype(0), zone: None, opt_at: 0 };
    };
    let fl = flags::QR | (h.flags() & (flags::OPCODE | flags::RD)) | Rcode::FORMERR.0;
    let mut w = ResponseWriter::new(out, 512);
    let q = question_end.filter(|&e| e - HEADER_LEN <= 500);
    w.header(h.id(), fl, u16::from(q.is_some()));
    if let Some(e) = q {
        let _ = w.question(&query[HEADER_LEN..e]);
    }
    let len = w.finish();
    let outcome = Outcome::Answered { rcode: Rcode::FORMERR, kind: AnswerKind::Other, truncated: false };
    Response { len, outcome, qtype: Rtype(0), zone: None, opt_at: 0 }
}

fn dispatch(
    req: &Request<'_>,
    found: Option<Found<'_>>,
    opts: &Options<'_>,
    how: Path,
    w: &mut ResponseWriter<'_>,
    zone: &mut Option<usize>,
) -> (Rcode, AnswerKind) {
    match req.qclass {
        // QCLASS ANY is answered from the IN data, as Knot does.
        Class::IN | Class::ANY => {}
        Class::CH => return chaos(req, opts, w),
        _ => return (Rcode::REFUSED, AnswerKind::Other),
    }
    match req.qtype {
        // AXFR over UDP is not implemented by anyone (RFC 5936 §4.2): NOTIMP, as Knot
        // and NSD answer.
        Rtype::AXFR if !opts.tcp => return (Rcode::NOTIMP, AnswerKind::Other),
        // A server with a transfer side hands transfers to it before answering;
        // without one they are refused.
        Rtype::AXFR | Rtype::IXFR => return (Rcode::REFUSED, AnswerKind::Other),
        // TYPE0 is reserved (RFC 6895 §3.1); other meta types are looked up like any
        // type and find no data, as Knot and NSD answer.
        Rtype(0) => return (Rcode::NOTIMP, AnswerKind::Other),
        _ => {}
    }
    let Some(found) = found else {
        return (Rcode::REFUSED, AnswerKind::NotAuthoritative);
    };
    *zone = Some(found.index);
    match found.snapshot {
        None => (Rcode::SERVFAIL, AnswerKind::Other),
        Some(snap) => Resolver::new(snap, req, w).run(how == Path::Precompiled),
    }
}

/// CHAOS TXT `id.server`/`hostname.bind` and `version.bind`/`version.server`.
fn chaos(req: &Request<'_>, opts: &Options<'_>, w: &mut ResponseWriter<'_>) -> (Rcode, AnswerKind) {
    if req.qtype != Rtype::TXT && req.qtype != Rtype::ANY {
        return (Rcode::REFUSED, AnswerKind::Other);
    }
    let n = req.qname.as_wire();
    let value = match n {
        b"\x02id\x06server\x00" | b"\x08hostname\x04bind\x00" => opts.identity,
        b"\x07version\x04bind\x00" | b"\x07version\x06server\x00" => opts.version,
        _ => None,
    };
    let Some(v) = value else { return (Rcode::REFUSED, AnswerKind::Other) };
    let mut rd = [0u8; 256];
    let l = v.len().min(255);
    rd[0] = l as u8;
    rd[1..1 + l].copy_from_slice(&v[..l]);
    // Not authoritative data: Knot and NSD leave AA clear here.
    if w.rr(Section::Answer, Owner::Question, Rtype::TXT, Class::CH, 0, &rd[..1 + l]).is_err() {
        w.set_flags(w.flags() | flags::TC);
    }
    (Rcode::NOERROR, AnswerKind::Other)
}
