//! Many zones in one instance (issue 6): a Shoal primary of 400 zones and a Shoal
//! secondary of the same 400 that may run only 4 refreshes at once. Every zone must
//! arrive through the refresh queue; then a new serial on every zone (400 NOTIFYs at
//! once, which jump the queue) must reach every zone too. Nothing queued is lost, and
//! the catalog, published once per batch of changes, ends up with every zone.

mod harness;

use harness::dns;
use harness::shoal::{Shoal, ShoalZone};
use harness::{free_port, wait_until, zone, WAIT};

const ZONES: usize = 400;

/// Zones whose SOA serial on `shoal` is not yet `serial`.
fn behind(shoal: &Shoal, names: &[String], serial: u32) -> Vec<String> {
    names.iter().filter(|n| dns::soa_serial(shoal.addr, n) != Some(serial)).cloned().collect()
}

#[test]
fn a_secondary_of_many_zones_takes_every_zone_through_a_bounded_queue() {
    let names: Vec<String> = (0..ZONES).map(|i| format!("z{i}.many.test.")).collect();
    let (primary_port, secondary_port) = (free_port(), free_port());
    let secondary_addr = std::net::SocketAddr::from(([127, 0, 0, 1], secondary_port));
    let primary_zones: Vec<ShoalZone> = names
        .iter()
        .map(|n| ShoalZone::primary(n).with("allow_transfer = [\"127.0.0.1\"]").notify(secondary_addr))
        .collect();
    let mut primary = Shoal::builder("many-primary").port(primary_port).zones(primary_zones).build();
    for n in &names {
        primary.write_zone(n, &zone::small_text(n, 1, 1));
    }
    primary.start();
    let secondary_zones: Vec<ShoalZone> = names.iter().map(|n| ShoalZone::secondary(n, primary.addr)).collect();
    let mut secondary = Shoal::builder("many-secondary")
        .port(secondary_port)
        .server("refresh_concurrency = 4")
        .zones(secondary_zones)
        .start();

    let all_arrived = wait_until(WAIT * 2, || behind(&secondary, &names, 1).is_empty().then_some(()));
    assert!(
        all_arrived.is_some(),
        "zones never transferred: {:?}\n{}",
        behind(&secondary, &names, 1),
        secondary.tail()
    );
    assert!(!secondary.log_has(&["refresh queued"]).is_empty(), "400 zones never waited for a slot (limit 4)");

    for n in &names {
        primary.write_zone(n, &zone::small_text(n, 2, 2));
    }
    primary.reload();
    let all_updated = wait_until(WAIT * 2, || behind(&secondary, &names, 2).is_empty().then_some(()));
    if all_updated.is_none() {
        let late = behind(&secondary, &names, 2);
        let first = late.first().cloned().unwrap_or_default();
        panic!(
            "zones never updated: {late:?}\nsecondary on {first}: {:#?}\nprimary on {first}: {:#?}",
            secondary.log_has(&[&first]),
            primary.log_has(&[&first])
        );
    }
    let www = dns::lookup(secondary.addr, &format!("www.{}", names[ZONES - 1]), dns::TYPE_A);
    assert_eq!(
        www,
        dns::Answer::Records { lines: vec![format!("www.{} 3600 A 192.0.2.2", names[ZONES - 1])], aa: true }
    );
    assert!(secondary.is_running() && primary.is_running());
}
