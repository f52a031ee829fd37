//! RRsets as they go into a response: the one encoder that compiling and answering share.
//!
//! Compiling a version writes each RRset's answer, a cut's referral and the negative
//! SOA through these functions into precompiled blocks ([`crate::store::block`]); the
//! answer path writes the cases that blocks do not cover (CNAME chains, wildcards, ANY,
//! truncation record by record) through the same functions, so both produce the same
//! bytes. An RRset goes in whole or not at all: a required RRset that does not fit sets
//! TC. Additional-section addresses are read from the zone through [`ZoneNodes`], the
//! only thing this module knows of a zone besides its nodes.

use crate::store::node::{NodeRef, RrsetRef};
use shoal_wire::name::{is_subdomain, NameBuf};
use shoal_wire::types::flags;
use shoal_wire::writer::{Owner, ResponseWriter, Section};
use shoal_wire::{Class, Rtype};

/// The nodes of a zone, for the addresses of the names its records point to.
pub trait ZoneNodes {
    /// The apex, lowercase wire.
    fn apex_wire(&self) -> &[u8];
    /// The node at exactly `name` (lowercase wire).
    fn node(&self, name: &[u8]) -> Option<NodeRef<'_>>;
}

/// Write a whole RRset or nothing; on failure set TC. Returns whether it fit.
pub fn write_rrset(w: &mut ResponseWriter<'_>, section: Section, owner: Owner<'_>, rrset: RrsetRef<'_>) -> bool {
    put_rrset(w, section, owner, rrset, rrset.ttl) || truncate(w)
}

/// Write a whole RRset with `ttl`, or nothing (and leave TC alone).
fn put_rrset(w: &mut ResponseWriter<'_>, section: Section, owner: Owner<'_>, rrset: RrsetRef<'_>, ttl: u32) -> bool {
    let mark = w.mark();
    for rd in rrset.rdatas() {
        if w.rr(section, owner, rrset.rtype, Class::IN, ttl, rd).is_err() {
            w.rollback(mark);
            return false;
        }
    }
    true
}

fn truncate(w: &mut ResponseWriter<'_>) -> bool {
    w.set_flags(w.flags() | flags::TC);
    false
}

/// The RRSIGs at `node` that cover its RRset of type `t`.
#[inline]
pub fn sigs_of(node: NodeRef<'_>, t: Rtype) -> Option<RrsetRef<'_>> {
    node.rrsets().find(|r| r.rtype == Rtype::RRSIG && r.key().1 == t.0)
}

/// The RRset of type `t` at `node` and, when `signed`, the RRSIGs that cover it: one
/// pass over the node's sets.
#[inline]
pub fn rrset_and_sigs(node: NodeRef<'_>, t: Rtype, signed: bool) -> (Option<RrsetRef<'_>>, Option<RrsetRef<'_>>) {
    let (mut set, mut sigs) = (None, None);
    for r in node.rrsets() {
        if r.rtype == t {
            set = Some(r);
            if !signed || sigs.is_some() {
                break;
            }
        } else if signed && r.rtype == Rtype::RRSIG && sigs.is_none() && r.key().1 == t.0 {
            sigs = Some(r);
            if set.is_some() {
                break;
            }
        }
    }
    (set, sigs)
}

/// Write an RRset and the RRSIGs that cover it, both or neither (RFC 4035 §3.1.1);
/// when they do not fit, TC is set. In the additional section nothing sets TC, and an
/// RRset whose RRSIGs do not fit stays without them. Returns whether the RRset went in.
pub fn write_signed(
    w: &mut ResponseWriter<'_>,
    section: Section,
    owner: Owner<'_>,
    rrset: RrsetRef<'_>,
    sigs: Option<RrsetRef<'_>>,
) -> bool {
    write_signed_ttl(w, section, owner, rrset, sigs, rrset.ttl)
}

/// [`write_signed`] with the TTL of both sets replaced (the negative-answer SOA).
fn write_signed_ttl(
    w: &mut ResponseWriter<'_>,
    section: Section,
    owner: Owner<'_>,
    rrset: RrsetRef<'_>,
    sigs: Option<RrsetRef<'_>>,
    ttl: u32,
) -> bool {
    let mark = w.mark();
    if !put_rrset(w, section, owner, rrset, ttl) {
        w.rollback(mark);
        if section != Section::Additional {
            truncate(w);
        }
        return false;
    }
    let Some(sigs) = sigs else { return true };
    let with_set = w.mark();
    if put_rrset(w, section, owner, sigs, ttl) {
        return true;
    }
    if section == Section::Additional {
        // RFC 4035 §3.1.1: an additional RRset may stay without its RRSIGs, and TC is
        // not set for them (Knot keeps the address, as here).
        w.rollback(with_set);
        return true;
    }
    w.rollback(mark);
    truncate(w)
}

/// Where the name whose addresses go in the additional section sits in the RDATA of
/// `t` (NS, MX, SRV, as the record-type table says); `None` for other types.
#[inline]
pub fn target_offset(t: Rtype) -> Option<usize> {
    shoal_wire::rdata::descriptor(t)?.additional_target()
}

/// Addresses of MX, NS and SRV targets that live in `zone`, each with its RRSIGs when
/// `dnssec` (glue has none). For a referral (`cut` set), glue below the cut is
/// required: if it does not fit, TC is set (RFC 9471).
pub fn write_additional(
    w: &mut ResponseWriter<'_>,
    zone: &impl ZoneNodes,
    rrset: RrsetRef<'_>,
    cut: Option<&[u8]>,
    dnssec: bool,
) {
    let Some(at) = target_offset(rrset.rtype) else { return };
    let mut done: [NameBuf; 8] = Default::default();
    let mut ndone = 0;
    for rd in rrset.rdatas() {
        let mut target = NameBuf::default();
        if rd.len() <= at || target.set(&rd[at..]).is_err() {
            continue;
        }
        target.make_lowercase();
        let t = target.as_wire();
        if done[..ndone].iter().any(|d| d.as_wire() == t) || !is_subdomain(t, zone.apex_wire()) {
            continue;
        }
        if ndone < done.len() {
            done[ndone] = target.clone();
            ndone += 1;
        }
        let Some(node) = zone.node(t) else { continue };
        let required = cut.is_some_and(|c| is_subdomain(t, c));
        for ty in [Rtype::A, Rtype::AAAA] {
            let Some(addr) = node.rrset(ty) else { continue };
            let sigs = if dnssec { sigs_of(node, ty) } else { None };
            if !write_signed(w, Section::Additional, Owner::Name(t), addr, sigs) && required {
                truncate(w);
            }
        }
    }
}

/// Write the negative-answer SOA of the zone at `apex` with `ttl` (min(SOA TTL,
/// MINIMUM), RFC 2308 §3) into authority, with its RRSIGs at the same TTL when `sigs`
/// are given; TC if it does not fit.
pub fn write_negative_soa(
    w: &mut ResponseWriter<'_>,
    apex: &[u8],
    soa: RrsetRef<'_>,
    sigs: Option<RrsetRef<'_>>,
    ttl: u32,
) -> bool {
    write_signed_ttl(w, Section::Authority, Owner::Name(apex), soa, sigs, ttl)
}
