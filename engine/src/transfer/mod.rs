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

pub mod client;
pub mod conn;
pub mod notify;
pub mod schedule;
pub mod secondary;
pub mod signed;
pub mod tsig;
pub mod xfr_out;

use crate::config::{Config, ZoneConfig, ZoneSource};
use crate::metrics::{RefreshStats, ZoneMeter};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use schedule::{Due, Schedule};
use shoal_wire::Name;
use shoal_zonedb::journal::Journal;
use shoal_zonedb::{Catalog, QueryCounters, Snapshot, ZoneState};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What the transfer thread is asked to do.
pub enum Event {
    /// An AXFR/IXFR request read by a TCP worker, with the connection itself.
    Xfr {
        stream: std::net::TcpStream,
        peer: SocketAddr,
        query: Vec<u8>,
        /// Responses to earlier pipelined queries not yet written.
        pending: Vec<u8>,
        /// Bytes read after `query` (further pipelined messages).
        rest: Vec<u8>,
    },
    /// A NOTIFY or a TSIG-signed query received by a UDP worker; the reply goes out
    /// through `reply`, a handle on the worker's socket.
    Udp {
        msg: Vec<u8>,
        peer: SocketAddr,
        reply: Arc<std::net::UdpSocket>,
    },
    /// A refresh thread finished.
    Refreshed {
        zone: Name,
        outcome: secondary::Outcome,
    },
    /// Check a secondary zone now (`force_axfr`: transfer the whole zone).
    Refresh {
        zone: Name,
        force_axfr: bool,
    },
    /// A connection thread asks what an AXFR/IXFR request gets.
    Plan {
        query: Vec<u8>,
        peer: SocketAddr,
        reply: crossbeam_channel::Sender<xfr_out::Plan>,
    },
    /// A connection thread received a NOTIFY over TCP; the reply to send comes back.
    NotifyTcp {
        msg: Vec<u8>,
        peer: SocketAddr,
        reply: crossbeam_channel::Sender<Option<Vec<u8>>>,
    },
    /// Send NOTIFY for a zone now.
    SendNotify {
        zone: Name,
    },
    /// Report the state of every zone.
    Status {
        reply: crossbeam_channel::Sender<Vec<ZoneStatus>>,
    },
    Reload,
    Stop,
}

/// RFC 1982: is serial `a` newer than `b`?
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

/// What `shoal ctl zone-status` shows for a zone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZoneStatus {
    pub zone: String,
    /// `primary` or `secondary`.
    pub role: &'static str,
    /// `served`, `expired` or `not loaded`.
    pub state: &'static str,
    pub serial: Option<u32>,
    pub records: usize,
    pub journal_diffs: usize,
    pub primaries: Vec<String>,
    /// Unix time of the last successful check of a primary.
    pub last_refresh: Option<u64>,
    /// Seconds until the next check of the primary.
    pub next_refresh_in: Option<u64>,
    /// Seconds until the zone expires without a successful check.
    pub expires_in: Option<u64>,
    pub refreshing: bool,
    pub failures: u32,
    /// Counters for the metrics endpoint.
    #[serde(skip)]
    pub meter: Arc<ZoneMeter>,
}

/// One zone as the transfer side knows it.
struct ZoneEntry {
    config: ZoneConfig,
    /// Query counters the workers write (handed to every catalog built for the zone).
    queries: Arc<QueryCounters>,
    /// Transfer, NOTIFY and publish counters.
    meter: Arc<ZoneMeter>,
    snapshot: Option<Arc<Snapshot>>,
    journal: Journal,
    /// Modification time and length of the zone file when it was loaded.
    stamp: Option<(SystemTime, u64)>,
    /// Timers of a secondary zone.
    secondary: Option<secondary::SecondaryState>,
}

