//! The whole UDP hot path (recvmmsg, prepare, answer, count, response rate limiting,
//! sendmmsg) allocates nothing per query: a counting global allocator counts this
//! thread's allocations while a worker's UDP state drains batches of queries from a
//! real loopback socket, without and with rate limiting.

use arc_swap::ArcSwap;
use shoal_engine::access::cookies::{CookieKeeper, Secrets};
use shoal_engine::config::RrlConfig;
use shoal_engine::metrics::{QueryCounters, WorkerStats};
use shoal_engine::serve::rrl::Limiter;
use shoal_engine::serve::udp::UdpState;
use shoal_engine::serve::Shared;
use shoal_engine::zones::ZoneSet;
use shoal_wire::name::from_ascii;
use shoal_zonedb::{Catalog, ZoneState};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn udp_batch_path_allocates_nothing_per_query() {
    drain_rounds(None, false);
}

#[test]
fn udp_batch_path_with_rate_limiting_allocates_nothing_per_query() {
    // A rate no test reaches: every answer goes through the limiter and is sent.
    let rrl = RrlConfig { rate: 1_000_000, burst: 1_000_000, ..RrlConfig::default() };
    drain_rounds(Some(rrl), false);
}

#[test]
fn udp_batch_path_with_cookies_allocates_nothing_per_query() {
    drain_rounds(None, true);
}

/// Five rounds of 50 queries drained by one UDP state; the allocations of the last four.
/// With `cookies`, each query carries a client cookie and each answer a server cookie.
fn drain_rounds(rrl: Option<RrlConfig>, cookies: bool) {
    let apex = from_ascii("example.com.").unwrap();
    let zone = "@ 300 SOA ns hm 1 2 3 4 5\n@ 300 NS ns\nns 300 A 192.0.2.1\nwww 300 A 192.0.2.3\n";
    let snap = shoal_zonedb::load_zone_str(&apex, zone, Path::new("z")).unwrap();
    let mut cat = Catalog::new();
    let zone_counters = Arc::new(QueryCounters::new(1));
    cat.insert(apex, ZoneState::Ready(Arc::new(snap)));
    let zone_set = ZoneSet {
        catalog: Arc::new(cat),
        counters: Arc::new(vec![Arc::clone(&zone_counters)]),
        notify: Arc::default(),
    };
    let shared = Shared {
        zones: Arc::new(ArcSwap::from_pointee(zone_set)),
        identity: None,
        version: None,
        udp_payload: 1232,
        tcp_idle_timeout: Duration::from_secs(10),
        tcp_max_connections: 10,
        tcp_max_per_source: 0,
        tcp_max_queries: 0,
        workers: 1,
        stop: AtomicBool::new(false),
        drain_timeout: Duration::from_secs(1),
        events: None,
        rrl: rrl.clone().unwrap_or_default(),
        cookies: cookies.then(|| CookieKeeper::new(Secrets::random(), None)),
    };
    let std_sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    std_sock.set_nonblocking(true).unwrap();
    let addr = std_sock.local_addr().unwrap();
    let reply = Arc::new(std_sock.try_clone().unwrap());
    let server = std_sock;
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut query =
        b"\x00\x07\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01".to_vec();
    if cookies {
        query[11] = 1;
        query.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
    let query = &query[..];
    // Slot 0 of the zone's counters: every answer is counted per zone too.
    let stats = WorkerStats::new(0, shoal_engine::metrics::Transport::Udp, 0);
    let mut udp = UdpState::new(1232, rrl.as_ref().and_then(|r| Limiter::new(r, 1)));
    let zones = shared.zones.load_full();
    let mut answered = 0;
    let mut allocations = 0;
    for round in 0..5 {
        for _ in 0..50 {
            client.send_to(query, addr).unwrap();
        }
        // Wait (bounded) until the datagrams are queued on the server socket.
        std::thread::sleep(Duration::from_millis(50));
        let before = ALLOCS.with(Cell::get);
        udp.drain(&server, &reply, &zones, &shared, &stats);
        let used = ALLOCS.with(Cell::get) - before;
        if round > 0 {
            allocations += used;
        }
        let mut buf = [0u8; 512];
        for _ in 0..50 {
            let n = client.recv(&mut buf).expect("every query is answered");
            assert_eq!(&buf[..2], &[0, 7]);
            assert!(n > 12);
            if cookies {
                assert!(buf[..n].windows(4).any(|w| w == [0, 10, 0, 24]), "a server cookie in the answer");
            }
            answered += 1;
        }
    }
    assert_eq!(answered, 250);
    assert_eq!(stats.queries.get(), 250);
    assert_eq!(zone_counters.totals().queries, 250, "per-zone counters see every query");
    assert_eq!(allocations, 0, "the UDP path allocated");
}
