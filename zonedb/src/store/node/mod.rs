//! Nodes packed into bytes: everything a compiled zone keeps at one name.
//!
//! A node is its name, flags and child count, its RRsets (type, TTL, RDATA) and each
//! RRset's precompiled answer ([`crate::store::block`]), and at a zone cut the referral, laid
//! out in one run of bytes. A version's nodes sit back to back in one arena
//! ([`crate::store::nodemap::NodeMap`]); the few nodes a derived version replaces are each one
//! boxed slice ([`Node`]). Readers get a [`NodeRef`], a view that decodes fields on
//! demand. There is no struct per RRset, per RDATA or per block, and so no allocation
//! and no pointer for each: what a million-record zone costs is about the bytes the
//! records themselves take on the wire.
//!
//! Layout, integers little-endian:
//!
//! ```text
//! node  = name_len:u8 name flags:u8 children:u32 sets:u16 referral:u8 set* [block [block]]
//! set   = type:u16 ttl:u32 count:u32 rdata_len:u32 (len:u16 rdata)* block
//! block = len:u16 pointers:u16 an:u16 ns:u16 ar:u16 (pointer:u16)* bytes
//! ```
//!
//! An RRset whose RDATA its answer copies verbatim (no compressed names inside: A, AAAA,
//! TXT and most types) is not stored twice: `rdata_len` is 0 and the RDATA is read from
//! the last `count` records of the answer section of its block (for an RRSIG set, whose
//! block answers the covered type with DO, they follow the covered records).

use crate::store::block::Block;
use shoal_wire::rdata::compressed_names;
use shoal_wire::Rtype;

/// What makes records one RRset: their type and, for RRSIG and SIG, the type they
/// cover. Signatures of different RRsets at one owner are separate sets, each with the
/// TTL of the RRset it covers (RFC 4034 §3); `rdata` is any record's RDATA.
pub fn set_key(rtype: Rtype, rdata: &[u8]) -> (Rtype, u16) {
    match rtype {
        Rtype::RRSIG | Rtype::SIG if rdata.len() >= 2 => (rtype, u16::from_be_bytes([rdata[0], rdata[1]])),
        _ => (rtype, 0),
    }
}

/// The records of one owner and type while a version is being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rrset {
    pub rtype: Rtype,
    pub ttl: u32,
    /// RDATA of each record, in wire form, sorted and without duplicates.
    pub rdatas: Vec<Box<[u8]>>,
}

/// A node while a version is being built (unpacked).
#[derive(Debug, Clone, Default)]
pub struct NodeData {
    pub flags: u8,
    /// Nodes one label below this one (empty non-terminals included).
    pub children: u32,
    /// Sorted by type.
    pub rrsets: Vec<Rrset>,
}

