//! EDNS EXPIRE (RFC 7314) in both roles, along a chain primary → secondary → secondary
//! of the secondary, all Shoal.
//!
//! - A primary answers `dig +expire` with its SOA EXPIRE field; a secondary with the
//!   seconds its copy has left (never more than its expire timer).
//! - A secondary asks its primary for EXPIRE and expires no later than what it is told:
//!   the second tier, whose own bounds would keep the zone for an hour, takes the first
//!   tier's ten seconds, and when the primary stops, it stops answering about when
//!   the first tier does, instead of an hour later.

mod harness;

use harness::dns;
use harness::shoal::{Shoal, ShoalZone};
use harness::{find_program, serial_guard, wait_until, WAIT};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

const ZONE: &str = "expire.test.";

/// The EXPIRE value `dig +expire` shows for `zone`'s SOA at `addr`.
fn dig_expire(addr: SocketAddr) -> Option<u32> {
    let out = Command::new("dig")
        .args(["+expire", "+norec", "+time=2", "+tries=2", "-p", &addr.port().to_string()])
        .arg(format!("@{}", addr.ip()))
        .args([ZONE, "SOA"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("; EXPIRE:"))?;
    line.trim_start_matches("; EXPIRE:").split_whitespace().next()?.parse().ok()
}

/// Seconds to expiry that `shoal ctl zone-status` shows.
fn expires_in(shoal: &Shoal) -> Option<u64> {
    let out = shoal.ctl(&["zone-status", ZONE]).all();
    let field = out.split_whitespace().find_map(|w| w.strip_prefix("expires_in="))?;
    field.trim_end_matches('s').parse().ok()
}

#[test]
fn expire_passes_down_a_chain_of_secondaries() {
    let _guard = serial_guard();
    if find_program("dig").is_none() {
        assert_eq!(
            std::env::var("SHOAL_ALLOW_NO_PEERS").as_deref(),
            Ok("1"),
            "dig not installed; run scripts/test.sh (it installs bind9-dnsutils)"
        );
        eprintln!("SKIPPED expire_passes_down_a_chain_of_secondaries: no dig and SHOAL_ALLOW_NO_PEERS=1");
        return;
    }
    let allow = "allow_transfer = [\"127.0.0.1\"]";
    let mut primary = Shoal::builder("expire-primary")
        .file(&format!("{ZONE}zone"), &harness::zone::small_text(ZONE, 1, 1))
        .zone(ShoalZone::primary(ZONE).with(allow))
        .start();
    // The SOA says 1209600 seconds; the first tier keeps its copy 10 seconds at most.
    let first = Shoal::builder("expire-first")
        .zone(ShoalZone::secondary(ZONE, primary.addr).fast_timers(3, 10).with(allow))
        .start();
    first.wait_serial(ZONE, 1);
    let second =
        Shoal::builder("expire-second").zone(ShoalZone::secondary(ZONE, first.addr).fast_timers(3, 3600)).start();
    second.wait_serial(ZONE, 1);

    assert_eq!(dig_expire(primary.addr), Some(1_209_600), "a primary answers its SOA EXPIRE");
    let told = dig_expire(first.addr).expect("the first tier answers EXPIRE");
    assert!(told <= 10, "the first tier's copy has at most 10 s left, it said {told}");
    // Without EXPIRE the second tier would keep the zone for an hour (its bounds).
    let left = wait_until(WAIT, || expires_in(&second).filter(|&s| s <= 10));
    assert!(left.is_some(), "the second tier expires with the first: {:?}\n{}", expires_in(&second), second.tail());
    assert!(dig_expire(second.addr).is_some_and(|s| s <= 10));

    // The primary goes: the first tier expires within 10 s, and the second with it.
    primary.stop();
    let stopped = Instant::now();
    let servfail = |s: &Shoal| matches!(dns::lookup(s.addr, ZONE, dns::TYPE_SOA), dns::Answer::Rcode(2));
    assert!(wait_until(WAIT, || servfail(&first).then_some(())).is_some(), "first tier expires\n{}", first.tail());
    assert!(
        wait_until(WAIT, || servfail(&second).then_some(())).is_some(),
        "second tier expires too, not an hour later\n{}",
        second.tail()
    );
    assert!(stopped.elapsed() < Duration::from_secs(25), "both expired within {:?}", stopped.elapsed());
}
