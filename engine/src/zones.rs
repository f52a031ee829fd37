//! Loading the configured zones into a [`Catalog`].
//!
//! A zone that fails to load is logged with every error (zone, file, line) and enters
//! the catalog as `Failed`, so it answers SERVFAIL while every other zone is served.

use crate::config::{Config, ZoneConfig, ZoneSource, EXAMPLE_ZONE};
use shoal_zonedb::{Catalog, LoadError, Snapshot, ZoneState};
use std::path::Path;
use std::sync::Arc;

/// Load one zone from its source.
pub fn load(zone: &ZoneConfig) -> Result<Snapshot, Vec<LoadError>> {
    match &zone.source {
        ZoneSource::File(path) => shoal_zonedb::load_zone(&zone.name, path),
        ZoneSource::Builtin => {
            shoal_zonedb::load_zone_str(&zone.name, EXAMPLE_ZONE, Path::new("(built-in example.com.zone)"))
        }
    }
}

/// Load every configured zone. Returns the catalog and the errors of failed zones.
pub fn build_catalog(config: &Config) -> (Catalog, Vec<LoadError>) {
    let mut catalog = Catalog::new();
    let mut all_errors = Vec::new();
    for z in &config.zones {
        let started = std::time::Instant::now();
        match load(z) {
            Ok(snap) => {
                tracing::info!(zone = %z.name, serial = snap.serial(), records = snap.record_count(), ms = started.elapsed().as_millis() as u64, "zone loaded");
                catalog.insert(z.name.clone(), ZoneState::Ready(Arc::new(snap)));
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!("{e}");
                }
                tracing::error!(zone = %z.name, errors = errors.len(), "zone not loaded; it answers SERVFAIL");
                catalog.insert(z.name.clone(), ZoneState::Failed);
                all_errors.extend(errors);
            }
        }
    }
    (catalog, all_errors)
}
