//! Every syscall that the standard library and mio do not wrap: sockets with
//! SO_REUSEPORT and large buffers (socket2), batched UDP receive and send
//! (`recvmmsg`/`sendmmsg`), pinning a thread to a core, signals and the allocator's
//! release of freed memory (libc).
//! Each `unsafe` block carries its `// SAFETY:` reason.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

/// Send buffer of UDP sockets (answers to many clients may go out in one burst).
const SEND_BUFFER: usize = 4 << 20;

fn socket(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// A non-blocking UDP socket bound to `addr` with SO_REUSEPORT, so every worker can
/// bind the same address and the kernel spreads datagrams across them.
/// A UDP socket bound to `addr` with a receive buffer of `rcvbuf` bytes (0: the
/// kernel's default).
pub fn udp_socket(addr: SocketAddr, rcvbuf: usize) -> io::Result<std::net::UdpSocket> {
    let s = socket(addr, Type::DGRAM, Protocol::UDP)?;
    // Best effort: the kernel may cap these (net.core.rmem_max, wmem_max).
    if rcvbuf > 0 {
        let _ = s.set_recv_buffer_size(rcvbuf);
    }
    let _ = s.set_send_buffer_size(SEND_BUFFER);
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// A non-blocking TCP listener bound to `addr` with SO_REUSEPORT.
pub fn tcp_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = socket(addr, Type::STREAM, Protocol::TCP)?;
    s.set_tcp_nodelay(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// Pin the calling thread to `core`. Failure is harmless (logged by the caller).
pub fn pin_to_core(core: usize) -> io::Result<()> {
    pin_to_cores(&[core])
}

/// Let the calling thread (and the threads it starts later) run only on `cores`.
pub fn pin_to_cores(cores: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data for which all-zero is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &core in cores {
        // SAFETY: CPU_SET writes one bit inside `set`; `core` is reduced modulo the set size.
        unsafe { libc::CPU_SET(core % (8 * std::mem::size_of::<libc::cpu_set_t>()), &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; the pointer and size describe `set`.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The cores this process may run on, in order.
pub fn allowed_cores() -> Vec<usize> {
    // SAFETY: as in `pin_to_core`, an all-zero cpu_set_t is valid.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; the pointer and size describe `set`.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return vec![0];
    }
    (0..8 * std::mem::size_of::<libc::cpu_set_t>())
        // SAFETY: CPU_ISSET reads one bit inside `set`, `i` is within its size.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect()
}

/// How many datagrams one `recvmmsg`/`sendmmsg` moves.
pub const BATCH: usize = 64;
/// Receive slot per datagram: queries larger than this are truncated and answered
/// FORMERR (a query has no business being larger).
pub const RX_SLOT: usize = 4096;

/// Where datagram `i` of the last `recv` lies in the receive buffer.
fn rx_range(hdr: &[libc::mmsghdr], i: usize) -> std::ops::Range<usize> {
    let len = (hdr[i].msg_len as usize).min(RX_SLOT);
    i * RX_SLOT..i * RX_SLOT + len
}

/// The address in a `sockaddr_storage` the kernel filled in.
fn peer_of(a: &libc::sockaddr_storage) -> Option<std::net::SocketAddr> {
    match i32::from(a.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in here (family AF_INET), and
            // sockaddr_storage is large and aligned enough for it.
            let v4 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(std::net::SocketAddr::new(ip.into(), u16::from_be(v4.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6 (family AF_INET6).
            let v6 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(std::net::SocketAddr::new(ip.into(), u16::from_be(v6.sin6_port)))
        }
        _ => None,
    }
}

/// The datagrams of a [`UdpBatch`]'s last receive.
pub struct Datagrams<'b> {
    rx: &'b [u8],
    hdr: &'b [libc::mmsghdr],
    addrs: &'b [libc::sockaddr_storage],
}

impl<'b> Datagrams<'b> {
    /// Datagram `i` (truncated datagrams are cut at RX_SLOT bytes).
    pub fn get(&self, i: usize) -> &'b [u8] {
        &self.rx[rx_range(self.hdr, i)]
    }

    /// The source address of datagram `i`.
    pub fn peer(&self, i: usize) -> Option<std::net::SocketAddr> {
        peer_of(&self.addrs[i])
    }
}

/// The response slots of a [`UdpBatch`], one per datagram.
pub struct ResponseSlots<'b> {
    tx: &'b mut [u8],
    slot: usize,
}

impl ResponseSlots<'_> {
    /// The slot for the response to datagram `i`.
    pub fn get(&mut self, i: usize) -> &mut [u8] {
        &mut self.tx[i * self.slot..(i + 1) * self.slot]
    }
}

/// Buffers and message headers for batched UDP I/O. Allocated once per worker; the
/// headers point into the buffers, which live on the heap and never move.
pub struct UdpBatch {
    rx: Vec<u8>,
    tx: Vec<u8>,
    tx_slot: usize,
    addrs: Vec<libc::sockaddr_storage>,
    rx_iov: Vec<libc::iovec>,
    tx_iov: Vec<libc::iovec>,
    rx_hdr: Vec<libc::mmsghdr>,
    tx_hdr: Vec<libc::mmsghdr>,
    received: usize,
}

// SAFETY: the raw pointers inside the headers point only into this struct's own heap
// buffers; moving the struct to another thread moves their sole owner with it.
unsafe impl Send for UdpBatch {}

impl UdpBatch {
    /// `tx_slot` is the largest response this worker sends over UDP.
    pub fn new(tx_slot: usize) -> Box<UdpBatch> {
        // SAFETY: these libc structs are plain data; all-zero is a valid empty value.
        let zero_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let iov = libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 };
        let mut b = Box::new(UdpBatch {
            rx: vec![0; BATCH * RX_SLOT],
            tx: vec![0; BATCH * tx_slot],
            tx_slot,
            addrs: vec![zero_addr; BATCH],
            rx_iov: vec![iov; BATCH],
            tx_iov: vec![iov; BATCH],
            rx_hdr: vec![zero_hdr; BATCH],
            tx_hdr: vec![zero_hdr; BATCH],
            received: 0,
        });
        for i in 0..BATCH {
            b.rx_iov[i].iov_base = b.rx[i * RX_SLOT..].as_mut_ptr().cast();
            b.rx_iov[i].iov_len = RX_SLOT;
            b.tx_iov[i].iov_base = b.tx[i * tx_slot..].as_mut_ptr().cast();
            let rx_iov: *mut libc::iovec = &mut b.rx_iov[i];
            let tx_iov: *mut libc::iovec = &mut b.tx_iov[i];
            let addr: *mut libc::sockaddr_storage = &mut b.addrs[i];
            b.rx_hdr[i].msg_hdr.msg_iov = rx_iov;
            b.rx_hdr[i].msg_hdr.msg_iovlen = 1;
            b.rx_hdr[i].msg_hdr.msg_name = addr.cast();
            b.tx_hdr[i].msg_hdr.msg_iov = tx_iov;
            b.tx_hdr[i].msg_hdr.msg_iovlen = 1;
            b.tx_hdr[i].msg_hdr.msg_name = addr.cast();
        }
        b
    }

    /// Receive up to [`BATCH`] datagrams. With `wait`, block until the first arrives
    /// (`MSG_WAITFORONE`: the rest of the batch is whatever is already queued) or the
    /// socket's receive timeout passes; without, never block. Returns how many
    /// arrived; `Ok(0)` means nothing was waiting (or the timeout passed).
    pub fn recv(&mut self, fd: std::os::fd::RawFd, wait: bool) -> io::Result<usize> {
        for h in &mut self.rx_hdr {
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // SAFETY: every header points at a live iovec of RX_SLOT bytes inside `self.rx`
        // and at a sockaddr_storage in `self.addrs`; BATCH headers exist.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.rx_hdr.as_mut_ptr(),
                BATCH as libc::c_uint,
                if wait { libc::MSG_WAITFORONE } else { libc::MSG_DONTWAIT },
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            self.received = 0;
            return if e.kind() == io::ErrorKind::WouldBlock { Ok(0) } else { Err(e) };
        }
        self.received = n as usize;
        Ok(self.received)
    }

    /// The datagrams of the last `recv` and the response slots, apart: every query of
    /// a batch can be read while the responses are written.
    pub fn split(&mut self) -> (Datagrams<'_>, ResponseSlots<'_>) {
        let received = Datagrams { rx: &self.rx, hdr: &self.rx_hdr, addrs: &self.addrs };
        let slots = ResponseSlots { tx: &mut self.tx, slot: self.tx_slot };
        (received, slots)
    }

    /// Datagram `i` of the last `recv` (truncated datagrams are cut at RX_SLOT bytes).
    pub fn query(&self, i: usize) -> &[u8] {
        &self.rx[rx_range(&self.rx_hdr, i)]
    }

    /// The source address of datagram `i`.
    pub fn peer(&self, i: usize) -> Option<std::net::SocketAddr> {
        peer_of(&self.addrs[i])
    }

    /// Queue the response of length `len` in slot `i` for sending to datagram `i`'s
    /// source. `j` is its position in the send batch.
    pub fn queue(&mut self, j: usize, i: usize, len: usize) {
        let namelen = self.rx_hdr[i].msg_hdr.msg_namelen;
        let addr: *mut libc::sockaddr_storage = &mut self.addrs[i];
        let tx_iov: *mut libc::iovec = &mut self.tx_iov[j];
        self.tx_iov[j].iov_base = self.tx[i * self.tx_slot..].as_mut_ptr().cast();
        self.tx_iov[j].iov_len = len;
        let h = &mut self.tx_hdr[j].msg_hdr;
        h.msg_name = addr.cast();
        h.msg_namelen = namelen;
        h.msg_iov = tx_iov;
        h.msg_iovlen = 1;
    }

    /// Send the first `count` queued responses. Returns how many the kernel took; the
    /// rest are dropped (the socket buffer is full: the client will retry).
    pub fn send(&mut self, fd: std::os::fd::RawFd, count: usize) -> io::Result<usize> {
        let mut done = 0;
        let mut tries = 0;
        while done < count && tries < 4 {
            tries += 1;
            // SAFETY: headers [done, count) were filled by `queue` and point at live
            // buffers and addresses inside `self`.
            let n = unsafe {
                libc::sendmmsg(fd, self.tx_hdr[done..].as_mut_ptr(), (count - done) as libc::c_uint, libc::MSG_DONTWAIT)
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => break,
                    // One bad destination must not drop the rest of the batch.
                    _ if done + 1 < count => {
                        done += 1;
                        continue;
                    }
                    _ => return Err(e),
                }
            }
            done += n as usize;
        }
        Ok(done)
    }
}

/// Turn a mio stream back into a blocking std stream (for the transfer thread).
pub fn into_std_tcp(stream: mio::net::TcpStream) -> std::net::TcpStream {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let fd = stream.into_raw_fd();
    // SAFETY: `fd` was just released by the mio stream, which owned it; the std stream
    // becomes its only owner.
    let s = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    let _ = s.set_nonblocking(false);
    s
}

/// Block the signals the main thread waits for (call before starting other threads,
/// which inherit the mask).
pub fn block_signals(signals: &[libc::c_int]) -> io::Result<()> {
    let set = sigset(signals);
    // SAFETY: `set` is a valid, initialised signal set; the old mask is not needed.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// Wait for one of `signals` (which must be blocked) and return it.
pub fn wait_signal(signals: &[libc::c_int]) -> io::Result<libc::c_int> {
    let set = sigset(signals);
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is initialised and `sig` is a valid place for the result.
    let r = unsafe { libc::sigwait(&set, &mut sig) };
    if r == 0 {
        Ok(sig)
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: zeroed memory is a valid starting value for sigset_t.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &s in signals {
        // SAFETY: `set` is initialised; `s` is a signal number.
        unsafe { libc::sigaddset(&mut set, s) };
    }
    set
}

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_t`, v2).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Have the allocator give freed pages back to the OS as they empty, instead of 10 ms
/// later. What allocates is loading, transfers and compiling, never answering (see
/// the allocation tests); a transfer frees as much as it allocates, and pages kept
/// for a reuse that does not come would raise a secondary's peak memory while it takes
/// a large AXFR. Call first thing in `main`; `MIMALLOC_PURGE_DELAY` in the environment
/// still wins.
pub fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return; // The operator chose.
    }
    // SAFETY: mi_option_set only stores an option value; setting it before any other
    // thread starts is allowed, and 0 is a documented value (immediate purging).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// Return freed memory to the OS now (mimalloc's `mi_collect`), after a large zone
/// version was dropped or built and discarded: otherwise pages freed on a short-lived
/// thread (a refresh) stay resident after that thread is gone.
pub fn release_freed_memory() {
    // SAFETY: mi_collect only walks the allocator's own structures; it has no
    // preconditions and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}
