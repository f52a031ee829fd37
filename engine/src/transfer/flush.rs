//! Making received versions durable before they are published (journal first), for
//! every zone that changed since the last flush at once: a group commit.
//!
//! A check that brings a new version leaves it in its entry as
//! [`Unsynced`](crate::zones::entry::Unsynced). Once the events at hand are handled,
//! [`Transfers::flush`] appends each such zone's diffs to its journal in memory, writes
//! every changed journal to its temporary file and fsyncs them (on a few threads at
//! once: the waits overlap), renames them, fsyncs each state folder once, and only then
//! publishes the versions and queues their NOTIFYs. With a thousand zones changing a
//! second, the transfer thread waits for the disk once per batch, not twice per zone.
//!
//! A version is durable as the copy in the state directory plus the journal from it;
//! the copy is written again in the background once the journal holds
//! [`copy_after`] diffs since it, and at once only when the journal cannot lead from
//! the copy (it was trimmed, or could not be written).

use super::{refresh, Event, Transfers};
use crate::zones::entry::ZoneEntry;
use crossbeam_channel::Sender;
use shoal_wire::Name;
use shoal_zonedb::change::journal::{sync_dir, Staged};
use shoal_zonedb::Snapshot;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// Threads that write and fsync journals at once.
const WRITERS: usize = 4;

impl Transfers {
    /// Write the journals of the zones with new versions, then publish those versions.
    pub(super) fn flush(&mut self) {
        if self.unsynced.is_empty() {
            return;
        }
        let mut names = std::mem::take(&mut self.unsynced);
        let mut seen = HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        // The diffs join the journals in memory.
        let mut versions = Vec::with_capacity(names.len());
        for name in names {
            let Some(e) = self.registry.zones.get_mut(&name) else { continue };
            let Some(u) = e.unsynced.take() else { continue };
            if u.whole {
                // Transferred whole without a diff: the journal's chain ends at the
                // version replaced, so clients of older serials get AXFR.
                e.journal.clear();
            }
            for d in u.diffs {
                e.journal.push_within(d, u.snapshot.record_count());
            }
            versions.push((name, u.snapshot, u.saved));
        }
        // Every journal written and fsynced under its temporary name, then renamed.
        let written = {
            let entries: Vec<&ZoneEntry> =
                versions.iter().filter_map(|(name, _, _)| self.registry.zones.get(name)).collect();
            write_journals(&entries)
        };
        let events = self.events.clone();
        for (name, snapshot, saved) in versions {
            let Some(e) = self.registry.zones.get_mut(&name) else { continue };
            let journaled = written.contains(&name);
            if !saved {
                make_durable(e, &name, &snapshot, journaled, events.as_ref());
            }
            // The old version stays in the catalog's slot until the publish.
            e.snapshot = Some(snapshot);
            self.registry.mark_changed(&name);
            self.notify_after_publish(name);
        }
    }
}

/// Write the journals of `entries` (those with a journal file) at once; the zones whose
/// journal is now on disk. A failure is logged and leaves that zone out.
fn write_journals(entries: &[&ZoneEntry]) -> HashSet<Name> {
    let jobs: Vec<(&ZoneEntry, PathBuf)> =
        entries.iter().filter_map(|e| Some((*e, e.config.journal_path()?))).collect();
    let per_thread = jobs.len().div_ceil(WRITERS).max(1);
    let staged: Vec<(&ZoneEntry, std::io::Result<Staged>)> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(per_thread)
            .map(|chunk| s.spawn(move || chunk.iter().map(|(e, p)| (*e, e.journal.stage(p))).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut written = HashSet::new();
    // One journal of each folder, whose folder is synced once for all of them.
    let mut folders = std::collections::HashMap::new();
    for (e, result) in staged {
        let path = result.as_ref().map(|s| s.path().to_path_buf()).ok();
        match result.and_then(Staged::commit) {
            Ok(()) => {
                written.insert(e.config.name.clone());
                if let Some(p) = path {
                    folders.entry(p.parent().map(PathBuf::from)).or_insert(p);
                }
            }
            Err(err) => {
                let p = e.config.journal_path().unwrap_or_default();
                tracing::warn!(zone = %e.config.name, "cannot write IXFR journal {}: {err}", p.display());
            }
        }
    }
    for path in folders.values() {
        sync_dir(path);
    }
    written
}

/// Diffs since the copy after which it is written again: half the journal's bound, so
/// that the journal still leads from the old copy while the new one is written.
fn copy_after(cfg: &crate::config::ZoneConfig) -> usize {
    (cfg.ixfr_journal / 2).max(1)
}

/// Journal first: an IXFR result is durable once the journal on disk leads from the
/// copy in the state directory to it, so it is published without writing the zone.
/// The copy is written again in the background once the journal holds
/// [`copy_after`] diffs since it, and at once (before publishing) only when the
/// journal cannot lead from the copy to this version (it was trimmed, or could not
/// be written).
fn make_durable(
    e: &mut ZoneEntry,
    name: &Name,
    snapshot: &Arc<Snapshot>,
    journaled: bool,
    events: Option<&Sender<Event>>,
) {
    let on_disk = e.copy.serial();
    let since = on_disk.and_then(|c| e.journal.count_since(c)).filter(|_| journaled);
    match since {
        None => {
            refresh::save_copy(&e.config, snapshot, &e.copy);
        }
        Some(n) if n >= copy_after(&e.config) && !e.saving => {
            let (cfg, copy, snap, zone) = (e.config.clone(), Arc::clone(&e.copy), Arc::clone(snapshot), name.clone());
            let events = events.cloned();
            let spawned = std::thread::Builder::new().name("shoal-save".into()).spawn(move || {
                refresh::save_copy(&cfg, &snap, &copy);
                if let Some(events) = events {
                    let _ = events.send(Event::Saved { zone });
                }
            });
            match spawned {
                Ok(_) => e.saving = true,
                Err(err) => tracing::warn!(zone = %name, "cannot start writing the zone copy: {err}"),
            }
        }
        Some(_) => {}
    }
}
