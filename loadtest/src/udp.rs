//! UDP load from one thread over several connected sockets, closed or open loop.
//!
//! Each socket has its own [`SlotTable`] (its share of the outstanding queries); the thread
//! shares one send batch and one receive batch between its sockets. A pass of the loop
//! receives what every socket has (`recvmmsg`, never blocking), expires old queries every
//! millisecond, then sends: in closed loop, every free slot gets a new query at once (so a
//! socket is refilled with as many queries as it just completed, in one `sendmmsg`); in
//! open loop, what the [`Pacer`] owes is spread over the sockets in turn. A pass that did
//! nothing waits in `ppoll` until a socket is readable or the next tick or expiry is due.
//!
//! After the run's duration the loop stops sending and waits for the answers still
//! outstanding, up to one timeout. Nothing in the loop allocates. Every loop is bounded:
//! the outer one by the clock, the inner ones by counts.

use crate::clock::{Clock, Pacer};
use crate::query::QuerySet;
use crate::slots::{Outstanding, SlotTable};
use crate::stats::Stats;
use crate::Plan;
use shoal_io::{socket, PollSet, RecvBatch, SendBatch, Transmit};
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::Duration;

const EXPIRE_EVERY_NS: u64 = 1_000_000;
/// The largest response a receive batch keeps (longer ones are cut).
const MAX_DATAGRAM: usize = 4096;
/// Socket buffer size asked for: large, so a burst of a thousand outstanding queries or
/// answers is not dropped by a full receive queue.
pub const SOCKET_BUFFER: usize = 8 << 20;
/// Most `recvmmsg` calls on one socket per pass, so one busy socket cannot starve the rest.
const RECV_ROUNDS: usize = 4;

struct Flow {
    socket: UdpSocket,
    slots: SlotTable,
}

/// Where the next query comes from: the query file, in order, round and round.
pub struct Cursor {
    next: usize,
    len: usize,
}

impl Cursor {
    pub fn new(first: usize, len: usize) -> Cursor {
        Cursor { next: first % len, len }
    }

    #[inline]
    pub fn take(&mut self) -> usize {
        let i = self.next;
        self.next += 1;
        if self.next == self.len {
            self.next = 0;
        }
        i
    }
}

/// Split `total` into `parts` shares that differ by at most one.
pub fn share(total: usize, parts: usize, i: usize) -> usize {
    total / parts + usize::from(i < total % parts)
}

/// What sending needs besides the socket: the queries, where the file is, the clock.
struct Sender<'q> {
    batch: SendBatch,
    /// The batch being sent: each query's fresh ID, and the rest of it, encoded once.
    ids: Vec<[u8; 2]>,
    bodies: Vec<&'q [u8]>,
    queries: &'q QuerySet,
    cursor: Cursor,
    clock: Clock,
    measure_ns: u64,
}

impl<'q> Sender<'q> {
    /// Acquire up to `n` slots of `flow`, send those queries in one `sendmmsg`, give back
    /// the slots of what the kernel did not take. Returns how many were sent.
    fn send(&mut self, flow: &mut Flow, n: usize, stats: &mut Stats) -> usize {
        let now = self.clock.now_ns();
        let measured = now >= self.measure_ns;
        self.ids.clear();
        self.bodies.clear();
        for _ in 0..n.min(self.batch.capacity()) {
            let q = self.cursor.take();
            let Some(id) = flow.slots.acquire(Outstanding { query: q as u32, sent_ns: now, measured }) else {
                break;
            };
            self.ids.push(id.to_be_bytes());
            self.bodies.push(&self.queries.query(q)[2..]);
        }
        let messages = self.ids.iter().zip(&self.bodies).map(|(id, body)| Transmit::connected(id, body));
        let sent = match self.batch.send_once(&flow.socket, messages) {
            Ok(k) => k,
            Err(_) => {
                stats.socket_errors += 1;
                0
            }
        };
        if sent > 0 {
            stats.send_calls += 1;
            stats.send_messages += sent as u64;
        }
        for (i, (id, body)) in self.ids.iter().zip(&self.bodies).enumerate() {
            if i < sent {
                stats.query_sent(measured, 2 + body.len());
            } else {
                flow.slots.cancel(u16::from_be_bytes(*id));
            }
        }
        sent
    }
}

