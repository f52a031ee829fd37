//! [`Builder`]: compiling a zone from a stream of records into its node map, one owner
//! at a time. It is the one way a complete version is built, whether the records come
//! from a master file, a zone transfer, a state copy or a rebuild.
//!
//! Master files and AXFR streams list an owner's records together, so each run of one
//! owner is sorted, checked (one SOA, at the apex; CNAME alone) and packed straight
//! into the arena ([`crate::store::nodemap`]). Its answers are compiled at once when
//! they need nothing from other names, which is every type but NS, MX and SRV (those
//! carry in-zone addresses, [`crate::store::encode::target_offset`]). An owner that
//! comes back later is merged with its earlier node, which is replaced.
//!
//! Once every record is in, the structure is worked out in place: empty non-terminals,
//! child counts, wildcard and below-cut flags. Then the answers left are compiled by
//! reading the zone, and replaced bytes are dropped when there are enough to matter.
//! Nothing holds the zone twice: the peak is the arena and its index.

use crate::error::{LoadError, LoadErrorKind};
use crate::store::block::{with_scratch, Block};
use crate::store::encode::target_offset;
use crate::store::flags;
use crate::store::namehash::{NameMap, NameSet};
use crate::store::node::{pack_sets, repack, set_key, Blocks, NodeRef};
use crate::store::nodemap::NodeMap;
use crate::store::snapshot::{referrers_from, serial_and_negative_ttl, set_block, Snapshot};
use crate::text::load::{Loaded, Sink};
use shoal_wire::name::{is_subdomain, Display};
use shoal_wire::{Name, Rtype};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One record of a [`Run`]; its RDATA is `bytes[at..at + len]` of the run.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) rtype: Rtype,
    pub(crate) ttl: u32,
    at: u32,
    len: u16,
    file: u16,
    line: u32,
}

/// One owner's records as they arrive, each an entry into one byte buffer (no
/// allocation per record). The builder packs a run; [`crate::change::incoming`] compares it
/// with the version held.
#[derive(Default)]
pub(crate) struct Run {
    /// The owner, lowercase wire form.
    pub(crate) owner: Vec<u8>,
    pub(crate) entries: Vec<Entry>,
    bytes: Vec<u8>,
}

impl Run {
    /// Start the run of `owner` (the previous one must have been taken).
    pub(crate) fn start(&mut self, owner: &[u8]) {
        self.owner.clear();
        self.owner.extend_from_slice(owner);
    }

    /// Add a record (RDATA at most 65,535 bytes, as on the wire).
    pub(crate) fn push(&mut self, rtype: Rtype, ttl: u32, rdata: &[u8], file: u16, line: u32) {
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(rdata);
        self.entries.push(Entry { rtype, ttl, at, len: rdata.len() as u16, file, line });
    }

    pub(crate) fn rdata(&self, e: &Entry) -> &[u8] {
        &self.bytes[e.at as usize..e.at as usize + usize::from(e.len)]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where the first record of type `t` came from, `(0, 0)` if none.
    fn position(&self, t: Rtype) -> (u16, u32) {
        self.entries.iter().find(|e| e.rtype == t).map_or((0, 0), |e| (e.file, e.line))
    }

    /// Sort by type and RDATA, drop duplicates, and give each RRset one TTL: the
    /// lowest when the records disagree (RFC 2181 §5.2; never caching longer than the
    /// owner asked), as every version of a zone is compiled. RRSIGs form one set per
    /// type covered ([`set_key`]), each keeping its own TTL (RFC 4034 §3).
    pub(crate) fn normalize(&mut self) {
        let bytes = self.bytes.as_slice();
        let rdata = |e: &Entry| &bytes[e.at as usize..e.at as usize + usize::from(e.len)];
        self.entries.sort_unstable_by(|a, b| a.rtype.cmp(&b.rtype).then_with(|| rdata(a).cmp(rdata(b))));
        self.entries.dedup_by(|later, kept| {
            let same = later.rtype == kept.rtype && rdata(later) == rdata(kept);
            kept.ttl = kept.ttl.min(if same { later.ttl } else { kept.ttl });
            same
        });
        let key = |e: &Entry| set_key(e.rtype, rdata(e));
        for set in self.entries.chunk_by_mut(|a, b| key(a) == key(b)) {
            let ttl = set.iter().map(|e| e.ttl).min().unwrap_or(0);
            set.iter_mut().for_each(|e| e.ttl = ttl);
        }
    }

    /// The RRsets of a normalized run.
    pub(crate) fn sets(&self) -> std::slice::ChunkBy<'_, Entry, impl FnMut(&Entry, &Entry) -> bool + '_> {
        let bytes = self.bytes.as_slice();
        let key = move |e: &Entry| set_key(e.rtype, &bytes[e.at as usize..e.at as usize + usize::from(e.len)]);
        self.entries.chunk_by(move |a, b| key(a) == key(b))
    }

    /// Empty the run (its owner stays until the next [`Run::start`]).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes.clear();
    }
}

