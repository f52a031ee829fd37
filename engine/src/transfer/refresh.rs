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

use super::client::{self, ClientError, Via, XfrKind};
use crate::config::ZoneConfig;
use crate::metrics::{RefreshStats, ZoneMeter};
use crate::zones::entry::CopyState;
use crate::zones::lifecycle::{compare, Verdict};
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
/// when a primary last confirmed it (read back by [`crate::zones::lifecycle::SecondaryState::new`]).
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

/// The result of one check. `expire` is the EDNS EXPIRE value (RFC 7314) the primary
/// sent with its SOA or its transfer: a secondary of a secondary expires no later than
/// the copy it takes from.
pub enum Outcome {
    /// A new version, validated and compiled; `saved` when the state directory's copy
    /// now holds it (a version received whole), otherwise `diffs` lead to it.
    Updated {
        primary: SocketAddr,
        snapshot: Box<Snapshot>,
        diffs: Vec<Diff>,
        built_in: Duration,
        saved: bool,
        expire: Option<u32>,
    },
    /// A primary answered with `serial` and has nothing newer.
    Current { primary: SocketAddr, serial: u32, expire: Option<u32> },
    /// No primary could be used; the reasons were logged. `seen`: the serial a
    /// primary answered before its transfer failed, if one did.
    Failed { seen: Option<u32> },
}

/// Check the primaries of `zone` once; `force_axfr` skips IXFR. `announced` is the
/// serial a NOTIFY carried: when it is newer than the held version, the first primary
/// is asked for the transfer at once, without asking for its SOA first (RFC 1996
/// §3.11 lets the NOTIFY's SOA stand for the query; an IXFR answers with the primary's
/// SOA alone when nothing is newer after all).
#[allow(clippy::too_many_arguments)]
pub fn refresh(
    cfg: &ZoneConfig,
    via: &Via,
    held: Option<Arc<Snapshot>>,
    force_axfr: bool,
    announced: Option<u32>,
    copy: &CopyState,
    meter: &ZoneMeter,
    stats: &RefreshStats,
) -> Outcome {
    stats.started.inc();
    let zone = &cfg.name;
    let held_serial = held.as_ref().map(|h| h.serial());
    let mut announced = announced.filter(|&a| compare(held_serial, a, false) == Verdict::Transfer);
    let mut seen = None;
    for &primary in cfg.primaries() {
        let mut expire = None;
        let serial = match announced.take() {
            Some(a) => a,
            None => match client::query_soa(primary, zone, via, stats) {
                Ok(answer) => {
                    expire = answer.expire;
                    answer.serial
                }
                Err(e) => {
                    tracing::warn!(%zone, %primary, "SOA query failed: {e}");
                    continue;
                }
            },
        };
        seen = Some(serial);
        match compare(held_serial, serial, force_axfr) {
            Verdict::Transfer => {}
            verdict => {
                if verdict == Verdict::PrimaryOlder {
                    tracing::warn!(%zone, %primary, held = ?held_serial, primary_serial = serial, "primary has an older serial; ignored");
                }
                mark_checked(cfg);
                return Outcome::Current { primary, serial, expire };
            }
        }
        match pull(cfg, primary, via, held.as_deref(), force_axfr, meter, &mut expire) {
            Ok(Pulled { snapshot, diffs, built_in }) => {
                // A whole zone is saved now; an IXFR result is made durable by its diffs
                // in the journal, and the copy is only marked as confirmed.
                let saved = diffs.is_empty() && save_copy(cfg, &snapshot, copy);
                if !diffs.is_empty() {
                    mark_checked(cfg);
                }
                return Outcome::Updated { primary, snapshot: Box::new(snapshot), diffs, built_in, saved, expire };
            }
            Err(PullError::Current(serial)) => {
                mark_checked(cfg);
                return Outcome::Current { primary, serial, expire };
            }
            Err(PullError::Failed(e)) => {
                meter.xfr_in.failed.inc();
                tracing::warn!(%zone, %primary, "transfer failed: {e}; previous version kept");
            }
        }
    }
    Outcome::Failed { seen }
}

enum PullError {
    /// The primary has nothing newer; its serial.
    Current(u32),
    Failed(String),
}

