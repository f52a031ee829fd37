//! [`Registry`]: every configured zone ([`ZoneEntry`]) and the publishing of the set the
//! workers answer from ([`ZoneSet`]).
//!
//! The transfer thread owns the registry. A zone's new version is published into its
//! own slot of the catalog ([`Publisher`]): the cost does not depend on how many zones
//! there are. The catalog is rebuilt only when zones are added or removed or the
//! configuration is reloaded, at most a fifth of the time while that happens in a
//! stream. Each publish stores one new
//! `ZoneSet` handle (a few reference counts) in the `ArcSwap` the workers read. The
//! publisher keeps replaced snapshots until no worker holds a catalog that could show
//! them, so the last reference (and the freeing of a large zone) is dropped on the
//! transfer thread, never on a worker.

use crate::access::acl::Acl;
use crate::access::tsig::Key;
use crate::config::Config;
use crate::metrics::QueryCounters;
use crate::zones::catalog::Consumed;
use crate::zones::entry::{load_all, remove_stale_temporaries, ZoneEntry};
use arc_swap::ArcSwap;
use shoal_wire::Name;
use shoal_zonedb::{Catalog, Publisher};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the workers answer from: the catalog, each zone's query counters at its
/// catalog index, and who may NOTIFY which secondary zone. Cheap to make: all are
/// shared with the set it replaces.
#[derive(Default, Clone)]
pub struct ZoneSet {
    pub catalog: Arc<Catalog>,
    pub counters: Arc<Vec<Arc<QueryCounters>>>,
    pub notify: Arc<NotifyPolicy>,
}

/// The secondary zones' `allow_notify` and `transfer_key`, and the keys, so that a
/// worker answers a NOTIFY itself (as Knot's workers do) instead of waiting for the
/// transfer thread.
#[derive(Default)]
pub struct NotifyPolicy {
    zones: HashMap<Name, (Acl, Option<usize>)>,
    pub keys: Vec<Key>,
}

impl NotifyPolicy {
    /// The allow list and key of the secondary zone at `apex`.
    pub fn zone(&self, apex: &[u8]) -> Option<(&Acl, Option<&Key>)> {
        self.zones.get(apex).map(|(acl, key)| (acl, key.map(|i| &self.keys[i])))
    }
}

impl ZoneSet {
    /// A set of zones whose queries are not counted (tests, tools).
    pub fn uncounted(catalog: Catalog) -> ZoneSet {
        ZoneSet { catalog: Arc::new(catalog), counters: Arc::default(), notify: Arc::default() }
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
    /// The catalog's versions, and the snapshots they replaced.
    publisher: Publisher,
    /// The counters of the published catalog, by index.
    counters: Arc<Vec<Arc<QueryCounters>>>,
    /// Who may NOTIFY which zone, as of the last rebuild.
    notify: Arc<NotifyPolicy>,
    /// Zones whose version changed since the last publish.
    changed: HashSet<Name>,
    /// Zones were added or removed, or the configuration reloaded: the catalog is
    /// built again.
    rebuild: bool,
    last_rebuild: Instant,
    /// How long building the last catalog took.
    rebuild_cost: Duration,
    /// The consumer catalogs, as last read.
    pub(crate) catalogs: HashMap<Name, Consumed>,
    /// A consumer catalog's new version was published since the last sync.
    pub(crate) catalogs_due: bool,
    /// State files of catalog members removed while a write to them was running.
    pub(crate) removed_state: HashMap<Name, Vec<std::path::PathBuf>>,
}

impl Registry {
    /// Load every configured zone (and its journal).
    pub fn new(mut config: Config) -> Registry {
        remove_stale_temporaries(&config.zones);
        let zones = load_all(&config.zones, config.answering_threads());
        config.zones = Vec::new();
        let mut registry = Registry {
            config,
            zones,
            published: Arc::new(ArcSwap::from_pointee(ZoneSet::default())),
            publisher: Publisher::new(Catalog::new()),
            counters: Arc::default(),
            notify: Arc::default(),
            changed: HashSet::new(),
            rebuild: true,
            last_rebuild: Instant::now(),
            rebuild_cost: Duration::ZERO,
            catalogs: HashMap::new(),
            catalogs_due: false,
            removed_state: HashMap::new(),
        };
        // Members of consumed catalogs, from the catalogs' copies.
        registry.sync_catalogs(true);
        registry.build_catalog();
        registry
    }

    /// Publish into `published` from now on (the handle the workers read).
    pub fn publish_to(&mut self, published: Arc<ArcSwap<ZoneSet>>) {
        self.published = published;
    }

