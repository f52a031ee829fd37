//! [`Snapshot`]: one immutable, compiled version of one zone.
//!
//! Compiling ([`crate::store::build`]) validates the records (one SOA at the apex, no
//! CNAME beside other data) and precomputes what every query would otherwise work
//! out: names lowercase in wire form, RRsets grouped and sorted by type, empty
//! non-terminals present as nodes (RFC 4592 §2.2.2), and per-node flags
//! ([`crate::store::flags`]: apex, delegation point, below a cut i.e. glue, has a
//! wildcard child, has a DNAME), as Knot's `adjust.c` does.
//!
//! Nodes are stored packed ([`crate::store::node`]), back to back in one arena per
//! version ([`crate::store::nodemap`]), each RRset with its precompiled answer, each cut
//! with its referral; the negative-answer SOA is compiled once per version.
//!
//! Lookups are by exact name through one hash index; the closest encloser is found by
//! walking the qname's ancestors from the apex down, so its cost grows with the number
//! of labels, never with the size of the zone.
//!
//! Versions share structure: a snapshot is a `base` node map, shared (`Arc`) by every
//! version derived from it, plus a small `delta` of the nodes changed since (made by
//! `crate::change`). A lookup probes the delta first only when it is not empty. The
//! base also keeps, for every in-zone NS/MX/SRV target, the owners that point to it, so
//! a change of an address recompiles exactly the answers that carry it.

use crate::store::block::{with_scratch, Block};
use crate::store::denial::Denial;
use crate::store::encode::{
    rrset_and_sigs, sigs_of, target_offset, write_additional, write_negative_soa, write_rrset, write_signed, ZoneNodes,
};
use crate::store::flags;
use crate::store::namehash::NameMap;
use crate::store::node::{Blocks, Node, NodeRef, RrsetRef};
use crate::store::nodemap::NodeMap;
use shoal_wire::name::{is_subdomain, Display};
use shoal_wire::writer::{Owner, Section};
use shoal_wire::{Name, Rtype};
use std::sync::Arc;

/// For each in-zone name that NS, MX or SRV records point to, the owners of those records.
pub type Referrers = NameMap<Name, Box<[Name]>>;

/// What [`Snapshot::node_blocks`] compiles for one node.
#[derive(Default)]
pub(crate) struct NodeBlocks {
    pub(crate) answers: Vec<Block>,
    pub(crate) referral: Option<Block>,
    pub(crate) referral_do: Option<Block>,
}

/// An immutable compiled zone.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) apex: Name,
    pub(crate) apex_labels: usize,
    pub(crate) serial: u32,
    /// TTL for the SOA in negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
    pub(crate) negative_ttl: u32,
    /// The nodes as compiled from a complete set of records, shared between versions.
    pub(crate) base: Arc<NodeMap>,
    /// Nodes changed since `base`: `None` marks a name deleted from it.
    pub(crate) delta: NameMap<Name, Option<Arc<Node>>>,
    /// Who points to what in `base` (delta nodes are scanned instead).
    pub(crate) referrers: Arc<Referrers>,
    pub(crate) records: usize,
    /// Some name holds NSEC3 records (or did, in a version this one derives from):
    /// lookups then check whether a name holds nothing else (RFC 5155 §7.2.8).
    pub(crate) nsec3_names: bool,
    /// The SOA for NXDOMAIN and NODATA answers, anchored at the apex.
    pub(crate) negative: Block,
    /// The apex SOA is signed: DO queries get RRSIGs and denial proofs (RFC 4035 §3.1).
    pub(crate) signed: bool,
    /// Which chain denials come from, and its owners in order.
    pub(crate) denial: Box<Denial>,
    /// The negative-answer SOA with its RRSIGs, for DO queries to a signed zone.
    pub(crate) negative_do: Block,
}

