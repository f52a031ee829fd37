//! Shoal as a secondary against a primary that misbehaves (issue 5), and a chain of
//! three Shoal instances.
//!
//! Each fault test runs the same story against the in-process fake primary
//! ([`harness::fake`]): Shoal takes serial 1 (a good AXFR); the fake moves to serial 2 and
//! breaks every transfer in one way; Shoal must log "transfer failed", keep serving
//! serial 1 unchanged (SOA and `www`), and keep running. Then the fault is lifted and
//! Shoal must take serial 2: a failure leaves nothing behind that blocks the next
//! transfer. A broken IXFR (deleting a record that does not exist) must make Shoal fall
//! back to AXFR instead.
//!
//! Timing: refresh 2–3 s and retry 1–2 s keep each test short; only the stall test
//! waits out Shoal's 10 s read timeout. Every wait is bounded ([`harness::WAIT`]).

mod harness;

use harness::dns::{self, Answer};
use harness::fake::{FakePrimary, Fault};
use harness::shoal::{Shoal, ShoalZone};
use harness::{free_port, wait_until, zone, WAIT};

const ZONE: &str = "fault.test.";

fn www(version: u8) -> Answer {
    Answer::Records { lines: vec![format!("www.{ZONE} 3600 A 192.0.2.{version}")], aa: true }
}

/// A Shoal secondary of `fake` holding serial 1, with `lines` more in its zone.
fn secondary_at_serial_1(tag: &str, fake: &FakePrimary, keyed: bool, lines: &[&str]) -> Shoal {
    let mut z = ShoalZone::secondary(ZONE, fake.addr).fast_timers(3, 3600);
    if keyed {
        z = z.keyed();
    }
    for l in lines {
        z = z.with(l);
    }
    let shoal = Shoal::builder(tag).zone(z).start();
    shoal.wait_serial(ZONE, 1);
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), dns::TYPE_A), www(1), "{}", shoal.tail());
    shoal
}

/// The common story: serial 1, then serial 2 behind `fault`; Shoal keeps serial 1 and
/// logs `reason`; then the fault is lifted and serial 2 arrives.
fn keeps_old_version(tag: &str, fault: Fault, keyed: bool, reason: &str) {
    keeps_old_version_with(tag, fault, keyed, &[], reason);
}

/// [`keeps_old_version`], with `lines` more in the secondary's zone.
fn keeps_old_version_with(tag: &str, fault: Fault, keyed: bool, lines: &[&str], reason: &str) {
    let fake = FakePrimary::start(ZONE, keyed);
    let mut shoal = secondary_at_serial_1(tag, &fake, keyed, lines);
    let failures_before = shoal.log_has(&["transfer failed"]).len();
    fake.set(2, 2, fault);
    let failed = wait_until(WAIT, || {
        let lines = shoal.log_has(&["transfer failed", ZONE]);
        (lines.len() > failures_before).then_some(lines)
    })
    .unwrap_or_else(|| panic!("{tag}: no \"transfer failed\" within {WAIT:?}\n{}", shoal.tail()));
    assert!(
        failed.iter().any(|l| l.contains(reason)),
        "{tag}: \"transfer failed\" does not give the reason {reason:?}: {failed:#?}"
    );
    assert!(shoal.is_running(), "{tag}: Shoal exited\n{}", shoal.tail());
    assert_eq!(dns::soa_serial(shoal.addr, ZONE), Some(1), "{tag}: serial changed\n{}", shoal.tail());
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), dns::TYPE_A), www(1), "{tag}: data changed");
    assert!(
        shoal.log_has(&["transfer in done", "-> 2"]).is_empty(),
        "{tag}: a broken transfer was accepted\n{}",
        shoal.tail()
    );
    // The primary's serial is known though its transfer failed: the drift shows.
    let status = |shoal: &Shoal| shoal.ctl(&["zone-status", ZONE]).stdout;
    let behind = wait_until(WAIT, || Some(status(&shoal)).filter(|s| s.contains("primary_serial=2 drift=1")));
    assert!(behind.is_some(), "{tag}: zone-status does not show the drift: {}", status(&shoal));
    fake.set(2, 2, Fault::None);
    shoal.wait_serial(ZONE, 2);
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), dns::TYPE_A), www(2), "{tag}: after recovery");
    let caught_up = wait_until(WAIT, || Some(status(&shoal)).filter(|s| s.contains("primary_serial=2 drift=0")));
    assert!(caught_up.is_some(), "{tag}: zone-status after recovery: {}", status(&shoal));
}