/// Builds one version of a zone from its records.
pub struct Builder {
    apex: Name,
    files: Vec<PathBuf>,
    map: NodeMap,
    run: Run,
    /// The run packed without answers, to compile them from.
    plain: Vec<u8>,
    /// The run packed with its answers.
    packed: Vec<u8>,
    errors: Vec<LoadError>,
    soa_seen: bool,
    cuts: bool,
    /// Some owner holds NSEC3 records.
    nsec3_names: bool,
    records: usize,
}

impl Builder {
    /// A builder for zone `apex`, with room for about `nodes` owners of `bytes` packed
    /// bytes in all (a reservation: address space, not memory, until it is used).
    pub fn new(apex: &Name, nodes: usize, bytes: usize) -> Builder {
        Builder {
            apex: apex.clone(),
            files: Vec::new(),
            map: NodeMap::with_capacity(nodes, bytes),
            run: Run::default(),
            plain: Vec::new(),
            packed: Vec::new(),
            errors: Vec::new(),
            soa_seen: false,
            cuts: false,
            nsec3_names: false,
            records: 0,
        }
    }

    /// Name a source for errors (a file, a peer); records give its index.
    pub fn add_source(&mut self, path: PathBuf) -> u16 {
        self.files.push(path);
        (self.files.len() - 1) as u16
    }

    /// Add one record. `owner` is in lowercase wire form, at or below the apex (a
    /// record outside the zone is an error); `file` and `line` say where it came
    /// from, for errors.
    pub fn add(&mut self, owner: &[u8], rtype: Rtype, ttl: u32, rdata: &[u8], file: u16, line: u32) {
        if !is_subdomain(owner, self.apex.as_wire()) {
            self.error((file, line), LoadErrorKind::OutOfZone { owner: Display(owner).to_string() });
            return;
        }
        if owner != self.run.owner.as_slice() {
            self.flush();
            self.run.start(owner);
        }
        self.run.push(rtype, ttl, rdata, file, line);
    }

    /// Add every record of a node of another version.
    pub(crate) fn add_node(&mut self, node: NodeRef<'_>) {
        for r in node.rrsets() {
            for rd in r.rdatas() {
                self.add(node.name(), r.rtype, r.ttl, rd, 0, 0);
            }
        }
    }

    fn error(&mut self, (file, line): (u16, u32), kind: LoadErrorKind) {
        self.errors.push(LoadError {
            zone: self.apex.to_string(),
            file: self.files.get(usize::from(file)).cloned().unwrap_or_default(),
            line: line as usize,
            kind,
        });
    }

