//! Secondary zones: the refresh cycle (RFC 1034 §4.3.5, RFC 1996, RFC 1995).
//!
//! [`SecondaryState`] holds a zone's timers: when to check the primary's SOA next, and
//! when the zone expires if no primary can be reached. [`refresh`] is one check,
//! run on its own short-lived thread so that a large transfer never delays the
//! transfer thread (NOTIFY answers, outbound transfers) or a worker: it asks each
//! primary in order for its SOA, compares serials with RFC 1982 arithmetic, pulls IXFR
//! from the held version (AXFR when nothing is held, or when the primary refuses IXFR
//! or its incremental answer cannot be applied), builds the new snapshot completely,
//! and saves it to the state directory before reporting back. Nothing is published
//! until everything has been validated.

use super::client::{self, ClientError};
use super::serial_gt;
use super::tsig::Key;
use crate::config::{TimerBounds, ZoneConfig};
use crate::metrics::{RefreshStats, ZoneMeter};
use shoal_wire::Name;
use shoal_zonedb::diff::{soa_of, soa_serial, Diff};
use shoal_zonedb::incoming::Incoming;
use shoal_zonedb::xfr_in::Received;
use shoal_zonedb::Snapshot;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timers and flags of one secondary zone.
#[derive(Debug)]
pub struct SecondaryState {
    pub next_check: Instant,
    pub in_flight: bool,
    /// A NOTIFY arrived during a check: check again when it ends.
    pub again: bool,
    /// The next check transfers the whole zone (asked while one was running or queued).
    pub force_axfr: bool,
    pub last_success: Option<std::time::SystemTime>,
    /// When the zone stops being served if no primary answers before.
    pub expire_at: Option<Instant>,
    pub expired: bool,
    pub failures: u32,
}

impl SecondaryState {
    /// The timers of a zone at start-up. `held` is the copy from the state directory and
    /// `checked` the last time a primary confirmed it (the copy's modification time, which
    /// every successful check renews, as Knot keeps timers in its timer database and NSD
    /// in xfrd.state): the next check is due a refresh time after it, and the zone expires
    /// an expire time after it (at once, and unserved, if that has passed). A zone
    /// without a copy, or whose copy's time cannot be read, is checked at once.
    pub fn new(held: Option<&Snapshot>, checked: Option<std::time::SystemTime>, bounds: &TimerBounds) -> Self {
        let now = Instant::now();
        let mut state = SecondaryState {
            next_check: now,
            in_flight: false,
            again: false,
            force_axfr: false,
            last_success: None,
            expire_at: None,
            expired: false,
            failures: 0,
        };
        let Some(held) = held else { return state };
        let (refresh, _, expire) = timers(held, bounds);
        let Some(checked) = checked else {
            // No record of the last check: check at once, expire counted from now.
            state.expire_at = Some(now + secs(expire));
            return state;
        };
        // A time in the future (the clock went back) counts as just checked.
        let age = std::time::SystemTime::now().duration_since(checked).unwrap_or(Duration::ZERO);
        state.last_success = Some(checked);
        state.expire_at = Some(now + secs(expire).saturating_sub(age));
        state.expired = age >= secs(expire);
        if age < secs(refresh) && !state.expired {
            state.next_check = now + jitter(secs(refresh) - age);
        }
        state
    }
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// The SOA's refresh, retry and expire, clamped to `bounds`. Without a held zone, the
/// lower bounds.
pub fn timers(s: &Snapshot, bounds: &TimerBounds) -> (u32, u32, u32) {
    let soa = soa_of(s);
    let f = &soa.rdata[soa.rdata.len() - 20..];
    let field = |i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
    let clamp = |v: u32, (lo, hi): (u32, u32)| v.clamp(lo, hi);
    (clamp(field(4), bounds.refresh), clamp(field(8), bounds.retry), clamp(field(12), bounds.expire))
}

/// Between three quarters of `d` and all of it, at random, as BIND times its refresh
/// and retry: a check never comes later than the SOA asks, and the checks of many
/// zones (or of a fleet's members) that fell due together spread over a quarter of
/// the interval at every round instead of staying in step.
pub fn jitter(d: Duration) -> Duration {
    d - d.mul_f64(random_fraction() / 4.0)
}

/// A number in [0, 1) from a per-thread xorshift generator seeded by the clock.
fn random_fraction() -> f64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |t| t.as_nanos() as u64) | 1,
        );
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// Record a successful check in the state directory: the copy's modification time is
/// when a primary last confirmed it (read back by [`SecondaryState::new`]).
fn mark_checked(cfg: &ZoneConfig) {
    let Some(p) = cfg.state_path() else { return };
    let touched =
        std::fs::File::options().write(true).open(&p).and_then(|f| f.set_modified(std::time::SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!(zone = %cfg.name, "cannot mark the copy {} as checked: {e}", p.display());
    }
}

/// The result of one check.
pub enum Outcome {
    /// A new version, validated, compiled and saved.
    Updated { primary: SocketAddr, snapshot: Snapshot, diffs: Vec<Diff>, built_in: Duration },
    /// A primary answered and has nothing newer.
    Current { primary: SocketAddr },
    /// No primary could be used; the reasons were logged.
    Failed,
}

/// Check the primaries of `zone` once; `force_axfr` skips IXFR.
pub fn refresh(
    cfg: &ZoneConfig,
    key: Option<&Key>,
    held: Option<Arc<Snapshot>>,
    force_axfr: bool,
    meter: &ZoneMeter,
    stats: &RefreshStats,
) -> Outcome {
    stats.started.inc();
    let zone = &cfg.name;
    for &primary in cfg.primaries() {
        let serial = match client::query_soa(primary, zone, key, stats) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%zone, %primary, "SOA query failed: {e}");
                continue;
            }
        };
        if let Some(h) = &held {
            if !force_axfr && !serial_gt(serial, h.serial()) {
                if serial != h.serial() {
                    tracing::warn!(%zone, %primary, held = h.serial(), primary_serial = serial, "primary has an older serial; ignored");
                }
                mark_checked(cfg);
                return Outcome::Current { primary };
            }
        }
        match pull(zone, primary, key, held.as_deref(), force_axfr, meter, cfg.max_transfer_bytes) {
            Ok(Pulled { snapshot, diffs, built_in }) => {
                if let Some(p) = cfg.state_path() {
                    if let Err(e) =
                        std::fs::create_dir_all(&cfg.state_dir).and_then(|_| shoal_zonedb::persist::save(&snapshot, &p))
                    {
                        tracing::warn!(%zone, "cannot save zone copy {}: {e}", p.display());
                    }
                }
                return Outcome::Updated { primary, snapshot, diffs, built_in };
            }
            Err(PullError::Current) => {
                mark_checked(cfg);
                return Outcome::Current { primary };
            }
            Err(PullError::Failed(e)) => {
                meter.xfr_in.failed.inc();
                tracing::warn!(%zone, %primary, "transfer failed: {e}; previous version kept");
            }
        }
    }
    Outcome::Failed
}

