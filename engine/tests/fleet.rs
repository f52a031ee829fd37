//! A fleet in network namespaces: `scripts/fleet.sh --short` with this build's `shoal`
//! as the three secondaries behind dnsdist (issue 19, scenarios 1 and 3): a change on the
//! Knot primary reaches every member, and a member killed with SIGKILL costs queries
//! through dnsdist only until its health checks take it out; restarted, it serves its
//! copy without a transfer and rejoins.
//!
//! It needs root, `ip` (iproute2), `nft` (nftables), `tc`, Knot and dnsdist, and a kernel
//! that lets it make network namespaces (a container may not): without them it prints
//! `SKIPPED:` and why, and passes. `scripts/test.sh` installs the packages, so CI, which
//! runs as root, runs it. The script has its own time limits; this test kills it after
//! `SCRIPT_TIMEOUT` (by its process group, so its children go too) and its trap removes
//! the namespaces.

mod harness;

use harness::find_program;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The short run takes about 20 s; a busy 2-core machine gets ample room.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);
/// `scripts/fleet.sh` exits with this when it cannot run here (and says why).
const SKIP_STATUS: i32 = 77;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("engine/ has a parent").to_path_buf()
}

/// Why the fleet cannot run here, if it cannot.
fn cannot_run() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.as_deref() != Some("0") {
        return Some("not running as root (network namespaces need it)".into());
    }
    for (tool, package) in [
        ("ip", "iproute2"),
        ("nft", "nftables"),
        ("tc", "iproute2"),
        ("knotd", "knot"),
        ("knotc", "knot"),
        ("dnsdist", "dnsdist"),
        ("python3", "python3"),
    ] {
        if find_program(tool).is_none() {
            return Some(format!("{tool} not installed (Debian package {package}; scripts/test.sh installs it)"));
        }
    }
    let ip = find_program("ip").expect("found above");
    let name = format!("shoal-fleet-test-{}", std::process::id());
    let added = Command::new(&ip).args(["netns", "add", &name]).stderr(Stdio::piped()).output();
    match added {
        Ok(o) if o.status.success() => {
            let _ = Command::new(&ip).args(["netns", "delete", &name]).status();
            None
        }
        Ok(o) => Some(format!("`ip netns add` fails: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Some(format!("`ip netns add` cannot run: {e}")),
    }
}

#[test]
fn fleet_short_change_converges_and_a_killed_member_costs_only_the_health_check_window() {
    if let Some(why) = cannot_run() {
        eprintln!("SKIPPED: the fleet test needs network namespaces: {why}");
        return;
    }
    let out = std::env::temp_dir().join(format!("shoal-fleet-{}", std::process::id()));
    let log = out.join("run.log");
    std::fs::create_dir_all(&out).expect("create output folder");
    let file = std::fs::File::create(&log).expect("create log");
    let mut cmd = Command::new("bash");
    cmd.arg(workspace().join("scripts/fleet.sh"))
        .arg("--short")
        .env("SHOAL_BIN", env!("CARGO_BIN_EXE_shoal"))
        .env("OUT", &out)
        .env("PATH", format!("{}:/usr/local/sbin:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default()))
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("dup"))
        .stderr(file)
        .process_group(0);
    let mut child = cmd.spawn().expect("start scripts/fleet.sh");
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            // SIGTERM to the group: the script's trap stops its servers and removes the
            // namespaces; SIGKILL after 10 s if it has not.
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let stop_by = Instant::now() + Duration::from_secs(10);
            while child.try_wait().expect("wait").is_none() && Instant::now() < stop_by {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let Some(status) = status else {
        panic!("scripts/fleet.sh --short did not finish within {SCRIPT_TIMEOUT:?}:\n{text}");
    };
    if status.code() == Some(SKIP_STATUS) {
        eprintln!("SKIPPED: scripts/fleet.sh cannot run here:\n{text}");
        return;
    }
    eprintln!("{text}");
    assert!(status.success(), "scripts/fleet.sh --short failed ({status}); logs in {}:\n{text}", out.display());
    let table = std::fs::read_to_string(out.join("fleet.tsv")).expect("fleet.tsv");
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split('\t').collect()).collect();
    for scenario in ["1 one change", "3 secondary s2 killed", "3 s2 restarted"] {
        let row = rows
            .iter()
            .find(|r| r[0].starts_with(scenario))
            .unwrap_or_else(|| panic!("no row for scenario {scenario:?} in:\n{table}"));
        assert_eq!(row.get(3).copied(), Some("ok"), "scenario {scenario:?} failed its check: {row:?}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
