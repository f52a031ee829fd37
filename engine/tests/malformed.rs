//! Hostile input: a few hundred malformed, lying, or random packets against Shoal over UDP
//! and TCP. One bad packet must never stop a worker (STYLE habit 8).
//!
//! What is checked, per packet: either silence, or a reply whose ID matches the query, with
//! QR set and an RCODE that fits (FORMERR for malformed input, NOTIMP for unknown opcodes).
//! Messages shorter than a header and messages with QR set get no reply at all (RFC 1035
//! §4.1.1; answering responses invites reflection loops).
//!
//! How replies are attributed without waiting for timeouts: each hostile packet goes out on
//! a fresh socket, followed by a valid probe query; a single worker answers in order, so
//! whatever arrives before the probe's answer belongs to the hostile packet, and the probe's
//! answer proves the server is still alive and correct. Opcodes a server may hand to
//! another thread (NOTIFY, UPDATE, DSO) get a further wait for a late reply.
//!
//! `SHOAL_MALFORMED_PEER=knot|nsd` runs the same packets against a reference server
//! instead, to check the harness (and to see what the references do); their deviations
//! are printed, not failed. `SHOAL_MALFORMED_VERBOSE=1` lists the outcome of every packet.

mod harness;

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use harness::dns::{
    name_wire, tcp_connect, tcp_frame, tcp_read_message, udp_exchange, udp_send_collect, QuerySpec, UDP_ATTEMPTS,
    UDP_TIMEOUT,
};
use harness::normalize::{parse, rcode_name};
use harness::server::Server;
use harness::XorShift;

const NOERROR: u16 = 0;
const FORMERR: u16 = 1;
const NXDOMAIN: u16 = 3;
const NOTIMP: u16 = 4;
const REFUSED: u16 = 5;
const NOTAUTH: u16 = 9;
const BADVERS: u16 = 16;

/// RCODEs a sane server may send to a query it could parse somehow.
const SANE: &[u16] = &[NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED, NOTAUTH, BADVERS];
const ONLY_FORMERR: &[u16] = &[FORMERR];
const PROBE_NAME: &str = "www.example.com.";

/// What a hostile packet may get back.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Nothing at all.
    Silence,
    /// Nothing, or a reply with one of these RCODEs.
    SilenceOr(&'static [u16]),
}

struct Case {
    name: String,
    packet: Vec<u8>,
    expect: Expect,
    /// May be answered off the worker (NOTIFY, UPDATE, DSO go to the transfer side), so
    /// after the probe, wait a little longer for a late reply.
    late_reply: bool,
}

fn case(name: impl Into<String>, packet: Vec<u8>, expect: Expect) -> Case {
    Case { name: name.into(), packet, expect, late_reply: false }
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut h = Vec::with_capacity(12);
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        h.extend_from_slice(&c.to_be_bytes());
    }
    h
}

fn question(name: &str) -> Vec<u8> {
    let mut q = name_wire(name);
    q.extend_from_slice(&[0, 1, 0, 1]); // A IN
    q
}

fn opt_rr(owner: &[u8], rdata: &[u8]) -> Vec<u8> {
    let mut rr = owner.to_vec();
    rr.extend_from_slice(&[0, 41, 0x04, 0xd0, 0, 0, 0, 0]); // OPT, payload 1232, TTL 0
    rr.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    rr.extend_from_slice(rdata);
    rr
}

fn valid_query(id: u16) -> Vec<u8> {
    QuerySpec::new(PROBE_NAME, 1).no_edns().to_wire(id)
}

