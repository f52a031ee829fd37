//! The one way to start Shoal: [`Shoal::builder`] writes a `shoal.toml` into a fresh
//! temporary directory, and [`ShoalBuilder::start`] runs `shoal serve` on it (the
//! binary under test, `CARGO_BIN_EXE_shoal`) and waits until it is ready.
//!
//! Every configuration has the same frame: `[server]` listening on one loopback address
//! (a free port unless given), `workers = 1`, `state_dir = "state"`, the identity when
//! one is set, then any `[server]` lines a test adds; the test TSIG key as `[[key]]`;
//! one `[[zone]]` table per [`ShoalZone`], given as raw TOML lines so that each test
//! states exactly what it configures; then any further tables (`[metrics]`, `[log]`).
//! Zone files live in `zones/`, as for the peers. Shoal runs with `SHOAL_LOG=debug`,
//! stdout and stderr in `shoal.log`.
//!
//! A [`Shoal`] is a [`Daemon`] (start, stop, restart in the same directory so that a
//! secondary finds its saved copies, SIGHUP, logs), plus `shoal check` and `shoal ctl`
//! on its configuration.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::daemon::Daemon;
use super::process::{run, Output};
use super::{free_port, zone, TempDir, KEY_NAME, KEY_SECRET};

/// The `shoal` binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shoal"))
}

/// A command running the `shoal` binary under test (arguments still to add).
pub fn command() -> Command {
    Command::new(bin())
}

/// One `[[zone]]` table.
#[derive(Clone, Debug)]
pub struct ShoalZone {
    pub name: String,
    pub lines: Vec<String>,
    /// Loaded from a file at start: the zone must answer before Shoal counts as ready.
    from_file: bool,
}

impl ShoalZone {
    /// A primary zone served from `zones/<name>zone` ([`Daemon::zone_file`]).
    pub fn primary(name: &str) -> ShoalZone {
        ShoalZone::primary_file(name, &format!("{name}zone"))
    }

    /// A primary zone served from `zones/<file>`.
    pub fn primary_file(name: &str, file: &str) -> ShoalZone {
        ShoalZone { name: name.to_string(), lines: vec![format!("file = \"zones/{file}\"")], from_file: true }
    }

    /// A secondary zone of `primary`.
    pub fn secondary(name: &str, primary: SocketAddr) -> ShoalZone {
        ShoalZone { name: name.to_string(), lines: vec![format!("primaries = [\"{primary}\"]")], from_file: false }
    }

    /// A zone with no source line: the test adds what it is (a producer catalog).
    pub fn bare(name: &str) -> ShoalZone {
        ShoalZone { name: name.to_string(), lines: Vec::new(), from_file: false }
    }

    /// Add a raw TOML line (`allow_transfer = ["127.0.0.1"]`).
    pub fn with(mut self, line: &str) -> ShoalZone {
        self.lines.push(line.to_string());
        self
    }

    /// Transfers (and NOTIFY) signed with the test key.
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

/// A Shoal configuration being written; see the module doc for its frame.
#[must_use]
pub struct ShoalBuilder {
    name: String,
    listen: Option<SocketAddr>,
    identity: Option<String>,
    server: Vec<String>,
    zones: Vec<ShoalZone>,
    tables: Vec<String>,
    fixture_files: bool,
    files: Vec<(String, String)>,
    ready_zones: Option<Vec<String>>,
}

impl ShoalBuilder {
    /// Listen on 127.0.0.1:`port`.
    pub fn port(self, port: u16) -> Self {
        self.listen(([127, 0, 0, 1], port).into())
    }

    /// Listen on `addr` (a loopback address).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// NSID and CHAOS `id.server` content.
    pub fn identity(mut self, identity: &str) -> Self {
        self.identity = Some(identity.to_string());
        self
    }

    /// One more line in `[server]` (`refresh_concurrency = 4`).
    pub fn server(mut self, line: &str) -> Self {
        self.server.push(line.to_string());
        self
    }

    pub fn zone(mut self, zone: ShoalZone) -> Self {
        self.zones.push(zone);
        self
    }

    pub fn zones(mut self, zones: impl IntoIterator<Item = ShoalZone>) -> Self {
        self.zones.extend(zones);
        self
    }

    /// More TOML after the zones (`[metrics]\nlisten = "…"`).
    pub fn table(mut self, text: &str) -> Self {
        self.tables.push(text.to_string());
        self
    }