    /// Pack the current run as a node (merged with an earlier node of the same owner).
    fn flush(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let earlier = self.map.offset_of(&self.run.owner);
        if let Some(at) = earlier {
            let node = self.map.node_at(at);
            self.records -= node.record_count();
            for r in node.rrsets() {
                for rd in r.rdatas() {
                    self.run.push(r.rtype, r.ttl, rd, 0, 0);
                }
            }
        }
        let (soa_at, cname_at) = (self.run.position(Rtype::SOA), self.run.position(Rtype::CNAME));
        self.run.normalize();
        let run = &self.run;
        let count = |t: Rtype| run.entries.iter().filter(|e| e.rtype == t).count();
        let owner_text = || Display(&run.owner).to_string();
        let is_apex = run.owner.as_slice() == self.apex.as_wire();
        let mut problems = Vec::new();
        if count(Rtype::SOA) > 0 {
            if !is_apex || count(Rtype::SOA) > 1 {
                problems.push((soa_at, LoadErrorKind::MultipleSoa { owner: owner_text() }));
            } else {
                self.soa_seen = true;
            }
        }
        if count(Rtype::CNAME) > 0 {
            if count(Rtype::CNAME) > 1 {
                problems.push((cname_at, LoadErrorKind::MultipleCname { owner: owner_text() }));
            }
            if count(Rtype::DNAME) > 0 {
                problems.push((cname_at, LoadErrorKind::CnameAndDname { owner: owner_text() }));
            } else if run.entries.iter().any(|e| !matches!(e.rtype, Rtype::CNAME | Rtype::RRSIG | Rtype::NSEC)) {
                problems.push((cname_at, LoadErrorKind::CnameAndOtherData { owner: owner_text() }));
            }
        }
        let mut fl = 0;
        if is_apex {
            fl |= flags::APEX;
        } else if count(Rtype::NS) > 0 {
            fl |= flags::DELEGATION;
            self.cuts = true;
        }
        if count(Rtype::DNAME) > 0 {
            fl |= flags::DNAME;
        }
        self.nsec3_names |= run.entries.iter().any(|e| e.rtype == Rtype::NSEC3);
        let needs_zone = run.entries.iter().any(|e| target_offset(e.rtype).is_some());
        if needs_zone {
            fl |= flags::PENDING;
        }
        let rrsets = run.sets().map(|g| (g[0].rtype, g[0].ttl, g.iter().map(|e| run.rdata(e))));
        self.plain.clear();
        pack_sets(&mut self.plain, &run.owner, (fl, 0), run.sets().count(), rrsets, None);
        let out = if needs_zone {
            &self.plain
        } else {
            let node = NodeRef::at(&self.plain, 0);
            let answers: Vec<Block> = with_scratch(|s| node.rrsets().map(|r| set_block(node, r, s, None)).collect());
            self.packed.clear();
            repack(&mut self.packed, node, Some(Blocks { answers: &answers, referral: None, referral_do: None }));
            &self.packed
        };
        match earlier {
            Some(old) => {
                self.map.replace(old, out);
            }
            None => {
                self.map.append(|arena| arena.extend_from_slice(out));
            }
        }
        self.records += run.entries.len();
        self.run.clear();
        for (at, kind) in problems {
            self.error(at, kind);
        }
    }

    /// The compiled zone, or every problem found (each with its file and line).
    pub fn finish(mut self) -> Result<Snapshot, Vec<LoadError>> {
        self.flush();
        if !self.soa_seen {
            self.error((0, 0), LoadErrorKind::NoSoa);
        }
        if !self.errors.is_empty() {
            let mut errors = self.errors;
            errors.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
            errors.dedup_by(|a, b| a.file == b.file && a.line == b.line && a.kind == b.kind);
            return Err(errors);
        }
        let apex = self.apex.as_wire();
        let mut map = self.map;
        add_empty_non_terminals(&mut map, apex);
        let pending = link(&mut map, apex, self.cuts);
        let soa = map.get(apex).and_then(|n| n.rrset(Rtype::SOA)).expect("checked: the apex has the SOA");
        let (serial, negative_ttl) = serial_and_negative_ttl(soa.ttl, soa.first());
        let mut snap = Snapshot {
            apex: self.apex.clone(),
            apex_labels: self.apex.label_count(),
            serial,
            negative_ttl,
            base: Arc::new(map),
            delta: NameMap::default(),
            referrers: Arc::default(),
            records: self.records,
            nsec3_names: self.nsec3_names,
            negative: Block::default(),
            signed: false,
            denial: Box::default(),
            negative_do: Block::default(),
        };
        // The nodes with NS, MX or SRV records are all pending: who points where is
        // found among them alone.
        let referrers = referrers_from(apex, pending.iter().map(|&at| snap.base.node_at(at)));
        let compiled: Vec<(usize, crate::store::node::Node)> = with_scratch(|scratch| {
            snap.compile_negative(scratch);
            pending.iter().map(|&at| (at, snap.with_blocks(snap.base.node_at(at), scratch))).collect()
        });
        let mut map = Arc::into_inner(std::mem::take(&mut snap.base)).expect("nothing else holds the map yet");
        for (old, node) in compiled {
            let at = map.replace(old, node.as_ref().bytes());
            *map.flags_mut(at) &= !flags::PENDING;
        }
        if map.dead_bytes() > map.arena_len() / 16 {
            map.compact();
        }
        map.shrink_if_oversized();
        snap.referrers = Arc::new(referrers);
        snap.base = Arc::new(map);
        snap.scan_dnssec();
        Ok(snap)
    }
}

/// The parent of a name below the apex.
fn parent(name: &[u8]) -> &[u8] {
    &name[1 + usize::from(name[0])..]
}