impl NodeData {
    pub fn rrset(&self, t: Rtype) -> Option<&Rrset> {
        self.rrsets.iter().find(|r| r.rtype == t)
    }

    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// Precompiled answers of a node: one block per RRset (in order; empty when the RRset
/// is never answered directly) and the referral at a cut, with its DO form when it can
/// be compiled from the cut alone (`referral` is then 2: both blocks follow the sets).
pub struct Blocks<'b> {
    pub answers: &'b [Block],
    pub referral: Option<&'b Block>,
    pub referral_do: Option<&'b Block>,
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_block(out: &mut Vec<u8>, b: Option<&Block>) {
    let empty = Block::default();
    let b = b.unwrap_or(&empty);
    put_u16(out, b.bytes.len() as u16);
    put_u16(out, (b.pointers.len() / 2) as u16);
    for c in b.counts {
        put_u16(out, c);
    }
    out.extend_from_slice(&b.pointers);
    out.extend_from_slice(&b.bytes);
}

/// Append the packed form of a node to `out`. Without `blocks`, every RRset keeps its
/// RDATA and has no answer (a first pass, before answers can be compiled).
pub(crate) fn pack(out: &mut Vec<u8>, name: &[u8], node: &NodeData, blocks: Option<Blocks<'_>>) {
    let sets = node.rrsets.iter().map(|r| (r.rtype, r.ttl, r.rdatas.iter().map(|rd| &rd[..])));
    pack_sets(out, name, (node.flags, node.children), node.rrsets.len(), sets, blocks);
}

/// Append a packed node again, with `blocks`: RDATA is copied straight from it, without
/// unpacking it into allocations first (compiling a zone repacks every node).
pub(crate) fn repack(out: &mut Vec<u8>, node: NodeRef<'_>, blocks: Option<Blocks<'_>>) {
    let sets = node.rrsets().map(|r| (r.rtype, r.ttl, r.rdatas()));
    let count = node.rrsets().count();
    pack_sets(out, node.name(), (node.flags(), node.children()), count, sets, blocks);
}

/// What [`pack`] and [`repack`] share: `sets` yields (type, TTL, RDATA) per RRset.
pub(crate) fn pack_sets<'r, R: Iterator<Item = &'r [u8]> + Clone>(
    out: &mut Vec<u8>,
    name: &[u8],
    (flags, children): (u8, u32),
    count: usize,
    sets: impl Iterator<Item = (Rtype, u32, R)>,
    blocks: Option<Blocks<'_>>,
) {
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.push(flags);
    put_u32(out, children);
    put_u16(out, count as u16);
    let referral = blocks.as_ref().and_then(|b| b.referral);
    let referral_do = blocks.as_ref().and_then(|b| b.referral_do).filter(|_| referral.is_some());
    out.push(u8::from(referral.is_some()) + u8::from(referral_do.is_some()));
    for (i, (rtype, ttl, rdatas)) in sets.enumerate() {
        let block = blocks.as_ref().and_then(|b| b.answers.get(i)).filter(|b| !b.is_empty());
        let (n, len) = rdatas.clone().fold((0usize, 0usize), |(n, l), rd| (n + 1, l + 2 + rd.len()));
        put_u16(out, rtype.0);
        put_u32(out, ttl);
        put_u32(out, n as u32);
        let derived = block.is_some_and(|b| compressed_names(rtype).is_none() && usize::from(b.counts[0]) >= n);
        if derived {
            put_u32(out, 0);
        } else {
            put_u32(out, len as u32);
            for rd in rdatas {
                put_u16(out, rd.len() as u16);
                out.extend_from_slice(rd);
            }
        }
        put_block(out, block);
    }
    if let Some(b) = referral {
        put_block(out, Some(b));
    }
    if let Some(b) = referral_do {
        put_block(out, Some(b));
    }
}

/// The packed size of a node (what [`pack`] appends), for sizing an arena.
pub(crate) fn packed_len(name: &[u8], node: &NodeData) -> usize {
    9 + name.len()
        + node.rrsets.iter().map(|r| 14 + r.rdatas.iter().map(|rd| 2 + rd.len()).sum::<usize>() + 10).sum::<usize>()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Bounds-checked reads for [`check`].
struct Checked<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Checked<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let s = self.b.get(self.i..self.i.checked_add(n).ok_or("length overflow")?).ok_or("node truncated")?;
        self.i += n;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, &'static str> {
        self.take(2).map(|s| u16::from_le_bytes([s[0], s[1]]))
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        self.take(4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// A block; returns its bytes and answer count, every pointer checked.
    fn block(&mut self) -> Result<(&'a [u8], u16), &'static str> {
        let len = usize::from(self.u16()?);
        let n = usize::from(self.u16()?);
        let an = self.u16()?;
        self.take(4)?;
        let pointers = self.take(2 * n)?;
        let bytes = self.take(len)?;
        for p in pointers.chunks_exact(2) {
            let p = usize::from(u16::from_le_bytes([p[0], p[1]]));
            let (hi, lo) = (
                *bytes.get(p).ok_or("pointer outside its block")?,
                *bytes.get(p + 1).ok_or("pointer outside its block")?,
            );
            let target = (usize::from(hi & 0x3f) << 8) | usize::from(lo);
            if hi & 0xc0 != 0xc0 || target + 255 > 0x3fff {
                return Err("bad compression pointer");
            }
        }
        Ok((bytes, an))
    }
}

/// Skip a name in a message at `p` (labels, or a pointer); the position after it.
fn skip_name(b: &[u8], mut p: usize) -> Option<usize> {
    loop {
        let l = *b.get(p)?;
        if l & 0xc0 == 0xc0 {
            return (p + 1 < b.len()).then_some(p + 2);
        }
        p += 1 + l as usize;
        if l == 0 {
            return Some(p);
        }
    }
}

/// Check that the node packed at `at` in `bytes` is well formed, so that reading it
/// cannot go out of bounds (a zone copy read back from disk); returns where it ends.
pub(crate) fn check(bytes: &[u8], at: usize) -> Result<usize, &'static str> {
    let mut c = Checked { b: bytes, i: at };
    let nl = usize::from(c.take(1)?[0]);
    let name = c.take(nl)?;
    if shoal_wire::Name::from_wire(name).is_err() {
        return Err("bad owner name");
    }
    c.take(5)?;
    let sets = c.u16()?;
    let referral = c.take(1)?[0];
    for _ in 0..sets {
        let rtype = Rtype(c.u16()?);
        c.take(4)?;
        let count = c.u32()?;
        let rdata_len = c.u32()? as usize;
        let area = c.take(rdata_len)?;
        let (block, an) = c.block()?;
        if rdata_len == 0 {
            // RDATA read from the answer: it must end with `count` whole records.
            if count == 0 || block.is_empty() || compressed_names(rtype).is_some() || u32::from(an) < count {
                return Err("RRset without RDATA");
            }
            let mut p = 0;
            for _ in 0..an {
                p = skip_name(block, p).ok_or("answer truncated")?;
                let fixed = block.get(p..p + 10).ok_or("answer truncated")?;
                p += 10 + usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
            }
            if p > block.len() {
                return Err("answer truncated");
            }
        } else {
            let mut r = Checked { b: area, i: 0 };
            for _ in 0..count {
                let l = usize::from(r.u16()?);
                r.take(l)?;
            }
            if r.i != area.len() {
                return Err("RDATA length mismatch");
            }
        }
    }
    if referral > 2 {
        return Err("bad referral flag");
    }
    for _ in 0..referral {
        c.block()?;
    }
    Ok(c.i)
}

/// A precompiled block, as stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockRef<'a> {
    pub bytes: &'a [u8],
    /// Positions of compression pointers in `bytes`, as little-endian u16 pairs.
    pointers: &'a [u8],
    pub counts: [u16; 3],
}

impl<'a> BlockRef<'a> {
    /// Decode the block at `at`; returns it and where it ends.
    fn at(b: &'a [u8], at: usize) -> (BlockRef<'a>, usize) {
        let len = usize::from(u16_at(b, at));
        let n = usize::from(u16_at(b, at + 2));
        let counts = [u16_at(b, at + 4), u16_at(b, at + 6), u16_at(b, at + 8)];
        let p = at + 10;
        let bytes_at = p + 2 * n;
        (BlockRef { bytes: &b[bytes_at..bytes_at + len], pointers: &b[p..bytes_at], counts }, bytes_at + len)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn pointers(&self) -> impl Iterator<Item = u16> + 'a {
        self.pointers.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]))
    }
}

