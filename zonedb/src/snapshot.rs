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

use crate::answer;
use crate::block::Block;
use crate::error::{LoadError, LoadErrorKind};
use crate::load::Loaded;
use rustc_hash::FxHashMap;
use shoal_wire::name::{is_subdomain, Display};
use shoal_wire::writer::{Owner, Section};
use shoal_wire::{Name, Rtype};

/// Node flags.
pub mod flags {
    pub const APEX: u8 = 1;
    /// NS records at a name other than the apex: a zone cut.
    pub const DELEGATION: u8 = 2;
    /// Strictly below a zone cut: glue or occluded data, not authoritative.
    pub const BELOW_CUT: u8 = 4;
    pub const WILDCARD_CHILD: u8 = 8;
    pub const DNAME: u8 = 16;
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

/// Everything at one name. An empty-non-terminal has no RRsets.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub flags: u8,
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

/// An immutable compiled zone.
#[derive(Debug)]
pub struct Snapshot {
    apex: Name,
    apex_labels: usize,
    serial: u32,
    /// TTL for the SOA in negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §3).
    negative_ttl: u32,
    nodes: FxHashMap<Name, Node>,
    records: usize,
    /// The SOA for NXDOMAIN and NODATA answers, anchored at the apex.
    negative: Block,
}

impl Snapshot {
    /// Validate and compile the records of zone `apex`.
    pub fn compile(apex: &Name, loaded: Loaded) -> Result<Snapshot, Vec<LoadError>> {
        let zone_text = apex.to_string();
        let mut errors = Vec::new();
        let err = |errors: &mut Vec<LoadError>, file: u16, line: u32, kind| {
            errors.push(LoadError {
                zone: zone_text.clone(),
                file: loaded.files.get(file as usize).cloned().unwrap_or_default(),
                line: line as usize,
                kind,
            })
        };
        // Group by owner, keeping the first record's position for errors.
        let mut by_owner: FxHashMap<Name, Vec<usize>> = FxHashMap::default();
        for (i, r) in loaded.records.iter().enumerate() {
            by_owner.entry(r.owner.clone()).or_default().push(i);
        }
        let mut nodes: FxHashMap<Name, Node> =
            FxHashMap::with_capacity_and_hasher(by_owner.len() * 2, Default::default());
        let mut records = 0;
        let mut soa_seen = false;
        for (owner, idx) in &by_owner {
            let mut recs: Vec<&crate::load::Record> = idx.iter().map(|&i| &loaded.records[i]).collect();
            recs.sort_by(|a, b| a.rtype.cmp(&b.rtype).then_with(|| a.rdata.cmp(&b.rdata)));
            let first_line = |t: Rtype| recs.iter().find(|r| r.rtype == t).map(|r| (r.file, r.line)).unwrap_or((0, 0));
            let mut rrsets: Vec<Rrset> = Vec::new();
            for r in &recs {
                match rrsets.last_mut() {
                    Some(last) if last.rtype == r.rtype => {
                        if last.rdatas.last().map(|d| &**d) != Some(&*r.rdata) {
                            let mut v = std::mem::take(&mut last.rdatas).into_vec();
                            v.push(r.rdata.clone());
                            last.rdatas = v.into_boxed_slice();
                        }
                    }
                    _ => rrsets.push(Rrset {
                        rtype: r.rtype,
                        ttl: r.ttl,
                        rdatas: Box::new([r.rdata.clone()]),
                        block: Block::default(),
                    }),
                }
            }
            let owner_text = || Display(owner.as_wire()).to_string();
            if let Some(soa) = rrsets.iter().find(|r| r.rtype == Rtype::SOA) {
                let (f, l) = first_line(Rtype::SOA);
                if owner != apex || soa.rdatas.len() > 1 {
                    err(&mut errors, f, l, LoadErrorKind::MultipleSoa { owner: owner_text() });
                } else {
                    soa_seen = true;
                }
            }
            if let Some(c) = rrsets.iter().find(|r| r.rtype == Rtype::CNAME) {
                let (f, l) = first_line(Rtype::CNAME);
                if c.rdatas.len() > 1 {
                    err(&mut errors, f, l, LoadErrorKind::MultipleCname { owner: owner_text() });
                }
                if rrsets.iter().any(|r| r.rtype == Rtype::DNAME) {
                    err(&mut errors, f, l, LoadErrorKind::CnameAndDname { owner: owner_text() });
                } else if rrsets.iter().any(|r| !matches!(r.rtype, Rtype::CNAME | Rtype::RRSIG | Rtype::NSEC)) {
                    err(&mut errors, f, l, LoadErrorKind::CnameAndOtherData { owner: owner_text() });
                }
            }
            records += rrsets.iter().map(|r| r.rdatas.len()).sum::<usize>();
            let mut fl = 0;
            if owner == apex {
                fl |= flags::APEX;
            } else if rrsets.iter().any(|r| r.rtype == Rtype::NS) {
                fl |= flags::DELEGATION;
            }
            if rrsets.iter().any(|r| r.rtype == Rtype::DNAME) {
                fl |= flags::DNAME;
            }
            nodes.insert(owner.clone(), Node { flags: fl, rrsets: rrsets.into_boxed_slice(), referral: None });
        }
        if !soa_seen {
            errors.push(LoadError {
                zone: zone_text.clone(),
                file: loaded.files.first().cloned().unwrap_or_default(),
                line: 0,
                kind: LoadErrorKind::NoSoa,
            });
        }
        if !errors.is_empty() {
            errors.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
            return Err(errors);
        }
        let apex_wire = apex.as_wire();
        // Empty non-terminals, wildcard-child flags.
        let owners: Vec<Name> = nodes.keys().cloned().collect();
        for owner in &owners {
            let w = owner.as_wire();
            let mut off = 0;
            let mut child_is_wildcard = w.starts_with(b"\x01*");
            while w.len() - off > apex_wire.len() {
                off += 1 + w[off] as usize;
                let parent = &w[off..];
                let node = match nodes.get_mut(parent) {
                    Some(n) => n,
                    None => nodes.entry(Name::from_wire(parent).expect("suffix of a valid name")).or_default(),
                };
                if child_is_wildcard {
                    node.flags |= flags::WILDCARD_CHILD;
                    child_is_wildcard = false;
                }
            }
        }
        // Below-cut flags: any strict ancestor (below the apex) is a delegation.
        let all: Vec<Name> = nodes.keys().cloned().collect();
        for owner in &all {
            let w = owner.as_wire();
            let mut off = 0;
            let mut below = false;
            while w.len() - off > apex_wire.len() {
                off += 1 + w[off] as usize;
                if w.len() - off > apex_wire.len() && nodes.get(&w[off..]).is_some_and(|n| n.has(flags::DELEGATION)) {
                    below = true;
                    break;
                }
            }
            if below {
                nodes.get_mut(w).expect("present").flags |= flags::BELOW_CUT;
            }
        }
        let soa = nodes[apex_wire].rrset(Rtype::SOA).expect("checked above");
        let rd = &soa.rdatas[0];
        let fixed = &rd[rd.len() - 20..];
        let serial = u32::from_be_bytes(fixed[0..4].try_into().expect("4 bytes"));
        let minimum = u32::from_be_bytes(fixed[16..20].try_into().expect("4 bytes"));
        let negative_ttl = soa.ttl.min(minimum);
        let mut snap = Snapshot {
            apex: apex.clone(),
            apex_labels: apex.label_count(),
            serial,
            negative_ttl,
            nodes,
            records,
            negative: Block::default(),
        };
        snap.compile_blocks();
        Ok(snap)
    }

