//! Fixtures shared by the criterion benches: generated zones and wire queries.
//!
//! `zone_text(n)` makes a zone `bench.test.` with `n` names (A on every name, AAAA on
//! every 4th, TXT on every 8th, a delegation with glue every 100th, and a wildcard),
//! the shape `scripts/bench-peers.sh` serves; [`signed`] signs it (NSEC3).
//!
//! ## Limitations
//!
//! - The benches time functions on one core; the whole server is measured by
//!   `scripts/bench-peers.sh` and `loadtest/`, against Knot DNS and NSD.

pub mod signed;

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

/// A catalog of `zones` small zones `z0.many.test.` .. (SOA, NS, two A).
pub fn small_zones_catalog(zones: usize) -> Catalog {
    let mut c = Catalog::new();
    for i in 0..zones {
        let apex = from_ascii(&format!("z{i}.many.test.")).expect("valid");
        let text =
            "$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\n";
        let s = shoal_zonedb::load_zone_str(&apex, text, Path::new("z.zone")).unwrap_or_else(|e| panic!("{}", e[0]));
        c.insert(apex, ZoneState::Ready(Arc::new(s)));
    }
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

/// [`query`] with the DO bit set.
pub fn query_do(name: &str, qtype: u16) -> Vec<u8> {
    let mut m = query(name, qtype);
    let at = m.len() - 4;
    m[at] = 0x80;
    m
}

/// The SOA of `held` and the same SOA with the serial one higher: an IXFR's bounds.
pub fn next_soa(held: &Snapshot) -> (shoal_zonedb::change::diff::Rr, shoal_zonedb::change::diff::Rr) {
    let old_soa = shoal_zonedb::change::diff::soa_of(held);
    let mut new_soa = old_soa.clone();
    let mut rd = new_soa.rdata.to_vec();
    let at = rd.len() - 20;
    rd[at..at + 4].copy_from_slice(&(held.serial() + 1).to_be_bytes());
    new_soa.rdata = rd.into();
    (old_soa, new_soa)
}

/// An IXFR of `changes` records to a zone made by [`zone_text`]: `changes` hosts spread
/// over the zone get a new address (one record each), and the serial goes up by one.
pub fn ixfr(held: &Snapshot, names: usize, changes: usize) -> shoal_zonedb::change::diff::Diff {
    use shoal_zonedb::change::diff::{Diff, Rr};
    let (old_soa, new_soa) = next_soa(held);
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let stride = (names / changes.max(1)).max(1);
    for k in 0..changes {
        // Delegations sit at every 100th index; step over them.
        let i = (k * stride) % names;
        let i = if i % 100 == 99 { i - 1 } else { i };
        let owner = from_ascii(&format!("host{i}.{APEX}")).expect("valid");
        let (a, b) = ((i >> 8) & 0xff, i & 0xff);
        let ttl = 3600;
        removed.push(Rr {
            owner: owner.clone(),
            rtype: shoal_wire::Rtype::A,
            ttl,
            rdata: vec![10, (i >> 16) as u8, a as u8, b as u8].into(),
        });
        added.push(Rr { owner, rtype: shoal_wire::Rtype::A, ttl, rdata: vec![172, 16, a as u8, b as u8].into() });
    }
    Diff { old_soa, new_soa, removed, added }
}
