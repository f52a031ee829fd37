//! The fixed zones the targets answer from and transfer into, built once per process
//! from the test fixtures under `engine/tests/zones/` (compiled in with `include_str!`,
//! so the fuzz binaries and the corpus replay test read the same text wherever they run).
//!
//! - [`catalog`]: the differential test's zones (`example.com.` with its `$INCLUDE`d
//!   part spliced in, and RFC 4592's `example.`), two signed zones (`nsec.test.`,
//!   `nsec3.test.`), and `broken.test.`, a zone that failed to load (SERVFAIL);
//! - [`transfer_zone`]: the versions of the transfer test's zone
//!   (`engine/tests/zones/xfr/base.zone`, read by the rules its header gives), and
//!   [`held`], version 1, the version a secondary holds when a transfer arrives.

use shoal_wire::name::from_ascii;
use shoal_wire::Name;
use shoal_zonedb::{Catalog, Snapshot, ZoneState};
use std::path::Path;
use std::sync::{Arc, OnceLock};

const EXAMPLE_COM: &str = include_str!("../../engine/tests/zones/example.com.zone");
const EXAMPLE_COM_INCLUDE: &str = include_str!("../../engine/tests/zones/example.com.include");
const EXAMPLE: &str = include_str!("../../engine/tests/zones/example.zone");
const NSEC: &str = include_str!("../../engine/tests/zones/signed/nsec.test.zone");
const NSEC3: &str = include_str!("../../engine/tests/zones/signed/nsec3.test.zone");
const TRANSFER_BASE: &str = include_str!("../../engine/tests/zones/xfr/base.zone");

/// The apex of the transfer zone.
pub const TRANSFER_APEX: &str = "example.com.";

/// Numbered hosts appended to every version of the transfer zone: enough for an AXFR
/// of a few messages, few enough that a fuzz input holds one.
const TRANSFER_HOSTS: usize = 24;

/// Every zone of [`catalog`], apex and text; `example.com.` has its `$INCLUDE` (the
/// file's last line) replaced by the included text.
pub fn zone_texts() -> [(&'static str, String); 4] {
    let example_com = EXAMPLE_COM.replace("$INCLUDE example.com.include", EXAMPLE_COM_INCLUDE);
    [
        ("example.com.", example_com),
        ("example.", EXAMPLE.to_string()),
        ("nsec.test.", NSEC.to_string()),
        ("nsec3.test.", NSEC3.to_string()),
    ]
}

fn load(apex: &str, text: &str) -> Snapshot {
    let name = from_ascii(apex).expect("fixture apex");
    shoal_zonedb::load_zone_str(&name, text, Path::new(apex))
        .unwrap_or_else(|e| panic!("fixture zone {apex} does not load: {e:?}"))
}

/// The zones every query is answered from.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut c = Catalog::new();
        for (apex, text) in zone_texts() {
            c.insert(from_ascii(apex).expect("fixture apex"), ZoneState::Ready(Arc::new(load(apex, &text))));
        }
        c.insert(from_ascii("broken.test.").expect("valid"), ZoneState::Failed);
        c
    })
}

/// The text of version `version` (1 and up) of the transfer zone, with serial `version`:
/// lines ending in `; v1` only in version 1, lines starting `;v2+ ` uncommented from
/// version 2 on, a `v<N>` TXT record for each version from 3 on.
pub fn transfer_zone(version: u32) -> String {
    let mut out = format!("$ORIGIN {TRANSFER_APEX}\n$TTL 3600\n");
    for line in TRANSFER_BASE.lines() {
        let line = line.replace("SERIAL", &version.to_string());
        if let Some(rest) = line.strip_prefix(";v2+ ") {
            if version >= 2 {
                out.push_str(rest);
                out.push('\n');
            }
        } else if !line.trim_end().ends_with("; v1") || version == 1 {
            out.push_str(&line);
            out.push('\n');
        }
    }
    for v in 3..=version {
        out.push_str(&format!("v{v}\tIN\tTXT\t\"version {v}\"\n"));
    }
    for i in 0..TRANSFER_HOSTS {
        out.push_str(&format!("h{i}\tIN\tA\t10.0.{i}.1\n"));
    }
    out
}

/// The apex of the transfer zone as a name.
pub fn transfer_apex() -> Name {
    from_ascii(TRANSFER_APEX).expect("valid")
}

/// Version `version` of the transfer zone, compiled.
pub fn transfer_snapshot(version: u32) -> Snapshot {
    load(TRANSFER_APEX, &transfer_zone(version))
}

/// Version 1 of the transfer zone: what the secondary holds.
pub fn held() -> &'static Snapshot {
    static HELD: OnceLock<Snapshot> = OnceLock::new();
    HELD.get_or_init(|| transfer_snapshot(1))
}
