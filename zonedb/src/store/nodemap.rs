//! [`NodeMap`]: the nodes of one compiled version, packed back to back in one arena
//! ([`crate::store::node`]) and found by exact name through an index of arena offsets.
//!
//! The index ([`NameIndex`]) is a hash table of offsets (8 bytes a slot), hashed by the
//! name the offset points at, so a probe compares names in the arena and nothing keeps
//! a second copy of them. [`NodeMap::prefetch`] and [`NodeMap::prefetch_node`] start a
//! lookup's two cache misses (the slot, then the node) ahead of the lookup itself.
//!
//! A map is filled and linked by [`crate::store::build`] and never changed once a version
//! holds it; versions derived from it keep it (an `Arc`) and put their changed nodes
//! beside it ([`crate::store::snapshot`]).

use crate::store::flags;
use crate::store::namehash::hash;
use crate::store::nameindex::NameIndex;
use crate::store::node::{check, NodeRef};
use crate::store::prefetch::prefetch_line;

/// Packed nodes by lowercase wire name.
#[derive(Default)]
pub struct NodeMap {
    arena: Vec<u8>,
    index: NameIndex,
    /// Bytes of replaced nodes still in the arena (see [`Self::replace`]).
    dead: usize,
}

impl std::fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeMap({} nodes, {} bytes)", self.index.len(), self.arena.len())
    }
}

impl NodeMap {
    /// An empty map with room for `nodes` nodes of `bytes` packed bytes in all.
    pub fn with_capacity(nodes: usize, bytes: usize) -> NodeMap {
        NodeMap { arena: Vec::with_capacity(bytes), index: NameIndex::with_capacity(nodes), dead: 0 }
    }

