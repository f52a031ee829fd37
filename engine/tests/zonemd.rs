//! ZONEMD (RFC 8976) verification before a version is published (issue 17).
//!
//! The fixtures under `engine/tests/zones/zonemd/` are `zonemd.test.` at serials
//! 2024060101 and 2024060103, signed and given a SHA-384 ZONEMD by `ldns-signzone`.
//! A bad version is one of them with its serial changed in the SOA and the ZONEMD and
//! its digest left as it was.
//!
//! - A primary whose zone file verifies loads and serves it, and `shoal check` passes
//!   it, with a DNSSEC warning once a signature is removed; one whose digest does not
//!   match is not served (SERVFAIL), the log and `shoal check` name zone, serial, and
//!   the digests expected and computed; a reload with a bad digest keeps the version
//!   served; `zonemd_verify = false` serves the file anyway.
//! - A secondary whose primary (Knot) moves to a version with a bad digest keeps
//!   serving the old serial (the IXFR result is refused, then the AXFR too), counts it
//!   in `shoal_zonemd_failures_total`, and takes the next good version.

mod harness;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use harness::dns::{self, Answer};
use harness::peers::{self, Peer, PeerKind, PeerZone};
use harness::shoal::{Shoal, ShoalZone};
use harness::{free_port, wait_until, zone, WAIT};

const ZONE: &str = "zonemd.test.";
const FILE: &str = "zonemd.test.zone";
const V1: u32 = 2024060101;
const V2: u32 = 2024060102;
const V3: u32 = 2024060103;

/// A fixture version (1 or 3).
fn version(v: u32) -> String {
    let path = zone::fixtures_dir().join("zonemd").join(format!("zonemd.test.v{v}.zone"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Version `v` with the serial `serial` in its SOA and ZONEMD: a digest mismatch.
fn bad(v: u32, serial: u32) -> String {
    version(v).replace(&format!("{}", V1 + v - 1), &serial.to_string())
}

/// The digest of the apex ZONEMD record of a zone text.
fn written_digest(text: &str) -> String {
    let line = text.lines().find(|l| l.contains("\tZONEMD\t")).expect("ZONEMD line");
    line.rsplit(' ').next().unwrap().to_string()
}

fn www(v: u32) -> Answer {
    Answer::Records { lines: vec![format!("www.{ZONE} 3600 A 192.0.2.{v}")], aa: true }
}

#[test]
fn zonemd_primary_with_correct_digest_loads_and_serves() {
    let shoal = Shoal::builder("zonemd-good").file(FILE, &version(1)).zone(ShoalZone::primary_file(ZONE, FILE)).start();
    shoal.wait_serial(ZONE, V1);
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), dns::TYPE_A), www(1));
    shoal.wait_log(&["ZONEMD verified", ZONE, "SHA-384"]);
    let check = shoal.check();
    assert!(check.status.success(), "{}", check.all());
    assert!(check.stdout.contains(&format!("zone {ZONE}: ok, serial {V1}")), "{}", check.all());
    assert!(!check.stderr.contains("warning:"), "a clean signed zone has no DNSSEC warning: {}", check.all());

    // `shoal check` warns of an RRset left unsigned, and passes. (The ZONEMD record is
    // removed with the signature: the digest covers signatures too.)
    let unsigned: String = version(1)
        .lines()
        .filter(|l| !l.starts_with("www.zonemd.test.\t3600\tIN\tRRSIG\tA ") && !l.contains("ZONEMD"))
        .map(|l| format!("{l}\n"))
        .collect();
    zone::write_file(&shoal.zones_dir().join(FILE), &unsigned);
    let check = shoal.check();
    assert!(check.status.success(), "warnings do not fail the check: {}", check.all());
    let warning = format!("warning: zone {ZONE}: www.{ZONE} A: no RRSIG covers this RRset in a signed zone");
    assert!(check.stderr.contains(&warning), "{warning:?} not in {}", check.all());
}

