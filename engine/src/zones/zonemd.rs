//! ZONEMD (RFC 8976) verification of a new version before it is published: a zone
//! file loaded or reloaded, or a version a transfer brought ([`verify`]).
//!
//! A zone with `zonemd_verify = false`, or without a ZONEMD at its apex, is not
//! checked. Apex ZONEMD records that cannot be used (another serial than the SOA's, an
//! unknown scheme or hash algorithm, a repeated one) are logged as a warning and the
//! version is published. A digest that does not match is returned to the caller, which
//! logs it (zone, serial, expected and computed digests), counts it
//! ([`crate::metrics::ZoneMeter::zonemd_failures`]) and keeps the version it serves.
//!
//! A secondary's copy in the state directory is not verified again when read back: it
//! was verified when it was received, before it was saved.

use crate::config::ZoneConfig;
use shoal_zonedb::audit::zonemd::{self, ZonemdError, ZonemdOutcome};
use shoal_zonedb::Snapshot;
use std::time::Instant;

/// Verify `snapshot`'s ZONEMD digest if `zone` asks for it; `origin` says where the
/// version comes from, for the log (`zone file`, `AXFR`).
pub fn verify(zone: &ZoneConfig, snapshot: &Snapshot, origin: &str) -> Result<(), ZonemdError> {
    if !zone.zonemd_verify {
        return Ok(());
    }
    let started = Instant::now();
    match zonemd::verify(snapshot)? {
        ZonemdOutcome::NotPresent => {}
        ZonemdOutcome::NoneUsable(skipped) => {
            for s in &skipped {
                tracing::warn!(zone = %zone.name, serial = snapshot.serial(), origin, "{s}; ZONEMD not verified");
            }
        }
        ZonemdOutcome::Verified { serial, hash } => {
            tracing::info!(zone = %zone.name, serial, %hash, origin, ms = started.elapsed().as_millis() as u64, "ZONEMD verified");
        }
    }
    Ok(())
}
