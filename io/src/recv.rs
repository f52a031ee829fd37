//! [`RecvBatch`]: up to a batch of datagrams received by one `recvmmsg`.
//!
//! Each datagram has its own slot of a fixed size in one buffer; one longer than its
//! slot is cut, and flagged ([`RecvBatch::truncated`]). The sender of each is kept, so a
//! server can answer to it and a reflector can send it back.

use crate::msghdr::Headers;
use crate::sockaddr;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};

/// Buffers, addresses and headers for receiving up to `capacity` datagrams at once.
/// Allocated once; receiving never allocates.
pub struct RecvBatch {
    bufs: Vec<u8>,
    slot: usize,
    addrs: Vec<libc::sockaddr_storage>,
    headers: Headers,
    received: usize,
}

impl RecvBatch {
    /// Room for `capacity` datagrams of up to `slot` bytes each.
    pub fn new(capacity: usize, slot: usize) -> RecvBatch {
        RecvBatch {
            bufs: vec![0; capacity * slot],
            slot,
            addrs: vec![sockaddr::empty(); capacity],
            headers: Headers::new(capacity, 1),
            received: 0,
        }
    }

    /// How many datagrams one receive can take.
    pub fn capacity(&self) -> usize {
        self.headers.capacity()
    }

    /// Receive up to [`RecvBatch::capacity`] datagrams. With `wait`, block until the
    /// first arrives (`MSG_WAITFORONE`: the rest is whatever is already queued) or the
    /// socket's receive timeout passes; without, never block. Returns how many arrived;
    /// `Ok(0)` when none was waiting (or the timeout passed).
    pub fn recv(&mut self, socket: &impl AsFd, wait: bool) -> io::Result<usize> {
        self.received = 0;
        let base = self.bufs.as_mut_ptr();
        for i in 0..self.capacity() {
            // The slot of datagram i: `i * slot + slot <= bufs.len()` by construction.
            let buf = base.wrapping_add(i * self.slot);
            self.headers.iovs[i] = libc::iovec { iov_base: buf.cast(), iov_len: self.slot };
            self.headers.set(i, 1, sockaddr::STORAGE_LEN);
        }
        self.headers.link(self.capacity(), &mut self.addrs);
        let flags = if wait { libc::MSG_WAITFORONE } else { libc::MSG_DONTWAIT };
        // SAFETY: each of the `capacity` headers points at its own iovec, which points at
        // its own `slot` bytes of `self.bufs`, and at its own sockaddr_storage in
        // `self.addrs` with that size as its length; all are alive, exclusively borrowed
        // and unmoved for the duration of the call, which writes only inside them.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_fd().as_raw_fd(),
                self.headers.hdrs.as_mut_ptr(),
                self.capacity() as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock { Ok(0) } else { Err(e) };
        }
        self.received = n as usize;
        Ok(self.received)
    }

    /// How many datagrams the last receive took.
    pub fn len(&self) -> usize {
        self.received
    }

    pub fn is_empty(&self) -> bool {
        self.received == 0
    }

    fn range(&self, i: usize) -> std::ops::Range<usize> {
        assert!(i < self.received, "datagram {i} of {}", self.received);
        let len = (self.headers.hdrs[i].msg_len as usize).min(self.slot);
        i * self.slot..i * self.slot + len
    }

    /// Datagram `i` of the last receive (cut at the slot size when longer).
    pub fn datagram(&self, i: usize) -> &[u8] {
        &self.bufs[self.range(i)]
    }

    /// Datagram `i` of the last receive, to change in place.
    pub fn datagram_mut(&mut self, i: usize) -> &mut [u8] {
        let r = self.range(i);
        &mut self.bufs[r]
    }

    /// The source address of datagram `i` (`None` for a family other than IPv4 and IPv6).
    pub fn peer(&self, i: usize) -> Option<SocketAddr> {
        assert!(i < self.received, "datagram {i} of {}", self.received);
        sockaddr::read(&self.addrs[i])
    }

    /// Whether datagram `i` was longer than its slot and was cut (`MSG_TRUNC`).
    pub fn truncated(&self, i: usize) -> bool {
        assert!(i < self.received, "datagram {i} of {}", self.received);
        self.headers.hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0
    }
}
