//! `shoal ctl` against a running primary/secondary pair, and against a stopped server:
//! every command, text and JSON output, exit statuses.

#[path = "xfr/mod.rs"]
mod xfr;

use std::process::Command;
use xfr::shoal::{Shoal, ShoalZone};
use xfr::{free_port, wait_until, write_zone_file, zone, WAIT};

const ZONE: &str = "ctl.test.";

/// Run `shoal ctl --config CONFIG ARGS…`: (exit success, stdout, stderr).
fn ctl(shoal: &Shoal, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .arg("ctl")
        .arg("--config")
        .arg(shoal.dir().join("shoal.toml"))
        .args(args)
        .output()
        .expect("run shoal ctl");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn every_ctl_command_on_a_primary_and_secondary_pair() {
    let _guard = xfr::serial_guard();
    let mut primary =
        Shoal::new("ctl-primary", free_port(), &[ShoalZone::primary(ZONE).with("allow_transfer = [\"127.0.0.1\"]")]);
    write_zone_file(&primary.zone_file(ZONE), &zone::small_text(ZONE, 1, 1));
    primary.start();
    let mut secondary = Shoal::new("ctl-secondary", free_port(), &[ShoalZone::secondary(ZONE, primary.addr)]);
    secondary.start();
    secondary.wait_serial(ZONE, 1);

    let (ok, out, _) = ctl(&secondary, &["status"]);
    assert!(ok && out.contains("running") && out.contains("1 of 1 zones served"), "{out}");
    let (ok, out, _) = ctl(&secondary, &["zone-status", ZONE]);
    assert!(ok && out.contains("role=secondary") && out.contains("state=served") && out.contains("serial=1"), "{out}");
    let (ok, out, _) = ctl(&secondary, &["--json", "zone-status"]);
    assert!(ok, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(json[0]["zone"], ZONE);
    assert_eq!(json[0]["serial"], 1);
    assert_eq!(json[0]["primaries"][0], primary.addr.to_string());

    // A new version on the primary, pulled by zone-refresh (the primary has no notify).
    write_zone_file(&primary.zone_file(ZONE), &zone::small_text(ZONE, 2, 2));
    let (ok, out, _) = ctl(&primary, &["reload"]);
    assert!(ok && out.contains("reload"), "{out}");
    primary.wait_serial(ZONE, 2);
    let (ok, out, _) = ctl(&secondary, &["zone-refresh", ZONE]);
    assert!(ok, "{out}");
    secondary.wait_serial(ZONE, 2);
    secondary.wait_log(&["transfer in done", "kind=\"IXFR\""]);

    // zone-retransfer forces AXFR even at the same serial.
    let (ok, _, _) = ctl(&secondary, &["zone-retransfer", ZONE]);
    assert!(ok);
    secondary.wait_log(&["transfer in done", "kind=\"AXFR\"", "serials=\"2 -> 2\""]);
    let (ok, out, _) = ctl(&primary, &["zone-notify", ZONE]);
    assert!(ok && out.contains("NOTIFY"), "{out}");

    // Errors: a primary zone cannot be refreshed, an unknown zone or command is refused.
    let (ok, _, err) = ctl(&primary, &["zone-refresh", ZONE]);
    assert!(!ok && err.contains("not a secondary"), "{err}");
    let (ok, _, err) = ctl(&primary, &["zone-status", "nope.test."]);
    assert!(!ok && err.contains("no zone"), "{err}");
    let (ok, _, err) = ctl(&primary, &["frobnicate"]);
    assert!(!ok && err.contains("unknown command"), "{err}");

    // stop, then the same command against the stopped server.
    let (ok, _, _) = ctl(&secondary, &["stop"]);
    assert!(ok);
    assert!(wait_until(WAIT, || (!secondary.is_running()).then_some(())).is_some(), "stopped by ctl stop");
    let (ok, _, err) = ctl(&secondary, &["status"]);
    assert!(!ok && err.contains("is shoal running?"), "{err}");
}
