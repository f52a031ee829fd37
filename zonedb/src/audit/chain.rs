//! The NSEC and NSEC3 chains of a zone, checked link by link.
//!
//! NSEC (RFC 4034 §4.1.1): the owners with an NSEC, outside delegated data, in
//! canonical order; each NSEC's next owner name must be the next of them (compared
//! without case), and the last one's the apex; every owner with data outside delegated
//! and DNAME-occluded data must have one (RFC 4035 §2.3). NSEC3 (RFC 5155 §3.1.7): the NSEC3
//! records of one chain (same hash algorithm, iterations and salt), ordered by the hash
//! their owner label carries; each next hashed owner field must be the next hash, and
//! the last one's the first. A chain is checked only when the zone has one.

use crate::audit::warning::DnssecWarning;
use crate::store::chain::Nsec3Params;
use crate::store::flags;
use crate::store::node::NodeRef;
use crate::store::snapshot::Snapshot;
use shoal_wire::name::{label_count, uncompressed_len};
use shoal_wire::rdata::text::{base32hex, push_base32hex};
use shoal_wire::{Name, Rtype};
use std::collections::BTreeMap;

fn owner(node: NodeRef<'_>) -> Name {
    Name::from_wire(node.name()).expect("a stored name")
}

/// Links of the NSEC chain that do not point to the next owner, and, once the zone has
/// a chain, the owners with data left out of it (RFC 4035 §2.3: every authoritative
/// owner and delegation point has an NSEC, the apex too); `nodes` are the zone's nodes
/// in canonical order.
pub fn nsec(snapshot: &Snapshot, nodes: &[NodeRef<'_>], out: &mut Vec<DnssecWarning>) {
    let chain: Vec<NodeRef<'_>> =
        nodes.iter().copied().filter(|n| !n.has(flags::BELOW_CUT) && n.rrset(Rtype::NSEC).is_some()).collect();
    if !chain.is_empty() {
        let occluded = flags::BELOW_CUT | flags::BELOW_DNAME;
        for node in nodes.iter().filter(|n| !n.has(occluded) && !n.is_empty() && n.rrset(Rtype::NSEC).is_none()) {
            out.push(DnssecWarning::NsecMissing { owner: owner(*node) });
        }
    }
    for (i, node) in chain.iter().enumerate() {
        let expected = chain.get(i + 1).map_or(snapshot.apex().as_wire(), |n| n.name());
        let set = node.rrset(Rtype::NSEC).expect("filtered on NSEC");
        for rd in set.rdatas() {
            let Some(next) = uncompressed_len(rd).and_then(|l| Name::from_wire(&rd[..l]).ok()) else { continue };
            if next.as_wire() != expected {
                let expected = Name::from_wire(expected).expect("a stored name");
                out.push(DnssecWarning::NsecChain { owner: owner(*node), next, expected });
            }
        }
    }
}

/// One NSEC3 record of a chain: the hash its owner carries, its next hashed owner.
struct Link<'n> {
    node: NodeRef<'n>,
    hash: Vec<u8>,
    next: Vec<u8>,
}

/// The chain an NSEC3 RDATA belongs to (hash algorithm, iterations, salt), and its next
/// hashed owner.
fn nsec3_fields(rd: &[u8]) -> Option<(Nsec3Params, Vec<u8>)> {
    let params = Nsec3Params::parse(rd)?;
    let at = 5 + params.salt.len();
    let next = rd.get(at + 1..at + 1 + usize::from(*rd.get(at)?))?;
    Some((params, next.to_vec()))
}

fn base32(bytes: &[u8]) -> String {
    let mut s = String::new();
    push_base32hex(&mut s, bytes);
    s
}

/// Links of each NSEC3 chain that do not point to the next hash, and NSEC3 owners that
/// are not a hash label right below the apex.
pub fn nsec3(snapshot: &Snapshot, nodes: &[NodeRef<'_>], out: &mut Vec<DnssecWarning>) {
    let below_apex = snapshot.apex_labels() + 1;
    let mut chains: BTreeMap<Nsec3Params, Vec<Link<'_>>> = BTreeMap::new();
    for &node in nodes {
        let Some(set) = node.rrset(Rtype::NSEC3) else { continue };
        let name = node.name();
        let label = std::str::from_utf8(&name[1..1 + usize::from(name[0])]).ok();
        let hash = label.filter(|_| label_count(name) == below_apex).and_then(|l| base32hex(l).ok());
        let Some(hash) = hash else {
            out.push(DnssecWarning::Nsec3Owner { owner: owner(node) });
            continue;
        };
        for rd in set.rdatas() {
            if let Some((params, next)) = nsec3_fields(rd) {
                chains.entry(params).or_default().push(Link { node, hash: hash.clone(), next });
            }
        }
    }
    for links in chains.values_mut() {
        links.sort_by(|a, b| a.hash.cmp(&b.hash));
        for (i, link) in links.iter().enumerate() {
            let expected = &links[(i + 1) % links.len()].hash;
            if &link.next != expected {
                out.push(DnssecWarning::Nsec3Chain {
                    owner: owner(link.node),
                    next: base32(&link.next),
                    expected: base32(expected),
                });
            }
        }
    }
}