    /// A map over nodes already packed back to back (a zone copy read from disk): every
    /// node is checked ([`crate::store::node`]) and every name must be new.
    pub fn from_packed(arena: Vec<u8>) -> Result<NodeMap, &'static str> {
        let mut offsets = Vec::new();
        let mut at = 0;
        while at < arena.len() {
            offsets.push(at);
            at = check(&arena, at)?;
        }
        let mut m = NodeMap { arena, index: NameIndex::with_capacity(offsets.len()), dead: 0 };
        for o in offsets {
            if m.get(NodeRef::at(&m.arena, o).name()).is_some() {
                return Err("a name is stored twice");
            }
            m.index_node(o);
        }
        Ok(m)
    }

    /// Append a node that `write` packs at the end of the arena (its name must be new);
    /// returns its offset.
    pub(crate) fn append(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> usize {
        let at = self.arena.len();
        write(&mut self.arena);
        debug_assert!(self.get(NodeRef::at(&self.arena, at).name()).is_none(), "a node is inserted once");
        self.index_node(at);
        at
    }

    /// Replace the node at offset `old` by `bytes` (a packed node of the same name),
    /// appended; the old bytes stay in the arena, flagged dead, until [`Self::compact`].
    /// Returns the new offset.
    pub(crate) fn replace(&mut self, old: usize, bytes: &[u8]) -> usize {
        let at = self.arena.len();
        self.arena.extend_from_slice(bytes);
        *self.flags_mut(old) |= flags::DEAD;
        self.dead += NodeRef::at(&self.arena, old).bytes().len();
        let h = hash(NodeRef::at(&self.arena, old).name());
        self.index.replace(h, old, at);
        at
    }

    /// Where the node at `name` starts in the arena.
    pub(crate) fn offset_of(&self, name: &[u8]) -> Option<usize> {
        let arena = &self.arena;
        self.index.find(hash(name), |o| NodeRef::at(arena, o).name() == name)
    }

    /// The node that starts at `at`.
    pub(crate) fn node_at(&self, at: usize) -> NodeRef<'_> {
        NodeRef::at(&self.arena, at)
    }

    /// The flags of the node at `at`, to change while a version is built.
    pub(crate) fn flags_mut(&mut self, at: usize) -> &mut u8 {
        let i = at + 1 + usize::from(self.arena[at]);
        &mut self.arena[i]
    }

    /// Count one more child of the node at `at`.
    pub(crate) fn add_child(&mut self, at: usize) {
        let i = at + 2 + usize::from(self.arena[at]);
        let c = u32::from_le_bytes(self.arena[i..i + 4].try_into().expect("4 bytes")) + 1;
        self.arena[i..i + 4].copy_from_slice(&c.to_le_bytes());
    }

    /// Bytes of replaced nodes still in the arena.
    pub(crate) fn dead_bytes(&self) -> usize {
        self.dead
    }

    /// Every node in arena order with its offset, replaced ones (flagged dead) included.
    pub(crate) fn walk(&self) -> impl Iterator<Item = (usize, NodeRef<'_>)> {
        let arena = &self.arena;
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < arena.len()).then(|| {
                let node = NodeRef::at(arena, at);
                let this = at;
                at += node.bytes().len();
                (this, node)
            })
        })
    }

    /// Drop the nodes flagged dead, moving the others down, and index them again.
    pub(crate) fn compact(&mut self) {
        let (mut read, mut write) = (0, 0);
        while read < self.arena.len() {
            let node = NodeRef::at(&self.arena, read);
            let len = node.bytes().len();
            if !node.has(flags::DEAD) {
                self.arena.copy_within(read..read + len, write);
                write += len;
            }
            read += len;
        }
        self.arena.truncate(write);
        self.dead = 0;
        self.index.clear();
        let mut at = 0;
        while at < self.arena.len() {
            let len = NodeRef::at(&self.arena, at).bytes().len();
            self.index_node(at);
            at += len;
        }
    }

    /// Index the node packed at `at` in the arena (its name is not there yet).
    fn index_node(&mut self, at: usize) {
        let arena = &self.arena;
        let h = hash(NodeRef::at(arena, at).name());
        self.index.insert_unique(h, at, |o| hash(NodeRef::at(arena, o).name()));
    }

    /// The node at exactly `name` (lowercase wire).
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<NodeRef<'_>> {
        let arena = &self.arena;
        self.index.find(hash(name), |o| NodeRef::at(arena, o).name() == name).map(|o| NodeRef::at(arena, o))
    }

    /// Start loading the index slot where a lookup of `name` begins; returns the hash
    /// to pass to [`Self::prefetch_node`] once that slot has had time to arrive.
    #[inline]
    pub fn prefetch(&self, name: &[u8]) -> u64 {
        let h = hash(name);
        self.index.prefetch(h);
        h
    }

    /// The offset of the first node whose hash tag is `h`'s (what [`Self::prefetch_node`]
    /// asks for).
    pub(crate) fn index_first(&self, h: u64) -> Option<usize> {
        self.index.first(h)
    }

    /// Start loading the first two cache lines of the node a lookup of hash `h` would
    /// compare first (its name, flags and the start of its answers).
    #[inline]
    pub fn prefetch_node(&self, h: u64) {
        if let Some(at) = self.index_first(h) {
            let p = self.arena.as_ptr().wrapping_add(at);
            prefetch_line(p);
            prefetch_line(p.wrapping_add(64));
        }
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Every node, in arena order: memory read front to back (an AXFR of a million
    /// nodes), not in the index's hashed order, which would miss the cache on each.
    pub fn iter(&self) -> impl Iterator<Item = NodeRef<'_>> {
        self.walk().map(|(_, n)| n).filter(|n| !n.has(flags::DEAD))
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Packed bytes in the arena.
    pub fn arena_len(&self) -> usize {
        self.arena.len()
    }

    /// Give back the arena's unused capacity when it is more than the arena itself.
    /// Capacity reserved and never written is address space, not memory; shrinking
    /// a large arena copies it, which is what a zone's peak must not pay for a
    /// reservation that was merely generous.
    pub(crate) fn shrink_if_oversized(&mut self) {
        if self.arena.capacity() > 2 * self.arena.len() {
            self.arena.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::node::{pack, packed_len, NodeData, Rrset};
    use shoal_wire::Rtype;

    #[test]
    fn finds_every_node_and_only_those() {
        let names: Vec<Vec<u8>> = (0..1000u32)
            .map(|i| {
                let l = format!("h{i}");
                let mut w = vec![l.len() as u8];
                w.extend_from_slice(l.as_bytes());
                w.push(0);
                w
            })
            .collect();
        let data: Vec<NodeData> = (0..1000u32)
            .map(|i| NodeData {
                flags: 0,
                children: i,
                rrsets: vec![Rrset { rtype: Rtype::A, ttl: 60, rdatas: vec![Box::from(&i.to_be_bytes()[..])] }],
            })
            .collect();
        let bytes = names.iter().zip(&data).map(|(n, d)| packed_len(n, d)).sum();
        let mut m = NodeMap::with_capacity(names.len(), bytes);
        for (n, d) in names.iter().zip(&data) {
            m.append(|arena| pack(arena, n, d, None));
        }
        assert_eq!(m.len(), 1000);
        for (i, n) in names.iter().enumerate() {
            let node = m.get(n).expect("present");
            assert_eq!(node.name(), n.as_slice());
            assert_eq!(node.children(), i as u32);
            assert_eq!(node.rrset(Rtype::A).unwrap().first(), (i as u32).to_be_bytes());
        }
        assert!(m.get(b"\x05h1000\x00").is_none() && m.get(b"\x00").is_none());
        assert_eq!(m.iter().count(), 1000);
        assert_eq!(m.arena.len(), m.arena.capacity(), "sized exactly");
    }
}
