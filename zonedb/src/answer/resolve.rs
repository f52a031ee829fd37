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
//! - ANY gets one RRset (RFC 8482 §4.1), over TCP too, as Knot and NSD answer; RRSIG
//!   gets the signatures of one RRset, as Knot answers (SIG gets every set, as NSD and
//!   BIND answer).
//! - Truncation happens at an RRset boundary: a required RRset that does not fit sets
//!   TC; additional-section records that do not fit are left out, except glue for
//!   in-bailiwick name servers of a referral, whose absence sets TC (RFC 9471).
//! - The negative-answer SOA has TTL min(SOA TTL, MINIMUM) (RFC 2308 §3).
//! - DO queries to a signed zone (RFC 4035 §3.1) get the RRSIGs of every RRset in every
//!   section with it (a signed RRset and its signatures go in together or not at all),
//!   the DS of a secure referral, and the NSEC or NSEC3 proofs ([`crate::answer::proof`])
//!   of a denial, a wildcard expansion or an insecure referral. A DNAME is signed, the
//!   CNAME synthesized from it is not. The exact match of a DO query is a precompiled
//!   block too (the one kept with the RRSIG set, `store::snapshot::set_block`); a DO
//!   denial is the precompiled signed SOA followed by its proofs.

use crate::answer::lookup::Lookup;
use crate::answer::proof::{suffix, Denied, Prover};
use crate::store::encode::{rrset_and_sigs, sigs_of, write_additional, write_negative_soa, write_rrset, write_signed};
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
    /// A DO query to a signed zone: RRSIGs and proofs go in.
    dnssec: bool,
}

/// The names answered from a wildcard along a CNAME chain, each with its closest
/// encloser's label count: their proofs go in authority once the answer is complete.
#[derive(Default)]
struct Expanded {
    names: [(NameBuf, usize); MAX_CHAIN + 1],
    count: usize,
}

impl Expanded {
    fn push(&mut self, name: &NameBuf, encloser: &[u8]) {
        if self.count < self.names.len() {
            self.names[self.count] = (name.clone(), shoal_wire::name::label_count(encloser));
            self.count += 1;
        }
    }
}

impl<'a, 'b, 'w> Resolver<'a, 'b, 'w> {
    pub(crate) fn new(snap: &'a Snapshot, req: &'a Request<'b>, w: &'a mut ResponseWriter<'w>) -> Self {
        let dnssec = snap.is_signed() && req.dnssec_ok();
        Resolver { snap, req, w, dnssec }
    }

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
    /// referrals (with DO: exact matches, denials followed by their proofs, referrals
    /// with their DS or NSEC). `None` sends the query down the general path (CNAME,
    /// DNAME, wildcard, ANY, a referral with an NSEC3 proof, or a block that does not fit
    /// and needs truncating record by record).
    fn precompiled(&mut self) -> Option<(Rcode, AnswerKind)> {
        let q = self.req.qname.as_wire();
        let qtype = self.req.qtype;
        // ANY picks one RRset, RRSIG and SIG take every signature set: the general path.
        if qtype == Rtype::ANY || qtype == Rtype::RRSIG || qtype == Rtype::SIG {
            return None;
        }
        let negative_delta = (q.len() - self.snap.apex().as_wire().len()) as isize;
        let negative = if self.dnssec { self.snap.negative_do_block() } else { self.snap.negative_block() };
        let (block, delta, rcode, kind, aa, denied) = match self.snap.lookup(q, qtype) {
            Lookup::Found { node } => {
                if follows_cname(qtype) && node.rrset(Rtype::CNAME).is_some() {
                    return None;
                }
                match rrset_and_sigs(node, qtype, self.dnssec) {
                    (Some(r), signed) => {
                        let block = signed.map_or(r.block(), |s| s.block());
                        (block, 0, Rcode::NOERROR, AnswerKind::Positive, true, None)
                    }
                    (None, _) => {
                        let denied = Denied::NoData { name: node.name() };
                        (negative.as_ref(), negative_delta, Rcode::NOERROR, AnswerKind::NoData, true, Some(denied))
                    }
                }
            }
            Lookup::NxDomain { encloser } => {
                let denied = Denied::NxDomain { name: q, encloser };
                (negative.as_ref(), negative_delta, Rcode::NXDOMAIN, AnswerKind::NxDomain, true, Some(denied))
            }
            Lookup::Referral { cut, node } => {
                // With DO, the referral compiled with its DS or NSEC; without one (an
                // NSEC3 proof), the general path.
                let b = if self.dnssec { node.referral_do()? } else { node.referral()? };
                (b, (q.len() - cut.len()) as isize, Rcode::NOERROR, AnswerKind::Referral, false, None)
            }
            _ => return None,
        };
        if block.is_empty() {
            return None;
        }
        self.w.precompiled(block.bytes, block.pointers(), delta, block.counts).ok()?;
        self.set_aa(aa);
        if let Some(d) = denied.filter(|_| self.dnssec) {
            Prover::new(self.snap, self.w).prove(d);
        }
        Some((rcode, kind))
    }

