//! UDP: one thread per socket, pinned beside its worker's TCP thread, that does what
//! the kernel's fast path allows and no more: a blocking `recvmmsg` that returns as
//! soon as one datagram is there with whatever else is queued (`MSG_WAITFORONE`),
//! answers into per-datagram response slots, and one `sendmmsg` for the batch — two
//! system calls per batch, as a bare UDP reflector makes.
//!
//! Buffers are allocated once per thread (see `sys::UdpBatch`). The catalog is read
//! through an `arc_swap::Cache`, checked once per batch. A datagram that `answer`
//! drops (shorter than a header, or a response) gets no reply. A NOTIFY is answered
//! here, from the zone set's NOTIFY policy, and the transfer thread is told; signed
//! queries and IXFR over UDP go to the transfer thread, which answers them through a
//! second handle on the same socket.
//!
//! Before answering a batch, the thread starts every query's lookup
//! ([`shoal_zonedb::answer::prepare()`]) so that the cache misses of a large zone overlap.
//!
//! With response rate limiting on ([`super::rrl`]), each answer is checked against its
//! source prefix's bucket before it is queued: limited answers are dropped or slipped
//! (sent truncated), and counted.
//!
//! Each batch's time, from the receive returning to the send returning, goes into the
//! thread's [`crate::metrics::BatchTimes`]: two vDSO clock reads per batch.

use super::rrl::{self, Limiter, Verdict};
use super::{answer_counted, cookie, options, Shared};
use crate::metrics::WorkerStats;
use crate::sys::{UdpBatch, BATCH};
use crate::zones::ZoneSet;
use arc_swap::Cache;
use shoal_wire::Opcode;
use shoal_zonedb::answer::{prepare, Prepared};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a receive blocks before the thread checks whether it should stop.
const WAKE: Duration = Duration::from_millis(250);

/// What becomes of one datagram of a batch once answered.
#[derive(Clone, Copy)]
enum Reply {
    /// Send the response of this length from its slot; `exempt` from rate limiting
    /// (the query brought a good server cookie).
    Send {
        len: usize,
        exempt: bool,
    },
    /// Pass it to the transfer thread.
    HandOver,
    /// A NOTIFY, answered here from the zone set's policy.
    Notify,
    Nothing,
}

pub struct UdpState {
    batch: Box<UdpBatch>,
    /// Response rate limiting, when on.
    limiter: Option<Limiter>,
}