impl Block {
    /// The same view a stored block gives.
    pub fn as_ref(&self) -> BlockRef<'_> {
        BlockRef { bytes: &self.bytes, pointers: &self.pointers, counts: self.counts }
    }
}

/// One RRset of a packed node.
#[derive(Debug, Clone, Copy)]
pub struct RrsetRef<'a> {
    pub rtype: Rtype,
    pub ttl: u32,
    count: u32,
    /// `(len:u16 rdata)*`, or empty when the RDATA is read from `block`.
    rdata: &'a [u8],
    block: BlockRef<'a>,
}

impl<'a> RrsetRef<'a> {
    /// What makes this set one RRset ([`set_key`]).
    pub fn key(&self) -> (Rtype, u16) {
        set_key(self.rtype, self.first())
    }

    /// Decode the RRset at `at`; returns it and where it ends.
    fn at(b: &'a [u8], at: usize) -> (RrsetRef<'a>, usize) {
        let rtype = Rtype(u16_at(b, at));
        let ttl = u32_at(b, at + 2);
        let count = u32_at(b, at + 6);
        let rdata_len = u32_at(b, at + 10) as usize;
        let rd = at + 14;
        let (block, end) = BlockRef::at(b, rd + rdata_len);
        (RrsetRef { rtype, ttl, count, rdata: &b[rd..rd + rdata_len], block }, end)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The RDATA of each record, in order.
    pub fn rdatas(&self) -> Rdatas<'a> {
        let from_block = self.rdata.is_empty() && self.count > 0;
        let mut it = Rdatas {
            bytes: if from_block { self.block.bytes } else { self.rdata },
            from_block,
            pos: 0,
            left: self.count,
        };
        if from_block {
            // Skip the records of the answer that come before this set's.
            let before = u32::from(self.block.counts[0]).saturating_sub(self.count);
            it.left += before;
            for _ in 0..before {
                it.next();
            }
        }
        it
    }

