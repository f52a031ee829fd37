//! The reflector: a UDP "server" that answers every datagram with itself, QR set.
//!
//! It does the least a DNS server can do per query (one `recvmmsg` for up to a batch of
//! datagrams, one flag bit each, one `sendmmsg` back to the senders), so its rate is this
//! machine's ceiling for a one-core UDP server: the kernel's cost of the loopback path.
//! With several threads, each has its own SO_REUSEPORT socket on the same address.
//!
//! It prints `listening on ADDR` once bound (so a caller that asked for port 0 learns the
//! port), and stops after its time limit; each thread wakes every 100 ms to check it.

use shoal_io::{socket, RecvBatch, SendBatch, Transmit};
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const WAKE: Duration = Duration::from_millis(100);
/// The largest datagram echoed whole (longer ones are cut).
const MAX_DATAGRAM: usize = 4096;

pub struct ReflectOptions {
    pub listen: SocketAddr,
    pub threads: usize,
    pub batch: usize,
    pub time_limit: Duration,
    /// Spin on a non-blocking socket instead of sleeping in the receive call.
    pub busy_poll: bool,
}

fn serve(socket: &UdpSocket, batch: usize, busy_poll: bool, until: Instant) -> io::Result<u64> {
    let mut recv = RecvBatch::new(batch, MAX_DATAGRAM);
    let mut send = SendBatch::new(batch);
    let mut echoed = 0u64;
    // Bounded by the clock: every receive returns within WAKE.
    while Instant::now() < until {
        let n = match recv.recv(socket, !busy_poll) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => continue,
            Err(e) => return Err(e),
        };
        for i in 0..n {
            let m = recv.datagram_mut(i);
            if m.len() > 2 {
                m[2] |= 0x80;
            }
        }
        let back = (0..n).filter_map(|i| Some(Transmit::to(recv.peer(i)?, recv.datagram(i))));
        echoed += match send.send(socket, back, true) {
            Ok(k) => k as u64,
            // A sender that went away (ICMP unreachable) must not stop the reflector.
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => 0,
            Err(e) => return Err(e),
        };
    }
    Ok(echoed)
}

/// Run the reflector until its time limit; returns how many datagrams it echoed.
pub fn run(options: &ReflectOptions) -> io::Result<u64> {
    let first = socket::udp_reuseport_blocking(options.listen, crate::udp::SOCKET_BUFFER, WAKE)?;
    let addr = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..options.threads {
        sockets.push(socket::udp_reuseport_blocking(addr, crate::udp::SOCKET_BUFFER, WAKE)?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    drop(out);
    let until = Instant::now() + options.time_limit;
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            sockets.iter().map(|s| scope.spawn(move || serve(s, options.batch, options.busy_poll, until))).collect();
        let mut total = 0;
        for h in handles {
            total += h.join().expect("reflector thread panicked")?;
        }
        Ok(total)
    })
}