/// Serve `sock` until `shared.stop` is set.
pub fn run(sock: std::net::UdpSocket, reply: Arc<std::net::UdpSocket>, shared: Arc<Shared>, stats: Arc<WorkerStats>) {
    if let Err(e) = sock.set_nonblocking(false).and_then(|_| sock.set_read_timeout(Some(WAKE))) {
        tracing::error!("UDP socket setup failed: {e}");
        return;
    }
    let mut cache = Cache::new(Arc::clone(&shared.zones));
    let mut udp = UdpState::new(shared.udp_payload, Limiter::new(&shared.rrl, shared.workers));
    let fd = sock.as_raw_fd();
    while !shared.stop.load(Ordering::Relaxed) {
        match udp.receive(fd, true) {
            // Idle: let go of a replaced zone set so its snapshots can be freed.
            Ok(0) => {
                cache.load();
            }
            // The zone set is read after the (blocking) receive, so a batch is answered
            // from the newest version, never one older than the wait.
            Ok(n) => {
                let started = Instant::now();
                udp.answer_batch(fd, n, &reply, cache.load(), &shared, &stats);
                stats.batch_time.record(started.elapsed());
            }
            Err(_) => {
                stats.udp_errors.inc();
                // A persistent error must not spin the core.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

impl UdpState {
    pub fn new(udp_payload: u16, limiter: Option<Limiter>) -> Self {
        UdpState { batch: UdpBatch::new(usize::from(udp_payload).max(512)), limiter }
    }

    /// Answer everything waiting on a non-blocking socket (tests and tools).
    pub fn drain(
        &mut self,
        sock: &impl AsRawFd,
        reply: &Arc<std::net::UdpSocket>,
        zones: &Arc<ZoneSet>,
        shared: &Shared,
        stats: &WorkerStats,
    ) {
        let fd = sock.as_raw_fd();
        for _ in 0..4096 {
            match self.receive(fd, false) {
                Ok(0) | Err(_) => return,
                Ok(n) => self.answer_batch(fd, n, reply, zones, shared, stats),
            }
        }
    }

    /// Receive one batch, blocking for the first datagram when `wait`. Returns how many
    /// datagrams arrived.
    pub fn receive(&mut self, fd: RawFd, wait: bool) -> std::io::Result<usize> {
        match self.batch.recv(fd, wait) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
            r => r,
        }
    }

    /// Answer the `n` datagrams just received and send the answers in one call.
    pub fn answer_batch(
        &mut self,
        fd: RawFd,
        n: usize,
        reply: &Arc<std::net::UdpSocket>,
        zones: &Arc<ZoneSet>,
        shared: &Shared,
        stats: &WorkerStats,
    ) {
        let opts = options(shared, false);
        let secrets = shared.cookies.as_ref().map(|c| c.load());
        let cookie_now = if secrets.is_some() { cookie::now() } else { 0 };
        let mut replies = [Reply::Nothing; BATCH];
        {
            let (datagrams, mut slots) = self.batch.split();
            // Prepare every query before answering any, so their cache misses overlap.
            let mut prepared: [Option<Prepared<'_, '_>>; BATCH] = [const { None }; BATCH];
            for (i, p) in prepared.iter_mut().enumerate().take(n) {
                *p = Some(prepare(datagrams.get(i), &zones.catalog));
            }
            for p in prepared[..n].iter().flatten() {
                p.warm_node();
            }
            for (i, p) in prepared[..n].iter().enumerate() {
                let Some(p) = p else { continue };
                if shared.events.is_some() && p.request().is_some_and(|r| r.opcode == Opcode::NOTIFY) {
                    replies[i] = Reply::Notify;
                    continue;
                }
                replies[i] = match answer_counted(p, zones, shared, &opts, slots.get(i), stats) {
                    // Signed, or IXFR: the transfer thread holds keys and ACLs.
                    None => Reply::HandOver,
                    Some(r) if r.len > 0 => {
                        let (len, exempt) = match (&secrets, p.request(), datagrams.peer(i)) {
                            (Some(s), Some(req), Some(peer)) => {
                                cookie::answer(req, &r, slots.get(i), peer.ip(), s, cookie_now, false)
                            }
                            _ => (r.len, false),
                        };
                        Reply::Send { len, exempt }
                    }
                    Some(_) => Reply::Nothing,
                };
            }
        }
        let mut queued = 0;
        // The limiter's clock, read once per batch.
        let now = self.limiter.as_ref().map_or(0, Limiter::now);
        for (i, reply_to) in replies[..n].iter().enumerate() {
            match *reply_to {
                Reply::Send { len, exempt } => {
                    let len = match (&mut self.limiter, self.batch.peer(i)) {
                        (Some(limiter), Some(peer)) if !exempt => match limiter.check(peer.ip(), now) {
                            Verdict::Send => len,
                            Verdict::Drop => {
                                stats.rrl_dropped.inc();
                                continue;
                            }
                            Verdict::Slip => {
                                stats.rrl_slipped.inc();
                                rrl::truncate(self.batch.split().1.get(i), len)
                            }
                        },
                        _ => len,
                    };
                    self.batch.queue(queued, i, len);
                    queued += 1;
                }
                Reply::HandOver => self.hand_over(i, reply, shared, stats),
                Reply::Notify => {
                    if let Some(len) = self.notify(i, zones, shared) {
                        self.batch.queue(queued, i, len);
                        queued += 1;
                    }
                }
                Reply::Nothing => {}
            }
        }
        if queued > 0 {
            match self.batch.send(fd, queued) {
                Ok(sent) => stats.udp_dropped.add((queued - sent) as u64),
                Err(_) => stats.udp_errors.inc(),
            }
        }
    }

    /// Answer NOTIFY datagram `i` from the zone set's policy (allow list, TSIG) into
    /// its response slot, as Knot's workers do, and tell the transfer thread; the
    /// length of the answer. When the transfer thread's queue is full the NOTIFY is
    /// not answered, so that the primary sends it again.
    fn notify(&mut self, i: usize, zones: &ZoneSet, shared: &Shared) -> Option<usize> {
        let (Some(events), Some(peer)) = (&shared.events, self.batch.peer(i)) else { return None };
        let (datagrams, mut slots) = self.batch.split();
        let msg = datagrams.get(i);
        let policy = &zones.notify;
        let verdict = crate::transfer::notify::check_in(msg, peer, &policy.keys, |apex| policy.zone(apex));
        let (accepted, serial) = (verdict.accepted, verdict.serial);
        if let Some(zone) = verdict.zone {
            let told = events.try_send(crate::transfer::Event::Notified { zone, accepted, serial, peer }).is_ok();
            if accepted && !told {
                return None;
            }
        }
        let response = verdict.response?;
        let out = slots.get(i);
        (response.len() <= out.len()).then(|| {
            out[..response.len()].copy_from_slice(&response);
            response.len()
        })
    }

    /// Pass datagram `i` to the transfer thread.
    fn hand_over(&mut self, i: usize, reply: &Arc<std::net::UdpSocket>, shared: &Shared, stats: &WorkerStats) {
        let (Some(events), Some(peer)) = (&shared.events, self.batch.peer(i)) else { return };
        let msg = self.batch.query(i).to_vec();
        if events.try_send(crate::transfer::Event::Udp { msg, peer, reply: Arc::clone(reply) }).is_err() {
            stats.udp_dropped.inc();
        }
    }
}
