//! Every syscall that the standard library and mio do not wrap: sockets with
//! SO_REUSEPORT and large buffers (socket2), and pinning a thread to a core (libc).
//! Each `unsafe` block carries its `// SAFETY:` reason.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

const SOCKET_BUFFER: usize = 4 << 20;

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
pub fn udp_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let s = socket(addr, Type::DGRAM, Protocol::UDP)?;
    // Best effort: the kernel may cap these (net.core.rmem_max).
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
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
    // SAFETY: cpu_set_t is plain data for which all-zero is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit inside `set`; `core` is reduced modulo the set size.
    unsafe { libc::CPU_SET(core % (8 * std::mem::size_of::<libc::cpu_set_t>()), &mut set) };
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
