//! Harness for the zone transfer tests (`transfer_interop.rs`, `transfer_faults.rs`),
//! used as `#[path = "xfr/mod.rs"] mod xfr;`.
//!
//! What it owns:
//! - this file: temporary directories, free loopback ports, processes stopped by PID on
//!   `Drop` (also on panic), bounded polling ([`wait_until`]), log searching, and
//!   [`Checks`], failures recorded without stopping the test;
//! - [`dns`]: raw queries over UDP/TCP, AXFR with optional TSIG (HMAC-SHA256, written
//!   here so the fake primary can sign and mis-sign), responses parsed with hickory-proto
//!   into comparable record lines;
//! - [`zone`]: the test zones, generated from `engine/tests/zones/xfr/base.zone` in
//!   numbered versions (records deleted, changed, added between versions);
//! - [`shoal`]: a Shoal process with a generated TOML configuration;
//! - [`peers`]: Knot DNS, NSD and BIND as primaries or secondaries of Shoal;
//! - [`fake`]: an in-process primary that answers SOA correctly and breaks transfers.
//!
//! What it never does: touch anything but 127.0.0.0/8, wait without a deadline, or leave
//! a process running. Shoal is a black box: the tests see its answers and its log.
//!
//! Environment: `SHOAL_KEEP_TMP=1` keeps the temporary directories (configs, logs).
#![allow(dead_code)] // each test crate uses a different part of the harness

pub mod dns;
pub mod fake;
pub mod peers;
pub mod shoal;
pub mod zone;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest any single condition is waited for. Generous: 2 busy cores.
pub const WAIT: Duration = Duration::from_secs(30);
/// How long a process may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The TSIG key every test shares (HMAC-SHA256).
pub const KEY_NAME: &str = "xfr-key.";
pub const KEY_SECRET: &str = "c2hvYWwtdHJhbnNmZXItdGVzdC1rZXktMzItYnl0ZXMhIQ==";

/// Serialize the tests of one file: the peers are heavy and the machine has two cores.
/// A panicking test poisons nothing for the others.
pub fn serial_guard() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A directory under the system temp dir, removed on drop unless `SHOAL_KEEP_TMP=1`.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!("shoal-xfr-{tag}-{}-{n}-{nanos:x}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create temp dir {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("SHOAL_KEEP_TMP").is_some() {
            eprintln!("keeping {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[path = "../shared/ports.rs"]
mod ports;
pub use ports::free_port;

/// Look a program up in `PATH` and the sbin directories (cargo's `PATH` often lacks
/// `/usr/sbin`, where Debian puts `knotd`, `nsd` and `named`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    for extra in ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin", "/usr/local/bin"] {
        dirs.push(PathBuf::from(extra));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Poll `check` every 100 ms until it returns `Some` or `timeout` passes.
pub fn wait_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process started in its own process group, stopped on drop: SIGTERM to the group,
/// a bounded wait, then SIGKILL. It also gets `PR_SET_PDEATHSIG`, so a test binary
/// killed outright does not leave it behind.
pub struct Proc {
    pub name: String,
    child: Child,
}

impl Proc {
    /// Start `program` in `cwd`, stdout and stderr appended to `log`.
    pub fn spawn(name: &str, program: &Path, args: &[String], cwd: &Path, log: &Path, env: &[(&str, &str)]) -> Proc {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log handle");
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err));
        for (k, v) in env {
            cmd.env(k, v);
        }
        // SAFETY: the closure runs in the forked child before exec and only calls setpgid(2)
        // and prctl(2), which are async-signal-safe; it touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpgid(0, 0);
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name} ({}): {e}", program.display()));
        Proc { name: name.to_string(), child }
    }

    pub fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Send `signal` to the process itself (not its group).
    pub fn signal(&mut self, signal: libc::c_int) {
        if self.is_running() {
            // SAFETY: kill(2) has no memory-safety preconditions; the PID is our child,
            // not yet reaped (checked just above), so it cannot name another process.
            unsafe { libc::kill(self.pid(), signal) };
        }
    }

    /// Wait up to `timeout` for the process to exit by itself; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_until(timeout, || self.child.try_wait().ok().flatten())
    }

    /// Stop the process and its group; bounded.
    pub fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        let pid = self.pid();
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
        eprintln!("{} (pid {pid}) ignored SIGTERM; killing", self.name);
        signal_group(pid, libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Send `signal` to the process group led by `pid` (every process here leads its own),
/// falling back to the process itself.
fn signal_group(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is a child we spawned and
    // still own (not yet reaped), and its group id is the one we created for it.
    let rc = unsafe { libc::kill(-pid, signal) };
    if rc != 0 {
        // SAFETY: as above, signalling our own child by its PID.
        unsafe { libc::kill(pid, signal) };
    }
}

/// The lines of a log file (empty when it does not exist yet).
pub fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read(path).map(|b| String::from_utf8_lossy(&b).lines().map(str::to_string).collect()).unwrap_or_default()
}

/// The lines of `path` that contain every one of `needles`.
pub fn log_matches(path: &Path, needles: &[&str]) -> Vec<String> {
    log_lines(path).into_iter().filter(|l| needles.iter().all(|n| l.contains(n))).collect()
}

/// The last `n` lines of each of `paths`, for failure messages.
pub fn log_tail(paths: &[PathBuf], n: usize) -> String {
    let mut out = String::new();
    for path in paths {
        let lines = log_lines(path);
        out.push_str(&format!("--- {} ---\n", path.display()));
        for line in &lines[lines.len().saturating_sub(n)..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Write a zone file whose mtime is in a later whole second than the file it replaces
/// (sleeping up to a second for that): BIND and NSD skip a reload when the mtime has not
/// changed, and some compare whole seconds.
pub fn write_zone_file(path: &Path, text: &str) {
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if let Some(old) = std::fs::metadata(path).and_then(|m| m.modified()).ok().map(secs) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while secs(SystemTime::now()) <= old && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Checks that do not stop a test: each failure is recorded and the test goes on, so
/// that one broken feature does not hide the state of the next; [`Checks::finish`]
/// panics with all of them.
pub struct Checks {
    test: String,
    failures: Vec<String>,
}

impl Checks {
    pub fn new(test: &str) -> Checks {
        Checks { test: test.to_string(), failures: Vec::new() }
    }

    /// Record `message()` unless `ok`; returns `ok`.
    pub fn check(&mut self, ok: bool, message: impl FnOnce() -> String) -> bool {
        if !ok {
            let m = message();
            eprintln!("{}: CHECK FAILED: {m}", self.test);
            self.failures.push(m);
        }
        ok
    }

    /// Record the error of `result`, if any; returns whether it was `Ok`.
    pub fn ok(&mut self, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => true,
            Err(e) => self.check(false, || e),
        }
    }

    /// Panic with every recorded failure, then `context()` (log tails).
    pub fn finish(self, context: impl FnOnce() -> String) {
        if !self.failures.is_empty() {
            let n = self.failures.len();
            panic!("{}: {n} check(s) failed:\n- {}\n{}", self.test, self.failures.join("\n- "), context());
        }
    }
}
