//! The one way to start the reference servers: Knot DNS, NSD and BIND, each with a
//! generated configuration in a temporary directory, zone files under `zones/`, one
//! loopback port, run as ordinary foreground processes and stopped by PID (a
//! [`Daemon`]). Reload is SIGHUP for all three (each re-reads zone files whose mtime
//! changed; see [`zone::write_file`]).
//!
//! A peer's zones ([`PeerZone`]) are transfer primaries, secondaries, or query-only
//! references (the fixture zones, served as they are for the differential test: no
//! transfers, no journal). Every transfer zone allows AXFR from 127.0.0.1 without a
//! key, so a test can compare contents, except a keyed primary zone, which wants the
//! key like Shoal does. Every peer knows the test TSIG key; Knot and NSD hide their
//! version (the differential test compares CHAOS answers).
//!
//! Facts that cost time to find:
//! - Knot resolves `$INCLUDE` relative to the including zone file, NSD relative to its
//!   `zonesdir`, so NSD's `zonesdir` is the zones directory itself; BIND resolves it
//!   against its `directory`, so BIND serves no reference zones here.
//! - Debian's NSD rate-limits responses by default: `rrl-ratelimit: 0` and
//!   `rrl-whitelist-ratelimit: 0`, or busy tests get empty truncated answers.
//! - Knot answers `version.bind` with its version unless `version: ""` (then REFUSED,
//!   like NSD's `hide-version: yes`); both answer CHAOS without AA.
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

use std::ffi::OsString;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::Path;

use super::daemon::Daemon;
use super::{find_program, free_port, zone, TempDir, IDENTITY, KEY_NAME, KEY_SECRET};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// True when every one of `kinds` is installed. When one is missing: with
/// `SHOAL_ALLOW_NO_PEERS=1`, print a clear skip notice and return false (the caller
/// returns); otherwise panic, because a silently skipped test is a lie.
pub fn available(test: &str, kinds: &[PeerKind]) -> bool {
    let missing: Vec<&str> = kinds.iter().map(|k| k.program()).filter(|p| find_program(p).is_none()).collect();
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
        "{test}: {} not installed; run scripts/test.sh (it installs knot, nsd and bind9) \
         or set SHOAL_ALLOW_NO_PEERS=1 to skip explicitly",
        missing.join(", ")
    );
}

/// What a peer does with one zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Serves `zones/<name>zone` and transfers it (IXFR from file differences).
    Primary,
    /// Takes the zone from this primary.
    Secondary(SocketAddr),
    /// Serves `zones/<file>` for queries only: no transfers, no journal.
    Reference(String),
}

/// One zone of a peer.
#[derive(Clone, Debug)]
pub struct PeerZone {
    pub name: String,
    pub role: Role,
    /// A primary NOTIFYs this address on each new version.
    pub notify: Option<SocketAddr>,
    /// Transfers (and NOTIFY) signed with the test key.
    pub keyed: bool,
}

impl PeerZone {
    pub fn primary(name: &str) -> PeerZone {
        PeerZone { name: name.to_string(), role: Role::Primary, notify: None, keyed: false }
    }

    pub fn secondary(name: &str, primary: SocketAddr) -> PeerZone {
        PeerZone { name: name.to_string(), role: Role::Secondary(primary), notify: None, keyed: false }
    }

    pub fn reference(name: &str, file: &str) -> PeerZone {
        PeerZone { name: name.to_string(), role: Role::Reference(file.to_string()), notify: None, keyed: false }
    }

    pub fn notify(mut self, target: SocketAddr) -> PeerZone {
        self.notify = Some(target);
        self
    }

    pub fn keyed(mut self) -> PeerZone {
        self.keyed = true;
        self
    }

    /// Served from a file at start (the peer is ready once it answers for it).
    fn loads_a_file(&self) -> bool {
        !matches!(self.role, Role::Secondary(_))
    }
}

/// A peer process and its directory; stopped on drop.
pub struct Peer {
    pub kind: PeerKind,
    daemon: Daemon,
}

impl Peer {
    /// Write the configuration of a peer on 127.0.0.1:`port`; primary zone files go to
    /// [`Daemon::zone_file`] before [`Daemon::start`].
    pub fn new(kind: PeerKind, port: u16, zones: &[PeerZone]) -> Peer {
        Peer::configure(kind, port, zones, None)
    }

