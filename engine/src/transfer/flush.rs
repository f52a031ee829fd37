//! Making received versions durable before they are published (journal first), for
//! every zone that changed since the last flush at once: a group commit, written on
//! a thread of its own so that the transfer thread keeps answering NOTIFYs meanwhile.
//!
//! A check that brings a new version leaves it in its entry as
//! [`Unsynced`](crate::zones::entry::Unsynced). Once the events at hand are handled,
//! [`Transfers::flush`] appends each such zone's diffs to its journal in memory and
//! hands every changed journal's bytes to the `shoal-flush` thread, which writes them
//! to their temporary files and fsyncs them (on a few threads at once: the waits
//! overlap), renames them, fsyncs each state folder once, and reports
//! [`Event::Flushed`]; only then are the versions published and their NOTIFYs queued
//! ([`Transfers::flushed`]). Versions that arrive meanwhile wait for the next batch.
//! With a thousand zones changing a second, the disk is waited for once per batch, and
//! never by the thread that answers NOTIFY.
//!
//! A version is durable as the copy in the state directory plus the journal from it;
//! the copy is written again in the background once the journal holds
//! [`copy_after`] diffs since it, and at once only when the journal cannot lead from
//! the copy (it was trimmed, or could not be written). Until a batch is published, an
//! IXFR client is served the published version (whole, if the journal has moved past
//! it: `xfr_out::plan` checks the journal's end against the version it serves).

use super::{refresh, Event, Transfers};
use crate::zones::entry::ZoneEntry;
use crossbeam_channel::{Receiver, Sender};
use shoal_wire::Name;
use shoal_zonedb::change::journal::{stage_bytes, sync_dir, Staged};
use shoal_zonedb::Snapshot;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Threads that write and fsync journals at once.
const WRITERS: usize = 4;

/// One zone's journal to write.
pub struct Job {
    pub zone: Name,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Versions handed to the flush thread, waiting for their journals.
pub(super) struct InFlight {
    versions: Vec<(Name, Arc<Snapshot>, bool)>,
}

/// Start the thread that writes batches of journals and reports each batch.
pub fn start(events: Sender<Event>) -> std::io::Result<Sender<Vec<Job>>> {
    let (tx, rx) = crossbeam_channel::unbounded::<Vec<Job>>();
    std::thread::Builder::new().name("shoal-flush".into()).spawn(move || run(&rx, &events))?;
    Ok(tx)
}

fn run(rx: &Receiver<Vec<Job>>, events: &Sender<Event>) {
    for jobs in rx {
        let (started, zones) = (std::time::Instant::now(), jobs.len());
        let written = write_journals(jobs);
        tracing::debug!(zones, us = started.elapsed().as_micros() as u64, "journals written");
        if events.send(Event::Flushed { written }).is_err() {
            return;
        }
    }
}

impl Transfers {
    /// Hand the journals of the zones with new versions to the flush thread (unless a
    /// batch is being written: they go with the next), or write them here when there
    /// is no flush thread.
    pub(super) fn flush(&mut self) {
        if self.unsynced.is_empty() || self.in_flight.is_some() {
            return;
        }
        let mut names = std::mem::take(&mut self.unsynced);
        let mut seen = HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        // The diffs join the journals in memory; the journals' bytes go to be written.
        let mut versions = Vec::with_capacity(names.len());
        let mut jobs = Vec::with_capacity(names.len());
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
            if let Some(path) = e.config.journal_path() {
                jobs.push(Job { zone: name.clone(), path, bytes: e.journal.to_bytes() });
            }
            e.flushing = Some(Arc::clone(&u.snapshot));
            versions.push((name, u.snapshot, u.saved));
        }
        let jobs = match &self.flusher {
            Some(f) => match f.send(jobs) {
                Ok(()) => {
                    self.in_flight = Some(InFlight { versions });
                    return;
                }
                Err(e) => e.into_inner(),
            },
            None => jobs,
        };
        let written = write_journals(jobs);
        self.publish_durable(versions, &written);
    }

    /// The flush thread wrote a batch: publish its versions.
    pub(super) fn flushed(&mut self, written: &HashSet<Name>) {
        if let Some(batch) = self.in_flight.take() {
            self.publish_durable(batch.versions, written);
        }
        self.flush();
    }

    /// Make the versions durable (a copy where the journal cannot lead to them) and
    /// publish them; `written` are the zones whose journal is on disk.
    fn publish_durable(&mut self, versions: Vec<(Name, Arc<Snapshot>, bool)>, written: &HashSet<Name>) {
        let events = self.events.clone();
        for (name, snapshot, saved) in versions {
            let Some(e) = self.registry.zones.get_mut(&name) else {
                // A catalog member removed while its journal was written.
                self.registry.delete_removed_state(&name);
                continue;
            };
            if !saved {
                make_durable(e, &name, &snapshot, written.contains(&name), events.as_ref());
            }
            // The old version stays in the catalog's slot until the publish.
            e.flushing = None;
            e.snapshot = Some(snapshot);
            self.registry.mark_changed(&name);
            self.notify_after_publish(name);
        }
    }
}

/// Write `jobs` at once; the zones whose journal is now on disk. A failure is logged
/// and leaves that zone out.
fn write_journals(jobs: Vec<Job>) -> HashSet<Name> {
    // One journal is written here; more, on up to WRITERS threads.
    if jobs.len() <= 1 {
        return commit(stage(&jobs));
    }
    let per_thread = jobs.len().div_ceil(WRITERS);
    let staged: Vec<(&Job, std::io::Result<Staged>)> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs.chunks(per_thread).map(|chunk| s.spawn(move || stage(chunk))).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    commit(staged)
}

/// Write and fsync each job's journal under its temporary name.
fn stage(jobs: &[Job]) -> Vec<(&Job, std::io::Result<Staged>)> {
    jobs.iter().map(|j| (j, stage_bytes(&j.path, &j.bytes))).collect()
}

/// Rename the staged journals into place and sync each folder once; the zones whose
/// journal is now on disk.
fn commit(staged: Vec<(&Job, std::io::Result<Staged>)>) -> HashSet<Name> {
    let mut written = HashSet::new();
    // One journal of each folder, whose folder is synced once for all of them.
    let mut folders = HashMap::new();
    for (job, result) in staged {
        match result.and_then(Staged::commit) {
            Ok(()) => {
                written.insert(job.zone.clone());
                folders.entry(job.path.parent().map(PathBuf::from)).or_insert(&job.path);
            }
            Err(err) => tracing::warn!(zone = %job.zone, "cannot write IXFR journal {}: {err}", job.path.display()),
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
