//! UDP: one thread per socket, pinned beside its worker's TCP thread, that does what
//! the kernel's fast path allows and no more: a blocking `recvmmsg` that returns as
//! soon as one datagram is there with whatever else is queued (`MSG_WAITFORONE`),
//! answers into per-datagram response slots, and one `sendmmsg` for the batch — two
//! system calls per batch, as a bare UDP reflector makes.
//!
//! Buffers are allocated once per thread (`shoal_io::RecvBatch` and `SendBatch`, and
//! a response slot per datagram). The catalog is read through an `arc_swap::Cache`,
//! checked once per batch, and each zone's version once per batch (a
//! `shoal_zonedb::Held`). A datagram that `answer` drops (shorter than a header, or a
//! response) gets no reply. A NOTIFY is answered here, from the zone set's NOTIFY
//! policy, and the transfer thread is told; signed queries and IXFR over UDP go to the
//! transfer thread, which answers them through a second handle on the same socket.
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
use crate::zones::ZoneSet;
use arc_swap::Cache;
use shoal_io::{RecvBatch, SendBatch, Transmit};
use shoal_wire::Opcode;
use shoal_zonedb::answer::{prepare, Prepared};
use shoal_zonedb::Held;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a receive blocks before the thread checks whether it should stop.
const WAKE: Duration = Duration::from_millis(250);

/// How many datagrams one `recvmmsg`/`sendmmsg` moves.
pub const BATCH: usize = 64;
/// Receive slot per datagram: queries larger than this are cut and answered FORMERR (a
/// query has no business being larger).
pub const RX_SLOT: usize = 4096;

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
    recv: RecvBatch,
    send: SendBatch,
    /// One response slot per datagram of a batch, `tx_slot` bytes each.
    tx: Vec<u8>,
    tx_slot: usize,
    /// Response rate limiting, when on.
    limiter: Option<Limiter>,
}

