//! Zone texts and files.
//!
//! - The fixture zones under `engine/tests/zones/` ([`fixtures`]), served as they are
//!   by Shoal and by the references in the differential, serve and malformed tests.
//! - The transfer zone: `engine/tests/zones/xfr/base.zone` turned into numbered
//!   versions (see the fixture's header for the markers), plus numbered hosts so that a
//!   full transfer spans several messages. Version 2 deletes, changes and adds records
//!   against version 1; each later version adds one more record. [`small_text`] is a
//!   tiny zone whose `www` address encodes the version.
//! - [`write_file`]: writing a zone file so that every server sees it changed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Numbered `hN A` records appended to every version of the transfer zone: ~80 KB of
/// AXFR, more than one 64 KB message.
pub const HOSTS: usize = 3500;

/// A fixture zone: its apex and its file under `engine/tests/zones/`.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Apex, absolute, e.g. `example.com.`.
    pub name: &'static str,
    pub file: &'static str,
}

/// The fixture zones every server of the differential test loads.
pub fn fixtures() -> Vec<Fixture> {
    vec![Fixture { name: "example.com.", file: "example.com.zone" }, Fixture { name: "example.", file: "example.zone" }]
}

/// `engine/tests/zones`, found through `CARGO_MANIFEST_DIR`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("zones")
}

/// Copy every regular file of `engine/tests/zones` (zones and their `$INCLUDE`d files)
/// into `dest` (created if needed).
pub fn copy_fixtures(dest: &Path) {
    std::fs::create_dir_all(dest).expect("create zones dir");
    let entries = std::fs::read_dir(fixtures_dir()).expect("read engine/tests/zones");
    for entry in entries {
        let entry = entry.expect("zones dir entry");
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copy zone file");
        }
    }
}

/// `engine/tests/zones/xfr/<file>`.
pub fn xfr_fixture(file: &str) -> PathBuf {
    fixtures_dir().join("xfr").join(file)
}

/// The text of version `version` of the transfer zone `origin` with `serial`.
pub fn text(origin: &str, serial: u32, version: u32) -> String {
    let base = std::fs::read_to_string(xfr_fixture("base.zone")).expect("read base.zone fixture");
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

/// A small zone for the fake primary and the Shoal-only tests: SOA, NS, one `www` A
/// record whose address encodes the version.
pub fn small_text(origin: &str, serial: u32, version: u32) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 3600\n@ IN SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n\
         @ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A 192.0.2.{version}\n"
    )
}

/// Write a zone file whose mtime is in a later whole second than the file it replaces
/// (sleeping up to a second for that): BIND and NSD skip a reload when the mtime has not
/// changed, and some compare whole seconds.
pub fn write_file(path: &Path, text: &str) {
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if let Some(old) = std::fs::metadata(path).and_then(|m| m.modified()).ok().map(secs) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while secs(SystemTime::now()) <= old && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
