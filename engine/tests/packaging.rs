//! The files in `dist/` that an installation uses, checked against the binary:
//!
//! - `dist/shoal.toml` passes `shoal check`, and its paths are the unit's directories;
//! - `dist/shoal.service` carries its hardening (parsed as key=value pairs, and
//!   `systemd-analyze verify` when it is installed);
//! - a non-root `shoal` binds port 53 through an ambient `CAP_NET_BIND_SERVICE`, as the
//!   unit runs it, and cannot without it. This one needs root and `setpriv`
//!   (util-linux); without them it prints why and returns.
//!
//! Every process started here has a time limit and is stopped by PID on drop, also when
//! an assertion fails.

mod harness;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harness::process::run;
use harness::shoal::{self, Shoal, ShoalZone};
use harness::{dns, find_program, wait_until, TempDir};

/// `nobody` on Debian and most distributions.
const NOBODY: u32 = 65534;
/// How long the server may take to answer its first query.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may take to give up when it cannot bind.
const FAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// `dist/` at the workspace root.
fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("engine/ has a parent").join("dist")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Also pins that the parser knows the `[metrics]` and `[log]` sections the sample uses.
#[test]
fn dist_config_passes_shoal_check() {
    let dir = TempDir::new("packaging-check");
    let config = dist().join("shoal.toml");
    let mut cmd = shoal::command();
    cmd.arg("check").arg("--config").arg(&config);
    let output = run(cmd, dir.path(), "check");
    let (status, out) = (output.status, output.all());
    assert!(status.success(), "shoal check --config {} failed ({status}):\n{out}", config.display());
    assert!(out.contains("zone example.com.: ok"), "dist config should serve example.com.:\n{out}");
}

#[test]
fn dist_zone_is_the_bundled_example_zone() {
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones").join("example.com.zone");
    assert!(
        read(&dist().join("zones").join("example.com.zone")) == read(&bundled),
        "dist/zones/example.com.zone differs from engine/zones/example.com.zone; copy it again"
    );
}

/// `(section, key, value)` for every assignment of a unit file, in order.
fn parse_unit(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        assert!(!line.ends_with('\\'), "line {}: continuation lines are not expected: {line}", n + 1);
        let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("line {}: not key=value: {line}", n + 1));
        out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
    }
    out
}

/// The values of `key` in section `[Service]`.
fn service_values<'a>(unit: &'a [(String, String, String)], key: &str) -> Vec<&'a str> {
    unit.iter().filter(|(s, k, _)| s == "Service" && k == key).map(|(_, _, v)| v.as_str()).collect()
}

/// The system calls an allow-list `SystemCallFilter=` value names, with its `@groups`
/// expanded through `systemd-analyze syscall-filter` (groups nest).
fn expand_syscall_filter(analyze: &Path, filter: &str) -> std::collections::BTreeSet<String> {
    let dir = TempDir::new("packaging-filter");
    let mut cmd = Command::new(analyze);
    cmd.arg("syscall-filter");
    let output = run(cmd, dir.path(), "syscall-filter");
    let (status, out) = (output.status, output.stdout);
    assert!(status.success(), "systemd-analyze syscall-filter: {status}\n{out}{}", output.stderr);
    // Groups start in column 0 ("@name"); their members follow, indented.
    let mut groups: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut current = None;
    for line in out.lines() {
        if line.starts_with('@') {
            current = Some(line.trim().to_string());
        } else if let (Some(g), member) = (&current, line.trim()) {
            if !member.is_empty() && !member.starts_with('#') {
                groups.entry(g.clone()).or_default().push(member.to_string());
            }
        }
    }
    let mut allowed = std::collections::BTreeSet::new();
    let mut todo: Vec<String> = filter.split_whitespace().map(String::from).collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(item) = todo.pop() {
        if !seen.insert(item.clone()) {
            continue;
        }
        match groups.get(&item) {
            Some(members) => todo.extend(members.iter().cloned()),
            None if item.starts_with('@') => panic!("systemd-analyze does not know the group {item}"),
            None => {
                allowed.insert(item);
            }
        }
    }
    allowed
}

