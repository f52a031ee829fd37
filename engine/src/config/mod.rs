//! The configuration file: raw TOML (its shape and defaults in [`file`]) → a validated
//! [`Config`], in one place; each zone's part is a [`zone::ZoneConfig`], and
//! [`catalog`] links the zones listed in producer catalogs and derives the
//! configuration of consumed catalogs' members; [`rrl`] is `[rrl]`, [`cookies`]
//! `[cookies]`, [`tls`] `[tls]` and `[[tls_remote]]`; [`resolve`] reads addresses and relative paths.
//!
//! Unknown keys are errors that name the key (serde's `deny_unknown_fields`). Relative
//! paths resolve against the folder of the configuration file. Without a file, the
//! built-in default serves the bundled `example.com.` zone on 127.0.0.1:5353.

use crate::access::acl::{Acl, Prefix};
use crate::access::tsig::{Algorithm, Key};
use resolve::parse_addr;
use shoal_wire::Name;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The example zone compiled into the binary, served by `shoal serve` without a config.
pub const EXAMPLE_ZONE: &str = include_str!("../../zones/example.com.zone");
pub const EXAMPLE_ZONE_NAME: &str = "example.com.";

mod catalog;
mod cookies;
mod file;
mod resolve;
mod rrl;
mod tls;
mod zone;
pub use cookies::CookieConfig;
use file::RawConfig;
pub use file::DEFAULT_LISTEN;
pub use rrl::RrlConfig;
pub use tls::{TlsConfig, TlsRemote};
pub use zone::{CatalogGroup, CatalogRole, Listed, Membership, TimerBounds, ZoneConfig, ZoneSource};

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    /// Worker threads; resolved from 0 to the number of cores.
    pub workers: usize,
    pub identity: Option<String>,
    pub version: Option<String>,
    pub udp_payload: u16,
    pub tcp_idle_timeout: std::time::Duration,
    /// Across all workers.
    pub tcp_max_connections: usize,
    /// TCP connections from one address at once (0: no limit); by default an eighth of
    /// `tcp_max_connections`, so that one client cannot take them all.
    pub tcp_max_per_source: usize,
    /// Queries answered on one TCP connection before it is closed (0: no limit, the
    /// default; NSD's `tcp-query-count`).
    pub tcp_max_queries: u32,
    /// SO_RCVBUF of each UDP socket, bytes (0: the kernel's default). A deep queue
    /// absorbs bursts; a shallow one keeps latency low under overload (NSD's so-rcvbuf).
    pub udp_rcvbuf: usize,
    /// Secondary refreshes running at once; the rest wait their turn.
    pub refresh_concurrency: usize,
    /// Connections the transfer side serves at once (transfers out, NOTIFY and signed
    /// queries over TCP); more are answered REFUSED.
    pub max_transfer_connections: usize,
    /// Secondary checks started per second at most (BIND's `serial-query-rate`);
    /// `None`: [`Config::refresh_rate_for`] picks one from the number of zones.
    pub refresh_rate: Option<u32>,
    /// On SIGTERM, how long TCP answers already owed may take to be written.
    pub drain_timeout: std::time::Duration,
    /// Where `/metrics`, `/health` and `/ready` are served over HTTP, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    pub log: LogConfig,
    pub zones: Vec<ZoneConfig>,
    /// TSIG keys.
    pub keys: Vec<Key>,
    /// Settings for the members of consumed catalogs, by group.
    pub catalog_groups: Vec<CatalogGroup>,
    /// Response rate limiting (off unless `rate` is set).
    pub rrl: RrlConfig,
    /// DNS cookies (on unless turned off).
    pub cookies: CookieConfig,
    /// Zone transfers over TLS as a primary (`[tls]`), if configured.
    pub tls: Option<TlsConfig>,
    /// How primaries are reached over TLS (`[[tls_remote]]`), by profile.
    pub tls_remotes: Vec<TlsRemote>,
    /// Where secondary zones and their journals are kept.
    pub state_dir: PathBuf,
    /// The control socket `shoal ctl` talks to; `None` for the built-in default
    /// configuration (no control socket).
    pub control_socket: Option<PathBuf>,
    /// The file this came from, if any.
    pub path: Option<PathBuf>,
}

