//! The configuration file's TOML shape, as serde reads it: sections, keys, and the
//! defaults of keys left out. Validation into a [`super::Config`] happens in the parent
//! module; unknown keys are rejected here (`deny_unknown_fields`).

use serde::Deserialize;
use std::path::PathBuf;

/// Where `shoal serve` listens without a configuration, or with one that names no address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5353";

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) server: RawServer,
    #[serde(default)]
    pub(super) key: Vec<RawKey>,
    #[serde(default)]
    pub(super) zone: Vec<RawZone>,
    #[serde(default)]
    pub(super) control: RawControl,
    #[serde(default)]
    pub(super) metrics: RawMetrics,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) catalog_group: Vec<RawCatalogGroup>,
    #[serde(default)]
    pub(super) rrl: RawRrl,
    #[serde(default)]
    pub(super) cookies: RawCookies,
    #[serde(default)]
    pub(super) tls: RawTls,
    #[serde(default)]
    pub(super) tls_remote: Vec<RawTlsRemote>,
}

/// `[tls]`: zone transfers over TLS, as a primary.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    #[serde(default)]
    pub(super) listen: Vec<String>,
    pub(super) certificate: Option<PathBuf>,
    pub(super) key: Option<PathBuf>,
    pub(super) client_ca: Option<PathBuf>,
}

/// `[[tls_remote]]`: how a secondary authenticates a primary over TLS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTlsRemote {
    pub(super) name: String,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) hostname: Option<String>,
    #[serde(default)]
    pub(super) pin: Vec<String>,
    pub(super) certificate: Option<PathBuf>,
    pub(super) key: Option<PathBuf>,
}

/// `[cookies]`: DNS cookies.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCookies {
    pub(super) enabled: Option<bool>,
    pub(super) secret_file: Option<PathBuf>,
}

/// `[rrl]`: response rate limiting.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRrl {
    #[serde(default)]
    pub(super) rate: u32,
    pub(super) burst: Option<u32>,
    pub(super) slip: Option<u32>,
    pub(super) ipv4_prefix: Option<u8>,
    pub(super) ipv6_prefix: Option<u8>,
    #[serde(default)]
    pub(super) exempt: Vec<String>,
}

/// `[[catalog_group]]`: settings for the members of consumed catalogs in this group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatalogGroup {
    pub(super) name: String,
    pub(super) primaries: Option<Vec<String>>,
    pub(super) transfer_key: Option<String>,
    pub(super) transfer_tls: Option<String>,
    pub(super) allow_transfer: Option<Vec<String>>,
    pub(super) notify: Option<Vec<String>>,
    pub(super) zonemd_verify: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) listen: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) format: Option<String>,
    #[serde(default, deserialize_with = "directives")]
    pub(super) level: Option<String>,
}

/// `[log] level`, each comma-separated directive trimmed, as `tracing-subscriber` would
/// read it: its parser (0.3.23) walks a trimmed directive but slices the untrimmed one
/// at the same offsets, so blank space before a directive shifted them, and a character
/// across a shifted offset made validating the configuration panic.
fn directives<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let level: Option<String> = Option::deserialize(d)?;
    Ok(level.map(|l| l.split(',').map(str::trim).collect::<Vec<_>>().join(",")))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawControl {
    pub(super) socket: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKey {
    pub(super) name: String,
    pub(super) algorithm: String,
    pub(super) secret: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    #[serde(default = "default_listen")]
    pub(super) listen: Vec<String>,
    #[serde(default)]
    pub(super) workers: usize,
    pub(super) identity: Option<String>,
    pub(super) version: Option<String>,
    #[serde(default = "default_udp_payload")]
    pub(super) udp_payload: u16,
    #[serde(default = "default_tcp_idle")]
    pub(super) tcp_idle_timeout: u64,
    #[serde(default = "default_tcp_max")]
    pub(super) tcp_max_connections: usize,
    pub(super) tcp_max_per_source: Option<usize>,
    #[serde(default)]
    pub(super) tcp_max_queries: u32,
    #[serde(default = "default_drain")]
    pub(super) drain_timeout: u64,
    #[serde(default = "default_udp_rcvbuf")]
    pub(super) udp_rcvbuf: usize,
    #[serde(default = "default_refresh_concurrency")]
    pub(super) refresh_concurrency: usize,
    #[serde(default = "default_max_transfer_connections")]
    pub(super) max_transfer_connections: usize,
    pub(super) refresh_rate: Option<u32>,
    #[serde(default)]
    pub(super) max_transfer_bytes: u64,
    pub(super) state_dir: Option<PathBuf>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: default_listen(),
            workers: 0,
            identity: None,
            version: None,
            udp_payload: default_udp_payload(),
            tcp_idle_timeout: default_tcp_idle(),
            tcp_max_connections: default_tcp_max(),
            tcp_max_per_source: None,
            tcp_max_queries: 0,
            drain_timeout: default_drain(),
            udp_rcvbuf: default_udp_rcvbuf(),
            refresh_concurrency: default_refresh_concurrency(),
            max_transfer_connections: default_max_transfer_connections(),
            refresh_rate: None,
            max_transfer_bytes: 0,
            state_dir: None,
        }
    }
}

