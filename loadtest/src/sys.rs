//! Every raw system call of the load generator: `sendmmsg`, `recvmmsg`, `ppoll`, socket
//! options and a UDP socket bound with SO_REUSEPORT. Each `unsafe` block carries its
//! `// SAFETY:` reason; the rest of the crate only sees safe functions and the two batch
//! types below.
//!
//! The batches own their message headers, I/O vectors and buffers, allocated once. The
//! pointers inside the kernel structures are rebuilt from those buffers before every call
//! (a few stores per message), so no structure ever points into memory that may have moved
//! and the batches need no self-referential tricks. Neither batch allocates after `new`.

use std::io;
use std::mem;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The largest datagram a receive batch keeps (longer ones are cut and flagged by the kernel).
pub const MAX_DATAGRAM: usize = 4096;

/// Socket buffer size asked for: large, so a burst of a thousand outstanding queries or
/// answers is not dropped by a full receive queue.
pub const SOCKET_BUFFER: usize = 8 << 20;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: the pointer and length describe `value`, a c_int that outlives the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    cvt(r).map(drop)
}

/// Ask for large send and receive buffers. As root, SO_*BUFFORCE goes past
/// `net.core.rmem_max`; otherwise the kernel caps the plain option. Best effort.
pub fn set_buffer_sizes(fd: RawFd, bytes: usize) {
    let bytes = bytes.min(i32::MAX as usize) as libc::c_int;
    for (force, plain) in [(libc::SO_RCVBUFFORCE, libc::SO_RCVBUF), (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF)] {
        if setsockopt_int(fd, libc::SOL_SOCKET, force, bytes).is_err() {
            let _ = setsockopt_int(fd, libc::SOL_SOCKET, plain, bytes);
        }
    }
}

/// A non-blocking UDP socket on an ephemeral port (of `source`, when given), connected
/// to `server`, with large buffers.
pub fn udp_connected(server: SocketAddr, source: Option<std::net::IpAddr>) -> io::Result<UdpSocket> {
    let any: SocketAddr = if server.is_ipv4() { "0.0.0.0:0".parse() } else { "[::]:0".parse() }.expect("literal");
    let local = source.map_or(any, |ip| SocketAddr::new(ip, 0));
    let s = UdpSocket::bind(local)?;
    set_buffer_sizes(s.as_raw_fd(), SOCKET_BUFFER);
    s.connect(server)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid (unspecified) value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr = libc::in6_addr { s6_addr: a.ip().octets() };
            sin6.sin6_scope_id = a.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// A blocking UDP socket bound to `addr` with SO_REUSEPORT (so several reflector threads
/// can share one port), large buffers and a receive timeout so its loop can watch a clock.
pub fn udp_bound(addr: SocketAddr, read_timeout: Duration) -> io::Result<UdpSocket> {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = cvt(unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    set_buffer_sizes(fd, SOCKET_BUFFER);
    let (storage, len) = sockaddr(&addr);
    // SAFETY: the pointer and length describe `storage`, filled in by `sockaddr`.
    cvt(unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) })?;
    let s = UdpSocket::from(owned);
    s.set_read_timeout(Some(read_timeout))?;
    Ok(s)
}

fn empty_mmsghdr() -> libc::mmsghdr {
    // SAFETY: mmsghdr is plain data (integers and raw pointers); all-zero is valid.
    unsafe { mem::zeroed() }
}

fn empty_iovec() -> libc::iovec {
    libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }
}

