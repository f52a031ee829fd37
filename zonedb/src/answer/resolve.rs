//! Answering a query from the zone that holds its name (RFC 1034 §4.3.2 step 3 on,
//! RFC 4592, RFC 6672, RFC 8482, RFC 9471).
//!
//! Exact matches, NODATA, NXDOMAIN and referrals are copied from the blocks compiled
//! with the zone; CNAME and DNAME chains, wildcards, ANY and answers that need
//! truncating record by record are written through the shared RRset encoder
//! ([`crate::store::encode`]), so both paths give the same bytes.
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

use crate::answer::lookup::Lookup;
use crate::store::encode::{write_additional, write_negative_soa, write_rrset};
use crate::store::node::{NodeRef, RrsetRef};
use crate::store::snapshot::Snapshot;
use shoal_wire::name::{is_subdomain, NameBuf};
use shoal_wire::request::Request;
use shoal_wire::types::flags;
use shoal_wire::writer::{Owner, ResponseWriter, Section};
use shoal_wire::{Class, Rcode, Rtype};

/// Links of a CNAME/DNAME chain followed before giving up.
pub const MAX_CHAIN: usize = 8;

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

/// Answering one query from one zone: RFC 1034 §4.3.2 from the step that has found
/// the zone.
pub(crate) struct Resolver<'a, 'b, 'w> {
    pub(crate) snap: &'a Snapshot,
    pub(crate) req: &'a Request<'b>,
    pub(crate) w: &'a mut ResponseWriter<'w>,
}

impl Resolver<'_, '_, '_> {
    /// Write the answer; `precompiled` takes the common cases from the blocks compiled
    /// with the zone (always, but for tests that compare both paths).
    pub(crate) fn run(mut self, precompiled: bool) -> (Rcode, AnswerKind) {
        if precompiled {
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
        // ANY picks one RRset, RRSIG and SIG take every signature set: the general path.
        if qtype == Rtype::ANY || qtype == Rtype::RRSIG || qtype == Rtype::SIG {
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
                    t.make_lowercase();
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
                            t.make_lowercase();
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
        if qtype == Rtype::RRSIG || qtype == Rtype::SIG {
            // Every signature at the name, one set per type covered, as NSD answers.
            let mut any = false;
            for set in node.rrsets().filter(|r| r.rtype == qtype) {
                any = true;
                if !self.write_rrset(Section::Answer, owner, set) {
                    break;
                }
            }
            if !any {
                return self.negative(Rcode::NOERROR, AnswerKind::NoData);
            }
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
        let soa = self.snap.apex_node().rrset(Rtype::SOA).expect("a zone has its SOA");
        write_negative_soa(self.w, self.snap.apex().as_wire(), soa, self.snap.negative_ttl());
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