/// Add the names between the apex and each owner that have no records (RFC 4592
/// §2.2.2): they exist, and answer NODATA.
fn add_empty_non_terminals(map: &mut NodeMap, apex: &[u8]) {
    let mut missing: NameSet<Name> = NameSet::default();
    // Siblings come together: a parent just found present (or added) is not probed again.
    let mut last: &[u8] = &[];
    for (_, node) in map.walk().filter(|(_, n)| !n.has(flags::DEAD)) {
        let mut p = node.name();
        while p.len() > apex.len() {
            p = parent(p);
            if p.len() <= apex.len() || p == last || map.contains(p) || missing.contains(p) {
                break;
            }
            missing.insert(Name::from_wire(p).expect("suffix of a valid name"));
        }
        last = p;
    }
    for m in missing {
        map.append(|arena| {
            pack_sets(arena, m.as_wire(), (0, 0), 0, std::iter::empty::<(Rtype, u32, std::iter::Empty<&[u8]>)>(), None)
        });
    }
}

/// Link every node to the rest: count each node's children, flag the parents of
/// wildcards and, when the zone has cuts, every node strictly below one (glue or
/// occluded data; one whose answers were compiled is marked to be compiled again, as
/// it answers nothing). Returns the nodes whose answers are still to be compiled.
fn link(map: &mut NodeMap, apex: &[u8], cuts: bool) -> Vec<usize> {
    let mut pending = Vec::new();
    // Siblings come together: the last parent found is reused without a probe.
    let mut last = (Vec::new(), None);
    let mut at = 0;
    while at < map.arena_len() {
        let node = map.node_at(at);
        let next = at + node.bytes().len();
        if node.has(flags::DEAD) {
            at = next;
            continue;
        }
        let name = node.name();
        let below = cuts && {
            let mut p = name;
            let mut found = false;
            while p.len() > apex.len() {
                p = parent(p);
                if p.len() > apex.len() && map.get(p).is_some_and(|n| n.has(flags::DELEGATION)) {
                    found = true;
                    break;
                }
            }
            found
        };
        let wildcard = name.starts_with(b"\x01*");
        let parent_at = match name.len() > apex.len() {
            true if last.0.as_slice() == parent(name) => last.1,
            true => {
                let p = parent(name);
                last = (p.to_vec(), map.offset_of(p));
                last.1
            }
            false => None,
        };
        if below {
            *map.flags_mut(at) |= flags::BELOW_CUT | flags::PENDING;
        }
        if map.node_at(at).has(flags::PENDING) {
            pending.push(at);
        }
        if let Some(p) = parent_at {
            map.add_child(p);
            if wildcard {
                *map.flags_mut(p) |= flags::WILDCARD_CHILD;
            }
        }
        at = next;
    }
    pending
}

/// Validate and compile a list of records of zone `apex` (records that are not
/// streamed: tests, tools, a serial bump).
pub fn compile(apex: &Name, loaded: Loaded) -> Result<Snapshot, Vec<LoadError>> {
    let Loaded { records, files } = loaded;
    // Room for the packed zone: owners (runs of one owner) and about the bytes
    // each record takes packed with its answer.
    let owners = 1 + records.windows(2).filter(|w| w[0].owner != w[1].owner).count();
    let bytes: usize = records.iter().map(|r| 40 + r.rdata.len()).sum::<usize>()
        + records.first().map_or(0, |r| owners * (10 + r.owner.as_wire().len()));
    let mut b = Builder::new(apex, owners, bytes);
    for f in files {
        b.add_source(f);
    }
    for r in records {
        b.add(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata, r.file, r.line);
    }
    b.finish()
}

/// A master file compiles as it is read.
impl Sink for Builder {
    fn source(&mut self, path: &Path) -> u16 {
        self.add_source(path.to_path_buf())
    }