#[test]
fn zonemd_primary_with_wrong_digest_fails_to_load_and_reload_keeps_the_version_served() {
    let wrong = bad(1, V2);
    let expected = written_digest(&wrong);
    let mut shoal = Shoal::builder("zonemd-bad")
        .file(FILE, &wrong)
        .zone(ShoalZone::primary_file(ZONE, FILE))
        .ready_zones(&[])
        .start();
    let lines = shoal.wait_log(&["ZONEMD digest mismatch"]);
    let needles = [ZONE.to_string(), format!("at serial {V2}"), format!("expected {expected}"), "computed ".into()];
    assert!(lines.iter().any(|l| needles.iter().all(|n| l.contains(n))), "{needles:?} not in {lines:#?}");
    shoal.wait_log(&["zone not loaded; it answers SERVFAIL"]);
    assert_eq!(shoal.lookup(ZONE, dns::TYPE_SOA), Answer::Rcode(2), "{}", shoal.tail());
    let check = shoal.check();
    assert!(!check.status.success(), "shoal check must fail: {}", check.all());
    assert!(needles.iter().all(|n| check.stderr.contains(n.as_str())), "{needles:?} not in {}", check.all());

    // A good file is loaded on reload; a bad one after it keeps the version served.
    zone::write_file(&shoal.zones_dir().join(FILE), &version(3));
    shoal.reload();
    shoal.wait_serial(ZONE, V3);
    zone::write_file(&shoal.zones_dir().join(FILE), &bad(3, V3 + 1));
    shoal.reload();
    shoal.wait_log(&["reload: zone file broken, previous version kept"]);
    assert_eq!(dns::soa_serial(shoal.addr, ZONE), Some(V3), "{}", shoal.tail());
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), dns::TYPE_A), www(3));

    // zonemd_verify = false: the same file is served.
    let off = Shoal::builder("zonemd-off")
        .file(FILE, &wrong)
        .zone(ShoalZone::primary_file(ZONE, FILE).with("zonemd_verify = false"))
        .start();
    off.wait_serial(ZONE, V2);
    assert!(
        off.log_has(&["ZONEMD verified"]).is_empty() && off.log_has(&["digest mismatch"]).is_empty(),
        "{}",
        off.tail()
    );
}

/// GET /metrics from `addr`: the body.
fn scrape(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// The value of `series` (name and labels as exposed) in a scrape, 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
}

#[test]
fn zonemd_secondary_keeps_old_serial_when_a_transfer_brings_a_bad_digest() {
    let test = "zonemd_secondary_keeps_old_serial_when_a_transfer_brings_a_bad_digest";
    if !peers::available(test, &[PeerKind::Knot]) {
        return;
    }
    let mut knot = Peer::new(PeerKind::Knot, free_port(), &[PeerZone::primary(ZONE)]);
    knot.write_zone(ZONE, &version(1));
    knot.start();
    let metrics: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let shoal = Shoal::builder("zonemd-secondary")
        .zone(ShoalZone::secondary(ZONE, knot.addr).fast_timers(3600, 3600))
        .table(&format!("\n[metrics]\nlisten = \"{metrics}\"\n"))
        .start();
    shoal.wait_serial(ZONE, V1);
    shoal.wait_log(&["ZONEMD verified", ZONE]);

    let wrong = bad(1, V2);
    knot.write_zone(ZONE, &wrong);
    knot.reload();
    knot.wait_serial(ZONE, V2);
    let series = format!("shoal_zonemd_failures_total{{zone=\"{ZONE}\"}}");
    let counted = wait_until(WAIT, || scrape(metrics).map(|t| value(&t, &series)).filter(|&v| v >= 2.0));
    assert!(counted.is_some(), "{series} did not reach 2 (IXFR, then AXFR)\n{}", shoal.tail());
    let refused = shoal.wait_log(&["transfer failed", "AXFR refused", "ZONEMD digest mismatch"]);
    let needles = [ZONE.to_string(), format!("at serial {V2}"), format!("expected {}", written_digest(&wrong))];
    assert!(refused.iter().any(|l| needles.iter().all(|n| l.contains(n))), "{needles:?} not in {refused:#?}");
    assert!(!shoal.log_has(&["IXFR result refused", "ZONEMD digest mismatch"]).is_empty(), "{}", shoal.tail());
    assert_eq!(dns::soa_serial(shoal.addr, ZONE), Some(V1), "the old serial is served\n{}", shoal.tail());
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), dns::TYPE_A), www(1));
    assert!(shoal.log_has(&["transfer in done", &format!("-> {V2}")]).is_empty(), "{}", shoal.tail());

    // The next good version is taken.
    knot.write_zone(ZONE, &version(3));
    knot.reload();
    shoal.wait_serial(ZONE, V3);
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), dns::TYPE_A), www(3));
}
