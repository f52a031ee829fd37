//! DNS on the wire, as a client: what to ask ([`QuerySpec`], built with hickory-proto),
//! how it travels (UDP with bounded retries, TCP with the RFC 1035 two-byte length
//! prefix), and what came back, read as comparable record lines (SOA serials, lookups,
//! AXFR with optional TSIG, read promptly: Knot drops a reader that pauses ~500 ms).
//!
//! Every socket has a timeout and every loop a bound. A record line is
//! `owner ttl TYPE rdata` with names lowercased (RDATA too, except TXT, CAA and unknown
//! types, whose bytes are kept as they are).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{EdnsOption, NSIDPayload};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::tsig::{self, Key};
use super::{wait_until, XorShift, WAIT};

/// Per-attempt UDP timeout. Generous: the machine may be busy compiling.
pub const UDP_TIMEOUT: Duration = Duration::from_secs(2);
/// UDP attempts before giving up on a reply.
pub const UDP_ATTEMPTS: usize = 3;
/// TCP connect/read/write timeout.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole AXFR read by a test.
const AXFR_TIMEOUT: Duration = Duration::from_secs(30);

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_TSIG: u16 = 250;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;

pub const CLASS_IN: u16 = 1;
pub const CLASS_CH: u16 = 3;
pub const CLASS_HS: u16 = 4;
pub const CLASS_NONE: u16 = 254;
pub const CLASS_ANY: u16 = 255;

pub const RCODE_SERVFAIL: u8 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The EDNS part of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdnsSpec {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// Ask for the server's NSID (RFC 5001).
    pub nsid: bool,
}

/// One query, with every knob the tests turn.
#[derive(Clone, Debug)]
pub struct QuerySpec {
    /// Presentation form, absolute (`www.example.com.`), case as intended.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<EdnsSpec>,
    pub rd: bool,
    pub cd: bool,
    /// Non-zero: randomise the case of the qname's letters (DNS 0x20) with this seed.
    pub case_seed: u64,
    pub transport: Transport,
    /// Compare the NSID option's content (otherwise only its presence is compared).
    pub compare_nsid: bool,
}

impl QuerySpec {
    /// UDP, class IN, EDNS 1232 without DO, no RD: what a resolver sends an authority.
    pub fn new(name: &str, qtype: u16) -> QuerySpec {
        QuerySpec {
            name: name.to_string(),
            qtype,
            qclass: CLASS_IN,
            edns: Some(EdnsSpec { payload: 1232, version: 0, dnssec_ok: false, nsid: false }),
            rd: false,
            cd: false,
            case_seed: 0,
            transport: Transport::Udp,
            compare_nsid: false,
        }
    }

    pub fn rtype(name: &str, rtype: RecordType) -> QuerySpec {
        QuerySpec::new(name, u16::from(rtype))
    }

    pub fn tcp(mut self) -> Self {
        self.transport = Transport::Tcp;
        self
    }

    pub fn udp(mut self) -> Self {
        self.transport = Transport::Udp;
        self
    }

    pub fn no_edns(mut self) -> Self {
        self.edns = None;
        self
    }

    fn edns_mut(&mut self) -> &mut EdnsSpec {
        self.edns.get_or_insert(EdnsSpec { payload: 1232, version: 0, dnssec_ok: false, nsid: false })
    }

    pub fn payload(mut self, payload: u16) -> Self {
        self.edns_mut().payload = payload;
        self
    }

    pub fn dnssec_ok(mut self) -> Self {
        self.edns_mut().dnssec_ok = true;
        self
    }

    pub fn edns_version(mut self, version: u8) -> Self {
        self.edns_mut().version = version;
        self
    }

    /// Ask for NSID and compare its content.
    pub fn nsid(mut self) -> Self {
        self.edns_mut().nsid = true;
        self.compare_nsid = true;
        self
    }

    pub fn rd(mut self) -> Self {
        self.rd = true;
        self
    }

    pub fn cd(mut self) -> Self {
        self.cd = true;
        self
    }

    pub fn class(mut self, qclass: u16) -> Self {
        self.qclass = qclass;
        self
    }

    pub fn mixed_case(mut self, seed: u64) -> Self {
        self.case_seed = seed;
        self
    }

