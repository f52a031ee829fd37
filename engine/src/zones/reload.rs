//! Reload: re-read the configuration and every zone file that changed (`SIGHUP`,
//! `shoal reload`, `shoal ctl reload`).
//!
//! A changed zone file with a newer serial becomes a new version sharing what did not
//! change with the old one, and its diff goes into the IXFR journal. A broken file (or
//! one whose ZONEMD digest does not match, [`crate::zones::zonemd`]), an unchanged
//! serial (unless `bump_serial`) or a serial that went backwards keeps the version
//! served. Zones added to the configuration are loaded, zones removed are
//! dropped, and a zone whose source changed starts afresh; a producer catalog is
//! written again, and the members of consumed catalogs follow the new configuration
//! ([`crate::zones::members`]). Listen addresses and workers change only on restart.

use crate::config::{Config, ZoneConfig, ZoneSource};
use crate::zones::entry::{file_stamp, same_source, ZoneEntry};
use crate::zones::load::load;
use crate::zones::registry::Registry;
use shoal_wire::{Name, Serial};
use shoal_zonedb::change::{apply, diff};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// What a reload changed, for the transfer side to act on.
#[derive(Debug, Default)]
pub struct Reloaded {
    /// Zones added or reconfigured (their timers are new).
    pub added: Vec<Name>,
    /// Zones no longer configured.
    pub removed: Vec<Name>,
    /// Zones with a new version to NOTIFY about once it is published.
    pub notify: Vec<Name>,
}

impl Registry {
    /// Re-read the configuration and the zone files that changed. `None` when there is
    /// nothing to re-read or the new configuration is rejected (the running one is kept).
    pub fn reload(&mut self) -> Option<Reloaded> {
        let Some(path) = self.config.path.clone() else {
            tracing::info!("reload: the built-in configuration has nothing to re-read");
            return None;
        };
        let mut config = match Config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("reload rejected, running configuration kept: {e}");
                return None;
            }
        };
        let tls_listen = |c: &Config| c.tls.as_ref().map(|t| t.listen.clone()).unwrap_or_default();
        if config.listen != self.config.listen
            || config.workers != self.config.workers
            || tls_listen(&config) != tls_listen(&self.config)
        {
            tracing::warn!("reload: listen addresses (tls.listen too) and workers change only on restart");
        }
        let mut done = Reloaded::default();
        let mut zones = HashMap::new();
        for z in &config.zones {
            let mut entry = match self.zones.remove(&z.name) {
                // Kept: same source, or a primary zone whose file moved (reloaded below).
                // A zone that changes role starts afresh.
                Some(e)
                    if same_source(&e.config.source, &z.source)
                        || (e.secondary.is_none() && !matches!(z.source, ZoneSource::Primaries(_))) =>
                {
                    e
                }
                other => {
                    let replaced = other.is_some();
                    let e = ZoneEntry::new(z, self.config.answering_threads());
                    tracing::info!(zone = %z.name, "reload: zone {}", if replaced { "reconfigured" } else { "added" });
                    if e.snapshot.is_some() && e.secondary.is_none() {
                        done.notify.push(z.name.clone());
                    }
                    done.added.push(z.name.clone());
                    zones.insert(z.name.clone(), e);
                    continue;
                }
            };
            let source_changed = !same_source(&entry.config.source, &z.source);
            entry.config = z.clone();
            entry.journal.set_limit(z.ixfr_journal);
            if entry.secondary.is_some() {
                zones.insert(z.name.clone(), entry);
                continue;
            }
            let stamp = file_stamp(z);
            // A producer catalog is written again: the zones listed in it may have changed.
            let changed = source_changed
                || stamp != entry.stamp
                || entry.snapshot.is_none()
                || matches!(z.source, ZoneSource::Catalog);
            if changed && self.reload_zone(&mut entry, stamp) {
                done.notify.push(z.name.clone());
            }
            zones.insert(z.name.clone(), entry);
        }
        let old: Vec<(Name, ZoneEntry)> = self.zones.drain().collect();
        for (name, old) in old {
            // Members of consumed catalogs are not in the configuration: the sync after
            // the reload keeps, reconfigures or removes them.
            if old.config.member_of.is_some() {
                zones.insert(name, old);
                continue;
            }
            tracing::info!(zone = %name, "reload: zone removed");
            drop(old);
            done.removed.push(name);
        }
        self.zones = zones;
        config.zones = Vec::new();
        self.config = config;
        // Zones may have come or gone, and allow lists and keys changed.
        self.mark_rebuild();
        let members = self.sync_catalogs(true);
        done.added.extend(members.added);
        done.removed.extend(members.removed);
        tracing::info!(zones = self.zones.len(), "reload done");
        Some(done)
    }

    /// Load a changed zone file; returns whether a new version is to be published.
    fn reload_zone(&mut self, entry: &mut ZoneEntry, stamp: Option<(SystemTime, u64)>) -> bool {
        let started = Instant::now();
        let new = match load(&entry.config) {
            Ok(s) => s,
            Err(e) => {
                e.count(&entry.meter);
                for m in e.messages() {
                    tracing::error!("{m}");
                }
                tracing::error!(zone = %entry.config.name, "reload: zone file broken, previous version kept");
                return false;
            }
        };
        entry.stamp = stamp;
        let z = &entry.config;
        let Some(old) = entry.snapshot.clone() else {
            tracing::info!(zone = %z.name, serial = new.serial(), "reload: zone loaded");
            entry.snapshot = Some(Arc::new(new));
            entry.meter.published(started.elapsed());
            return true;
        };
        let Some((new, d)) = next_version(z, &old, new) else { return false };
        tracing::info!(zone = %z.name, old = old.serial(), new = new.serial(), removed = d.removed.len(), added = d.added.len(), "reload: new version");
        let new = apply::shared_with(&old, new, &d);
        entry.journal_push(d, new.record_count());
        entry.snapshot = Some(Arc::new(new));
        entry.meter.published(started.elapsed());
        true
    }
}

/// The version a reload publishes after `old`, with the diff leading to it: `new` if
/// its serial is newer, `new` with the serial bumped if only the content changed and
/// `bump_serial` is set; `None` (logged) if nothing is to be published.
fn next_version(
    z: &ZoneConfig,
    old: &shoal_zonedb::Snapshot,
    new: shoal_zonedb::Snapshot,
) -> Option<(shoal_zonedb::Snapshot, diff::Diff)> {
    let mut new = new;
    let mut d = diff::diff(old, &new);
    if new.serial() == old.serial() {
        if d.is_empty() {
            return None;
        }
        if !z.bump_serial {
            tracing::warn!(zone = %z.name, serial = new.serial(), "reload: zone file changed but its serial did not; not published (increase the serial, or set bump_serial)");
            return None;
        }
        match apply::with_serial(&new, Serial(old.serial()).plus(1).0) {
            Ok(bumped) => {
                tracing::info!(zone = %z.name, serial = bumped.serial(), "reload: content changed, serial bumped (bump_serial)");
                new = bumped;
                d = diff::diff(old, &new);
            }
            Err(e) => {
                tracing::error!(zone = %z.name, "reload: cannot bump the serial: {e}");
                return None;
            }
        }
    }
    if !Serial(new.serial()).is_newer_than(Serial(old.serial())) {
        tracing::warn!(zone = %z.name, old = old.serial(), new = new.serial(), "reload: serial went backwards; not published");
        return None;
    }
    Some((new, d))
}
