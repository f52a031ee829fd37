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

/// The records of an IXFR from `serial` over TCP: the answer lines of every message.
fn ixfr_lines(shoal: &Shoal, serial: u32) -> Vec<String> {
    let mut q = dns::query(0x1f1f, ZONE, 251);
    // Authority: the SOA we claim to hold (only its serial matters to the server).
    q[9] = 1;
    q.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 60, 0, 22, 0, 0]);
    q.extend_from_slice(&serial.to_be_bytes());
    q.extend_from_slice(&[0; 16]);
    let mut s = dns::tcp_connect(shoal.addr).expect("connect");
    dns::tcp_write_message(&mut s, &q).expect("send IXFR");
    let mut lines = Vec::new();
    let mut soas = 0;
    for _ in 0..100 {
        let m = dns::tcp_read_message(&mut s).expect("IXFR reply");
        let msg = hickory_proto::op::Message::from_vec(&m).expect("decodes");
        for r in &msg.answers {
            if r.record_type() == hickory_proto::rr::RecordType::SOA {
                soas += 1;
            }
            lines.push(dns::record_line(r));
        }
        // An incremental reply ends with its fourth SOA; a lone SOA ends at once.
        if soas >= 4 || (soas == 1 && lines.len() == 1 && msg.answers.len() == 1) {
            break;
        }
    }
    lines
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
    let incremental = ixfr_lines(&shoal, 1);
    assert_eq!(incremental.len(), 6, "SOA 2, SOA 1, -www .1, SOA 2, +www .2, SOA 2: {incremental:?}");

    // After a restart the journal (in the state directory) still answers IXFR from 1.
    shoal.stop();
    shoal.start();
    shoal.wait_serial(ZONE, 2);
    assert_eq!(ixfr_lines(&shoal, 1), incremental);
    // Up to date: the SOA alone.
    assert_eq!(ixfr_lines(&shoal, 2).len(), 1);
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