/// How the log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One line of text per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// `[log]`: format, and the level directives (`RUST_LOG` overrides them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `tracing` filter directives, such as `info,shoal_engine::transfer=debug`.
    pub level: Option<String>,
}

impl Config {
    /// How many threads answer queries: per worker, a UDP thread per listen address
    /// and a TCP thread. Each has a slot in every zone's query counters.
    pub fn answering_threads(&self) -> usize {
        self.workers * (self.listen.len() + 1)
    }

    /// Secondary checks started per second, for `secondaries` secondary zones: the
    /// configured `refresh_rate`, else twice what zones refreshing every minute need,
    /// and at least 100. A limit must never make routine checks late; it only keeps
    /// a backlog (a first sync of many zones) from reaching the primaries at once.
    pub fn refresh_rate_for(&self, secondaries: usize) -> u32 {
        self.refresh_rate.unwrap_or_else(|| u32::try_from(secondaries / 30).unwrap_or(u32::MAX).max(100))
    }
}

/// Why a configuration is unusable.
#[derive(Debug)]
pub enum ConfigError {
    Read { path: PathBuf, error: std::io::Error },
    Parse { path: PathBuf, message: String },
    Invalid { path: PathBuf, message: String },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Read { path, error } => write!(f, "{}: cannot read: {error}", path.display()),
            ConfigError::Parse { path, message } => write!(f, "{}: {message}", path.display()),
            ConfigError::Invalid { path, message } => write!(f, "{}: {message}", path.display()),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The built-in default: the bundled example zone on 127.0.0.1:5353.
    pub fn builtin() -> Config {
        let mut c = Config::from_raw(RawConfig::default(), None, Path::new(".")).expect("built-in config is valid");
        c.zones.push(ZoneConfig::plain(
            shoal_wire::name::from_ascii(EXAMPLE_ZONE_NAME).expect("valid"),
            ZoneSource::Builtin,
        ));
        c
    }

    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.into(), error })?;
        Self::parse(&text, path)
    }

    /// Validate configuration text; `path` locates relative zone files and names errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string().trim_end().to_string() })?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Self::from_raw(raw, Some(path.to_path_buf()), base)
    }

    fn from_raw(raw: RawConfig, path: Option<PathBuf>, base: &Path) -> Result<Config, ConfigError> {
        let p = path.clone().unwrap_or_else(|| PathBuf::from("(built-in)"));
        let invalid = |message: String| ConfigError::Invalid { path: p.clone(), message };
        let mut listen = Vec::new();
        for l in &raw.server.listen {
            listen.push(l.parse::<SocketAddr>().map_err(|_| {
                invalid(format!("server.listen: bad address {l:?} (use \"IP:PORT\" or \"[IPv6]:PORT\")"))
            })?);
        }
        if listen.is_empty() {
            return Err(invalid("server.listen is empty".into()));
        }
        if raw.server.udp_payload < 512 {
            return Err(invalid("server.udp_payload must be at least 512".into()));
        }
        if raw.server.identity.as_ref().is_some_and(|i| i.len() > 255) {
            return Err(invalid("server.identity is longer than 255 bytes".into()));
        }
        let workers = if raw.server.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            raw.server.workers
        };
        let state_dir = match raw.server.state_dir {
            Some(d) => resolve::path(base, &d),
            None => base.join("state"),
        };
        let mut keys: Vec<Key> = Vec::new();
        for k in raw.key {
            let name = shoal_wire::name::from_ascii(&k.name)
                .map_err(|_| invalid(format!("key name {:?} is not a valid domain name", k.name)))?;
            let algorithm = Algorithm::from_config(&k.algorithm).ok_or_else(|| {
                invalid(format!(
                    "key {}: unknown algorithm {:?} (hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512)",
                    k.name, k.algorithm
                ))
            })?;
            let secret = data_encoding::BASE64
                .decode(k.secret.trim().as_bytes())
                .map_err(|_| invalid(format!("key {}: secret is not valid base64", k.name)))?;
            if keys.iter().any(|o| o.name == name) {
                return Err(invalid(format!("key {} is configured twice", k.name)));
            }
            keys.push(Key { name, algorithm, secret });
        }
        let tls = TlsConfig::from_raw(&raw.tls, base).map_err(invalid)?;
        let mut tls_remotes: Vec<TlsRemote> = Vec::with_capacity(raw.tls_remote.len());
        for r in &raw.tls_remote {
            if tls_remotes.iter().any(|o| o.name == r.name) {
                return Err(invalid(format!("tls_remote {} is configured twice", r.name)));
            }
            tls_remotes.push(TlsRemote::from_raw(r, base).map_err(invalid)?);
        }
        let mut zones: Vec<ZoneConfig> = Vec::with_capacity(raw.zone.len());
        // A set, not a scan of `zones`: a fleet configures 100,000 zones.
        let mut seen: std::collections::HashSet<Name> = std::collections::HashSet::with_capacity(raw.zone.len());
        for z in raw.zone {
            let name = shoal_wire::name::from_ascii(&z.name)
                .map_err(|_| invalid(format!("zone name {:?} is not a valid domain name", z.name)))?;
            if !seen.insert(name.clone()) {
                return Err(invalid(format!("zone {} is configured twice", z.name)));
            }
            let role = match z.catalog_role.as_deref() {
                None => CatalogRole::None,
                Some("consumer") => CatalogRole::Consumer,
                Some("producer") => CatalogRole::Producer(Vec::new()),
                Some(other) => {
                    return Err(invalid(format!(
                        "zone {}: catalog_role {other:?} is not \"consumer\" or \"producer\"",
                        z.name
                    )))
                }
            };
            let source = match (z.file, z.primaries.is_empty()) {
                (None, true) if matches!(role, CatalogRole::Producer(_)) => ZoneSource::Catalog,
                (_, _) if matches!(role, CatalogRole::Producer(_)) => {
                    return Err(invalid(format!(
                        "zone {}: a producer catalog is written by Shoal; it has no file or primaries",
                        z.name
                    )))
                }
                (Some(_), true) if role == CatalogRole::Consumer => {
                    return Err(invalid(format!("zone {}: a consumer catalog needs primaries, not a file", z.name)))
                }
                (Some(f), true) => ZoneSource::File(resolve::path(base, &f)),
                (None, false) => {
                    let mut ps = Vec::new();
                    let port = if z.transfer_tls.is_some() { 853 } else { 53 };
                    for p in &z.primaries {
                        ps.push(
                            parse_addr(p, port)
                                .map_err(|_| invalid(format!("zone {}: primaries: bad address {p:?}", z.name)))?,
                        );
                    }
                    ZoneSource::Primaries(ps)
                }
                (Some(_), false) => {
                    return Err(invalid(format!("zone {}: has both file and primaries; choose one", z.name)))
                }
                (None, true) => {
                    return Err(invalid(format!("zone {}: needs file (primary) or primaries (secondary)", z.name)))
                }
            };
            let allow_notify = match &z.allow_notify {
                Some(list) => parse_acl(list).map_err(|e| invalid(format!("zone {}: allow_notify: {e}", z.name)))?,
                None => Acl::hosts(match &source {
                    ZoneSource::Primaries(ps) => ps,
                    _ => &[],
                }),
            };
            let d = TimerBounds::default();
            let timers = TimerBounds {
                refresh: (z.refresh_min.unwrap_or(d.refresh.0), z.refresh_max.unwrap_or(d.refresh.1)),
                retry: (z.retry_min.unwrap_or(d.retry.0), z.retry_max.unwrap_or(d.retry.1)),
                expire: (z.expire_min.unwrap_or(d.expire.0), z.expire_max.unwrap_or(d.expire.1)),
            };
            for (what, (lo, hi)) in [("refresh", timers.refresh), ("retry", timers.retry), ("expire", timers.expire)] {
                if lo > hi {
                    return Err(invalid(format!("zone {}: {what}_min is above {what}_max", z.name)));
                }
            }
            let acl =
                parse_acl(&z.allow_transfer).map_err(|e| invalid(format!("zone {}: allow_transfer: {e}", z.name)))?;
            let transfer_key = match &z.transfer_key {
                None => None,
                Some(k) => Some(key_index(&keys, k).map_err(|e| invalid(format!("zone {}: {e}", z.name)))?),
            };
            let notify = parse_addrs(&z.notify).map_err(|e| invalid(format!("zone {}: notify: {e}", z.name)))?;
            let transfer_tls = match &z.transfer_tls {
                None => None,
                Some(_) if !matches!(source, ZoneSource::Primaries(_)) => {
                    return Err(invalid(format!("zone {}: transfer_tls is for a zone with primaries", z.name)))
                }
                Some(t) => {
                    Some(tls::remote_index(&tls_remotes, t).map_err(|e| invalid(format!("zone {}: {e}", z.name)))?)
                }
            };
            if z.transfer_require_tls && tls.is_none() {
                return Err(invalid(format!("zone {}: transfer_require_tls needs [tls] with listen", z.name)));
            }
            let listed_in = match &z.catalog {
                None if z.catalog_group.is_some() => {
                    return Err(invalid(format!("zone {}: catalog_group needs catalog", z.name)))
                }
                None => None,
                Some(c) => {
                    let c = shoal_wire::name::from_ascii(c)
                        .map_err(|_| invalid(format!("zone {}: catalog {c:?} is not a domain name", z.name)))?;
                    if let Some(g) = &z.catalog_group {
                        catalog::check_group_name(g).map_err(|e| invalid(format!("zone {}: {e}", z.name)))?;
                    }
                    Some((c, z.catalog_group.clone()))
                }
            };
            zones.push(ZoneConfig {
                name,
                source,
                allow_transfer: acl,
                transfer_key,
                transfer_tls,
                require_tls: z.transfer_require_tls,
                notify,
                ixfr_journal: z.ixfr_journal,
                // A producer catalog's serial is Shoal's to move.
                bump_serial: z.bump_serial || matches!(role, CatalogRole::Producer(_)),
                allow_notify,
                timers,
                max_transfer_bytes: z.max_transfer_bytes.unwrap_or(raw.server.max_transfer_bytes),
                state_dir: state_dir.clone(),
                zonemd_verify: z.zonemd_verify,
                catalog: role,
                listed_in,
                member_of: None,
            });
        }
        let mut catalog_groups = Vec::with_capacity(raw.catalog_group.len());
        for g in raw.catalog_group {
            let what = |e: String| invalid(format!("catalog_group {}: {e}", g.name));
            catalog::check_group_name(&g.name).map_err(invalid)?;
            let transfer_tls =
                g.transfer_tls.as_deref().map(|t| tls::remote_index(&tls_remotes, t)).transpose().map_err(what)?;
            let port = if transfer_tls.is_some() { 853 } else { 53 };
            let primaries = g
                .primaries
                .as_deref()
                .map(|list| {
                    list.iter().map(|a| parse_addr(a, port).map_err(|_| format!("bad address {a:?}"))).collect()
                })
                .transpose()
                .map_err(|e: String| what(format!("primaries: {e}")))?;
            if primaries.as_ref().is_some_and(Vec::is_empty) {
                return Err(what("primaries is empty".into()));
            }
            catalog_groups.push(CatalogGroup {
                primaries,
                transfer_key: g
                    .transfer_key
                    .as_deref()
                    .map(|k| key_index(&keys, k).map(Some))
                    .transpose()
                    .map_err(what)?,
                transfer_tls,
                allow_transfer: g
                    .allow_transfer
                    .as_deref()
                    .map(parse_acl)
                    .transpose()
                    .map_err(|e| what(format!("allow_transfer: {e}")))?,
                notify: g.notify.as_deref().map(parse_addrs).transpose().map_err(|e| what(format!("notify: {e}")))?,
                zonemd_verify: g.zonemd_verify,
                name: g.name,
            });
        }
        catalog::link(&mut zones, &catalog_groups).map_err(invalid)?;
        let metrics_listen = match &raw.metrics.listen {
            None => None,
            Some(a) => Some(a.parse::<SocketAddr>().map_err(|_| {
                invalid(format!("metrics.listen: bad address {a:?} (use \"IP:PORT\", e.g. \"127.0.0.1:9153\")"))
            })?),
        };
        let format = match raw.log.format.as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(invalid(format!("log.format: {other:?} is not \"human\" or \"json\""))),
        };
        if let Some(level) = &raw.log.level {
            tracing_subscriber::EnvFilter::try_new(level)
                .map_err(|e| invalid(format!("log.level: {level:?} is not a valid filter: {e}")))?;
        }
        Ok(Config {
            metrics_listen,
            log: LogConfig { format, level: raw.log.level },
            drain_timeout: std::time::Duration::from_secs(raw.server.drain_timeout),
            udp_rcvbuf: raw.server.udp_rcvbuf,
            refresh_concurrency: raw.server.refresh_concurrency.max(1),
            max_transfer_connections: raw.server.max_transfer_connections.max(1),
            refresh_rate: raw.server.refresh_rate,
            listen,
            workers,
            identity: raw.server.identity,
            version: raw.server.version,
            udp_payload: raw.server.udp_payload,
            tcp_idle_timeout: std::time::Duration::from_secs(raw.server.tcp_idle_timeout.max(1)),
            tcp_max_connections: raw.server.tcp_max_connections.max(1),
            tcp_max_per_source: raw
                .server
                .tcp_max_per_source
                .unwrap_or(raw.server.tcp_max_connections.max(1).div_ceil(8)),
            tcp_max_queries: raw.server.tcp_max_queries,
            zones,
            keys,
            catalog_groups,
            rrl: RrlConfig::from_raw(&raw.rrl).map_err(invalid)?,
            cookies: CookieConfig::from_raw(&raw.cookies, base, &state_dir, path.is_some()),
            tls,
            tls_remotes,
            control_socket: path.as_ref().map(|_| match &raw.control.socket {
                Some(p) => resolve::path(base, p),
                None => state_dir.join("control.sock"),
            }),
            state_dir,
            path,
        })
    }
}

