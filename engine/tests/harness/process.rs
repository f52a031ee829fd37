//! Child processes: [`Proc`], a process started in its own process group and stopped by
//! PID on `Drop` (also on panic), and [`run`], a command run to completion within
//! [`COMMAND_TIMEOUT`] with its output captured.
//!
//! Stopping is bounded: SIGTERM to the process group, up to [`STOP_TIMEOUT`] for the
//! exit, then SIGKILL. The group matters for NSD, which forks children that keep the
//! port. Every child also gets `PR_SET_PDEATHSIG`, so a test binary killed outright
//! does not leave it behind. Nothing here signals a process by name.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::wait_until;

/// How long a process may take to exit after SIGTERM before it gets SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a command given to [`run`] may take (`shoal check`, `shoal ctl`,
/// `systemd-analyze`). Generous: two busy cores.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A process started in its own process group, stopped on drop.
pub struct Proc {
    pub name: String,
    child: Child,
}

impl Proc {
    /// Start `cmd` (program, arguments, directory and environment as the caller set
    /// them), its stdout and stderr appended to `log`.
    pub fn spawn(name: &str, cmd: Command, log: &Path) -> Proc {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log handle");
        Proc::spawn_to(name, cmd, out, err)
    }

    fn spawn_to(name: &str, mut cmd: Command, out: File, err: File) -> Proc {
        cmd.stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err));
        // SAFETY: the closure runs in the forked child before exec and only calls setpgid(2)
        // and prctl(2), which are async-signal-safe; it touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpgid(0, 0);
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name} ({cmd:?}): {e}"));
        Proc { name: name.to_string(), child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, once the process has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
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
            unsafe { libc::kill(self.pid() as libc::pid_t, signal) };
        }
    }

    /// Wait up to `timeout` for the process to exit by itself; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_until(timeout, || self.exit_status())
    }

    /// Stop the process and its group (bounded). Returns the exit status when the
    /// process exited by itself or on SIGTERM, `None` when it needed SIGKILL.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.exit_status() {
            return Some(status);
        }
        let pid = self.pid() as libc::pid_t;
        signal_group(pid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                // Sweep any child the server forked and left behind (NSD).
                signal_group(pid, libc::SIGKILL);
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} (pid {pid}) ignored SIGTERM for {STOP_TIMEOUT:?}; killing", self.name);
        signal_group(pid, libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
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

/// What a command run by [`run`] left behind.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Stdout, then stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Run `cmd` to completion within [`COMMAND_TIMEOUT`], its output captured in
/// `<dir>/<tag>.stdout` and `<dir>/<tag>.stderr`; panics with the output when it does
/// not finish in time (the process is then stopped).
pub fn run(cmd: Command, dir: &Path, tag: &str) -> Output {
    let create = |ext: &str| {
        let path = dir.join(format!("{tag}.{ext}"));
        let file = File::create(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        (path, file)
    };
    let ((out_path, out), (err_path, err)) = (create("stdout"), create("stderr"));
    let mut proc = Proc::spawn_to(tag, cmd, out, err);
    let status = proc.wait_exit(COMMAND_TIMEOUT);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (stdout, stderr) = (read(&out_path), read(&err_path));
    match status {
        Some(status) => Output { status, stdout, stderr },
        None => panic!("{tag}: still running after {COMMAND_TIMEOUT:?}\n{stdout}{stderr}"),
    }
}