    /// The first record's RDATA (an RRset is never empty).
    pub fn first(&self) -> &'a [u8] {
        self.rdatas().next().unwrap_or_default()
    }

    /// The precompiled answer (empty when the RRset is never answered directly).
    pub fn block(&self) -> BlockRef<'a> {
        self.block
    }

    /// An owned copy, for building a new version.
    pub fn to_rrset(&self) -> Rrset {
        Rrset { rtype: self.rtype, ttl: self.ttl, rdatas: self.rdatas().map(Box::from).collect() }
    }
}

/// The RDATA of an RRset's records.
#[derive(Debug, Clone)]
pub struct Rdatas<'a> {
    bytes: &'a [u8],
    from_block: bool,
    pos: usize,
    left: u32,
}

impl<'a> Iterator for Rdatas<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let b = self.bytes;
        if self.from_block {
            // A record of the answer: owner (a pointer, or labels), then type, class,
            // TTL, RDLENGTH and the RDATA.
            let mut p = self.pos;
            loop {
                let l = b[p];
                if l & 0xc0 == 0xc0 {
                    p += 2;
                    break;
                }
                p += 1 + l as usize;
                if l == 0 {
                    break;
                }
            }
            let len = usize::from(u16::from_be_bytes([b[p + 8], b[p + 9]]));
            let rd = p + 10;
            self.pos = rd + len;
            Some(&b[rd..rd + len])
        } else {
            let len = usize::from(u16_at(b, self.pos));
            let rd = self.pos + 2;
            self.pos = rd + len;
            Some(&b[rd..rd + len])
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Rdatas<'_> {}

/// A packed node.
#[derive(Clone, Copy)]
pub struct NodeRef<'a>(&'a [u8]);