/// Structured hostile packets: each names the rule it breaks.
fn structured_cases() -> Vec<Case> {
    let id = 0x1234;
    let mut cases = Vec::new();
    let valid = valid_query(id);
    for len in 0..12 {
        cases.push(case(format!("truncated header, {len} bytes"), valid[..len].to_vec(), Expect::Silence));
    }
    let hdr = |qd, an, ns, ar| header(id, 0, [qd, an, ns, ar]);
    let with = |mut h: Vec<u8>, rest: &[u8]| {
        h.extend_from_slice(rest);
        h
    };
    let q = question(PROBE_NAME);
    let sf = Expect::SilenceOr(ONLY_FORMERR);
    cases.push(case("header only, qdcount 0", hdr(0, 0, 0, 0), Expect::SilenceOr(&[FORMERR, NOTIMP])));
    cases.push(case("header only, qdcount 1", hdr(1, 0, 0, 0), sf));
    cases.push(case("qdcount 0 with a question", with(hdr(0, 0, 0, 0), &q), sf));
    cases.push(case("qdcount 2 with one question", with(hdr(2, 0, 0, 0), &q), sf));
    cases.push(case("qdcount 65535 with one question", with(hdr(65535, 0, 0, 0), &q), sf));
    let two = [q.clone(), q.clone()].concat();
    cases.push(case(
        "qdcount 2 with two questions",
        with(hdr(2, 0, 0, 0), &two),
        Expect::SilenceOr(&[FORMERR, NOTIMP]),
    ));
    cases.push(case("question cut inside qtype", with(hdr(1, 0, 0, 0), &q[..q.len() - 3]), sf));
    cases.push(case("qname without terminating root", with(hdr(1, 0, 0, 0), &q[..q.len() - 5]), sf));
    cases.push(case(
        "trailing garbage after question",
        with(hdr(1, 0, 0, 0), &[&q[..], &[0xde, 0xad]].concat()),
        Expect::SilenceOr(&[FORMERR, NOERROR]),
    ));
    // compression pointers in the qname
    let tail = [0, 1, 0, 1];
    cases.push(case("qname pointer to itself", with(hdr(1, 0, 0, 0), &[&[0xc0, 12][..], &tail].concat()), sf));
    cases.push(case(
        "qname two-step pointer loop",
        with(hdr(1, 0, 0, 0), &[&[0xc0, 14, 0xc0, 12][..], &tail].concat()),
        sf,
    ));
    cases.push(case(
        "qname label then pointer back to itself",
        with(hdr(1, 0, 0, 0), &[&[3, b'w', b'w', b'w', 0xc0, 12][..], &tail].concat()),
        sf,
    ));
    // offset 2 holds the flags byte 0x00, a root label: the name decodes to "." (out of zone)
    let into_header = with(hdr(1, 0, 0, 0), &[&[0xc0, 2][..], &tail].concat());
    cases.push(case("qname pointer into the header", into_header, Expect::SilenceOr(&[FORMERR, REFUSED])));
    cases.push(case("qname pointer past the end", with(hdr(1, 0, 0, 0), &[&[0xc0, 0xff][..], &tail].concat()), sf));
    let mut forward = hdr(1, 0, 0, 0);
    forward.extend_from_slice(&[0xc0, 18, 0, 1, 0, 1]);
    forward.extend_from_slice(&name_wire(PROBE_NAME));
    cases.push(case("qname forward pointer to a valid name", forward, Expect::SilenceOr(SANE)));
    // names and labels out of bounds
    let long_name: String = (0..5).map(|i| format!("{}.", char::from(b'a' + i).to_string().repeat(63))).collect();
    cases.push(case("qname of 321 bytes", with(hdr(1, 0, 0, 0), &question(&long_name)), sf));
    let mut name256 = Vec::new();
    for _ in 0..4 {
        name256.push(63);
        name256.extend_from_slice(&[b'x'; 63]);
    }
    name256.extend_from_slice(&[2, b'x', b'x', 0]); // 4*64 + 3 + 1 = 260 bytes
    cases.push(case("qname of 260 bytes", with(hdr(1, 0, 0, 0), &[&name256[..], &tail].concat()), sf));
    for first in [0x40u8, 0x41, 0x7f, 0x80, 0xbf] {
        let mut name = vec![first];
        name.extend_from_slice(&[b'a'; 70]);
        name.push(0);
        cases.push(case(
            format!("label type/length byte {first:#04x}"),
            with(hdr(1, 0, 0, 0), &[&name[..], &tail].concat()),
            sf,
        ));
    }
    // counts that lie
    for (what, counts) in [
        ("ancount 5", [1, 5, 0, 0]),
        ("nscount 5", [1, 0, 5, 0]),
        ("arcount 5", [1, 0, 0, 5]),
        ("arcount 65535", [1, 0, 0, 65535]),
    ] {
        cases.push(case(format!("{what} with no records"), with(header(id, 0, counts), &q), sf));
    }
    // OPT records gone wrong
    let root = [0u8];
    let bad_option = [0, 10, 0, 40, 1, 2, 3, 4]; // cookie option claiming 40 bytes, carrying 4
    cases.push(case(
        "OPT with option length past its RDATA",
        with(hdr(1, 0, 0, 1), &[&q[..], &opt_rr(&root, &bad_option)].concat()),
        sf,
    ));
    let mut opt_long = opt_rr(&root, &[]);
    let n = opt_long.len();
    opt_long[n - 2..].copy_from_slice(&[0, 50]); // RDLENGTH 50, no RDATA
    cases.push(case("OPT with RDLENGTH past the packet", with(hdr(1, 0, 0, 1), &[&q[..], &opt_long].concat()), sf));
    let opt = opt_rr(&root, &[]);
    cases.push(case("two OPT records", with(hdr(1, 0, 0, 2), &[&q[..], &opt, &opt].concat()), sf));
    cases.push(case(
        "OPT with a non-root owner",
        with(hdr(1, 0, 0, 1), &[&q[..], &opt_rr(&name_wire("example.com."), &[])].concat()),
        sf,
    ));
    cases.push(case("OPT in the answer section", with(hdr(1, 1, 0, 0), &[&q[..], &opt].concat()), sf));
    cases.push(case("OPT cut inside its fixed part", with(hdr(1, 0, 0, 1), &[&q[..], &opt[..6]].concat()), sf));
    // QR set: never answer a response
    let mut response = valid.clone();
    response[2] |= 0x80;
    cases.push(case("QR set on a valid query", response.clone(), Expect::Silence));
    response[3] |= 0x03;
    cases.push(case("QR set with RCODE NXDOMAIN", response, Expect::Silence));
    cases.push(case("QR set, header only", header(id, 0x8000, [0; 4]), Expect::Silence));
    cases.push(case(
        "QR set, garbage body",
        [&header(id, 0x8400, [3, 3, 3, 3])[..], &[0xff; 40]].concat(),
        Expect::Silence,
    ));
    // every opcode but QUERY
    for opcode in 1u16..16 {
        let mut p = valid.clone();
        p[2] = (p[2] & 0x87) | ((opcode as u8) << 3);
        let expect = match opcode {
            // NOTIFY, UPDATE, DSO: a refusal of some kind, or NOTIMP
            4..=6 => Expect::SilenceOr(&[NOTIMP, REFUSED, NOTAUTH, FORMERR]),
            _ => Expect::SilenceOr(&[NOTIMP]),
        };
        let mut c = case(format!("opcode {opcode}"), p, expect);
        c.late_reply = (4..=6).contains(&opcode);
        cases.push(c);
    }
    cases
}

