//! [`answer`]: the pure function from the bytes of a query and the catalog to the bytes
//! of a response. No sockets, no clock, no allocation: the workers, the benches, the
//! fuzzers and the differential tests all call this.
//!
//! It follows RFC 1034 §4.3.2 with RFC 2181, 4592 (wildcards), 6672 (DNAME), 8482
//! (ANY), 6891 (EDNS), 5001 (NSID) and 9471 (glue), choosing Knot DNS's behaviour
//! where the RFCs leave room:
//!
//! - CNAME chains are followed inside the zone of the query only (Knot's choice; NSD
//!   follows into other zones it serves), stopping after [`MAX_CHAIN`] links or on a
//!   loop. The RCODE is that of the last link (RFC 6604).
//! - Positive answers carry no NS in authority (minimal responses).
//! - ANY gets one RRset (RFC 8482 §4.1), over TCP too, as Knot and NSD answer.
//! - Truncation happens at an RRset boundary: a required RRset that does not fit sets
//!   TC; additional-section records that do not fit are left out, except glue for
//!   in-bailiwick name servers of a referral, whose absence sets TC (RFC 9471).
//! - The negative-answer SOA has TTL min(SOA TTL, MINIMUM) (RFC 2308 §3).

use crate::catalog::{Catalog, ZoneState};
use crate::counters::QueryCounters;
use crate::lookup::Lookup;
use crate::snapshot::{NodeRef, RrsetRef, Snapshot};
use shoal_wire::name::{is_subdomain, lowercase_in_place, NameBuf};
use shoal_wire::request::{ParseError, Request};
use shoal_wire::types::flags;
use shoal_wire::writer::{Owner, ResponseWriter, Section};
use shoal_wire::{Class, Opcode, Rcode, Rtype};

/// Links of a CNAME/DNAME chain followed before giving up.
pub const MAX_CHAIN: usize = 8;
/// The UDP payload size Shoal advertises and caps responses at (DNS flag day 2020).
pub const DEFAULT_UDP_PAYLOAD: u16 = 1232;

/// Per-listener settings for answering.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    /// The query came over TCP: 64 KiB responses, ANY gets every RRset.
    pub tcp: bool,
    /// Largest UDP response this server sends.
    pub udp_payload: u16,
    /// NSID and CHAOS `id.server` value; `None` hides it.
    pub identity: Option<&'a [u8]>,
    /// CHAOS `version.bind` value; `None` refuses it.
    pub version: Option<&'a [u8]>,
    /// Answer from precompiled blocks where possible (always, except in tests and
    /// benches that compare the block path with record-by-record encoding).
    pub use_blocks: bool,
    /// Leave to the caller ([`Outcome::Deferred`]) what needs the transfer side's keys,
    /// ACLs and zone registry: TSIG-signed queries, NOTIFY, AXFR and IXFR over TCP, and
    /// IXFR over UDP. Otherwise signed queries are answered unsigned, NOTIFY gets
    /// NOTIMP and transfers are refused.
    pub defer: bool,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            tcp: false,
            udp_payload: DEFAULT_UDP_PAYLOAD,
            identity: None,
            version: None,
            use_blocks: true,
            defer: false,
        }
    }
}

/// What happened to a query, for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No response is sent (too short, or a response packet).
    Dropped,
    /// `defer` is set and the message is for the transfer side (see
    /// [`Options::defer`]): nothing was written; the caller hands it over.
    Deferred,
    Answered {
        rcode: Rcode,
        kind: AnswerKind,
        truncated: bool,
    },
}

/// The kind of answer, as operators count them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind {
    Positive,
    NoData,
    NxDomain,
    Referral,
    /// REFUSED: the name is in no zone of this server.
    NotAuthoritative,
    /// An error RCODE or a CHAOS/meta answer.
    Other,
}

/// Extended DNS Error "Not Authoritative" (RFC 8914 §4.21), which Knot and NSD attach
/// to REFUSED answers for names outside their zones.
pub const EDE_NOT_AUTHORITATIVE: u16 = 20;

