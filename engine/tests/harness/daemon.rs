//! [`Daemon`]: a DNS server process, Shoal or a peer, in its own temporary directory,
//! listening on one loopback address. What Shoal ([`super::shoal`]) and the peers
//! ([`super::peers`]) have in common lives here: the directory and its `zones/`, the
//! logs, start with a bounded wait until the server is ready, stop by PID, restart in
//! the same directory, SIGHUP, and searching the logs.
//!
//! Ready means: the server answers a UDP query for `. SOA` (any answer, REFUSED too,
//! counts: a secondary without data still answers), and every zone it must serve from
//! a file at start answers SOA with AA over UDP and over TCP. A server that exits or
//! stays silent for [`WAIT`] fails the test with its log.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use super::dns::{self, Answer, Transport};
use super::process::Proc;
use super::{wait_until, zone, TempDir, WAIT};

/// Log lines shown in failure messages, per log file.
const TAIL_LINES: usize = 60;

/// A server process and its directory; stopped on drop.
pub struct Daemon {
    /// `shoal`, `knot`, `nsd`, `bind`, or the tag a test gave.
    pub name: String,
    pub addr: SocketAddr,
    pub(super) dir: TempDir,
    pub(super) program: PathBuf,
    pub(super) args: Vec<OsString>,
    pub(super) env: Vec<(String, String)>,
    /// The first one receives stdout and stderr; others are written by the server.
    pub(super) logs: Vec<PathBuf>,
    /// Zones that must answer SOA with AA before the server counts as started.
    pub(super) ready_zones: Vec<String>,
    pub(super) proc: Option<Proc>,
}

impl Daemon {
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `<dir>/zones`, where every zone file the server loads lives.
    pub fn zones_dir(&self) -> PathBuf {
        self.dir.path().join("zones")
    }

    /// Where the zone file of primary zone `name` lives: `zones/<name>zone`.
    pub fn zone_file(&self, name: &str) -> PathBuf {
        self.zones_dir().join(format!("{name}zone"))
    }

    /// Write the zone file of primary zone `name` (see [`zone::write_file`]).
    pub fn write_zone(&self, name: &str, text: &str) {
        zone::write_file(&self.zone_file(name), text);
    }

    /// Start the server and wait until it is ready; panic with its log if it is not.
    pub fn start(&mut self) {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        self.launch(cmd);
        self.wait_ready();
    }

    /// Start `cmd` as this server's process, in its directory with its environment,
    /// output into its log, without waiting for anything (for a server run through a
    /// wrapper such as `setpriv`, or expected to fail).
    pub fn launch(&mut self, mut cmd: Command) {
        assert!(!self.is_running(), "{} already running", self.name);
        cmd.current_dir(self.dir.path());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.proc = Some(Proc::spawn(&self.name, cmd, &self.logs[0]));
    }

    fn wait_ready(&mut self) {
        let addr = self.addr;
        let zones = &self.ready_zones;
        let proc = self.proc.as_mut().expect("launched");
        let up = wait_until(WAIT, || {
            if !proc.is_running() {
                return Some(false);
            }
            let answers = dns::udp_exchange(addr, &dns::query(0x4242, ".", dns::TYPE_SOA)).is_some();
            let ready = answers
                && zones.iter().all(|z| {
                    dns::soa_serial_over(addr, z, Transport::Udp).is_some()
                        && dns::soa_serial_over(addr, z, Transport::Tcp).is_some()
                });
            ready.then_some(true)
        });
        if up != Some(true) {
            let status = proc.exit_status().map_or("running".to_string(), |s| s.to_string());
            panic!(
                "{} did not start serving {zones:?} on {addr} within {WAIT:?} ({status}); directory {}\n{}",
                self.name,
                self.dir.path().display(),
                self.tail()
            );
        }
    }

    /// Stop the server (bounded); the directory stays, so it can start again. Returns
    /// the exit status when it exited by itself or on SIGTERM.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.proc.take().and_then(|mut p| p.stop())
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(Proc::is_running)
    }

    /// The exit status, once the last process started has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.proc.as_mut().and_then(Proc::exit_status)
    }

    pub fn pid(&self) -> u32 {
        self.proc.as_ref().unwrap_or_else(|| panic!("{} never started", self.name)).pid()
    }

    /// Send `signal` to the process itself.
    pub fn signal(&mut self, signal: libc::c_int) {
        let name = &self.name;
        self.proc.as_mut().unwrap_or_else(|| panic!("signal to {name}, which is stopped")).signal(signal);
    }

    /// SIGHUP: re-read the configuration or changed zone files.
    pub fn reload(&mut self) {
        self.signal(libc::SIGHUP);
    }

    /// Wait up to `timeout` for the process to exit by itself; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.proc.as_mut().and_then(|p| p.wait_exit(timeout))
    }

    /// The last lines of each log, for failure messages.
    pub fn tail(&self) -> String {
        let mut out = String::new();
        for path in &self.logs {
            let lines = log_lines(path);
            out.push_str(&format!("--- {} ---\n", path.display()));
            for line in &lines[lines.len().saturating_sub(TAIL_LINES)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// The lines of any of the logs that contain every one of `needles`.
    pub fn log_has(&self, needles: &[&str]) -> Vec<String> {
        let matches = |l: &String| needles.iter().all(|n| l.contains(n));
        self.logs.iter().flat_map(|p| log_lines(p).into_iter().filter(matches)).collect()
    }

    /// Wait until a log line contains every one of `needles`; panic with the log if not.
    pub fn wait_log(&self, needles: &[&str]) -> Vec<String> {
        wait_until(WAIT, || Some(self.log_has(needles)).filter(|m| !m.is_empty()))
            .unwrap_or_else(|| panic!("{}: no log line with {needles:?} within {WAIT:?}\n{}", self.name, self.tail()))
    }

    /// Wait until `zone` is served with `serial`; panic with the log if not.
    pub fn wait_serial(&self, zone: &str, serial: u32) {
        if !dns::converges(self.addr, zone, serial) {
            panic!(
                "{}: {zone} not served with serial {serial} within {WAIT:?} (now: {:?})\n{}",
                self.name,
                dns::lookup(self.addr, zone, dns::TYPE_SOA),
                self.tail()
            );
        }
    }

    /// Ask for `name`/`qtype` over UDP.
    pub fn lookup(&self, name: &str, qtype: u16) -> Answer {
        dns::lookup(self.addr, name, qtype)
    }
}

impl Drop for Daemon {
    /// The process stops before its directory is removed.
    fn drop(&mut self) {
        self.stop();
    }
}

/// The lines of a log file (empty when it does not exist yet).
fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read(path).map(|b| String::from_utf8_lossy(&b).lines().map(str::to_string).collect()).unwrap_or_default()
}
