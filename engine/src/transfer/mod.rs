//! The transfer side (NSD's xfrd, Knot's background workers): everything about zone
//! versions that is not answering a query. One thread owns the zone registry
//! ([`Transfers`]) and receives [`Event`]s over a crossbeam channel:
//!
//! - `Xfr`: a TCP worker handed over a connection whose next message is an AXFR or
//!   IXFR request; it is checked (zone, ACL, TSIG) here and streamed from an
//!   `Arc<Snapshot>` by a short-lived sender thread ([`xfr_out`]), never by a worker;
//! - `Reload`: re-read the configuration and zone files; a changed zone with a newer
//!   serial gets a new snapshot, a diff in its IXFR journal, and NOTIFYs ([`notify`]);
//! - `Stop`.
//!
//! Publishing is one `ArcSwap` store of a new catalog. Old snapshots are parked here
//! until no worker holds them, so the last reference (and the freeing of a large
//! zone) is dropped on this thread, not on a worker.

pub mod notify;
pub mod tsig;
pub mod xfr_out;

use crate::config::{Config, ZoneConfig, ZoneSource};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use shoal_wire::Name;
use shoal_zonedb::journal::Journal;
use shoal_zonedb::{Catalog, Snapshot, ZoneState};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What the transfer thread is asked to do.
pub enum Event {
    /// An AXFR/IXFR request read by a TCP worker, with the connection itself.
    Xfr {
        stream: std::net::TcpStream,
        peer: SocketAddr,
        query: Vec<u8>,
        /// Responses to earlier pipelined queries not yet written.
        pending: Vec<u8>,
    },
    Reload,
    Stop,
}

/// RFC 1982: is serial `a` newer than `b`?
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

/// One zone as the transfer side knows it.
struct ZoneEntry {
    config: ZoneConfig,
    snapshot: Option<Arc<Snapshot>>,
    journal: Journal,
    /// Modification time and length of the zone file when it was loaded.
    stamp: Option<(SystemTime, u64)>,
}

/// The zone registry and everything that changes zones.
pub struct Transfers {
    config: Config,
    zones: HashMap<Name, ZoneEntry>,
    catalog: Arc<arc_swap::ArcSwap<Catalog>>,
    /// Old snapshots waiting for the workers to let go of them.
    graveyard: Vec<Arc<Snapshot>>,
    active_xfrs: Arc<AtomicUsize>,
}

/// Most outbound transfers running at once; more are refused (the peer retries).
const MAX_XFR_OUT: usize = 16;

fn file_stamp(z: &ZoneConfig) -> Option<(SystemTime, u64)> {
    match &z.source {
        ZoneSource::File(f) => {
            std::fs::metadata(f).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        }
        ZoneSource::Builtin => None,
    }
}

impl Transfers {
    /// Load every configured zone (and its journal) and build the first catalog.
    pub fn new(config: Config) -> (Transfers, Catalog) {
        let mut zones = HashMap::new();
        for z in &config.zones {
            let stamp = file_stamp(z);
            let snapshot = crate::zones::load_logged(z).map(Arc::new);
            let journal = load_journal(z, snapshot.as_deref());
            zones.insert(z.name.clone(), ZoneEntry { config: z.clone(), snapshot, journal, stamp });
        }
        let t = Transfers {
            config,
            zones,
            catalog: Arc::new(arc_swap::ArcSwap::from_pointee(Catalog::new())),
            graveyard: Vec::new(),
            active_xfrs: Arc::new(AtomicUsize::new(0)),
        };
        let catalog = t.build_catalog();
        (t, catalog)
    }

    /// Share the catalog the workers read.
    pub fn set_catalog(&mut self, catalog: Arc<arc_swap::ArcSwap<Catalog>>) {
        self.catalog = catalog;
    }

    fn build_catalog(&self) -> Catalog {
        let mut c = Catalog::new();
        for (name, e) in &self.zones {
            let state = match &e.snapshot {
                Some(s) => ZoneState::Ready(Arc::clone(s)),
                None => ZoneState::Failed,
            };
            c.insert(name.clone(), state);
        }
        c
    }