/// The response and its outcome. `len` is 0 when nothing is to be sent.
#[derive(Clone, Copy, Debug)]
pub struct Response<'c> {
    pub len: usize,
    pub outcome: Outcome,
    /// The query's type (0 when the question did not parse).
    pub qtype: Rtype,
    /// The counters of the zone that answered, if one did.
    pub zone: Option<&'c QueryCounters>,
}

/// Equal when the same bytes length, outcome and type came from the same zone.
impl PartialEq for Response<'_> {
    fn eq(&self, other: &Self) -> bool {
        let same_zone = match (self.zone, other.zone) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        self.len == other.len && self.outcome == other.outcome && self.qtype == other.qtype && same_zone
    }
}

impl Response<'_> {
    fn unanswered(outcome: Outcome) -> Self {
        Response { len: 0, outcome, qtype: Rtype(0), zone: None }
    }
}

/// Answer `query` from `catalog` into `out` (at least 512 bytes; 65535 for TCP).
pub fn answer<'c>(query: &[u8], catalog: &'c Catalog, opts: &Options<'_>, out: &mut [u8]) -> Response<'c> {
    let req = match Request::parse(query) {
        Ok(r) => r,
        Err(ParseError::Drop) => return Response::unanswered(Outcome::Dropped),
        Err(ParseError::FormErr { question_end }) => return formerr(query, question_end, out),
    };
    let transfer = req.opcode == Opcode::QUERY && (req.qtype == Rtype::IXFR || (opts.tcp && req.qtype == Rtype::AXFR));
    if opts.defer && (req.tsig_at.is_some() || req.opcode == Opcode::NOTIFY || transfer) {
        return Response::unanswered(Outcome::Deferred);
    }
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
        return formerr(query, None, out);
    }
    // Keep room for our OPT record.
    let nsid = if req.edns.is_some_and(|e| e.nsid) { opts.identity } else { None };
    // OPT itself, NSID, and an Extended DNS Error (RFC 8914) of two bytes.
    let opt_len = if req.edns.is_some() { 11 + nsid.map_or(0, |n| 4 + n.len()) + 6 } else { 0 };
    w.set_limit(limit.saturating_sub(opt_len));

    let mut zone = None;
    let (rcode, kind) = if req.edns.is_some_and(|e| e.version > 0) {
        (Rcode::BADVERS, AnswerKind::Other)
    } else if req.opcode != Opcode::QUERY {
        (Rcode::NOTIMP, AnswerKind::Other)
    } else {
        dispatch(&req, catalog, opts, &mut w, &mut zone)
    };
    let truncated = w.flags() & flags::TC != 0;
    w.set_rcode(rcode.header_bits());
    if let Some(e) = req.edns {
        w.set_limit(limit);
        // Room was reserved above, so this cannot fail.
        let ede = (kind == AnswerKind::NotAuthoritative).then_some(EDE_NOT_AUTHORITATIVE);
        let _ = w.opt(opts.udp_payload, rcode.extended_bits(), e.dnssec_ok, nsid, ede);
    }
    let len = w.finish();
    Response { len, outcome: Outcome::Answered { rcode, kind, truncated }, qtype: req.qtype, zone }
}

/// FORMERR: the header (ID, opcode, RD) and, when it parsed, the question.
fn formerr(query: &[u8], question_end: Option<usize>, out: &mut [u8]) -> Response<'static> {
    let id = u16::from_be_bytes([query[0], query[1]]);
    let qfl = u16::from_be_bytes([query[2], query[3]]);
    let fl = flags::QR | (qfl & (0x7800 | flags::RD)) | Rcode::FORMERR.0;
    let mut w = ResponseWriter::new(out, 512);
    let q = question_end.filter(|&e| e - 12 <= 500);
    w.header(id, fl, u16::from(q.is_some()));
    if let Some(e) = q {
        let _ = w.question(&query[12..e]);
    }
    let len = w.finish();
    let outcome = Outcome::Answered { rcode: Rcode::FORMERR, kind: AnswerKind::Other, truncated: false };
    Response { len, outcome, qtype: Rtype(0), zone: None }
}