pub(super) fn default_listen() -> Vec<String> {
    vec![DEFAULT_LISTEN.to_string()]
}
pub(super) fn default_udp_payload() -> u16 {
    shoal_zonedb::answer::DEFAULT_UDP_PAYLOAD
}
pub(super) fn default_tcp_idle() -> u64 {
    10
}
pub(super) fn default_tcp_max() -> usize {
    1024
}
/// Secondary checks (and the transfers they lead to) running at once; NSD's
/// `xfrd-tcp-max` is 128 connections, Knot runs them on its background workers.
pub(super) fn default_refresh_concurrency() -> usize {
    32
}

/// Connections served by the transfer side at once (transfers out, NOTIFY and signed
/// queries over TCP), a thread each: as many as 4 secondaries checking at their
/// default `refresh_concurrency` (NSD's `xfrd-tcp-max` is 128).
pub(super) fn default_max_transfer_connections() -> usize {
    128
}

pub(super) fn default_drain() -> u64 {
    5
}
/// 1 MiB (the kernel doubles it): about a thousand queries queued, a few milliseconds
/// at line rate. A deeper queue loses fewer queries under overload but holds them
/// longer; the kernel default drops queries below the peak rate (BENCHMARKS.md).
pub(super) fn default_udp_rcvbuf() -> usize {
    1 << 20
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZone {
    pub(super) name: String,
    pub(super) file: Option<PathBuf>,
    #[serde(default)]
    pub(super) primaries: Vec<String>,
    pub(super) allow_notify: Option<Vec<String>>,
    pub(super) refresh_min: Option<u32>,
    pub(super) refresh_max: Option<u32>,
    pub(super) retry_min: Option<u32>,
    pub(super) retry_max: Option<u32>,
    pub(super) expire_min: Option<u32>,
    pub(super) expire_max: Option<u32>,
    #[serde(default)]
    pub(super) allow_transfer: Vec<String>,
    pub(super) transfer_key: Option<String>,
    /// The `[[tls_remote]]` its primaries are reached through.
    pub(super) transfer_tls: Option<String>,
    /// Transfers of this zone only over TLS.
    #[serde(default)]
    pub(super) transfer_require_tls: bool,
    #[serde(default)]
    pub(super) notify: Vec<String>,
    #[serde(default = "default_journal")]
    pub(super) ixfr_journal: usize,
    #[serde(default)]
    pub(super) bump_serial: bool,
    pub(super) max_transfer_bytes: Option<u64>,
    #[serde(default = "default_zonemd_verify")]
    pub(super) zonemd_verify: bool,
    /// `consumer` or `producer` (RFC 9432).
    pub(super) catalog_role: Option<String>,
    /// The producer catalog this zone is listed in.
    pub(super) catalog: Option<String>,
    /// Its `group` property there.
    pub(super) catalog_group: Option<String>,
}

/// ZONEMD digests are verified unless a zone says `zonemd_verify = false`.
pub(super) fn default_zonemd_verify() -> bool {
    true
}

pub(super) fn default_journal() -> usize {
    100
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    /// Found by the `config` fuzz target: blank space before a `[log] level` directive
    /// with a character after it panicked inside `tracing-subscriber`.
    #[test]
    fn regression_fuzz_log_level_with_blank_space_before_a_directive() {
        for bad in ["\ti\u{e9}\u{e9}[", "info, \u{a0}x\u{e9}\u{e9}\u{e9}[", " \u{e9}\u{e9}=bogus"] {
            let text = format!("[log]\nlevel = \"{bad}\"\n");
            assert!(Config::parse(&text, Path::new("c.toml")).is_err(), "{bad:?}");
        }
        let c = Config::parse("[log]\nlevel = \" info , shoal_engine=debug\"\n", Path::new("c.toml")).unwrap();
        assert_eq!(c.log.level.as_deref(), Some("info,shoal_engine=debug"));
    }
}