impl ZoneEntry {
    fn new(config: &ZoneConfig, threads: usize) -> ZoneEntry {
        let stamp = file_stamp(config);
        let first_start = config.state_path().is_some_and(|p| !p.exists());
        let meter = Arc::new(ZoneMeter::default());
        let snapshot = if first_start {
            tracing::info!(zone = %config.name, "secondary zone has no copy yet; transferring it");
            None
        } else {
            let started = Instant::now();
            let s = crate::zones::load_logged(config).map(Arc::new);
            if s.is_some() {
                meter.published(started.elapsed());
            }
            s
        };
        let journal = load_journal(config, snapshot.as_deref());
        let checked =
            snapshot.as_ref().and(config.state_path()).and_then(|p| std::fs::metadata(p).ok()?.modified().ok());
        let secondary = matches!(config.source, ZoneSource::Primaries(_))
            .then(|| secondary::SecondaryState::new(snapshot.as_deref(), checked, &config.timers));
        if secondary.as_ref().is_some_and(|s| s.expired) {
            tracing::warn!(zone = %config.name, "copy in the state directory expired: no primary confirmed it within the SOA expire time; answering SERVFAIL until one does");
        }
        let queries = Arc::new(QueryCounters::new(threads));
        ZoneEntry { config: config.clone(), queries, meter, snapshot, journal, stamp, secondary }
    }

    /// What workers may answer from.
    fn state(&self) -> ZoneState {
        match (&self.snapshot, &self.secondary) {
            (_, Some(sec)) if sec.expired => ZoneState::Failed,
            (Some(s), _) => ZoneState::Ready(Arc::clone(s)),
            (None, _) => ZoneState::Failed,
        }
    }
}

/// The zone registry and everything that changes zones.
pub struct Transfers {
    config: Config,
    zones: HashMap<Name, ZoneEntry>,
    catalog: Arc<arc_swap::ArcSwap<Catalog>>,
    /// Old snapshots waiting for the workers to let go of them.
    graveyard: Vec<Arc<Snapshot>>,
    active_xfrs: Arc<AtomicUsize>,
    /// For refresh threads to report back.
    events: Option<crossbeam_channel::Sender<Event>>,
    /// Secondary timers, and the bound on refreshes running at once.
    schedule: Schedule,
    /// A zone changed since the catalog was last published.
    dirty: bool,
    last_publish: Instant,
    /// How long building the last catalog took.
    publish_cost: Duration,
    /// Zones to NOTIFY about once the catalog is published.
    notify_pending: Vec<Name>,
    /// Checks of primaries over every zone, for the metrics endpoint.
    refresh_stats: Arc<RefreshStats>,
}

