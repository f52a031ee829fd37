//! [`Unbound`]: a validating resolver for the DNSSEC tests, whose only upstreams are the
//! authoritative servers a test names ([`Unbound::start`]), each as a `stub-zone`, with
//! the zones' DS records as `trust-anchor`s. It runs as its own process on a free
//! loopback port, with a configuration written by the test into its own directory
//! (nothing of the system's `/etc/unbound` is read), and is stopped by PID like every
//! other daemon of the harness.
//!
//! Unbound never sends a packet beyond 127.0.0.0/8, and a test can check that it sent
//! nothing beyond its stubs:
//! - `outgoing-interface: 127.0.0.1`, `do-ip6: no`, and every IPv4 address outside
//!   127.0.0.0/8 is a `do-not-query-address` (glue such as 192.0.2.53 is never asked);
//! - the root is a `stub-zone` pointing at a [`Sink`] on a loopback port, which answers
//!   nothing and records every query it gets ([`Unbound::escaped`]). No `root-hints`:
//!   Unbound 1.17 reads root hints before stubs and then ignores a stub for `.` ("second
//!   hints for zone . ignored"); without them the stub is the root, and the built-in
//!   hints, read only when no root is configured, are not used;
//! - `local-zone: "test." nodefault` lifts the RFC 6761 block on `test.`, and no
//!   `domain-insecure` is set: every answer for a test zone must validate;
//! - `qname-minimisation: no`, `harden-referral-path: no`, `aggressive-nsec: no`,
//!   `prefetch: no`, `trust-anchor-signaling: no`: each question a test asks becomes
//!   one question to the authority, answered from its own proofs, not from the cache's;
//! - `infra-keep-probing: yes`: a server that was slow once on a busy machine is asked
//!   again rather than given up on;
//! - outgoing ports stay in the kernel's ephemeral range, so that they never take a
//!   port [`free_port`] handed out to a server that starts later.
//!
//! Validation failures are logged (`val-log-level: 2`) in `unbound.log`; answers carry
//! Extended DNS Errors (`ede: yes`).

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::daemon::Daemon;
use super::dns::{self, QuerySpec};
use super::normalize::{self, Parsed};
use super::{ephemeral_start, find_program, free_port, wait_until, TempDir, WAIT};

/// Every IPv4 block outside 127.0.0.0/8: together they are 0.0.0.0/0 less 127.0.0.0/8.
const NOT_LOOPBACK: &[&str] = &[
    "0.0.0.0/2",
    "64.0.0.0/3",
    "96.0.0.0/4",
    "112.0.0.0/5",
    "120.0.0.0/6",
    "124.0.0.0/7",
    "126.0.0.0/8",
    "128.0.0.0/1",
];

/// True when `unbound` is installed. When it is missing: with `SHOAL_ALLOW_NO_PEERS=1`,
/// print a skip notice and return false; otherwise panic (see [`super::peers::available`]).
pub fn available(test: &str) -> bool {
    if find_program("unbound").is_some() {
        return true;
    }
    if std::env::var("SHOAL_ALLOW_NO_PEERS").as_deref() == Ok("1") {
        eprintln!("SKIPPED {test}: unbound not installed and SHOAL_ALLOW_NO_PEERS=1 (this is NOT a pass)");
        return false;
    }
    panic!("{test}: unbound not installed; run scripts/test.sh (it installs it) or set SHOAL_ALLOW_NO_PEERS=1");
}

/// A loopback address that answers nothing and records every DNS message it receives,
/// over UDP and TCP, until dropped.
pub struct Sink {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    pub fn start() -> Sink {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let udp = UdpSocket::bind(addr).expect("bind sink UDP");
        udp.set_read_timeout(Some(Duration::from_millis(100))).expect("sink UDP timeout");
        let tcp = TcpListener::bind(addr).expect("bind sink TCP");
        tcp.set_nonblocking(true).expect("sink TCP nonblocking");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            let record = |how: &str, msg: &[u8]| {
                let what = match normalize::parse(msg) {
                    Ok(p) => p.questions.iter().map(|(n, t, _)| format!("{n} TYPE{t}")).collect::<Vec<_>>().join(", "),
                    Err(e) => format!("unparseable: {e}"),
                };
                seen2.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{how}: {what}"));
            };
            while !stop2.load(Ordering::Relaxed) {
                if let Ok((n, _)) = udp.recv_from(&mut buf) {
                    record("udp", &buf[..n]);
                }
                if let Ok((mut stream, _)) = tcp.accept() {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                    match dns::tcp_read_message(&mut stream) {
                        Ok(msg) => record("tcp", &msg),
                        Err(e) => record("tcp", format!("connection, no message: {e}").as_bytes()),
                    }
                }
            }
        });
        Sink { addr, seen, stop, thread: Some(thread) }
    }

    /// Every message received so far (`udp: name TYPEn`).
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One zone Unbound sends to an authoritative server.
#[derive(Clone, Debug)]
pub struct Stub {
    pub zone: String,
    pub server: SocketAddr,
    /// DS records of the zone's apex (`owner ttl IN DS …`): its trust anchor.
    pub anchors: Vec<String>,
}

