//! DNS on the wire for the transfer tests: queries built by hand, TSIG (RFC 8945,
//! HMAC-SHA256 only) written here so that the fake primary can sign and mis-sign,
//! UDP with bounded retries, TCP with the two-byte length prefix and timeouts, and
//! AXFR read promptly (Knot drops a reader that pauses ~500 ms).
//!
//! Responses are parsed with hickory-proto; a record becomes a comparable line
//! `owner ttl TYPE rdata` with names lowercased (RDATA too, except for TXT and CAA,
//! whose text is case-sensitive).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, Record, RecordType};
use hmac::{Hmac, Mac};

/// Per-attempt UDP timeout.
const UDP_TIMEOUT: Duration = Duration::from_secs(2);
const UDP_ATTEMPTS: usize = 3;
/// TCP connect/read/write timeout.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole AXFR read by a test.
const AXFR_TIMEOUT: Duration = Duration::from_secs(30);

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AXFR: u16 = 252;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_TSIG: u16 = 250;

pub const RCODE_SERVFAIL: u8 = 2;

/// A TSIG key (HMAC-SHA256).
#[derive(Clone, Debug)]
pub struct Key {
    pub name: String,
    pub secret: Vec<u8>,
}

impl Key {
    /// The key every test configures ([`super::KEY_NAME`]).
    pub fn test_key() -> Key {
        let secret = data_encoding::BASE64.decode(super::KEY_SECRET.as_bytes()).expect("test key is base64");
        Key { name: super::KEY_NAME.to_string(), secret }
    }
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

/// A query for `name`/`qtype` class IN, no RD, no EDNS.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&name_wire(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Sign `msg` in place (append a TSIG RR, bump ARCOUNT) and return the MAC. `request_mac`:
/// the request's MAC when signing the first response to it (RFC 8945 §5.3). With
/// `corrupt`, the MAC is computed and then damaged: a bad signature by a known key.
pub fn tsig_sign(msg: &mut Vec<u8>, key: &Key, request_mac: Option<&[u8]>, corrupt: bool) -> Vec<u8> {
    let time = now_secs();
    let fudge: u16 = 300;
    let key_name = name_wire(&key.name.to_ascii_lowercase());
    let algorithm = name_wire("hmac-sha256.");
    let mut data = Vec::with_capacity(msg.len() + 128);
    if let Some(prior) = request_mac {
        data.extend_from_slice(&(prior.len() as u16).to_be_bytes());
        data.extend_from_slice(prior);
    }
    data.extend_from_slice(msg);
    data.extend_from_slice(&key_name);
    data.extend_from_slice(&255u16.to_be_bytes()); // class ANY
    data.extend_from_slice(&0u32.to_be_bytes()); // TTL
    data.extend_from_slice(&algorithm);
    data.extend_from_slice(&time.to_be_bytes()[2..]); // 48-bit time signed
    data.extend_from_slice(&fudge.to_be_bytes());
    data.extend_from_slice(&0u16.to_be_bytes()); // error
    data.extend_from_slice(&0u16.to_be_bytes()); // other len
    let mut hmac = Hmac::<sha2::Sha256>::new_from_slice(&key.secret).expect("HMAC takes any key length");
    hmac.update(&data);
    let mut mac = hmac.finalize().into_bytes().to_vec();
    if corrupt {
        mac[0] ^= 0x55;
        mac[31] ^= 0xaa;
    }
    let mut rdata = Vec::with_capacity(algorithm.len() + 48);
    rdata.extend_from_slice(&algorithm);
    rdata.extend_from_slice(&time.to_be_bytes()[2..]);
    rdata.extend_from_slice(&fudge.to_be_bytes());
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&mac);
    rdata.extend_from_slice(&msg[0..2]); // original ID
    rdata.extend_from_slice(&0u16.to_be_bytes());
    rdata.extend_from_slice(&0u16.to_be_bytes());
    msg.extend_from_slice(&key_name);
    msg.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    msg.extend_from_slice(&255u16.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    msg.extend_from_slice(&rdata);
    let arcount = u16::from_be_bytes([msg[10], msg[11]]) + 1;
    msg[10..12].copy_from_slice(&arcount.to_be_bytes());
    mac
}

/// The MAC of a message's TSIG record, if its last record is one (for signing a
/// response). Walked by hand: hickory-proto without its DNSSEC features does not fill
/// `Message::signature`.
pub fn tsig_mac(msg: &[u8]) -> Option<Vec<u8>> {
    let count = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]) as usize;
    if msg.len() < 12 {
        return None;
    }
    let mut pos = 12;
    for _ in 0..count(4) {
        pos = skip_name(msg, pos)? + 4;
    }
    let records = count(6) + count(8) + count(10);
    let mut last = None;
    for _ in 0..records {
        let start = skip_name(msg, pos)?;
        let rtype = u16::from_be_bytes([*msg.get(start)?, *msg.get(start + 1)?]);
        let rdlen = u16::from_be_bytes([*msg.get(start + 8)?, *msg.get(start + 9)?]) as usize;
        last = Some((rtype, start + 10));
        pos = start + 10 + rdlen;
    }
    let (rtype, rdata) = last?;
    if rtype != TYPE_TSIG {
        return None;
    }
    let p = skip_name(msg, rdata)? + 8;
    let len = u16::from_be_bytes([*msg.get(p)?, *msg.get(p + 1)?]) as usize;
    msg.get(p + 2..p + 2 + len).map(<[u8]>::to_vec)
}

