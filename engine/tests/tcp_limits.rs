//! TCP clients that hold on to connections: a source address past
//! `tcp_max_per_source` is refused while others still get in; a connection is closed
//! after `tcp_max_queries` answers (and no query after them is answered); a client that leaves its answers unread is dropped
//! after the idle timeout (and counted); and when three quarters of the connections are
//! taken, idle ones are closed after 500 ms instead of the idle timeout.

mod harness;

use harness::dns;
use harness::shoal::{Shoal, ShoalZone};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const ZONE: &str = "tcp.test.";

/// A connection to `to` from `from` (an address of 127.0.0.0/8).
fn connect(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    s.connect_timeout(&to.into(), Duration::from_secs(5)).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Whether the server answers one query on `s` (false: it closed the connection).
fn answers(s: &mut TcpStream) -> bool {
    let q = dns::query(0x6666, ZONE, dns::TYPE_SOA);
    dns::tcp_write_message(s, &q).is_ok() && dns::tcp_read_message(s).is_ok_and(|m| m[..2] == q[..2])
}

/// Whether the server has closed `s` (end of stream or reset) within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        }
    }
}

fn big_zone() -> String {
    let mut z = harness::zone::small_text(ZONE, 1, 1);
    // About 55 kB of TXT: one answer fills a TCP message.
    for i in 0..250 {
        z.push_str(&format!("big IN TXT \"{i:03}{}\"\n", "x".repeat(200)));
    }
    z
}

#[test]
fn limits_on_tcp_clients() {
    let _guard = harness::serial_guard();
    let metrics: SocketAddr = ([127, 0, 0, 1], harness::free_port()).into();
    let shoal = Shoal::builder("tcp-limits")
        .server("tcp_max_connections = 16")
        .server("tcp_max_per_source = 4")
        .server("tcp_max_queries = 200")
        .server("tcp_idle_timeout = 2")
        .file(&format!("{ZONE}zone"), &big_zone())
        .zone(ShoalZone::primary(ZONE))
        .table(&format!("\n[metrics]\nlisten = \"{metrics}\"\n"))
        .start();

    // Four connections from one address; the fifth is refused; another address gets in.
    let mut mine: Vec<TcpStream> = (0..4).map(|_| connect([127, 80, 0, 1], shoal.addr)).collect();
    for s in &mut mine {
        assert!(answers(s), "one of the first four connections");
    }
    let mut fifth = connect([127, 80, 0, 1], shoal.addr);
    assert!(!answers(&mut fifth), "the fifth connection from one address is closed");
    let mut other = connect([127, 80, 0, 2], shoal.addr);
    assert!(answers(&mut other), "another address still gets in");
    drop(mine);
    drop(other);

    // Queries pipelined past the cap: 200 answers, then the connection closes.
    let mut s = connect([127, 81, 0, 1], shoal.addr);
    let q = dns::query(0x7777, ZONE, dns::TYPE_SOA);
    let mut pipelined = Vec::new();
    for _ in 0..205 {
        pipelined.extend_from_slice(&dns::tcp_frame(&q));
    }
    s.write_all(&pipelined).unwrap();
    let got = (0..205).take_while(|_| dns::tcp_read_message(&mut s).is_ok()).count();
    assert_eq!(got, 200, "tcp_max_queries = 200");

    // A client that asks for large answers and reads none: dropped after the idle
    // timeout (2 s) once its answers wait, and counted.
    let slow = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    slow.set_recv_buffer_size(4096).unwrap();
    slow.bind(&SocketAddr::from(([127, 82, 0, 1], 0)).into()).unwrap();
    slow.connect_timeout(&shoal.addr.into(), Duration::from_secs(5)).unwrap();
    let mut slow: TcpStream = slow.into();
    let big = dns::query(0x8888, &format!("big.{ZONE}"), 16);
    let mut burst = Vec::new();
    // 150 answers of 55 kB: under the cap, far more than the sockets hold for a client
    // that reads nothing.
    for _ in 0..150 {
        burst.extend_from_slice(&dns::tcp_frame(&big));
    }
    slow.write_all(&burst).unwrap();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    assert!(closed_within(&mut slow, Duration::from_secs(10)), "a client that does not read is dropped");
    assert!(started.elapsed() < Duration::from_secs(14));
    let (_, page) = harness::http::get(metrics, "/metrics").expect("metrics");
    let slow_closed: f64 = page
        .lines()
        .filter(|l| l.starts_with("shoal_tcp_connections_slow_closed_total"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert!(slow_closed >= 1.0, "counted: {slow_closed}");

    // Scarce: 13 idle connections of 16 (at least three quarters) are closed after
    // 500 ms, long before the 2 s idle timeout.
    let mut idle: Vec<TcpStream> = (0..13).map(|i| connect([127, 83, i, 1], shoal.addr)).collect();
    let started = Instant::now();
    for s in &mut idle {
        assert!(closed_within(s, Duration::from_secs(10)), "an idle connection is closed");
    }
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "closed after {:?}, before the idle timeout",
        started.elapsed()
    );
}
