//! Server processes: Shoal, Knot DNS and NSD, each started with a generated config in its
//! own temporary directory, serving its own copy of the zones on a free loopback port.
//!
//! A [`Server`] is ready once every zone it must serve answers SOA with AA over UDP and
//! TCP (bounded wait, [`READY_TIMEOUT`]); it is stopped by PID on `Drop`, panicking or
//! not: SIGTERM to its process group, a bounded wait, then SIGKILL. Children also get
//! `PR_SET_PDEATHSIG`, so a test binary killed outright does not leave servers behind.
//!
//! Facts that cost time to find:
//! - Knot resolves `$INCLUDE` relative to the including zone file, NSD relative to its
//!   working directory (`zonesdir`), so NSD's `zonesdir` is the zones directory itself.
//! - Debian's NSD rate-limits responses by default: `rrl-ratelimit: 0` and
//!   `rrl-whitelist-ratelimit: 0`, or busy tests get empty truncated answers.
//! - NSD forks (xfrd, server children); killing only the main PID can leave children
//!   bound to the port, hence the process group.
//! - Knot answers `version.bind` with its version unless `version: ""` (then REFUSED,
//!   like NSD's `hide-version: yes`); both answer CHAOS without AA.

use std::fmt::Write as _;
use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::normalize::parse;
use super::query::{tcp_exchange, udp_exchange, QuerySpec, Transport};
use super::{copy_zones, find_program, free_port, test_zones, TempDir, ZoneSpec};

/// How long a server may take to start answering. Generous: 2 busy cores.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The identity (NSID and CHAOS `id.server`) every server is given by default.
pub const IDENTITY: &str = "ns1.example.net";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Shoal,
    Knot,
    Nsd,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Shoal => "shoal",
            Kind::Knot => "knot",
            Kind::Nsd => "nsd",
        }
    }
}

/// What to serve and how.
#[derive(Clone, Debug)]
pub struct Setup {
    pub zones: Vec<ZoneSpec>,
    /// NSID and `id.server` content; `None` leaves both unset.
    pub identity: Option<String>,
    /// Copy `engine/tests/zones/*` into the server's zones directory.
    pub copy_test_zones: bool,
    /// Extra files written into the zones directory: (file name, contents).
    pub extra_files: Vec<(String, String)>,
    /// Zones that must answer SOA with AA before the server counts as ready
    /// (`None`: all of `zones`).
    pub ready_zones: Option<Vec<String>>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            zones: test_zones(),
            identity: Some(IDENTITY.to_string()),
            copy_test_zones: true,
            extra_files: Vec::new(),
            ready_zones: None,
        }
    }
}

/// A running server; stopped on drop.
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    child: Child,
    logs: Vec<PathBuf>,
    config: PathBuf,
    dir: TempDir,
}

/// The `shoal` binary under test.
pub fn shoal_bin() -> &'static str {
    env!("CARGO_BIN_EXE_shoal")
}

impl Server {
    /// Start a server of `kind` and wait until it answers. Errors carry its log.
    pub fn start(kind: Kind, setup: &Setup) -> Result<Server, String> {
        let dir = TempDir::new(kind.name());
        let zones_dir = dir.path().join("zones");
        if setup.copy_test_zones {
            copy_zones(&zones_dir);
        }
        std::fs::create_dir_all(&zones_dir).map_err(|e| e.to_string())?;
        for (name, contents) in &setup.extra_files {
            std::fs::write(zones_dir.join(name), contents).map_err(|e| e.to_string())?;
        }
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log = dir.path().join(format!("{}.stderr.log", kind.name()));
        let mut logs = vec![log.clone()];
        let (program, args, config) = match kind {
            Kind::Shoal => {
                let config = write_shoal_config(dir.path(), port, setup);
                let args = vec!["serve".into(), "--config".into(), path_arg(&config)];
                (PathBuf::from(shoal_bin()), args, config)
            }
            Kind::Knot => {
                let config = write_knot_config(dir.path(), port, setup);
                let program = find_program("knotd").ok_or("knotd not installed")?;
                (program, vec!["-c".into(), path_arg(&config)], config)
            }
            Kind::Nsd => {
                let config = write_nsd_config(dir.path(), port, setup);
                logs.push(dir.path().join("nsd.log"));
                let program = find_program("nsd").ok_or("nsd not installed")?;
                let args = vec!["-d".into(), "-c".into(), path_arg(&config)];
                (program, args, config)
            }
        };
        let child = spawn(&program, &args, dir.path(), &log)?;
        let mut server = Server { kind, addr, child, logs, config, dir };
        let ready: Vec<String> = match &setup.ready_zones {
            Some(zones) => zones.clone(),
            None => setup.zones.iter().map(|z| z.name.clone()).collect(),
        };
        server.wait_ready(&ready)?;
        Ok(server)
    }

