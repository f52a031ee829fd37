//! Free loopback ports for the integration tests, chosen below the kernel's ephemeral
//! range: a port is picked here and bound later by a server, and a port from the
//! ephemeral range could meanwhile be taken by any client socket (a SOA query, a NOTIFY),
//! which made tests fail now and then with "address in use".

use std::collections::BTreeSet;
use std::net::{TcpListener, UdpSocket};
use std::sync::Mutex;

/// The first port of the ephemeral range (32768 when it cannot be read).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(32768)
}

/// A loopback port that is free for both UDP and TCP right now, outside the ephemeral
/// range, and that this process has not handed out before (tests run in parallel
/// threads).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let top = ephemeral_start().max(12_000);
    let bottom = top.saturating_sub(10_000).max(1024);
    let mut x = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..1000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = bottom + (x % u64::from(top - bottom)) as u16;
        let mut taken = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if taken.contains(&port) {
            continue;
        }
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            taken.insert(port);
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP after 1000 attempts");
}
