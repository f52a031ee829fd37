//! One zone's configuration ([`ZoneConfig`]): where its data comes from, who may
//! transfer and NOTIFY it, its timer bounds, where its state lives, and its part in
//! catalog zones (RFC 9432: a catalog's role, the catalog a zone is listed in, how a
//! member came from a consumed catalog, and the settings of a catalog group).

use crate::access::acl::Acl;
use shoal_wire::Name;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where a zone's data comes from.
#[derive(Debug, Clone)]
pub enum ZoneSource {
    File(PathBuf),
    /// The example zone compiled into the binary.
    Builtin,
    /// A secondary zone pulled from these primaries, tried in order; its copy lives in
    /// the state directory.
    Primaries(Vec<SocketAddr>),
    /// A producer catalog zone (RFC 9432), written from the zones listed in it; its
    /// last version is kept in the state directory.
    Catalog,
}

/// Bounds on the SOA timers of a secondary zone, seconds (Knot's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerBounds {
    pub refresh: (u32, u32),
    pub retry: (u32, u32),
    pub expire: (u32, u32),
}

impl Default for TimerBounds {
    fn default() -> Self {
        TimerBounds { refresh: (2, 2_592_000), retry: (2, 2_592_000), expire: (3, u32::MAX) }
    }
}

#[derive(Debug, Clone)]
pub struct ZoneConfig {
    pub name: Name,
    pub source: ZoneSource,
    /// Who may AXFR/IXFR this zone.
    pub allow_transfer: Acl,
    /// When set, transfers must be signed with this key (index into `Config::keys`).
    pub transfer_key: Option<usize>,
    /// When set, the primaries are reached over TLS with this profile (index into
    /// `Config::tls_remotes`), and never in clear text.
    pub transfer_tls: Option<usize>,
    /// Transfers out only over TLS; requests over TCP are refused.
    pub require_tls: bool,
    /// Secondaries to NOTIFY on every new serial.
    pub notify: Vec<SocketAddr>,
    /// Diffs kept for IXFR out.
    pub ixfr_journal: usize,
    /// On reload, publish a changed zone file whose serial did not change, with the
    /// serial increased by one (otherwise it is refused, as Knot does).
    pub bump_serial: bool,
    /// Who may NOTIFY this (secondary) zone; default: its primaries.
    pub allow_notify: Acl,
    pub timers: TimerBounds,
    /// An incoming transfer is cut off past this many bytes of messages (0: no limit),
    /// as NSD's `size-limit-xfr`.
    pub max_transfer_bytes: u64,
    /// Where a secondary zone's copy and journal live.
    pub state_dir: PathBuf,
    /// Verify the apex ZONEMD digest (RFC 8976), when there is one, before publishing a
    /// version loaded from the zone file or received by transfer (default: on).
    pub zonemd_verify: bool,
    /// Its part in catalog zones (RFC 9432).
    pub catalog: CatalogRole,
    /// The producer catalog it is listed in, with its group.
    pub listed_in: Option<(Name, Option<String>)>,
    /// Set for a member zone a consumed catalog brought in (not configured).
    pub member_of: Option<Membership>,
}

impl ZoneConfig {
    /// A zone with nothing but a source (no transfers, no NOTIFY).
    pub fn plain(name: Name, source: ZoneSource) -> Self {
        ZoneConfig {
            name,
            source,
            allow_transfer: Acl::default(),
            transfer_key: None,
            transfer_tls: None,
            require_tls: false,
            notify: Vec::new(),
            ixfr_journal: 100,
            bump_serial: false,
            allow_notify: Acl::default(),
            timers: TimerBounds::default(),
            max_transfer_bytes: 0,
            state_dir: PathBuf::from("."),
            zonemd_verify: true,
            catalog: CatalogRole::None,
            listed_in: None,
            member_of: None,
        }
    }

    /// The primaries of a secondary zone (empty for a primary zone).
    pub fn primaries(&self) -> &[SocketAddr] {
        match &self.source {
            ZoneSource::Primaries(p) => p,
            _ => &[],
        }
    }

    /// A file name for this zone in the state directory (`example.com` for
    /// `example.com.`, `root` for the root).
    fn state_stem(&self) -> String {
        let t = self.name.to_string();
        let t = t.trim_end_matches('.');
        if t.is_empty() {
            "root".into()
        } else {
            t.replace(['/', '\\'], "_")
        }
    }

    /// Where a secondary zone's copy is saved.
    pub fn state_path(&self) -> Option<PathBuf> {
        matches!(self.source, ZoneSource::Primaries(_)).then(|| self.copy_path())
    }

    /// Where a secondary zone's copy, or a producer catalog's last version, is kept.
    pub fn copy_path(&self) -> PathBuf {
        self.state_dir.join(format!("{}.zone", self.state_stem()))
    }

    /// Where the zone's IXFR journal lives: in the state directory, for primary and
    /// secondary zones alike (zone files may sit in a read-only folder such as /etc).
    pub fn journal_path(&self) -> Option<PathBuf> {
        match &self.source {
            ZoneSource::Builtin => None,
            ZoneSource::File(_) | ZoneSource::Primaries(_) | ZoneSource::Catalog => {
                Some(self.state_dir.join(format!("{}.ixfr", self.state_stem())))
            }
        }
    }
}

/// A zone's part in catalog zones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CatalogRole {
    /// An ordinary zone.
    #[default]
    None,
    /// A catalog whose members become secondary zones here.
    Consumer,
    /// A catalog generated from the configured zones listed in it, in name order.
    Producer(Vec<Listed>),
}

/// A configured zone listed in a producer catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub zone: Name,
    /// The member's `group` property.
    pub group: Option<String>,
}

/// Settings for the members of a consumed catalog whose `group` property names this
/// group; what is left out comes from the catalog zone's own settings.
#[derive(Debug, Clone)]
pub struct CatalogGroup {
    pub name: String,
    pub primaries: Option<Vec<SocketAddr>>,
    /// `Some(None)`: transfers of these members are not signed.
    pub transfer_key: Option<Option<usize>>,
    /// The `[[tls_remote]]` the members' primaries are reached through.
    pub transfer_tls: Option<usize>,
    pub allow_transfer: Option<Acl>,
    pub notify: Option<Vec<SocketAddr>>,
    pub zonemd_verify: Option<bool>,
}

/// How a member zone came from a consumed catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The catalog zone.
    pub catalog: Name,
    /// The member's unique ID (the label under `zones.`), lowercase.
    pub id: Box<[u8]>,
    /// Its `group` property, if any.
    pub group: Option<String>,
}
