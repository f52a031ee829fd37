//! [`Catalog`]: every zone this server is authoritative for, by apex, each in its own
//! [`Slot`].
//!
//! The apexes and their indexes are fixed once a catalog is built; a zone's version is
//! replaced in its slot alone (by a [`Publisher`](super::publisher::Publisher)), so
//! publishing one zone's change costs the same with one zone or a hundred thousand,
//! and readers see each zone's old or new version, never a mix within it. Zones that
//! failed to load stay in the catalog with no version, so queries for them get
//! SERVFAIL (as Knot answers for a configured zone without contents) instead of falling
//! through to a parent zone or REFUSED. Each entry also holds when a secondary zone
//! expires ([`CatalogEntry::expires_at`]), which the answer to an EDNS EXPIRE query
//! (RFC 7314) reports, and whether it is joining ([`CatalogEntry::joining`]): a zone
//! added while the server runs and not yet served, which readiness does not wait for.

use crate::store::namehash::NameMap;
use crate::store::slot::Slot;
pub use crate::store::slot::ZoneState;
use crate::store::snapshot::Snapshot;
use shoal_wire::Name;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// One zone in the catalog: its slot, its index, and when it expires.
#[derive(Debug)]
pub struct CatalogEntry {
    slot: Slot,
    /// The zone's place in the order of insertion (0, 1, ...).
    pub index: usize,
    /// Unix time at which a secondary zone expires; 0 for a zone that does not (a
    /// primary).
    expires_at: AtomicU64,
    /// Added while the server runs and not served yet.
    joining: AtomicBool,
}

impl CatalogEntry {
    /// The version served now; `None` for a zone without one (SERVFAIL). A batch of
    /// queries reads it through a [`Held`](super::held::Held) instead.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.slot.get_arc()
    }

    pub(crate) fn slot(&self) -> &Slot {
        &self.slot
    }

    /// Unix time at which the zone expires, if it is a secondary zone.
    pub fn expires_at(&self) -> Option<u64> {
        Some(self.expires_at.load(Ordering::Relaxed)).filter(|&t| t != 0)
    }

    /// Whether the zone was added while the server runs and is not served yet.
    pub fn joining(&self) -> bool {
        self.joining.load(Ordering::Relaxed)
    }

    pub fn set_joining(&self, joining: bool) {
        self.joining.store(joining, Ordering::Relaxed);
    }

    /// Set when the zone expires (`None`: it does not); the transfer side calls this
    /// whenever a secondary's expire timer moves.
    pub fn set_expires_at(&self, at: Option<u64>) {
        self.expires_at.store(at.unwrap_or(0), Ordering::Relaxed);
    }
}

/// The apexes, shared by every version of a catalog that a publisher makes.
#[derive(Debug, Default)]
pub(crate) struct Zones {
    map: NameMap<Name, CatalogEntry>,
    /// The largest apex label count, to skip hopeless probes for long qnames.
    deepest: usize,
}

/// The set of zones. Deliberately not `Clone`: every catalog sharing slots is made by
/// the publisher that swaps them, which is how it knows when readers are gone.
#[derive(Debug, Default)]
pub struct Catalog {
    zones: Arc<Zones>,
}

impl Catalog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Another catalog over the same slots (for the publisher only).
    pub(crate) fn sharing(&self) -> Catalog {
        Catalog { zones: Arc::clone(&self.zones) }
    }

    /// Add a zone (or replace the state of one already in); returns its index. Only a
    /// catalog being built can change this way (a published one is behind an `Arc`).
    pub fn insert(&mut self, apex: Name, state: ZoneState) -> usize {
        let zones = Arc::get_mut(&mut self.zones).expect("a catalog being built has no other handle");
        zones.deepest = zones.deepest.max(apex.label_count());
        let next = zones.map.len();
        match zones.map.entry(apex) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                e.get_mut().slot.set(state);
                e.get().index
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                let entry = CatalogEntry {
                    slot: Slot::new(state),
                    index: next,
                    expires_at: AtomicU64::new(0),
                    joining: AtomicBool::new(false),
                };
                e.insert(entry).index
            }
        }
    }

    pub fn get(&self, apex: &[u8]) -> Option<&CatalogEntry> {
        self.zones.map.get(apex)
    }

    pub fn len(&self) -> usize {
        self.zones.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Name, &CatalogEntry)> {
        self.zones.map.iter()
    }

    /// The zone with the longest apex that is `qname` or an ancestor of it.
    pub fn find(&self, qname: &[u8]) -> Option<&CatalogEntry> {
        let zones = &*self.zones;
        let mut labels = shoal_wire::name::label_count(qname);
        let mut off = 0;
        while labels > zones.deepest {
            off += 1 + qname[off] as usize;
            labels -= 1;
        }
        loop {
            if let Some(z) = zones.map.get(&qname[off..]) {
                return Some(z);
            }
            if qname[off] == 0 {
                return None;
            }
            off += 1 + qname[off] as usize;
        }
    }

    /// Whether `other` shares this catalog's slots.
    pub(crate) fn same_zones(&self, other: &Catalog) -> bool {
        Arc::ptr_eq(&self.zones, &other.zones)
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
        let deep = c.find(from_ascii("x.y.b.test.").unwrap().as_wire()).expect("the closest apex");
        assert_eq!(deep.index, 1);
    }
}