/// A running validating Unbound; stopped on drop (the sink with it).
pub struct Unbound {
    pub addr: SocketAddr,
    daemon: Daemon,
    sink: Sink,
}

impl Unbound {
    /// Write the configuration (see the module doc) for `stubs` and start Unbound; wait
    /// until it answers `localhost. A` (a local zone: nothing goes upstream).
    pub fn start(tag: &str, stubs: &[Stub]) -> Unbound {
        let program = find_program("unbound").expect("unbound installed (apt-get install unbound)");
        let dir = TempDir::new(&format!("unbound-{tag}"));
        let d = dir.path().to_path_buf();
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let sink = Sink::start();
        let config = config(&d, addr, &sink, stubs);
        let path = d.join("unbound.conf");
        std::fs::write(&path, &config).expect("write unbound.conf");
        let mut daemon = Daemon {
            name: format!("unbound-{tag}"),
            addr,
            program,
            args: vec!["-d".into(), "-c".into(), path.into()],
            env: Vec::new(),
            logs: vec![d.join("unbound.stderr.log"), d.join("unbound.log")],
            ready_zones: Vec::new(),
            proc: None,
            dir,
        };
        let mut cmd = Command::new(&daemon.program);
        cmd.args(&daemon.args);
        daemon.launch(cmd);
        let unbound = Unbound { addr, daemon, sink };
        let ready = wait_until(WAIT, || {
            let spec = QuerySpec::new("localhost.", 1).rd();
            dns::exchange(addr, &spec, 0x4242).map(|_| ())
        });
        if ready.is_none() {
            panic!("{tag}: unbound did not answer on {addr} within {WAIT:?}\n{config}\n{}", unbound.tail());
        }
        unbound
    }

    /// Ask `name`/`qtype` as a stub resolver asks: RD, DO, EDNS 4096, over TCP (no
    /// truncation). `Err` when no parseable reply came.
    pub fn query(&self, name: &str, qtype: u16, id: u16) -> Result<Parsed, String> {
        let spec = QuerySpec::new(name, qtype).rd().dnssec_ok().payload(4096).tcp();
        let reply = dns::exchange(self.addr, &spec, id).ok_or_else(|| format!("no reply from {}", self.daemon.name))?;
        normalize::parse(&reply)
    }

    /// Send `name`/`qtype` (RD) over UDP and do not wait for the answer: a name outside
    /// the stubs, to see the sink catch it.
    pub fn probe(&self, name: &str, qtype: u16) {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind probe socket");
        let _ = sock.send_to(&QuerySpec::new(name, qtype).rd().to_wire(0x7070), self.addr);
    }

    /// What reached the sink: anything Unbound asked beyond its stubs.
    pub fn escaped(&self) -> Vec<String> {
        self.sink.seen()
    }

    /// Log lines containing every one of `needles`.
    pub fn log_has(&self, needles: &[&str]) -> Vec<String> {
        self.daemon.log_has(needles)
    }

    pub fn tail(&self) -> String {
        self.daemon.tail()
    }
}

fn config(d: &std::path::Path, addr: SocketAddr, sink: &Sink, stubs: &[Stub]) -> String {
    let d = d.display();
    let mut c = String::new();
    let _ = write!(
        c,
        "server:\n    interface: {ip}@{port}\n    port: {port}\n    outgoing-interface: 127.0.0.1\n    \
         do-ip4: yes\n    do-ip6: no\n    do-udp: yes\n    do-tcp: yes\n    num-threads: 1\n    \
         so-reuseport: no\n    access-control: 127.0.0.0/8 allow\n    do-not-query-localhost: no\n    \
         outgoing-port-avoid: 0-{below}\n    chroot: \"\"\n    username: \"\"\n    directory: \"{d}\"\n    \
         pidfile: \"{d}/unbound.pid\"\n    use-syslog: no\n    logfile: \"{d}/unbound.log\"\n    \
         verbosity: 1\n    val-log-level: 2\n    log-servfail: yes\n    ede: yes\n    \
         module-config: \"validator iterator\"\n    harden-referral-path: no\n    qname-minimisation: no\n    \
         aggressive-nsec: no\n    prefetch: no\n    infra-keep-probing: yes\n    trust-anchor-signaling: no\n    root-key-sentinel: no\n    \
         local-zone: \"test.\" nodefault\n",
        ip = addr.ip(),
        port = addr.port(),
        below = ephemeral_start() - 1,
    );
    for block in NOT_LOOPBACK {
        let _ = writeln!(c, "    do-not-query-address: {block}");
    }
    for stub in stubs {
        for ds in &stub.anchors {
            let _ = writeln!(c, "    trust-anchor: \"{ds}\"");
        }
    }
    c.push_str("remote-control:\n    control-enable: no\n");
    let _ = write!(c, "stub-zone:\n    name: \".\"\n    stub-addr: {}@{}\n", sink.addr.ip(), sink.addr.port());
    for stub in stubs {
        let _ = write!(
            c,
            "stub-zone:\n    name: \"{}\"\n    stub-addr: {}@{}\n",
            stub.zone,
            stub.server.ip(),
            stub.server.port()
        );
    }
    c
}
