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

mod support;

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::{find_program, TempDir};

/// `nobody` on Debian and most distributions.
const NOBODY: u32 = 65534;
/// How long a command may run (`shoal check`, `systemd-analyze verify`). Generous: 2
/// busy cores.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to answer its first query.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may take to give up when it cannot bind.
const FAIL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

fn shoal_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shoal"))
}

/// `dist/` at the workspace root.
fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("engine/ has a parent").join("dist")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A child process, stopped by PID on drop: SIGTERM, a bounded wait, then SIGKILL.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    /// Start `cmd` with stdout and stderr going to `log`.
    fn spawn(cmd: &mut Command, log: &Path) -> Running {
        let out = File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        Running { child, log: log.to_path_buf() }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, if the process exits within `limit`.
    fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, wait up to [`STOP_TIMEOUT`], then SIGKILL. Returns the status if the
    /// process exited on SIGTERM.
    fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        // SAFETY: kill(2) has no memory-safety preconditions; the PID is our child,
        // not yet reaped, so it cannot name another process.
        unsafe { libc::kill(self.pid() as libc::pid_t, libc::SIGTERM) };
        let status = self.wait_for(STOP_TIMEOUT);
        if status.is_none() {
            eprintln!("pid {} ignored SIGTERM for {STOP_TIMEOUT:?}; killing", self.pid());
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        status
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Run a command to completion within [`COMMAND_TIMEOUT`]; returns its status and its
/// combined output.
fn run(cmd: &mut Command, dir: &Path, tag: &str) -> (ExitStatus, String) {
    let mut p = Running::spawn(cmd, &dir.join(format!("{tag}.log")));
    let status = p.wait_for(COMMAND_TIMEOUT);
    let log = p.log();
    match status {
        Some(s) => (s, log),
        None => panic!("{cmd:?} still running after {COMMAND_TIMEOUT:?}\n{log}"),
    }
}

/// Also pins that the parser knows the `[metrics]` and `[log]` sections the sample uses.
#[test]
fn dist_config_passes_shoal_check() {
    let dir = TempDir::new("packaging-check");
    let config = dist().join("shoal.toml");
    let (status, out) = run(Command::new(shoal_bin()).arg("check").arg("--config").arg(&config), dir.path(), "check");
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
    let (status, out) = run(Command::new(analyze).arg("syscall-filter"), dir.path(), "syscall-filter");
    assert!(status.success(), "systemd-analyze syscall-filter: {status}\n{out}");
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
    std::fs::write(&copy, text.replace("/usr/bin/shoal", &shoal_bin().to_string_lossy())).expect("write unit copy");
    let (status, out) = run(Command::new(&analyze).arg("verify").arg(&copy), dir.path(), "verify");
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
    let mut rng = support::XorShift::new(u64::from(nanos) ^ (u64::from(std::process::id()) << 32));
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

/// An A query for www.example.com., no EDNS.
fn a_query(id: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in ["www", "example", "com"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
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
    let tmp = TempDir::new("packaging-cap");
    let dir = tmp.path();
    let zones = dir.join("zones");
    let state = dir.join("state");
    std::fs::create_dir_all(&zones).expect("create zones dir");
    std::fs::create_dir_all(&state).expect("create state dir");
    let zone = zones.join("example.com.zone");
    std::fs::copy(dist().join("zones").join("example.com.zone"), &zone).expect("copy zone");
    let addr = free_loopback_53();
    let config = dir.join("shoal.toml");
    let text = format!(
        "[server]\nlisten = [\"{addr}\"]\nworkers = 1\nstate_dir = \"state\"\n\n\
         [[zone]]\nname = \"example.com.\"\nfile = \"zones/example.com.zone\"\n"
    );
    std::fs::write(&config, text).expect("write config");
    // The binary is installed beside the config, as the package puts it in /usr/bin: the
    // build tree may sit in a folder uid 65534 cannot enter (a checkout in a 0700 dir).
    let bin = dir.join("shoal");
    std::fs::copy(shoal_bin(), &bin).expect("copy the shoal binary");
    for (path, mode) in [
        (dir, 0o755),
        (zones.as_path(), 0o755),
        (zone.as_path(), 0o644),
        (config.as_path(), 0o644),
        (bin.as_path(), 0o755),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    std::os::unix::fs::chown(&state, Some(NOBODY), Some(NOBODY)).expect("chown state dir to nobody");
    if let Some(why) = closed_to_others(dir) {
        panic!("uid {NOBODY} cannot reach the temp dir {}: {why}; set TMPDIR to one it can", dir.display());
    }

    let command = |with_cap: bool| {
        let mut cmd = Command::new(&setpriv);
        cmd.arg(format!("--reuid={NOBODY}")).arg(format!("--regid={NOBODY}")).arg("--clear-groups");
        if with_cap {
            cmd.arg("--inh-caps=+net_bind_service").arg("--ambient-caps=+net_bind_service");
        }
        cmd.arg(&bin).arg("serve").arg("--config").arg(&config).current_dir(dir);
        cmd
    };

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
        let mut denied = Running::spawn(&mut command(false), &dir.join("no-cap.log"));
        let status = denied.wait_for(FAIL_TIMEOUT);
        let log = denied.log();
        match status {
            Some(s) => assert!(
                !s.success() && log.contains("cannot start"),
                "without CAP_NET_BIND_SERVICE, shoal should fail to bind {addr} ({s}):\n{log}"
            ),
            None => panic!("without CAP_NET_BIND_SERVICE, shoal still runs after {FAIL_TIMEOUT:?} on {addr}:\n{log}"),
        }
    }

    // With the ambient capability, as the unit runs it: it binds and answers.
    let mut server = Running::spawn(&mut command(true), &dir.join("cap.log"));
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind client socket");
    socket.set_read_timeout(Some(Duration::from_millis(500))).expect("set timeout");
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut id: u16 = 0x3500;
    let answer = loop {
        if let Ok(Some(s)) = server.child.try_wait() {
            panic!("shoal exited ({s}) instead of serving {addr} as uid {NOBODY}:\n{}", server.log());
        }
        assert!(Instant::now() < deadline, "no answer from {addr} after {READY_TIMEOUT:?}:\n{}", server.log());
        id = id.wrapping_add(1);
        let _ = socket.send_to(&a_query(id), addr);
        let mut buf = [0u8; 1500];
        // Stale replies to earlier queries are skipped; a timeout sends again.
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            if let (true, Some(a)) = (from == addr, rcode_and_ancount(&buf[..n], id)) {
                break a;
            }
        }
    };
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
        server.log()
    );
}
