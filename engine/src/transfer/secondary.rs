//! Secondary zones on the transfer thread: their timers fall due, checks start within
//! the schedule's bounds (each on its own thread, [`super::refresh`]), and each check's
//! outcome is taken: a new version kept with its diffs until [`super::flush`] makes it
//! durable and publishes it, the timers set again from the SOA by the zone's state
//! machine (refresh after success, retry after failure), expiry when no primary
//! answered in time.

use super::client;
use super::refresh::{self, Outcome};
use super::schedule::{Due, Start};
use super::{Event, Transfers};
use crate::zones::entry::Unsynced;
use crate::zones::lifecycle::{Checked, Now};
use crate::zones::timers::Timers;
use shoal_wire::Name;
use shoal_zonedb::Snapshot;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Transfers {
    /// Put a secondary zone's current check and expire times in the schedule.
    pub(super) fn schedule_timers(&mut self, name: &Name) {
        let Some(sec) = self.registry.zones.get(name).and_then(|e| e.secondary.as_ref()) else { return };
        if !sec.in_flight {
            self.schedule.at(sec.next_check, Due::Check, name);
        }
        if let Some(t) = sec.expire_at.filter(|_| !sec.expired) {
            self.schedule.at(t, Due::Expire, name);
        }
        self.registry.note_expiry(name);
    }

    /// The earliest secondary timer.
    pub(super) fn next_timer(&self) -> Instant {
        self.schedule.next().unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
    }

    /// Start due refreshes and expire zones whose primaries have been gone too long.
    /// Only what is due is looked at, never every zone.
    pub(super) fn timers(&mut self) {
        let now = Instant::now();
        while let Some((at, due, name)) = self.schedule.pop_due(now) {
            let Some(sec) = self.registry.zones.get_mut(&name).and_then(|e| e.secondary.as_mut()) else { continue };
            // Stale entries (the timer moved since) do nothing.
            match due {
                Due::Expire if sec.expire_due(at) => {
                    self.registry.mark_changed(&name);
                    tracing::error!(zone = %name, "zone expired: no primary reached within the SOA expire time; answering SERVFAIL");
                }
                // A zone with nothing to serve yet is held back by `refresh_concurrency`
                // only, not by the rate: a new secondary takes its zones as fast as it can.
                Due::Check if sec.check_due(at) => {
                    let first = self.registry.zones.get(&name).is_some_and(|e| e.snapshot.is_none());
                    self.start_refresh(&name, false, if first { Start::First } else { Start::Timer }, None)
                }
                _ => {}
            }
        }
        // Queued checks the rate held back.
        while let Some(name) = self.schedule.start_waiting(now) {
            self.spawn_refresh(name);
        }
    }

    /// Check a secondary zone's primary: at once if fewer than `refresh_concurrency`
    /// checks are running, else when its turn in the queue comes ([`Start::Urgent`], for
    /// NOTIFY and `shoal ctl`, puts it first). `announced` is the serial a NOTIFY
    /// carried.
    pub(super) fn start_refresh(&mut self, name: &Name, force_axfr: bool, start: Start, announced: Option<u32>) {
        let Some(sec) = self.registry.zones.get_mut(name).and_then(|e| e.secondary.as_mut()) else { return };
        if !sec.notify(force_axfr, announced) {
            return;
        }
        if self.schedule.try_start(name, start, Instant::now()) {
            self.spawn_refresh(name.clone());
        } else {
            tracing::debug!(zone = %name, running = self.schedule.running(), waiting = self.schedule.waiting(), "refresh queued");
        }
    }

    /// Run one refresh of a secondary zone on its own thread; its slot in the schedule
    /// is already counted. Falls through to the queue if it cannot start.
    fn spawn_refresh(&mut self, first: Name) {
        let mut next = Some(first);
        while let Some(name) = next.take() {
            let Some(events) = self.events.clone() else { return };
            let Some(e) = self.registry.zones.get_mut(&name) else {
                next = self.schedule.finished(&name, Instant::now());
                continue;
            };
            let Some(sec) = e.secondary.as_mut() else {
                next = self.schedule.finished(&name, Instant::now());
                continue;
            };
            let (force_axfr, announced) = sec.begin();
            let cfg = e.config.clone();
            let via = client::Via {
                key: cfg.transfer_key.map(|i| self.registry.config.keys[i].clone()),
                tls: cfg.transfer_tls.map(|i| self.registry.config.tls_remotes[i].client.clone()),
            };
            let held = e.newest().cloned();
            let meter = Arc::clone(&e.meter);
            let copy = Arc::clone(&e.copy);
            let stats = Arc::clone(&self.refresh_stats);
            let zone = name.clone();
            let spawned = std::thread::Builder::new().name("shoal-refresh".into()).spawn(move || {
                let outcome = refresh::refresh(&cfg, &via, held, force_axfr, announced, &copy, &meter, &stats);
                let whole = matches!(&outcome, Outcome::Updated { diffs, .. } if diffs.is_empty());
                let _ = events.send(Event::Refreshed { zone, outcome });
                if whole {
                    // What a whole transfer received and built but did not keep was
                    // freed on this thread, which is about to end. (An IXFR's leftovers
                    // are small: collecting a large heap for them would only compete
                    // with publishing the version for the CPU.)
                    shoal_io::memory::release_freed_memory();
                }
            });
            if let Err(err) = spawned {
                tracing::error!(zone = %name, "cannot start a refresh thread: {err}");
                if let Some(sec) = self.registry.zones.get_mut(&name).and_then(|e| e.secondary.as_mut()) {
                    sec.not_started(Now::real());
                }
                self.schedule_timers(&name);
                next = self.schedule.finished(&name, Instant::now());
            }
        }
    }

    /// A refresh thread reported: publish, reschedule, expire.
    pub(super) fn refreshed(&mut self, name: &Name, outcome: Outcome) {
        self.take_outcome(name, outcome);
        if let Some(next) = self.schedule.finished(name, Instant::now()) {
            self.spawn_refresh(next);
        }
    }

    /// A background write of a zone's copy finished.
    pub(super) fn saved(&mut self, name: &Name) {
        match self.registry.zones.get_mut(name) {
            Some(e) => e.saving = false,
            None => self.registry.delete_removed_state(name),
        }
    }

    fn take_outcome(&mut self, name: &Name, outcome: Outcome) {
        let Some(e) = self.registry.zones.get_mut(name) else {
            // A catalog member removed while its check ran may have saved a copy since.
            self.registry.delete_removed_state(name);
            return;
        };
        let checked = match outcome {
            Outcome::Updated { primary, snapshot, diffs, built_in, saved, expire } => {
                let serial = snapshot.serial();
                tracing::debug!(zone = %name, %primary, serial = snapshot.serial(), "new version received");
                e.meter.published(built_in);
                let snapshot: Arc<Snapshot> = Arc::from(snapshot);
                // Published once its journal is written (`flush`), with those of every
                // zone that changed meanwhile.
                let whole = diffs.is_empty();
                match &mut e.unsynced {
                    Some(u) => {
                        u.snapshot = snapshot;
                        if whole {
                            u.diffs.clear();
                        }
                        u.diffs.extend(diffs);
                        u.whole |= whole;
                        u.saved = saved;
                    }
                    None => e.unsynced = Some(Unsynced { snapshot, diffs, whole, saved }),
                }
                self.unsynced.push(name.clone());
                (Checked::Updated, Some(serial), expire)
            }
            Outcome::Current { serial, expire, .. } => (Checked::Current, Some(serial), expire),
            Outcome::Failed { seen } => {
                e.meter.refresh_failures.inc();
                (Checked::Failed, seen, None)
            }
        };
        let (checked, primary_serial, expire) = checked;
        let mut timers = e.newest().map_or(Timers::lowest(&e.config.timers), |s| Timers::of(s, &e.config.timers));
        // EDNS EXPIRE (RFC 7314): a primary that is itself a secondary says how long its
        // copy has left; ours expires no later.
        if let Some(left) = expire {
            let (lo, hi) = e.config.timers.expire;
            timers.expire = timers.expire.min(left.clamp(lo, hi));
        }
        let Some(sec) = e.secondary.as_mut() else {
            // No longer a secondary (reconfigured while the check ran).
            return;
        };
        let served_again = sec.finish(checked, primary_serial, timers, Now::real(), &mut self.rng);
        self.schedule_timers(name);
        if served_again {
            tracing::info!(zone = %name, "zone served again");
            self.registry.mark_changed(name);
            self.notify_after_publish(name.clone());
        }
    }
}