fn dispatch<'c>(
    req: &Request<'_>,
    catalog: &'c Catalog,
    opts: &Options<'_>,
    w: &mut ResponseWriter<'_>,
    zone: &mut Option<&'c QueryCounters>,
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
        // Transfers are taken by the transfer side before reaching here (TCP, and
        // IXFR over UDP when `defer`); without one they are refused.
        Rtype::AXFR | Rtype::IXFR => return (Rcode::REFUSED, AnswerKind::Other),
        // TYPE0 is reserved (RFC 6895 §3.1); other meta types are looked up like any
        // type and find no data, as Knot and NSD answer.
        Rtype(0) => return (Rcode::NOTIMP, AnswerKind::Other),
        _ => {}
    }
    let Some(entry) = catalog.find_entry(req.qname.as_wire()) else {
        return (Rcode::REFUSED, AnswerKind::NotAuthoritative);
    };
    *zone = Some(&entry.counters);
    match &entry.state {
        ZoneState::Failed => (Rcode::SERVFAIL, AnswerKind::Other),
        ZoneState::Ready(snap) => Resolver { snap, req, opts, w }.run(),
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

struct Resolver<'a, 'b, 'w> {
    snap: &'a Snapshot,
    req: &'a Request<'b>,
    opts: &'a Options<'a>,
    w: &'a mut ResponseWriter<'w>,
}