enum PullError {
    Current,
    Failed(String),
}

/// A transferred version, built.
struct Pulled {
    snapshot: Snapshot,
    diffs: Vec<Diff>,
    /// Time to build the snapshot from what was received.
    built_in: Duration,
}

/// Transfer and build the new version; IXFR first when a version is held.
fn pull(
    zone: &Name,
    primary: SocketAddr,
    key: Option<&Key>,
    held: Option<&Snapshot>,
    force_axfr: bool,
    meter: &ZoneMeter,
    max_bytes: u64,
) -> Result<Pulled, PullError> {
    let started = Instant::now();
    let held_soa = held.filter(|_| !force_axfr).map(soa_of);
    let origin = format!("transfer from {primary}");
    // A whole zone is compared with the held version as it streams in (a new receiver
    // for each attempt: a failed one may have fed it part of a zone).
    let mut incoming = Incoming::new(zone, held, &origin);
    let t = match client::transfer(primary, zone, held_soa.as_ref(), key, &mut incoming, max_bytes) {
        Ok(t) => t,
        Err(e) if held_soa.is_some() && ixfr_fallback(&e) => {
            tracing::info!(%zone, %primary, "IXFR not usable ({e}); trying AXFR");
            incoming = Incoming::new(zone, held, &origin);
            client::transfer(primary, zone, None, key, &mut incoming, max_bytes)
                .map_err(|e| PullError::Failed(e.to_string()))?
        }
        Err(e) => return Err(PullError::Failed(e.to_string())),
    };
    let old = held.map(Snapshot::serial);
    let received_in = started.elapsed();
    let building = Instant::now();
    let (snapshot, diffs, kind) = match t.received {
        Received::UpToDate { .. } => return Err(PullError::Current),
        Received::Full { .. } => {
            let kind = if t.kind == "IXFR" { "IXFR (full zone)" } else { "AXFR" };
            let applied = incoming.finish().map_err(|e| PullError::Failed(e.to_string()))?;
            (applied.snapshot, applied.diff.into_iter().collect(), kind)
        }
        Received::Incremental(diffs) => {
            let h = held.ok_or_else(|| PullError::Failed("incremental answer without a held version".into()))?;
            match shoal_zonedb::apply::apply(h, &diffs) {
                Ok(s) => (s, diffs, "IXFR"),
                Err(e) => {
                    tracing::warn!(%zone, %primary, "IXFR cannot be applied ({e}); trying AXFR");
                    return pull(zone, primary, key, held, true, meter, max_bytes);
                }
            }
        }
    };
    if let Some(o) = old {
        // A forced retransfer may bring the same serial; otherwise it must be newer.
        let acceptable = serial_gt(snapshot.serial(), o) || (force_axfr && snapshot.serial() == o);
        if !acceptable {
            return Err(PullError::Failed(format!(
                "transfer brought serial {}, not newer than {o}",
                snapshot.serial()
            )));
        }
    }
    let built_in = building.elapsed();
    meter.xfr_in.done(kind != "IXFR", t.bytes, received_in);
    let from = old.map_or_else(|| "none".to_string(), |o| o.to_string());
    tracing::info!(
        %zone, peer = %primary, kind, serials = format!("{from} -> {}", snapshot.serial()),
        records = t.records, bytes = t.bytes, messages = t.messages, ms = started.elapsed().as_millis() as u64,
        "transfer in done"
    );
    let diffs =
        diffs.into_iter().filter(|d: &Diff| soa_serial(&d.old_soa.rdata) != soa_serial(&d.new_soa.rdata)).collect();
    Ok(Pulled { snapshot, diffs, built_in })
}