impl Snapshot {
    /// A zone from nodes compiled before (its copy in the state directory): the apex
    /// must be there with its SOA; the negative answer and the referrer index are
    /// rebuilt, the nodes' answers are used as they are.
    pub(crate) fn from_compiled(apex: &Name, base: NodeMap) -> Result<Snapshot, String> {
        let soa = base.get(apex.as_wire()).and_then(|n| n.rrset(Rtype::SOA)).ok_or("no SOA at the apex")?;
        if soa.len() != 1 || soa.first().len() < 22 {
            return Err("bad apex SOA".into());
        }
        let (serial, negative_ttl) = serial_and_negative_ttl(soa.ttl, soa.first());
        let mut records = 0;
        let mut nsec3_names = false;
        for node in base.iter() {
            nsec3_names |= node.rrset(Rtype::NSEC3).is_some();
            if !is_subdomain(node.name(), apex.as_wire()) {
                return Err(format!("{} is outside the zone", Display(node.name())));
            }
            // What answering relies on the flags for.
            if (node.has(flags::DELEGATION) && node.rrset(Rtype::NS).is_none())
                || (node.has(flags::DNAME) && node.rrset(Rtype::DNAME).is_none())
            {
                return Err(format!("{}: flags disagree with its records", Display(node.name())));
            }
            records += node.record_count();
        }
        let referrers = referrers_of(apex.as_wire(), &base);
        let mut snap = Snapshot {
            apex: apex.clone(),
            apex_labels: apex.label_count(),
            serial,
            negative_ttl,
            base: Arc::new(base),
            delta: NameMap::default(),
            referrers: Arc::new(referrers),
            records,
            nsec3_names,
            negative: Block::default(),
            signed: false,
            denial: Box::default(),
            negative_do: Block::default(),
        };
        snap.scan_dnssec();
        with_scratch(|scratch| snap.compile_negative(scratch));
        Ok(snap)
    }

    /// The precompiled blocks of one node: the answer of each RRset (in order), and at a
    /// cut the referral and its DO form. Reads the rest of the zone for additional
    /// addresses.
    pub(crate) fn node_blocks(&self, node: NodeRef<'_>, scratch: &mut [u8]) -> NodeBlocks {
        if node.has(flags::BELOW_CUT) {
            return NodeBlocks::default();
        }
        let owner = node.name();
        let cut = node.has(flags::DELEGATION);
        let answers = node.rrsets().map(|rrset| set_block(node, rrset, scratch, Some(self))).collect();
        let Some(ns) = node.rrset(Rtype::NS).filter(|_| cut) else {
            return NodeBlocks { answers, ..NodeBlocks::default() };
        };
        let referral = Block::compile(owner, Rtype::NS, scratch, |w| {
            write_rrset(w, Section::Authority, Owner::Question, ns) && {
                write_additional(w, self, ns, Some(owner), false);
                true
            }
        });
        // The DO referral, when its proof is the cut's own: the DS (secure), or in an
        // NSEC zone the cut's NSEC (insecure). An NSEC3 proof lives at other names and
        // is written per query.
        let nsec3 = self.apex_node().rrset(Rtype::NSEC3PARAM).is_some();
        let proof = match rrset_and_sigs(node, Rtype::DS, true) {
            (Some(ds), sigs) => Some((ds, sigs)),
            (None, _) if !nsec3 => match rrset_and_sigs(node, Rtype::NSEC, true) {
                (Some(nsec), sigs) => Some((nsec, sigs)),
                _ => None,
            },
            _ => None,
        };
        let referral_do = proof.and_then(|(set, sigs)| {
            Block::compile(owner, Rtype::NS, scratch, |w| {
                write_rrset(w, Section::Authority, Owner::Question, ns)
                    && write_signed(w, Section::Authority, Owner::Question, set, sigs)
                    && {
                        write_additional(w, self, ns, Some(owner), true);
                        true
                    }
            })
        });
        NodeBlocks { answers, referral, referral_do }
    }

    /// Work out, from the apex and every node, whether the zone is signed and its
    /// denial chain (a complete version: loaded, received or rebuilt).
    pub(crate) fn scan_dnssec(&mut self) {
        let apex = self.apex_node();
        let (signed, denial) = (sigs_of(apex, Rtype::SOA).is_some(), Box::new(Denial::scan(apex, self.nodes())));
        self.signed = signed;
        self.denial = denial;
    }

    /// `node` packed again with its answers compiled.
    pub(crate) fn with_blocks(&self, node: NodeRef<'_>, scratch: &mut [u8]) -> Node {
        let b = self.node_blocks(node, scratch);
        Node::repacked(
            node,
            Blocks { answers: &b.answers, referral: b.referral.as_ref(), referral_do: b.referral_do.as_ref() },
        )
    }

