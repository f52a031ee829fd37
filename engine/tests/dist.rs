//! The fleet-health files in `dist/`, checked against the server's metrics:
//!
//! - `dist/prometheus/shoal-alerts.yml` passes `promtool check rules`, and its unit
//!   tests (`shoal-alerts.test.yml`) pass `promtool test rules`, where promtool (Debian
//!   package `prometheus`) is installed; without it the test prints that it skipped;
//! - every metric the rules and `dist/grafana/shoal-fleet.json` name is one the server
//!   writes (a string literal in `engine/src`), so a renamed family breaks this test
//!   rather than an operator's dashboard;
//! - the dashboard is JSON that Grafana can import: panels with unique ids, each query
//!   with a data source.
//!
//! promtool runs with a time limit and is killed past it.

mod harness;

use harness::find_program;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one promtool run may take (it takes well under a second).
const PROMTOOL_TIMEOUT: Duration = Duration::from_secs(60);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("engine/ has a parent").to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Run `cmd` in `dir` for at most `PROMTOOL_TIMEOUT`: (success, stdout + stderr).
fn run_limited(mut cmd: Command, dir: &Path) -> (bool, String) {
    let out = std::env::temp_dir().join(format!("shoal-dist-{}-{:?}", std::process::id(), Instant::now()));
    let file = std::fs::File::create(&out).expect("create output file");
    cmd.current_dir(dir).stdin(Stdio::null()).stdout(file.try_clone().expect("dup")).stderr(file);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    let deadline = Instant::now() + PROMTOOL_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    match status {
        Some(s) => (s.success(), text),
        None => (false, format!("{cmd:?} killed after {PROMTOOL_TIMEOUT:?}\n{text}")),
    }
}

/// Every `shoal_...` metric name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("shoal_") {
        let tail = &rest[i..];
        let len =
            tail.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')).unwrap_or(tail.len());
        names.insert(tail[..len].to_string());
        rest = &tail[len..];
    }
    names
}

/// The text of every Rust file under `engine/src`.
fn server_source() -> String {
    let mut text = String::new();
    let mut todo = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&read(&path));
            }
        }
    }
    text
}

/// The names in `names` that the server does not write: a family is written under its
/// name as a string literal; a histogram's `_bucket`, `_sum` and `_count` series are
/// formatted from the family's name.
fn unexported(names: &BTreeSet<String>) -> Vec<String> {
    let source = server_source();
    let literal = |n: &str| source.contains(&format!("\"{n}\""));
    names
        .iter()
        .filter(|n| {
            let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| n.strip_suffix(s)).unwrap_or(n);
            !literal(n) && !literal(family)
        })
        .cloned()
        .collect()
}

fn rules_path() -> PathBuf {
    workspace().join("dist/prometheus/shoal-alerts.yml")
}

fn dashboard_path() -> PathBuf {
    workspace().join("dist/grafana/shoal-fleet.json")
}

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    let Some(promtool) = find_program("promtool") else {
        eprintln!("SKIPPED: promtool not installed (Debian package prometheus): alert rules not checked by promtool");
        return;
    };
    let dir = workspace().join("dist/prometheus");
    let mut check = Command::new(&promtool);
    check.args(["check", "rules", "shoal-alerts.yml"]);
    let (ok, out) = run_limited(check, &dir);
    assert!(ok, "promtool check rules dist/prometheus/shoal-alerts.yml failed:\n{out}");
    assert!(out.contains("SUCCESS"), "promtool check rules said:\n{out}");
    let mut test = Command::new(&promtool);
    test.args(["test", "rules", "shoal-alerts.test.yml"]);
    let (ok, out) = run_limited(test, &dir);
    assert!(ok, "promtool test rules dist/prometheus/shoal-alerts.test.yml failed:\n{out}");
}

#[test]
fn alert_rules_cover_fleet_health_and_name_only_exported_metrics() {
    let text = read(&rules_path());
    // Comments name families by pattern (`shoal_zone_*`); the rules name them whole.
    let rules: String = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let names = metric_names(&rules);
    for needed in [
        "shoal_zone_up",
        "shoal_zone_expire_timestamp_seconds",
        "shoal_zone_primary_serial",
        "shoal_zone_serial",
        "shoal_zone_last_refresh_timestamp_seconds",
        "shoal_zone_next_refresh_timestamp_seconds",
        "shoal_xfr_in_failures_total",
        "shoal_zone_refresh_consecutive_failures",
        "shoal_notify_refused_total",
        "shoal_catalog_members_refused_total",
        "shoal_catalog_members",
    ] {
        assert!(names.contains(needed), "no rule uses {needed}; the rules use {names:?}");
    }
    let missing = unexported(&names);
    assert!(missing.is_empty(), "shoal-alerts.yml names metrics the server does not write: {missing:?}");
    for alert in ["ShoalZoneNotServed", "ShoalZoneExpiringSoon", "ShoalZoneSerialBehindPrimary", "ShoalNotifyRefused"] {
        assert!(text.contains(&format!("alert: {alert}\n")), "no alert {alert}");
    }
}

/// Every string under the key `key`, anywhere in `v`.
fn strings_under<'a>(v: &'a serde_json::Value, key: &str, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match v {
                    serde_json::Value::String(s) if k == key => out.push(s),
                    _ => strings_under(v, key, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings_under(v, key, out)),
        _ => {}
    }
}

#[test]
fn dashboard_is_grafana_json_over_exported_metrics() {
    let text = read(&dashboard_path());
    let dash: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("dist/grafana/shoal-fleet.json is not JSON: {e}"));
    assert_eq!(dash["uid"], "shoal-fleet");
    assert!(dash["schemaVersion"].as_u64().is_some(), "no schemaVersion");
    let panels = dash["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for p in panels {
        let id = p["id"].as_u64().unwrap_or_else(|| panic!("panel without id: {}", p["title"]));
        assert!(ids.insert(id), "panel id {id} used twice");
        assert!(p["gridPos"]["w"].as_u64().is_some_and(|w| (1..=24).contains(&w)), "panel {id}: gridPos.w");
        if p["type"] != "row" {
            let targets = p["targets"].as_array().unwrap_or_else(|| panic!("panel {id} has no targets"));
            assert!(!targets.is_empty(), "panel {id} has no queries");
            for t in targets {
                assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()), "panel {id}: a query without expr");
                assert!(t["datasource"]["uid"].is_string(), "panel {id}: a query without data source");
            }
        }
    }
    let mut exprs = Vec::new();
    strings_under(&dash, "expr", &mut exprs);
    strings_under(&dash, "definition", &mut exprs);
    let names = metric_names(&exprs.join("\n"));
    for needed in ["shoal_zone_up", "shoal_zone_primary_serial", "shoal_xfr_in_failures_total", "shoal_catalog_members"]
    {
        assert!(names.contains(needed), "the dashboard does not show {needed}");
    }
    let missing = unexported(&names);
    assert!(missing.is_empty(), "shoal-fleet.json names metrics the server does not write: {missing:?}");
}