/// A transferred version, built.
struct Pulled {
    snapshot: Snapshot,
    diffs: Vec<Diff>,
    /// Time to build the snapshot from what was received.
    built_in: Duration,
}

/// Transfer, build and verify the new version: IXFR first when a version is held, and
/// AXFR when the IXFR cannot be used (refused, not applicable, or its result fails its
/// ZONEMD), each attempt one state of this loop. The EDNS EXPIRE value a transfer
/// carried goes to `expire`.
fn pull(
    cfg: &ZoneConfig,
    primary: SocketAddr,
    via: &Via,
    held: Option<&Snapshot>,
    force_axfr: bool,
    meter: &ZoneMeter,
    expire: &mut Option<u32>,
) -> Result<Pulled, PullError> {
    let mut ask = if force_axfr || held.is_none() { XfrKind::Axfr } else { XfrKind::Ixfr };
    let mut same_serial_ok = force_axfr;
    loop {
        let ended = attempt(cfg, primary, via, held, ask, same_serial_ok, meter, expire);
        match (next_attempt(ask, &ended), ended) {
            (Some((next, retransfer)), Attempt::FallBack { why, .. }) => {
                tracing::warn!(zone = %cfg.name, %primary, "{why}; trying {}", next.as_str());
                ask = next;
                same_serial_ok |= retransfer;
            }
            (_, Attempt::Done(pulled)) => return Ok(pulled),
            (_, Attempt::Current(serial)) => return Err(PullError::Current(serial)),
            (_, Attempt::FallBack { why, .. } | Attempt::Failed(why)) => return Err(PullError::Failed(why)),
        }
    }
}

/// The fallback's transitions: after an attempt of `ask` kind that ended as `ended`,
/// the kind to try next and whether it is a retransfer (the same serial may come
/// again), or `None` when the pull is over. An IXFR that cannot be used falls back to
/// AXFR once; an AXFR never falls back.
fn next_attempt(ask: XfrKind, ended: &Attempt) -> Option<(XfrKind, bool)> {
    match (ask, ended) {
        (XfrKind::Ixfr, Attempt::FallBack { retransfer, .. }) => Some((XfrKind::Axfr, *retransfer)),
        _ => None,
    }
}

/// How one transfer attempt ended.
enum Attempt {
    Done(Pulled),
    /// The primary has nothing newer; its serial.
    Current(u32),
    /// The IXFR cannot be used; AXFR may do. `retransfer`: the primary's version came
    /// and was refused (not applicable, or its ZONEMD failed), so the AXFR is a
    /// retransfer and may bring the same serial.
    FallBack {
        why: String,
        retransfer: bool,
    },
    Failed(String),
}

