//! [`SendBatch`]: a batch of messages sent by `sendmmsg`.
//!
//! A message ([`Transmit`]) is one or two borrowed pieces (a server's answer from its
//! slot; a load generator's fresh ID and the rest of a query encoded once), sent to an
//! address or, without one, on a connected socket. Nothing is copied: the pieces are
//! borrowed for the call.
//!
//! What happens when the kernel does not take everything: [`SendBatch::send_once`]
//! makes one call and says how many it took (a prefix); [`SendBatch::send`] goes on
//! after a partial send, skips a message whose destination the kernel refuses so that
//! one bad address does not drop the rest of the batch, and stops when the socket
//! buffer is full (a DNS client retries).

use crate::msghdr::Headers;
use crate::sockaddr;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};

/// How many `sendmmsg` calls [`SendBatch::send`] makes at most for one batch.
const TRIES: usize = 4;

/// One outgoing message: `head` then `body` (which may be empty), to `to` or, when
/// `None`, to the peer of a connected socket.
#[derive(Clone, Copy, Debug)]
pub struct Transmit<'a> {
    pub to: Option<SocketAddr>,
    pub head: &'a [u8],
    pub body: &'a [u8],
}

impl<'a> Transmit<'a> {
    /// `data` to `to`.
    pub fn to(to: SocketAddr, data: &'a [u8]) -> Transmit<'a> {
        Transmit { to: Some(to), head: data, body: &[] }
    }

    /// `head` then `body` on a connected socket.
    pub fn connected(head: &'a [u8], body: &'a [u8]) -> Transmit<'a> {
        Transmit { to: None, head, body }
    }
}

/// Headers and address slots for sending up to `capacity` messages at once. Allocated
/// once; sending never allocates.
pub struct SendBatch {
    addrs: Vec<libc::sockaddr_storage>,
    headers: Headers,
}

impl SendBatch {
    pub fn new(capacity: usize) -> SendBatch {
        SendBatch { addrs: vec![sockaddr::empty(); capacity], headers: Headers::new(capacity, 2) }
    }

    /// How many messages one call can send.
    pub fn capacity(&self) -> usize {
        self.headers.capacity()
    }

    /// Point the headers at the first [`SendBatch::capacity`] of `messages` (the rest
    /// are not sent); returns how many.
    fn fill<'a>(&mut self, messages: impl IntoIterator<Item = Transmit<'a>>) -> usize {
        let mut n = 0;
        for (i, m) in messages.into_iter().take(self.capacity()).enumerate() {
            let pieces = &mut self.headers.iovs[2 * i..2 * i + 2];
            pieces[0] = libc::iovec { iov_base: m.head.as_ptr().cast_mut().cast(), iov_len: m.head.len() };
            pieces[1] = libc::iovec { iov_base: m.body.as_ptr().cast_mut().cast(), iov_len: m.body.len() };
            let used = if m.body.is_empty() { 1 } else { 2 };
            let namelen = m.to.map_or(0, |to| sockaddr::write(&to, &mut self.addrs[i]));
            self.headers.set(i, used, namelen);
            n = i + 1;
        }
        self.headers.link(n, &mut self.addrs);
        n
    }

    /// One `sendmmsg` for headers `from..to` (filled by `fill` from pieces the caller
    /// still borrows).
    fn call(&mut self, fd: libc::c_int, from: usize, to: usize, wait: bool) -> io::Result<usize> {
        debug_assert!(from < to && to <= self.capacity());
        let flags = if wait { 0 } else { libc::MSG_DONTWAIT };
        let hdrs = &mut self.headers.hdrs[from..to];
        // SAFETY: `hdrs` are headers `fill` pointed, in this call of `send` or
        // `send_once`, at I/O vectors in `self.headers.iovs` over pieces borrowed by
        // that call and at addresses in `self.addrs`; all are alive and unmoved for the
        // duration of this call. The kernel reads them and writes only `msg_len`.
        let r = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), hdrs.len() as libc::c_uint, flags) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }

    /// Send `messages` (up to the capacity) with one `sendmmsg`, without blocking.
    /// Returns how many the kernel took, the first ones; `Ok(0)` when the socket buffer
    /// is full (or there was nothing to send).
    pub fn send_once<'a>(
        &mut self,
        socket: &impl AsFd,
        messages: impl IntoIterator<Item = Transmit<'a>>,
    ) -> io::Result<usize> {
        let n = self.fill(messages);
        if n == 0 {
            return Ok(0);
        }
        match self.call(socket.as_fd().as_raw_fd(), 0, n, false) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            r => r,
        }
    }

    /// Send `messages` (up to the capacity): after a partial send, the rest again; a
    /// message the kernel refuses (its destination unreachable or invalid) is skipped
    /// unless it is the last; with `wait` each call may block, without it sending
    /// stops when the socket buffer is full. At most a few calls. Returns how many
    /// messages went, or the error of the last one when that one failed.
    pub fn send<'a>(
        &mut self,
        socket: &impl AsFd,
        messages: impl IntoIterator<Item = Transmit<'a>>,
        wait: bool,
    ) -> io::Result<usize> {
        let count = self.fill(messages);
        let fd = socket.as_fd().as_raw_fd();
        let (mut done, mut sent, mut tries) = (0, 0, 0);
        while done < count && tries < TRIES {
            tries += 1;
            match self.call(fd, done, count, wait) {
                Ok(n) => {
                    done += n;
                    sent += n;
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => break,
                    // One bad destination must not drop the rest of the batch.
                    _ if done + 1 < count => done += 1,
                    _ => return Err(e),
                },
            }
        }
        Ok(sent)
    }
}