    /// Start or panic with the server's log.
    pub fn start_or_panic(kind: Kind, setup: &Setup) -> Server {
        Server::start(kind, setup).unwrap_or_else(|e| panic!("{} did not start: {e}", kind.name()))
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of the server's logs, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for path in &self.logs {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(30);
            let _ = writeln!(out, "--- {} ---", path.display());
            for line in &lines[from..] {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }

    fn wait_ready(&mut self, zones: &[String]) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut id: u16 = 0x5000;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited during startup ({status}); config {}\n{}",
                    self.name(),
                    self.config.display(),
                    self.log_tail()
                ));
            }
            let all_ready = zones.iter().all(|zone| {
                id = id.wrapping_add(1);
                let udp = QuerySpec::new(zone, 6).no_edns();
                let tcp = udp.clone().tcp();
                soa_ready(self.addr, &udp, id) && soa_ready(self.addr, &tcp, id)
            });
            if all_ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} not answering SOA for {zones:?} on {} after {READY_TIMEOUT:?}; config {}\n{}",
                    self.name(),
                    self.addr,
                    self.config.display(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        let pid = self.child.id() as libc::pid_t;
        signal_group(pid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !self.is_running() {
                // Sweep any child the server forked and left behind (NSD).
                signal_group(pid, libc::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} (pid {pid}) ignored SIGTERM; killing", self.name());
        signal_group(pid, libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn soa_ready(addr: SocketAddr, spec: &QuerySpec, id: u16) -> bool {
    let wire = spec.to_wire(id);
    let reply = match spec.transport {
        Transport::Udp => udp_exchange(addr, &wire, Duration::from_millis(500), 1),
        Transport::Tcp => tcp_exchange(addr, &wire).ok(),
    };
    match reply.as_deref().map(parse) {
        Some(Ok(p)) => p.rcode == 0 && p.aa() && p.answer.iter().any(|rr| rr.rtype == 6),
        _ => false,
    }
}

/// Send `signal` to the process group led by `pid` (every server is started as the
/// leader of its own group), falling back to the process itself.
fn signal_group(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is a child we spawned
    // and still own (not yet reaped, or its group id, which we created for it).
    let rc = unsafe { libc::kill(-pid, signal) };
    if rc != 0 {
        // SAFETY: as above, signalling our own child by its PID.
        unsafe { libc::kill(pid, signal) };
    }
}

fn spawn(program: &Path, args: &[String], cwd: &Path, log: &Path) -> Result<Child, String> {
    let out = File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err));
    // SAFETY: the closure runs in the forked child before exec and only calls setpgid(2)
    // and prctl(2), which are async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| format!("spawn {}: {e}", program.display()))
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Write `shoal.toml` into `dir` (zone paths relative to it) and return its path.
pub fn write_shoal_config(dir: &Path, port: u16, setup: &Setup) -> PathBuf {
    let mut conf = String::new();
    let _ = writeln!(conf, "[server]");
    let _ = writeln!(conf, "listen = [\"127.0.0.1:{port}\"]");
    let _ = writeln!(conf, "workers = 1");
    if let Some(identity) = &setup.identity {
        let _ = writeln!(conf, "identity = \"{identity}\"");
    }
    for zone in &setup.zones {
        let _ = writeln!(conf, "\n[[zone]]");
        let _ = writeln!(conf, "name = \"{}\"", zone.name);
        let _ = writeln!(conf, "file = \"zones/{}\"", zone.file);
    }
    let path = dir.join("shoal.toml");
    std::fs::write(&path, conf).expect("write shoal.toml");
    path
}

fn write_knot_config(dir: &Path, port: u16, setup: &Setup) -> PathBuf {
    let d = dir.display();
    let mut conf = String::new();
    let _ = writeln!(conf, "server:");
    let _ = writeln!(conf, "    rundir: \"{d}\"");
    let _ = writeln!(conf, "    pidfile: \"{d}/knot.pid\"");
    let _ = writeln!(conf, "    listen: 127.0.0.1@{port}");
    let _ = writeln!(conf, "    udp-workers: 1");
    let _ = writeln!(conf, "    tcp-workers: 1");
    let _ = writeln!(conf, "    background-workers: 1");
    let _ = writeln!(conf, "    version: \"\"");
    if let Some(identity) = &setup.identity {
        let _ = writeln!(conf, "    identity: \"{identity}\"");
        let _ = writeln!(conf, "    nsid: \"{identity}\"");
    }
    let _ = writeln!(conf, "log:\n  - target: stderr\n    any: info");
    let _ = writeln!(conf, "database:\n    storage: \"{d}/storage\"");
    let _ = writeln!(conf, "template:\n  - id: default");
    let _ = writeln!(conf, "    storage: \"{d}/zones\"");
    // Never write back to the zone files, keep no journal: the files are fixtures.
    let _ = writeln!(conf, "    zonefile-sync: -1");
    let _ = writeln!(conf, "    journal-content: none");
    let _ = writeln!(conf, "zone:");
    for zone in &setup.zones {
        let _ = writeln!(conf, "  - domain: \"{}\"", zone.name);
        let _ = writeln!(conf, "    file: \"{d}/zones/{}\"", zone.file);
    }
    let path = dir.join("knot.conf");
    std::fs::write(&path, conf).expect("write knot.conf");
    path
}

fn write_nsd_config(dir: &Path, port: u16, setup: &Setup) -> PathBuf {
    let d = dir.display();
    let mut conf = String::new();
    let _ = writeln!(conf, "server:");
    let _ = writeln!(conf, "    ip-address: 127.0.0.1@{port}");
    let _ = writeln!(conf, "    port: {port}");
    let _ = writeln!(conf, "    do-ip6: no");
    let _ = writeln!(conf, "    server-count: 1");
    let _ = writeln!(conf, "    username: \"\"");
    let _ = writeln!(conf, "    chroot: \"\"");
    let _ = writeln!(conf, "    zonesdir: \"{d}/zones\"");
    let _ = writeln!(conf, "    pidfile: \"{d}/nsd.pid\"");
    let _ = writeln!(conf, "    xfrdfile: \"{d}/xfrd.state\"");
    let _ = writeln!(conf, "    xfrdir: \"{d}\"");
    let _ = writeln!(conf, "    zonelistfile: \"{d}/zone.list\"");
    let _ = writeln!(conf, "    database: \"\"");
    let _ = writeln!(conf, "    logfile: \"{d}/nsd.log\"");
    let _ = writeln!(conf, "    verbosity: 1");
    let _ = writeln!(conf, "    hide-version: yes");
    let _ = writeln!(conf, "    rrl-ratelimit: 0");
    let _ = writeln!(conf, "    rrl-whitelist-ratelimit: 0");
    if let Some(identity) = &setup.identity {
        let _ = writeln!(conf, "    identity: \"{identity}\"");
        let _ = writeln!(conf, "    nsid: \"ascii_{identity}\"");
    }
    let _ = writeln!(conf, "remote-control:\n    control-enable: no");
    for zone in &setup.zones {
        let _ = writeln!(conf, "zone:");
        let _ = writeln!(conf, "    name: \"{}\"", zone.name);
        let _ = writeln!(conf, "    zonefile: \"{}\"", zone.file);
    }
    let path = dir.join("nsd.conf");
    std::fs::write(&path, conf).expect("write nsd.conf");
    path
}
