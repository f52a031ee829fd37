//! Loading a configured zone from its source.
//!
//! A zone that fails to load is logged with every error (zone, file, line); the
//! transfer side then keeps it in the catalog as `Failed`, so it answers SERVFAIL while
//! every other zone is served.

use crate::config::{ZoneConfig, ZoneSource, EXAMPLE_ZONE};
use shoal_zonedb::{LoadError, Snapshot};
use std::path::Path;

/// Load one zone from its source.
pub fn load(zone: &ZoneConfig) -> Result<Snapshot, Vec<LoadError>> {
    match &zone.source {
        ZoneSource::File(path) => shoal_zonedb::load_zone(&zone.name, path),
        ZoneSource::Builtin => {
            shoal_zonedb::load_zone_str(&zone.name, EXAMPLE_ZONE, Path::new("(built-in example.com.zone)"))
        }
        ZoneSource::Primaries(_) => {
            let path = zone.state_path().expect("secondary zones have a state path");
            shoal_zonedb::change::persist::load(&zone.name, &path).map_err(|e| {
                vec![LoadError {
                    zone: zone.name.to_string(),
                    file: path.clone(),
                    line: 0,
                    kind: shoal_zonedb::LoadErrorKind::Io(e.to_string()),
                }]
            })
        }
    }
}

/// Load one zone, logging every error; `None` when it failed.
pub fn load_logged(zone: &ZoneConfig) -> Option<Snapshot> {
    let started = std::time::Instant::now();
    match load(zone) {
        Ok(snap) => {
            tracing::info!(zone = %zone.name, serial = snap.serial(), records = snap.record_count(), ms = started.elapsed().as_millis() as u64, "zone loaded");
            Some(snap)
        }
        Err(errors) => {
            for e in &errors {
                tracing::error!("{e}");
            }
            tracing::error!(zone = %zone.name, errors = errors.len(), "zone not loaded; it answers SERVFAIL");
            None
        }
    }
}
