//! TCP load from one thread over several connections, each pipelining its share of the
//! outstanding queries (RFC 7766 §6.2.1.1), closed or open loop.
//!
//! Queries are framed with their 2-byte length and written many at a time: once a quarter
//! of a connection's slots (or a batch) are free, a pass copies that many queries into the
//! connection's write buffer and writes them with one `write` (open loop writes what is
//! due); a write the kernel took only
//! part of is finished before anything new is added. Every read takes what the socket has
//! and parses every complete response in it; a partial one waits at the front of the read
//! buffer for the rest. Matching, checks and statistics are the same as for UDP.
//!
//! A connection the server closes counts its outstanding queries as lost and is opened
//! again (counted in `reconnects`, at most one attempt per connection every 100 ms). The
//! buffers are allocated when a connection is made, never in the loop.

use crate::clock::{Clock, Pacer};
use crate::query::QuerySet;
use crate::slots::{Outstanding, SlotTable};
use crate::stats::Stats;
use crate::udp::{share, Cursor};
use crate::Plan;
use shoal_io::PollSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

const EXPIRE_EVERY_NS: u64 = 1_000_000;
const RECONNECT_AFTER_NS: u64 = 100_000_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Room for one whole message of the largest size after a partial one.
const READ_BUFFER: usize = 2 * (2 + 65535);
/// Most reads (and writes) per connection per pass.
const IO_ROUNDS: usize = 4;

struct Conn {
    stream: Option<TcpStream>,
    slots: SlotTable,
    wbuf: Vec<u8>,
    wpos: usize,
    rbuf: Vec<u8>,
    rlen: usize,
    retry_at_ns: u64,
}

fn connect(server: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&server, CONNECT_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl Conn {
    /// Forget the connection: its outstanding queries are lost, its buffers emptied.
    fn close(&mut self, stats: &mut Stats, now_ns: u64) {
        self.stream = None;
        self.slots.expire_all(|q| stats.query_lost(q.measured));
        self.wbuf.clear();
        self.wpos = 0;
        self.rlen = 0;
        self.retry_at_ns = now_ns + RECONNECT_AFTER_NS;
    }

    /// Parse every complete response at the front of the read buffer.
    fn parse(&mut self, queries: &QuerySet, stats: &mut Stats, now_ns: u64, measuring: bool) {
        let mut pos = 0;
        while self.rlen - pos >= 2 {
            let len = u16::from_be_bytes([self.rbuf[pos], self.rbuf[pos + 1]]) as usize;
            if self.rlen - pos - 2 < len {
                break;
            }
            stats.response(&self.rbuf[pos + 2..pos + 2 + len], &mut self.slots, queries, now_ns, measuring);
            stats.recv_messages += 1;
            pos += 2 + len;
        }
        self.rbuf.copy_within(pos..self.rlen, 0);
        self.rlen -= pos;
    }

    /// Read and parse what the socket has. Returns whether anything arrived; closes the
    /// connection on end of stream or error.
    fn read(&mut self, queries: &QuerySet, stats: &mut Stats, clock: &Clock, measure_ns: u64) -> bool {
        let mut progress = false;
        for _ in 0..IO_ROUNDS {
            let Some(stream) = self.stream.as_mut() else { break };
            match stream.read(&mut self.rbuf[self.rlen..]) {
                Ok(0) => {
                    stats.reconnects += 1;
                    self.close(stats, clock.now_ns());
                    break;
                }
                Ok(n) => {
                    progress = true;
                    stats.recv_calls += 1;
                    self.rlen += n;
                    let now = clock.now_ns();
                    self.parse(queries, stats, now, now >= measure_ns);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    stats.socket_errors += 1;
                    stats.reconnects += 1;
                    self.close(stats, clock.now_ns());
                    break;
                }
            }
        }
        progress
    }

    /// Frame up to `n` new queries into the (empty) write buffer. Returns how many.
    fn fill(
        &mut self,
        n: usize,
        queries: &QuerySet,
        cursor: &mut Cursor,
        stats: &mut Stats,
        now: u64,
        measured: bool,
    ) -> usize {
        debug_assert_eq!(self.wpos, self.wbuf.len());
        self.wbuf.clear();
        self.wpos = 0;
        let mut framed = 0;
        for _ in 0..n {
            let q = cursor.take();
            let Some(id) = self.slots.acquire(Outstanding { query: q as u32, sent_ns: now, measured }) else { break };
            let query = queries.query(q);
            self.wbuf.extend_from_slice(&(query.len() as u16).to_be_bytes());
            self.wbuf.extend_from_slice(&id.to_be_bytes());
            self.wbuf.extend_from_slice(&query[2..]);
            stats.query_sent(measured, query.len());
            framed += 1;
        }
        stats.send_messages += framed as u64;
        framed
    }

    /// Write what is pending. Returns whether anything was written.
    fn flush(&mut self, stats: &mut Stats, now_ns: u64) -> bool {
        let mut progress = false;
        for _ in 0..IO_ROUNDS {
            if self.wpos == self.wbuf.len() {
                break;
            }
            let Some(stream) = self.stream.as_mut() else { break };
            match stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => break,
                Ok(n) => {
                    stats.send_calls += 1;
                    self.wpos += n;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    stats.socket_errors += 1;
                    stats.reconnects += 1;
                    self.close(stats, now_ns);
                    break;
                }
            }
        }
        progress
    }
}

