//! [`Catalog`]: every zone this server is authoritative for, by apex.
//!
//! A catalog is immutable; the engine publishes a new one through an `ArcSwap` whenever
//! a zone changes, so readers see either the old or the new set of zones, never a mix.
//! Zones that failed to load stay in the catalog as [`ZoneState::Failed`] so queries for
//! them get SERVFAIL (as Knot answers for a configured zone without contents) instead
//! of falling through to a parent zone or REFUSED.

use crate::store::namehash::NameMap;
use crate::store::snapshot::Snapshot;
use shoal_wire::Name;
use std::sync::Arc;

/// What the catalog holds for one apex.
#[derive(Debug, Clone)]
pub enum ZoneState {
    Ready(Arc<Snapshot>),
    /// Configured, but there is no usable version (load failed, or expired).
    Failed,
}

/// One zone in the catalog: what to answer from, and its index.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub state: ZoneState,
    /// The zone's place in the order of insertion (0, 1, ...).
    pub index: usize,
}

/// The set of zones, immutable once built.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    zones: NameMap<Name, CatalogEntry>,
    /// The largest apex label count, to skip hopeless probes for long qnames.
    deepest: usize,
}

impl Catalog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a zone (or replace the state of one already in); returns its index.
    pub fn insert(&mut self, apex: Name, state: ZoneState) -> usize {
        self.deepest = self.deepest.max(apex.label_count());
        let next = self.zones.len();
        let entry = self.zones.entry(apex).or_insert(CatalogEntry { state: ZoneState::Failed, index: next });
        entry.state = state;
        entry.index
    }

    pub fn get(&self, apex: &[u8]) -> Option<&ZoneState> {
        self.zones.get(apex).map(|e| &e.state)
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Name, &CatalogEntry)> {
        self.zones.iter()
    }

    /// The zone with the longest apex that is `qname` or an ancestor of it.
    pub fn find(&self, qname: &[u8]) -> Option<&ZoneState> {
        self.find_entry(qname).map(|e| &e.state)
    }

    /// [`Catalog::find`], with the zone's index.
    pub fn find_entry(&self, qname: &[u8]) -> Option<&CatalogEntry> {
        let mut labels = shoal_wire::name::label_count(qname);
        let mut off = 0;
        while labels > self.deepest {
            off += 1 + qname[off] as usize;
            labels -= 1;
        }
        loop {
            if let Some(z) = self.zones.get(&qname[off..]) {
                return Some(z);
            }
            if qname[off] == 0 {
                return None;
            }
            off += 1 + qname[off] as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;

    #[test]
    fn a_zone_keeps_its_index_when_its_state_is_replaced() {
        let mut c = Catalog::new();
        let a = c.insert(from_ascii("a.test.").unwrap(), ZoneState::Failed);
        let b = c.insert(from_ascii("b.test.").unwrap(), ZoneState::Failed);
        assert_eq!((a, b), (0, 1));
        assert_eq!(c.insert(from_ascii("a.test.").unwrap(), ZoneState::Failed), 0);
        assert_eq!(c.len(), 2);
        let deep = c.find_entry(from_ascii("x.y.b.test.").unwrap().as_wire()).expect("the closest apex");
        assert_eq!(deep.index, 1);
    }
}
