//! Loading a configured zone from its source.
//!
//! A zone file (or the built-in zone) is compiled, then its ZONEMD digest verified
//! ([`crate::zones::zonemd`]); a secondary's copy in the state directory is read back
//! as it was saved; a producer catalog is written from the zones listed in it
//! ([`load_produced`]). A zone that fails to load is logged with every error (zone, file,
//! line; or zone, serial and digests for a ZONEMD mismatch); the transfer side then
//! keeps it in the catalog as `Failed`, so it answers SERVFAIL while every other zone
//! is served.

use crate::config::{CatalogRole, ZoneConfig, ZoneSource, EXAMPLE_ZONE};
use crate::metrics::ZoneMeter;
use crate::zones::zonemd;
use shoal_zonedb::audit::ZonemdError;
use shoal_zonedb::{LoadError, Snapshot};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the built-in example zone says it comes from.
const BUILTIN_FILE: &str = "(built-in example.com.zone)";

/// Why a configured zone was not loaded.
#[derive(Debug)]
pub enum ZoneLoadError {
    /// The source could not be read or compiled: every problem, with file and line.
    Source(Vec<LoadError>),
    /// The zone file compiled, but its ZONEMD digest does not match its content.
    Zonemd { file: PathBuf, error: ZonemdError },
}

impl ZoneLoadError {
    /// One line per problem, for the log and for `shoal check`.
    pub fn messages(&self) -> Vec<String> {
        match self {
            ZoneLoadError::Source(errors) => errors.iter().map(ToString::to_string).collect(),
            ZoneLoadError::Zonemd { .. } => vec![self.to_string()],
        }
    }

    /// Count a ZONEMD mismatch in the zone's counters.
    pub fn count(&self, meter: &ZoneMeter) {
        if matches!(self, ZoneLoadError::Zonemd { .. }) {
            meter.zonemd_failures.inc();
        }
    }
}

impl fmt::Display for ZoneLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneLoadError::Source(_) => f.write_str(&self.messages().join("\n")),
            ZoneLoadError::Zonemd { file, error } => write!(f, "{}: {error}", file.display()),
        }
    }
}

impl std::error::Error for ZoneLoadError {}

/// Load one zone from its source.
pub fn load(zone: &ZoneConfig) -> Result<Snapshot, ZoneLoadError> {
    let (snapshot, file) = match &zone.source {
        ZoneSource::File(path) => (shoal_zonedb::load_zone(&zone.name, path), path.clone()),
        ZoneSource::Builtin => {
            (shoal_zonedb::load_zone_str(&zone.name, EXAMPLE_ZONE, Path::new(BUILTIN_FILE)), BUILTIN_FILE.into())
        }
        ZoneSource::Primaries(_) => {
            let path = zone.state_path().expect("secondary zones have a state path");
            return shoal_zonedb::change::persist::load(&zone.name, &path).map_err(|e| {
                ZoneLoadError::Source(vec![LoadError {
                    zone: zone.name.to_string(),
                    file: path.clone(),
                    line: 0,
                    kind: shoal_zonedb::LoadErrorKind::Io(e.to_string()),
                }])
            });
        }
        ZoneSource::Catalog => return load_produced(zone).map_err(ZoneLoadError::Source),
    };
    let snapshot = snapshot.map_err(ZoneLoadError::Source)?;
    zonemd::verify(zone, &snapshot, "zone file").map_err(|error| ZoneLoadError::Zonemd { file, error })?;
    Ok(snapshot)
}

/// Load one zone, logging every error and counting a ZONEMD mismatch in `meter`;
/// `None` when it failed.
pub fn load_logged(zone: &ZoneConfig, meter: &ZoneMeter) -> Option<Snapshot> {
    let started = std::time::Instant::now();
    match load(zone) {
        Ok(snap) => {
            tracing::info!(zone = %zone.name, serial = snap.serial(), records = snap.record_count(), ms = started.elapsed().as_millis() as u64, "zone loaded");
            Some(snap)
        }
        Err(e) => {
            e.count(meter);
            let messages = e.messages();
            for m in &messages {
                tracing::error!("{m}");
            }
            tracing::error!(zone = %zone.name, errors = messages.len(), "zone not loaded; it answers SERVFAIL");
            None
        }
    }
}

/// A producer catalog's version: written from the zones listed in it, with the serial
/// of its last version (kept in the state directory) when nothing changed, else the
/// next serial, and kept as the new last version. Without a last version the serial is
/// the Unix time, so that a producer whose state was lost still moves forward.
pub fn load_produced(zone: &ZoneConfig) -> Result<Snapshot, Vec<LoadError>> {
    let CatalogRole::Producer(members) = &zone.catalog else { return Err(Vec::new()) };
    let path = zone.copy_path();
    let last = match shoal_zonedb::change::persist::load(&zone.name, &path) {
        Ok(s) => Some(s),
        Err(shoal_zonedb::change::persist::PersistError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(zone = %zone.name, "last version of the catalog {}: {e}; writing a new one", path.display());
            None
        }
    };
    let serial = last.as_ref().map_or_else(
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs() as u32),
        |s| s.serial(),
    );
    let mut new = crate::zones::catalog::produce(&zone.name, members, serial)?;
    if let Some(last) = &last {
        if shoal_zonedb::change::diff::diff(last, &new).is_empty() {
            return Ok(new);
        }
        new = crate::zones::catalog::produce(&zone.name, members, shoal_wire::Serial(serial).plus(1).0)?;
    }
    if let Err(e) =
        std::fs::create_dir_all(&zone.state_dir).and_then(|()| shoal_zonedb::change::persist::save(&new, &path))
    {
        // Served all the same; after a restart the serial starts from the clock.
        tracing::warn!(zone = %zone.name, "cannot keep the catalog's version in {}: {e}", path.display());
    }
    Ok(new)
}