/// Addresses (`IP`, `IP:PORT`, port 53 by default).
fn parse_addrs(list: &[String]) -> Result<Vec<SocketAddr>, String> {
    list.iter().map(|a| parse_addr(a, 53).map_err(|_| format!("bad address {a:?}"))).collect()
}

/// An access list from its prefixes.
fn parse_acl(list: &[String]) -> Result<Acl, String> {
    list.iter().map(|a| a.parse::<Prefix>()).collect::<Result<Vec<_>, _>>().map(Acl)
}

/// The index of the configured key named `name`.
fn key_index(keys: &[Key], name: &str) -> Result<usize, String> {
    let n = shoal_wire::name::from_ascii(name).map_err(|_| format!("bad key name {name:?}"))?;
    keys.iter().position(|x| x.name == n).ok_or_else(|| format!("transfer_key {name:?} is not a configured [[key]]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_transfer_bytes_defaults_from_the_server_and_a_zone_overrides_it() {
        let text = "[server]\nstate_dir = \"s\"\nmax_transfer_bytes = 1000000\n\
                    [[zone]]\nname = \"a.\"\nprimaries = [\"192.0.2.1\"]\n\
                    [[zone]]\nname = \"b.\"\nprimaries = [\"192.0.2.1\"]\nmax_transfer_bytes = 0\n";
        let c = Config::parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(c.zones[0].max_transfer_bytes, 1_000_000);
        assert_eq!(c.zones[1].max_transfer_bytes, 0, "0: no limit for this zone");
        let none = Config::parse("[[zone]]\nname = \"a.\"\nfile = \"f\"\n", Path::new("c.toml")).unwrap();
        assert_eq!(none.zones[0].max_transfer_bytes, 0, "no limit unless asked");
    }

    #[test]
    fn zonemd_verify_is_on_unless_a_zone_turns_it_off() {
        let text =
            "[[zone]]\nname = \"a.\"\nfile = \"f\"\n[[zone]]\nname = \"b.\"\nfile = \"f\"\nzonemd_verify = false\n";
        let c = Config::parse(text, Path::new("c.toml")).unwrap();
        assert!(c.zones[0].zonemd_verify);
        assert!(!c.zones[1].zonemd_verify);
        assert!(Config::builtin().zones[0].zonemd_verify);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::parse("[server]\nlisten = [\"127.0.0.1:53\"]\nbogus_key = 1\n", Path::new("/etc/shoal.toml"))
            .unwrap_err();
        assert!(e.to_string().contains("bogus_key"), "{e}");
        let e = Config::parse("[[zone]]\nname = \"a.\"\nfile = \"x\"\nfiel = 2\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().contains("fiel"), "{e}");
    }

    #[test]
    fn relative_zone_paths_resolve_against_the_config_folder() {
        let c = Config::parse(
            "[[zone]]\nname = \"example.com\"\nfile = \"zones/e.zone\"\n",
            Path::new("/etc/shoal/shoal.toml"),
        )
        .unwrap();
        match &c.zones[0].source {
            ZoneSource::File(f) => assert_eq!(f, Path::new("/etc/shoal/zones/e.zone")),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.zones[0].name.to_string(), "example.com.");
        assert_eq!(c.listen, vec!["127.0.0.1:5353".parse().unwrap()]);
    }

    #[test]
    fn keys_acls_and_notify_targets() {
        let c = Config::parse(
            "[[key]]\nname = \"xfr-key.\"\nalgorithm = \"hmac-sha256\"\nsecret = \"c2VjcmV0\"\n[[zone]]\nname = \"e.\"\nfile = \"e\"\nallow_transfer = [\"127.0.0.2\", \"10.0.0.0/8\"]\ntransfer_key = \"xfr-key.\"\nnotify = [\"127.0.0.2:53\", \"::1\"]\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let z = &c.zones[0];
        assert_eq!(z.transfer_key, Some(0));
        assert_eq!(c.keys[0].secret, b"secret");
        assert!(z.allow_transfer.allows("10.1.2.3".parse().unwrap()));
        assert_eq!(z.notify[1], "[::1]:53".parse().unwrap());
        let e =
            Config::parse("[[zone]]\nname = \"e.\"\nfile = \"e\"\ntransfer_key = \"nokey.\"\n", Path::new("c.toml"))
                .unwrap_err();
        assert!(e.to_string().contains("nokey"), "{e}");
    }

    #[test]
    fn secondary_zone_needs_exactly_one_source_and_defaults_allow_notify_to_primaries() {
        let c = Config::parse(
            "[server]\nstate_dir = \"/var/lib/shoal\"\n[[zone]]\nname = \"e.\"\nprimaries = [\"192.0.2.1\", \"192.0.2.2:5300\"]\nretry_min = 5\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let z = &c.zones[0];
        assert_eq!(z.primaries(), ["192.0.2.1:53".parse().unwrap(), "192.0.2.2:5300".parse().unwrap()]);
        assert!(z.allow_notify.allows("192.0.2.2".parse().unwrap()));
        assert!(!z.allow_notify.allows("192.0.2.3".parse().unwrap()));
        assert_eq!(z.timers.retry.0, 5);
        assert_eq!(z.state_path().unwrap(), Path::new("/var/lib/shoal/e.zone"));
        for bad in ["[[zone]]\nname = \"e.\"\n", "[[zone]]\nname = \"e.\"\nfile = \"f\"\nprimaries = [\"192.0.2.1\"]\n"]
        {
            assert!(Config::parse(bad, Path::new("c.toml")).is_err(), "{bad}");
        }
    }

    #[test]
    fn metrics_and_log_sections() {
        let c = Config::parse(
            "[metrics]\nlisten = \"127.0.0.1:9153\"\n[log]\nformat = \"json\"\nlevel = \"info,shoal_engine::transfer=debug\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9153".parse().unwrap()));
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.log.level.as_deref(), Some("info,shoal_engine::transfer=debug"));
        assert_eq!(c.drain_timeout, std::time::Duration::from_secs(5));
        assert_eq!(c.max_transfer_connections, 128);
        assert!(Config::builtin().metrics_listen.is_none());
        let c = Config::builtin();
        assert_eq!(c.refresh_rate_for(10), 100);
        assert_eq!(c.refresh_rate_for(100_000), 3333);
        let c = Config::parse("[server]\nrefresh_rate = 50\n", Path::new("c.toml")).unwrap();
        assert_eq!(c.refresh_rate_for(100_000), 50, "configured, it is used as it is");
        for bad in ["[metrics]\nlisten = \"localhost\"\n", "[log]\nformat = \"xml\"\n", "[log]\nlevel = \"info,[\"\n"] {
            let e = Config::parse(bad, Path::new("c.toml")).unwrap_err().to_string();
            assert!(e.contains("metrics.listen") || e.contains("log."), "{bad}: {e}");
        }
    }

    #[test]
    fn catalog_roles_members_and_groups() {
        let text = "[[key]]\nname = \"k.\"\nalgorithm = \"hmac-sha256\"\nsecret = \"c2VjcmV0\"\n\
                    [[catalog_group]]\nname = \"signed\"\ntransfer_key = \"k.\"\nprimaries = [\"192.0.2.9\"]\n\
                    [[zone]]\nname = \"cat.\"\ncatalog_role = \"producer\"\n\
                    [[zone]]\nname = \"b.\"\nfile = \"b\"\ncatalog = \"cat.\"\n\
                    [[zone]]\nname = \"a.\"\nfile = \"a\"\ncatalog = \"cat.\"\ncatalog_group = \"signed\"\n\
                    [[zone]]\nname = \"in.\"\nprimaries = [\"192.0.2.1\"]\ncatalog_role = \"consumer\"\n";
        let c = Config::parse(text, Path::new("c.toml")).unwrap();
        assert!(matches!(c.zones[0].source, ZoneSource::Catalog));
        let CatalogRole::Producer(listed) = &c.zones[0].catalog else { panic!("{:?}", c.zones[0].catalog) };
        let names: Vec<String> = listed.iter().map(|l| l.zone.to_string()).collect();
        assert_eq!(names, ["a.", "b."], "in name order");
        assert_eq!(listed[0].group.as_deref(), Some("signed"));
        assert!(c.zones[0].journal_path().is_some(), "a producer keeps a journal for IXFR");
        let consumer = &c.zones[3];
        assert_eq!(consumer.catalog, CatalogRole::Consumer);
        let ms = Membership { catalog: consumer.name.clone(), id: b"x".to_vec().into(), group: Some("signed".into()) };
        let m = consumer.member(shoal_wire::name::from_ascii("m.").unwrap(), ms, c.catalog_groups.first());
        assert_eq!(m.primaries(), ["192.0.2.9:53".parse().unwrap()], "the group's primaries");
        assert!(m.allow_notify.allows("192.0.2.9".parse().unwrap()), "NOTIFY from the group's primaries");
        assert_eq!(m.transfer_key, Some(0));
        assert_eq!(m.catalog, CatalogRole::None);
        assert_eq!(m.state_path().unwrap(), consumer.state_dir.join("m.zone"));
        for (bad, says) in [
            ("[[zone]]\nname = \"c.\"\nfile = \"f\"\ncatalog_role = \"producer\"\n", "no file or primaries"),
            ("[[zone]]\nname = \"c.\"\nfile = \"f\"\ncatalog_role = \"consumer\"\n", "needs primaries"),
            ("[[zone]]\nname = \"c.\"\nfile = \"f\"\ncatalog_role = \"both\"\n", "not \"consumer\""),
            ("[[zone]]\nname = \"a.\"\nfile = \"f\"\ncatalog = \"nope.\"\n", "not a configured zone"),
            ("[[zone]]\nname = \"a.\"\nfile = \"f\"\ncatalog_group = \"g\"\n", "needs catalog"),
            ("[[catalog_group]]\nname = \"g\"\ntransfer_key = \"nokey.\"\n", "nokey"),
            ("[[catalog_group]]\nname = \"g\"\n[[catalog_group]]\nname = \"g\"\n", "twice"),
        ] {
            let e = Config::parse(bad, Path::new("c.toml")).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_listen_address_is_an_error() {
        assert!(Config::parse("[server]\nlisten = [\"localhost\"]\n", Path::new("c.toml")).is_err());
    }
}