/// Load every configured zone, on every core: 100,000 small zones start in seconds.
fn load_all(configs: &[ZoneConfig], threads: usize) -> HashMap<Name, ZoneEntry> {
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

fn file_stamp(z: &ZoneConfig) -> Option<(SystemTime, u64)> {
    match &z.source {
        ZoneSource::File(f) => {
            std::fs::metadata(f).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        }
        ZoneSource::Builtin | ZoneSource::Primaries(_) => None,
    }
}

impl Transfers {
    /// Load every configured zone (and its journal) and build the first catalog.
    pub fn new(mut config: Config) -> (Transfers, Catalog) {
        let zones = load_all(&config.zones, config.answering_threads());
        // Each zone keeps its own configuration; a second copy of every one is not kept.
        config.zones = Vec::new();
        let mut t = Transfers {
            schedule: Schedule::new(config.refresh_concurrency, refresh_rate(&config, &zones)),
            config,
            zones,
            catalog: Arc::new(arc_swap::ArcSwap::from_pointee(Catalog::new())),
            graveyard: Vec::new(),
            active_xfrs: Arc::new(AtomicUsize::new(0)),
            events: None,
            dirty: false,
            last_publish: Instant::now(),
            publish_cost: Duration::ZERO,
            notify_pending: Vec::new(),
            refresh_stats: Arc::default(),
        };
        let names: Vec<Name> = t.zones.keys().cloned().collect();
        for name in &names {
            t.schedule_timers(name);
        }
        let catalog = t.build_catalog();
        (t, catalog)
    }

    /// Put a secondary zone's current check and expire times in the schedule.
    fn schedule_timers(&mut self, name: &Name) {
        let Some(sec) = self.zones.get(name).and_then(|e| e.secondary.as_ref()) else { return };
        if !sec.in_flight {
            self.schedule.at(sec.next_check, Due::Check, name);
        }
        if let Some(t) = sec.expire_at.filter(|_| !sec.expired) {
            self.schedule.at(t, Due::Expire, name);
        }
    }

    /// The secondary side's counters over every zone (the metrics endpoint reads them).
    pub fn refresh_stats(&self) -> Arc<RefreshStats> {
        Arc::clone(&self.refresh_stats)
    }

    /// Share the catalog the workers read, and the channel refresh threads report to.
    pub fn connect(&mut self, catalog: Arc<arc_swap::ArcSwap<Catalog>>, events: crossbeam_channel::Sender<Event>) {
        self.catalog = catalog;
        self.events = Some(events);
    }

    fn build_catalog(&self) -> Catalog {
        let mut c = Catalog::new();
        for (name, e) in &self.zones {
            c.insert_counted(name.clone(), e.state(), Arc::clone(&e.queries));
        }
        c
    }

    /// Publish a new catalog once the events at hand are handled.
    fn publish(&mut self) {
        self.dirty = true;
    }

    /// NOTIFY a zone's secondaries once its new version is published: a secondary that
    /// asks for the SOA at once must see the new serial.
    fn notify_after_publish(&mut self, name: Name) {
        self.notify_pending.push(name);
    }

    /// How long until a pending publish may happen: building a catalog of 100,000 zones
    /// takes milliseconds, so while zones change in a stream (a secondary's first
    /// transfers) the transfer thread spends at most a fifth of its time on it.
    fn publish_wait(&self) -> Option<Duration> {
        self.dirty.then(|| (self.publish_cost * 4).saturating_sub(self.last_publish.elapsed()))
    }

    fn publish_if_due(&mut self) {
        if self.publish_wait() != Some(Duration::ZERO) {
            return;
        }
        let started = Instant::now();
        let c = self.build_catalog();
        self.catalog.store(Arc::new(c));
        self.dirty = false;
        self.last_publish = Instant::now();
        self.publish_cost = started.elapsed();
        for name in std::mem::take(&mut self.notify_pending) {
            self.send_notifies(&name);
        }
    }

    /// Run until `Stop` (or the channel closes).
    pub fn run(mut self, rx: Receiver<Event>) {
        // Compiling the zones at start needed several times the memory they keep (on
        // loader threads, now gone): give it back, once the workers are serving.
        crate::sys::release_freed_memory();
        loop {
            let mut wait = self.next_timer().saturating_duration_since(Instant::now()).min(Duration::from_millis(500));
            if let Some(w) = self.publish_wait() {
                wait = wait.min(w);
            }
            match rx.recv_timeout(wait) {
                Ok(event) => {
                    if !self.handle(event) {
                        return;
                    }
                    // Take what else is waiting (bounded) before publishing once for all of it.
                    for event in rx.try_iter().take(1024) {
                        if !self.handle(event) {
                            return;
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.timers();
            self.refresh_stats.running.set(self.schedule.running() as u64);
            self.refresh_stats.queued.set(self.schedule.waiting() as u64);
            self.publish_if_due();
            self.bury();
        }
    }

    /// Handle one event; false on `Stop`.
    fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Stop => return false,
            Event::Reload => self.reload(),
            Event::Xfr { stream, peer, query, pending, rest } => self.xfr(stream, peer, query, pending, rest),
            Event::Udp { msg, peer, reply } => self.udp(&msg, peer, &reply),
            Event::Refreshed { zone, outcome } => self.refreshed(&zone, outcome),
            Event::Refresh { zone, force_axfr } => self.start_refresh(&zone, force_axfr, true),
            Event::SendNotify { zone } => self.send_notifies(&zone),
            Event::Plan { query, peer, reply } => {
                let _ = reply.send(self.plan(&query, peer));
            }
            Event::NotifyTcp { msg, peer, reply } => {
                let _ = reply.send(self.notify_check(&msg, peer));
            }
            Event::Status { reply } => {
                let _ = reply.send(self.status());
            }
        }
        true
    }

    fn status(&self) -> Vec<ZoneStatus> {
        let now = Instant::now();
        let mut v: Vec<ZoneStatus> = self
            .zones
            .values()
            .map(|e| {
                let sec = e.secondary.as_ref();
                let state = match (&e.snapshot, sec) {
                    (_, Some(s)) if s.expired => "expired",
                    (Some(_), _) => "served",
                    (None, _) => "not loaded",
                };
                ZoneStatus {
                    zone: e.config.name.to_string(),
                    role: if sec.is_some() { "secondary" } else { "primary" },
                    state,
                    serial: e.snapshot.as_ref().map(|s| s.serial()),
                    records: e.snapshot.as_ref().map_or(0, |s| s.record_count()),
                    journal_diffs: e.journal.len(),
                    primaries: e.config.primaries().iter().map(|p| p.to_string()).collect(),
                    last_refresh: sec
                        .and_then(|s| s.last_success)
                        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs()),
                    next_refresh_in: sec.map(|s| s.next_check.saturating_duration_since(now).as_secs()),
                    expires_in: sec.and_then(|s| s.expire_at).map(|t| t.saturating_duration_since(now).as_secs()),
                    refreshing: sec.is_some_and(|s| s.in_flight),
                    failures: sec.map_or(0, |s| s.failures),
                    meter: Arc::clone(&e.meter),
                }
            })
            .collect();
        v.sort_by(|a, b| a.zone.cmp(&b.zone));
        v
    }

    /// The earliest secondary timer.
    fn next_timer(&self) -> Instant {
        self.schedule.next().unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
    }

    /// Start due refreshes and expire zones whose primaries have been gone too long.
    /// Only what is due is looked at, never every zone.
    fn timers(&mut self) {
        let now = Instant::now();
        while let Some((at, due, name)) = self.schedule.pop_due(now) {
            let Some(sec) = self.zones.get_mut(&name).and_then(|e| e.secondary.as_mut()) else { continue };
            match due {
                // Stale entries (the timer moved since) are skipped.
                Due::Expire if sec.expire_at == Some(at) && !sec.expired => {
                    sec.expired = true;
                    self.dirty = true;
                    tracing::error!(zone = %name, "zone expired: no primary reached within the SOA expire time; answering SERVFAIL");
                }
                Due::Check if sec.next_check == at && !sec.in_flight => self.start_refresh(&name, false, false),
                _ => {}
            }
        }
        // Queued checks the rate held back.
        while let Some(name) = self.schedule.start_waiting(now) {
            self.spawn_refresh(name);
        }
    }

    /// Check a secondary zone's primary: at once if fewer than `refresh_concurrency`
    /// checks are running, else when its turn in the queue comes (`urgent`, for NOTIFY
    /// and `shoal ctl`, puts it first).
    fn start_refresh(&mut self, name: &Name, force_axfr: bool, urgent: bool) {
        let Some(sec) = self.zones.get_mut(name).and_then(|e| e.secondary.as_mut()) else { return };
        sec.force_axfr |= force_axfr;
        if sec.in_flight {
            sec.again = true;
            return;
        }
        if self.schedule.try_start(name, urgent, Instant::now()) {
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
            let Some(e) = self.zones.get_mut(&name) else {
                next = self.schedule.finished(&name, Instant::now());
                continue;
            };
            let Some(sec) = e.secondary.as_mut() else {
                next = self.schedule.finished(&name, Instant::now());
                continue;
            };
            sec.in_flight = true;
            let force_axfr = std::mem::take(&mut sec.force_axfr);
            let cfg = e.config.clone();
            let key = cfg.transfer_key.map(|i| self.config.keys[i].clone());
            let held = e.snapshot.clone();
            let meter = Arc::clone(&e.meter);
            let stats = Arc::clone(&self.refresh_stats);
            let zone = name.clone();
            let spawned = std::thread::Builder::new().name("shoal-refresh".into()).spawn(move || {
                let outcome = secondary::refresh(&cfg, key.as_ref(), held, force_axfr, &meter, &stats);
                let transferred = matches!(outcome, secondary::Outcome::Updated { .. });
                let _ = events.send(Event::Refreshed { zone, outcome });
                if transferred {
                    // What the transfer received and built but did not keep was freed on
                    // this thread, which is about to end.
                    crate::sys::release_freed_memory();
                }
            });
            if let Err(err) = spawned {
                tracing::error!(zone = %name, "cannot start a refresh thread: {err}");
                if let Some(sec) = self.zones.get_mut(&name).and_then(|e| e.secondary.as_mut()) {
                    sec.in_flight = false;
                    sec.next_check = Instant::now() + Duration::from_secs(5);
                }
                self.schedule_timers(&name);
                next = self.schedule.finished(&name, Instant::now());
            }
        }
    }

    /// A refresh thread reported: publish, reschedule, expire.
    fn refreshed(&mut self, name: &Name, outcome: secondary::Outcome) {
        self.take_outcome(name, outcome);
        if let Some(next) = self.schedule.finished(name, Instant::now()) {
            self.spawn_refresh(next);
        }
    }

    fn take_outcome(&mut self, name: &Name, outcome: secondary::Outcome) {
        let Some(e) = self.zones.get_mut(name) else { return };
        let bounds = e.config.timers;
        let now = Instant::now();
        let mut changed = false;
        let success = match outcome {
            secondary::Outcome::Updated { primary, snapshot, diffs, built_in } => {
                tracing::debug!(zone = %name, %primary, serial = snapshot.serial(), "new version published");
                e.meter.published(built_in);
                if diffs.is_empty() {
                    // Transferred whole without a diff: the journal's chain ends at the
                    // version replaced, so clients of older serials get AXFR.
                    e.journal.clear();
                }
                for d in diffs {
                    e.journal.push_within(d, snapshot.record_count());
                }
                if let Some(p) = e.config.journal_path() {
                    if let Err(err) = e.journal.save(&p) {
                        tracing::warn!(zone = %name, "cannot write IXFR journal {}: {err}", p.display());
                    }
                }
                if let Some(old) = e.snapshot.replace(Arc::new(snapshot)) {
                    self.graveyard.push(old);
                }
                changed = true;
                true
            }
            secondary::Outcome::Current { .. } => true,
            secondary::Outcome::Failed => {
                e.meter.refresh_failures.inc();
                false
            }
        };
        let (refresh, retry, expire) = match &e.snapshot {
            Some(s) => secondary::timers(s, &bounds),
            None => (bounds.refresh.0, bounds.retry.0, bounds.expire.0),
        };
        let Some(sec) = e.secondary.as_mut() else { return };
        sec.in_flight = false;
        if success {
            sec.failures = 0;
            sec.last_success = Some(SystemTime::now());
            sec.expire_at = Some(now + Duration::from_secs(u64::from(expire)));
            if sec.expired {
                tracing::info!(zone = %name, "zone served again");
                sec.expired = false;
                changed = true;
            }
            sec.next_check = now + secondary::jitter(Duration::from_secs(u64::from(refresh)));
        } else {
            sec.failures += 1;
            sec.next_check = now + secondary::jitter(Duration::from_secs(u64::from(retry)));
        }
        if std::mem::take(&mut sec.again) {
            sec.next_check = now;
        }
        self.schedule_timers(name);
        if changed {
            self.publish();
            self.notify_after_publish(name.clone());
        }
    }

    /// A datagram a worker passed on: NOTIFY, or a signed query.
    fn udp(&mut self, msg: &[u8], peer: SocketAddr, reply: &std::net::UdpSocket) {
        if msg.len() >= 12 && (msg[2] >> 3) & 0x0f == 4 {
            self.notify_in(msg, peer, reply);
        } else if shoal_wire::Request::parse(msg).is_ok_and(|r| r.qtype == shoal_wire::Rtype::IXFR) {
            let plan = self.plan(msg, peer);
            let resp = xfr_out::udp_reply(msg, peer, plan);
            if !resp.is_empty() {
                let _ = reply.send_to(&resp, peer);
            }
        } else {
            let catalog = self.catalog.load_full();
            if let Some(resp) = signed::answer_signed(msg, &self.config.keys, &catalog, false, self.config.udp_payload)
            {
                let _ = reply.send_to(&resp, peer);
            }
        }
    }

    /// NOTIFY in (RFC 1996): check the sender and the signature, answer, and check the
    /// zone's primary now.
    fn notify_in(&mut self, msg: &[u8], peer: SocketAddr, reply: &std::net::UdpSocket) {
        if let Some(resp) = self.notify_check(msg, peer) {
            let _ = reply.send_to(&resp, peer);
        }
    }

    /// Check a NOTIFY, start the refresh it asks for, and return the reply.
    fn notify_check(&mut self, msg: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        let verdict = notify::check_in(msg, peer, &self.config.keys, |apex| {
            self.zones
                .get(apex)
                .filter(|e| e.secondary.is_some())
                .map(|e| (&e.config.allow_notify, e.config.transfer_key.map(|i| &self.config.keys[i])))
        });
        let meter =
            shoal_wire::Request::parse(msg).ok().and_then(|r| self.zones.get(r.qname.as_wire())).map(|e| &e.meter);
        if let Some(m) = meter {
            if verdict.refresh.is_some() {
                m.notify_received.inc();
            } else {
                m.notify_refused.inc();
            }
        }
        if let Some(zone) = verdict.refresh {
            tracing::info!(%zone, %peer, "NOTIFY received; checking the primary");
            self.start_refresh(&zone, false, true);
        }
        verdict.response
    }

    /// Drop old snapshots that no worker holds any more.
    fn bury(&mut self) {
        let before = self.graveyard.len();
        self.graveyard.retain(|s| Arc::strong_count(s) > 1);
        if self.graveyard.len() < before {
            crate::sys::release_freed_memory();
        }
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
        let mut added = Vec::new();
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
                    self.graveyard.extend(other.and_then(|o| o.snapshot));
                    let e = ZoneEntry::new(z, self.config.answering_threads());
                    tracing::info!(zone = %z.name, "reload: zone {}", if replaced { "reconfigured" } else { "added" });
                    if e.snapshot.is_some() && e.secondary.is_none() {
                        notify.push(z.name.clone());
                    }
                    added.push(z.name.clone());
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
            let changed = source_changed || stamp != entry.stamp || entry.snapshot.is_none();
            if changed && self.reload_zone(&mut entry, stamp) {
                notify.push(z.name.clone());
            }
            zones.insert(z.name.clone(), entry);
        }
        for (name, old) in self.zones.drain() {
            tracing::info!(zone = %name, "reload: zone removed");
            self.schedule.forget(&name);
            self.graveyard.extend(old.snapshot);
        }
        self.zones = zones;
        for name in added {
            self.schedule_timers(&name);
        }
        self.schedule.set_rate(refresh_rate(&config, &self.zones));
        let mut config = config;
        config.zones = Vec::new();
        self.config = config;
        self.publish();
        for name in notify {
            self.notify_after_publish(name);
        }
        tracing::info!(zones = self.zones.len(), "reload done");
    }

    /// Load a changed zone file; returns whether a new version was published.
    fn reload_zone(&mut self, entry: &mut ZoneEntry, stamp: Option<(SystemTime, u64)>) -> bool {
        let z = &entry.config;
        let started = Instant::now();
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
            entry.meter.published(started.elapsed());
            return true;
        };
        let mut new = new;
        let mut d = shoal_zonedb::diff::diff(&old, &new);
        if new.serial() == old.serial() {
            if d.is_empty() {
                return false;
            }
            if !z.bump_serial {
                tracing::warn!(zone = %z.name, serial = new.serial(), "reload: zone file changed but its serial did not; not published (increase the serial, or set bump_serial)");
                return false;
            }
            match shoal_zonedb::apply::with_serial(&new, old.serial().wrapping_add(1)) {
                Ok(bumped) => {
                    tracing::info!(zone = %z.name, serial = bumped.serial(), "reload: content changed, serial bumped (bump_serial)");
                    new = bumped;
                    d = shoal_zonedb::diff::diff(&old, &new);
                }
                Err(e) => {
                    tracing::error!(zone = %z.name, "reload: cannot bump the serial: {e}");
                    return false;
                }
            }
        }
        if !serial_gt(new.serial(), old.serial()) {
            tracing::warn!(zone = %z.name, old = old.serial(), new = new.serial(), "reload: serial went backwards; not published");
            return false;
        }
        tracing::info!(zone = %z.name, old = old.serial(), new = new.serial(), removed = d.removed.len(), added = d.added.len(), "reload: new version");
        let new = shoal_zonedb::apply::shared_with(&old, new, &d);
        entry.journal.push_within(d, new.record_count());
        if let Some(p) = z.journal_path() {
            if let Err(e) = entry.journal.save(&p) {
                tracing::warn!(zone = %z.name, "cannot write IXFR journal {}: {e}", p.display());
            }
        }
        self.graveyard.push(old);
        entry.snapshot = Some(Arc::new(new));
        entry.meter.published(started.elapsed());
        true
    }

    fn send_notifies(&self, name: &Name) {
        let Some(e) = self.zones.get(name) else { return };
        let Some(s) = &e.snapshot else { return };
        if e.config.notify.is_empty() {
            return;
        }
        let key = e.config.transfer_key.map(|i| self.config.keys[i].clone());
        notify::spawn(name.clone(), shoal_zonedb::diff::soa_of(s), e.config.notify.clone(), key, Arc::clone(&e.meter));
    }

    /// Decide what an AXFR/IXFR request gets.
    fn plan(&self, query: &[u8], peer: SocketAddr) -> xfr_out::Plan {
        xfr_out::plan(query, peer, &self.config.keys, |apex| {
            self.zones.get(apex).map(|e| xfr_out::ZoneView {
                name: &e.config.name,
                meter: &e.meter,
                snapshot: e.snapshot.as_ref().filter(|_| !e.secondary.as_ref().is_some_and(|s| s.expired)),
                journal: &e.journal,
                acl: &e.config.allow_transfer,
                key: e.config.transfer_key.map(|i| &self.config.keys[i]),
            })
        })
    }

    /// A connection handed over by a TCP worker (transfer, NOTIFY, signed query):
    /// served on its own thread (see [`conn`]).
    fn xfr(&mut self, stream: std::net::TcpStream, peer: SocketAddr, query: Vec<u8>, pending: Vec<u8>, rest: Vec<u8>) {
        let active = Arc::clone(&self.active_xfrs);
        if active.load(Ordering::Relaxed) >= conn::MAX_CONNECTIONS {
            tracing::warn!(%peer, "connection refused: {} transfer connections already open", conn::MAX_CONNECTIONS);
            conn::refuse(stream, &query, pending);
            return;
        }
        let Some(events) = self.events.clone() else { return };
        let ctx = conn::Context {
            events,
            keys: self.config.keys.clone(),
            catalog: Arc::clone(&self.catalog),
            udp_payload: self.config.udp_payload,
            identity: self.config.identity.as_ref().map(|s| s.as_bytes().to_vec()),
            version: self.config.version.as_ref().map(|s| s.as_bytes().to_vec()),
        };
        active.fetch_add(1, Ordering::Relaxed);
        let spawned = std::thread::Builder::new().name("shoal-xfr-conn".into()).spawn(move || {
            conn::serve(stream, peer, query, pending, rest, ctx);
            active.fetch_sub(1, Ordering::Relaxed);
        });
        if spawned.is_err() {
            self.active_xfrs.fetch_sub(1, Ordering::Relaxed);
            tracing::error!(%peer, "cannot start a connection thread");
        }
    }
}

fn same_source(a: &ZoneSource, b: &ZoneSource) -> bool {
    match (a, b) {
        (ZoneSource::File(x), ZoneSource::File(y)) => x == y,
        (ZoneSource::Builtin, ZoneSource::Builtin) => true,
        (ZoneSource::Primaries(x), ZoneSource::Primaries(y)) => x == y,
        _ => false,
    }
}

/// Secondary checks started per second for these zones (see [`Config::refresh_rate_for`]).
fn refresh_rate(config: &Config, zones: &HashMap<Name, ZoneEntry>) -> u32 {
    config.refresh_rate_for(zones.values().filter(|e| e.secondary.is_some()).count())
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
        // Saved empty (the last version came whole): nothing to say.
        Ok(j) if j.is_empty() => empty,
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
