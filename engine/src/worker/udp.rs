//! UDP: drain the socket in batches with `recvmmsg`, answer each datagram into its own
//! response slot, and send the batch with one `sendmmsg`.
//!
//! Buffers are allocated once per worker (see `sys::UdpBatch`). A datagram that
//! `answer` drops (shorter than a header, or a response) gets no reply. The catalog is
//! loaded once per wake-up, not per query.

use super::{options, Shared};
use crate::metrics::WorkerStats;
use crate::sys::UdpBatch;
use shoal_zonedb::{answer, Catalog};
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// Batches one wake-up may answer before the worker looks at its other sockets, so
/// sustained UDP load cannot starve TCP or keep an old catalog alive.
pub const MAX_BATCHES: usize = 16;

pub struct UdpState {
    batch: Box<UdpBatch>,
}

impl UdpState {
    pub fn new(udp_payload: u16) -> Self {
        UdpState { batch: UdpBatch::new(usize::from(udp_payload).max(512)) }
    }

    /// Answer what is waiting on `sock`, at most [`MAX_BATCHES`] batches. Returns true
    /// if it stopped at that bound with data possibly left (the caller comes back after
    /// a look at its other sockets and the catalog), false once the socket is drained
    /// (mio is edge-triggered: only then will a new event come). NOTIFY messages and
    /// signed queries go to the transfer thread, which answers them through `reply` (a
    /// handle on the same socket).
    pub fn drain(
        &mut self,
        sock: &mio::net::UdpSocket,
        reply: &Arc<std::net::UdpSocket>,
        catalog: &Arc<Catalog>,
        shared: &Shared,
        stats: &WorkerStats,
    ) -> bool {
        let opts = options(shared, false);
        let fd = sock.as_raw_fd();
        // Bounded so a socket that keeps failing cannot pin the worker here.
        let mut errors = 0;
        for _ in 0..MAX_BATCHES {
            let n = match self.batch.recv(fd) {
                Ok(0) => return false,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    stats.udp_errors.inc();
                    errors += 1;
                    if errors > 64 {
                        return false;
                    }
                    continue;
                }
            };
            let mut queued = 0;
            for i in 0..n {
                if let Some(events) = &shared.events {
                    if self.batch.is_notify(i) {
                        if let (Some(peer), q) = (self.batch.peer(i), self.batch.slot(i).0) {
                            let ev = crate::transfer::Event::Udp { msg: q.to_vec(), peer, reply: Arc::clone(reply) };
                            if events.try_send(ev).is_err() {
                                stats.udp_dropped.inc();
                            }
                        }
                        continue;
                    }
                }
                let (q, r) = self.batch.slot(i);
                let resp = answer(q, catalog, &opts, r);
                stats.record(&resp.outcome, false);
                if resp.outcome == shoal_zonedb::Outcome::Deferred {
                    // TSIG-signed: the transfer thread holds the keys.
                    if let (Some(events), Some(peer)) = (&shared.events, self.batch.peer(i)) {
                        let msg = self.batch.slot(i).0.to_vec();
                        let ev = crate::transfer::Event::Udp { msg, peer, reply: Arc::clone(reply) };
                        if events.try_send(ev).is_err() {
                            stats.udp_dropped.inc();
                        }
                    }
                    continue;
                }
                if resp.len > 0 {
                    self.batch.queue(queued, i, resp.len);
                    queued += 1;
                }
            }
            if queued > 0 {
                match self.batch.send(fd, queued) {
                    Ok(sent) => stats.udp_dropped.add((queued - sent) as u64),
                    Err(_) => stats.udp_errors.inc(),
                }
            }
        }
        true
    }
}