/// Serve `sock` until `shared.stop` is set.
pub fn run(sock: UdpSocket, reply: Arc<UdpSocket>, shared: Arc<Shared>, stats: Arc<WorkerStats>) {
    if let Err(e) = sock.set_nonblocking(false).and_then(|_| sock.set_read_timeout(Some(WAKE))) {
        tracing::error!("UDP socket setup failed: {e}");
        return;
    }
    let mut cache = Cache::new(Arc::clone(&shared.zones));
    let mut udp = UdpState::new(shared.udp_payload, Limiter::new(&shared.rrl, shared.workers));
    while !shared.stop.load(Ordering::Relaxed) {
        match udp.receive(&sock, true) {
            // Idle: let go of a replaced zone set so its snapshots can be freed.
            Ok(0) => {
                cache.load();
            }
            // The zone set is read after the (blocking) receive, so a batch is answered
            // from the newest version, never one older than the wait.
            Ok(n) => {
                let started = Instant::now();
                udp.answer_batch(&sock, n, &reply, cache.load(), &shared, &stats);
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
        let tx_slot = usize::from(udp_payload).max(512);
        UdpState {
            recv: RecvBatch::new(BATCH, RX_SLOT),
            send: SendBatch::new(BATCH),
            tx: vec![0; BATCH * tx_slot],
            tx_slot,
            limiter,
        }
    }

    /// Answer everything waiting on a non-blocking socket (tests and tools).
    pub fn drain(
        &mut self,
        sock: &UdpSocket,
        reply: &Arc<UdpSocket>,
        zones: &Arc<ZoneSet>,
        shared: &Shared,
        stats: &WorkerStats,
    ) {
        for _ in 0..4096 {
            match self.receive(sock, false) {
                Ok(0) | Err(_) => return,
                Ok(n) => self.answer_batch(sock, n, reply, zones, shared, stats),
            }
        }
    }

    /// Receive one batch, blocking for the first datagram when `wait`. Returns how many
    /// datagrams arrived.
    pub fn receive(&mut self, sock: &UdpSocket, wait: bool) -> std::io::Result<usize> {
        match self.recv.recv(sock, wait) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
            r => r,
        }
    }

    /// Answer the `n` datagrams just received and send the answers in one call.
    pub fn answer_batch(
        &mut self,
        sock: &UdpSocket,
        n: usize,
        reply: &Arc<UdpSocket>,
        zones: &Arc<ZoneSet>,
        shared: &Shared,
        stats: &WorkerStats,
    ) {
        let opts = options(shared, false);
        let secrets = shared.cookies.as_ref().map(|c| c.load());
        let cookie_now = if secrets.is_some() { cookie::now() } else { 0 };
        let mut replies = [Reply::Nothing; BATCH];
        {
            let datagrams = &self.recv;
            // Each zone's version, read once for the batch (every query may have its own).
            let held = Held::<BATCH>::new();
            let (tx, size) = (&mut self.tx[..], self.tx_slot);
            // Prepare every query before answering any, so their cache misses overlap.
            let mut prepared: [Option<Prepared<'_, '_>>; BATCH] = [const { None }; BATCH];
            for (i, p) in prepared.iter_mut().enumerate().take(n) {
                *p = Some(prepare(datagrams.datagram(i), &zones.catalog, &held));
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
                replies[i] = match answer_counted(p, zones, shared, &opts, slot(tx, size, i), stats) {
                    // Signed, or IXFR: the transfer thread holds keys and ACLs.
                    None => Reply::HandOver,
                    Some(r) if r.len > 0 => {
                        let (len, exempt) = match (&secrets, p.request(), datagrams.peer(i)) {
                            (Some(s), Some(req), Some(peer)) => {
                                cookie::answer(req, &r, slot(tx, size, i), peer.ip(), s, cookie_now, false)
                            }
                            _ => (r.len, false),
                        };
                        Reply::Send { len, exempt }
                    }
                    Some(_) => Reply::Nothing,
                };
            }
        }
        // What goes out: (datagram, response length, to), in the order received.
        let mut queue = [(0usize, 0usize, None::<SocketAddr>); BATCH];
        let mut queued = 0;
        // The limiter's clock, read once per batch.
        let now = self.limiter.as_ref().map_or(0, Limiter::now);
        for (i, reply_to) in replies[..n].iter().enumerate() {
            match *reply_to {
                Reply::Send { len, exempt } => {
                    let peer = self.recv.peer(i);
                    let len = match (&mut self.limiter, peer) {
                        (Some(limiter), Some(peer)) if !exempt => match limiter.check(peer.ip(), now) {
                            Verdict::Send => len,
                            Verdict::Drop => {
                                stats.rrl_dropped.inc();
                                continue;
                            }
                            Verdict::Slip => {
                                stats.rrl_slipped.inc();
                                rrl::truncate(slot(&mut self.tx, self.tx_slot, i), len)
                            }
                        },
                        _ => len,
                    };
                    queue[queued] = (i, len, peer);
                    queued += 1;
                }
                Reply::HandOver => self.hand_over(i, reply, shared, stats),
                Reply::Notify => {
                    if let Some(len) = self.notify(i, zones, shared) {
                        queue[queued] = (i, len, self.recv.peer(i));
                        queued += 1;
                    }
                }
                Reply::Nothing => {}
            }
        }
        if queued > 0 {
            let (tx, size) = (&self.tx, self.tx_slot);
            let out = queue[..queued]
                .iter()
                .filter_map(|&(i, len, to)| Some(Transmit::to(to?, &tx[i * size..i * size + len])));
            match self.send.send(sock, out, false) {
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
        let (Some(events), Some(peer)) = (&shared.events, self.recv.peer(i)) else { return None };
        let msg = self.recv.datagram(i);
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
        let out = slot(&mut self.tx, self.tx_slot, i);
        (response.len() <= out.len()).then(|| {
            out[..response.len()].copy_from_slice(&response);
            response.len()
        })
    }

    /// Pass datagram `i` to the transfer thread.
    fn hand_over(&mut self, i: usize, reply: &Arc<UdpSocket>, shared: &Shared, stats: &WorkerStats) {
        let (Some(events), Some(peer)) = (&shared.events, self.recv.peer(i)) else { return };
        let msg = self.recv.datagram(i).to_vec();
        if events.try_send(crate::transfer::Event::Udp { msg, peer, reply: Arc::clone(reply) }).is_err() {
            stats.udp_dropped.inc();
        }
    }
}

/// Response slot `i` of a batch's slots of `size` bytes.
fn slot(tx: &mut [u8], size: usize, i: usize) -> &mut [u8] {
    &mut tx[i * size..(i + 1) * size]
}