    /// The qname as sent: `name` with DNS 0x20 case randomisation applied.
    pub fn wire_name(&self) -> String {
        if self.case_seed == 0 {
            return self.name.clone();
        }
        let mut rng = XorShift::new(self.case_seed);
        self.name
            .chars()
            .map(|c| {
                if c.is_ascii_alphabetic() && rng.below(2) == 1 {
                    if c.is_ascii_uppercase() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                } else {
                    c
                }
            })
            .collect()
    }

    /// The query message in wire form, built by hickory-proto.
    pub fn to_wire(&self, id: u16) -> Vec<u8> {
        let name = Name::from_ascii(self.wire_name()).unwrap_or_else(|e| panic!("bad test qname {:?}: {e}", self.name));
        let mut query = Query::query(name, RecordType::from(self.qtype));
        query.set_query_class(DNSClass::from(self.qclass));
        let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = self.rd;
        msg.metadata.checking_disabled = self.cd;
        msg.add_query(query);
        if let Some(spec) = &self.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(spec.payload);
            edns.set_version(spec.version);
            edns.set_dnssec_ok(spec.dnssec_ok);
            if spec.nsid {
                let empty = NSIDPayload::new(Vec::new()).expect("empty NSID payload");
                edns.options_mut().insert(EdnsOption::NSID(empty));
            }
            msg.set_edns(edns);
        }
        msg.to_vec().expect("encode query")
    }

    /// A short, unique-enough label for reports, e.g.
    /// `udp www.example.com. IN A edns(1232,v0,do,nsid) rd 0x20=wWw.ExAmple.cOm.`.
    pub fn label(&self) -> String {
        let transport = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        let mut s = format!("{transport} {} {} {}", self.name, class_name(self.qclass), RecordType::from(self.qtype));
        match &self.edns {
            None => s.push_str(" no-edns"),
            Some(e) => {
                s.push_str(&format!(" edns({},v{}", e.payload, e.version));
                if e.dnssec_ok {
                    s.push_str(",do");
                }
                if e.nsid {
                    s.push_str(",nsid");
                }
                s.push(')');
            }
        }
        if self.rd {
            s.push_str(" rd");
        }
        if self.cd {
            s.push_str(" cd");
        }
        if self.case_seed != 0 {
            s.push_str(&format!(" 0x20={}", self.wire_name()));
        }
        s
    }
}

pub fn class_name(class: u16) -> String {
    match class {
        CLASS_IN => "IN".into(),
        CLASS_CH => "CH".into(),
        CLASS_HS => "HS".into(),
        CLASS_NONE => "NONE".into(),
        CLASS_ANY => "ANY".into(),
        other => format!("CLASS{other}"),
    }
}

/// The plain form of a query: `name`/`qtype`, class IN, no RD, no EDNS; header,
/// question and nothing else (tests append records to it by hand).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    QuerySpec::new(name, qtype).no_edns().to_wire(id)
}

/// A NOTIFY (RFC 1996) for `zone` carrying `serial` in an answer SOA, unsigned.
pub fn notify(id: u16, zone: &str, serial: u32) -> Vec<u8> {
    let mut m = query(id, zone, TYPE_SOA);
    m[2] = 4 << 3 | 0x04; // opcode NOTIFY, AA
    m[7] = 1; // ANCOUNT
    m.extend_from_slice(&[0xc0, 12]);
    m.extend_from_slice(&TYPE_SOA.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&3600u32.to_be_bytes());
    let mut rdata = name_wire(&format!("ns1.{zone}"));
    rdata.extend_from_slice(&name_wire(&format!("hostmaster.{zone}")));
    for v in [serial, 7200, 3600, 1_209_600, 300] {
        rdata.extend_from_slice(&v.to_be_bytes());
    }
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&rdata);
    m
}