pub fn run(plan: &Plan, queries: &QuerySet, clock: Clock) -> io::Result<Stats> {
    let mut flows = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients {
        let slots = SlotTable::new(share(plan.outstanding, plan.clients, i).max(1));
        let source = (plan.source_prefixes > 0).then(|| {
            let prefix = (plan.first_client + i) % plan.source_prefixes;
            std::net::IpAddr::from([127, 200, prefix as u8, 1])
        });
        flows.push(Flow { socket: socket::udp_connected(plan.server, source, SOCKET_BUFFER)?, slots });
    }
    let fds: Vec<_> = flows.iter().map(|f| f.socket.as_raw_fd()).collect();
    let mut poll = PollSet::new(&fds);
    let mut sender = Sender {
        batch: SendBatch::new(plan.batch),
        ids: Vec::with_capacity(plan.batch),
        bodies: Vec::with_capacity(plan.batch),
        queries,
        cursor: Cursor::new(plan.first_query, queries.len()),
        clock,
        measure_ns: plan.phases.measure_ns,
    };
    let mut recv = RecvBatch::new(plan.batch, MAX_DATAGRAM);
    let mut stats = Stats::with_timeline(plan.window, plan.phases.measure_ns);
    let mut pacer = plan.rate.map(Pacer::new);
    let phases = plan.phases;
    let mut next_expire = 0u64;
    let mut turn = 0usize;
    let count = flows.len();

    loop {
        let now = clock.now_ns();
        let sending = now < phases.send_end_ns;
        let outstanding: usize = flows.iter().map(|f| f.slots.outstanding()).sum();
        if !sending && (outstanding == 0 || now >= phases.hard_end_ns) {
            break;
        }
        let mut progress = false;

        for flow in flows.iter_mut() {
            for _ in 0..RECV_ROUNDS {
                let n = match recv.recv(&flow.socket, false) {
                    Ok(n) => n,
                    Err(_) => {
                        stats.socket_errors += 1;
                        0
                    }
                };
                if n == 0 {
                    break;
                }
                progress = true;
                stats.recv_calls += 1;
                stats.recv_messages += n as u64;
                let t = clock.now_ns();
                let measuring = t >= phases.measure_ns;
                for i in 0..n {
                    stats.response(recv.datagram(i), &mut flow.slots, queries, t, measuring);
                }
                if n < recv.capacity() {
                    break;
                }
            }
        }

        if now >= next_expire {
            next_expire = now + EXPIRE_EVERY_NS;
            let deadline = now.saturating_sub(phases.timeout_ns);
            for flow in flows.iter_mut() {
                flow.slots.expire(deadline, |q| stats.query_lost(q.measured));
            }
        }

        if sending {
            match pacer.as_mut() {
                None => {
                    for flow in flows.iter_mut() {
                        // Bounded: each round fills a batch or stops.
                        for _ in 0..flow.slots.capacity() / plan.batch + 1 {
                            let n = flow.slots.available().min(plan.batch);
                            if n == 0 {
                                break;
                            }
                            let sent = sender.send(flow, n, &mut stats);
                            progress |= sent > 0;
                            if sent < n {
                                break;
                            }
                        }
                    }
                }
                Some(pacer) => {
                    let (mut owed, skipped) = pacer.due(now);
                    if now >= phases.measure_ns {
                        stats.skipped += skipped;
                    }
                    // Bounded: at most one batch per socket per tick and one lap of the sockets.
                    for _ in 0..flows.len() {
                        if owed == 0 {
                            break;
                        }
                        let flow = &mut flows[turn];
                        turn = (turn + 1) % count;
                        let n = flow.slots.available().min(plan.batch).min(owed as usize);
                        if n == 0 {
                            continue;
                        }
                        let sent = sender.send(flow, n, &mut stats);
                        pacer.sent(sent as u64);
                        owed -= sent as u64;
                        progress |= sent > 0;
                    }
                }
            }
        }

        if !progress {
            let now = clock.now_ns();
            let mut wait = Duration::from_nanos(next_expire.saturating_sub(now));
            if let Some(p) = pacer.as_ref().filter(|_| sending) {
                wait = wait.min(p.until_next_tick(now));
            }
            let to_end = if sending { phases.send_end_ns } else { phases.hard_end_ns };
            wait = wait.min(Duration::from_nanos(to_end.saturating_sub(now)));
            if !wait.is_zero() && !plan.busy_poll {
                stats.waits += 1;
                poll.wait(wait)?;
            }
        }
    }

    for flow in flows.iter_mut() {
        flow.slots.expire_all(|q| stats.query_lost(q.measured));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for (total, parts) in [(1000, 8), (7, 3), (3, 3), (1, 1)] {
            let sum: usize = (0..parts).map(|i| share(total, parts, i)).sum();
            assert_eq!(sum, total);
        }
        assert_eq!(share(1000, 8, 0), 125);
        assert_eq!(share(7, 3, 0), 3);
        assert_eq!(share(7, 3, 2), 2);
    }

    #[test]
    fn cursor_wraps() {
        let mut c = Cursor::new(5, 3);
        let got: Vec<usize> = (0..5).map(|_| c.take()).collect();
        assert_eq!(got, vec![2, 0, 1, 2, 0]);
    }
}
