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
/// `t` (NS, MX, SRV, as the record-type table says); `None` for other types.
#[inline]
pub fn target_offset(t: Rtype) -> Option<usize> {
    shoal_wire::rdata::descriptor(t)?.additional_target()
}

/// Addresses of MX, NS and SRV targets that live in `zone`. For a referral (`cut`
/// set), glue below the cut is required: if it does not fit, TC is set (RFC 9471).
pub fn write_additional(w: &mut ResponseWriter<'_>, zone: &impl ZoneNodes, rrset: RrsetRef<'_>, cut: Option<&[u8]>) {
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

/// Write the negative-answer SOA of the zone at `apex` with `ttl` (min(SOA TTL,
/// MINIMUM), RFC 2308 §3) into authority; TC if it does not fit.
pub fn write_negative_soa(w: &mut ResponseWriter<'_>, apex: &[u8], soa: RrsetRef<'_>, ttl: u32) -> bool {
    let ok = w.rr(Section::Authority, Owner::Name(apex), Rtype::SOA, Class::IN, ttl, soa.first()).is_ok();
    if !ok {
        w.set_flags(w.flags() | flags::TC);
    }
    ok
}
