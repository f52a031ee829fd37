//! A fake primary, in process: it answers SOA queries over UDP correctly (signed when
//! the zone is keyed) and serves AXFR/IXFR over TCP, well or broken in one chosen way
//! ([`Fault`]). Threads on 127.0.0.1 with short socket timeouts poll a stop flag; `Drop`
//! stops and joins them, so a stalled transfer never outlives its test.
//!
//! The zone it serves is tiny and versioned: SOA (serial as set), apex NS `ns1`,
//! `ns1 A 192.0.2.53` and `www A 192.0.2.<version>`.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::dns::{self, name_wire, tcp_read_message, tcp_write_message};
use super::tsig::{self, Key};

/// How a transfer (AXFR, and IXFR unless said otherwise) goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Transfers are answered correctly (IXFR with the whole zone).
    None,
    /// Part of the zone, then a TCP reset.
    Reset,
    /// Part of the zone, then silence (up to [`STALL`], or until the fault changes).
    Stall,
    /// Part of the zone without the closing SOA, then an orderly close.
    Truncate,
    /// A complete transfer that carries a record outside the zone.
    OutOfZone,
    /// A complete transfer whose closing SOA differs from the opening one.
    SoaMismatch,
    /// A complete transfer signed with a wrong MAC (keyed zones).
    BadTsig,
    /// A header with the right ID, then random bytes.
    Garbage,
    /// IXFR deletes a record the secondary does not have; AXFR is correct.
    IxfrDeleteMissing,
    /// A complete, valid transfer of the zone with 400 TXT records of 100 bytes more
    /// (about 45 kB in one message).
    Oversized,
}

/// How long [`Fault::Stall`] keeps a connection silent at most: beyond Shoal's 10 s
/// read timeout.
pub const STALL: Duration = Duration::from_secs(20);

struct State {
    serial: u32,
    version: u32,
    fault: Fault,
    /// QTYPEs of the transfer requests received, in order.
    requests: Vec<u16>,
    /// SOA queries received over UDP.
    soa_queries: usize,
}

/// A UDP socket and a TCP listener on the same free loopback port, bound at once (a
/// port chosen first and bound later can be taken meanwhile by a client's ephemeral
/// socket).
fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..200 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind fake UDP");
        let addr = udp.local_addr().expect("bound");
        if let Ok(tcp) = TcpListener::bind(addr) {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP after 200 attempts");
}

pub struct FakePrimary {
    pub addr: SocketAddr,
    zone: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// One resource record: owner, type, TTL, RDATA.
type Rr = (String, u16, u32, Vec<u8>);

impl FakePrimary {
    /// Serve `zone` (version 1, serial 1, no fault) on a free loopback port; keyed:
    /// every response is signed with the test key.
    pub fn start(zone: &str, keyed: bool) -> FakePrimary {
        let (udp, tcp) = bind_pair();
        let addr = udp.local_addr().expect("bound");
        udp.set_read_timeout(Some(Duration::from_millis(100))).expect("UDP timeout");
        tcp.set_nonblocking(true).expect("nonblocking listener");
        let state = Arc::new(Mutex::new(State {
            serial: 1,
            version: 1,
            fault: Fault::None,
            requests: Vec::new(),
            soa_queries: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let threads = Arc::new(Mutex::new(Vec::new()));
        let key = keyed.then(Key::test_key);
        let ctx = Ctx { zone: zone.to_string(), state: Arc::clone(&state), stop: Arc::clone(&stop), key };
        let c = ctx.clone();
        let udp_thread = std::thread::spawn(move || c.serve_udp(udp));
        let c = ctx.clone();
        let t = Arc::clone(&threads);
        let tcp_thread = std::thread::spawn(move || c.serve_tcp(tcp, t));
        threads.lock().unwrap_or_else(|e| e.into_inner()).extend([udp_thread, tcp_thread]);
        FakePrimary { addr, zone: zone.to_string(), state, stop, threads }
    }

    /// Serve `serial`/`version` from now on, transfers broken by `fault`.
    pub fn set(&self, serial: u32, version: u32, fault: Fault) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.serial = serial;
        s.version = version;
        s.fault = fault;
    }

    /// QTYPEs of the transfer requests received so far.
    pub fn requests(&self) -> Vec<u16> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).requests.clone()
    }