#[test]
fn fault_connection_reset_mid_stream_keeps_old_version() {
    keeps_old_version("fault-reset", Fault::Reset, false, "Connection reset");
}

#[test]
fn fault_stalled_primary_times_out_and_keeps_old_version() {
    keeps_old_version("fault-stall", Fault::Stall, false, "timed out");
}

#[test]
fn fault_truncated_stream_keeps_old_version() {
    keeps_old_version("fault-truncated", Fault::Truncate, false, "closing SOA");
}

#[test]
fn fault_out_of_zone_record_keeps_old_version() {
    keeps_old_version("fault-out-of-zone", Fault::OutOfZone, false, "outside the zone");
}

#[test]
fn fault_first_and_last_soa_differ_keeps_old_version() {
    keeps_old_version("fault-soa-mismatch", Fault::SoaMismatch, false, "SOA");
}

#[test]
fn fault_bad_tsig_on_response_keeps_old_version() {
    keeps_old_version("fault-bad-tsig", Fault::BadTsig, true, "TSIG");
}

#[test]
fn fault_garbage_bytes_keep_old_version() {
    keeps_old_version("fault-garbage", Fault::Garbage, false, "malformed");
}

/// RFC 1995 §4: an IXFR that cannot be applied is not fatal; the secondary falls
/// back to AXFR, and a good AXFR brings the new version.
#[test]
fn fault_transfer_over_max_transfer_bytes_keeps_old_version() {
    // The zone's usual transfer is a few hundred bytes; the oversized one about 45 kB.
    keeps_old_version_with(
        "fault-oversized",
        Fault::Oversized,
        false,
        &["max_transfer_bytes = 20000"],
        "max_transfer_bytes (20000 bytes)",
    );
}

#[test]
fn fault_ixfr_deleting_missing_record_falls_back_to_axfr() {
    let fake = FakePrimary::start(ZONE, false);
    let shoal = secondary_at_serial_1("fault-ixfr-delete", &fake, false, &[]);
    fake.set(2, 2, Fault::IxfrDeleteMissing);
    shoal.wait_serial(ZONE, 2);
    assert_eq!(shoal.lookup(&format!("www.{ZONE}"), dns::TYPE_A), www(2), "{}", shoal.tail());
    let done = shoal.log_has(&["transfer in done", ZONE, "1 -> 2"]);
    assert!(
        done.len() == 1 && done[0].contains("kind=\"AXFR\""),
        "expected one AXFR bringing 1 -> 2, got {done:#?}\n{}",
        shoal.tail()
    );
    let requests = fake.requests();
    let ixfr = requests.iter().position(|&t| t == dns::TYPE_IXFR);
    let axfr_after = ixfr.is_some_and(|i| requests[i..].contains(&dns::TYPE_AXFR));
    assert!(axfr_after, "expected IXFR then AXFR, the fake saw {requests:?}");
}

