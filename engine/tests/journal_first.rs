//! Journal first: a secondary makes an IXFR result durable by writing its diffs to the
//! zone's journal, not by writing the whole zone again, and a restart (after `kill -9`)
//! serves the newest version by replaying the journal onto the copy, with the primary
//! gone. With a small journal bound the copy is written again in the background.
//!
//! A Shoal primary serves `jf.test.` from a file; each edit and reload sends NOTIFY, and
//! the secondary takes the change by IXFR.

mod harness;

use harness::shoal::{Shoal, ShoalZone};
use harness::{dns, serial_guard, wait_until, zone, WAIT};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

const ZONE: &str = "jf.test.";

/// The inode of the secondary's copy in its state directory (a rewrite renames a new
/// file into place, so the inode changes; marking it checked does not).
fn copy_inode(path: &PathBuf) -> u64 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).ino()
}

/// Version `serial` of the zone: `zone::small_text` (`www` gives the version away) and
/// a hundred hosts, so that a few diffs stay well within the zone's size (a journal
/// holds no more records than its zone).
fn text(serial: u32) -> String {
    let hosts: String = (0..100).map(|i| format!("h{i} IN A 10.0.0.{i}\n")).collect();
    zone::small_text(ZONE, serial, serial) + &hosts
}

/// A primary serving serial 1 that NOTIFYs `secondary_port`.
fn primary(secondary_port: u16) -> Shoal {
    let mut p = Shoal::builder("jf-primary")
        .zone(
            ShoalZone::primary(ZONE)
                .with("allow_transfer = [\"127.0.0.1\"]")
                .with(&format!("notify = [\"127.0.0.1:{secondary_port}\"]")),
        )
        .build();
    p.write_zone(ZONE, &text(1));
    p.start();
    p.wait_serial(ZONE, 1);
    p
}

fn secondary(name: &str, port: u16, primary: &Shoal, extra: &str) -> Shoal {
    let mut zone = ShoalZone::secondary(ZONE, primary.addr).with("allow_transfer = [\"127.0.0.1\"]");
    if !extra.is_empty() {
        zone = zone.with(extra);
    }
    Shoal::builder(name).port(port).zone(zone).start()
}

/// Publish `serial` on the primary and wait for the secondary to serve it by IXFR.
fn change(primary: &mut Shoal, secondary: &Shoal, serial: u32) {
    primary.write_zone(ZONE, &text(serial));
    primary.reload();
    primary.wait_serial(ZONE, serial);
    secondary.wait_serial(ZONE, serial);
    let from = format!("{} -> {serial}", serial - 1);
    let ixfr = secondary.log_has(&["transfer in done", ZONE, "kind=\"IXFR\"", &from]);
    assert!(!ixfr.is_empty(), "serial {serial} did not come by IXFR\n{}", secondary.tail());
}

#[test]
fn ixfr_results_are_journaled_not_rewritten_and_a_killed_secondary_replays_them() {
    let _serial = serial_guard();
    let port = harness::free_port();
    let mut primary = primary(port);
    let mut secondary = secondary("jf-secondary", port, &primary, "");
    secondary.wait_serial(ZONE, 1);
    let copy = secondary.dir().join("state").join("jf.test.zone");
    let journal = secondary.dir().join("state").join("jf.test.ixfr");
    let whole = copy_inode(&copy);

    for serial in 2..=4 {
        change(&mut primary, &secondary, serial);
    }
    assert_eq!(copy_inode(&copy), whole, "the copy was written again for an IXFR\n{}", secondary.tail());
    assert!(journal.exists(), "no journal at {}", journal.display());

    // kill -9, the primary gone: the restart serves serial 4 from copy 1 + journal.
    secondary.signal(libc::SIGKILL);
    assert!(secondary.wait_exit(WAIT).is_some(), "the secondary did not die");
    primary.stop();
    secondary.start();
    let served = wait_until(WAIT, || dns::soa_serial(secondary.addr, ZONE).filter(|&s| s == 4));
    assert_eq!(served, Some(4), "after kill -9 the secondary does not serve serial 4\n{}", secondary.tail());
    assert!(
        !secondary.log_has(&["journal replayed onto the copy", ZONE]).is_empty(),
        "no journal replay logged\n{}",
        secondary.tail()
    );
    assert_eq!(secondary.lookup(&format!("www.{ZONE}"), 1), www(4));
    // The journal read back serves IXFR from the copy's serial to the newest.
    let ixfr = dns::ixfr_lines(secondary.addr, ZONE, 1);
    assert!(ixfr.len() > 4 && ixfr.iter().filter(|l| l.contains(" SOA ")).count() >= 4, "IXFR from 1: {ixfr:?}");
    assert!(ixfr[0].contains(" 4 "), "IXFR from 1 leads to serial 4: {ixfr:?}");
}

#[test]
fn with_a_small_journal_the_copy_is_written_again_in_the_background() {
    let _serial = serial_guard();
    let port = harness::free_port();
    let mut primary = primary(port);
    let secondary = secondary("jf-small", port, &primary, "ixfr_journal = 2");
    secondary.wait_serial(ZONE, 1);
    let copy = secondary.dir().join("state").join("jf.test.zone");
    let whole = copy_inode(&copy);
    change(&mut primary, &secondary, 2);
    // One diff since the copy reaches half the bound: a background write follows.
    let rewritten = wait_until(WAIT, || (copy_inode(&copy) != whole).then_some(()));
    assert!(rewritten.is_some(), "the copy was not written again\n{}", secondary.tail());
    let saved = shoal_zonedb::change::persist::load(&shoal_wire::name::from_ascii(ZONE).unwrap(), &copy).unwrap();
    assert_eq!(saved.serial(), 2);
}

/// What `www` answers in `zone::small_text` version `v`.
fn www(v: u32) -> dns::Answer {
    dns::Answer::Records { lines: vec![format!("www.{ZONE} 3600 A 192.0.2.{v}")], aa: true }
}
