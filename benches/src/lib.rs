//! Fixtures shared by the criterion benches: generated zones and wire queries.
//!
//! `zone_text(n)` makes a zone `bench.test.` with `n` names (A on every name, AAAA on
//! every 4th, TXT on every 8th, a delegation with glue every 100th, and a wildcard),
//! the shape `scripts/bench-peers.sh` serves.

use shoal_wire::name::from_ascii;
use shoal_zonedb::{Catalog, Snapshot, ZoneState};
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

pub const APEX: &str = "bench.test.";

/// Master-file text of a zone with `names` names.
pub fn zone_text(names: usize) -> String {
    let mut z = String::with_capacity(names * 64);
    z.push_str("$ORIGIN bench.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n@ NS ns2\n");
    z.push_str("ns1 A 192.0.2.1\nns2 A 192.0.2.2\n*.wild A 192.0.2.99\n");
    for i in 0..names {
        let (a, b) = ((i >> 8) & 0xff, i & 0xff);
        if i % 100 == 99 {
            let _ = writeln!(z, "del{i} NS ns.del{i}\nns.del{i} A 198.51.{a}.{b}");
            continue;
        }
        let _ = writeln!(z, "host{i} A 10.{}.{a}.{b}", (i >> 16) & 0xff);
        if i % 4 == 0 {
            let _ = writeln!(z, "host{i} AAAA 2001:db8::{:x}:{:x}", i >> 16, i & 0xffff);
        }
        if i % 8 == 0 {
            let _ = writeln!(z, "host{i} TXT \"v=bench {i}\"");
        }
    }
    z
}

/// Compile a zone from text.
pub fn compile(text: &str) -> Snapshot {
    let apex = from_ascii(APEX).expect("valid");
    shoal_zonedb::load_zone_str(&apex, text, Path::new("bench.zone")).unwrap_or_else(|e| panic!("bench zone: {}", e[0]))
}

/// A catalog holding one compiled zone.
pub fn catalog(snapshot: Snapshot) -> Catalog {
    let mut c = Catalog::new();
    c.insert(from_ascii(APEX).expect("valid"), ZoneState::Ready(Arc::new(snapshot)));
    c
}

/// A wire query for `name` (presentation, absolute) and `qtype`, with EDNS0.
pub fn query(name: &str, qtype: u16) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for l in name.trim_end_matches('.').split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
    m
}