    /// SOA queries received over UDP so far.
    pub fn soa_queries(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).soa_queries
    }

    pub fn zone(&self) -> &str {
        &self.zone
    }
}

impl Drop for FakePrimary {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The TCP thread may still push connection threads: join until none are left.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let Some(t) = self.threads.lock().unwrap_or_else(|e| e.into_inner()).pop() else { break };
            let _ = t.join();
        }
    }
}

#[derive(Clone)]
struct Ctx {
    zone: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    key: Option<Key>,
}

impl Ctx {
    fn snapshot(&self) -> (u32, u32, Fault) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.serial, s.version, s.fault)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn serve_udp(&self, sock: UdpSocket) {
        let mut buf = vec![0u8; 4096];
        while !self.stopped() {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else { continue };
            let Some((qtype, _)) = question(&buf[..n]) else { continue };
            if qtype != dns::TYPE_SOA {
                continue;
            }
            self.state.lock().unwrap_or_else(|e| e.into_inner()).soa_queries += 1;
            let (serial, _, _) = self.snapshot();
            let mut resp = self.response(&buf[..n], &[self.soa(serial)]);
            self.sign(&mut resp, &buf[..n], false);
            let _ = sock.send_to(&resp, peer);
        }
    }

    fn serve_tcp(&self, listener: TcpListener, threads: Arc<Mutex<Vec<JoinHandle<()>>>>) {
        while !self.stopped() {
            match listener.accept() {
                Ok((stream, _)) => {
                    let c = self.clone();
                    let t = std::thread::spawn(move || c.serve_connection(stream));
                    threads.lock().unwrap_or_else(|e| e.into_inner()).push(t);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn serve_connection(&self, mut s: TcpStream) {
        let _ = s.set_nonblocking(false);
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
        let Ok(q) = tcp_read_message(&mut s) else { return };
        let Some((qtype, _)) = question(&q) else { return };
        let (serial, version, fault) = self.snapshot();
        if qtype == dns::TYPE_AXFR || qtype == dns::TYPE_IXFR {
            self.state.lock().unwrap_or_else(|e| e.into_inner()).requests.push(qtype);
        }
        let zone = self.zone_records(serial, version);
        let soa = self.soa(serial);
        let partial: Vec<Rr> = zone[..2].to_vec();
        let msg = match (qtype, fault) {
            (dns::TYPE_SOA, _) => self.response(&q, &[soa]),
            (dns::TYPE_IXFR, Fault::IxfrDeleteMissing) => {
                let mut rrs = vec![soa.clone(), self.soa(serial.wrapping_sub(1))];
                rrs.push(self.a("www", [192, 0, 2, 77]));
                rrs.push(soa.clone());
                rrs.push(self.a("www", [192, 0, 2, version as u8]));
                rrs.push(soa);
                self.response(&q, &rrs)
            }
            (_, Fault::None | Fault::IxfrDeleteMissing | Fault::BadTsig) => self.response(&q, &whole(&zone, &soa)),
            (_, Fault::Oversized) => {
                let mut rrs = whole(&zone, &soa);
                for i in 0..400 {
                    let mut txt = vec![99u8];
                    txt.extend(std::iter::repeat_n(b'x', 99));
                    rrs.insert(2, (self.origin(&format!("t{i}")), dns::TYPE_TXT, 3600, txt));
                }
                self.response(&q, &rrs)
            }
            (_, Fault::OutOfZone) => {
                let mut rrs = whole(&zone, &soa);
                rrs.insert(2, ("evil.example.net.".to_string(), dns::TYPE_A, 3600, vec![192, 0, 2, 66]));
                self.response(&q, &rrs)
            }
            (_, Fault::SoaMismatch) => {
                let mut rrs = zone.clone();
                rrs.push(self.soa(serial.wrapping_add(1)));
                self.response(&q, &rrs)
            }
            (_, Fault::Reset | Fault::Stall | Fault::Truncate) => self.response(&q, &partial),
            (_, Fault::Garbage) => {
                let mut m = q[..2].to_vec();
                m.extend_from_slice(&[0x84, 0x00, 0, 1, 0, 3, 0, 0, 0, 0]);
                let mut x: u32 = 0x9e37_79b9;
                for _ in 0..60 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    m.push(x as u8);
                }
                let _ = tcp_write_message(&mut s, &m);
                return;
            }
        };
        let mut msg = msg;
        self.sign(&mut msg, &q, fault == Fault::BadTsig && qtype != dns::TYPE_SOA);
        if tcp_write_message(&mut s, &msg).is_err() {
            return;
        }
        match fault {
            Fault::Reset if qtype != dns::TYPE_SOA => {
                let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
            }
            Fault::Stall if qtype != dns::TYPE_SOA => {
                let deadline = Instant::now() + STALL;
                while Instant::now() < deadline && !self.stopped() && self.snapshot().2 == Fault::Stall {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            _ => {}
        }
    }

    fn sign(&self, msg: &mut Vec<u8>, request: &[u8], corrupt: bool) {
        if let Some(key) = &self.key {
            let mac = tsig::mac(request);
            tsig::sign(msg, key, mac.as_deref(), corrupt);
        }
    }

    fn origin(&self, rel: &str) -> String {
        if rel == "@" {
            self.zone.clone()
        } else {
            format!("{rel}.{}", self.zone)
        }
    }

    fn soa(&self, serial: u32) -> Rr {
        let mut rdata = name_wire(&self.origin("ns1"));
        rdata.extend_from_slice(&name_wire(&self.origin("hostmaster")));
        for v in [serial, 7200, 3600, 1_209_600, 300] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        (self.zone.clone(), dns::TYPE_SOA, 3600, rdata)
    }

    fn a(&self, rel: &str, ip: [u8; 4]) -> Rr {
        (self.origin(rel), dns::TYPE_A, 3600, ip.to_vec())
    }

    /// The zone's records in transfer order, opening SOA first, no closing SOA.
    fn zone_records(&self, serial: u32, version: u32) -> Vec<Rr> {
        vec![
            self.soa(serial),
            (self.zone.clone(), dns::TYPE_NS, 3600, name_wire(&self.origin("ns1"))),
            self.a("ns1", [192, 0, 2, 53]),
            self.a("www", [192, 0, 2, version as u8]),
        ]
    }

    /// A response to `q` (ID and question copied, AA set) carrying `answers`.
    fn response(&self, q: &[u8], answers: &[Rr]) -> Vec<u8> {
        let (_, qend) = question(q).expect("checked by the caller");
        let mut m = q[..2].to_vec();
        m.extend_from_slice(&[0x84, 0x00, 0, 1]);
        m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&q[12..qend]);
        for (owner, rtype, ttl, rdata) in answers {
            m.extend_from_slice(&name_wire(owner));
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&1u16.to_be_bytes());
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }
}

/// The zone framed as a full transfer: records, then the SOA again.
fn whole(zone: &[Rr], soa: &Rr) -> Vec<Rr> {
    let mut rrs = zone.to_vec();
    rrs.push(soa.clone());
    rrs
}

/// The QTYPE of a query's question and where the question ends.
fn question(q: &[u8]) -> Option<(u16, usize)> {
    if q.len() < 12 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    let mut pos = 12;
    loop {
        let len = *q.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        pos += len;
    }
    let qtype = u16::from_be_bytes([*q.get(pos)?, *q.get(pos + 1)?]);
    q.get(pos + 3)?;
    Some((qtype, pos + 4))
}
