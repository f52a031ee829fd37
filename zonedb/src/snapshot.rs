//! [`Snapshot`]: one immutable, compiled version of one zone.
//!
//! Compiling ([`Snapshot::compile`]) validates the records (one SOA at the apex, no
//! CNAME beside other data) and precomputes what every query would otherwise work out:
//! names lowercase in wire form, RRsets grouped and sorted by type, empty non-terminals
//! present as nodes (RFC 4592 §2.2.2), and per-node flags (apex, delegation point, below
//! a cut i.e. glue, has a wildcard child, has a DNAME), as Knot's `adjust.c` does.
//!
//! Lookups are by exact name through one hash map; the closest encloser is found by
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

/// The records of one owner and type.
#[derive(Debug, Clone)]
pub struct Rrset {
    pub rtype: Rtype,
    pub ttl: u32,
    /// RDATA of each record, in wire form, sorted and without duplicates.
    pub rdatas: Box<[Box<[u8]>]>,
    /// The answer to a query for exactly this owner and type: this RRset with owner
    /// compressed to the question, then the additional addresses. Empty when the
    /// RRset is never answered directly (NS at a cut, glue).
    pub block: Block,
}

/// A record without its owner, while grouping.
struct Entry {
    rtype: Rtype,
    ttl: u32,
    rdata: Box<[u8]>,
    file: u16,
    line: u32,
}

/// Everything at one name. An empty-non-terminal has no RRsets.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub flags: u8,
    /// Nodes one label below this one (empty non-terminals included).
    pub children: u32,
    /// Sorted by type.
    pub rrsets: Box<[Rrset]>,
    /// At a zone cut: the referral (NS in authority, glue in additional).
    pub referral: Option<Box<Block>>,
}

impl Node {
    pub fn rrset(&self, t: Rtype) -> Option<&Rrset> {
        self.rrsets.iter().find(|r| r.rtype == t)
    }

    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// Nodes by lowercase wire name.
pub type NodeMap = FxHashMap<Name, Node>;

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
        let mut nodes: FxHashMap<Name, Node> =
            FxHashMap::with_capacity_and_hasher(groups.len() + 16, Default::default());
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
                    rrsets.push(Rrset {
                        rtype: t,
                        ttl,
                        rdatas: std::mem::take(&mut rdatas).into_boxed_slice(),
                        block: Block::default(),
                    });
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
                rrsets.push(Rrset { rtype: t, ttl, rdatas: rdatas.into_boxed_slice(), block: Block::default() });
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
            nodes.insert(owner, Node { flags: fl, children: 0, rrsets: rrsets.into_boxed_slice(), referral: None });
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
        let (serial, negative_ttl) =
            serial_and_negative_ttl(nodes[apex_wire].rrset(Rtype::SOA).expect("checked above"));
        let referrers = referrers_of(apex_wire, &nodes);
        let mut snap = Snapshot {
            apex: apex.clone(),
            apex_labels: apex.label_count(),
            serial,
            negative_ttl,
            base: Arc::new(nodes),
            delta: FxHashMap::default(),
            referrers: Arc::new(referrers),
            records: count,
            negative: Block::default(),
        };
        snap.compile_blocks();
        Ok(snap)
    }

    /// The precompiled blocks of one node: the answer of each RRset (in order) and the
    /// referral at a cut. Reads the rest of the zone for additional addresses.
    pub(crate) fn node_blocks(&self, name: &Name, node: &Node, scratch: &mut [u8]) -> (Vec<Block>, Option<Box<Block>>) {
        if node.has(flags::BELOW_CUT) {
            return (Vec::new(), None);
        }
        let owner = name.as_wire();
        let cut = node.has(flags::DELEGATION);
        let blocks = node
            .rrsets
            .iter()
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
            .map(Box::new)
        });
        (blocks, referral)
    }

    /// Recompile the negative-answer SOA (after the apex SOA changed).
    pub(crate) fn compile_negative(&mut self, scratch: &mut [u8]) {
        let apex = self.apex.as_wire().to_vec();
        self.negative =
            Block::compile(&apex, Rtype::SOA, scratch, |w| answer::write_negative_soa(w, self)).unwrap_or_default();
    }

    /// Precompile the answer of every RRset that is answered directly, the referral of
    /// every cut, and the negative-answer SOA (see [`crate::block`]).
    fn compile_blocks(&mut self) {
        // Phase one reads the whole snapshot; phase two writes the blocks back in the
        // same iteration order (the map is not modified in between).
        let compiled: Vec<_> = crate::block::with_scratch(|scratch| {
            self.compile_negative(scratch);
            self.base.iter().map(|(name, node)| self.node_blocks(name, node, scratch)).collect()
        });
        let base = Arc::get_mut(&mut self.base).expect("a snapshot being compiled is not shared yet");
        for (node, (blocks, referral)) in base.values_mut().zip(compiled) {
            set_blocks(node, blocks, referral);
        }
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
    pub fn node(&self, name: &[u8]) -> Option<&Node> {
        self.node_entry(name).map(|(_, n)| n)
    }

    /// The node at exactly `name` with its stored name.
    #[inline]
    pub fn node_entry(&self, name: &[u8]) -> Option<(&Name, &Node)> {
        if !self.delta.is_empty() {
            if let Some((n, v)) = self.delta.get_key_value(name) {
                return v.as_deref().map(|node| (n, node));
            }
        }
        self.base.get_key_value(name)
    }

    pub fn apex_node(&self) -> &Node {
        self.node(self.apex.as_wire()).expect("a zone has its apex")
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = (&Name, &Node)> {
        let delta = &self.delta;
        self.base
            .iter()
            .filter(move |(n, _)| delta.is_empty() || !delta.contains_key(n.as_wire()))
            .chain(delta.iter().filter_map(|(n, v)| v.as_deref().map(|node| (n, node))))
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

/// Store compiled blocks into a node (in RRset order).
pub(crate) fn set_blocks(node: &mut Node, blocks: Vec<Block>, referral: Option<Box<Block>>) {
    for (rrset, b) in node.rrsets.iter_mut().zip(blocks) {
        rrset.block = b;
    }
    node.referral = referral;
}

/// The in-zone targets (lowercase wire) of an NS, MX or SRV RRset; nothing for other types.
pub(crate) fn targets<'r>(apex: &'r [u8], rrset: &'r Rrset) -> impl Iterator<Item = Name> + 'r {
    let at = match rrset.rtype {
        Rtype::NS => Some(0),
        Rtype::MX => Some(2),
        Rtype::SRV => Some(6),
        _ => None,
    };
    rrset.rdatas.iter().filter_map(move |rd| {
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
    for (owner, node) in nodes {
        for rrset in node.rrsets.iter() {
            for t in targets(apex, rrset) {
                let v = m.entry(t).or_default();
                if v.last() != Some(owner) {
                    v.push(owner.clone());
                }
            }
        }
    }
    m.into_iter().map(|(k, v)| (k, v.into_boxed_slice())).collect()
}

/// The serial of the apex SOA RRset, and the TTL of the SOA in negative answers:
/// min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
pub(crate) fn serial_and_negative_ttl(soa: &Rrset) -> (u32, u32) {
    let rd = &soa.rdatas[0];
    let fixed = &rd[rd.len() - 20..];
    let serial = u32::from_be_bytes(fixed[0..4].try_into().expect("4 bytes"));
    let minimum = u32::from_be_bytes(fixed[16..20].try_into().expect("4 bytes"));
    (serial, soa.ttl.min(minimum))
}