    /// The handle the workers read.
    pub fn published(&self) -> &Arc<ArcSwap<ZoneSet>> {
        &self.published
    }

    /// The zone set as last published.
    pub fn zone_set(&self) -> ZoneSet {
        ZoneSet {
            catalog: Arc::clone(self.publisher.current()),
            counters: Arc::clone(&self.counters),
            notify: Arc::clone(&self.notify),
        }
    }

    /// Publish the zone's current version once the events at hand are handled.
    pub fn mark_changed(&mut self, zone: &Name) {
        if self.zones.get(zone).is_some_and(|e| e.config.catalog == crate::config::CatalogRole::Consumer) {
            self.catalogs_due = true;
        }
        self.changed.insert(zone.clone());
    }

    /// Zones were added or removed, or their configuration changed: build the catalog
    /// (and the NOTIFY policy) again before the next publish.
    pub fn mark_rebuild(&mut self) {
        self.rebuild = true;
    }

    /// How long until a pending publish may happen: a changed zone at once; a rebuilt
    /// catalog, while rebuilds come in a stream, once the transfer thread has spent no
    /// more than a fifth of its time building catalogs.
    pub fn publish_wait(&self) -> Option<Duration> {
        if self.rebuild {
            Some((self.rebuild_cost * 4).saturating_sub(self.last_rebuild.elapsed()))
        } else {
            (!self.changed.is_empty()).then_some(Duration::ZERO)
        }
    }

    /// Publish if a change is pending and due; returns whether it published.
    pub fn publish_if_due(&mut self) -> bool {
        if self.publish_wait() != Some(Duration::ZERO) {
            return false;
        }
        if self.rebuild {
            self.build_catalog();
        }
        for name in std::mem::take(&mut self.changed) {
            let Some(e) = self.zones.get_mut(&name) else { continue };
            if e.joining && e.snapshot.is_some() {
                e.joining = false;
                if let Some(entry) = self.publisher.current().get(name.as_wire()) {
                    entry.set_joining(false);
                }
            }
            if !self.publisher.replace(name.as_wire(), e.state()) {
                // Not in the catalog (added since): only a rebuild brings it in.
                self.changed.insert(name);
                self.rebuild = true;
            }
        }
        if self.rebuild {
            self.build_catalog();
        }
        self.published.store(Arc::new(self.zone_set()));
        tracing::debug!("zone set published");
        true
    }

    /// Build the catalog of every zone (their current versions) and hand it to the
    /// publisher.
    fn build_catalog(&mut self) {
        let started = Instant::now();
        let mut catalog = Catalog::new();
        let mut counters = Vec::with_capacity(self.zones.len());
        let mut notify = NotifyPolicy { zones: HashMap::new(), keys: self.config.keys.clone() };
        for (name, e) in &self.zones {
            let index = catalog.insert(name.clone(), e.state());
            if let Some(entry) = catalog.get(name.as_wire()) {
                entry.set_expires_at(expiry_of(e));
                entry.set_joining(e.joining && e.snapshot.is_none());
            }
            debug_assert_eq!(index, counters.len());
            counters.push(Arc::clone(&e.queries));
            if e.secondary.is_some() {
                notify.zones.insert(name.clone(), (e.config.allow_notify.clone(), e.config.transfer_key));
            }
        }
        self.publisher.rebuild(catalog);
        self.counters = Arc::new(counters);
        self.notify = Arc::new(notify);
        self.changed.clear();
        self.rebuild = false;
        self.last_rebuild = Instant::now();
        self.rebuild_cost = started.elapsed();
    }

    /// Tell the workers when a secondary zone expires now (its expire timer moved), for
    /// their EDNS EXPIRE answers (RFC 7314).
    pub fn note_expiry(&self, zone: &Name) {
        if let (Some(e), Some(entry)) = (self.zones.get(zone), self.publisher.current().get(zone.as_wire())) {
            entry.set_expires_at(expiry_of(e));
        }
    }

    /// Free the replaced versions and catalogs no worker holds any more, and give the
    /// memory back to the OS when a version went (not for every catalog handle).
    pub fn reclaim(&mut self) {
        if self.publisher.reclaim().versions > 0 {
            shoal_io::memory::release_freed_memory();
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

/// Unix time at which a secondary zone expires without a successful check.
fn expiry_of(e: &ZoneEntry) -> Option<u64> {
    let at = e.secondary.as_ref()?.expire_at?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
    Some((now + at.saturating_duration_since(Instant::now())).as_secs())
}