    /// Recompile the negative-answer SOA, and with its RRSIGs for DO queries (after the
    /// apex changed).
    pub(crate) fn compile_negative(&mut self, scratch: &mut [u8]) {
        let apex = self.apex.as_wire();
        let node = self.apex_node();
        let soa = node.rrset(Rtype::SOA).expect("a zone has its SOA");
        let ttl = self.negative_ttl;
        let compile = |scratch: &mut [u8], sigs| {
            Block::compile(apex, Rtype::SOA, scratch, |w| write_negative_soa(w, apex, soa, sigs, ttl))
                .unwrap_or_default()
        };
        let negative = compile(scratch, None);
        let sigs = sigs_of(node, Rtype::SOA);
        let negative_do = if sigs.is_some() { compile(scratch, sigs) } else { Block::default() };
        self.negative = negative;
        self.negative_do = negative_do;
    }

    /// The precompiled negative-answer SOA.
    pub fn negative_block(&self) -> &Block {
        &self.negative
    }

    /// The precompiled negative-answer SOA with its RRSIGs (empty if the zone is unsigned).
    pub fn negative_do_block(&self) -> &Block {
        &self.negative_do
    }

    /// Whether the apex SOA is signed, so DO queries get RRSIGs and denial proofs.
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// How the zone's denials are proven.
    pub fn denial(&self) -> &Denial {
        &self.denial
    }

    pub fn apex(&self) -> &Name {
        &self.apex
    }

    pub fn apex_labels(&self) -> usize {
        self.apex_labels
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }

    pub fn negative_ttl(&self) -> u32 {
        self.negative_ttl
    }

    /// The SOA EXPIRE field (the fourth of the five trailing 32-bit fields).
    pub fn soa_expire(&self) -> u32 {
        let rd = self.apex_node().rrset(Rtype::SOA).map_or(&[][..], |s| s.first());
        rd.len().checked_sub(8).map_or(0, |i| u32::from_be_bytes([rd[i], rd[i + 1], rd[i + 2], rd[i + 3]]))
    }

    /// Whether the node at a name found by exact match holds only NSEC3 records and
    /// their signatures, and so does not exist for queries (RFC 5155 §7.2.8).
    #[inline]
    pub(crate) fn hashed_name_only(&self, node: NodeRef<'_>) -> bool {
        self.nsec3_names && node.is_nsec3_only()
    }

    /// Number of records (not counting empty non-terminals).
    pub fn record_count(&self) -> usize {
        self.records
    }

    /// The node at exactly `name` (lowercase wire).
    #[inline]
    pub fn node(&self, name: &[u8]) -> Option<NodeRef<'_>> {
        if !self.delta.is_empty() {
            if let Some(v) = self.delta.get(name) {
                return v.as_deref().map(Node::as_ref);
            }
        }
        self.base.get(name)
    }

    /// Where the node at `name` starts in the base arena, when this version reads it
    /// from there (not from its delta).
    pub(crate) fn base_offset(&self, name: &[u8]) -> Option<usize> {
        if !self.delta.is_empty() && self.delta.contains_key(name) {
            return None;
        }
        self.base.offset_of(name)
    }

    pub fn apex_node(&self) -> NodeRef<'_> {
        self.node(self.apex.as_wire()).expect("a zone has its apex")
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeRef<'_>> {
        let delta = &self.delta;
        self.base
            .iter()
            .filter(move |n| delta.is_empty() || !delta.contains_key(n.name()))
            .chain(delta.values().filter_map(|v| v.as_deref().map(Node::as_ref)))
    }

    /// Nodes changed since the base was compiled (what a later apply copies).
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }

    /// Nodes in the base shared with other versions.
    pub fn base_len(&self) -> usize {
        self.base.len()
    }

    /// Whether `other` shares this snapshot's base (it was derived by applying changes).
    pub fn shares_base_with(&self, other: &Snapshot) -> bool {
        Arc::ptr_eq(&self.base, &other.base)
    }

    /// Whether `name` is in this zone (at or below the apex).
    pub fn contains(&self, name: &[u8]) -> bool {
        is_subdomain(name, self.apex.as_wire())
    }
}

/// The in-zone targets (lowercase wire) of NS, MX or SRV records; nothing for other types.
pub(crate) fn targets<'r>(
    apex: &'r [u8],
    rtype: Rtype,
    rdatas: impl Iterator<Item = &'r [u8]> + 'r,
) -> impl Iterator<Item = Name> + 'r {
    let at = target_offset(rtype);
    rdatas.filter_map(move |rd| {
        let at = at?;
        let mut buf = shoal_wire::name::NameBuf::default();
        shoal_wire::name::parse_name(rd, at, &mut buf).ok()?;
        let t = Name::from_wire(buf.as_wire()).ok()?;
        is_subdomain(t.as_wire(), apex).then_some(t)
    })
}

