//! Knot DNS, NSD and BIND as transfer peers of Shoal: a generated configuration in a
//! temporary directory, zone files under `zones/`, one loopback port, started as
//! ordinary foreground processes and stopped by PID. Reload is SIGHUP for all three
//! (each re-reads zone files whose mtime changed; see [`super::write_zone_file`]).
//!
//! Every zone allows AXFR from 127.0.0.1 without a key, so the test can compare
//! contents, except a keyed primary zone, which wants the key like Shoal does.
//!
//! Facts that cost time to find:
//! - Knot does not create its `database.storage` directory; without it every journal
//!   and timer write fails with "not exists" (an IXFR received cannot be stored).
//! - Knot serves IXFR from a zone file only with `zonefile-load: difference` and a
//!   journal (`journal-content: changes`); `zonefile-sync: -1` keeps the files as written.
//! - NSD creates IXFR data from zone file changes only with `store-ixfr: yes` and
//!   `create-ixfr: yes`; it logs transfers at `verbosity: 2` into its own log file.
//! - BIND needs `notify explicit` + `also-notify` with a port, `notify-delay 0`,
//!   `ixfr-from-differences yes` on the primary, a writable `directory` for journals and
//!   `session-keyfile` moved out of /run; `controls { };` keeps it off port 953.
//! - BIND with `ixfr-from-differences` refuses to load a zone whose file was edited
//!   while it was stopped ("journal rollforward failed: journal out of sync with zone"):
//!   edit after restarting it.
//! - Knot 3.2 sends NOTIFY over TCP, and asks for the SOA and then the IXFR on one TCP
//!   connection (signed for a keyed zone). BIND 9.18 and NSD 4.6 do not say IXFR or
//!   AXFR when they receive a zone; their record or byte counts tell.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{dns, find_program, log_matches, log_tail, wait_until, Proc, TempDir, KEY_NAME, KEY_SECRET, WAIT};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerKind {
    Knot,
    Nsd,
    Bind,
}

impl PeerKind {
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Knot => "knot",
            PeerKind::Nsd => "nsd",
            PeerKind::Bind => "bind",
        }
    }

    fn program(self) -> &'static str {
        match self {
            PeerKind::Knot => "knotd",
            PeerKind::Nsd => "nsd",
            PeerKind::Bind => "named",
        }
    }
}

/// One zone of a peer.
#[derive(Clone, Debug)]
pub struct PeerZone {
    pub name: String,
    /// A secondary of this primary; `None`: a primary serving `zones/<name>zone`.
    pub primary: Option<SocketAddr>,
    /// A primary NOTIFYs this address on each new version.
    pub notify: Option<SocketAddr>,
    /// Transfers (and NOTIFY) signed with the test key.
    pub keyed: bool,
}

impl PeerZone {
    pub fn primary(name: &str) -> PeerZone {
        PeerZone { name: name.to_string(), primary: None, notify: None, keyed: false }
    }

    pub fn secondary(name: &str, primary: SocketAddr) -> PeerZone {
        PeerZone { name: name.to_string(), primary: Some(primary), notify: None, keyed: false }
    }

    pub fn notify(mut self, target: SocketAddr) -> PeerZone {
        self.notify = Some(target);
        self
    }

    pub fn keyed(mut self) -> PeerZone {
        self.keyed = true;
        self
    }
}

pub struct Peer {
    pub kind: PeerKind,
    pub addr: SocketAddr,
    zones: Vec<PeerZone>,
    dir: TempDir,
    proc: Option<Proc>,
    logs: Vec<PathBuf>,
    args: Vec<String>,
}

impl Peer {
    /// True when the peer's daemon is installed.
    pub fn available(kind: PeerKind) -> bool {
        find_program(kind.program()).is_some()
    }

