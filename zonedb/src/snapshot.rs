//! [`Snapshot`]: one immutable, compiled version of one zone.
//!
//! Compiling ([`Snapshot::compile`]) validates the records (one SOA at the apex, no
//! CNAME beside other data) and precomputes what every query would otherwise work out:
//! names lowercase in wire form, RRsets grouped and sorted by type, empty non-terminals
//! present as nodes (RFC 4592 §2.2.2), and per-node flags (apex, delegation point, below
//! a cut i.e. glue, has a wildcard child, has a DNAME), as Knot's `adjust.c` does.
//!
//! Nodes are stored packed ([`crate::node`]), back to back in one arena per version
//! ([`crate::nodemap`]): about 75 bytes a record for a zone of A/AAAA/TXT records,
//! precompiled answers included. Compiling groups the records into unpacked nodes,
//! packs them, then packs them again with their answers (an answer reads other nodes).
//!
//! Lookups are by exact name through one hash index; the closest encloser is found by
//! walking the qname's ancestors from the apex down, so its cost grows with the number
//! of labels, never with the size of the zone.
//!
//! Versions share structure: a snapshot is a `base` node map, shared (`Arc`) by every
//! version derived from it, plus a small `delta` of the nodes changed since (see
//! [`crate::apply`]). A lookup probes the delta first only when it is not empty. The
//! base also keeps, for every in-zone NS/MX/SRV target, the owners that point to it, so
//! a change of an address recompiles exactly the answers that carry it.

use crate::answer;
use crate::block::Block;
use crate::error::{LoadError, LoadErrorKind};
use crate::load::{Loaded, Record};
use crate::node::Blocks;
pub use crate::node::{Node, NodeData, NodeRef, Rrset, RrsetRef};
pub use crate::nodemap::NodeMap;
use rustc_hash::FxHashMap;
use shoal_wire::name::{is_subdomain, Display};
use shoal_wire::writer::{Owner, Section};
use shoal_wire::{Name, Rtype};
use std::sync::Arc;

/// Node flags.
pub mod flags {
    pub const APEX: u8 = 1;
    /// NS records at a name other than the apex: a zone cut.
    pub const DELEGATION: u8 = 2;
    /// Strictly below a zone cut: glue or occluded data, not authoritative.
    pub const BELOW_CUT: u8 = 4;
    pub const WILDCARD_CHILD: u8 = 8;
    pub const DNAME: u8 = 16;
    /// Strictly below a DNAME: never answered from its own data (RFC 6672 §2.3).
    pub const BELOW_DNAME: u8 = 32;
}

/// A record without its owner, while grouping.
struct Entry {
    rtype: Rtype,
    ttl: u32,
    rdata: Box<[u8]>,
    file: u16,
    line: u32,
}

/// For each in-zone name that NS, MX or SRV records point to, the owners of those records.
pub type Referrers = FxHashMap<Name, Box<[Name]>>;

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
    pub(crate) delta: FxHashMap<Name, Option<Arc<Node>>>,
    /// Who points to what in `base` (delta nodes are scanned instead).
    pub(crate) referrers: Arc<Referrers>,
    pub(crate) records: usize,
    /// The SOA for NXDOMAIN and NODATA answers, anchored at the apex.
    pub(crate) negative: Block,
}