/// The precompiled answer of one RRset: its records, then the in-zone addresses of the
/// names it points to, read from `zone` (an RRset of a type without additional
/// processing needs no zone, [`target_offset`]).
pub(crate) fn answer_block(owner: &[u8], rrset: RrsetRef<'_>, scratch: &mut [u8], zone: Option<&Snapshot>) -> Block {
    Block::compile(owner, rrset.rtype, scratch, |w| {
        write_rrset(w, Section::Answer, Owner::Question, rrset) && {
            if let Some(zone) = zone {
                write_additional(w, zone, rrset, None, false);
            }
            true
        }
    })
    .unwrap_or_default()
}

/// The block kept with one RRset of `node`. For most it is the RRset's answer; the NS
/// of a cut has none (its referral is the node's); an RRSIG set holds the answer to a
/// DO query for the type it covers: that RRset with these signatures, then the
/// additional addresses with theirs (RFC 4035 §3.1.1), and the RRSIG set's RDATA is
/// read from there. RRSIG queries themselves are answered record by record; the nodes
/// of an NSEC3 chain, never an answer, have no blocks.
pub(crate) fn set_block(node: NodeRef<'_>, rrset: RrsetRef<'_>, scratch: &mut [u8], zone: Option<&Snapshot>) -> Block {
    let owner = node.name();
    let cut = node.has(flags::DELEGATION);
    if node.is_nsec3_only() {
        // A name of the hashed chain is never a query's answer; proofs encode its records.
        return Block::default();
    }
    match rrset.rtype {
        Rtype::NS if cut => Block::default(),
        Rtype::RRSIG => {
            let covered = Rtype(rrset.key().1);
            let Some(data) = node.rrset(covered).filter(|_| covered != Rtype::RRSIG && !(cut && covered == Rtype::NS))
            else {
                return Block::default();
            };
            Block::compile(owner, covered, scratch, |w| {
                write_signed(w, Section::Answer, Owner::Question, data, Some(rrset)) && {
                    if let Some(zone) = zone {
                        write_additional(w, zone, data, None, true);
                    }
                    true
                }
            })
            .unwrap_or_default()
        }
        _ => answer_block(owner, rrset, scratch, zone),
    }
}

impl ZoneNodes for Snapshot {
    fn apex_wire(&self) -> &[u8] {
        self.apex.as_wire()
    }

    #[inline]
    fn node(&self, name: &[u8]) -> Option<NodeRef<'_>> {
        Snapshot::node(self, name)
    }
}

/// Who points to each in-zone target.
pub(crate) fn referrers_of(apex: &[u8], nodes: &NodeMap) -> Referrers {
    referrers_from(apex, nodes.iter())
}

/// Who points to each in-zone target, among `nodes`.
pub(crate) fn referrers_from<'n>(apex: &[u8], nodes: impl Iterator<Item = NodeRef<'n>>) -> Referrers {
    let mut m: NameMap<Name, Vec<Name>> = NameMap::default();
    for node in nodes {
        for rrset in node.rrsets() {
            for t in targets(apex, rrset.rtype, rrset.rdatas()) {
                let v = m.entry(t).or_default();
                if v.last().map(Name::as_wire) != Some(node.name()) {
                    v.push(Name::from_wire(node.name()).expect("a stored name"));
                }
            }
        }
    }
    m.into_iter().map(|(k, v)| (k, v.into_boxed_slice())).collect()
}

/// The serial of the apex SOA, and the TTL of the SOA in negative answers:
/// min(SOA TTL, SOA MINIMUM) (RFC 2308 §3), from the SOA's TTL and RDATA.
pub(crate) fn serial_and_negative_ttl(ttl: u32, rd: &[u8]) -> (u32, u32) {
    let fixed = &rd[rd.len() - 20..];
    let serial = u32::from_be_bytes(fixed[0..4].try_into().expect("4 bytes"));
    let minimum = u32::from_be_bytes(fixed[16..20].try_into().expect("4 bytes"));
    (serial, ttl.min(minimum))
}
