//! [`Publisher`]: replaces zones' versions in a published catalog, one slot at a time,
//! and frees what it replaced once no reader can hold it.
//!
//! Readers hold an `Arc<Catalog>` (through whatever they load it from) and take plain
//! references into it. Each publish swaps one zone's [`Slot`](super::slot::Slot) and
//! makes a new catalog object over the same slots; the replaced snapshot waits, with
//! the catalog object that was current when it was swapped, in a queue that keeps
//! every catalog object ever handed out. Catalog objects are freed oldest first, only
//! when this queue holds the last handle, and a replaced snapshot goes with the last
//! catalog object that could have shown it: this is quiescent-state reclamation (as
//! Knot's RCU for `zone->contents`), with a reader's quiescent state being the moment
//! it lets go of its catalog. All freeing happens here, on the publisher's thread.

use super::catalog::{Catalog, ZoneState};
use super::snapshot::Snapshot;
use std::collections::VecDeque;
use std::sync::Arc;

/// What one [`Publisher::reclaim`] let go of.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    /// Catalog objects freed.
    pub catalogs: usize,
    /// Replaced versions freed with them (their last handle).
    pub versions: usize,
}

/// The writer of a catalog's versions.
pub struct Publisher {
    current: Arc<Catalog>,
    /// Catalog objects handed out before `current`, oldest first, each with the
    /// versions replaced while it was current.
    retired: VecDeque<(Arc<Catalog>, Vec<Arc<Snapshot>>)>,
}

impl Publisher {
    /// Publish `catalog` (built by [`Catalog::insert`]).
    pub fn new(catalog: Catalog) -> Publisher {
        Publisher { current: Arc::new(catalog), retired: VecDeque::new() }
    }

    /// The catalog to give readers now.
    pub fn current(&self) -> &Arc<Catalog> {
        &self.current
    }

    /// Serve `state` for the zone at `apex` from now on; returns false (and changes
    /// nothing) when the catalog has no such zone. Readers of the current catalog
    /// object may still see the old version; the next one shows the new.
    pub fn replace(&mut self, apex: &[u8], state: ZoneState) -> bool {
        let Some(entry) = self.current.get(apex) else { return false };
        let old = entry.slot().swap(state);
        let next = Arc::new(self.current.sharing());
        let previous = std::mem::replace(&mut self.current, next);
        self.retired.push_back((previous, old.into_iter().collect()));
        true
    }

    /// Serve a whole new catalog (zones added or removed). The old catalog's slots go
    /// with the last of its objects.
    pub fn rebuild(&mut self, catalog: Catalog) {
        debug_assert!(!catalog.same_zones(&self.current));
        let previous = std::mem::replace(&mut self.current, Arc::new(catalog));
        self.retired.push_back((previous, Vec::new()));
    }

    /// Free, oldest first, the catalog objects no reader holds any more and what was
    /// replaced while they were current.
    pub fn reclaim(&mut self) -> Reclaimed {
        let mut done = Reclaimed::default();
        while let Some((front, _)) = self.retired.front_mut() {
            // `get_mut` succeeds only for the last handle, and synchronizes with the
            // readers' drops of theirs.
            if Arc::get_mut(front).is_none() {
                break;
            }
            let (_, old) = self.retired.pop_front().expect("the front was just seen");
            done.catalogs += 1;
            done.versions += old.iter().filter(|s| Arc::strong_count(s) == 1).count();
        }
        done
    }

    /// Catalog objects waiting for readers to let go.
    pub fn waiting(&self) -> usize {
        self.retired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;
    use std::path::Path;

    fn zone(serial: u32) -> Arc<Snapshot> {
        let apex = from_ascii("a.test.").unwrap();
        let text = format!("@ 60 SOA ns hm {serial} 1 1 1 1\n@ 60 NS ns\nns 60 A 192.0.2.1\n");
        Arc::new(crate::load_zone_str(&apex, &text, Path::new("t")).unwrap())
    }

    fn serial(c: &Catalog) -> Option<u32> {
        c.get(from_ascii("a.test.").unwrap().as_wire()).unwrap().snapshot().map(|s| s.serial())
    }

    #[test]
    fn a_replaced_version_lives_until_the_readers_that_could_see_it_let_go() {
        let mut c = Catalog::new();
        let first = zone(1);
        c.insert(from_ascii("a.test.").unwrap(), ZoneState::Ready(Arc::clone(&first)));
        c.insert(from_ascii("b.test.").unwrap(), ZoneState::Failed);
        let mut p = Publisher::new(c);
        let apex = from_ascii("a.test.").unwrap();

        let old_reader = Arc::clone(p.current());
        assert!(p.replace(apex.as_wire(), ZoneState::Ready(zone(2))));
        // The old catalog object shows the new version too (one slot), but the old one
        // is kept: a reference taken before the swap may still be in use.
        assert_eq!(serial(p.current()), Some(2));
        assert_eq!(serial(&old_reader), Some(2));
        assert_eq!(p.reclaim().catalogs, 0);
        assert_eq!(Arc::strong_count(&first), 2, "kept by the publisher");

        // A reader of the newest catalog does not hold back what was replaced before it.
        let new_reader = Arc::clone(p.current());
        assert!(p.replace(apex.as_wire(), ZoneState::Failed));
        assert_eq!(serial(&new_reader), None);
        drop(old_reader);
        assert_eq!(p.reclaim().catalogs, 1, "version 1 goes; version 2 waits for the newer reader");
        assert_eq!(Arc::strong_count(&first), 1);
        assert_eq!(p.waiting(), 1);
        drop(new_reader);
        assert_eq!(p.reclaim().catalogs, 1);
        assert_eq!(p.waiting(), 0);
        assert!(!p.replace(from_ascii("c.test.").unwrap().as_wire(), ZoneState::Failed), "not in the catalog");
    }

    #[test]
    fn an_older_reader_holds_back_everything_after_it() {
        let mut c = Catalog::new();
        c.insert(from_ascii("a.test.").unwrap(), ZoneState::Ready(zone(1)));
        let mut p = Publisher::new(c);
        let apex = from_ascii("a.test.").unwrap();
        let oldest = Arc::clone(p.current());
        let kept: Vec<Arc<Snapshot>> = (2..6).map(zone).collect();
        for z in &kept {
            p.replace(apex.as_wire(), ZoneState::Ready(Arc::clone(z)));
        }
        // `oldest` was current before every swap; it may hold any of them.
        assert_eq!(p.reclaim().catalogs, 0);
        assert!(kept[..3].iter().all(|z| Arc::strong_count(z) == 2));
        drop(oldest);
        assert_eq!(p.reclaim().catalogs, 4);
        let mut fresh = Catalog::new();
        fresh.insert(from_ascii("b.test.").unwrap(), ZoneState::Failed);
        p.rebuild(fresh);
        assert!(p.current().get(apex.as_wire()).is_none());
        assert_eq!(p.reclaim().catalogs, 1, "the old slots go with their catalog");
        assert_eq!(Arc::strong_count(&kept[3]), 1, "the last version went with its slot");
    }
}