    /// A query-only reference serving the fixture zones under [`IDENTITY`], on a free
    /// port; not started yet.
    pub fn reference(kind: PeerKind) -> Peer {
        let zones: Vec<PeerZone> = zone::fixtures().iter().map(|f| PeerZone::reference(f.name, f.file)).collect();
        let peer = Peer::configure(kind, free_port(), &zones, Some(IDENTITY));
        zone::copy_fixtures(&peer.zones_dir());
        peer
    }

    fn configure(kind: PeerKind, port: u16, zones: &[PeerZone], identity: Option<&str>) -> Peer {
        let ready: Vec<String> = zones.iter().filter(|z| z.loads_a_file()).map(|z| z.name.clone()).collect();
        Peer::custom(kind, port, &ready, |d, addr| match kind {
            PeerKind::Knot => knot_config(d, addr, zones, identity),
            PeerKind::Nsd => nsd_config(d, addr, zones, identity),
            PeerKind::Bind => bind_config(d, addr, zones),
        })
    }

    /// A peer on 127.0.0.1:`port` whose configuration the test writes itself: `config`
    /// is given the peer's directory (with `zones/`, `secondary/` and `storage/`) and
    /// address. It counts as started once it answers SOA for each of `ready_zones`.
    pub fn custom(
        kind: PeerKind,
        port: u16,
        ready_zones: &[String],
        config: impl FnOnce(&Path, SocketAddr) -> String,
    ) -> Peer {
        let program = find_program(kind.program())
            .unwrap_or_else(|| panic!("{} not installed (apt-get install knot nsd bind9)", kind.program()));
        let dir = TempDir::new(kind.name());
        let d = dir.path();
        for sub in ["zones", "secondary", "storage"] {
            std::fs::create_dir_all(d.join(sub)).expect("create peer dir");
        }
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let config = config(d, addr);
        let args = match kind {
            PeerKind::Knot => vec!["-c"],
            PeerKind::Nsd => vec!["-d", "-c"],
            PeerKind::Bind => vec!["-g", "-4", "-n", "1", "-c"],
        };
        let path = d.join(format!("{}.conf", kind.name()));
        std::fs::write(&path, config).expect("write peer config");
        let mut args: Vec<OsString> = args.into_iter().map(OsString::from).collect();
        args.push(path.into());
        let mut logs = vec![d.join(format!("{}.stderr.log", kind.name()))];
        if kind == PeerKind::Nsd {
            logs.push(d.join("nsd.log"));
        }
        let daemon = Daemon {
            name: kind.name().to_string(),
            addr,
            program,
            args,
            env: Vec::new(),
            logs,
            ready_zones: ready_zones.to_vec(),
            proc: None,
            dir,
        };
        Peer { kind, daemon }
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

impl Deref for Peer {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl DerefMut for Peer {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}

fn knot_config(d: &Path, addr: SocketAddr, zones: &[PeerZone], identity: Option<&str>) -> String {
    let d = d.display();
    let mut c = format!(
        "server:\n    rundir: \"{d}\"\n    pidfile: \"{d}/knot.pid\"\n    listen: {}@{}\n    udp-workers: 1\n    \
         tcp-workers: 1\n    background-workers: 1\n    version: \"\"\n",
        addr.ip(),
        addr.port()
    );
    if let Some(identity) = identity {
        c.push_str(&format!("    identity: \"{identity}\"\n    nsid: \"{identity}\"\n"));
    }
    c.push_str(&format!(
        "log:\n  - target: stderr\n    any: info\n\
         database:\n    storage: \"{d}/storage\"\n\
         key:\n  - id: {KEY_NAME}\n    algorithm: hmac-sha256\n    secret: {KEY_SECRET}\n"
    ));
    c.push_str(
        "acl:\n  - id: plain\n    address: 127.0.0.1\n    action: [transfer, notify]\n  \
         - id: keyed\n    address: 127.0.0.1\n    key: xfr-key.\n    action: [transfer, notify]\n",
    );
    let mut remotes = String::new();
    let mut zone_conf = String::new();
    // Transfer zones keep a journal of changes and load file differences as IXFR.
    let journal = "    zonefile-load: difference\n    journal-content: changes\n";
    for (i, z) in zones.iter().enumerate() {
        let key = if z.keyed { format!("\n    key: {KEY_NAME}") } else { String::new() };
        zone_conf.push_str(&format!("  - domain: {}\n", z.name));
        match &z.role {
            Role::Secondary(p) => {
                remotes.push_str(&format!("  - id: r{i}\n    address: {}@{}{key}\n", p.ip(), p.port()));
                zone_conf.push_str(&format!(
                    "    file: \"{d}/secondary/{}zone\"\n    master: r{i}\n    acl: [plain, keyed]\n{journal}",
                    z.name
                ));
            }
            Role::Primary => {
                zone_conf.push_str(&format!("    file: \"{d}/zones/{}zone\"\n{journal}", z.name));
                zone_conf.push_str(if z.keyed { "    acl: [keyed]\n" } else { "    acl: [plain]\n" });
                if let Some(n) = z.notify {
                    remotes.push_str(&format!("  - id: r{i}\n    address: {}@{}{key}\n", n.ip(), n.port()));
                    zone_conf.push_str(&format!("    notify: r{i}\n"));
                }
            }
            Role::Reference(file) => {
                zone_conf.push_str(&format!("    file: \"{d}/zones/{file}\"\n    journal-content: none\n"));
            }
        }
    }
    if !remotes.is_empty() {
        c.push_str("remote:\n");
        c.push_str(&remotes);
    }
    // Never write back to the zone files: they are fixtures or written by the test.
    c.push_str(&format!("template:\n  - id: default\n    storage: \"{d}/zones\"\n    zonefile-sync: -1\n"));
    c.push_str("zone:\n");
    c.push_str(&zone_conf);
    c
}

fn nsd_config(d: &Path, addr: SocketAddr, zones: &[PeerZone], identity: Option<&str>) -> String {
    let d = d.display();
    let mut c = format!(
        "server:\n    ip-address: {ip}@{port}\n    port: {port}\n    do-ip6: no\n    server-count: 1\n    \
         username: \"\"\n    chroot: \"\"\n    zonesdir: \"{d}/zones\"\n    pidfile: \"{d}/nsd.pid\"\n    \
         xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    zonelistfile: \"{d}/zone.list\"\n    \
         database: \"\"\n    logfile: \"{d}/nsd.log\"\n    verbosity: 2\n    hide-version: yes\n    \
         rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\n",
        ip = addr.ip(),
        port = addr.port()
    );
    if let Some(identity) = identity {
        c.push_str(&format!("    identity: \"{identity}\"\n    nsid: \"ascii_{identity}\"\n"));
    }
    c.push_str(&format!(
        "remote-control:\n    control-enable: no\n\
         key:\n    name: \"{KEY_NAME}\"\n    algorithm: hmac-sha256\n    secret: \"{KEY_SECRET}\"\n"
    ));
    for z in zones {
        let key = if z.keyed { KEY_NAME } else { "NOKEY" };
        c.push_str(&format!("zone:\n    name: \"{}\"\n", z.name));
        match &z.role {
            Role::Secondary(p) => c.push_str(&format!(
                "    zonefile: \"{d}/secondary/{}zone\"\n    request-xfr: {}@{} {key}\n    \
                 allow-notify: 127.0.0.1 {key}\n    provide-xfr: 127.0.0.1 NOKEY\n",
                z.name,
                p.ip(),
                p.port()
            )),
            Role::Primary => {
                c.push_str(&format!(
                    "    zonefile: \"{}zone\"\n    provide-xfr: 127.0.0.1 {key}\n    store-ixfr: yes\n    \
                     create-ixfr: yes\n",
                    z.name
                ));
                if let Some(n) = z.notify {
                    c.push_str(&format!("    notify: {}@{} {key}\n", n.ip(), n.port()));
                }
            }
            Role::Reference(file) => c.push_str(&format!("    zonefile: \"{file}\"\n")),
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
        match &z.role {
            Role::Secondary(p) => c.push_str(&format!(
                "zone \"{name}\" {{\n    type secondary;\n    primaries {{ {} port {}{key}; }};\n    \
                 file \"secondary/{}zone\";\n    allow-transfer {{ 127.0.0.1; }};\n}};\n",
                p.ip(),
                p.port(),
                z.name
            )),
            Role::Primary => {
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
            Role::Reference(_) => {
                panic!("{name}: BIND serves no reference zones (its $INCLUDE resolves against `directory`)")
            }
        }
    }
    c
}
