//! [`ZoneStatus`]: what `shoal ctl zone-status` and the metrics page show of
//! each zone.

use crate::config::CatalogRole;
use crate::metrics::ZoneMeter;
use crate::zones::registry::Registry;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// The state of one zone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZoneStatus {
    pub zone: String,
    /// `primary` or `secondary`.
    pub role: &'static str,
    /// `served`, `expired` or `not loaded`.
    pub state: &'static str,
    pub serial: Option<u32>,
    pub records: usize,
    pub journal_diffs: usize,
    pub primaries: Vec<String>,
    /// Unix time of the last successful check of a primary.
    pub last_refresh: Option<u64>,
    /// Seconds until the next check of the primary.
    pub next_refresh_in: Option<u64>,
    /// Seconds until the zone expires without a successful check.
    pub expires_in: Option<u64>,
    pub refreshing: bool,
    pub failures: u32,
    /// The serial a primary last answered or announced (secondaries).
    pub primary_serial: Option<u32>,
    /// How far the served serial is behind it (RFC 1982 distance; negative when the
    /// primary went back).
    pub drift: Option<i64>,
    /// `consumer` or `producer` for a catalog zone (RFC 9432).
    pub catalog_role: Option<&'static str>,
    /// The members a catalog lists (producer) or owns (consumer).
    pub catalog_members: Option<usize>,
    /// Members a consumer catalog refused so far.
    pub catalog_refused: Option<u64>,
    /// The consumed catalog a member zone came from.
    pub member_of: Option<String>,
    /// Counters for the metrics endpoint.
    #[serde(skip)]
    pub meter: Arc<ZoneMeter>,
}

impl Registry {
    /// The state of every zone, sorted by name.
    pub fn status(&self) -> Vec<ZoneStatus> {
        let now = Instant::now();
        let mut v: Vec<ZoneStatus> = self
            .zones
            .values()
            .map(|e| {
                let sec = e.secondary.as_ref();
                let state = match (&e.snapshot, sec) {
                    (_, Some(s)) if s.expired => "expired",
                    (Some(_), _) => "served",
                    (None, _) => "not loaded",
                };
                ZoneStatus {
                    zone: e.config.name.to_string(),
                    role: if sec.is_some() { "secondary" } else { "primary" },
                    state,
                    serial: e.snapshot.as_ref().map(|s| s.serial()),
                    records: e.snapshot.as_ref().map_or(0, |s| s.record_count()),
                    journal_diffs: e.journal.len(),
                    primaries: e.config.primaries().iter().map(|p| p.to_string()).collect(),
                    last_refresh: sec
                        .and_then(|s| s.last_success)
                        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs()),
                    next_refresh_in: sec.map(|s| s.next_check.saturating_duration_since(now).as_secs()),
                    expires_in: sec.and_then(|s| s.expire_at).map(|t| t.saturating_duration_since(now).as_secs()),
                    refreshing: sec.is_some_and(|s| s.in_flight),
                    failures: sec.map_or(0, |s| s.failures),
                    primary_serial: sec.and_then(|s| s.primary_serial),
                    drift: sec.and_then(|s| s.primary_serial).map(|p| {
                        let served = e.snapshot.as_ref().map_or(0, |s| s.serial());
                        i64::from(p.wrapping_sub(served) as i32)
                    }),
                    catalog_role: match &e.config.catalog {
                        CatalogRole::None => None,
                        CatalogRole::Consumer => Some("consumer"),
                        CatalogRole::Producer(_) => Some("producer"),
                    },
                    catalog_members: match &e.config.catalog {
                        CatalogRole::None => None,
                        CatalogRole::Consumer => Some(self.catalogs.get(&e.config.name).map_or(0, |c| c.owned)),
                        CatalogRole::Producer(listed) => Some(listed.len()),
                    },
                    catalog_refused: (e.config.catalog == CatalogRole::Consumer)
                        .then(|| self.catalogs.get(&e.config.name).map_or(0, |c| c.refused_total)),
                    member_of: e.config.member_of.as_ref().map(|m| m.catalog.to_string()),
                    meter: Arc::clone(&e.meter),
                }
            })
            .collect();
        v.sort_by(|a, b| a.zone.cmp(&b.zone));
        v
    }
}
