//! [`ZoneEntry`]: one configured zone as the registry holds it: its configuration, the
//! version served, its IXFR journal, its counters and, for a secondary, its timers.

use crate::config::{ZoneConfig, ZoneSource};
use crate::metrics::{QueryCounters, ZoneMeter};
use crate::zones::lifecycle::{Now, SecondaryState};
use crate::zones::load::load_logged;
use crate::zones::timers::{Timers, Xorshift};
use shoal_wire::Name;
use shoal_zonedb::change::journal::Journal;
use shoal_zonedb::{Snapshot, ZoneState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// What is known of a secondary's copy in the state directory, shared by the threads
/// that write it (a refresh thread for a zone received whole, a background save).
#[derive(Default)]
pub struct CopyState {
    /// The serial of the copy on disk; its lock is only ever held for a moment.
    pub serial: Mutex<Option<u32>>,
    /// Held while the copy is being written, so that writers take turns.
    pub writing: Mutex<()>,
}

impl CopyState {
    /// The serial of the copy on disk.
    pub fn serial(&self) -> Option<u32> {
        *self.serial.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A secondary's new version received but not yet durable: its journal is written
/// (with those of every zone that changed meanwhile) before it is published.
pub struct Unsynced {
    pub snapshot: Arc<Snapshot>,
    /// The diffs that lead to it from the version the journal ends at.
    pub diffs: Vec<shoal_zonedb::change::diff::Diff>,
    /// Received whole: the journal restarts (its chain ends at the version replaced).
    pub whole: bool,
    /// The copy in the state directory already holds it.
    pub saved: bool,
}

/// One zone as the registry knows it.
pub struct ZoneEntry {
    pub config: ZoneConfig,
    /// Query counters the workers write (published with every zone set).
    pub queries: Arc<QueryCounters>,
    /// Transfer, NOTIFY and publish counters.
    pub meter: Arc<ZoneMeter>,
    pub snapshot: Option<Arc<Snapshot>>,
    pub journal: Journal,
    /// Modification time and length of the zone file when it was loaded.
    pub stamp: Option<(SystemTime, u64)>,
    /// Timers of a secondary zone.
    pub secondary: Option<SecondaryState>,
    /// The copy in the state directory (a secondary): the journal leads from it to the
    /// version served, until the copy is written again.
    pub copy: Arc<CopyState>,
    /// A background write of the copy is running.
    pub saving: bool,
    /// A new version waiting for its journal to be written before it is published.
    pub unsynced: Option<Unsynced>,
    /// A version whose journal is being written (its diffs are in `journal` already).
    pub flushing: Option<Arc<Snapshot>>,
    /// A catalog member that a later version of its catalog added, not served yet:
    /// `/ready` does not wait for it (a zone added to a catalog must not take a fleet
    /// out of service while every member transfers it). Members of a catalog's first
    /// version are waited for: a new server is not ready before it has its zones.
    pub joining: bool,
}

impl ZoneEntry {
    /// Load a configured zone (a secondary from its copy in the state directory) with
    /// its journal, and set its timers. `threads` is the number of answering threads.
    /// What a killed process left of writing its files was removed at start
    /// ([`remove_stale_temporaries`]).
    pub fn new(config: &ZoneConfig, threads: usize) -> ZoneEntry {
        let stamp = file_stamp(config);
        let first_start = config.state_path().is_some_and(|p| !p.exists());
        let meter = Arc::new(ZoneMeter::default());
        let snapshot = if first_start {
            tracing::info!(zone = %config.name, "secondary zone has no copy yet; transferring it");
            None
        } else {
            let started = Instant::now();
            let s = load_logged(config, &meter).map(Arc::new);
            if s.is_some() {
                meter.published(started.elapsed());
            }
            s
        };
        let copy_serial = snapshot.as_ref().filter(|_| config.state_path().is_some()).map(|s| s.serial());
        let (snapshot, journal) = load_journal(config, snapshot);
        let checked =
            snapshot.as_ref().and(config.state_path()).and_then(|p| std::fs::metadata(p).ok()?.modified().ok());
        let secondary = matches!(config.source, ZoneSource::Primaries(_)).then(|| {
            let held = snapshot.as_deref().map(|s| Timers::of(s, &config.timers));
            SecondaryState::new(held, checked, Now::real(), &mut Xorshift::from_clock())
        });
        if secondary.as_ref().is_some_and(|s| s.expired) {
            tracing::warn!(zone = %config.name, "copy in the state directory expired: no primary confirmed it within the SOA expire time; answering SERVFAIL until one does");
        }
        let queries = Arc::new(QueryCounters::new(threads));
        ZoneEntry {
            config: config.clone(),
            queries,
            meter,
            snapshot,
            journal,
            stamp,
            secondary,
            copy: Arc::new(CopyState { serial: Mutex::new(copy_serial), writing: Mutex::new(()) }),
            saving: false,
            unsynced: None,
            flushing: None,
            joining: false,
        }
    }

    /// What workers may answer from.
    pub fn state(&self) -> ZoneState {
        match (&self.snapshot, &self.secondary) {
            (_, Some(sec)) if sec.expired => ZoneState::Failed,
            (Some(s), _) => ZoneState::Ready(Arc::clone(s)),
            (None, _) => ZoneState::Failed,
        }
    }

    /// The newest version held, durable or not (what the next IXFR asks from, and
    /// what the journal's next diff must start from).
    pub fn newest(&self) -> Option<&Arc<Snapshot>> {
        self.unsynced.as_ref().map(|u| &u.snapshot).or(self.flushing.as_ref()).or(self.snapshot.as_ref())
    }

    /// The version served to clients of transfers: none once a secondary expired.
    pub fn served(&self) -> Option<&Arc<Snapshot>> {
        self.snapshot.as_ref().filter(|_| !self.secondary.as_ref().is_some_and(|s| s.expired))
    }

    /// Keep `diff` in the journal and write the journal to its file.
    pub fn journal_push(&mut self, diff: shoal_zonedb::change::diff::Diff, records: usize) {
        self.journal.push_within(diff, records);
        self.save_journal();
    }

    /// Write the journal to its file (a warning when that fails); whether it is on disk.
    pub fn save_journal(&self) -> bool {
        let Some(p) = self.config.journal_path() else { return false };
        match self.journal.save(&p) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(zone = %self.config.name, "cannot write IXFR journal {}: {e}", p.display());
                false
            }
        }
    }
}

/// Remove the temporary files that a process killed while writing a copy or a journal
/// left in the state directories of `configs`: one pass over each folder.
pub fn remove_stale_temporaries(configs: &[ZoneConfig]) {
    let dirs: std::collections::BTreeSet<&std::path::Path> = configs.iter().map(|z| z.state_dir.as_path()).collect();
    for dir in dirs {
        let n = shoal_zonedb::change::journal::remove_stale_temporaries(dir, &["zone", "ixfr"]);
        if n > 0 {
            tracing::info!(dir = %dir.display(), files = n, "removed temporary files a killed process left");
        }
    }
}

/// Load every configured zone, spread over every core.
pub fn load_all(configs: &[ZoneConfig], threads: usize) -> HashMap<Name, ZoneEntry> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if configs.len() < 2 * cores {
        // A few (big) zones gain nothing from threads.
        return configs.iter().map(|z| (z.name.clone(), ZoneEntry::new(z, threads))).collect();
    }
    let chunk = configs.len().div_ceil(cores).max(1);
    let loaded: Vec<Vec<ZoneEntry>> = std::thread::scope(|scope| {
        let handles: Vec<_> = configs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|z| ZoneEntry::new(z, threads)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().map(|h| h.join().expect("a zone loader thread panicked")).collect()
    });
    let mut zones = HashMap::with_capacity(configs.len());
    for e in loaded.into_iter().flatten() {
        zones.insert(e.config.name.clone(), e);
    }
    zones
}