impl Snapshot {
    /// Validate and compile the records of zone `apex`.
    pub fn compile(apex: &Name, loaded: Loaded) -> Result<Snapshot, Vec<LoadError>> {
        let zone_text = apex.to_string();
        let Loaded { records, files } = loaded;
        let total = records.len();
        let mut errors = Vec::new();
        let err = |errors: &mut Vec<LoadError>, file: u16, line: u32, kind| {
            errors.push(LoadError {
                zone: zone_text.clone(),
                file: files.get(file as usize).cloned().unwrap_or_default(),
                line: line as usize,
                kind,
            })
        };
        // Group by owner, moving the records. A master file lists an owner's records
        // together, so runs are grouped without a hash probe per record.
        let mut groups: FxHashMap<Name, Vec<Entry>> =
            FxHashMap::with_capacity_and_hasher(total / 2 + 1, Default::default());
        let mut run_owner: Option<Name> = None;
        let mut run: Vec<Entry> = Vec::new();
        for r in records {
            let Record { owner, rtype, ttl, rdata, file, line } = r;
            if run_owner.as_ref() != Some(&owner) {
                if let Some(o) = run_owner.take() {
                    groups.entry(o).or_default().append(&mut run);
                }
                run_owner = Some(owner);
            }
            run.push(Entry { rtype, ttl, rdata, file, line });
        }
        if let Some(o) = run_owner.take() {
            groups.entry(o).or_default().append(&mut run);
        }
        let mut nodes: FxHashMap<Name, NodeData> =
            FxHashMap::with_capacity_and_hasher(groups.len(), Default::default());
        let mut soa_seen = false;
        let mut count = 0;
        for (owner, mut entries) in groups {
            entries.sort_unstable_by(|a, b| a.rtype.cmp(&b.rtype).then_with(|| a.rdata.cmp(&b.rdata)));
            let first_line = |t: Rtype| entries.iter().find(|r| r.rtype == t).map_or((0, 0), |r| (r.file, r.line));
            let positions = (first_line(Rtype::SOA), first_line(Rtype::CNAME));
            let mut rrsets: Vec<Rrset> = Vec::new();
            let mut rdatas: Vec<Box<[u8]>> = Vec::new();
            let mut current: Option<(Rtype, u32)> = None;
            for e in entries {
                if current.is_some_and(|(t, _)| t != e.rtype) {
                    let (t, ttl) = current.take().expect("checked");
                    rrsets.push(Rrset { rtype: t, ttl, rdatas: std::mem::take(&mut rdatas) });
                }
                // RFC 2181 §5.2: one TTL per RRset; when the file disagrees with itself
                // the lowest TTL is used (never caching longer than the owner asked).
                let cur = current.get_or_insert((e.rtype, e.ttl));
                cur.1 = cur.1.min(e.ttl);
                if rdatas.last() != Some(&e.rdata) {
                    rdatas.push(e.rdata);
                }
            }
            if let Some((t, ttl)) = current {
                rrsets.push(Rrset { rtype: t, ttl, rdatas });
            }
            let owner_text = || Display(owner.as_wire()).to_string();
            if let Some(soa) = rrsets.iter().find(|r| r.rtype == Rtype::SOA) {
                let (f, l) = positions.0;
                if owner != *apex || soa.rdatas.len() > 1 {
                    err(&mut errors, f, l, LoadErrorKind::MultipleSoa { owner: owner_text() });
                } else {
                    soa_seen = true;
                }
            }
            if let Some(c) = rrsets.iter().find(|r| r.rtype == Rtype::CNAME) {
                let (f, l) = positions.1;
                if c.rdatas.len() > 1 {
                    err(&mut errors, f, l, LoadErrorKind::MultipleCname { owner: owner_text() });
                }
                if rrsets.iter().any(|r| r.rtype == Rtype::DNAME) {
                    err(&mut errors, f, l, LoadErrorKind::CnameAndDname { owner: owner_text() });
                } else if rrsets.iter().any(|r| !matches!(r.rtype, Rtype::CNAME | Rtype::RRSIG | Rtype::NSEC)) {
                    err(&mut errors, f, l, LoadErrorKind::CnameAndOtherData { owner: owner_text() });
                }
            }
            count += rrsets.iter().map(|r| r.rdatas.len()).sum::<usize>();
            let mut fl = 0;
            if owner == *apex {
                fl |= flags::APEX;
            } else if rrsets.iter().any(|r| r.rtype == Rtype::NS) {
                fl |= flags::DELEGATION;
            }
            if rrsets.iter().any(|r| r.rtype == Rtype::DNAME) {
                fl |= flags::DNAME;
            }
            nodes.insert(owner, NodeData { flags: fl, children: 0, rrsets });
        }
        if !soa_seen {
            errors.push(LoadError {
                zone: zone_text.clone(),
                file: files.first().cloned().unwrap_or_default(),
                line: 0,
                kind: LoadErrorKind::NoSoa,
            });
        }
        if !errors.is_empty() {
            errors.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
            return Err(errors);
        }
        let apex_wire = apex.as_wire();
        // Empty non-terminals (walking up until an existing node) and wildcard parents.
        let mut missing: Vec<Name> = Vec::new();
        let mut wildcard_parents: Vec<Name> = Vec::new();
        for owner in nodes.keys() {
            let w = owner.as_wire();
            if w.len() <= apex_wire.len() {
                continue;
            }
            let parent = &w[1 + w[0] as usize..];
            if w.starts_with(b"\x01*") {
                wildcard_parents.push(Name::from_wire(parent).expect("suffix of a valid name"));
            }
            let mut p = parent;
            while p.len() > apex_wire.len() && !nodes.contains_key(p) {
                missing.push(Name::from_wire(p).expect("suffix of a valid name"));
                p = &p[1 + p[0] as usize..];
            }
        }
        for m in missing {
            nodes.entry(m).or_default();
        }
        let parents: Vec<Name> = nodes
            .keys()
            .filter(|o| o.as_wire().len() > apex_wire.len())
            .map(|o| Name::from_wire(&o.as_wire()[1 + o.as_wire()[0] as usize..]).expect("suffix of a valid name"))
            .collect();
        for p in parents {
            if let Some(n) = nodes.get_mut(p.as_wire()) {
                n.children += 1;
            }
        }
        for w in wildcard_parents {
            if let Some(n) = nodes.get_mut(w.as_wire()) {
                n.flags |= flags::WILDCARD_CHILD;
            }
        }
        // Below-cut flags: a strict ancestor (below the apex) is a delegation.
        let has_cuts = nodes.values().any(|n| n.has(flags::DELEGATION));
        if has_cuts {
            let mut below: Vec<Name> = Vec::new();
            for owner in nodes.keys() {
                let w = owner.as_wire();
                let mut off = 0;
                while w.len() - off > apex_wire.len() {
                    off += 1 + w[off] as usize;
                    if w.len() - off > apex_wire.len() && nodes.get(&w[off..]).is_some_and(|n| n.has(flags::DELEGATION))
                    {
                        below.push(owner.clone());
                        break;
                    }
                }
            }
            for b in below {
                if let Some(n) = nodes.get_mut(b.as_wire()) {
                    n.flags |= flags::BELOW_CUT;
                }
            }
        }
        let soa = nodes[apex_wire].rrset(Rtype::SOA).expect("checked above");
        let (serial, negative_ttl) = serial_and_negative_ttl(soa.ttl, &soa.rdatas[0]);
        // Packed without answers first; answers read other nodes (additional addresses,
        // glue), so they are compiled from this map into the final one.
        let first = NodeMap::pack_all(nodes.iter().map(|(n, d)| (n.as_wire(), d)));
        drop(nodes);
        let referrers = referrers_of(apex_wire, &first);
        let mut snap = Snapshot {
            apex: apex.clone(),
            apex_labels: apex.label_count(),
            serial,
            negative_ttl,
            base: Arc::new(first),
            delta: FxHashMap::default(),
            referrers: Arc::new(referrers),
            records: count,
            negative: Block::default(),
        };
        snap.compile_blocks();
        Ok(snap)
    }

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
        for node in base.iter() {
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
            delta: FxHashMap::default(),
            referrers: Arc::new(referrers),
            records,
            negative: Block::default(),
        };
        crate::block::with_scratch(|scratch| snap.compile_negative(scratch));
        Ok(snap)
    }

    /// The precompiled blocks of one node: the answer of each RRset (in order) and the
    /// referral at a cut. Reads the rest of the zone for additional addresses.
    pub(crate) fn node_blocks(&self, node: NodeRef<'_>, scratch: &mut [u8]) -> (Vec<Block>, Option<Block>) {
        if node.has(flags::BELOW_CUT) {
            return (Vec::new(), None);
        }
        let owner = node.name();
        let cut = node.has(flags::DELEGATION);
        let blocks = node
            .rrsets()
            .map(|rrset| {
                if cut && rrset.rtype == Rtype::NS {
                    return Block::default();
                }
                Block::compile(owner, rrset.rtype, scratch, |w| {
                    answer::write_rrset(w, Section::Answer, Owner::Question, rrset) && {
                        answer::write_additional(w, self, rrset, None);
                        true
                    }
                })
                .unwrap_or_default()
            })
            .collect();
        let referral = node.rrset(Rtype::NS).filter(|_| cut).and_then(|ns| {
            Block::compile(owner, Rtype::NS, scratch, |w| {
                answer::write_rrset(w, Section::Authority, Owner::Question, ns) && {
                    answer::write_additional(w, self, ns, Some(owner));
                    true
                }
            })
        });
        (blocks, referral)
    }

    /// `node` packed again with its answers compiled.
    pub(crate) fn with_blocks(&self, node: NodeRef<'_>, scratch: &mut [u8]) -> Node {
        let (answers, referral) = self.node_blocks(node, scratch);
        Node::repacked(node, Blocks { answers: &answers, referral: referral.as_ref() })
    }

    /// Recompile the negative-answer SOA (after the apex SOA changed).
    pub(crate) fn compile_negative(&mut self, scratch: &mut [u8]) {
        let apex = self.apex.as_wire().to_vec();
        self.negative =
            Block::compile(&apex, Rtype::SOA, scratch, |w| answer::write_negative_soa(w, self)).unwrap_or_default();
    }

    /// Precompile the answer of every RRset that is answered directly, the referral of
    /// every cut, and the negative-answer SOA (see [`crate::block`]): the base is packed
    /// again, node by node, with its answers.
    fn compile_blocks(&mut self) {
        let base = crate::block::with_scratch(|scratch| {
            self.compile_negative(scratch);
            let mut out = NodeMap::with_capacity(self.base.len(), self.base.arena_len() * 2);
            for node in self.base.iter() {
                let (answers, referral) = self.node_blocks(node, scratch);
                out.insert_repacked(node, Blocks { answers: &answers, referral: referral.as_ref() });
            }
            out.shrink_to_fit();
            out
        });
        self.base = Arc::new(base);
    }

    /// The precompiled negative-answer SOA.
    pub fn negative_block(&self) -> &Block {
        &self.negative
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
    let at = match rtype {
        Rtype::NS => Some(0),
        Rtype::MX => Some(2),
        Rtype::SRV => Some(6),
        _ => None,
    };
    rdatas.filter_map(move |rd| {
        let at = at?;
        let mut buf = shoal_wire::name::NameBuf::default();
        shoal_wire::name::parse_name(rd, at, &mut buf).ok()?;
        let t = Name::from_wire(buf.as_wire()).ok()?;
        is_subdomain(t.as_wire(), apex).then_some(t)
    })
}

/// Who points to each in-zone target.
fn referrers_of(apex: &[u8], nodes: &NodeMap) -> Referrers {
    let mut m: FxHashMap<Name, Vec<Name>> = FxHashMap::default();
    for node in nodes.iter() {
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
