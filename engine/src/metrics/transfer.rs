//! Transfer-side counters: per zone ([`ZoneMeter`]: transfers in and out, NOTIFY,
//! publishes, ZONEMD failures) and over every secondary zone ([`RefreshStats`]).

use super::counter::Total;

/// One direction of zone transfers.
#[derive(Default, Debug)]
pub struct XfrMeter {
    pub axfr: Total,
    pub ixfr: Total,
    pub failed: Total,
    pub bytes: Total,
    pub micros: Total,
}

impl XfrMeter {
    /// Count one finished transfer.
    pub fn done(&self, full: bool, bytes: usize, took: std::time::Duration) {
        if full {
            self.axfr.inc();
        } else {
            self.ixfr.inc();
        }
        self.bytes.add(bytes as u64);
        self.micros.add(took.as_micros() as u64);
    }
}

/// A zone's transfer-side counters, kept across its versions and across reloads.
#[derive(Default, Debug)]
pub struct ZoneMeter {
    pub xfr_in: XfrMeter,
    pub xfr_out: XfrMeter,
    /// Transfer requests refused (ACL, TSIG, not loaded).
    pub xfr_out_refused: Total,
    pub notify_sent: Total,
    /// NOTIFYs that no target acknowledged after every retry.
    pub notify_failed: Total,
    pub notify_received: Total,
    pub notify_refused: Total,
    /// Refresh checks in which no primary could be used.
    pub refresh_failures: Total,
    /// Versions refused because their ZONEMD digest did not match their content.
    pub zonemd_failures: Total,
    /// New versions published to the workers.
    pub publishes: Total,
    /// Time to build the last published version (compile or apply), and the sum.
    pub last_apply_micros: Total,
    pub apply_micros: Total,
}

impl ZoneMeter {
    /// Count one published version that took `took` to build.
    pub fn published(&self, took: std::time::Duration) {
        let us = took.as_micros() as u64;
        self.publishes.inc();
        self.last_apply_micros.set(us);
        self.apply_micros.add(us);
    }
}

/// The secondary side's checks of its primaries, over every zone: cheap to scrape on an
/// instance of 100,000 zones (no per-zone series), and the figures that show whether
/// refreshes keep up (queued) and whether primaries answer (unanswered tries); and, for
/// the primary side, the XoT connections accepted and those whose handshake failed.
#[derive(Default, Debug)]
pub struct RefreshStats {
    /// Checks started (each begins with an SOA query).
    pub started: Total,
    /// SOA query datagrams sent to primaries, every try counted.
    pub soa_sent: Total,
    /// Tries no answer came to in time (each is retried, up to three in all).
    pub soa_unanswered: Total,
    /// Checks running now, and waiting for a slot or for the rate (gauges).
    pub running: Total,
    pub queued: Total,
    /// TLS connections from secondaries: handshakes done, and failed.
    pub xot_accepted: Total,
    pub xot_failed: Total,
}