impl Resolver<'_, '_, '_> {
    fn run(mut self) -> (Rcode, AnswerKind) {
        if self.opts.use_blocks {
            if let Some(r) = self.precompiled() {
                return r;
            }
        }
        self.general()
    }

    /// The common cases from precompiled blocks: an exact match, NODATA, NXDOMAIN and
    /// referrals. `None` sends the query down the general path (CNAME, DNAME, wildcard,
    /// ANY, or a block that does not fit and needs truncating record by record).
    fn precompiled(&mut self) -> Option<(Rcode, AnswerKind)> {
        let q = self.req.qname.as_wire();
        let qtype = self.req.qtype;
        if qtype == Rtype::ANY {
            return None;
        }
        let negative_delta = (q.len() - self.snap.apex().as_wire().len()) as isize;
        let (block, delta, rcode, kind, aa) = match self.snap.lookup(q, qtype) {
            Lookup::Found { node } => {
                if qtype != Rtype::CNAME && node.rrset(Rtype::CNAME).is_some() {
                    return None;
                }
                match node.rrset(qtype) {
                    Some(r) => (r.block(), 0, Rcode::NOERROR, AnswerKind::Positive, true),
                    None => {
                        (self.snap.negative_block().as_ref(), negative_delta, Rcode::NOERROR, AnswerKind::NoData, true)
                    }
                }
            }
            Lookup::NxDomain => {
                (self.snap.negative_block().as_ref(), negative_delta, Rcode::NXDOMAIN, AnswerKind::NxDomain, true)
            }
            Lookup::Referral { cut, node } => {
                let b = node.referral()?;
                (b, (q.len() - cut.len()) as isize, Rcode::NOERROR, AnswerKind::Referral, false)
            }
            _ => return None,
        };
        if block.is_empty() {
            return None;
        }
        self.w.precompiled(block.bytes, block.pointers(), delta, block.counts).ok()?;
        self.set_aa(aa);
        Some((rcode, kind))
    }

    fn general(mut self) -> (Rcode, AnswerKind) {
        let qtype = self.req.qtype;
        let mut name = self.req.qname.clone();
        let mut visited: [NameBuf; MAX_CHAIN] = Default::default();
        let mut links = 0;
        self.set_aa(true);
        loop {
            // The owner of what we write for `name`: the question itself, or a target.
            let owner_is_q = links == 0;
            match self.snap.lookup(name.as_wire(), qtype) {
                Lookup::NxDomain => {
                    return self.negative(Rcode::NXDOMAIN, AnswerKind::NxDomain);
                }
                Lookup::Referral { cut, node } => {
                    if links == 0 {
                        self.set_aa(false);
                    }
                    return self.referral(cut, node);
                }
                Lookup::Dname { owner, node } => {
                    let dname = node.rrset(Rtype::DNAME).expect("DNAME flag set");
                    if !self.write_rrset(Section::Answer, Owner::Name(owner), dname) {
                        return (Rcode::NOERROR, AnswerKind::Positive);
                    }
                    // Synthesize `name` with `owner` replaced by the DNAME target.
                    let prefix_len = name.as_wire().len() - owner.len();
                    let mut target = NameBuf::default();
                    if target.set_concat(&name.as_wire()[..prefix_len], dname.first()).is_err() {
                        return (Rcode::YXDOMAIN, AnswerKind::Other);
                    }
                    let cname_owner = if owner_is_q { Owner::Question } else { Owner::Name(name.as_wire()) };
                    if self
                        .w
                        .rr(Section::Answer, cname_owner, Rtype::CNAME, Class::IN, dname.ttl, target.as_wire())
                        .is_err()
                    {
                        return self.truncated(AnswerKind::Positive);
                    }
                    let mut t = target.clone();
                    lowercase_in_place_buf(&mut t);
                    if !self.follow(&mut name, &t, &mut visited, &mut links) {
                        return (Rcode::NOERROR, AnswerKind::Positive);
                    }
                }
                Lookup::Found { node } | Lookup::Wildcard { node } => {
                    let owner = if owner_is_q { Owner::Question } else { Owner::Name(name.as_wire()) };
                    if qtype != Rtype::CNAME && qtype != Rtype::ANY {
                        if let Some(cname) = node.rrset(Rtype::CNAME) {
                            if !self.write_rrset(Section::Answer, owner, cname) {
                                return (Rcode::NOERROR, AnswerKind::Positive);
                            }
                            let mut t = NameBuf::default();
                            if t.set(cname.first()).is_err() {
                                return (Rcode::NOERROR, AnswerKind::Positive);
                            }
                            lowercase_in_place_buf(&mut t);
                            if !self.follow(&mut name, &t, &mut visited, &mut links) {
                                return (Rcode::NOERROR, AnswerKind::Positive);
                            }
                            continue;
                        }
                    }
                    return self.at_node(node, owner);
                }
            }
        }
    }

    /// Move `name` to `target` if it is in this zone and not seen before.
    fn follow(
        &self,
        name: &mut NameBuf,
        target: &NameBuf,
        visited: &mut [NameBuf; MAX_CHAIN],
        links: &mut usize,
    ) -> bool {
        if !is_subdomain(target.as_wire(), self.snap.apex().as_wire()) {
            return false;
        }
        if *links >= MAX_CHAIN || target.as_wire() == self.req.qname.as_wire() {
            return false;
        }
        if visited[..*links].iter().any(|v| v.as_wire() == target.as_wire()) {
            return false;
        }
        visited[*links] = target.clone();
        *links += 1;
        *name = target.clone();
        true
    }

    /// Answer `qtype` from an existing (or wildcard-synthesized) node.
    fn at_node(&mut self, node: NodeRef<'_>, owner: Owner<'_>) -> (Rcode, AnswerKind) {
        let qtype = self.req.qtype;
        if qtype == Rtype::ANY {
            let Some(first) = node.rrsets().next() else {
                return self.negative(Rcode::NOERROR, AnswerKind::NoData);
            };
            // RFC 8482 §4.1: one RRset, over UDP and TCP alike (Knot and NSD do so).
            self.write_rrset(Section::Answer, owner, first);
            return (Rcode::NOERROR, AnswerKind::Positive);
        }
        let Some(rrset) = node.rrset(qtype) else {
            return self.negative(Rcode::NOERROR, AnswerKind::NoData);
        };
        if self.write_rrset(Section::Answer, owner, rrset) {
            self.additional_for(rrset, None);
        }
        (Rcode::NOERROR, AnswerKind::Positive)
    }

    fn referral(&mut self, cut: &[u8], node: NodeRef<'_>) -> (Rcode, AnswerKind) {
        let ns = node.rrset(Rtype::NS).expect("delegation has NS");
        if self.write_rrset(Section::Authority, Owner::Name(cut), ns) {
            self.additional_for(ns, Some(cut));
        }
        (Rcode::NOERROR, AnswerKind::Referral)
    }

    /// NXDOMAIN or NODATA: the SOA in authority with the negative TTL.
    fn negative(&mut self, rcode: Rcode, kind: AnswerKind) -> (Rcode, AnswerKind) {
        write_negative_soa(self.w, self.snap);
        (rcode, kind)
    }

    fn truncated(&mut self, kind: AnswerKind) -> (Rcode, AnswerKind) {
        self.w.set_flags(self.w.flags() | flags::TC);
        (Rcode::NOERROR, kind)
    }

    fn write_rrset(&mut self, section: Section, owner: Owner<'_>, rrset: RrsetRef<'_>) -> bool {
        write_rrset(self.w, section, owner, rrset)
    }

    fn additional_for(&mut self, rrset: RrsetRef<'_>, cut: Option<&[u8]>) {
        write_additional(self.w, self.snap, rrset, cut)
    }

    fn set_aa(&mut self, on: bool) {
        let f = self.w.flags();
        self.w.set_flags(if on { f | flags::AA } else { f & !flags::AA });
    }
}

