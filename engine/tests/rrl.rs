//! Response rate limiting against a flood from many source prefixes: every loopback
//! address is local on Linux, so sockets bound to 127.50.P.1 stand for spoofed sources
//! in eight /24 prefixes. Each prefix gets its burst and then its rate; of the answers
//! limited, every second one goes out truncated (slip = 2) and the rest are dropped, and
//! the counters say so. Meanwhile a client in another prefix asking a few times a
//! second gets every answer, and an exempt prefix is never limited.

mod harness;

use harness::dns;
use harness::shoal::{Shoal, ShoalZone};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const ZONE: &str = "rrl.test.";
const RATE: u32 = 20;
const BURST: u32 = 20;
const PREFIXES: u8 = 8;
const PER_PREFIX: usize = 300;

/// Full answers and truncated ones (TC) read from `sock` until it is quiet for `quiet`.
fn collect(sock: &UdpSocket, quiet: Duration) -> (usize, usize) {
    sock.set_read_timeout(Some(quiet)).unwrap();
    let (mut full, mut truncated) = (0, 0);
    let mut buf = [0u8; 1500];
    while let Ok(n) = sock.recv(&mut buf) {
        if n < 12 {
            continue;
        }
        if buf[2] & 0x02 != 0 {
            assert_eq!(u16::from_be_bytes([buf[6], buf[7]]), 0, "a slipped answer has no records");
            truncated += 1;
        } else {
            full += 1;
        }
    }
    (full, truncated)
}

fn bound(ip: [u8; 4], to: SocketAddr) -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::from((ip, 0))).expect("bind a loopback source");
    s.connect(to).unwrap();
    s
}

fn scrape(metrics: SocketAddr, family: &str) -> f64 {
    let (_, body) = harness::http::get(metrics, "/metrics").expect("metrics page");
    body.lines().filter(|l| l.starts_with(family)).filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok()).sum()
}

#[test]
fn a_flood_is_limited_per_prefix_while_others_get_every_answer() {
    let _guard = harness::serial_guard();
    let metrics: SocketAddr = ([127, 0, 0, 1], harness::free_port()).into();
    let shoal = Shoal::builder("rrl")
        .file(&format!("{ZONE}zone"), &harness::zone::small_text(ZONE, 1, 1))
        .zone(ShoalZone::primary(ZONE))
        .table(&format!(
            "\n[rrl]\nrate = {RATE}\nburst = {BURST}\nslip = 2\nipv4_prefix = 24\nexempt = [\"127.9.9.0/24\"]\n\
             \n[metrics]\nlisten = \"{metrics}\"\n"
        ))
        .start();
    let query = dns::query(0x4444, &format!("www.{ZONE}"), dns::TYPE_A);
    let flood: Vec<UdpSocket> = (0..PREFIXES).map(|p| bound([127, 50, p, 1], shoal.addr)).collect();
    let client = bound([127, 60, 0, 1], shoal.addr);
    let exempt = bound([127, 9, 9, 1], shoal.addr);

    let started = Instant::now();
    // The flood, prefix after prefix in turn; the client asks every 200 ms meanwhile.
    let mut client_asked = 0;
    for i in 0..PER_PREFIX {
        for s in &flood {
            let _ = s.send(&query);
        }
        if i % 60 == 0 {
            client.send(&query).unwrap();
            client_asked += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    for _ in 0..100 {
        exempt.send(&query).unwrap();
    }
    let mut got: HashMap<u8, (usize, usize)> = HashMap::new();
    for (p, s) in flood.iter().enumerate() {
        got.insert(p as u8, collect(s, Duration::from_millis(500)));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (client_full, client_tc) = collect(&client, Duration::from_millis(500));
    let (exempt_full, exempt_tc) = collect(&exempt, Duration::from_millis(500));

    // Each prefix: no more than its burst and rate over the whole time (generous), and at
    // least most of its burst; half of what was limited came back truncated.
    let most = BURST as f64 + RATE as f64 * (elapsed + 1.0);
    let mut slipped = 0;
    for (p, (full, tc)) in &got {
        assert!((*full as f64) <= most, "prefix {p}: {full} answers in {elapsed:.1} s, at most {most} allowed");
        assert!(*full >= (BURST / 2) as usize, "prefix {p}: only {full} answers, the burst is {BURST}");
        let limited = PER_PREFIX - full;
        assert!(
            (*tc as f64 - limited as f64 / 2.0).abs() <= limited as f64 * 0.1 + 2.0,
            "prefix {p}: {tc} truncated of {limited} limited (slip = 2)"
        );
        slipped += tc;
    }
    assert_eq!((client_full, client_tc), (client_asked, 0), "the client in another prefix gets every answer");
    assert_eq!((exempt_full, exempt_tc), (100, 0), "the exempt prefix is never limited");
    let counted_slips = scrape(metrics, "shoal_rrl_slipped_total");
    let counted_drops = scrape(metrics, "shoal_rrl_limited_total");
    assert!(counted_slips >= slipped as f64, "{counted_slips} slips counted, {slipped} received");
    let limited: usize = got.values().map(|(full, _)| PER_PREFIX - full).sum();
    assert!(counted_drops + counted_slips >= limited as f64, "{counted_drops} + {counted_slips} counted of {limited}");
}