/// Up to `capacity` outgoing queries for one `sendmmsg`: each message is two pieces, the
/// 16-bit ID kept here and the rest of a pre-encoded query borrowed for `'a`, so a query
/// is never copied to be sent.
pub struct SendBatch<'a> {
    ids: Vec<[u8; 2]>,
    bodies: Vec<&'a [u8]>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl<'a> SendBatch<'a> {
    pub fn new(capacity: usize) -> SendBatch<'a> {
        SendBatch {
            ids: Vec::with_capacity(capacity),
            bodies: Vec::with_capacity(capacity),
            iovs: vec![empty_iovec(); 2 * capacity],
            hdrs: vec![empty_mmsghdr(); capacity],
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_full(&self) -> bool {
        self.ids.len() == self.hdrs.len()
    }

    /// The ID of message `i`.
    pub fn id(&self, i: usize) -> u16 {
        u16::from_be_bytes(self.ids[i])
    }

    /// The length of message `i` without its ID.
    pub fn body_len(&self, i: usize) -> usize {
        self.bodies[i].len()
    }

    /// Add a message: `id` then `body` (a query without its first two bytes).
    pub fn push(&mut self, id: u16, body: &'a [u8]) {
        assert!(!self.is_full(), "send batch overflow");
        self.ids.push(id.to_be_bytes());
        self.bodies.push(body);
    }

    pub fn clear(&mut self) {
        self.ids.clear();
        self.bodies.clear();
    }

    /// Send the batch without blocking on the connected socket `fd`. Returns how many
    /// messages (a prefix) the kernel took; `WouldBlock` when it took none.
    pub fn send(&mut self, fd: RawFd) -> io::Result<usize> {
        let n = self.ids.len();
        if n == 0 {
            return Ok(0);
        }
        for i in 0..n {
            self.iovs[2 * i] = libc::iovec { iov_base: self.ids[i].as_ptr() as *mut libc::c_void, iov_len: 2 };
            self.iovs[2 * i + 1] =
                libc::iovec { iov_base: self.bodies[i].as_ptr() as *mut libc::c_void, iov_len: self.bodies[i].len() };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = std::ptr::null_mut();
            h.msg_namelen = 0;
            // SAFETY: 2 * i + 1 < iovs.len() (= 2 * capacity) because n <= capacity.
            h.msg_iov = unsafe { self.iovs.as_mut_ptr().add(2 * i) };
            h.msg_iovlen = 2;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
        }
        // SAFETY: hdrs[..n] are initialised above; each points at two iovecs in `self.iovs`
        // which point at `self.ids[i]` and at `self.bodies[i]`, all alive and unmoved for the
        // duration of the call. The kernel only reads them (and writes msg_len).
        let r = unsafe { libc::sendmmsg(fd, self.hdrs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
        cvt(r).map(|r| r as usize)
    }
}

/// Up to `capacity` incoming datagrams for one `recvmmsg`, each into its own slot of
/// `MAX_DATAGRAM` bytes; with `addresses`, the sender of each is kept for `echo`.
pub struct RecvBatch {
    bufs: Vec<u8>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    addrs: Vec<libc::sockaddr_storage>,
    received: usize,
}

impl RecvBatch {
    pub fn new(capacity: usize, addresses: bool) -> RecvBatch {
        RecvBatch {
            bufs: vec![0; capacity * MAX_DATAGRAM],
            iovs: vec![empty_iovec(); capacity],
            hdrs: vec![empty_mmsghdr(); capacity],
            // SAFETY: sockaddr_storage is plain data; all-zero is valid.
            addrs: if addresses { vec![unsafe { mem::zeroed() }; capacity] } else { Vec::new() },
            received: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    fn prepare(&mut self) {
        let base = self.bufs.as_mut_ptr();
        let addrs = self.addrs.as_mut_ptr();
        let with_addrs = !self.addrs.is_empty();
        for i in 0..self.hdrs.len() {
            // SAFETY: i * MAX_DATAGRAM + MAX_DATAGRAM <= bufs.len() by construction.
            let slot = unsafe { base.add(i * MAX_DATAGRAM) };
            self.iovs[i] = libc::iovec { iov_base: slot.cast(), iov_len: MAX_DATAGRAM };
            let h = &mut self.hdrs[i];
            h.msg_len = 0;
            let m = &mut h.msg_hdr;
            if with_addrs {
                // SAFETY: i < addrs.len() when addresses are kept (same capacity).
                m.msg_name = unsafe { addrs.add(i) }.cast();
                m.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            } else {
                m.msg_name = std::ptr::null_mut();
                m.msg_namelen = 0;
            }
            // SAFETY: i < iovs.len().
            m.msg_iov = unsafe { self.iovs.as_mut_ptr().add(i) };
            m.msg_iovlen = 1;
            m.msg_control = std::ptr::null_mut();
            m.msg_controllen = 0;
            m.msg_flags = 0;
        }
    }

    /// Receive up to `capacity` datagrams. With `wait`, block until the first one (or the
    /// socket's read timeout) and then take what is queued (MSG_WAITFORONE); without, never
    /// block. Returns how many arrived; `WouldBlock` when none did.
    pub fn recv(&mut self, fd: RawFd, wait: bool) -> io::Result<usize> {
        self.received = 0;
        self.prepare();
        let flags = if wait { libc::MSG_WAITFORONE } else { libc::MSG_DONTWAIT };
        // SAFETY: every header points at its own iovec (and address slot), which points at
        // its own MAX_DATAGRAM bytes of `self.bufs`; all are alive and unmoved during the call.
        let r = unsafe {
            libc::recvmmsg(fd, self.hdrs.as_mut_ptr(), self.hdrs.len() as libc::c_uint, flags, std::ptr::null_mut())
        };
        let n = cvt(r)? as usize;
        self.received = n;
        Ok(n)
    }

    /// Datagram `i` of the last `recv`.
    pub fn msg(&self, i: usize) -> &[u8] {
        debug_assert!(i < self.received);
        let len = (self.hdrs[i].msg_len as usize).min(MAX_DATAGRAM);
        &self.bufs[i * MAX_DATAGRAM..i * MAX_DATAGRAM + len]
    }

    /// Datagram `i` of the last `recv`, to modify in place before `echo`.
    pub fn msg_mut(&mut self, i: usize) -> &mut [u8] {
        debug_assert!(i < self.received);
        let len = (self.hdrs[i].msg_len as usize).min(MAX_DATAGRAM);
        &mut self.bufs[i * MAX_DATAGRAM..i * MAX_DATAGRAM + len]
    }

    /// Send the `received` datagrams of the last `recv` back to their senders (addresses
    /// must be kept), blocking until the kernel took them all. Returns how many were sent.
    pub fn echo(&mut self, fd: RawFd) -> io::Result<usize> {
        assert!(!self.addrs.is_empty(), "echo needs a batch that keeps addresses");
        let n = self.received;
        for i in 0..n {
            self.iovs[i].iov_len = (self.hdrs[i].msg_len as usize).min(MAX_DATAGRAM);
            self.hdrs[i].msg_hdr.msg_flags = 0;
        }
        let mut done = 0;
        // Bounded: each round sends at least one message or returns an error.
        while done < n {
            // SAFETY: headers done..n still point at their iovecs, buffers and the sender
            // addresses (msg_namelen as the kernel set it on receive), all alive and unmoved.
            let r = unsafe { libc::sendmmsg(fd, self.hdrs.as_mut_ptr().add(done), (n - done) as libc::c_uint, 0) };
            match cvt(r) {
                Ok(0) => break,
                Ok(k) => done += k as usize,
                // A sender that went away (ICMP unreachable) must not stop the echo of the rest.
                Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => done += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// Descriptors to wait on for readability (and optionally writability), kept between calls.
pub struct PollSet {
    fds: Vec<libc::pollfd>,
}

impl PollSet {
    pub fn new(fds: &[RawFd]) -> PollSet {
        PollSet { fds: fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect() }
    }

    /// Replace descriptor `i` (after a reconnect).
    pub fn set_fd(&mut self, i: usize, fd: RawFd) {
        self.fds[i].fd = fd;
    }

    /// Also wait for descriptor `i` to become writable (a TCP write that did not finish).
    pub fn want_write(&mut self, i: usize, yes: bool) {
        self.fds[i].events = if yes { libc::POLLIN | libc::POLLOUT } else { libc::POLLIN };
    }

    /// Wait up to `timeout` for any descriptor to be ready; returns how many are.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<usize> {
        let ts = libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as _ };
        // SAFETY: the pointer and count describe `self.fds`; `ts` outlives the call; a null
        // signal mask keeps the current one.
        let r = unsafe { libc::ppoll(self.fds.as_mut_ptr(), self.fds.len() as libc::nfds_t, &ts, std::ptr::null()) };
        match cvt(r) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}