/// The zone file's modification time and length (primary zones from a file).
pub fn file_stamp(z: &ZoneConfig) -> Option<(SystemTime, u64)> {
    match &z.source {
        ZoneSource::File(f) => {
            std::fs::metadata(f).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        }
        ZoneSource::Builtin | ZoneSource::Primaries(_) | ZoneSource::Catalog => None,
    }
}

/// Whether two sources are the same file, the built-in zone, or the same primaries.
pub fn same_source(a: &ZoneSource, b: &ZoneSource) -> bool {
    match (a, b) {
        (ZoneSource::File(x), ZoneSource::File(y)) => x == y,
        (ZoneSource::Builtin, ZoneSource::Builtin) => true,
        (ZoneSource::Primaries(x), ZoneSource::Primaries(y)) => x == y,
        (ZoneSource::Catalog, ZoneSource::Catalog) => true,
        _ => false,
    }
}

/// The zone's journal from disk, if it ends at the loaded version; for a secondary
/// whose copy is older than the journal's newest version, the journal's diffs from the
/// copy on are applied (journal first: versions after the copy are only in the
/// journal), and the version they lead to is the one returned.
fn load_journal(z: &ZoneConfig, snapshot: Option<Arc<Snapshot>>) -> (Option<Arc<Snapshot>>, Journal) {
    let empty = Journal::new(z.ixfr_journal);
    let (Some(path), Some(s)) = (z.journal_path(), snapshot.as_ref()) else { return (snapshot, empty) };
    if !path.exists() {
        return (snapshot, empty);
    }
    let journal = match Journal::load(&path, z.ixfr_journal) {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!(zone = %z.name, "IXFR journal {}: {e}; starting a new one", path.display());
            return (snapshot, empty);
        }
    };
    if journal.newest_serial() == Some(s.serial()) {
        return (snapshot, journal);
    }
    // Saved empty (the last version came whole): nothing to say.
    if journal.is_empty() {
        return (snapshot, empty);
    }
    let replay = matches!(z.source, ZoneSource::Primaries(_)).then(|| journal.since(s.serial())).flatten();
    if let Some(diffs) = replay {
        let started = Instant::now();
        match shoal_zonedb::change::apply::apply(s, &diffs) {
            Ok(newer) => {
                tracing::info!(zone = %z.name, copy = s.serial(), serial = newer.serial(), diffs = diffs.len(),
                    ms = started.elapsed().as_millis() as u64, "journal replayed onto the copy");
                return (Some(Arc::new(newer)), journal);
            }
            Err(e) => {
                tracing::warn!(zone = %z.name, "IXFR journal {} does not apply to the copy (serial {}): {e}; serving the copy", path.display(), s.serial());
                return (snapshot, empty);
            }
        }
    }
    tracing::info!(zone = %z.name, "IXFR journal {} does not end at serial {}; starting a new one", path.display(), s.serial());
    (snapshot, empty)
}
