//! Reloading a primary zone (SIGHUP), as operators of Knot expect: a broken zone file
//! keeps the version being served; a changed file with an unchanged serial is not
//! published unless `bump_serial` is set; a newer serial is published with its diff in
//! the IXFR journal, which survives a restart of the server.

mod harness;

use harness::dns::{self, Answer};
use harness::shoal::{Shoal, ShoalZone};
use harness::zone;

const ZONE: &str = "reload.test.";

fn www(version: u8) -> Answer {
    Answer::Records { lines: vec![format!("www.{ZONE} 3600 A 192.0.2.{version}")], aa: true }
}

#[test]
fn reload_keeps_old_version_on_broken_file_and_unchanged_serial_and_journal_survives_restart() {
    let mut shoal =
        Shoal::builder("reload").zone(ShoalZone::primary(ZONE).with("allow_transfer = [\"127.0.0.1\"]")).build();
    shoal.write_zone(ZONE, &zone::small_text(ZONE, 1, 1));
    shoal.start();
    shoal.wait_serial(ZONE, 1);
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), 1), www(1));

    // Changed content, same serial: refused, logged.
    shoal.write_zone(ZONE, &zone::small_text(ZONE, 1, 2));
    shoal.reload();
    shoal.wait_log(&["serial did not"]);
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), 1), www(1));

    // A broken file: the previous version stays.
    shoal.write_zone(ZONE, &format!("{}www 3600 IN A 300.1.2.3\n", zone::small_text(ZONE, 2, 2)));
    shoal.reload();
    shoal.wait_log(&["zone file broken"]);
    assert!(
        !shoal.log_has(&["A address: bad IPv4 address"]).is_empty(),
        "the error names the problem\n{}",
        shoal.tail()
    );
    assert_eq!(dns::soa_serial(shoal.addr, ZONE), Some(1));
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), 1), www(1));

    // A newer serial is published, with its diff in the journal.
    shoal.write_zone(ZONE, &zone::small_text(ZONE, 2, 2));
    shoal.reload();
    shoal.wait_serial(ZONE, 2);
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), 1), www(2));
    let incremental = dns::ixfr_lines(shoal.addr, ZONE, 1);
    assert_eq!(incremental.len(), 6, "SOA 2, SOA 1, -www .1, SOA 2, +www .2, SOA 2: {incremental:?}");

    // After a restart the journal (in the state directory) still answers IXFR from 1.
    shoal.stop();
    shoal.start();
    shoal.wait_serial(ZONE, 2);
    assert_eq!(dns::ixfr_lines(shoal.addr, ZONE, 1), incremental);
    // Up to date: the SOA alone.
    assert_eq!(dns::ixfr_lines(shoal.addr, ZONE, 2).len(), 1);
}

#[test]
fn bump_serial_publishes_changed_content_with_the_next_serial() {
    let mut shoal = Shoal::builder("bump").zone(ShoalZone::primary(ZONE).with("bump_serial = true")).build();
    shoal.write_zone(ZONE, &zone::small_text(ZONE, 7, 1));
    shoal.start();
    shoal.wait_serial(ZONE, 7);
    shoal.write_zone(ZONE, &zone::small_text(ZONE, 7, 2));
    shoal.reload();
    shoal.wait_serial(ZONE, 8);
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), 1), www(2));
}

#[test]
fn rfc7766_queries_pipelined_behind_a_transfer_request_are_answered_in_order() {
    use std::io::Write;
    let mut shoal =
        Shoal::builder("pipeline").zone(ShoalZone::primary(ZONE).with("allow_transfer = [\"127.0.0.1\"]")).build();
    shoal.write_zone(ZONE, &zone::small_text(ZONE, 3, 1));
    shoal.start();
    shoal.wait_serial(ZONE, 3);
    // AXFR, then an SOA query, then an A query, all in one write.
    let mut bytes = Vec::new();
    for m in [dns::query(1, ZONE, 252), dns::query(2, ZONE, 6), dns::query(3, &format!("www.{ZONE}"), 1)] {
        bytes.extend_from_slice(&(m.len() as u16).to_be_bytes());
        bytes.extend_from_slice(&m);
    }
    let mut s = dns::tcp_connect(shoal.addr).expect("connect");
    s.write_all(&bytes).expect("send");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let m = dns::tcp_read_message(&mut s).expect("every pipelined query is answered");
        ids.push(u16::from_be_bytes([m[0], m[1]]));
    }
    // The small zone fits one AXFR message.
    assert_eq!(ids, [1, 2, 3]);
}
