//! Time ZONEMD verification against a plain load of the same zone file:
//! `cargo run --release -p shoal-benches --example zonemd_verify -- FILE [APEX] [ROUNDS]`.
//!
//! Loads FILE (a master file of APEX, default `bench.test.`, such as
//! `scripts/lib/benchzone.py` writes), computes its SHA-384 digest, writes the zone with
//! that digest as its apex ZONEMD next to FILE (`FILE.zonemd`), loads that and verifies
//! it. Each step is timed ROUNDS times (default 3); the median and range are printed,
//! with the time the canonical ordering of the nodes takes within a digest.

use shoal_wire::name::from_ascii;
use shoal_zonedb::audit::order::sorted_nodes;
use shoal_zonedb::audit::zonemd::{digest, hex, verify, ZonemdHash, ZonemdOutcome};
use std::path::Path;
use std::time::{Duration, Instant};

// The allocator the server uses, so the figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run `f` `rounds` times: its last result and the times taken.
fn timed<T>(rounds: usize, mut f: impl FnMut() -> T) -> (T, Vec<Duration>) {
    let mut times = Vec::with_capacity(rounds);
    let mut last = None;
    for _ in 0..rounds {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (last.expect("at least one round"), times)
}

fn show(what: &str, times: &[Duration]) {
    println!(
        "{what:<34} median {:>8.3} s  (min {:.3}, max {:.3}, {} rounds)",
        times[times.len() / 2].as_secs_f64(),
        times[0].as_secs_f64(),
        times[times.len() - 1].as_secs_f64(),
        times.len()
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args.next().expect("usage: zonemd_verify FILE [APEX] [ROUNDS]");
    let apex = from_ascii(&args.next().unwrap_or_else(|| "bench.test.".into())).expect("a valid apex");
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3).max(1);
    let path = Path::new(&file);

    let (zone, load) = timed(rounds, || shoal_zonedb::load_zone(&apex, path).expect("a valid zone"));
    println!("{}: {} records, serial {}", path.display(), zone.record_count(), zone.serial());
    let (_, order) = timed(rounds, || sorted_nodes(&zone).len());
    let (sha384, compute) = timed(rounds, || digest(&zone, ZonemdHash::Sha384));
    let (_, compute512) = timed(rounds, || digest(&zone, ZonemdHash::Sha512));

    let mut text = std::fs::read_to_string(path).expect("read the zone");
    text.push_str(&format!("{} 3600 IN ZONEMD {} 1 1 {}\n", apex, zone.serial(), hex(&sha384)));
    let with_zonemd = format!("{file}.zonemd");
    std::fs::write(&with_zonemd, text).expect("write the zone with its ZONEMD");
    drop(zone);
    let (zone, load_zonemd) =
        timed(rounds, || shoal_zonedb::load_zone(&apex, Path::new(&with_zonemd)).expect("a valid zone"));
    let (outcome, verified) = timed(rounds, || verify(&zone));
    assert!(matches!(outcome, Ok(ZonemdOutcome::Verified { .. })), "{outcome:?}");

    show("load (parse and compile)", &load);
    show("load, the file with its ZONEMD", &load_zonemd);
    show("canonical order of the nodes", &order);
    show("digest SHA-384 (compute only)", &compute);
    show("digest SHA-512 (compute only)", &compute512);
    show("verify (SHA-384 ZONEMD)", &verified);
}
