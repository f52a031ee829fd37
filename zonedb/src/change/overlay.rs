//! Deriving a new version of a zone from the one held by changing a few owners, sharing
//! everything else ([`derive`], used by [`crate::change::apply::apply`]).
//!
//! The new snapshot keeps the old one's `base` node map (an `Arc`) and copies only its
//! `delta`, the nodes changed since that base was compiled; the changed owners are added
//! to it. Besides the changed nodes themselves, these are rebuilt:
//!
//! - empty non-terminals created above a new name, or removed with the last name below
//!   them (each node counts its children), and the wildcard flag of a parent;
//! - the precompiled answers that carry a changed name's addresses or their RRSIGs:
//!   the owners of the NS, MX and SRV records that point to it (the base's referrer
//!   index, and a scan of the delta), including the referrals whose glue it is;
//! - the negative-answer SOA, signed and not;
//! - the denial chain: names that gained or lost an NSEC or NSEC3 are added to or
//!   removed from it beside the sorted keys the versions share.
//!
//! The cost follows the number of changed owners (and the size of the delta), not the
//! size of the zone. Two changes are not done in place: a zone cut or DNAME appearing or
//! disappearing above existing names changes the flags of everything below it, and a
//! new kind of denial chain (NSEC to NSEC3, new NSEC3 parameters) changes every link;
//! the caller then rebuilds the zone from its records (`Derived::Rebuild`).

use crate::change::error::ApplyError;
use crate::store::block::Block;
use crate::store::denial::Denial;
use crate::store::encode::sigs_of;
use crate::store::flags;
use crate::store::namehash::{NameMap, NameSet};
use crate::store::node::{set_key, Node, NodeData, NodeRef, Rrset, RrsetRef};
use crate::store::snapshot::{serial_and_negative_ttl, targets, Snapshot};
use shoal_wire::name::{is_subdomain, Display};
use shoal_wire::{Name, Rtype};
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One owner's records after the change: (type, RDATA) → TTL.
pub(crate) type Records = BTreeMap<(Rtype, Box<[u8]>), u32>;

/// What [`derive`] made.
pub(crate) enum Derived {
    Done(Box<Snapshot>),
    /// A cut or DNAME above existing names appeared or went away, or the kind of
    /// denial chain changed.
    Rebuild,
}

/// The records of `node` in the form [`derive`] takes.
pub(crate) fn records_at(node: Option<NodeRef<'_>>) -> Records {
    let mut m = Records::new();
    for r in node.into_iter().flat_map(|n| n.rrsets()) {
        for rd in r.rdatas() {
            m.insert((r.rtype, rd.into()), r.ttl);
        }
    }
    m
}

/// Group records into RRsets as compiling does: sorted by type and RDATA, one set per
/// [`set_key`] (RRSIGs by the type they cover), one TTL per set (the lowest).
fn rrsets_of(records: Records) -> Vec<Rrset> {
    let mut out: Vec<Rrset> = Vec::new();
    let mut rdatas: Vec<Box<[u8]>> = Vec::new();
    let mut current: Option<((Rtype, u16), u32)> = None;
    for ((t, rd), ttl) in records {
        let key = set_key(t, &rd);
        if let Some((ck, cttl)) = current {
            if ck != key {
                out.push(Rrset { rtype: ck.0, ttl: cttl, rdatas: std::mem::take(&mut rdatas) });
                current = None;
            }
        }
        let c = current.get_or_insert((key, ttl));
        c.1 = c.1.min(ttl);
        rdatas.push(rd);
    }
    if let Some((key, ttl)) = current {
        out.push(Rrset { rtype: key.0, ttl, rdatas });
    }
    out
}

/// The checks compiling makes of one owner's RRsets.
fn validate(owner: &[u8], apex: &[u8], rrsets: &[Rrset]) -> Result<(), ApplyError> {
    let has = |t: Rtype| rrsets.iter().find(|r| r.rtype == t);
    let invalid = |what: &str| Err(ApplyError::Invalid(format!("{}: {what}", Display(owner))));
    if let Some(soa) = has(Rtype::SOA) {
        if owner != apex || soa.rdatas.len() > 1 {
            return invalid("SOA not alone at the apex");
        }
    } else if owner == apex {
        return invalid("the apex has no SOA");
    }
    if let Some(c) = has(Rtype::CNAME) {
        if c.rdatas.len() > 1 {
            return invalid("several CNAME records");
        }
        if rrsets.iter().any(|r| !matches!(r.rtype, Rtype::CNAME | Rtype::RRSIG | Rtype::NSEC)) {
            return invalid("CNAME beside other data");
        }
    }
    Ok(())
}

/// Flags a node has because of its own records.
fn own_flags(owner: &[u8], apex: &[u8], rrsets: &[Rrset]) -> u8 {
    let has = |t: Rtype| rrsets.iter().any(|r| r.rtype == t);
    let mut f = 0;
    if owner == apex {
        f |= flags::APEX;
    } else if has(Rtype::NS) {
        f |= flags::DELEGATION;
    }
    if has(Rtype::DNAME) {
        f |= flags::DNAME;
    }
    f
}

