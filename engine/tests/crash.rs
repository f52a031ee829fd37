//! Crash consistency of a secondary: `kill -9` at random moments during a stream of
//! IXFRs never loses a version that was served, and never leaves state that a restart
//! cannot read.
//!
//! A Shoal primary publishes a new serial every few milliseconds (reloads of its zone
//! file) and NOTIFYs a Shoal secondary with a small journal (`ixfr_journal = 4`, so the
//! copy is also written again in the background, and the journal trimmed, all the
//! time). Each run kills the secondary at a random moment, just after checking which
//! serial it serves; stops the primary, so that the restarted secondary can only serve
//! what it kept; restarts it and checks that it serves at least that serial, from a
//! state directory it reads without complaint; then starts the primary again.
//!
//! `SHOAL_CRASH_RUNS` sets the number of runs (default 25; 100 for the figure).

mod harness;

use harness::shoal::{Shoal, ShoalZone};
use harness::{dns, serial_guard, wait_until, zone, XorShift, WAIT};
use std::time::Duration;

const ZONE: &str = "crash.test.";

fn text(serial: u32) -> String {
    let hosts: String = (0..200).map(|i| format!("h{i} IN A 10.0.{}.{}\n", i / 250, i % 250)).collect();
    zone::small_text(ZONE, serial, serial % 250) + &hosts
}

#[test]
fn a_secondary_killed_at_random_moments_keeps_every_version_it_served() {
    let _serial = serial_guard();
    let runs: usize = std::env::var("SHOAL_CRASH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(25);
    let port = harness::free_port();
    let mut primary = Shoal::builder("crash-primary")
        .server("drain_timeout = 0")
        .zone(
            ShoalZone::primary(ZONE)
                .with("allow_transfer = [\"127.0.0.1\"]")
                .with(&format!("notify = [\"127.0.0.1:{port}\"]")),
        )
        .build();
    let mut serial = 1;
    primary.write_zone(ZONE, &text(serial));
    primary.start();
    primary.wait_serial(ZONE, serial);
    let mut secondary = Shoal::builder("crash-secondary")
        .port(port)
        .server("drain_timeout = 0")
        .zone(ShoalZone::secondary(ZONE, primary.addr).with("ixfr_journal = 4"))
        .start();
    secondary.wait_serial(ZONE, serial);
    let mut rng = XorShift::new(0x5eed_c4a5);
    let (mut replays, mut replayed_before) = (0, 0);
    for run in 0..runs {
        // A few new versions, then the kill at a random moment among them.
        let changes = 1 + rng.below(4);
        let mut seen = 0;
        for _ in 0..changes {
            serial += 1;
            // Written in place, not through `write_zone` (which waits for a new second
            // for servers that compare whole seconds): Shoal sees the new mtime.
            std::fs::write(primary.zone_file(ZONE), text(serial)).expect("write the zone file");
            primary.reload();
            std::thread::sleep(Duration::from_millis(rng.below(25)));
            seen = seen.max(dns::soa_serial(secondary.addr, ZONE).unwrap_or(0));
        }
        secondary.signal(libc::SIGKILL);
        assert!(secondary.wait_exit(WAIT).is_some(), "run {run}: the secondary did not die");
        primary.stop();
        secondary.start();
        let served = wait_until(WAIT, || dns::soa_serial(secondary.addr, ZONE));
        let served = served.unwrap_or_else(|| panic!("run {run}: no answer after the restart\n{}", secondary.tail()));
        assert!(
            served >= seen && served <= serial,
            "run {run}: serves {served} after the restart; it had served {seen}, the primary was at {serial}\n{}",
            secondary.tail()
        );
        // What the killed process was writing is gone (nothing is written while the
        // primary is down).
        let state = secondary.dir().join("state");
        let temporaries: Vec<String> = std::fs::read_dir(&state)
            .expect("the state directory")
            .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(temporaries.is_empty(), "run {run}: left in {}: {temporaries:?}", state.display());
        for bad in ["damaged", "cannot save", "cannot write", "does not apply"] {
            let lines = secondary.log_has(&[bad]);
            assert!(lines.is_empty(), "run {run}: {lines:?}\n{}", secondary.tail());
        }
        let replayed = secondary.log_has(&["journal replayed"]).len();
        replays += usize::from(replayed > replayed_before);
        replayed_before = replayed;
        primary.start();
        primary.wait_serial(ZONE, serial);
        // The restarted secondary found its primary down; ask it to check now.
        let out = secondary.ctl(&["zone-refresh", ZONE]);
        assert!(out.status.success(), "run {run}: zone-refresh: {out:?}");
        secondary.wait_serial(ZONE, serial);
    }
    println!("{runs} kills; the journal was replayed after {replays} of them");
}