/// Errors after which AXFR is worth a try.
fn ixfr_fallback(e: &ClientError) -> bool {
    matches!(e, ClientError::Rcode(1 | 4 | 5) | ClientError::Xfr(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn zone() -> Snapshot {
        let apex = shoal_wire::name::from_ascii("example.com.").unwrap();
        // refresh 600, retry 60, expire 3600
        let text = "@ 60 SOA ns hm 1 600 60 3600 60\n@ 60 NS ns\nns 60 A 192.0.2.1\n";
        shoal_zonedb::load_zone_str(&apex, text, std::path::Path::new("t")).unwrap()
    }

    const BOUNDS: TimerBounds = TimerBounds { refresh: (1, 100_000), retry: (1, 100_000), expire: (1, 100_000) };

    #[test]
    fn jitter_spreads_over_the_last_quarter_and_is_never_late() {
        let d = Duration::from_secs(600);
        let draws: Vec<Duration> = (0..1000).map(|_| jitter(d)).collect();
        assert!(draws.iter().all(|&j| j <= d && j >= d * 3 / 4), "{draws:?}");
        // 1,000 uniform draws all missing either 5% end of the range: odds of 2 * 0.95^1000.
        assert!(draws.iter().any(|&j| j < d * 3 / 4 + d / 20));
        assert!(draws.iter().any(|&j| j > d - d / 20));
    }

    #[test]
    fn timers_resume_from_the_last_check() {
        let z = zone();
        let now = Instant::now();
        // Checked a minute ago: next check at most 540 s on (less up to a quarter), expiry 3540 s on.
        let s = SecondaryState::new(Some(&z), Some(SystemTime::now() - Duration::from_secs(60)), &BOUNDS);
        assert!(!s.expired);
        let next = s.next_check.duration_since(now).as_secs();
        assert!((400..=540).contains(&next), "next check in {next} s");
        let expire = s.expire_at.unwrap().duration_since(now).as_secs();
        assert!((3530..=3541).contains(&expire), "expires in {expire} s");
        // Past expire: unserved, checked at once.
        let old = SecondaryState::new(Some(&z), Some(SystemTime::now() - Duration::from_secs(7200)), &BOUNDS);
        assert!(old.expired && old.next_check <= Instant::now());
    }

    #[test]
    fn an_unknown_or_future_check_time_does_not_expire_the_copy() {
        let z = zone();
        let unknown = SecondaryState::new(Some(&z), None, &BOUNDS);
        assert!(!unknown.expired && unknown.next_check <= Instant::now());
        assert!(unknown.expire_at.unwrap() > Instant::now() + Duration::from_secs(3500));
        let future = SecondaryState::new(Some(&z), Some(SystemTime::now() + Duration::from_secs(86_400)), &BOUNDS);
        assert!(!future.expired);
        assert!(future.next_check > Instant::now() + Duration::from_secs(440), "counted as just checked");
        let none = SecondaryState::new(None, None, &BOUNDS);
        assert!(!none.expired && none.expire_at.is_none());
    }
}