/// Whether two versions of a name carry the same addresses and address signatures
/// (what other answers copy).
fn same_addresses(a: NodeRef<'_>, b: &[Rrset]) -> bool {
    let same = |x: Option<RrsetRef<'_>>, y: Option<&Rrset>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => x.ttl == y.ttl && x.rdatas().eq(y.rdatas.iter().map(|r| &r[..])),
        _ => false,
    };
    let sig_of = |t: Rtype| b.iter().find(|r| r.rtype == Rtype::RRSIG && set_key(r.rtype, &r.rdatas[0]).1 == t.0);
    [Rtype::A, Rtype::AAAA]
        .iter()
        .all(|&t| same(a.rrset(t), b.iter().find(|r| r.rtype == t)) && same(sigs_of(a, t), sig_of(t)))
}

fn parent(name: &[u8]) -> &[u8] {
    &name[1 + name[0] as usize..]
}

/// The nodes being changed, loaded from the old version when first touched.
struct Work<'s> {
    old: &'s Snapshot,
    nodes: NameMap<Name, Option<NodeData>>,
}

impl Work<'_> {
    fn slot(&mut self, name: &[u8]) -> &mut Option<NodeData> {
        if !self.nodes.contains_key(name) {
            let n = self.old.node(name).map(|n| n.to_data());
            self.nodes.insert(Name::from_wire(name).expect("a name of this zone"), n);
        }
        self.nodes.get_mut(name).expect("just inserted")
    }

    fn flags_of(&mut self, name: &[u8]) -> u8 {
        self.slot(name).as_ref().map_or(0, |n| n.flags)
    }
}

