//! [`Registry`]: every configured zone ([`ZoneEntry`]) and the publishing of the set the
//! workers answer from ([`ZoneSet`]).
//!
//! The transfer thread owns the registry. A change marks the set dirty; the set is
//! rebuilt and stored in one `ArcSwap` store once the events at hand are handled, at
//! most a fifth of the time while zones change in a stream. Replaced snapshots are
//! parked here until no worker holds them, so the last reference (and the freeing of a
//! large zone) is dropped on the transfer thread, never on a worker.

use crate::config::Config;
use crate::metrics::QueryCounters;
use crate::zones::entry::{load_all, ZoneEntry};
use arc_swap::ArcSwap;
use shoal_wire::Name;
use shoal_zonedb::{Catalog, Snapshot};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the workers answer from: the catalog, and each zone's query counters at its
/// catalog index.
#[derive(Default)]
pub struct ZoneSet {
    pub catalog: Catalog,
    pub counters: Vec<Arc<QueryCounters>>,
}

impl ZoneSet {
    /// A set of zones whose queries are not counted (tests, tools).
    pub fn uncounted(catalog: Catalog) -> ZoneSet {
        ZoneSet { catalog, counters: Vec::new() }
    }

    /// The counters of the zone at catalog index `index`.
    #[inline]
    pub fn counters(&self, index: usize) -> Option<&QueryCounters> {
        self.counters.get(index).map(|c| &**c)
    }
}

/// The zone registry.
pub struct Registry {
    /// The running configuration, without its zones (each entry keeps its own).
    pub config: Config,
    pub zones: HashMap<Name, ZoneEntry>,
    /// Where the workers read the zone set.
    published: Arc<ArcSwap<ZoneSet>>,
    /// Old snapshots waiting for the workers to let go of them.
    graveyard: Vec<Arc<Snapshot>>,
    /// A zone changed since the set was last published.
    dirty: bool,
    last_publish: Instant,
    /// How long building the last set took.
    publish_cost: Duration,
}

impl Registry {
    /// Load every configured zone (and its journal).
    pub fn new(mut config: Config) -> Registry {
        let zones = load_all(&config.zones, config.answering_threads());
        config.zones = Vec::new();
        Registry {
            config,
            zones,
            published: Arc::new(ArcSwap::from_pointee(ZoneSet::default())),
            graveyard: Vec::new(),
            dirty: false,
            last_publish: Instant::now(),
            publish_cost: Duration::ZERO,
        }
    }

    /// Publish into `published` from now on (the handle the workers read).
    pub fn publish_to(&mut self, published: Arc<ArcSwap<ZoneSet>>) {
        self.published = published;
    }

    /// The handle the workers read.
    pub fn published(&self) -> &Arc<ArcSwap<ZoneSet>> {
        &self.published
    }

    /// The zone set as the registry holds it now.
    pub fn zone_set(&self) -> ZoneSet {
        let mut set = ZoneSet { catalog: Catalog::new(), counters: Vec::with_capacity(self.zones.len()) };
        for (name, e) in &self.zones {
            let index = set.catalog.insert(name.clone(), e.state());
            debug_assert_eq!(index, set.counters.len());
            set.counters.push(Arc::clone(&e.queries));
        }
        set
    }

    /// Publish a new zone set once the events at hand are handled.
    pub fn mark_changed(&mut self) {
        self.dirty = true;
    }

    /// How long until a pending publish may happen: while zones change in a stream (a
    /// secondary's first transfers) the transfer thread spends at most a fifth of its
    /// time building zone sets.
    pub fn publish_wait(&self) -> Option<Duration> {
        self.dirty.then(|| (self.publish_cost * 4).saturating_sub(self.last_publish.elapsed()))
    }

    /// Publish if a change is pending and due; returns whether it published.
    pub fn publish_if_due(&mut self) -> bool {
        if self.publish_wait() != Some(Duration::ZERO) {
            return false;
        }
        let started = Instant::now();
        let set = self.zone_set();
        self.published.store(Arc::new(set));
        self.dirty = false;
        self.last_publish = Instant::now();
        self.publish_cost = started.elapsed();
        true
    }

    /// Keep a replaced snapshot until no worker holds it.
    pub fn retire(&mut self, old: Arc<Snapshot>) {
        self.graveyard.push(old);
    }

    /// Drop old snapshots that no worker holds any more.
    pub fn bury(&mut self) {
        let before = self.graveyard.len();
        self.graveyard.retain(|s| Arc::strong_count(s) > 1);
        if self.graveyard.len() < before {
            crate::sys::release_freed_memory();
        }
    }

    /// Secondary checks started per second for these zones (see
    /// [`Config::refresh_rate_for`]).
    pub fn refresh_rate(&self) -> u32 {
        self.config.refresh_rate_for(self.zones.values().filter(|e| e.secondary.is_some()).count())
    }

    /// The configured TSIG key at `index`.
    pub fn key(&self, index: Option<usize>) -> Option<&crate::access::tsig::Key> {
        index.map(|i| &self.config.keys[i])
    }
}