/// The position after the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => return Some(pos + 2),
            l if l < 64 => pos += 1 + l as usize,
            _ => return None,
        }
    }
}

fn new_id() -> u16 {
    let n = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(1);
    (n ^ (n >> 16)) as u16
}

/// Send `packet` over UDP and wait for a response with its ID; bounded retries.
pub fn udp_exchange(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    let mut buf = vec![0u8; 65535];
    for _ in 0..UDP_ATTEMPTS {
        sock.send_to(packet, addr).ok()?;
        let deadline = Instant::now() + UDP_TIMEOUT;
        while Instant::now() < deadline {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) if from == addr && n >= 12 && buf[..2] == packet[..2] => return Some(buf[..n].to_vec()),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                // ICMP port unreachable: nobody listens (yet); the caller polls again.
                Err(_) => return None,
            }
        }
    }
    None
}

pub fn tcp_connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, TCP_TIMEOUT)?;
    s.set_read_timeout(Some(TCP_TIMEOUT))?;
    s.set_write_timeout(Some(TCP_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

pub fn tcp_write_msg(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let mut b = Vec::with_capacity(msg.len() + 2);
    b.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    b.extend_from_slice(msg);
    s.write_all(&b)
}

pub fn tcp_read_msg(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut m)?;
    Ok(m)
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

/// The serial of the SOA `addr` serves for `zone` with AA, if it does.
pub fn soa_serial(addr: SocketAddr, zone: &str) -> Option<u32> {
    let resp = udp_exchange(addr, &query(new_id(), zone, TYPE_SOA))?;
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
        tsig_sign(&mut q, k, None, false);
    }
    tcp_write_msg(s, &q).map_err(|e| format!("write: {e}"))?;
    let mut lines = Vec::new();
    let mut soas = 0;
    while soas < 2 {
        if started.elapsed() > AXFR_TIMEOUT {
            return Err(format!("took longer than {AXFR_TIMEOUT:?}"));
        }
        let m = tcp_read_msg(s).map_err(|e| format!("read: {e}"))?;
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

/// Lines only in `a` and only in `b` (both sorted), for a readable failure message.
pub fn diff_lines(a: &[String], b: &[String]) -> String {
    let sa: std::collections::BTreeSet<&String> = a.iter().collect();
    let sb: std::collections::BTreeSet<&String> = b.iter().collect();
    let only_a: Vec<&&String> = sa.difference(&sb).take(20).collect();
    let only_b: Vec<&&String> = sb.difference(&sa).take(20).collect();
    format!("{} vs {} records; only in first: {only_a:#?}\nonly in second: {only_b:#?}", a.len(), b.len())
}
