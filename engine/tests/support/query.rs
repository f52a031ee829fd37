//! Queries: what to ask ([`QuerySpec`]), how it looks on the wire (built with
//! hickory-proto), and how it travels (UDP with bounded retries, TCP with the RFC 1035
//! two-byte length prefix). Every socket has a timeout; every loop has a bound.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{EdnsOption, NSIDPayload};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::XorShift;

/// Per-attempt UDP timeout. Generous: the machine may be busy compiling.
pub const UDP_TIMEOUT: Duration = Duration::from_secs(2);
/// UDP attempts before giving up on a reply.
pub const UDP_ATTEMPTS: usize = 3;
/// TCP connect/read/write timeout.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(5);

pub const CLASS_IN: u16 = 1;
pub const CLASS_CH: u16 = 3;
pub const CLASS_HS: u16 = 4;
pub const CLASS_NONE: u16 = 254;
pub const CLASS_ANY: u16 = 255;

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

/// One query, with every knob the differential and serve tests turn.
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

/// Send a query built from `spec` and return the raw reply, or `None` when no reply came
/// (UDP: after all attempts; TCP: connection closed without an answer).
pub fn exchange(addr: SocketAddr, spec: &QuerySpec, id: u16) -> Option<Vec<u8>> {
    let wire = spec.to_wire(id);
    match spec.transport {
        Transport::Udp => udp_exchange(addr, &wire, UDP_TIMEOUT, UDP_ATTEMPTS),
        Transport::Tcp => tcp_exchange(addr, &wire).ok(),
    }
}

/// UDP request/reply: send `packet`, wait up to `timeout` for a reply whose ID matches,
/// resend up to `attempts` times. Stray packets with other IDs are skipped (bounded).
pub fn udp_exchange(addr: SocketAddr, packet: &[u8], timeout: Duration, attempts: usize) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind UDP client socket");
    sock.connect(addr).expect("connect UDP client socket");
    let id = packet.get(..2).map(|b| [b[0], b[1]]);
    let mut buf = vec![0u8; 65535];
    for _ in 0..attempts {
        if sock.send(packet).is_err() {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let deadline = Instant::now() + timeout;
        for _ in 0..64 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            sock.set_read_timeout(Some(left)).expect("set UDP timeout");
            match sock.recv(&mut buf) {
                Ok(n) if n >= 2 && Some([buf[0], buf[1]]) == id => return Some(buf[..n].to_vec()),
                Ok(n) if id.is_none() => return Some(buf[..n].to_vec()),
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

/// Connect to `addr` over TCP with the harness timeouts set.
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
    stream.write_all(&tcp_frame(packet))?;
    tcp_read_message(&mut stream)
}