    fn publish(&mut self) {
        let c = self.build_catalog();
        self.catalog.store(Arc::new(c));
    }

    /// Run until `Stop` (or the channel closes).
    pub fn run(mut self, rx: Receiver<Event>) {
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Event::Reload) => self.reload(),
                Ok(Event::Xfr { stream, peer, query, pending }) => self.xfr(stream, peer, query, pending),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.bury();
        }
    }

    /// Drop old snapshots that no worker holds any more.
    fn bury(&mut self) {
        self.graveyard.retain(|s| Arc::strong_count(s) > 1);
    }

    /// Re-read the configuration and every zone file that changed.
    pub fn reload(&mut self) {
        let Some(path) = self.config.path.clone() else {
            tracing::info!("reload: the built-in configuration has nothing to re-read");
            return;
        };
        let config = match Config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("reload rejected, running configuration kept: {e}");
                return;
            }
        };
        if config.listen != self.config.listen || config.workers != self.config.workers {
            tracing::warn!("reload: listen addresses and workers change only on restart");
        }
        let mut zones = HashMap::new();
        let mut notify = Vec::new();
        for z in &config.zones {
            let mut entry = match self.zones.remove(&z.name) {
                Some(e) => e,
                None => {
                    let stamp = file_stamp(z);
                    let snapshot = crate::zones::load_logged(z).map(Arc::new);
                    let journal = load_journal(z, snapshot.as_deref());
                    tracing::info!(zone = %z.name, "reload: zone added");
                    if snapshot.is_some() {
                        notify.push(z.name.clone());
                    }
                    zones.insert(z.name.clone(), ZoneEntry { config: z.clone(), snapshot, journal, stamp });
                    continue;
                }
            };
            let source_changed = !same_source(&entry.config.source, &z.source);
            entry.config = z.clone();
            entry.journal.set_limit(z.ixfr_journal);
            let stamp = file_stamp(z);
            let changed = source_changed || stamp != entry.stamp || entry.snapshot.is_none();
            if changed && self.reload_zone(&mut entry, stamp) {
                notify.push(z.name.clone());
            }
            zones.insert(z.name.clone(), entry);
        }
        for (name, old) in self.zones.drain() {
            tracing::info!(zone = %name, "reload: zone removed");
            self.graveyard.extend(old.snapshot);
        }
        self.zones = zones;
        self.config = config;
        self.publish();
        for name in notify {
            self.send_notifies(&name);
        }
        tracing::info!(zones = self.zones.len(), "reload done");
    }

    /// Load a changed zone file; returns whether a new version was published.
    fn reload_zone(&mut self, entry: &mut ZoneEntry, stamp: Option<(SystemTime, u64)>) -> bool {
        let z = &entry.config;
        let new = match crate::zones::load(z) {
            Ok(s) => s,
            Err(errors) => {
                for e in &errors {
                    tracing::error!("{e}");
                }
                tracing::error!(zone = %z.name, "reload: zone file broken, previous version kept");
                return false;
            }
        };
        entry.stamp = stamp;
        let Some(old) = entry.snapshot.clone() else {
            tracing::info!(zone = %z.name, serial = new.serial(), "reload: zone loaded");
            entry.snapshot = Some(Arc::new(new));
            return true;
        };
        let d = shoal_zonedb::diff::diff(&old, &new);
        if new.serial() == old.serial() {
            if !d.is_empty() {
                tracing::warn!(zone = %z.name, serial = new.serial(), "reload: zone file changed but its serial did not; not published (increase the serial)");
            }
            return false;
        }
        if !serial_gt(new.serial(), old.serial()) {
            tracing::warn!(zone = %z.name, old = old.serial(), new = new.serial(), "reload: serial went backwards; not published");
            return false;
        }
        tracing::info!(zone = %z.name, old = old.serial(), new = new.serial(), removed = d.removed.len(), added = d.added.len(), "reload: new version");
        entry.journal.push(d);
        if let Some(p) = z.journal_path() {
            if let Err(e) = entry.journal.save(&p) {
                tracing::warn!(zone = %z.name, "cannot write IXFR journal {}: {e}", p.display());
            }
        }
        self.graveyard.push(old);
        entry.snapshot = Some(Arc::new(new));
        true
    }

    fn send_notifies(&self, name: &Name) {
        let Some(e) = self.zones.get(name) else { return };
        let Some(s) = &e.snapshot else { return };
        if e.config.notify.is_empty() {
            return;
        }
        let key = e.config.transfer_key.map(|i| self.config.keys[i].clone());
        notify::spawn(name.clone(), shoal_zonedb::diff::soa_of(s), e.config.notify.clone(), key);
    }

    /// Check an AXFR/IXFR request and start streaming it (or refuse it).
    fn xfr(&mut self, stream: std::net::TcpStream, peer: SocketAddr, query: Vec<u8>, pending: Vec<u8>) {
        let plan = xfr_out::plan(&query, peer, &self.config.keys, |apex| {
            self.zones.get(apex).map(|e| xfr_out::ZoneView {
                name: &e.config.name,
                snapshot: e.snapshot.as_ref(),
                journal: &e.journal,
                acl: &e.config.allow_transfer,
                key: e.config.transfer_key.map(|i| &self.config.keys[i]),
            })
        });
        let active = Arc::clone(&self.active_xfrs);
        if active.load(Ordering::Relaxed) >= MAX_XFR_OUT {
            tracing::warn!(%peer, "transfer refused: {MAX_XFR_OUT} transfers already running");
            xfr_out::refuse_busy(stream, &query, pending);
            return;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let spawned = std::thread::Builder::new().name("shoal-xfr-out".into()).spawn(move || {
            xfr_out::send(stream, peer, &query, pending, plan);
            active.fetch_sub(1, Ordering::Relaxed);
        });
        if spawned.is_err() {
            self.active_xfrs.fetch_sub(1, Ordering::Relaxed);
            tracing::error!(%peer, "cannot start a transfer thread");
        }
    }
}

