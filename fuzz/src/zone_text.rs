//! The `zone_text` target: arbitrary text read as the master file of `example.com.`
//! ([`shoal_zonedb::load_zone_str`]: the lexer, the directives, every type's RDATA from
//! text, then compiling the snapshot). A zone that loads is audited as `shoal check`
//! audits it (DNSSEC) and asked about its first owners, both ways
//! ([`super::answers::check`]), so that what compiling precomputed from strange records
//! is checked against the records themselves.
//!
//! Inputs that name `$INCLUDE` are skipped (they would read files of the machine
//! running the fuzzer), and so are those whose `$GENERATE` ranges make more than
//! [`MAX_GENERATED`] records (up to a million each are allowed: slow, not wrong).

use super::answers::{self, Dnssec};
use shoal_wire::name::from_ascii;
use shoal_wire::Rtype;
use shoal_zonedb::audit::DnssecWarning;
use shoal_zonedb::{Catalog, Options, Snapshot, ZoneState};
use std::path::Path;
use std::sync::Arc;

/// Records all `$GENERATE` lines of an input may make.
pub const MAX_GENERATED: u64 = 2000;

/// The time the DNSSEC audit runs at (Unix seconds).
const AUDIT_TIME: u32 = 1_767_225_600;

/// Owners of a loaded zone asked about.
const OWNERS_ASKED: usize = 8;

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if text.to_ascii_lowercase().contains("$include") || generated(&text) > MAX_GENERATED {
        return;
    }
    let apex = from_ascii("example.com.").expect("valid");
    let Ok(snapshot) = shoal_zonedb::load_zone_str(&apex, &text, Path::new("fuzz.zone")) else { return };
    let dnssec = dnssec(&snapshot);
    let owners: Vec<(Vec<u8>, Vec<Rtype>)> = snapshot
        .nodes()
        .take(OWNERS_ASKED)
        .map(|n| (n.name().to_vec(), n.rrsets().map(|r| r.key().0).take(2).collect()))
        .collect();
    let mut catalog = Catalog::new();
    catalog.insert(apex, ZoneState::Ready(Arc::new(snapshot)));
    let opts = Options::default();
    for (owner, types) in owners {
        for t in types.into_iter().chain([Rtype::A, Rtype::ANY]) {
            for dnssec_ok in [false, true] {
                answers::check(&query(&owner, t, dnssec_ok), &catalog, dnssec, &opts, |_, _, _| {});
            }
        }
        let mut below = b"\x07zz-fuzz".to_vec();
        below.extend_from_slice(&owner);
        if below.len() <= 255 {
            answers::check(&query(&below, Rtype::A, true), &catalog, dnssec, &opts, |_, _, _| {});
        }
    }
}

/// Whether `snapshot` is signed only in part: signed, with DNSSEC warnings from the
/// audit `shoal check` runs (expiring or expired signatures aside).
fn dnssec(snapshot: &Snapshot) -> Dnssec {
    let warnings = shoal_zonedb::audit::dnssec_audit(snapshot, AUDIT_TIME);
    let in_part = warnings.iter().any(|w| !matches!(w, DnssecWarning::Expiring { .. } | DnssecWarning::Expired { .. }));
    if snapshot.is_signed() && in_part {
        Dnssec::InPart
    } else {
        Dnssec::Whole
    }
}

/// A query for `name` (wire form) and `qtype` with EDNS, DO as given.
fn query(name: &[u8], qtype: Rtype, dnssec: bool) -> Vec<u8> {
    let mut q = vec![0x5a, 0x5a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    q.extend_from_slice(name);
    q.extend_from_slice(&qtype.0.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 41, 0x04, 0xd0, 0, 0, if dnssec { 0x80 } else { 0 }, 0, 0, 0]);
    q
}

/// An upper bound of the records the `$GENERATE` lines of `text` make; a range that
/// does not plainly read as `start-stop[/step]` counts as too many.
fn generated(text: &str) -> u64 {
    let mut total = 0u64;
    for line in text.to_ascii_lowercase().lines() {
        let Some(at) = line.find("$generate") else { continue };
        let range = line[at + "$generate".len()..].split_ascii_whitespace().next().unwrap_or("");
        let (span, step) = range.split_once('/').unwrap_or((range, "1"));
        let parsed = span.split_once('-').map(|(a, b)| (a.parse::<u64>(), b.parse::<u64>(), step.parse::<u64>()));
        let Some((Ok(start), Ok(stop), Ok(step))) = parsed else { return u64::MAX };
        total = total.saturating_add(stop.saturating_sub(start) / step.max(1) + 1);
    }
    total
}
