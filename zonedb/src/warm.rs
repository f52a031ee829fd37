//! Starting a batch's lookups before answering it.
//!
//! Answering a query from a large zone waits on memory twice: for the index slot of
//! its QNAME and for the node that slot points at, both far apart in a zone of more
//! than a few thousand names. Answered one after another, a batch pays these misses
//! in series. A worker instead calls [`warm`] on every query of the batch (reading the
//! QNAME and asking for its slot), then [`Warming::node`] on each (the slot has
//! arrived by then; ask for the node), and only then answers them: the misses of the
//! whole batch overlap. All of it is hints; a query that does not parse or falls in no
//! zone is simply not warmed, and [`crate::answer::answer`] deals with it as before.

use crate::catalog::{Catalog, ZoneState};
use crate::nodemap::NodeMap;
use shoal_wire::name::parse_name;
use shoal_wire::NameBuf;

/// A query's first lookup, begun by [`warm`].
#[derive(Clone, Copy)]
pub struct Warming<'c> {
    nodes: &'c NodeMap,
    hash: u64,
}

/// Ask for the index slot of `query`'s QNAME in the zone that holds it.
#[inline]
pub fn warm<'c>(query: &[u8], catalog: &'c Catalog) -> Option<Warming<'c>> {
    let mut name = NameBuf::default();
    parse_name(query, shoal_wire::HEADER_LEN, &mut name).ok()?;
    let ZoneState::Ready(zone) = &catalog.find_entry(name.as_wire())?.state else { return None };
    let nodes: &NodeMap = &zone.base;
    Some(Warming { nodes, hash: nodes.prefetch(name.as_wire()) })
}

impl Warming<'_> {
    /// Ask for the node the slot points at.
    #[inline]
    pub fn node(&self) {
        self.nodes.prefetch_node(self.hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn warms_queries_in_a_zone_and_no_others() {
        let zone = "$ORIGIN example.\n$TTL 300\n@ SOA ns hm 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.2\n";
        let apex = shoal_wire::name::from_ascii("example.").unwrap();
        let snap = Arc::new(crate::load_zone_str(&apex, zone, std::path::Path::new("example.zone")).unwrap());
        let mut catalog = Catalog::new();
        catalog.insert(apex, ZoneState::Ready(Arc::clone(&snap)));
        let query = |name: &str| {
            let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            for label in name.split('.').filter(|l| !l.is_empty()) {
                q.push(label.len() as u8);
                q.extend_from_slice(label.as_bytes());
            }
            q.extend_from_slice(&[0, 0, 1, 0, 1]);
            q
        };
        let w = warm(&query("WWW.example."), &catalog).expect("in the zone");
        w.node();
        // The hash is the lowercase name's: the first slot with its tag is www's node.
        assert_eq!(snap.base.node_at(snap.base.index_first(w.hash).unwrap()).name(), b"\x03www\x07example\x00");
        assert!(warm(&query("www.example.org."), &catalog).is_none(), "no zone");
        assert!(warm(&[0x12, 0x34, 0, 0], &catalog).is_none(), "shorter than a header");
        assert!(warm(&query("nx.example."), &catalog).is_some(), "warmed, though nothing is there");
    }
}