    fn general(mut self) -> (Rcode, AnswerKind) {
        let qtype = self.req.qtype;
        let mut name = self.req.qname.clone();
        let mut visited: [NameBuf; MAX_CHAIN] = Default::default();
        let mut expanded = Expanded::default();
        let mut links = 0;
        self.set_aa(true);
        loop {
            // The owner of what we write for `name`: the question itself, or a target.
            let owner_is_q = links == 0;
            match self.snap.lookup(name.as_wire(), qtype) {
                Lookup::NxDomain { encloser } => {
                    let denied = Denied::NxDomain { name: name.as_wire(), encloser };
                    return self.negative(Rcode::NXDOMAIN, AnswerKind::NxDomain, denied, &expanded);
                }
                Lookup::Referral { cut, node } => {
                    if links == 0 {
                        self.set_aa(false);
                    }
                    return self.referral(cut, node, &expanded);
                }
                Lookup::Dname { owner, node } => {
                    let dname = node.rrset(Rtype::DNAME).expect("DNAME flag set");
                    if !self.write_signed(Section::Answer, Owner::Name(owner), node, dname) {
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
                        return self.answered(&expanded);
                    }
                }
                found @ (Lookup::Found { node } | Lookup::Wildcard { node, .. }) => {
                    let owner = if owner_is_q { Owner::Question } else { Owner::Name(name.as_wire()) };
                    let wildcard = match found {
                        Lookup::Wildcard { encloser, .. } => Some(encloser),
                        _ => None,
                    };
                    if follows_cname(qtype) {
                        if let Some(cname) = node.rrset(Rtype::CNAME) {
                            if !self.write_signed(Section::Answer, owner, node, cname) {
                                return (Rcode::NOERROR, AnswerKind::Positive);
                            }
                            if let Some(encloser) = wildcard {
                                expanded.push(&name, encloser);
                            }
                            let mut t = NameBuf::default();
                            if t.set(cname.first()).is_err() {
                                return self.answered(&expanded);
                            }
                            t.make_lowercase();
                            if !self.follow(&mut name, &t, &mut visited, &mut links) {
                                return self.answered(&expanded);
                            }
                            continue;
                        }
                    }
                    return self.at_node(node, owner, name.as_wire(), wildcard, &expanded);
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

    /// Answer `qtype` from the node at `name`, or from the wildcard below `wildcard`
    /// that `name` matched.
    fn at_node(
        &mut self,
        node: NodeRef<'_>,
        owner: Owner<'_>,
        name: &[u8],
        wildcard: Option<&[u8]>,
        expanded: &Expanded,
    ) -> (Rcode, AnswerKind) {
        let qtype = self.req.qtype;
        // Without data, the wildcard's own NODATA proof covers the name it matched;
        // with data, this name's expansion is proven after the earlier ones.
        let (nodata, this) = match wildcard {
            Some(encloser) => (Denied::WildcardNoData { name, encloser }, Some((name, encloser))),
            None => (Denied::NoData { name }, None),
        };
        if qtype == Rtype::ANY {
            // RFC 8482 §4.1: one RRset, over UDP and TCP alike (Knot and NSD do so).
            let Some(first) = node.rrsets().find(|r| r.rtype != Rtype::RRSIG) else {
                return self.negative(Rcode::NOERROR, AnswerKind::NoData, nodata, expanded);
            };
            if self.write_signed(Section::Answer, owner, node, first) {
                self.prove_expanded(expanded, this);
                write_additional(self.w, self.snap, first, None, self.dnssec);
            }
            return (Rcode::NOERROR, AnswerKind::Positive);
        }
        if qtype == Rtype::RRSIG || qtype == Rtype::SIG {
            // RRSIG: the signatures of one RRset, the first by type covered, as Knot
            // answers (like ANY, RFC 8482 §4.1: the client learns the name is signed).
            // SIG: every set at the name, as NSD and BIND answer.
            let mut sets =
                node.rrsets().filter(|r| r.rtype == qtype).take(if qtype == Rtype::RRSIG { 1 } else { usize::MAX });
            let Some(first) = sets.next() else {
                return self.negative(Rcode::NOERROR, AnswerKind::NoData, nodata, expanded);
            };
            let mut fit = self.write_rrset(Section::Answer, owner, first);
            for set in sets {
                fit = fit && self.write_rrset(Section::Answer, owner, set);
            }
            if fit {
                self.prove_expanded(expanded, this);
            }
            return (Rcode::NOERROR, AnswerKind::Positive);
        }
        let Some(rrset) = node.rrset(qtype) else {
            return self.negative(Rcode::NOERROR, AnswerKind::NoData, nodata, expanded);
        };
        if self.write_signed(Section::Answer, owner, node, rrset) {
            self.prove_expanded(expanded, this);
            write_additional(self.w, self.snap, rrset, None, self.dnssec);
        }
        (Rcode::NOERROR, AnswerKind::Positive)
    }

    /// A positive answer is complete: the proofs of its wildcard expansions follow.
    fn answered(&mut self, expanded: &Expanded) -> (Rcode, AnswerKind) {
        self.prove_expanded(expanded, None);
        (Rcode::NOERROR, AnswerKind::Positive)
    }

    /// With DO, the proofs that no closer name exists for each wildcard expansion of the
    /// answer: those of `expanded`, then `this` (a name and its closest encloser).
    fn prove_expanded(&mut self, expanded: &Expanded, this: Option<(&[u8], &[u8])>) {
        if !self.dnssec || (expanded.count == 0 && this.is_none()) {
            return;
        }
        let mut prover = Prover::new(self.snap, self.w);
        let earlier = expanded.names[..expanded.count].iter().map(|(n, l)| (n.as_wire(), suffix(n.as_wire(), *l)));
        for (name, encloser) in earlier.chain(this) {
            if !prover.prove(Denied::WildcardAnswer { name, encloser }) {
                return;
            }
        }
    }

    fn referral(&mut self, cut: &[u8], node: NodeRef<'_>, expanded: &Expanded) -> (Rcode, AnswerKind) {
        let ns = node.rrset(Rtype::NS).expect("delegation has NS");
        if !self.write_rrset(Section::Authority, Owner::Name(cut), ns) {
            return (Rcode::NOERROR, AnswerKind::Referral);
        }
        if self.dnssec {
            let fit = match node.rrset(Rtype::DS) {
                Some(ds) => self.write_signed(Section::Authority, Owner::Name(cut), node, ds),
                None => Prover::new(self.snap, self.w).prove(Denied::Insecure { cut }),
            };
            if !fit {
                return (Rcode::NOERROR, AnswerKind::Referral);
            }
            self.prove_expanded(expanded, None);
        }
        write_additional(self.w, self.snap, ns, Some(cut), self.dnssec);
        (Rcode::NOERROR, AnswerKind::Referral)
    }

    /// NXDOMAIN or NODATA: the SOA in authority with the negative TTL, and with DO its
    /// RRSIGs and the proof of `denied` (and of the wildcards the answer expanded).
    fn negative(
        &mut self,
        rcode: Rcode,
        kind: AnswerKind,
        denied: Denied<'_>,
        expanded: &Expanded,
    ) -> (Rcode, AnswerKind) {
        let apex = self.snap.apex_node();
        let soa = apex.rrset(Rtype::SOA).expect("a zone has its SOA");
        let sigs = if self.dnssec { sigs_of(apex, Rtype::SOA) } else { None };
        if write_negative_soa(self.w, self.snap.apex().as_wire(), soa, sigs, self.snap.negative_ttl()) && self.dnssec {
            self.prove_expanded(expanded, None);
            Prover::new(self.snap, self.w).prove(denied);
        }
        (rcode, kind)
    }

    fn truncated(&mut self, kind: AnswerKind) -> (Rcode, AnswerKind) {
        self.w.set_flags(self.w.flags() | flags::TC);
        (Rcode::NOERROR, kind)
    }

    fn write_rrset(&mut self, section: Section, owner: Owner<'_>, rrset: RrsetRef<'_>) -> bool {
        write_rrset(self.w, section, owner, rrset)
    }

    /// An RRset of `node`, with its RRSIGs when the query has DO.
    fn write_signed(&mut self, section: Section, owner: Owner<'_>, node: NodeRef<'_>, rrset: RrsetRef<'_>) -> bool {
        let sigs = if self.dnssec { sigs_of(node, rrset.rtype) } else { None };
        write_signed(self.w, section, owner, rrset, sigs)
    }

    fn set_aa(&mut self, on: bool) {
        let f = self.w.flags();
        self.w.set_flags(if on { f | flags::AA } else { f & !flags::AA });
    }
}

/// Whether a CNAME at the name is followed for `qtype`: not when the CNAME itself, one
/// RRset (ANY) or what sits beside a CNAME (its NSEC and RRSIGs, RFC 4035 §2.5) is asked.
fn follows_cname(qtype: Rtype) -> bool {
    !matches!(qtype, Rtype::CNAME | Rtype::ANY | Rtype::RRSIG | Rtype::NSEC)
}