    /// Copy the fixture files ([`zone::copy_fixtures`]) into `zones/`.
    pub fn fixture_files(mut self) -> Self {
        self.fixture_files = true;
        self
    }

    /// Write `contents` to `zones/<file>`.
    pub fn file(mut self, file: &str, contents: &str) -> Self {
        self.files.push((file.to_string(), contents.to_string()));
        self
    }

    /// The zones that must answer SOA with AA before Shoal counts as ready (default:
    /// every zone served from a file).
    pub fn ready_zones(mut self, zones: &[&str]) -> Self {
        self.ready_zones = Some(zones.iter().map(|z| z.to_string()).collect());
        self
    }

    /// Write the directory, its zone files and `shoal.toml`; nothing runs yet.
    pub fn build(self) -> Shoal {
        let dir = TempDir::new(&self.name);
        let addr = self.listen.unwrap_or_else(|| ([127, 0, 0, 1], free_port()).into());
        let zones_dir = dir.path().join("zones");
        std::fs::create_dir_all(&zones_dir).expect("create zones dir");
        if self.fixture_files {
            zone::copy_fixtures(&zones_dir);
        }
        for (file, contents) in &self.files {
            std::fs::write(zones_dir.join(file), contents).expect("write zone file");
        }
        let config = dir.path().join("shoal.toml");
        std::fs::write(&config, self.config_text(addr)).expect("write shoal.toml");
        let ready_zones = self
            .ready_zones
            .unwrap_or_else(|| self.zones.iter().filter(|z| z.from_file).map(|z| z.name.clone()).collect());
        let daemon = Daemon {
            name: self.name,
            addr,
            program: bin(),
            args: serve_args(&config),
            env: vec![("SHOAL_LOG".to_string(), "debug".to_string())],
            logs: vec![dir.path().join("shoal.log")],
            ready_zones,
            proc: None,
            dir,
        };
        Shoal { daemon, config }
    }

    /// [`ShoalBuilder::build`], then start and wait until ready.
    pub fn start(self) -> Shoal {
        let mut shoal = self.build();
        shoal.start();
        shoal
    }

    fn config_text(&self, addr: SocketAddr) -> String {
        let mut conf = format!("[server]\nlisten = [\"{addr}\"]\nworkers = 1\nstate_dir = \"state\"\n");
        if let Some(identity) = &self.identity {
            conf.push_str(&format!("identity = \"{identity}\"\n"));
        }
        for line in &self.server {
            conf.push_str(line);
            conf.push('\n');
        }
        conf.push_str(&format!(
            "\n[[key]]\nname = \"{KEY_NAME}\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{KEY_SECRET}\"\n"
        ));
        for z in &self.zones {
            conf.push_str(&format!("\n[[zone]]\nname = \"{}\"\n", z.name));
            for line in &z.lines {
                conf.push_str(line);
                conf.push('\n');
            }
        }
        for table in &self.tables {
            conf.push_str(table);
        }
        conf
    }
}

fn serve_args(config: &Path) -> Vec<OsString> {
    vec!["serve".into(), "--config".into(), config.into()]
}

/// A Shoal process and its directory; stopped on drop.
pub struct Shoal {
    daemon: Daemon,
    config: PathBuf,
}

impl Shoal {
    /// A configuration named `name` (its directory and log say so); see the module doc.
    pub fn builder(name: &str) -> ShoalBuilder {
        ShoalBuilder {
            name: name.to_string(),
            listen: None,
            identity: None,
            server: Vec::new(),
            zones: Vec::new(),
            tables: Vec::new(),
            fixture_files: false,
            files: Vec::new(),
            ready_zones: None,
        }
    }

    /// The path of `shoal.toml`.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The arguments after the program that run this server: `serve --config <path>`.
    pub fn serve_args(&self) -> Vec<OsString> {
        serve_args(&self.config)
    }

    /// `shoal check --config <path>`, bounded.
    pub fn check(&self) -> Output {
        let mut cmd = command();
        cmd.arg("check").arg("--config").arg(&self.config);
        run(cmd, self.dir(), "check")
    }

    /// `shoal ctl --config <path> <args>`, bounded.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let mut cmd = command();
        cmd.arg("ctl").arg("--config").arg(&self.config).args(args);
        run(cmd, self.dir(), "ctl")
    }
}

impl Deref for Shoal {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl DerefMut for Shoal {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}