    /// Precompile the answer of every RRset that is answered directly, the referral of
    /// every cut, and the negative-answer SOA (see [`crate::block`]).
    fn compile_blocks(&mut self) {
        let mut scratch = vec![0u8; 65535];
        let apex = self.apex.as_wire().to_vec();
        self.negative = Block::compile(&apex, Rtype::SOA, &mut scratch, |w| answer::write_negative_soa(w, self))
            .unwrap_or_default();
        let mut compiled: Vec<(Name, Vec<Block>, Option<Box<Block>>)> = Vec::new();
        for (name, node) in &self.nodes {
            if node.has(flags::BELOW_CUT) {
                continue;
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
                    Block::compile(owner, rrset.rtype, &mut scratch, |w| {
                        answer::write_rrset(w, Section::Answer, Owner::Question, rrset) && {
                            answer::write_additional(w, self, rrset, None);
                            true
                        }
                    })
                    .unwrap_or_default()
                })
                .collect();
            let referral = node.rrset(Rtype::NS).filter(|_| cut).and_then(|ns| {
                Block::compile(owner, Rtype::NS, &mut scratch, |w| {
                    answer::write_rrset(w, Section::Authority, Owner::Question, ns) && {
                        answer::write_additional(w, self, ns, Some(owner));
                        true
                    }
                })
                .map(Box::new)
            });
            compiled.push((name.clone(), blocks, referral));
        }
        for (name, blocks, referral) in compiled {
            let node = self.nodes.get_mut(name.as_wire()).expect("present");
            for (rrset, b) in node.rrsets.iter_mut().zip(blocks) {
                rrset.block = b;
            }
            node.referral = referral;
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
    pub fn node(&self, name: &[u8]) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// The node at exactly `name` with its stored name.
    pub fn node_entry(&self, name: &[u8]) -> Option<(&Name, &Node)> {
        self.nodes.get_key_value(name)
    }

    pub fn apex_node(&self) -> &Node {
        &self.nodes[self.apex.as_wire()]
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = (&Name, &Node)> {
        self.nodes.iter()
    }

    /// Whether `name` is in this zone (at or below the apex).
    pub fn contains(&self, name: &[u8]) -> bool {
        is_subdomain(name, self.apex.as_wire())
    }
}
