//! [`NodeMap`]: the nodes of one compiled version, packed back to back in one arena
//! ([`crate::node`]) and found by exact name through an index of arena offsets.
//!
//! The index is a hash table of offsets (8 bytes a slot), hashed by the name the offset
//! points at, so a probe compares names in the arena and nothing keeps a second copy of
//! them. A map is built once and never changed; versions derived from it keep it (an
//! `Arc`) and put their changed nodes beside it ([`crate::snapshot`]).

use crate::node::{check, pack, packed_len, repack, Blocks, NodeData, NodeRef};
use hashbrown::HashTable;
use std::hash::Hasher;

fn hash(name: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(name);
    h.finish()
}

/// Packed nodes by lowercase wire name.
#[derive(Default)]
pub struct NodeMap {
    arena: Vec<u8>,
    index: HashTable<usize>,
}

impl std::fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeMap({} nodes, {} bytes)", self.index.len(), self.arena.len())
    }
}

impl NodeMap {
    /// An empty map with room for `nodes` nodes of `bytes` packed bytes in all.
    pub fn with_capacity(nodes: usize, bytes: usize) -> NodeMap {
        NodeMap { arena: Vec::with_capacity(bytes), index: HashTable::with_capacity(nodes) }
    }

    /// Pack the nodes of `data` (blocks not compiled yet), sized exactly.
    pub fn pack_all<'d>(data: impl ExactSizeIterator<Item = (&'d [u8], &'d NodeData)> + Clone) -> NodeMap {
        let bytes = data.clone().map(|(n, d)| packed_len(n, d)).sum();
        let mut m = NodeMap::with_capacity(data.len(), bytes);
        for (name, node) in data {
            m.insert(name, node, None);
        }
        m
    }

    /// A map over nodes already packed back to back (a zone copy read from disk): every
    /// node is checked ([`crate::node`]) and every name must be new.
    pub fn from_packed(arena: Vec<u8>) -> Result<NodeMap, &'static str> {
        let mut offsets = Vec::new();
        let mut at = 0;
        while at < arena.len() {
            offsets.push(at);
            at = check(&arena, at)?;
        }
        let mut m = NodeMap { arena, index: HashTable::with_capacity(offsets.len()) };
        for o in offsets {
            if m.get(NodeRef::at(&m.arena, o).name()).is_some() {
                return Err("a name is stored twice");
            }
            m.index_node(o);
        }
        Ok(m)
    }

    /// Add the node at `name`, which must not be in the map yet.
    pub fn insert(&mut self, name: &[u8], node: &NodeData, blocks: Option<Blocks<'_>>) {
        debug_assert!(self.get(name).is_none(), "a node is inserted once");
        let at = self.arena.len();
        pack(&mut self.arena, name, node, blocks);
        self.index_node(at);
    }

    /// Add `node` (from another map), packed again with `blocks`.
    pub fn insert_repacked(&mut self, node: NodeRef<'_>, blocks: Blocks<'_>) {
        debug_assert!(self.get(node.name()).is_none(), "a node is inserted once");
        let at = self.arena.len();
        repack(&mut self.arena, node, Some(blocks));
        self.index_node(at);
    }

    /// Index the node packed at `at` in the arena (its name is not there yet).
    fn index_node(&mut self, at: usize) {
        let arena = &self.arena;
        let h = hash(NodeRef::at(arena, at).name());
        self.index.insert_unique(h, at, |&o| hash(NodeRef::at(arena, o).name()));
    }

    /// The node at exactly `name` (lowercase wire).
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<NodeRef<'_>> {
        let arena = &self.arena;
        self.index.find(hash(name), |&o| NodeRef::at(arena, o).name() == name).map(|&o| NodeRef::at(arena, o))
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Every node, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = NodeRef<'_>> {
        let arena = &self.arena;
        self.index.iter().map(move |&o| NodeRef::at(arena, o))
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

    /// Give back the arena's unused capacity.
    pub fn shrink_to_fit(&mut self) {
        self.arena.shrink_to_fit();
    }

    /// Bytes held: the arena and the index.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.index.capacity() * (std::mem::size_of::<usize>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Rrset;
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
        let m = NodeMap::pack_all(names.iter().map(Vec::as_slice).zip(data.iter()));
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