#[test]
fn unit_file_has_the_hardening_directives() {
    let path = dist().join("shoal.service");
    let text = read(&path);
    let unit = parse_unit(&text);
    let want = [
        ("ExecStart", "/usr/bin/shoal serve --config /etc/shoal/shoal.toml"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("KillSignal", "SIGTERM"),
        ("Restart", "on-failure"),
        ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
        ("AmbientCapabilities", "CAP_NET_BIND_SERVICE"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("RestrictNamespaces", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
        ("StateDirectory", "shoal"),
        ("RuntimeDirectory", "shoal"),
        ("ConfigurationDirectory", "shoal"),
    ];
    for (key, value) in want {
        assert_eq!(service_values(&unit, key), [value], "[Service] {key}= in {}", path.display());
    }
    for key in ["TimeoutStopSec", "LimitNOFILE"] {
        assert_eq!(service_values(&unit, key).len(), 1, "[Service] {key}= set once in {}", path.display());
    }
    let fixed_user = service_values(&unit, "User") == ["shoal"] && service_values(&unit, "Group") == ["shoal"];
    let dynamic_user = service_values(&unit, "DynamicUser") == ["yes"];
    assert!(fixed_user != dynamic_user, "exactly one of User=shoal/Group=shoal or DynamicUser=yes");

    // Worker pinning (sched_setaffinity) and batched UDP I/O (recvmmsg/sendmmsg) must
    // stay allowed by any system call filter.
    let needed = ["sched_setaffinity", "recvmmsg", "sendmmsg"];
    for filter in service_values(&unit, "SystemCallFilter") {
        if let Some(denied) = filter.strip_prefix('~') {
            for d in denied.split_whitespace() {
                assert!(
                    !["@resources", "@network-io"].contains(&d) && !needed.contains(&d),
                    "SystemCallFilter=~{denied} forbids what Shoal needs ({needed:?})"
                );
            }
        } else if let Some(analyze) = find_program("systemd-analyze") {
            let allowed = expand_syscall_filter(&analyze, filter);
            for s in needed {
                assert!(allowed.contains(s), "SystemCallFilter={filter} does not allow {s}");
            }
        }
    }

    let Some(analyze) = find_program("systemd-analyze") else {
        eprintln!("systemd-analyze not installed: unit checked by parsing only");
        return;
    };
    // `verify` insists that ExecStart's program exists: point it at the binary under test.
    let dir = TempDir::new("packaging-verify");
    let copy = dir.path().join("shoal.service");
    std::fs::write(&copy, text.replace("/usr/bin/shoal", &shoal::bin().to_string_lossy())).expect("write unit copy");
    let mut cmd = Command::new(&analyze);
    cmd.arg("verify").arg(&copy);
    let output = run(cmd, dir.path(), "verify");
    let (status, out) = (output.status, output.all());
    let complaints: Vec<&str> = out.lines().filter(|l| l.contains("shoal.service")).collect();
    assert!(status.success() && complaints.is_empty(), "systemd-analyze verify {} ({status}):\n{out}", path.display());
}

#[test]
fn dist_config_paths_are_the_unit_directories() {
    let unit = parse_unit(&read(&dist().join("shoal.service")));
    let config: toml::Table = read(&dist().join("shoal.toml")).parse().expect("dist/shoal.toml is TOML");
    let get = |section: &str, key: &str| -> String {
        config
            .get(section)
            .and_then(|s| s.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("dist/shoal.toml: no [{section}] {key}"))
            .to_string()
    };
    let state = format!("/var/lib/{}", service_values(&unit, "StateDirectory")[0]);
    assert_eq!(get("server", "state_dir"), state, "state_dir is the unit's StateDirectory");
    let runtime = format!("/run/{}/", service_values(&unit, "RuntimeDirectory")[0]);
    assert!(get("control", "socket").starts_with(&runtime), "control socket is in the unit's RuntimeDirectory");
    let conf = format!("--config /etc/{}/shoal.toml", service_values(&unit, "ConfigurationDirectory")[0]);
    assert!(service_values(&unit, "ExecStart")[0].ends_with(&conf), "ExecStart reads the ConfigurationDirectory");
}

/// Why other users (the "o" mode bits) cannot read and run or enter `path`, if they
/// cannot: every directory above it needs o+x, `path` itself o+rx.
fn closed_to_others(path: &Path) -> Option<String> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|e| panic!("canonicalize {}: {e}", path.display()));
    let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
    if mode & 0o005 != 0o005 {
        return Some(format!("{} is mode {:o}, needs o+rx", path.display(), mode & 0o7777));
    }
    for dir in path.ancestors().skip(1) {
        let mode = std::fs::metadata(dir).expect("metadata").permissions().mode();
        if mode & 0o001 == 0 {
            return Some(format!("directory {} is mode {:o}, needs o+x", dir.display(), mode & 0o7777));
        }
    }
    None
}

/// A loopback address other than 127.0.0.1 (and systemd-resolved's .53 and .54) whose
/// port 53 is free for UDP and TCP right now.
fn free_loopback_53() -> SocketAddr {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut rng = harness::XorShift::new(u64::from(nanos) ^ (u64::from(std::process::id()) << 32));
    for _ in 0..50 {
        let last = 2 + rng.below(249) as u8;
        if last == 53 || last == 54 {
            continue;
        }
        let addr = SocketAddr::from((Ipv4Addr::new(127, 0, 0, last), 53));
        if UdpSocket::bind(addr).is_ok() && TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no 127.0.0.x:53 free for UDP and TCP after 50 attempts");
}

/// The response's (rcode, ANCOUNT), if `reply` answers query `id`.
fn rcode_and_ancount(reply: &[u8], id: u16) -> Option<(u8, u16)> {
    let header = reply.get(..12)?;
    let is_response = header[2] & 0x80 != 0;
    (header[..2] == id.to_be_bytes() && is_response)
        .then(|| (header[3] & 0x0f, u16::from_be_bytes([header[6], header[7]])))
}

/// The value of a `Name:\tvalue` line of /proc/PID/status.
fn proc_status(pid: u32, name: &str) -> String {
    let text = read(Path::new(&format!("/proc/{pid}/status")));
    let prefix = format!("{name}:");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().to_string()).unwrap_or_default()
}

#[test]
fn non_root_binds_port_53_only_with_ambient_net_bind_service() {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: not running as root (needed to switch to uid {NOBODY} with setpriv)");
        return;
    }
    let Some(setpriv) = find_program("setpriv") else {
        eprintln!("SKIPPED: setpriv (util-linux) not installed");
        return;
    };
    let addr = free_loopback_53();
    // The state directory belongs to nobody; the rest is readable by everyone.
    let mut server = Shoal::builder("packaging-cap").listen(addr).zone(ShoalZone::primary("example.com.")).build();
    let dir = server.dir().to_path_buf();
    let (zones, state) = (server.zones_dir(), dir.join("state"));
    std::fs::create_dir_all(&state).expect("create state dir");
    let zone = server.zone_file("example.com.");
    std::fs::copy(dist().join("zones").join("example.com.zone"), &zone).expect("copy zone");
    let config = server.config().to_path_buf();
    // The binary is installed beside the config, as the package puts it in /usr/bin: the
    // build tree may sit in a folder uid 65534 cannot enter (a checkout in a 0700 dir).
    let bin = dir.join("shoal");
    std::fs::copy(shoal::bin(), &bin).expect("copy the shoal binary");
    for (path, mode) in [
        (dir.as_path(), 0o755),
        (zones.as_path(), 0o755),
        (zone.as_path(), 0o644),
        (config.as_path(), 0o644),
        (bin.as_path(), 0o755),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    std::os::unix::fs::chown(&state, Some(NOBODY), Some(NOBODY)).expect("chown state dir to nobody");
    if let Some(why) = closed_to_others(&dir) {
        panic!("uid {NOBODY} cannot reach the temp dir {}: {why}; set TMPDIR to one it can", dir.display());
    }

    let command = |with_cap: bool| {
        let mut cmd = Command::new(&setpriv);
        cmd.arg(format!("--reuid={NOBODY}")).arg(format!("--regid={NOBODY}")).arg("--clear-groups");
        if with_cap {
            cmd.arg("--inh-caps=+net_bind_service").arg("--ambient-caps=+net_bind_service");
        }
        cmd.arg(&bin).args(server.serve_args());
        cmd
    };
    let (without_cap, with_cap) = (command(false), command(true));

    // Without the capability: the bind is refused and the server exits with an error.
    // (Skipped where unprivileged processes may bind low ports anyway.)
    let unprivileged_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1024);
    if unprivileged_start <= 53 {
        eprintln!(
            "net.ipv4.ip_unprivileged_port_start is {unprivileged_start}: anyone may bind port 53 here, \
             so the check that it fails without the capability is skipped"
        );
    } else {
        server.launch(without_cap);
        let status = server.wait_exit(FAIL_TIMEOUT);
        let log = server.tail();
        match status {
            Some(s) => assert!(
                !s.success() && !server.log_has(&["cannot start"]).is_empty(),
                "without CAP_NET_BIND_SERVICE, shoal should fail to bind {addr} ({s}):\n{log}"
            ),
            None => panic!("without CAP_NET_BIND_SERVICE, shoal still runs after {FAIL_TIMEOUT:?} on {addr}:\n{log}"),
        }
    }

    // With the ambient capability, as the unit runs it: it binds and answers.
    server.launch(with_cap);
    let mut id: u16 = 0x3500;
    let answer = wait_until(READY_TIMEOUT, || {
        if let Some(s) = server.exit_status() {
            panic!("shoal exited ({s}) instead of serving {addr} as uid {NOBODY}:\n{}", server.tail());
        }
        id = id.wrapping_add(1);
        dns::udp_exchange(addr, &dns::query(id, "www.example.com.", dns::TYPE_A))
            .and_then(|reply| rcode_and_ancount(&reply, id))
    })
    .unwrap_or_else(|| panic!("no answer from {addr} after {READY_TIMEOUT:?}:\n{}", server.tail()));
    assert_eq!(answer.0, 0, "www.example.com. A: rcode {} instead of NOERROR", answer.0);
    assert!(answer.1 >= 1, "www.example.com. A: no answer records");

    let pid = server.pid();
    let uids = proc_status(pid, "Uid");
    assert!(uids.split_whitespace().all(|u| u == NOBODY.to_string()), "pid {pid} runs as Uid {uids}");
    let effective = u64::from_str_radix(&proc_status(pid, "CapEff"), 16).expect("CapEff is hex");
    assert_eq!(effective, 1 << 10, "pid {pid}: effective capabilities are only CAP_NET_BIND_SERVICE (bit 10)");

    let status = server.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "shoal did not exit cleanly on SIGTERM ({status:?}):\n{}",
        server.tail()
    );
}
