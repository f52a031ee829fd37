//! The metrics listener (`[metrics] listen`): HTTP on its own thread, served by
//! `tiny_http`, with three routes for monitoring and load balancers:
//!
//! - `GET /metrics`: the Prometheus text exposition (see [`crate::ops::exposition`]);
//! - `GET /health`: 200 while the process runs;
//! - `GET /ready`: 200 when every configured zone is loaded and not expired, else 503
//!   with the names of the zones that are not (read from the published catalog, so it
//!   answers even while the transfer side is busy); a catalog member added while the
//!   server runs counts once it is first served.
//!
//! Requests are answered one at a time; a scrape reads counters and never blocks a
//! worker.

use crate::metrics::{RefreshStats, WorkerStats};
use crate::ops::exposition::{self, Sources};
use crate::serve::Shared;
use crate::transfer::Event;
use crate::zones::ZoneSet;
use arc_swap::ArcSwap;
use shoal_zonedb::Catalog;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a scrape waits for the transfer side's zone states.
const STATUS_WAIT: Duration = Duration::from_secs(3);
/// Zones named in a 503 body at most.
const NAMED: usize = 100;

/// What the listener reads.
pub struct Context {
    pub workers: Vec<Arc<WorkerStats>>,
    pub zones: Arc<ArcSwap<ZoneSet>>,
    pub events: crossbeam_channel::Sender<Event>,
    /// The secondary side's checks, over every zone.
    pub refresh: Arc<RefreshStats>,
    pub started: Instant,
    /// Set when the server stops.
    pub shared: Arc<Shared>,
}

/// Bind `addr` and serve on a new thread until `ctx.stop` is set.
pub fn start(addr: SocketAddr, ctx: Context) -> std::io::Result<std::thread::JoinHandle<()>> {
    let server = tiny_http::Server::http(addr).map_err(|e| std::io::Error::other(format!("metrics {addr}: {e}")))?;
    std::thread::Builder::new().name("shoal-metrics".into()).spawn(move || {
        while !ctx.shared.stop.load(Ordering::Relaxed) {
            match server.recv_timeout(Duration::from_millis(250)) {
                Ok(Some(req)) => respond(req, &ctx),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!("metrics listener: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    })
}

fn respond(req: tiny_http::Request, ctx: &Context) {
    let (path, query) = req.url().split_once('?').unwrap_or((req.url(), ""));
    let (status, content_type, body) = match (req.method(), path) {
        (tiny_http::Method::Get | tiny_http::Method::Head, "/metrics") => match per_zone(query) {
            Some(per_zone) => (200, "text/plain; version=0.0.4; charset=utf-8", metrics(ctx, per_zone)),
            None => (400, "text/plain", "/metrics takes zones=yes (the default) or zones=no\n".to_string()),
        },
        (tiny_http::Method::Get | tiny_http::Method::Head, "/health") => (200, "text/plain", "ok\n".to_string()),
        (tiny_http::Method::Get | tiny_http::Method::Head, "/ready") => {
            let (ready, body) = readiness(&ctx.zones.load().catalog);
            (if ready { 200 } else { 503 }, "text/plain", body)
        }
        (tiny_http::Method::Get | tiny_http::Method::Head, _) => {
            (404, "text/plain", "not found: try /metrics, /health or /ready\n".to_string())
        }
        _ => (405, "text/plain", "only GET and HEAD\n".to_string()),
    };
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()).expect("valid header");
    let response = tiny_http::Response::from_string(body).with_status_code(status).with_header(header);
    if let Err(e) = req.respond(response) {
        tracing::debug!("metrics client went away: {e}");
    }
}

/// Whether a scrape wants the per-zone series: `zones=no` leaves them out (their size
/// grows with the number of zones, and the transfer side is asked for every zone's
/// state), for a frequent scrape of the server-wide figures. `None`: a value other than
/// yes or no.
fn per_zone(query: &str) -> Option<bool> {
    let mut per_zone = true;
    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        if k == "zones" {
            per_zone = match v {
                "yes" => true,
                "no" => false,
                _ => return None,
            };
        }
    }
    Some(per_zone)
}

fn metrics(ctx: &Context, per_zone: bool) -> String {
    let zones = if per_zone { zone_status(&ctx.events) } else { None };
    let zone_set = ctx.zones.load();
    exposition::render(&Sources {
        workers: &ctx.workers,
        zone_set: &zone_set,
        per_zone,
        zones: zones.as_deref(),
        refresh: &ctx.refresh,
        uptime_seconds: ctx.started.elapsed().as_secs(),
    })
}

fn zone_status(events: &crossbeam_channel::Sender<Event>) -> Option<Vec<crate::zones::ZoneStatus>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    events.try_send(Event::Status { reply: tx }).ok()?;
    rx.recv_timeout(STATUS_WAIT).ok()
}

/// Whether every zone is served, and the body saying so or naming those that are not.
/// A catalog member added while the server runs is not waited for until it is first
/// served: the other members of a fleet do not have it yet either.
pub fn readiness(catalog: &Catalog) -> (bool, String) {
    let mut down: Vec<String> =
        catalog.iter().filter(|(_, e)| e.snapshot().is_none() && !e.joining()).map(|(n, _)| n.to_string()).collect();
    if down.is_empty() {
        return (true, format!("ready: {} zones served\n", catalog.len()));
    }
    down.sort();
    let mut body = format!("not ready: {} of {} zones not loaded or expired:\n", down.len(), catalog.len());
    for z in down.iter().take(NAMED) {
        body.push_str(z);
        body.push('\n');
    }
    if down.len() > NAMED {
        body.push_str(&format!("... and {} more\n", down.len() - NAMED));
    }
    (false, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;
    use shoal_zonedb::ZoneState;

    #[test]
    fn zones_no_leaves_out_the_per_zone_series() {
        assert_eq!(per_zone(""), Some(true));
        assert_eq!(per_zone("zones=yes"), Some(true));
        assert_eq!(per_zone("zones=no"), Some(false));
        assert_eq!(per_zone("x=1&zones=no"), Some(false));
        assert_eq!(per_zone("zones=0"), None);
    }

    #[test]
    fn ready_names_the_zones_not_served() {
        let mut c = Catalog::new();
        assert!(readiness(&c).0, "no zones: nothing to wait for");
        c.insert(from_ascii("b.test.").unwrap(), ZoneState::Failed);
        let (ready, body) = readiness(&c);
        assert!(!ready);
        assert!(body.contains("b.test.\n"), "{body}");
        c.get(b"\x01b\x04test\x00").unwrap().set_joining(true);
        assert!(readiness(&c).0, "a zone joining is not waited for");
    }
}
