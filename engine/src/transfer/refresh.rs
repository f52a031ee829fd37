//! One check of a secondary zone's primaries (RFC 1034 §4.3.5, RFC 1995, RFC 5936).
//!
//! [`refresh`] is one check,
//! run on its own short-lived thread so that a large transfer never delays the
//! transfer thread (NOTIFY answers, outbound transfers) or a worker: it asks each
//! primary in order for its SOA, compares serials with RFC 1982 arithmetic, pulls IXFR
//! from the held version (AXFR when nothing is held, or when the primary refuses IXFR
//! or its incremental answer cannot be applied), builds the new snapshot completely,
//! verifies its ZONEMD digest ([`crate::zones::zonemd`]; an IXFR result that fails is
//! retried by AXFR), and reports back. A version received whole is saved to the state
//! directory first; an IXFR result is not: its diffs go to the zone's journal, which
//! the transfer thread writes before publishing (journal first, the copy rewritten in
//! the background: [`crate::transfer::secondary`]). Nothing is published until
//! everything has been validated.

use super::client::{self, ClientError};
use crate::access::tsig::Key;
use crate::config::ZoneConfig;
use crate::metrics::{RefreshStats, ZoneMeter};
use crate::zones::entry::CopyState;
use crate::zones::zonemd;
use shoal_wire::Serial;
use shoal_zonedb::change::diff::{soa_of, soa_serial, Diff};
use shoal_zonedb::change::incoming::Incoming;
use shoal_zonedb::change::xfr_in::Received;
use shoal_zonedb::Snapshot;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Record a successful check in the state directory: the copy's modification time is
/// when a primary last confirmed it (read back by [`crate::zones::timers::SecondaryState::new`]).
fn mark_checked(cfg: &ZoneConfig) {
    let Some(p) = cfg.state_path() else { return };
    let touched =
        std::fs::File::options().write(true).open(&p).and_then(|f| f.set_modified(std::time::SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!(zone = %cfg.name, "cannot mark the copy {} as checked: {e}", p.display());
    }
}

/// Write `snapshot` as the zone's copy in the state directory, unless the copy there is
/// newer. The writers of one zone (a refresh thread, a background save) take turns
/// through `copy`; the transfer thread only ever reads the serial. Whether the copy
/// holds `snapshot` now; a failure is logged.
pub fn save_copy(cfg: &ZoneConfig, snapshot: &Snapshot, copy: &CopyState) -> bool {
    let Some(p) = cfg.state_path() else { return false };
    let _turn = copy.writing.lock().unwrap_or_else(|e| e.into_inner());
    if copy.serial().is_some_and(|c| Serial(c).is_newer_than(Serial(snapshot.serial()))) {
        return false;
    }
    match std::fs::create_dir_all(&cfg.state_dir).and_then(|_| shoal_zonedb::change::persist::save(snapshot, &p)) {
        Ok(()) => {
            *copy.serial.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.serial());
            true
        }
        Err(e) => {
            tracing::warn!(zone = %cfg.name, "cannot save zone copy {}: {e}", p.display());
            false
        }
    }
}

/// The result of one check.
pub enum Outcome {
    /// A new version, validated and compiled; `saved` when the state directory's copy
    /// now holds it (a version received whole), otherwise `diffs` lead to it.
    Updated { primary: SocketAddr, snapshot: Box<Snapshot>, diffs: Vec<Diff>, built_in: Duration, saved: bool },
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
    copy: &CopyState,
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
            if !force_axfr && !Serial(serial).is_newer_than(Serial(h.serial())) {
                if serial != h.serial() {
                    tracing::warn!(%zone, %primary, held = h.serial(), primary_serial = serial, "primary has an older serial; ignored");
                }
                mark_checked(cfg);
                return Outcome::Current { primary };
            }
        }
        match pull(cfg, primary, key, held.as_deref(), force_axfr, meter) {
            Ok(Pulled { snapshot, diffs, built_in }) => {
                // A whole zone is saved now; an IXFR result is made durable by its diffs
                // in the journal, and the copy is only marked as confirmed.
                let saved = diffs.is_empty() && save_copy(cfg, &snapshot, copy);
                if !diffs.is_empty() {
                    mark_checked(cfg);
                }
                return Outcome::Updated { primary, snapshot: Box::new(snapshot), diffs, built_in, saved };
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

/// Transfer, build and verify the new version; IXFR first when a version is held.
fn pull(
    cfg: &ZoneConfig,
    primary: SocketAddr,
    key: Option<&Key>,
    held: Option<&Snapshot>,
    force_axfr: bool,
    meter: &ZoneMeter,
) -> Result<Pulled, PullError> {
    let (zone, max_bytes) = (&cfg.name, cfg.max_transfer_bytes);
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
            match shoal_zonedb::change::apply::apply(h, &diffs) {
                Ok(s) => (s, diffs, "IXFR"),
                Err(e) => {
                    tracing::warn!(%zone, %primary, "IXFR cannot be applied ({e}); trying AXFR");
                    return pull(cfg, primary, key, held, true, meter);
                }
            }
        }
    };
    if let Some(o) = old {
        // A forced retransfer may bring the same serial; otherwise it must be newer.
        let acceptable = Serial(snapshot.serial()).is_newer_than(Serial(o)) || (force_axfr && snapshot.serial() == o);
        if !acceptable {
            return Err(PullError::Failed(format!(
                "transfer brought serial {}, not newer than {o}",
                snapshot.serial()
            )));
        }
    }
    let built_in = building.elapsed();
    if let Err(e) = zonemd::verify(cfg, &snapshot, kind) {
        meter.zonemd_failures.inc();
        if kind == "IXFR" {
            // The diffs may be what is wrong: the whole zone may still verify.
            tracing::warn!(%zone, %primary, "IXFR result refused: {e}; trying AXFR");
            return pull(cfg, primary, key, held, true, meter);
        }
        return Err(PullError::Failed(format!("{kind} refused: {e}")));
    }
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