/// Apply `changes` (each touched owner's complete new records) to `old`.
pub(crate) fn derive(old: &Snapshot, changes: &NameMap<Name, Records>) -> Result<Derived, ApplyError> {
    let apex = old.apex.as_wire().to_vec();
    let apex = apex.as_slice();
    let mut work = Work { old, nodes: NameMap::default() };
    let mut records = old.records as i64;
    let mut created: Vec<Name> = Vec::new();
    let mut emptied: Vec<Name> = Vec::new();
    let mut moved: Vec<Name> = Vec::new();
    for (owner, recs) in changes {
        let o = owner.as_wire();
        if !is_subdomain(o, apex) {
            return Err(ApplyError::Invalid(format!("{} is outside the zone", Display(o))));
        }
        let prev = old.node(o);
        records -= prev.map_or(0, |n| n.record_count()) as i64;
        records += recs.len() as i64;
        let rrsets = rrsets_of(recs.clone());
        validate(o, apex, &rrsets)?;
        let own = own_flags(o, apex, &rrsets);
        let structural = flags::DELEGATION | flags::DNAME;
        let (inherited, children) = match prev {
            Some(p) => {
                if p.children() > 0 && p.flags() & structural != own & structural {
                    return Ok(Derived::Rebuild);
                }
                if !same_addresses(p, &rrsets) {
                    moved.push(owner.clone());
                }
                (p.flags() & (flags::BELOW_CUT | flags::BELOW_DNAME | flags::WILDCARD_CHILD), p.children())
            }
            None => {
                created.push(owner.clone());
                moved.push(owner.clone());
                (0, 0)
            }
        };
        if rrsets.is_empty() {
            emptied.push(owner.clone());
        }
        let node = NodeData { flags: own | inherited, children, rrsets };
        work.nodes.insert(owner.clone(), Some(node));
    }

    // New names: link each to its parent, creating empty non-terminals up to an existing
    // node; parents first, so a new name inherits "below a cut" from a new parent too.
    created.sort_by_key(Name::label_count);
    let mut fresh: Vec<Name> = Vec::new();
    for name in &created {
        let mut child = name.as_wire().to_vec();
        loop {
            let p = parent(&child).to_vec();
            let wildcard = child.starts_with(b"\x01*");
            let slot = work.slot(&p);
            let made = slot.is_none();
            let node = slot.get_or_insert_with(NodeData::default);
            node.children += 1;
            if wildcard {
                node.flags |= flags::WILDCARD_CHILD;
            }
            if !made {
                break;
            }
            fresh.push(Name::from_wire(&p).expect("a name of this zone"));
            child = p;
        }
    }
    fresh.extend(created);
    fresh.sort_by_key(Name::label_count);
    for name in &fresh {
        let p = parent(name.as_wire());
        let below = p != apex && work.flags_of(p) & (flags::DELEGATION | flags::BELOW_CUT) != 0;
        if let Some(n) = work.slot(name.as_wire()) {
            if below {
                n.flags |= flags::BELOW_CUT;
            }
        }
    }

    // Names left without records and without children go, and with them the empty
    // non-terminals above that have nothing else below; children first.
    emptied.sort_by_key(|n| Reverse(n.label_count()));
    for name in emptied {
        let mut cur = name.as_wire().to_vec();
        while cur.as_slice() != apex {
            let slot = work.slot(&cur);
            let gone = slot.as_ref().is_some_and(|n| n.rrsets.is_empty() && n.children == 0);
            if !gone {
                break;
            }
            *slot = None;
            let p = parent(&cur).to_vec();
            let wildcard = cur.starts_with(b"\x01*");
            if let Some(pn) = work.slot(&p) {
                pn.children = pn.children.saturating_sub(1);
                if wildcard {
                    pn.flags &= !flags::WILDCARD_CHILD;
                }
            }
            cur = p;
        }
    }

    // Answers that carry the addresses of a name that changed, appeared or went away.
    if !moved.is_empty() {
        let moved_set: NameSet<&[u8]> = moved.iter().map(Name::as_wire).collect();
        let mut dependents: Vec<Name> = Vec::new();
        for m in &moved {
            if let Some(owners) = old.referrers.get(m.as_wire()) {
                dependents.extend(owners.iter().cloned());
            }
        }
        for (owner, node) in old.delta.iter().filter_map(|(n, v)| v.as_deref().map(|v| (n, v.as_ref()))) {
            if node.rrsets().any(|r| targets(apex, r.rtype, r.rdatas()).any(|t| moved_set.contains(t.as_wire()))) {
                dependents.push(owner.clone());
            }
        }
        for d in dependents {
            work.slot(d.as_wire());
        }
    }

    // The new version: the old base, the old delta with these nodes replaced.
    let (serial, negative_ttl) = match work.nodes.get(apex).and_then(|n| n.as_ref()) {
        Some(a) => {
            let soa = a.rrset(Rtype::SOA).expect("validated");
            serial_and_negative_ttl(soa.ttl, &soa.rdatas[0])
        }
        None => {
            let soa = old.apex_node().rrset(Rtype::SOA).expect("a zone has its SOA");
            serial_and_negative_ttl(soa.ttl, soa.first())
        }
    };
    let work_apex_changed = work.nodes.contains_key(apex);
    let touched: Vec<Name> = work.nodes.keys().cloned().collect();
    let mut delta = old.delta.clone();
    let mut changed: Vec<Name> = Vec::new();
    let mut changed_nsec3 = false;
    for (name, node) in work.nodes {
        match node {
            Some(n) => {
                changed_nsec3 |= n.rrset(Rtype::NSEC3).is_some();
                changed.push(name.clone());
                let packed = Node::new(name.as_wire(), &n, None);
                delta.insert(name, Some(Arc::new(packed)));
            }
            None if old.base.contains(name.as_wire()) => {
                delta.insert(name, None);
            }
            None => {
                delta.remove(name.as_wire());
            }
        }
    }
    let mut snap = Snapshot {
        apex: old.apex.clone(),
        apex_labels: old.apex_labels,
        serial,
        negative_ttl,
        base: Arc::clone(&old.base),
        delta,
        referrers: Arc::clone(&old.referrers),
        records: records.max(0) as usize,
        nsec3_names: old.nsec3_names || changed_nsec3,
        negative: Block::default(),
        signed: old.signed,
        denial: old.denial.clone(),
        negative_do: Block::default(),
    };
    // The denial chain follows the names that gained or lost their NSEC or NSEC3; a
    // new kind of chain (NSEC to NSEC3, new parameters) means a rebuild.
    if work_apex_changed && !Denial::same_kind(old.apex_node(), snap.apex_node()) {
        return Ok(Derived::Rebuild);
    }
    snap.signed = sigs_of(snap.apex_node(), Rtype::SOA).is_some();
    for name in &touched {
        let was = old.node(name.as_wire()).and_then(|n| snap.denial.key_of(n, apex));
        let is = snap.node(name.as_wire()).and_then(|n| snap.denial.key_of(n, apex));
        if was.as_ref().map(|k| k.as_slice()) != is.as_ref().map(|k| k.as_slice()) {
            if let Some(chain) = snap.denial.chain_mut() {
                if let Some(k) = was {
                    chain.remove(k.as_slice());
                }
                if let Some(k) = is {
                    chain.insert(k.as_slice());
                }
            }
        }
    }
    // Answers read other nodes (additional addresses), so every changed node is in
    // place before any is compiled.
    let compiled: Vec<Node> = crate::store::block::with_scratch(|scratch| {
        snap.compile_negative(scratch);
        changed
            .iter()
            .map(|name| {
                let node = snap.delta[name.as_wire()].as_deref().expect("changed nodes are present");
                snap.with_blocks(node.as_ref(), scratch)
            })
            .collect()
    });
    for (name, node) in changed.iter().zip(compiled) {
        snap.delta.insert(name.clone(), Some(Arc::new(node)));
    }
    Ok(Derived::Done(Box::new(snap)))
}
