//! [`Held`]: the zone versions a batch of queries is answered from, each zone's slot
//! read once.
//!
//! A worker answers a batch from whatever version each zone had when the batch first
//! asked for it, and every query of the batch borrows its version from here: one
//! arc-swap load per zone per batch (no lock, and no reference count while the thread
//! holds fewer than arc-swap's eight fast guards), then a probe of a small table per
//! query. The table is fixed (`N` entries, on the stack, nothing allocated): a batch of
//! `N` queries has a `Held<N>`, a single query a `Held<1>`, and a stream of queries
//! a few entries it empties when full ([`Held::make_room`]).
//! A `Held` serves one catalog: entries are keyed by the zone's catalog index.

use super::catalog::CatalogEntry;
use super::snapshot::Snapshot;
use arc_swap::Guard;
use std::cell::OnceCell;
use std::sync::Arc;

/// A zone's catalog index and its version as loaded from the slot.
type Version = (usize, Guard<Option<Arc<Snapshot>>>);

/// The versions of up to `N` zones, loaded on first use.
pub struct Held<const N: usize> {
    zones: [OnceCell<Version>; N],
}

impl<const N: usize> Default for Held<N> {
    fn default() -> Self {
        Held { zones: [const { OnceCell::new() }; N] }
    }
}

impl<const N: usize> Held<N> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The version of `entry`'s zone as this batch sees it (`None`: the zone has none):
    /// loaded from its slot the first time, the same version every later time.
    ///
    /// # Panics
    /// When asked for more than `N` zones.
    #[inline]
    pub fn version(&self, entry: &CatalogEntry) -> Option<&Snapshot> {
        let start = entry.index % N;
        for k in 0..N {
            let cell = &self.zones[(start + k) % N];
            let (index, version) = cell.get_or_init(|| (entry.index, entry.slot().load()));
            if *index == entry.index {
                return version.as_deref();
            }
        }
        panic!("a batch asked for more than {N} zones");
    }

    /// Forget every version once all `N` entries are taken, so that there is room for
    /// one more zone. A stream of queries (a TCP connection's) reuses one `Held` this
    /// way, calling this before each: a zone's version is loaded again only when the
    /// table has filled.
    pub fn make_room(&mut self) {
        if self.zones.iter().all(|c| c.get().is_some()) {
            self.zones.iter_mut().for_each(|c| drop(c.take()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::{Catalog, ZoneState};
    use crate::store::publisher::Publisher;
    use shoal_wire::name::from_ascii;
    use std::path::Path;

    fn zone(apex: &str, serial: u32) -> Arc<Snapshot> {
        let text = format!("@ 60 SOA ns hm {serial} 1 1 1 1\n@ 60 NS ns\nns 60 A 192.0.2.1\n");
        Arc::new(crate::load_zone_str(&from_ascii(apex).unwrap(), &text, Path::new("t")).unwrap())
    }

    #[test]
    fn a_batch_sees_the_version_it_first_read_and_zones_beyond_the_table_size_share_it() {
        let mut c = Catalog::new();
        for (i, apex) in ["a.test.", "b.test.", "c.test."].iter().enumerate() {
            c.insert(from_ascii(apex).unwrap(), ZoneState::Ready(zone(apex, i as u32 + 1)));
        }
        let mut p = Publisher::new(c);
        let catalog = Arc::clone(p.current());
        let entry = |apex: &str| catalog.get(from_ascii(apex).unwrap().as_wire()).unwrap();
        // Two entries for three zones: c.test. (index 2) probes past a.test. (index 0).
        let held = Held::<3>::new();
        assert_eq!(held.version(entry("a.test.")).map(Snapshot::serial), Some(1));
        assert_eq!(held.version(entry("c.test.")).map(Snapshot::serial), Some(3));
        p.replace(from_ascii("a.test.").unwrap().as_wire(), ZoneState::Ready(zone("a.test.", 9)));
        assert_eq!(held.version(entry("a.test.")).map(Snapshot::serial), Some(1), "read once per batch");
        assert_eq!(held.version(entry("b.test.")).map(Snapshot::serial), Some(2));
        assert_eq!(Held::<1>::new().version(entry("a.test.")).map(Snapshot::serial), Some(9), "a new batch");
        let mut stream = Held::<1>::new();
        assert_eq!(stream.version(entry("b.test.")).map(Snapshot::serial), Some(2));
        stream.make_room();
        assert_eq!(stream.version(entry("a.test.")).map(Snapshot::serial), Some(9), "loaded again once full");
    }

    #[test]
    #[should_panic(expected = "more than 1 zones")]
    fn a_batch_cannot_ask_for_more_zones_than_its_table() {
        let mut c = Catalog::new();
        c.insert(from_ascii("a.test.").unwrap(), ZoneState::Failed);
        c.insert(from_ascii("b.test.").unwrap(), ZoneState::Failed);
        let held = Held::<1>::new();
        let _ = held.version(c.get(from_ascii("a.test.").unwrap().as_wire()).unwrap());
        let _ = held.version(c.get(from_ascii("b.test.").unwrap().as_wire()).unwrap());
    }
}
