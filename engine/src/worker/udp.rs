//! UDP: drain the socket until it would block, answering each datagram in place.
//!
//! The receive and response buffers are allocated once per worker. A datagram that
//! `answer` drops (shorter than a header, or a response) gets no reply.

use super::{options, Shared};
use crate::metrics::WorkerStats;
use shoal_zonedb::{answer, Catalog};
use std::io::ErrorKind;
use std::sync::Arc;

pub struct UdpState {
    rbuf: Box<[u8]>,
    wbuf: Box<[u8]>,
}

impl UdpState {
    pub fn new() -> Self {
        UdpState { rbuf: vec![0; 65536].into_boxed_slice(), wbuf: vec![0; 65536].into_boxed_slice() }
    }

    pub fn drain(&mut self, sock: &mio::net::UdpSocket, catalog: &Arc<Catalog>, shared: &Shared, stats: &WorkerStats) {
        let opts = options(shared, false);
        // Bounded so a socket that keeps failing cannot pin the worker here.
        let mut errors = 0;
        loop {
            let (n, peer) = match sock.recv_from(&mut self.rbuf) {
                Ok(x) => x,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    stats.udp_errors.inc();
                    errors += 1;
                    if errors > 64 {
                        return;
                    }
                    continue;
                }
            };
            let r = answer(&self.rbuf[..n], catalog, &opts, &mut self.wbuf);
            stats.record(&r.outcome, false);
            if r.len == 0 {
                continue;
            }
            match sock.send_to(&self.wbuf[..r.len], peer) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => stats.udp_dropped.inc(),
                Err(_) => stats.udp_errors.inc(),
            }
        }
    }
}