fn same_source(a: &ZoneSource, b: &ZoneSource) -> bool {
    match (a, b) {
        (ZoneSource::File(x), ZoneSource::File(y)) => x == y,
        (ZoneSource::Builtin, ZoneSource::Builtin) => true,
        _ => false,
    }
}

/// The zone's journal from disk, if it ends at the loaded version.
fn load_journal(z: &ZoneConfig, snapshot: Option<&Snapshot>) -> Journal {
    let empty = Journal::new(z.ixfr_journal);
    let (Some(path), Some(s)) = (z.journal_path(), snapshot) else { return empty };
    if !path.exists() {
        return empty;
    }
    match Journal::load(&path, z.ixfr_journal) {
        Ok(j) if j.newest_serial() == Some(s.serial()) => j,
        Ok(_) => {
            tracing::info!(zone = %z.name, "IXFR journal {} does not end at serial {}; starting a new one", path.display(), s.serial());
            empty
        }
        Err(e) => {
            tracing::warn!(zone = %z.name, "IXFR journal {}: {e}; starting a new one", path.display());
            empty
        }
    }
}

/// Where to find a zone's journal (for tests).
pub fn journal_path(z: &ZoneConfig) -> Option<PathBuf> {
    z.journal_path()
}

#[cfg(test)]
mod tests {
    use super::serial_gt;

    #[test]
    fn rfc1982_serial_comparison() {
        assert!(serial_gt(2, 1));
        assert!(!serial_gt(1, 2));
        assert!(!serial_gt(5, 5));
        assert!(serial_gt(1, u32::MAX), "wrapped past 2^32 is newer");
        assert!(serial_gt(0x8000_0000 - 1, 0));
        assert!(!serial_gt(0x8000_0001, 0));
    }
}