pub fn run(plan: &Plan, queries: &QuerySet, clock: Clock) -> io::Result<Stats> {
    let frame = 2 + queries.max_len();
    let mut conns = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients {
        let slots = SlotTable::new(share(plan.outstanding, plan.clients, i).max(1));
        conns.push(Conn {
            stream: Some(connect(plan.server)?),
            slots,
            wbuf: Vec::with_capacity(plan.batch * frame),
            wpos: 0,
            rbuf: vec![0; READ_BUFFER],
            rlen: 0,
            retry_at_ns: 0,
        });
    }
    let fds: Vec<_> = conns.iter().map(|c| c.stream.as_ref().expect("connected").as_raw_fd()).collect();
    let mut poll = PollSet::new(&fds);
    let mut stats = Stats::with_timeline(plan.window, plan.phases.measure_ns);
    let mut cursor = Cursor::new(plan.first_query, queries.len());
    let mut pacer = plan.rate.map(Pacer::new);
    let phases = plan.phases;
    let mut next_expire = 0u64;
    let mut turn = 0usize;
    let count = conns.len();

    loop {
        let now = clock.now_ns();
        let sending = now < phases.send_end_ns;
        let outstanding: usize = conns.iter().map(|c| c.slots.outstanding()).sum();
        if !sending && (outstanding == 0 || now >= phases.hard_end_ns) {
            break;
        }
        let mut progress = false;

        for conn in conns.iter_mut() {
            if conn.stream.is_none() && sending && now >= conn.retry_at_ns {
                match connect(plan.server) {
                    Ok(s) => conn.stream = Some(s),
                    Err(_) => {
                        stats.socket_errors += 1;
                        conn.retry_at_ns = now + RECONNECT_AFTER_NS;
                    }
                }
            }
            progress |= conn.read(queries, &mut stats, &clock, phases.measure_ns);
        }

        if now >= next_expire {
            next_expire = now + EXPIRE_EVERY_NS;
            let deadline = now.saturating_sub(phases.timeout_ns);
            for conn in conns.iter_mut() {
                conn.slots.expire(deadline, |q| stats.query_lost(q.measured));
            }
        }

        let mut owed = match pacer.as_mut() {
            Some(p) if sending => {
                let (owed, skipped) = p.due(now);
                if now >= phases.measure_ns {
                    stats.skipped += skipped;
                }
                owed as usize
            }
            _ => usize::MAX,
        };
        // Bounded: one lap of the connections, one batch each.
        for _ in 0..conns.len() {
            let conn = &mut conns[turn];
            turn = (turn + 1) % count;
            if conn.stream.is_none() {
                continue;
            }
            if conn.wpos == conn.wbuf.len() && sending && owed > 0 {
                let n = conn.slots.available().min(plan.batch).min(owed);
                // Closed loop: wait for a quarter of the connection's slots (or a batch) to be
                // free, so each write carries many queries, as a busy client's would.
                let least = if pacer.is_some() { 1 } else { plan.batch.min(conn.slots.capacity() / 4).max(1) };
                if n >= least {
                    let t = clock.now_ns();
                    let framed = conn.fill(n, queries, &mut cursor, &mut stats, t, t >= phases.measure_ns);
                    if let Some(p) = pacer.as_mut() {
                        p.sent(framed as u64);
                        owed -= framed;
                    }
                }
            }
            progress |= conn.flush(&mut stats, now);
        }

        if !progress {
            for (i, conn) in conns.iter().enumerate() {
                // A closed connection waits with -1, which ppoll skips.
                poll.set_fd(i, conn.stream.as_ref().map_or(-1, |s| s.as_raw_fd()));
                poll.want_write(i, conn.wpos < conn.wbuf.len());
            }
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

    for conn in conns.iter_mut() {
        conn.slots.expire_all(|q| stats.query_lost(q.measured));
    }
    Ok(stats)
}
