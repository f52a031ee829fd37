//! The DNSSEC audit of a zone ([`audit`]): RRsets a signed zone leaves unsigned, and
//! signatures that expire soon or have expired; the NSEC and NSEC3 chains are checked
//! by [`crate::audit::chain`]. The findings are [`DnssecWarning`]s, in canonical order
//! of their owners within each kind.
//!
//! A zone is signed when an RRSIG at the apex covers the SOA. In a signed zone every
//! authoritative RRset must have an RRSIG covering it, except the NS RRset (and any
//! glue) at a delegation, where only DS and NSEC are signed, and everything below a
//! zone cut (glue, occluded data), which is not signed at all (RFC 4035 §2.2).
//!
//! This is a pure function of a snapshot and the time it is given: no clock, no I/O.
//! Signatures are not validated (no key is looked at), only their presence and their
//! validity period.

use crate::audit::chain;
use crate::audit::order::sorted_nodes;
use crate::audit::warning::{DnssecWarning, EXPIRY_WARNING_SECONDS};
use crate::store::denial::Denial;
use crate::store::flags;
use crate::store::node::NodeRef;
use crate::store::snapshot::Snapshot;
use shoal_wire::{Name, Rtype};

/// The type an RRSIG RDATA covers.
pub fn covered(rdata: &[u8]) -> Option<Rtype> {
    Some(Rtype(u16::from_be_bytes(rdata.get(..2)?.try_into().ok()?)))
}

/// Every DNSSEC warning for `snapshot`, at `now` (seconds since 1970, as RRSIG times
/// count them).
pub fn audit(snapshot: &Snapshot, now: u32) -> Vec<DnssecWarning> {
    let nodes = sorted_nodes(snapshot);
    let mut out = Vec::new();
    if snapshot.is_signed() {
        for node in &nodes {
            unsigned(*node, &mut out);
        }
    }
    for node in &nodes {
        expiring(*node, now, &mut out);
    }
    chain::nsec(snapshot, &nodes, &mut out);
    chain::nsec3(snapshot, &nodes, &mut out);
    if let Denial::Nsec3 { params, .. } = snapshot.denial() {
        if !params.hashed() {
            out.push(DnssecWarning::Nsec3Iterations { owner: snapshot.apex().clone(), iterations: params.iterations });
        }
    }
    out
}

fn owner(node: NodeRef<'_>) -> Name {
    Name::from_wire(node.name()).expect("a stored name")
}

/// The RRsets at `node` that must be signed and are not.
fn unsigned(node: NodeRef<'_>, out: &mut Vec<DnssecWarning>) {
    if node.has(flags::BELOW_CUT) {
        return;
    }
    let cut = node.has(flags::DELEGATION);
    let signed: Vec<Rtype> =
        node.rrsets().filter(|s| s.rtype == Rtype::RRSIG).flat_map(|s| s.rdatas().filter_map(covered)).collect();
    for rrset in node.rrsets() {
        let rtype = rrset.rtype;
        let needs = rtype != Rtype::RRSIG && (!cut || rtype == Rtype::DS || rtype == Rtype::NSEC);
        if needs && !signed.contains(&rtype) {
            out.push(DnssecWarning::Unsigned { owner: owner(node), rtype });
        }
    }
}

/// The RRSIGs at `node` that expire within [`EXPIRY_WARNING_SECONDS`] of `now`, or
/// already have (times compared in serial-number arithmetic, RFC 4034 §3.1.5).
fn expiring(node: NodeRef<'_>, now: u32, out: &mut Vec<DnssecWarning>) {
    for rrset in node.rrsets().filter(|s| s.rtype == Rtype::RRSIG) {
        for rd in rrset.rdatas() {
            let (Some(covered), Some(fixed)) = (covered(rd), rd.get(8..18)) else { continue };
            let expiration = u32::from_be_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]);
            let key_tag = u16::from_be_bytes([fixed[8], fixed[9]]);
            let left = expiration.wrapping_sub(now) as i32;
            if left <= 0 {
                out.push(DnssecWarning::Expired { owner: owner(node), covered, key_tag, expiration });
            } else if left < EXPIRY_WARNING_SECONDS as i32 {
                out.push(DnssecWarning::Expiring { owner: owner(node), covered, key_tag, expiration });
            }
        }
    }
}
