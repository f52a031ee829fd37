//! A Shoal process for the transfer tests: a generated `shoal.toml` (zones given as raw
//! TOML lines, so each test states exactly what it configures), zone files in the same
//! directory, `state_dir = "state"`, stderr at `SHOAL_LOG=debug` into `shoal.log`.
//! Start, stop (SIGTERM) and restart keep the directory, so a restarted secondary finds
//! its saved copies; SIGHUP reloads.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::dns::{self, Answer};
use super::{log_matches, log_tail, wait_until, Proc, TempDir, KEY_NAME, KEY_SECRET, WAIT};

/// One `[[zone]]` table.
#[derive(Clone, Debug)]
pub struct ShoalZone {
    pub name: String,
    pub lines: Vec<String>,
}

impl ShoalZone {
    /// A primary zone served from `<name>zone` in Shoal's directory.
    pub fn primary(name: &str) -> ShoalZone {
        ShoalZone { name: name.to_string(), lines: vec![format!("file = \"{name}zone\"")] }
    }

    /// A secondary zone of `primary`.
    pub fn secondary(name: &str, primary: SocketAddr) -> ShoalZone {
        ShoalZone { name: name.to_string(), lines: vec![format!("primaries = [\"{primary}\"]")] }
    }

    /// Add a raw TOML line (`allow_transfer = ["127.0.0.1"]`).
    pub fn with(mut self, line: &str) -> ShoalZone {
        self.lines.push(line.to_string());
        self
    }

    pub fn keyed(self) -> ShoalZone {
        self.with(&format!("transfer_key = \"{KEY_NAME}\""))
    }

    pub fn notify(self, target: SocketAddr) -> ShoalZone {
        self.with(&format!("notify = [\"{target}\"]"))
    }

    /// Fast SOA timers: refresh 2–3 s, retry 1–2 s, expire as given.
    pub fn fast_timers(self, expire_min: u32, expire_max: u32) -> ShoalZone {
        self.with("refresh_min = 2")
            .with("refresh_max = 3")
            .with("retry_min = 1")
            .with("retry_max = 2")
            .with(&format!("expire_min = {expire_min}"))
            .with(&format!("expire_max = {expire_max}"))
    }
}

pub struct Shoal {
    pub tag: String,
    pub addr: SocketAddr,
    dir: TempDir,
    proc: Option<Proc>,
    log: PathBuf,
    config: PathBuf,
}

impl Shoal {
    /// Write the configuration for `zones` listening on `port`; nothing runs yet.
    pub fn new(tag: &str, port: u16, zones: &[ShoalZone]) -> Shoal {
        Shoal::with_tables(tag, port, zones, "")
    }

    /// [`Shoal::new`], with more TOML tables (`[metrics]`, `[log]`) at the end.
    pub fn with_tables(tag: &str, port: u16, zones: &[ShoalZone], tables: &str) -> Shoal {
        Shoal::configured(tag, port, "", zones, tables)
    }

    /// [`Shoal::with_tables`], with more lines in `[server]`.
    pub fn configured(tag: &str, port: u16, server: &str, zones: &[ShoalZone], tables: &str) -> Shoal {
        let dir = TempDir::new(tag);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut conf = format!("[server]\nlisten = [\"{addr}\"]\nworkers = 1\nstate_dir = \"state\"\n{server}");
        conf.push_str(&format!(
            "\n[[key]]\nname = \"{KEY_NAME}\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{KEY_SECRET}\"\n"
        ));
        for z in zones {
            conf.push_str(&format!("\n[[zone]]\nname = \"{}\"\n", z.name));
            for line in &z.lines {
                conf.push_str(line);
                conf.push('\n');
            }
        }
        conf.push_str(tables);
        let config = dir.path().join("shoal.toml");
        std::fs::write(&config, conf).expect("write shoal.toml");
        let log = dir.path().join("shoal.log");
        Shoal { tag: tag.to_string(), addr, dir, proc: None, log, config }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Where the zone file of primary zone `name` lives.
    pub fn zone_file(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}zone"))
    }

    /// Start and wait until Shoal answers at all (a secondary zone without data
    /// answers SERVFAIL, which counts).
    pub fn start(&mut self) {
        assert!(self.proc.is_none(), "{} already running", self.tag);
        let args = vec!["serve".to_string(), "--config".to_string(), self.config.to_string_lossy().into_owned()];
        let program = PathBuf::from(env!("CARGO_BIN_EXE_shoal"));
        let mut proc = Proc::spawn(&self.tag, &program, &args, self.dir.path(), &self.log, &[("SHOAL_LOG", "debug")]);
        let addr = self.addr;
        let up = wait_until(WAIT, || {
            if !proc.is_running() {
                return Some(false);
            }
            dns::udp_exchange(addr, &dns::query(0x4242, ".", dns::TYPE_SOA)).map(|_| true)
        });
        self.proc = Some(proc);
        if up != Some(true) {
            panic!("{} did not start answering on {addr}\n{}", self.tag, self.tail());
        }
    }

    /// The process, while it runs.
    pub fn proc(&mut self) -> Option<&mut Proc> {
        self.proc.as_mut()
    }

    /// SIGTERM and wait for the exit (bounded).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(Proc::is_running)
    }

    /// SIGHUP: re-read the configuration and zone files.
    pub fn reload(&mut self) {
        let p = self.proc.as_mut().expect("reload of a stopped Shoal");
        p.signal(libc::SIGHUP);
    }

    /// The last lines of the log, for failure messages.
    pub fn tail(&self) -> String {
        log_tail(std::slice::from_ref(&self.log), 60)
    }

    pub fn log_has(&self, needles: &[&str]) -> Vec<String> {
        log_matches(&self.log, needles)
    }

    /// Wait until a log line contains every one of `needles`; panic with the log if not.
    pub fn wait_log(&self, needles: &[&str]) -> Vec<String> {
        wait_until(WAIT, || Some(self.log_has(needles)).filter(|m| !m.is_empty()))
            .unwrap_or_else(|| panic!("{}: no log line with {needles:?} within {WAIT:?}\n{}", self.tag, self.tail()))
    }

    /// Wait until `zone` is served with `serial`; panic with the log if not.
    pub fn wait_serial(&self, zone: &str, serial: u32) {
        let got = wait_until(WAIT, || dns::soa_serial(self.addr, zone).filter(|s| *s == serial));
        if got.is_none() {
            panic!(
                "{}: {zone} not served with serial {serial} within {WAIT:?} (now: {:?})\n{}",
                self.tag,
                dns::lookup(self.addr, zone, dns::TYPE_SOA),
                self.tail()
            );
        }
    }

    pub fn lookup(&self, name: &str, qtype: u16) -> Answer {
        dns::lookup(self.addr, name, qtype)
    }
}