/// Write a whole RRset or nothing; on failure set TC. Returns whether it fit.
pub(crate) fn write_rrset(w: &mut ResponseWriter<'_>, section: Section, owner: Owner<'_>, rrset: RrsetRef<'_>) -> bool {
    let mark = w.mark();
    for rd in rrset.rdatas() {
        if w.rr(section, owner, rrset.rtype, Class::IN, rrset.ttl, rd).is_err() {
            w.rollback(mark);
            w.set_flags(w.flags() | flags::TC);
            return false;
        }
    }
    true
}

/// Where the name whose addresses go in the additional section sits in the RDATA of
/// `t` (NS, MX, SRV); `None` for types without additional processing.
pub(crate) fn target_offset(t: Rtype) -> Option<usize> {
    match t {
        Rtype::NS => Some(0),
        Rtype::MX => Some(2),
        Rtype::SRV => Some(6),
        _ => None,
    }
}

/// Addresses of MX, NS and SRV targets that live in this zone. For a referral
/// (`cut` set), glue below the cut is required: if it does not fit, TC is set.
pub(crate) fn write_additional(w: &mut ResponseWriter<'_>, snap: &Snapshot, rrset: RrsetRef<'_>, cut: Option<&[u8]>) {
    let Some(at) = target_offset(rrset.rtype) else { return };
    let mut done: [NameBuf; 8] = Default::default();
    let mut ndone = 0;
    for rd in rrset.rdatas() {
        let mut target = NameBuf::default();
        if rd.len() <= at || target.set(&rd[at..]).is_err() {
            continue;
        }
        lowercase_in_place_buf(&mut target);
        let t = target.as_wire();
        if done[..ndone].iter().any(|d| d.as_wire() == t) || !snap.contains(t) {
            continue;
        }
        if ndone < done.len() {
            done[ndone] = target.clone();
            ndone += 1;
        }
        let Some(node) = snap.node(t) else { continue };
        let required = cut.is_some_and(|c| is_subdomain(t, c));
        for ty in [Rtype::A, Rtype::AAAA] {
            let Some(addr) = node.rrset(ty) else { continue };
            let mark = w.mark();
            for a in addr.rdatas() {
                if w.rr(Section::Additional, Owner::Name(t), ty, Class::IN, addr.ttl, a).is_err() {
                    w.rollback(mark);
                    if required {
                        w.set_flags(w.flags() | flags::TC);
                    }
                    break;
                }
            }
        }
    }
}

/// Write the negative-answer SOA (TTL min(SOA TTL, MINIMUM)); TC if it does not fit.
pub(crate) fn write_negative_soa(w: &mut ResponseWriter<'_>, snap: &Snapshot) -> bool {
    let soa = snap.apex_node().rrset(Rtype::SOA).expect("zone has SOA");
    let ok = w
        .rr(
            Section::Authority,
            Owner::Name(snap.apex().as_wire()),
            Rtype::SOA,
            Class::IN,
            snap.negative_ttl(),
            soa.first(),
        )
        .is_ok();
    if !ok {
        w.set_flags(w.flags() | flags::TC);
    }
    ok
}

fn lowercase_in_place_buf(n: &mut NameBuf) {
    let mut tmp = [0u8; 255];
    let w = n.as_wire();
    let l = w.len();
    tmp[..l].copy_from_slice(w);
    lowercase_in_place(&mut tmp[..l]);
    let _ = n.set(&tmp[..l]);
}