/// One transfer of `ask` kind (IXFR from `held`, or AXFR), built and verified; a
/// version of the held serial is taken only when `same_serial_ok` (a retransfer).
#[allow(clippy::too_many_arguments)]
fn attempt(
    cfg: &ZoneConfig,
    primary: SocketAddr,
    via: &Via,
    held: Option<&Snapshot>,
    ask: XfrKind,
    same_serial_ok: bool,
    meter: &ZoneMeter,
    expire: &mut Option<u32>,
) -> Attempt {
    let (zone, max_bytes) = (&cfg.name, cfg.max_transfer_bytes);
    let started = Instant::now();
    let held_soa = held.filter(|_| ask == XfrKind::Ixfr).map(soa_of);
    let origin = format!("transfer from {primary}");
    // A whole zone is compared with the held version as it streams in.
    let mut incoming = Incoming::new(zone, held, &origin);
    let t = match client::transfer(primary, zone, held_soa.as_ref(), via, &mut incoming, max_bytes) {
        Ok(t) => t,
        Err(e) if held_soa.is_some() && ixfr_fallback(&e) => {
            return Attempt::FallBack { why: format!("IXFR not usable ({e})"), retransfer: false };
        }
        Err(e) => return Attempt::Failed(e.to_string()),
    };
    *expire = t.expire.or(*expire);
    let old = held.map(Snapshot::serial);
    let received_in = started.elapsed();
    let building = Instant::now();
    let (snapshot, diffs, kind) = match t.received {
        Received::UpToDate { serial } => return Attempt::Current(serial),
        Received::Full { .. } => {
            let kind = if t.kind == XfrKind::Ixfr { XfrKind::IxfrWhole } else { XfrKind::Axfr };
            match incoming.finish() {
                Ok(applied) => (applied.snapshot, applied.diff.into_iter().collect(), kind),
                Err(e) => return Attempt::Failed(e.to_string()),
            }
        }
        Received::Incremental(diffs) => {
            let Some(h) = held else { return Attempt::Failed("incremental answer without a held version".into()) };
            match shoal_zonedb::change::apply::apply(h, &diffs) {
                Ok(s) => (s, diffs, XfrKind::Ixfr),
                Err(e) => {
                    return Attempt::FallBack { why: format!("IXFR cannot be applied ({e})"), retransfer: true };
                }
            }
        }
    };
    if let Some(o) = old {
        // A retransfer may bring the same serial; otherwise it must be newer.
        let acceptable =
            Serial(snapshot.serial()).is_newer_than(Serial(o)) || (same_serial_ok && snapshot.serial() == o);
        if !acceptable && snapshot.serial() == o {
            // The primary has our version (an AXFR after an IXFR it could not serve):
            // nothing to take, and nothing failed.
            return Attempt::Current(o);
        }
        if !acceptable {
            return Attempt::Failed(format!("transfer brought serial {}, not newer than {o}", snapshot.serial()));
        }
    }
    let built_in = building.elapsed();
    if let Err(e) = zonemd::verify(cfg, &snapshot, kind.as_str()) {
        meter.zonemd_failures.inc();
        if kind == XfrKind::Ixfr {
            // The diffs may be what is wrong: the whole zone may still verify.
            return Attempt::FallBack { why: format!("IXFR result refused: {e}"), retransfer: true };
        }
        return Attempt::Failed(format!("{} refused: {e}", kind.as_str()));
    }
    meter.xfr_in.done(kind != XfrKind::Ixfr, t.bytes, received_in);
    let from = old.map_or_else(|| "none".to_string(), |o| o.to_string());
    tracing::info!(
        %zone, peer = %primary, kind = kind.as_str(), serials = format!("{from} -> {}", snapshot.serial()),
        records = t.records, bytes = t.bytes, messages = t.messages, ms = started.elapsed().as_millis() as u64,
        "transfer in done"
    );
    let diffs =
        diffs.into_iter().filter(|d: &Diff| soa_serial(&d.old_soa.rdata) != soa_serial(&d.new_soa.rdata)).collect();
    Attempt::Done(Pulled { snapshot, diffs, built_in })
}

/// Errors after which AXFR is worth a try: the primary does not do IXFR (FORMERR,
/// NOTIMP) or its answer cannot be used. Not REFUSED: a primary that refuses an IXFR
/// (busy, or not allowing this secondary) would refuse the AXFR too, or pay more for
/// it; the check fails and is retried.
fn ixfr_fallback(e: &ClientError) -> bool {
    matches!(e, ClientError::Rcode(1 | 4) | ClientError::Xfr(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unusable_ixfr_falls_back_to_axfr_once() {
        let refused = Attempt::FallBack { why: "refused".into(), retransfer: false };
        let bad_result = Attempt::FallBack { why: "cannot apply".into(), retransfer: true };
        assert_eq!(next_attempt(XfrKind::Ixfr, &refused), Some((XfrKind::Axfr, false)));
        assert_eq!(next_attempt(XfrKind::Ixfr, &bad_result), Some((XfrKind::Axfr, true)), "a retransfer");
        assert_eq!(next_attempt(XfrKind::Axfr, &bad_result), None, "AXFR is the last resort");
        assert_eq!(next_attempt(XfrKind::Ixfr, &Attempt::Failed("timeout".into())), None);
        assert_eq!(next_attempt(XfrKind::Ixfr, &Attempt::Current(7)), None);
    }

    #[test]
    fn only_a_primary_without_ixfr_gets_an_axfr_instead() {
        assert!(ixfr_fallback(&ClientError::Rcode(4)), "NOTIMP");
        assert!(ixfr_fallback(&ClientError::Rcode(1)), "FORMERR");
        assert!(!ixfr_fallback(&ClientError::Rcode(5)), "REFUSED: retried later, not turned into an AXFR");
        assert!(!ixfr_fallback(&ClientError::Rcode(2)), "SERVFAIL");
    }
}
