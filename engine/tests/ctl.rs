//! `shoal ctl` against a running primary/secondary pair, and against a stopped server:
//! every command, text and JSON output, exit statuses.

mod harness;

use harness::shoal::{Shoal, ShoalZone};
use harness::{wait_until, zone, WAIT};

const ZONE: &str = "ctl.test.";

/// Run `shoal ctl --config CONFIG ARGS…` (bounded): (exit success, stdout, stderr).
fn ctl(shoal: &Shoal, args: &[&str]) -> (bool, String, String) {
    let out = shoal.ctl(args);
    (out.status.success(), out.stdout, out.stderr)
}

#[test]
fn every_ctl_command_on_a_primary_and_secondary_pair() {
    let _guard = harness::serial_guard();
    let mut primary =
        Shoal::builder("ctl-primary").zone(ShoalZone::primary(ZONE).with("allow_transfer = [\"127.0.0.1\"]")).build();
    primary.write_zone(ZONE, &zone::small_text(ZONE, 1, 1));
    primary.start();
    let mut secondary = Shoal::builder("ctl-secondary").zone(ShoalZone::secondary(ZONE, primary.addr)).start();
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
    primary.write_zone(ZONE, &zone::small_text(ZONE, 2, 2));
    let (ok, out, _) = ctl(&primary, &["reload"]);
    assert!(ok && out.contains("reload"), "{out}");
    primary.wait_serial(ZONE, 2);
    let (ok, out, _) = ctl(&secondary, &["zone-status", ZONE]);
    assert!(ok && out.contains("primary_serial=1 drift=0"), "not checked since the primary's reload: {out}");
    let (ok, out, _) = ctl(&secondary, &["zone-refresh", ZONE]);
    assert!(ok, "{out}");
    secondary.wait_serial(ZONE, 2);
    secondary.wait_log(&["transfer in done", "kind=\"IXFR\""]);
    let (ok, out, _) = ctl(&secondary, &["zone-status", ZONE]);
    assert!(ok && out.contains("serial=2") && out.contains("primary_serial=2 drift=0"), "{out}");

    // zone-read shows what the secondary serves now, as the primary does.
    let (ok, out, _) = ctl(&secondary, &["zone-read", ZONE]);
    assert!(ok, "{out}");
    assert!(
        out.starts_with(&format!("{ZONE} 3600 IN SOA ns1.{ZONE} hostmaster.{ZONE} 2 7200 3600 1209600 300\n")),
        "{out}"
    );
    assert!(out.contains(&format!("www.{ZONE} 3600 IN A 192.0.2.2\n")), "{out}");
    assert_eq!(out, ctl(&primary, &["zone-read", ZONE]).1, "both hold the same records");
    let (ok, out, _) = ctl(&secondary, &["--json", "zone-read", ZONE, "www", "A"]);
    assert!(ok, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(
        (json[0]["owner"].as_str(), json[0]["rdata"].as_str()),
        (Some(&*format!("www.{ZONE}")), Some("192.0.2.2"))
    );
    let (ok, _, err) = ctl(&secondary, &["zone-read", "nope.test."]);
    assert!(!ok && err.contains("no zone"), "{err}");

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