/// Tiers: A (primary) → B (secondary of A, primary of C) → C. An update on A reaches
/// C by NOTIFY and IXFR at each step (default refresh: 7200 s, so not by polling).
#[test]
fn tiers_update_on_primary_reaches_third_tier() {
    let zone = "tiers.test.";
    let (pa, pb, pc) = (free_port(), free_port(), free_port());
    let addr = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    let mut a = Shoal::builder("tier-a")
        .port(pa)
        .zone(ShoalZone::primary(zone).with("allow_transfer = [\"127.0.0.1\"]").notify(addr(pb)))
        .build();
    let mut b = Shoal::builder("tier-b")
        .port(pb)
        .zone(ShoalZone::secondary(zone, addr(pa)).with("allow_transfer = [\"127.0.0.1\"]").notify(addr(pc)))
        .build();
    let mut c = Shoal::builder("tier-c").port(pc).zone(ShoalZone::secondary(zone, addr(pb))).build();
    a.write_zone(zone, &zone::small_text(zone, 1, 1));
    a.start();
    b.start();
    b.wait_serial(zone, 1);
    c.start();
    c.wait_serial(zone, 1);

    a.write_zone(zone, &zone::small_text(zone, 2, 2));
    a.reload();
    a.wait_log(&["reload: new version", zone]);
    b.wait_serial(zone, 2);
    c.wait_serial(zone, 2);
    let www2 = Answer::Records { lines: vec![format!("www.{zone} 3600 A 192.0.2.2")], aa: true };
    assert_eq!(c.lookup(&format!("www.{zone}"), dns::TYPE_A), www2, "{}", c.tail());
    for (s, from) in [(&b, "A"), (&c, "B")] {
        let done = s.log_has(&["transfer in done", zone, "1 -> 2"]);
        assert!(
            done.iter().any(|l| l.contains("kind=\"IXFR\"")),
            "{}: expected IXFR 1 -> 2 from {from}, got {done:#?}\n{}",
            s.name,
            s.tail()
        );
        assert!(!s.log_has(&["NOTIFY received", zone]).is_empty(), "{}: no NOTIFY from {from}", s.name);
    }
}

/// Timers survive a restart (as in Knot's timer database and NSD's xfrd.state): the
/// state copy's modification time is when a primary last confirmed it. A restarted
/// secondary whose copy was just confirmed does not query its primary before the
/// refresh time; one whose copy is older than the expire time starts expired
/// (SERVFAIL), instead of serving stale data for another full expire period.
#[test]
fn restart_keeps_refresh_and_expire_timers() {
    let fake = FakePrimary::start(ZONE, false);
    let zone = ShoalZone::secondary(ZONE, fake.addr)
        .with("refresh_min = 600")
        .with("refresh_max = 600")
        .with("retry_min = 600")
        .with("expire_min = 3600")
        .with("expire_max = 3600");
    let mut shoal = Shoal::builder("restart-timers").zone(zone).start();
    shoal.wait_serial(ZONE, 1);
    let copy = shoal.dir().join("state").join(ZONE.trim_end_matches('.').to_string() + ".zone");
    assert!(copy.exists(), "no state copy at {}", copy.display());

    // Restart with the copy just confirmed: served at once, and no SOA query for the
    // next 2 s (the next check is 600 s after the last).
    shoal.stop();
    let queries = fake.soa_queries();
    shoal.start();
    assert_eq!(dns::soa_serial(shoal.addr, ZONE), Some(1), "{}", shoal.tail());
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(fake.soa_queries(), queries, "a just-confirmed copy was checked again at start\n{}", shoal.tail());

    // Restart with the copy last confirmed two hours ago, past its expire time, and
    // the primary gone: SERVFAIL, not stale data.
    shoal.stop();
    drop(fake);
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options().write(true).open(&copy).unwrap().set_modified(two_hours_ago).unwrap();
    shoal.start();
    let servfail = wait_until(WAIT, || {
        (dns::lookup(shoal.addr, ZONE, dns::TYPE_SOA) == Answer::Rcode(dns::RCODE_SERVFAIL)).then_some(())
    });
    assert!(servfail.is_some(), "an expired copy is served after a restart\n{}", shoal.tail());
    assert!(!shoal.log_has(&["expired", ZONE]).is_empty(), "no log line names the expired zone\n{}", shoal.tail());
}