    fn record(&mut self, owner: &[u8], rtype: Rtype, ttl: u32, rdata: &[u8], file: u16, line: u32) {
        self.add(owner, rtype, ttl, rdata, file, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;

    fn name(s: &str) -> Name {
        from_ascii(s).unwrap()
    }

    /// Records of example.com. fed in `order`, some owners split over the stream.
    fn build(records: &[(&str, Rtype, &[u8])]) -> Result<Snapshot, Vec<LoadError>> {
        let apex = name("example.com.");
        let mut b = Builder::new(&apex, 4, 256);
        b.add_source(PathBuf::from("t"));
        for (i, (owner, t, rd)) in records.iter().enumerate() {
            b.add(name(owner).as_wire(), *t, 60, rd, 0, i as u32 + 1);
        }
        b.finish()
    }

    const SOA: &[u8] =
        b"\x02ns\x07example\x03com\x00\x02hm\x07example\x03com\x00\0\0\0\x01\0\0\0\x02\0\0\0\x03\0\0\0\x04\0\0\0\x05";
    const NS: &[u8] = b"\x02ns\x07example\x03com\x00";
    const NS_SUB: &[u8] = b"\x02ns\x03sub\x07example\x03com\x00";

    #[test]
    fn owners_split_over_the_stream_are_merged_and_structure_is_worked_out() {
        let s = build(&[
            ("a.b.c.example.com.", Rtype::A, b"\x01\x02\x03\x04"),
            ("example.com.", Rtype::SOA, SOA),
            ("a.b.c.example.com.", Rtype::TXT, b"\x02hi"),
            ("example.com.", Rtype::NS, NS),
            ("ns.example.com.", Rtype::A, b"\x01\x02\x03\x05"),
            ("*.w.example.com.", Rtype::A, b"\x01\x02\x03\x06"),
            ("sub.example.com.", Rtype::NS, NS_SUB),
            ("ns.sub.example.com.", Rtype::A, b"\x01\x02\x03\x07"),
            ("a.b.c.example.com.", Rtype::A, b"\x01\x02\x03\x04"),
            ("a.b.c.example.com.", Rtype::A, b"\x01\x02\x03\x08"),
        ])
        .expect("a valid zone");
        assert_eq!(s.record_count(), 9, "the duplicate A counted once");
        let node = |n: &str| s.node(name(n).as_wire()).unwrap_or_else(|| panic!("{n} missing"));
        let abc = node("a.b.c.example.com.");
        assert_eq!(abc.rrset(Rtype::A).unwrap().len(), 2);
        assert!(abc.rrset(Rtype::TXT).is_some());
        assert!(!abc.rrset(Rtype::A).unwrap().block().is_empty(), "answers compiled");
        // Empty non-terminals, child counts, flags.
        assert!(node("b.c.example.com.").is_empty() && node("c.example.com.").is_empty());
        assert_eq!(node("example.com.").children(), 4, "ns, c, w and sub");
        assert_eq!(node("c.example.com.").children(), 1);
        assert!(node("w.example.com.").has(flags::WILDCARD_CHILD));
        assert!(node("sub.example.com.").has(flags::DELEGATION));
        assert!(node("sub.example.com.").referral().is_some(), "referral with its glue");
        let glue = node("ns.sub.example.com.");
        assert!(glue.has(flags::BELOW_CUT) && glue.rrset(Rtype::A).unwrap().block().is_empty());
        for n in s.nodes() {
            assert!(!n.has(flags::PENDING | flags::DEAD), "{n:?} left half built");
        }
        // The apex NS answer carries the in-zone address of its target.
        let ns = node("example.com.").rrset(Rtype::NS).unwrap().block();
        assert_eq!(ns.counts, [1, 0, 1]);
    }

    #[test]
    fn errors_name_the_line() {
        let e = build(&[
            ("example.com.", Rtype::SOA, SOA),
            ("www.example.org.", Rtype::A, b"\x01\x02\x03\x04"),
            ("x.example.com.", Rtype::CNAME, NS),
            ("x.example.com.", Rtype::A, b"\x01\x02\x03\x04"),
        ])
        .unwrap_err();
        let got: Vec<(usize, String)> = e.iter().map(|e| (e.line, e.kind.to_string())).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, 2, "outside the zone: {got:?}");
        assert_eq!(got[1].0, 3, "the CNAME's line: {got:?}");
        assert!(build(&[("a.example.com.", Rtype::A, b"\x01\x02\x03\x04")]).is_err(), "no SOA");
    }

    #[test]
    fn rrsigs_form_one_set_per_type_covered_with_its_own_ttl() {
        let z = "@ 300 SOA ns hm 1 2 3 4 5\n@ 300 NS ns\nns 300 A 192.0.2.1\nns 60 AAAA 2001:db8::1\n\
                 ns RRSIG A 13 3 300 20240201000000 20240101000000 1 example.com. AA==\n\
                 ns RRSIG AAAA 13 3 60 20240201000000 20240101000000 1 example.com. AA==\n\
                 ns 300 RRSIG AAAA 13 3 60 20240201000000 20240101000000 2 example.com. AA==\n";
        let snap = crate::load_zone_str(&name("example.com."), z, std::path::Path::new("t")).unwrap();
        let node = snap.node(b"\x02ns\x07example\x03com\x00").unwrap();
        let sigs: Vec<(u16, u32, usize)> =
            node.rrsets().filter(|r| r.rtype == Rtype::RRSIG).map(|r| (r.key().1, r.ttl, r.len())).collect();
        // Covering A at 300; covering AAAA at the lower of 60 and 300 (RFC 2181 §5.2 within a set).
        assert_eq!(sigs, [(1, 300, 1), (28, 60, 2)]);
        assert_eq!(snap.record_count(), 7);
    }
}
