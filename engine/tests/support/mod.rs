//! Shared harness for Shoal's integration tests (`mod support;` in each test file).
//!
//! What it owns:
//! - [`corpus`]: the differential query list.
//! - [`servers`]: starting Shoal, Knot DNS and NSD as ordinary processes, each in its own
//!   temporary directory with its own copy of the test zones, on a free loopback port; a
//!   bounded wait until each answers an SOA query; stop by PID on `Drop` (also on panic).
//! - [`query`]: building queries with hickory-proto (EDNS, DO, NSID, 0x20 case, RD/CD,
//!   class) and exchanging raw bytes over UDP or TCP with timeouts and bounded retries.
//! - [`normalize`]: an independent wire parser that turns a response into a comparable
//!   value (rcode, flags, question, sections as multisets of records with decompressed,
//!   lowercased names), and a field-by-field comparison.
//!
//! What it never does: touch the network beyond 127.0.0.1, loop without a bound, or leave a
//! process running. Nothing here knows Shoal's internals; the binary is a black box.
//!
//! Environment:
//! - `SHOAL_ALLOW_NO_PEERS=1`: when `knotd` or `nsd` is missing, tests that need them print
//!   why and return instead of failing. Without it a missing peer is a loud failure.
//! - `SHOAL_KEEP_TMP=1`: keep the temporary directories (configs, logs) for inspection.
#![allow(dead_code)] // each test crate uses a different part of the harness

pub mod corpus;
pub mod normalize;
pub mod query;
pub mod servers;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A zone the reference servers and Shoal all serve in the differential test.
#[derive(Clone, Debug)]
pub struct ZoneSpec {
    /// Apex, absolute, e.g. `example.com.`.
    pub name: String,
    /// File name inside the zones directory.
    pub file: String,
}

impl ZoneSpec {
    pub fn new(name: &str, file: &str) -> ZoneSpec {
        ZoneSpec { name: name.to_string(), file: file.to_string() }
    }
}

/// The zones under `engine/tests/zones/` that every server loads.
pub fn test_zones() -> Vec<ZoneSpec> {
    vec![ZoneSpec::new("example.com.", "example.com.zone"), ZoneSpec::new("example.", "example.zone")]
}

/// `engine/tests/zones`, found through `CARGO_MANIFEST_DIR`.
pub fn zones_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("zones")
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

/// Copy every regular file of `engine/tests/zones` into `dest` (created if needed).
pub fn copy_zones(dest: &Path) {
    std::fs::create_dir_all(dest).expect("create zones dir");
    let entries = std::fs::read_dir(zones_dir()).expect("read engine/tests/zones");
    for entry in entries {
        let entry = entry.expect("zones dir entry");
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copy zone file");
        }
    }
}

#[path = "../shared/ports.rs"]
mod ports;
pub use ports::free_port;

/// Look a program up in `PATH` and the usual sbin directories (cargo's `PATH` often
/// lacks `/usr/sbin`, where Debian puts `knotd` and `nsd`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    for extra in ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin", "/usr/local/bin"] {
        dirs.push(PathBuf::from(extra));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// True when Knot and NSD are installed. When one is missing: with
/// `SHOAL_ALLOW_NO_PEERS=1`, print a clear skip notice and return false (the caller
/// returns); otherwise panic, because a silently skipped differential test is a lie.
pub fn reference_servers_available(test: &str) -> bool {
    let missing: Vec<&str> = ["knotd", "nsd"].into_iter().filter(|p| find_program(p).is_none()).collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("SHOAL_ALLOW_NO_PEERS").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED {test}: {} not installed and SHOAL_ALLOW_NO_PEERS=1 (this is NOT a pass)",
            missing.join(", ")
        );
        return false;
    }
    panic!(
        "{test}: {} not installed; run scripts/test.sh (it installs knot and nsd) \
         or set SHOAL_ALLOW_NO_PEERS=1 to skip explicitly",
        missing.join(", ")
    );
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