/// Wire form of an absolute presentation name (no escapes), case kept.
pub fn name_wire(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn new_id() -> u16 {
    let n = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(1);
    (n ^ (n >> 16)) as u16
}

/// Send a query built from `spec` and return the raw reply, or `None` when no reply came
/// (UDP: after all attempts; TCP: connection closed without an answer).
pub fn exchange(addr: SocketAddr, spec: &QuerySpec, id: u16) -> Option<Vec<u8>> {
    let wire = spec.to_wire(id);
    match spec.transport {
        Transport::Udp => udp_exchange(addr, &wire),
        Transport::Tcp => tcp_exchange(addr, &wire).ok(),
    }
}

/// UDP request/reply: send `packet`, wait up to [`UDP_TIMEOUT`] for a reply of at least
/// a header whose ID matches, send again up to [`UDP_ATTEMPTS`] times. Stray packets
/// with other IDs are skipped (bounded); an ICMP refusal ends the attempt at once.
pub fn udp_exchange(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind UDP client socket");
    sock.connect(addr).expect("connect UDP client socket");
    let id = packet.get(..2)?;
    let mut buf = vec![0u8; 65535];
    for _ in 0..UDP_ATTEMPTS {
        if sock.send(packet).is_err() {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let deadline = Instant::now() + UDP_TIMEOUT;
        for _ in 0..64 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            sock.set_read_timeout(Some(left)).expect("set UDP timeout");
            match sock.recv(&mut buf) {
                Ok(n) if n >= 12 && &buf[..2] == id => return Some(buf[..n].to_vec()),
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
    None
}

/// Send one raw UDP packet and collect what comes back within `wait`, stopping early at
/// the first reply for which `last` is true (that reply is included). For hostile
/// packets, where "no reply" is a valid outcome. At most 16 replies are collected.
pub fn udp_send_collect(sock: &UdpSocket, packet: &[u8], wait: Duration, last: impl Fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
    let _ = sock.send(packet);
    let mut replies = Vec::new();
    let mut buf = vec![0u8; 65535];
    let deadline = Instant::now() + wait;
    while replies.len() < 16 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        sock.set_read_timeout(Some(left)).expect("set UDP timeout");
        match sock.recv(&mut buf) {
            Ok(n) => {
                replies.push(buf[..n].to_vec());
                if last(&buf[..n]) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    replies
}

/// Connect to `addr` over TCP with [`TCP_TIMEOUT`] for connect, reads and writes.
pub fn tcp_connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TCP_TIMEOUT)?;
    stream.set_read_timeout(Some(TCP_TIMEOUT))?;
    stream.set_write_timeout(Some(TCP_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Prefix `msg` with its two-byte length (RFC 1035 §4.2.2).
pub fn tcp_frame(msg: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    framed.extend_from_slice(msg);
    framed
}

/// Write one length-prefixed message to a TCP stream.
pub fn tcp_write_message(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    stream.write_all(&tcp_frame(msg))
}

/// Read one length-prefixed message from a TCP stream.
pub fn tcp_read_message(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut msg)?;
    Ok(msg)
}

/// One query over a fresh TCP connection.
pub fn tcp_exchange(addr: SocketAddr, packet: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = tcp_connect(addr)?;
    tcp_write_message(&mut stream, packet)?;
    tcp_read_message(&mut stream)
}

/// What an authoritative query got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// NOERROR: the answer section's records as lines, and the AA bit.
    Records { lines: Vec<String>, aa: bool },
    /// Any other RCODE.
    Rcode(u8),
    /// No response after the bounded retries.
    Timeout,
}

/// Ask `addr` for `name`/`qtype` over UDP.
pub fn lookup(addr: SocketAddr, name: &str, qtype: u16) -> Answer {
    let Some(resp) = udp_exchange(addr, &query(new_id(), name, qtype)) else { return Answer::Timeout };
    let rcode = resp[3] & 0x0f;
    if rcode != 0 {
        return Answer::Rcode(rcode);
    }
    match Message::from_vec(&resp) {
        Ok(m) => Answer::Records { lines: m.answers.iter().map(record_line).collect(), aa: m.metadata.authoritative },
        Err(_) => Answer::Rcode(255),
    }
}

/// The serial of the SOA `addr` serves for `zone` with AA over UDP, if it does.
pub fn soa_serial(addr: SocketAddr, zone: &str) -> Option<u32> {
    soa_serial_over(addr, zone, Transport::Udp)
}

/// The serial of the SOA `addr` serves for `zone` with AA over `transport`, if it does.
pub fn soa_serial_over(addr: SocketAddr, zone: &str, transport: Transport) -> Option<u32> {
    let q = query(new_id(), zone, TYPE_SOA);
    let resp = match transport {
        Transport::Udp => udp_exchange(addr, &q)?,
        Transport::Tcp => tcp_exchange(addr, &q).ok().filter(|r| r.len() >= 12 && r[..2] == q[..2])?,
    };
    if resp[3] & 0x0f != 0 {
        return None;
    }
    let m = Message::from_vec(&resp).ok()?;
    if !m.metadata.authoritative {
        return None;
    }
    m.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// Wait (bounded by [`WAIT`]) until `addr` serves `zone` with `serial`.
pub fn converges(addr: SocketAddr, zone: &str, serial: u32) -> bool {
    wait_until(WAIT, || soa_serial(addr, zone).filter(|s| *s == serial)).is_some()
}

/// One record as a comparable line: `owner ttl TYPE rdata`, names lowercased.
pub fn record_line(r: &Record) -> String {
    let rdata = r.data.to_string();
    let rdata = match r.record_type() {
        RecordType::TXT | RecordType::CAA | RecordType::Unknown(_) => rdata,
        _ => rdata.to_ascii_lowercase(),
    };
    format!("{} {} {} {}", r.name.to_ascii().to_ascii_lowercase(), r.ttl, r.record_type(), rdata)
}

/// AXFR `zone` from `addr` (signed with `key` when given): the records as sorted lines,
/// the closing SOA left out. Errors describe what went wrong (RCODE, I/O, format).
pub fn axfr(addr: SocketAddr, zone: &str, key: Option<&Key>) -> Result<Vec<String>, String> {
    let mut s = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    axfr_on(&mut s, zone, key).map_err(|e| format!("AXFR of {zone} from {addr}: {e}"))
}

/// AXFR on an open connection (which may have carried other queries before).
pub fn axfr_on(s: &mut TcpStream, zone: &str, key: Option<&Key>) -> Result<Vec<String>, String> {
    let started = Instant::now();
    let mut q = query(new_id(), zone, TYPE_AXFR);
    if let Some(k) = key {
        tsig::sign(&mut q, k, None, false);
    }
    tcp_write_message(s, &q).map_err(|e| format!("write: {e}"))?;
    let mut lines = Vec::new();
    let mut soas = 0;
    while soas < 2 {
        if started.elapsed() > AXFR_TIMEOUT {
            return Err(format!("took longer than {AXFR_TIMEOUT:?}"));
        }
        let m = tcp_read_message(s).map_err(|e| format!("read: {e}"))?;
        if m.len() < 12 || m[..2] != q[..2] {
            return Err("response ID mismatch".to_string());
        }
        let rcode = m[3] & 0x0f;
        if rcode != 0 {
            return Err(format!("RCODE {rcode}"));
        }
        let parsed = Message::from_vec(&m).map_err(|e| format!("parse: {e}"))?;
        if parsed.answers.is_empty() {
            return Err("empty answer".to_string());
        }
        for r in &parsed.answers {
            if r.record_type() == RecordType::SOA {
                soas += 1;
                if soas == 2 {
                    break;
                }
            }
            lines.push(record_line(r));
        }
    }
    lines.sort();
    Ok(lines)
}

/// Lines only in `a` and only in `b` (both sorted), for a readable failure message.
pub fn diff_lines(a: &[String], b: &[String]) -> String {
    let sa: std::collections::BTreeSet<&String> = a.iter().collect();
    let sb: std::collections::BTreeSet<&String> = b.iter().collect();
    let only_a: Vec<&&String> = sa.difference(&sb).take(20).collect();
    let only_b: Vec<&&String> = sb.difference(&sa).take(20).collect();
    format!("{} vs {} records; only in first: {only_a:#?}\nonly in second: {only_b:#?}", a.len(), b.len())
}

/// The records of an IXFR from `serial` over TCP: the answer lines of every message.
pub fn ixfr_lines(addr: SocketAddr, zone: &str, serial: u32) -> Vec<String> {
    let mut q = query(0x1f1f, zone, 251);
    // Authority: the SOA we claim to hold (only its serial matters to the server).
    q[9] = 1;
    q.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 60, 0, 22, 0, 0]);
    q.extend_from_slice(&serial.to_be_bytes());
    q.extend_from_slice(&[0; 16]);
    let mut s = tcp_connect(addr).expect("connect");
    tcp_write_message(&mut s, &q).expect("send IXFR");
    let mut lines = Vec::new();
    let mut soas = 0;
    for _ in 0..100 {
        let m = tcp_read_message(&mut s).expect("IXFR reply");
        let msg = hickory_proto::op::Message::from_vec(&m).expect("decodes");
        for r in &msg.answers {
            if r.record_type() == hickory_proto::rr::RecordType::SOA {
                soas += 1;
            }
            lines.push(record_line(r));
        }
        // An incremental reply ends with its fourth SOA; a lone SOA ends at once.
        if soas >= 4 || (soas == 1 && lines.len() == 1 && msg.answers.len() == 1) {
            break;
        }
    }
    lines
}