    /// Write the configuration; primary zone files go to [`Peer::zone_file`] before
    /// [`Peer::start`].
    pub fn new(kind: PeerKind, port: u16, zones: &[PeerZone]) -> Peer {
        let dir = TempDir::new(kind.name());
        let d = dir.path();
        std::fs::create_dir_all(d.join("zones")).expect("create zones dir");
        for sub in ["secondary", "storage"] {
            std::fs::create_dir_all(d.join(sub)).expect("create peer dir");
        }
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let stderr = d.join(format!("{}.stderr.log", kind.name()));
        let (config, mut args, mut logs) = match kind {
            PeerKind::Knot => (knot_config(d, addr, zones), vec!["-c".to_string()], vec![stderr]),
            PeerKind::Nsd => (nsd_config(d, addr, zones), vec!["-d".to_string(), "-c".to_string()], vec![stderr]),
            PeerKind::Bind => {
                (bind_config(d, addr, zones), ["-g", "-4", "-n", "1", "-c"].map(String::from).to_vec(), vec![stderr])
            }
        };
        if kind == PeerKind::Nsd {
            logs.push(d.join("nsd.log"));
        }
        let path = d.join(format!("{}.conf", kind.name()));
        std::fs::write(&path, config).expect("write peer config");
        args.push(path.to_string_lossy().into_owned());
        Peer { kind, addr, zones: zones.to_vec(), dir, proc: None, logs, args }
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn zone_file(&self, name: &str) -> PathBuf {
        self.dir.path().join("zones").join(format!("{name}zone"))
    }

    /// Start and wait until every primary zone answers SOA with AA (or, with none, until
    /// the peer answers at all).
    pub fn start(&mut self) {
        assert!(self.proc.is_none(), "{} already running", self.name());
        let program = find_program(self.kind.program())
            .unwrap_or_else(|| panic!("{} not installed (apt-get install knot nsd bind9)", self.kind.program()));
        let mut proc = Proc::spawn(self.name(), &program, &self.args, self.dir.path(), &self.logs[0], &[]);
        let primaries: Vec<String> =
            self.zones.iter().filter(|z| z.primary.is_none()).map(|z| z.name.clone()).collect();
        let addr = self.addr;
        let up = wait_until(WAIT, || {
            if !proc.is_running() {
                return Some(false);
            }
            let ready = if primaries.is_empty() {
                dns::udp_exchange(addr, &dns::query(0x4243, ".", dns::TYPE_SOA)).is_some()
            } else {
                primaries.iter().all(|z| dns::soa_serial(addr, z).is_some())
            };
            ready.then_some(true)
        });
        self.proc = Some(proc);
        if up != Some(true) {
            panic!("{} did not start serving {primaries:?} on {addr}\n{}", self.name(), self.tail());
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    /// SIGHUP: re-read changed zone files.
    pub fn reload(&mut self) {
        self.proc.as_mut().expect("reload of a stopped peer").signal(libc::SIGHUP);
    }

    pub fn tail(&self) -> String {
        log_tail(&self.logs, 60)
    }

    /// Lines of any of the peer's logs that contain every one of `needles`.
    pub fn log_has(&self, needles: &[&str]) -> Vec<String> {
        self.logs.iter().flat_map(|l| log_matches(l, needles)).collect()
    }

    /// Wait until `zone` is served with `serial`; panic with the log if not.
    pub fn wait_serial(&self, zone: &str, serial: u32) {
        if wait_until(WAIT, || dns::soa_serial(self.addr, zone).filter(|s| *s == serial)).is_none() {
            panic!(
                "{}: {zone} not served with serial {serial} within {WAIT:?} (now: {:?})\n{}",
                self.name(),
                dns::lookup(self.addr, zone, dns::TYPE_SOA),
                self.tail()
            );
        }
    }
}

fn knot_config(d: &Path, addr: SocketAddr, zones: &[PeerZone]) -> String {
    let d = d.display();
    let mut c = format!(
        "server:\n    rundir: \"{d}\"\n    pidfile: \"{d}/knot.pid\"\n    listen: {}@{}\n    udp-workers: 1\n    \
         tcp-workers: 1\n    background-workers: 1\nlog:\n  - target: stderr\n    any: info\n\
         database:\n    storage: \"{d}/storage\"\n\
         key:\n  - id: {KEY_NAME}\n    algorithm: hmac-sha256\n    secret: {KEY_SECRET}\n",
        addr.ip(),
        addr.port()
    );
    c.push_str(
        "acl:\n  - id: plain\n    address: 127.0.0.1\n    action: [transfer, notify]\n  \
         - id: keyed\n    address: 127.0.0.1\n    key: xfr-key.\n    action: [transfer, notify]\n",
    );
    let mut remotes = String::new();
    let mut zone_conf = String::new();
    for (i, z) in zones.iter().enumerate() {
        let key = if z.keyed { format!("\n    key: {KEY_NAME}") } else { String::new() };
        zone_conf.push_str(&format!("  - domain: {}\n", z.name));
        if let Some(p) = z.primary {
            remotes.push_str(&format!("  - id: r{i}\n    address: {}@{}{key}\n", p.ip(), p.port()));
            zone_conf.push_str(&format!(
                "    file: \"{d}/secondary/{}zone\"\n    master: r{i}\n    acl: [plain, keyed]\n",
                z.name
            ));
        } else {
            zone_conf.push_str(&format!("    file: \"{d}/zones/{}zone\"\n", z.name));
            zone_conf.push_str(if z.keyed { "    acl: [keyed]\n" } else { "    acl: [plain]\n" });
            if let Some(n) = z.notify {
                remotes.push_str(&format!("  - id: r{i}\n    address: {}@{}{key}\n", n.ip(), n.port()));
                zone_conf.push_str(&format!("    notify: r{i}\n"));
            }
        }
    }
    if !remotes.is_empty() {
        c.push_str("remote:\n");
        c.push_str(&remotes);
    }
    c.push_str(&format!(
        "template:\n  - id: default\n    storage: \"{d}/zones\"\n    zonefile-sync: -1\n    \
         zonefile-load: difference\n    journal-content: changes\n"
    ));
    c.push_str("zone:\n");
    c.push_str(&zone_conf);
    c
}

fn nsd_config(d: &Path, addr: SocketAddr, zones: &[PeerZone]) -> String {
    let d = d.display();
    let mut c = format!(
        "server:\n    ip-address: {ip}@{port}\n    port: {port}\n    do-ip6: no\n    server-count: 1\n    \
         username: \"\"\n    chroot: \"\"\n    zonesdir: \"{d}/zones\"\n    pidfile: \"{d}/nsd.pid\"\n    \
         xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    zonelistfile: \"{d}/zone.list\"\n    \
         database: \"\"\n    logfile: \"{d}/nsd.log\"\n    verbosity: 2\n    rrl-ratelimit: 0\n    \
         rrl-whitelist-ratelimit: 0\n\
         remote-control:\n    control-enable: no\n\
         key:\n    name: \"{KEY_NAME}\"\n    algorithm: hmac-sha256\n    secret: \"{KEY_SECRET}\"\n",
        ip = addr.ip(),
        port = addr.port()
    );
    for z in zones {
        let key = if z.keyed { KEY_NAME } else { "NOKEY" };
        c.push_str(&format!("zone:\n    name: \"{}\"\n", z.name));
        if let Some(p) = z.primary {
            c.push_str(&format!(
                "    zonefile: \"{d}/secondary/{}zone\"\n    request-xfr: {}@{} {key}\n    \
                 allow-notify: 127.0.0.1 {key}\n    provide-xfr: 127.0.0.1 NOKEY\n",
                z.name,
                p.ip(),
                p.port()
            ));
        } else {
            c.push_str(&format!(
                "    zonefile: \"{}zone\"\n    provide-xfr: 127.0.0.1 {key}\n    store-ixfr: yes\n    \
                 create-ixfr: yes\n",
                z.name
            ));
            if let Some(n) = z.notify {
                c.push_str(&format!("    notify: {}@{} {key}\n", n.ip(), n.port()));
            }
        }
    }
    c
}

fn bind_config(d: &Path, addr: SocketAddr, zones: &[PeerZone]) -> String {
    let d = d.display();
    let mut c = format!(
        "options {{\n    directory \"{d}\";\n    pid-file \"{d}/named.pid\";\n    \
         session-keyfile \"{d}/session.key\";\n    managed-keys-directory \"{d}\";\n    \
         listen-on port {port} {{ {ip}; }};\n    listen-on-v6 {{ none; }};\n    recursion no;\n    \
         dnssec-validation no;\n    notify-delay 0;\n    min-refresh-time 1;\n    min-retry-time 1;\n    \
         max-retry-time 2;\n    allow-query {{ any; }};\n}};\ncontrols {{ }};\n\
         key \"{KEY_NAME}\" {{ algorithm hmac-sha256; secret \"{KEY_SECRET}\"; }};\n",
        ip = addr.ip(),
        port = addr.port()
    );
    for z in zones {
        let key = if z.keyed { format!(" key \"{KEY_NAME}\"") } else { String::new() };
        let name = z.name.trim_end_matches('.');
        if let Some(p) = z.primary {
            c.push_str(&format!(
                "zone \"{name}\" {{\n    type secondary;\n    primaries {{ {} port {}{key}; }};\n    \
                 file \"secondary/{}zone\";\n    allow-transfer {{ 127.0.0.1; }};\n}};\n",
                p.ip(),
                p.port(),
                z.name
            ));
        } else {
            let allow = if z.keyed { format!("key \"{KEY_NAME}\";") } else { "127.0.0.1;".to_string() };
            let notify = match z.notify {
                Some(n) => format!("notify explicit;\n    also-notify {{ {} port {}{key}; }};", n.ip(), n.port()),
                None => "notify no;".to_string(),
            };
            c.push_str(&format!(
                "zone \"{name}\" {{\n    type primary;\n    file \"zones/{}zone\";\n    \
                 ixfr-from-differences yes;\n    {notify}\n    allow-transfer {{ {allow} }};\n}};\n",
                z.name
            ));
        }
    }
    c
}