impl std::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &shoal_wire::name::Display(self.name()).to_string())
            .field("flags", &self.flags())
            .field("children", &self.children())
            .field("rrsets", &self.rrsets().map(|r| r.rtype).collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> NodeRef<'a> {
    /// The node that starts at `at` in `arena`.
    pub(crate) fn at(arena: &'a [u8], at: usize) -> NodeRef<'a> {
        NodeRef(&arena[at..])
    }

    fn header(&self) -> usize {
        1 + self.0[0] as usize
    }

    /// The owner, lowercase wire form.
    pub fn name(&self) -> &'a [u8] {
        &self.0[1..self.header()]
    }

    pub fn flags(&self) -> u8 {
        self.0[self.header()]
    }

    pub fn has(&self, f: u8) -> bool {
        self.flags() & f != 0
    }

    /// Nodes one label below this one (empty non-terminals included).
    pub fn children(&self) -> u32 {
        u32_at(self.0, self.header() + 1)
    }

    /// Whether the node has no RRsets (an empty non-terminal).
    pub fn is_empty(&self) -> bool {
        u16_at(self.0, self.header() + 5) == 0
    }

    /// The RRsets, sorted by type.
    pub fn rrsets(&self) -> RrsetIter<'a> {
        let h = self.header();
        RrsetIter { bytes: self.0, pos: h + 8, left: u16_at(self.0, h + 5) }
    }

    pub fn rrset(&self, t: Rtype) -> Option<RrsetRef<'a>> {
        self.rrsets().find(|r| r.rtype == t)
    }

    /// The RRset with the same [`set_key`] as `like` (for RRSIG: covering the same type).
    pub fn rrset_like(&self, like: &RrsetRef<'_>) -> Option<RrsetRef<'a>> {
        let key = like.key();
        self.rrsets().find(|r| r.rtype == like.rtype && r.key() == key)
    }

    /// Whether the node holds NSEC3 records and nothing else but their RRSIGs: a name of
    /// the hashed chain, not of the zone (RFC 5155 §7.2.8).
    #[inline]
    pub fn is_nsec3_only(&self) -> bool {
        let mut nsec3 = false;
        for r in self.rrsets() {
            match r.rtype {
                Rtype::NSEC3 => nsec3 = true,
                Rtype::RRSIG => {}
                _ => return false,
            }
        }
        nsec3
    }

    /// Number of records.
    pub fn record_count(&self) -> usize {
        self.rrsets().map(|r| r.len()).sum()
    }

    /// At a zone cut: the referral (NS in authority, glue in additional).
    pub fn referral(&self) -> Option<BlockRef<'a>> {
        if self.0[self.header() + 7] == 0 {
            return None;
        }
        Some(BlockRef::at(self.0, self.sets_end()).0)
    }

    /// At a zone cut, for DO queries: the referral with the DS and its RRSIGs, or the
    /// cut's NSEC and its RRSIGs, when it was compiled ([`Blocks::referral_do`]).
    pub fn referral_do(&self) -> Option<BlockRef<'a>> {
        if self.0[self.header() + 7] != 2 {
            return None;
        }
        let (_, end) = BlockRef::at(self.0, self.sets_end());
        Some(BlockRef::at(self.0, end).0)
    }

    /// Where the RRsets end (and the referral blocks, if any, start).
    fn sets_end(&self) -> usize {
        let mut it = self.rrsets();
        for _ in it.by_ref() {}
        it.pos
    }

    /// The packed bytes, exactly.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        let mut end = self.sets_end();
        for _ in 0..self.0[self.header() + 7] {
            end = BlockRef::at(self.0, end).1;
        }
        &self.0[..end]
    }

    /// An unpacked copy (answers dropped), for building a new version.
    pub fn to_data(&self) -> NodeData {
        NodeData {
            flags: self.flags(),
            children: self.children(),
            rrsets: self.rrsets().map(|r| r.to_rrset()).collect(),
        }
    }
}

/// The RRsets of a node.
#[derive(Debug, Clone)]
pub struct RrsetIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    left: u16,
}

impl<'a> Iterator for RrsetIter<'a> {
    type Item = RrsetRef<'a>;

    fn next(&mut self) -> Option<RrsetRef<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (r, end) = RrsetRef::at(self.bytes, self.pos);
        self.pos = end;
        Some(r)
    }
}

/// A packed node of its own (one that a derived version changed).
#[derive(Clone)]
pub struct Node(Box<[u8]>);

impl Node {
    pub fn new(name: &[u8], node: &NodeData, blocks: Option<Blocks<'_>>) -> Node {
        let mut v = Vec::with_capacity(packed_len(name, node) + 64);
        pack(&mut v, name, node, blocks);
        Node(v.into_boxed_slice())
    }

    pub fn as_ref(&self) -> NodeRef<'_> {
        NodeRef(&self.0)
    }

    /// `node` packed again with `blocks`.
    pub(crate) fn repacked(node: NodeRef<'_>, blocks: Blocks<'_>) -> Node {
        let mut v = Vec::with_capacity(
            node.bytes().len() + blocks.answers.iter().map(|b| b.bytes.len() + 16).sum::<usize>() + 64,
        );
        repack(&mut v, node, Some(blocks));
        Node(v.into_boxed_slice())
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_ref().fmt(f)
    }
}

#[cfg(test)]
mod tests;