/// ~200 random packets of random length, and ~100 random mutations of a valid query.
fn random_cases(rng: &mut XorShift) -> Vec<Case> {
    let mut cases = Vec::new();
    for i in 0..200 {
        let len = match i % 4 {
            0 => rng.below(12),
            1 => 12 + rng.below(20),
            _ => rng.below(600),
        } as usize;
        let packet: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        cases.push(case(format!("random packet #{i} ({len} bytes)"), packet, Expect::SilenceOr(SANE)));
    }
    let valid = QuerySpec::new(PROBE_NAME, 1).to_wire(0x4242);
    for i in 0..100 {
        let mut p = valid.clone();
        match rng.below(4) {
            0 => p.truncate(rng.below(p.len() as u64) as usize),
            1 => p.extend((0..1 + rng.below(40)).map(|_| rng.byte())),
            _ => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(p.len() as u64) as usize;
                    p[at] = rng.byte();
                }
            }
        }
        cases.push(case(format!("mutated query #{i}"), p, Expect::SilenceOr(SANE)));
    }
    // QR set or shorter than a header: silence, whatever the rest says
    for c in &mut cases {
        if c.packet.len() < 12 || c.packet[2] & 0x80 != 0 {
            c.expect = Expect::Silence;
        }
    }
    cases
}

