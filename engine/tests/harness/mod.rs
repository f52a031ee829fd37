//! The one test harness of Shoal's integration tests: every test file includes it with
//! `mod harness;` and uses the part it needs.
//!
//! What it owns:
//! - this file: temporary directories, free loopback ports, bounded polling
//!   ([`wait_until`]), the shared constants (timeouts, the TSIG test key, the identity),
//!   [`Checks`] (failures recorded without stopping a test), a deterministic generator;
//! - [`process`]: a child process stopped by PID on `Drop` ([`process::Proc`]) and a
//!   command run to completion within a time limit ([`process::run`]);
//! - [`daemon`]: a DNS server process in its own directory (logs, readiness, restart,
//!   SIGHUP, log search), what Shoal and the peers have in common;
//! - [`shoal`]: the one way to start Shoal, a builder of its configuration;
//! - [`peers`]: the one way to start Knot DNS, NSD and BIND, as primaries, secondaries
//!   or query-only references;
//! - [`server`]: Shoal or a reference serving the fixture zones, behind one type;
//! - [`dns`]: queries ([`dns::QuerySpec`]) over UDP and TCP with timeouts and bounded
//!   retries, SOA and record lookups, AXFR; [`tsig`]: HMAC-SHA256 signing;
//! - [`normalize`]: an independent wire parser that makes responses comparable;
//! - [`corpus`]: the differential query list;
//! - [`signed`]: the signed fixtures under `engine/tests/zones/signed/` and the questions
//!   the DNSSEC tests ask about them; [`dnssec_diff`]: how two DNSSEC answers are
//!   compared, and the documented differences between Knot and NSD;
//! - [`unbound`]: Unbound as a validating resolver whose only upstreams are the test's
//!   servers, and a sink that catches anything it sends elsewhere;
//! - [`zone`]: the fixture zones under `engine/tests/zones/` and the versioned transfer
//!   zone;
//! - [`fake`]: an in-process primary that breaks transfers on purpose;
//! - [`http`]: a GET against the metrics listener.
//!
//! What it never does: touch anything but 127.0.0.0/8, wait or loop without a bound,
//! leave a process running, or import Shoal's library: the `shoal` binary is a black
//! box seen through its answers, its log and its exit status.
//!
//! Environment:
//! - `SHOAL_ALLOW_NO_PEERS=1`: when `knotd`, `nsd` or `named` is missing, tests that need
//!   it print why and return instead of failing. Without it a missing peer is a loud
//!   failure.
//! - `SHOAL_KEEP_TMP=1`: keep the temporary directories (configs, zone files, logs).
//! - Shoal runs with `SHOAL_LOG=debug`; a `RUST_LOG` in the environment overrides it.
//! - Tests choose a reference instead of Shoal through variables they name
//!   (`SHOAL_SERVE_PEER`, `SHOAL_MALFORMED_PEER`; see [`server::Server::chosen_by`]).
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod corpus;
pub mod daemon;
pub mod dns;
pub mod dnssec_diff;
pub mod fake;
pub mod http;
pub mod normalize;
pub mod peers;
pub mod process;
pub mod server;
pub mod shoal;
pub mod signed;
pub mod tsig;
pub mod unbound;
pub mod zone;

use std::collections::BTreeSet;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest any single condition is waited for (a server answering, a serial
/// arriving, a log line). Generous: two busy cores.
pub const WAIT: Duration = Duration::from_secs(30);

/// The TSIG key every Shoal and every peer knows (HMAC-SHA256).
pub const KEY_NAME: &str = "xfr-key.";
pub const KEY_SECRET: &str = "c2hvYWwtdHJhbnNmZXItdGVzdC1rZXktMzItYnl0ZXMhIQ==";

/// The identity (NSID and CHAOS `id.server`) of every server that serves the fixtures.
pub const IDENTITY: &str = "ns1.example.net";

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
        let path = std::env::temp_dir().join(format!("shoal-test-{tag}-{}-{n}-{nanos:x}", std::process::id()));
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

/// The first port of the kernel's ephemeral range (32768 when it cannot be read).
pub fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(32768)
}

/// A loopback port that is free for both UDP and TCP right now, that this process has
/// not handed out before (tests run in parallel threads), and that lies below the
/// ephemeral range: a port is picked here and bound later by a server, and a port from
/// the ephemeral range could meanwhile be taken by any client socket.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let top = ephemeral_start().max(12_000);
    let bottom = top.saturating_sub(10_000).max(1024);
    let mut x = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..1000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = bottom + (x % u64::from(top - bottom)) as u16;
        let mut taken = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if taken.contains(&port) {
            continue;
        }
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            taken.insert(port);
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP after 1000 attempts");
}

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

/// A deterministic xorshift64* generator: tests must be reproducible, and the
/// workspace has no `rand` dev-dependency.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 32) as u8
    }
}
