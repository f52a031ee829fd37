//! The test zones: `engine/tests/zones/xfr/base.zone` turned into numbered versions
//! (see the fixture's header for the markers), plus numbered hosts so that a full
//! transfer spans several messages. Version 2 deletes, changes and adds records against
//! version 1; each later version adds one more record.

use std::path::PathBuf;

/// Numbered `hN A` records appended to every version: ~80 KB of AXFR, more than one
/// 64 KB message.
pub const HOSTS: usize = 3500;

/// `engine/tests/zones/xfr/<file>`.
pub fn fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("zones").join("xfr").join(file)
}

/// The text of version `version` of zone `origin` with `serial`.
pub fn text(origin: &str, serial: u32, version: u32) -> String {
    let base = std::fs::read_to_string(fixture("base.zone")).expect("read base.zone fixture");
    let mut out = format!("$ORIGIN {origin}\n$TTL 3600\n");
    for line in base.lines() {
        let line = line.replace("SERIAL", &serial.to_string());
        if let Some(rest) = line.strip_prefix(";v2+ ") {
            if version >= 2 {
                out.push_str(rest);
                out.push('\n');
            }
        } else if line.trim_end().ends_with("; v1") {
            if version == 1 {
                out.push_str(&line);
                out.push('\n');
            }
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    for v in 3..=version {
        out.push_str(&format!("v{v}\tIN\tTXT\t\"version {v}\"\n"));
    }
    for i in 0..HOSTS {
        out.push_str(&format!("h{i}\tIN\tA\t10.{}.{}.1\n", i / 250, i % 250));
    }
    out
}

/// A small zone for the fake primary and the tiers test: SOA, NS, one `www` A record
/// whose address encodes the version.
pub fn small_text(origin: &str, serial: u32, version: u32) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 3600\n@ IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n\
         @ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A 192.0.2.{version}\n"
    )
}