/// Check what came back for one case; returns a violation message, if any.
fn judge(c: &Case, replies: &[Vec<u8>]) -> Option<String> {
    let reply = replies.first()?;
    if replies.len() > 1 {
        return Some(format!("{}: {} replies to one packet", c.name, replies.len()));
    }
    let allowed = match c.expect {
        Expect::Silence => return Some(format!("{}: expected silence, got a reply of {} bytes", c.name, reply.len())),
        Expect::SilenceOr(allowed) => allowed,
    };
    if reply.len() < 12 {
        return Some(format!("{}: reply shorter than a header", c.name));
    }
    if reply[..2] != c.packet[..2] {
        return Some(format!("{}: reply ID {:02x}{:02x} does not match", c.name, reply[0], reply[1]));
    }
    if reply[2] & 0x80 == 0 {
        return Some(format!("{}: reply without QR", c.name));
    }
    let rcode = parse(reply).map(|p| p.rcode).unwrap_or((reply[3] & 0xf) as u16);
    if !allowed.contains(&rcode) {
        let want: Vec<String> = allowed.iter().map(|r| rcode_name(*r)).collect();
        return Some(format!("{}: RCODE {} not in {want:?}", c.name, rcode_name(rcode)));
    }
    None
}

/// Check the probe answer: the server is alive and still answers correctly.
fn probe_ok(reply: &[u8]) -> Result<(), String> {
    let p = parse(reply)?;
    let has_www = p.answer.iter().any(|rr| rr.rtype == 1 && rr.rdata == [192, 0, 2, 80]);
    if p.rcode == NOERROR && p.aa() && has_www {
        Ok(())
    } else {
        Err(format!("probe answer wrong: rcode {} aa {} answer {:?}", rcode_name(p.rcode), p.aa(), p.answer))
    }
}

fn target() -> Option<Server> {
    Server::chosen_by("SHOAL_MALFORMED_PEER", "malformed")
}

/// "silence" or the RCODE of each reply, for the verbose listing.
fn outcome(replies: &[Vec<u8>]) -> String {
    if replies.is_empty() {
        return "silence".into();
    }
    let rcodes: Vec<String> = replies
        .iter()
        .map(|r| match parse(r) {
            Ok(p) => rcode_name(p.rcode),
            Err(_) if r.len() >= 4 => format!("{} (unparseable)", rcode_name((r[3] & 0xf) as u16)),
            Err(e) => e,
        })
        .collect();
    rcodes.join(", ")
}

/// Shoal must have no violations; a reference server's deviations are printed only (the
/// peer mode exists to check the harness and to show what Knot and NSD do).
fn finish(server: &Server, violations: &[String]) {
    if !server.is_shoal() {
        for v in violations {
            println!("  {} deviates: {v}", server.name);
        }
        return;
    }
    assert!(violations.is_empty(), "{} violations:\n{}", violations.len(), violations.join("\n"));
}

fn assert_alive(server: &mut Server) {
    assert!(server.is_running(), "{} died\n{}", server.name, server.tail());
    let reply = udp_exchange(server.addr, &valid_query(0x7777))
        .unwrap_or_else(|| panic!("{} no longer answers\n{}", server.name, server.tail()));
    probe_ok(&reply).unwrap_or_else(|e| panic!("{}: {e}", server.name));
}

#[test]
fn hostile_udp_packets_get_formerr_notimp_or_silence_and_server_survives() {
    let Some(mut server) = target() else { return };
    let mut rng = XorShift::new(0x5eed_0f5b_a11f);
    let mut cases = structured_cases();
    cases.extend(random_cases(&mut rng));
    let mut violations = Vec::new();
    let (mut silent, mut answered) = (0, 0);
    let verbose = std::env::var("SHOAL_MALFORMED_VERBOSE").as_deref() == Ok("1");
    for c in &cases {
        // a fresh socket per case: a late reply can never be blamed on a later packet
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.connect(server.addr).expect("connect");
        let probe_id = if c.packet.get(..2) == Some(&[0xa5, 0xa5]) { 0x5a5a } else { 0xa5a5 };
        let probe = valid_query(probe_id);
        let mut replies = udp_send_collect(&sock, &c.packet, Duration::ZERO, |_| true);
        let mut probe_reply = None;
        'attempts: for _ in 0..UDP_ATTEMPTS {
            for reply in
                udp_send_collect(&sock, &probe, UDP_TIMEOUT, |r| r.get(..2) == Some(&probe_id.to_be_bytes()[..]))
            {
                if reply.get(..2) == Some(&probe_id.to_be_bytes()[..]) && probe_reply.is_none() {
                    probe_reply = Some(reply);
                    break 'attempts;
                }
                replies.push(reply);
            }
        }
        let Some(probe_reply) = probe_reply else {
            panic!("{}: no answer to the probe after {:?}\n{}", c.name, c.packet, server.tail());
        };
        if let Err(e) = probe_ok(&probe_reply) {
            violations.push(format!("{}: after it, {e}", c.name));
        }
        if c.late_reply && replies.is_empty() {
            let mut buf = vec![0u8; 65535];
            sock.set_read_timeout(Some(UDP_TIMEOUT)).expect("timeout");
            if let Ok(n) = sock.recv(&mut buf) {
                replies.push(buf[..n].to_vec());
            }
        }
        if replies.is_empty() {
            silent += 1
        } else {
            answered += 1
        }
        if verbose {
            println!("  {}: {}", c.name, outcome(&replies));
        }
        violations.extend(judge(c, &replies));
    }
    assert_alive(&mut server);
    println!(
        "malformed udp vs {}: {} packets, {answered} answered, {silent} silent, {} violations",
        server.name,
        cases.len(),
        violations.len()
    );
    finish(&server, &violations);
}

