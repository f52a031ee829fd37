//! The transfer thread's loop: take events, let timers fall due, hand the new versions'
//! journals to the flush thread, follow consumed catalogs' member lists, publish what
//! is durable once for everything handled, NOTIFY after publishing, free what workers
//! let go of.

use super::schedule::{Schedule, Start};
use super::{conn, flush, notify, signed, xfr_out, Event, Transfers};
use crate::config::Config;
use crate::metrics::RefreshStats;
use crate::zones::{Registry, ZoneSet, ZoneStatus};
use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use shoal_wire::{Name, Request, Rtype};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Transfers {
    /// Load every configured zone (and its journal) and build the first zone set.
    pub fn new(config: Config) -> (Transfers, ZoneSet) {
        let registry = Registry::new(config);
        let schedule = Schedule::new(registry.config.refresh_concurrency, registry.refresh_rate());
        let mut t = Transfers {
            registry,
            active_xfrs: Arc::new(AtomicUsize::new(0)),
            events: None,
            schedule,
            notify_pending: Vec::new(),
            refresh_stats: Arc::default(),
            unsynced: Vec::new(),
            flusher: None,
            in_flight: None,
            rng: crate::zones::timers::Xorshift::from_clock(),
        };
        let names: Vec<Name> = t.registry.zones.keys().cloned().collect();
        for name in &names {
            t.schedule_timers(name);
        }
        let set = t.registry.zone_set();
        (t, set)
    }

    /// The secondary side's counters over every zone (the metrics endpoint reads them).
    pub fn refresh_stats(&self) -> Arc<RefreshStats> {
        Arc::clone(&self.refresh_stats)
    }

    /// Share the zone set the workers read, and the channel refresh threads (and the
    /// flush thread, started here) report to.
    pub fn connect(&mut self, published: Arc<ArcSwap<ZoneSet>>, events: crossbeam_channel::Sender<Event>) {
        self.registry.publish_to(published);
        match flush::start(events.clone()) {
            Ok(f) => self.flusher = Some(f),
            Err(e) => tracing::warn!("cannot start the journal flush thread ({e}); journals are written in turn"),
        }
        self.events = Some(events);
    }

    /// NOTIFY a zone's secondaries once its new version is published: a secondary that
    /// asks for the SOA at once must see the new serial.
    pub(super) fn notify_after_publish(&mut self, name: Name) {
        self.notify_pending.push(name);
    }

    /// Run until `Stop` (or the channel closes).
    pub fn run(mut self, rx: Receiver<Event>) {
        // Compiling the zones at start needed several times the memory they keep (on
        // loader threads, now gone): give it back, once the workers are serving.
        shoal_io::memory::release_freed_memory();
        loop {
            let mut wait = self.next_timer().saturating_duration_since(Instant::now()).min(Duration::from_millis(500));
            if let Some(w) = self.registry.publish_wait() {
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
            self.flush();
            if self.registry.catalogs_due() {
                self.sync_catalogs();
            }
            self.refresh_stats.running.set(self.schedule.running() as u64);
            self.refresh_stats.queued.set(self.schedule.waiting() as u64);
            if self.registry.publish_if_due() {
                for name in std::mem::take(&mut self.notify_pending) {
                    self.send_notifies(&name);
                }
            }
            self.registry.reclaim();
        }
    }

    /// Handle one event; false on `Stop`.
    fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Stop => return false,
            Event::Reload => self.reload(),
            Event::Xfr { stream, peer, query, pending, rest } => self.xfr(stream, peer, query, pending, rest),
            Event::Tls { stream, peer } => self.tls(stream, peer),
            Event::Udp { msg, peer, reply } => self.udp(&msg, peer, &reply),
            Event::Refreshed { zone, outcome } => self.refreshed(&zone, outcome),
            Event::Saved { zone } => self.saved(&zone),
            Event::Flushed { written } => self.flushed(&written),
            Event::Notified { zone, accepted, serial, peer } => self.notified(&zone, accepted, serial, peer),
            Event::Refresh { zone, force_axfr } => self.start_refresh(&zone, force_axfr, Start::Urgent, None),
            Event::SendNotify { zone } => self.send_notifies(&zone),
            Event::Plan { query, peer, transport, reply } => {
                let _ = reply.send(self.plan(&query, peer, transport));
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

    /// The state of every zone.
    pub fn status(&self) -> Vec<ZoneStatus> {
        self.registry.status()
    }

    /// Re-read the configuration and every zone file that changed, then bring the
    /// secondary timers and NOTIFYs in line with it.
    pub fn reload(&mut self) {
        let Some(done) = self.registry.reload() else { return };
        for name in &done.removed {
            self.schedule.forget(name);
        }
        for name in &done.added {
            self.schedule_timers(name);
        }
        self.schedule.set_rate(self.registry.refresh_rate());
        for name in done.notify {
            self.notify_after_publish(name);
        }
    }

    /// A consumer catalog has a new version: bring its member zones in line, and their
    /// timers with them.
    fn sync_catalogs(&mut self) {
        let changes = self.registry.sync_catalogs(false);
        for name in &changes.removed {
            self.schedule.forget(name);
        }
        for name in &changes.added {
            self.schedule_timers(name);
        }
        if !changes.added.is_empty() || !changes.removed.is_empty() {
            self.schedule.set_rate(self.registry.refresh_rate());
        }
    }

    /// A datagram a worker passed on: IXFR over UDP, or a signed query (a worker
    /// answers NOTIFY itself and sends [`Event::Notified`]).
    fn udp(&mut self, msg: &[u8], peer: SocketAddr, reply: &std::net::UdpSocket) {
        let req = Request::parse(msg).ok();
        if req.as_ref().is_some_and(|r| r.qtype == Rtype::IXFR) {
            let plan = self.plan(msg, peer, xfr_out::Transport::Udp);
            let resp = xfr_out::udp_reply(msg, peer, plan);
            if !resp.is_empty() {
                let _ = reply.send_to(&resp, peer);
            }
        } else {
            let set = self.registry.published().load_full();
            let keys = &self.registry.config.keys;
            if let Some(resp) = signed::answer_signed(msg, keys, &set.catalog, false, self.registry.config.udp_payload)
            {
                let _ = reply.send_to(&resp, peer);
            }
        }
    }

    /// NOTIFY in over TCP (RFC 1996): check the sender and the signature against the
    /// NOTIFY policy the workers use for UDP, take it as [`Transfers::notified`] does,
    /// and return the reply.
    fn notify_check(&mut self, msg: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        let set = self.registry.zone_set();
        let policy = &set.notify;
        let verdict = notify::check_in(msg, peer, &policy.keys, |apex| policy.zone(apex));
        if let Some(zone) = &verdict.zone {
            self.notified(zone, verdict.accepted, verdict.serial, peer);
        }
        verdict.response
    }

    /// A NOTIFY that was checked (by a worker, or over TCP here): count it; if accepted,
    /// check the primary now.
    fn notified(&mut self, zone: &Name, accepted: bool, serial: Option<u32>, peer: SocketAddr) {
        let Some(e) = self.registry.zones.get(zone) else { return };
        if !accepted {
            e.meter.notify_refused.inc();
            return;
        }
        e.meter.notify_received.inc();
        tracing::info!(%zone, %peer, serial, "NOTIFY received; checking the primary");
        self.start_refresh(zone, false, Start::Urgent, serial);
    }

    /// NOTIFY the zone's configured secondaries of its current serial.
    fn send_notifies(&self, name: &Name) {
        let Some(e) = self.registry.zones.get(name) else { return };
        let Some(s) = &e.snapshot else { return };
        if e.config.notify.is_empty() {
            return;
        }
        let key = self.registry.key(e.config.transfer_key).cloned();
        notify::spawn(
            name.clone(),
            shoal_zonedb::change::diff::soa_of(s),
            e.config.notify.clone(),
            key,
            Arc::clone(&e.meter),
        );
    }

    /// Decide what an AXFR/IXFR request gets.
    fn plan(&self, query: &[u8], peer: SocketAddr, transport: xfr_out::Transport) -> xfr_out::Plan {
        let registry = &self.registry;
        xfr_out::plan(query, peer, transport, &registry.config.keys, |apex| {
            registry.zones.get(apex).map(|e| xfr_out::ZoneView {
                name: &e.config.name,
                meter: &e.meter,
                snapshot: e.served(),
                journal: &e.journal,
                acl: &e.config.allow_transfer,
                key: registry.key(e.config.transfer_key),
                require_tls: e.config.require_tls,
                expires_in: e
                    .secondary
                    .as_ref()
                    .and_then(|s| s.expire_at)
                    .map(|t| u32::try_from(t.saturating_duration_since(Instant::now()).as_secs()).unwrap_or(u32::MAX)),
            })
        })
    }

    /// A connection handed over by a TCP worker (transfer, NOTIFY, signed query):
    /// served on its own thread (see [`conn`]).
    fn xfr(&mut self, stream: std::net::TcpStream, peer: SocketAddr, query: Vec<u8>, pending: Vec<u8>, rest: Vec<u8>) {
        let limit = self.registry.config.max_transfer_connections;
        if self.active_xfrs.load(Ordering::Relaxed) >= limit {
            tracing::warn!(%peer, "connection refused: {limit} transfer connections already open (max_transfer_connections)");
            conn::refuse(stream, &query, pending);
            return;
        }
        self.spawn_conn(peer, move |ctx| conn::serve(stream, peer, query, pending, rest, ctx));
    }

    /// A connection accepted on a `[tls]` address: its handshake and messages on its
    /// own thread; closed at once when the connections are all taken.
    fn tls(&mut self, stream: std::net::TcpStream, peer: SocketAddr) {
        let limit = self.registry.config.max_transfer_connections;
        let Some(tls) = self.registry.config.tls.as_ref() else { return };
        if self.active_xfrs.load(Ordering::Relaxed) >= limit {
            tracing::warn!(%peer, "TLS connection closed: {limit} transfer connections already open (max_transfer_connections)");
            return;
        }
        let config = Arc::clone(&tls.identity.config);
        let stats = Arc::clone(&self.refresh_stats);
        self.spawn_conn(peer, move |ctx| super::tls::serve(stream, peer, &config, &stats, ctx));
    }

    /// Run `serve` on a connection thread of its own, counted in the transfer
    /// connections open.
    fn spawn_conn(&mut self, peer: SocketAddr, serve: impl FnOnce(conn::Context) + Send + 'static) {
        let Some(events) = self.events.clone() else { return };
        let config = &self.registry.config;
        let ctx = conn::Context {
            events,
            keys: config.keys.clone(),
            zones: Arc::clone(self.registry.published()),
            udp_payload: config.udp_payload,
            identity: config.identity.as_ref().map(|s| s.as_bytes().to_vec()),
            version: config.version.as_ref().map(|s| s.as_bytes().to_vec()),
        };
        let active = Arc::clone(&self.active_xfrs);
        active.fetch_add(1, Ordering::Relaxed);
        let spawned = std::thread::Builder::new().name("shoal-xfr-conn".into()).spawn(move || {
            serve(ctx);
            active.fetch_sub(1, Ordering::Relaxed);
        });
        if spawned.is_err() {
            self.active_xfrs.fetch_sub(1, Ordering::Relaxed);
            tracing::error!(%peer, "cannot start a connection thread");
        }
    }
}
