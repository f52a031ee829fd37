//! The `config` target: arbitrary text read as Shoal's configuration file
//! ([`Config::parse`]: TOML into the raw shape of `engine/src/config/file.rs`, then
//! validated into one [`Config`], catalog members and groups linked). A configuration
//! that validates is then asked what the server asks of it at start.
//!
//! What must hold besides not panicking: an error names the file; a configuration that
//! validates has what validation promises (a listen address, a payload of 512 bytes or
//! more, a worker, distinct zones and keys, transfer keys that are configured, timer
//! bounds in order, RRL prefixes that fit their family), every path resolved against
//! the file's folder (the file's path is absolute here, so every path is), and each
//! zone's state files in the state folder itself, whatever the zone's name.
//!
//! Inputs whose `[log] level` filters on field values are skipped ([`filters_field_values`]),
//! and so are those with `[tls]` or `[[tls_remote]]` ([`names_tls_files`]): validating
//! them reads the PEM files they name, and a target reads no files.

use shoal_engine::config::{Config, ZoneSource};
use std::collections::HashSet;
use std::path::Path;

/// Where the configuration is read from: absolute, so that every path it gives is.
const PATH: &str = "/etc/shoal/shoal.toml";

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if filters_field_values(&text) || names_tls_files(&text) {
        return;
    }
    match Config::parse(&text, Path::new(PATH)) {
        Ok(c) => check(&c),
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with(&format!("{PATH}: ")), "an error that does not name the file: {shown}");
        }
    }
}

/// Whether `[log] level` filters on field values (`target[span{field=value}]`): `tracing`
/// compiles each such value into a DFA, which can take time exponential in its length:
/// slow, not wrong, and the operator's own doing (as with `RUST_LOG`). Skipped.
fn filters_field_values(text: &str) -> bool {
    let level = text.parse::<toml::Table>().ok().and_then(|t| t.get("log")?.get("level")?.as_str().map(String::from));
    level.is_some_and(|l| l.contains('{'))
}

/// Whether the configuration has `[tls]` or `[[tls_remote]]`, whose files validation reads.
fn names_tls_files(text: &str) -> bool {
    text.parse::<toml::Table>().is_ok_and(|t| t.contains_key("tls") || t.contains_key("tls_remote"))
}

/// What a configuration that validated must be.
fn check(c: &Config) {
    assert!(!c.listen.is_empty() && c.workers > 0 && c.answering_threads() > 0, "nothing to answer with");
    assert!(c.udp_payload >= 512, "a UDP payload of {} bytes", c.udp_payload);
    assert!((1..=32).contains(&c.rrl.ipv4_prefix) && (1..=128).contains(&c.rrl.ipv6_prefix), "an RRL prefix too long");
    let keys: HashSet<_> = c.keys.iter().map(|k| &k.name).collect();
    assert_eq!(keys.len(), c.keys.len(), "a key configured twice");
    let zones: HashSet<_> = c.zones.iter().map(|z| &z.name).collect();
    assert_eq!(zones.len(), c.zones.len(), "a zone configured twice");
    let paths = [Some(&c.state_dir), c.cookies.secret_file.as_ref(), c.control_socket.as_ref()];
    for p in paths.into_iter().flatten() {
        assert!(p.is_absolute(), "a path not resolved against the file's folder: {}", p.display());
    }
    for z in &c.zones {
        assert!(z.transfer_key.is_none_or(|k| k < c.keys.len()), "zone {}: a transfer key not configured", z.name);
        let t = z.timers;
        let ordered = t.refresh.0 <= t.refresh.1 && t.retry.0 <= t.retry.1 && t.expire.0 <= t.expire.1;
        assert!(ordered, "zone {}: timer bounds out of order: {t:?}", z.name);
        if let ZoneSource::File(f) = &z.source {
            assert!(f.is_absolute(), "zone {}: file {} not resolved", z.name, f.display());
        }
        assert_eq!(!z.primaries().is_empty(), z.state_path().is_some(), "zone {}: a secondary without a copy", z.name);
        for p in [Some(z.copy_path()), z.journal_path()].into_iter().flatten() {
            assert_eq!(
                p.parent(),
                Some(z.state_dir.as_path()),
                "zone {}: state file {} elsewhere",
                z.name,
                p.display()
            );
        }
    }
}