/// Send `bytes` on a fresh connection, then a framed probe; return the messages read
/// before the probe's answer, EOF, or the timeout.
fn tcp_case(addr: SocketAddr, bytes: &[u8], then_close: bool) -> Vec<Vec<u8>> {
    let mut replies = Vec::new();
    let Ok(mut stream) = tcp_connect(addr) else {
        return replies;
    };
    if stream.write_all(bytes).is_err() {
        return replies;
    }
    if then_close {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    } else if stream.write_all(&tcp_frame(&valid_query(0xa5a5))).is_err() {
        return replies;
    }
    for _ in 0..8 {
        match tcp_read_message(&mut stream) {
            Ok(msg) if msg.get(..2) == Some(&[0xa5, 0xa5][..]) => break,
            Ok(msg) => replies.push(msg),
            Err(_) => break,
        }
    }
    replies
}

#[test]
fn hostile_tcp_streams_do_not_stop_the_server() {
    let Some(mut server) = target() else { return };
    let mut rng = XorShift::new(0x07c9_0bad);
    let mut cases = structured_cases();
    cases.retain(|c| c.packet.len() >= 12 && c.packet[..2] != [0xa5, 0xa5]);
    let randoms = random_cases(&mut rng);
    cases.extend(randoms.into_iter().filter(|c| c.packet.len() >= 12).step_by(4));
    let mut violations = Vec::new();
    for c in &cases {
        let replies = tcp_case(server.addr, &tcp_frame(&c.packet), false);
        violations.extend(judge(c, &replies));
    }
    // stream-level abuse: the framing itself lies
    let valid = valid_query(0x1234);
    let mut longer = tcp_frame(&valid);
    longer[1] += 20;
    let streams: Vec<(&str, Vec<u8>, bool)> = vec![
        ("length prefix longer than the data, then close", longer, true),
        ("one byte of length prefix, then close", vec![0], true),
        ("zero-length message", vec![0, 0], false),
        ("zero-length message, then close", vec![0, 0], true),
        ("garbage without framing, then close", (0..300).map(|_| rng.byte()).collect(), true),
        ("only a header in a frame, then close", tcp_frame(&header(1, 0, [1, 0, 0, 0])), true),
    ];
    for (name, bytes, close) in &streams {
        let replies = tcp_case(server.addr, bytes, *close);
        for r in &replies {
            if r.len() >= 4 && r[2] & 0x80 != 0 && (r[3] & 0xf) as u16 != FORMERR {
                violations.push(format!("{name}: unexpected RCODE {}", rcode_name((r[3] & 0xf) as u16)));
            }
        }
        // a valid query on a new connection still works
        let mut stream = tcp_connect(server.addr).expect("connect after abuse");
        stream.write_all(&tcp_frame(&valid_query(0x6666))).expect("write probe");
        let reply = tcp_read_message(&mut stream).unwrap_or_else(|e| panic!("{name}: probe over TCP failed: {e}"));
        if let Err(e) = probe_ok(&reply) {
            violations.push(format!("{name}: after it, {e}"));
        }
    }
    assert_alive(&mut server);
    println!(
        "malformed tcp vs {}: {} framed packets, {} stream cases, {} violations",
        server.name,
        cases.len(),
        streams.len(),
        violations.len()
    );
    finish(&server, &violations);
}
