//! Sockets made the way Shoal and its load generator need them: SO_REUSEPORT so that
//! every worker binds the same address and the kernel spreads datagrams across them,
//! IPv6 sockets for IPv6 only, and large buffers. socket2 makes them; only the buffer
//! options that go past the system's limit (`SO_RCVBUFFORCE`, `SO_SNDBUFFORCE`, which
//! socket2 does not name) are set here with `setsockopt`.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

fn reuseport(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    Ok(s)
}

/// A non-blocking UDP socket bound to `addr` with SO_REUSEPORT, with a receive buffer
/// of `recv_buffer` bytes and a send buffer of `send_buffer` (0: the kernel's default;
/// best effort, the kernel caps them at `net.core.rmem_max` and `wmem_max`).
pub fn udp_reuseport(addr: SocketAddr, recv_buffer: usize, send_buffer: usize) -> io::Result<UdpSocket> {
    let s = reuseport(addr, Type::DGRAM, Protocol::UDP)?;
    s.set_nonblocking(true)?;
    if recv_buffer > 0 {
        let _ = s.set_recv_buffer_size(recv_buffer);
    }
    if send_buffer > 0 {
        let _ = s.set_send_buffer_size(send_buffer);
    }
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// A non-blocking TCP listener bound to `addr` with SO_REUSEPORT and TCP_NODELAY.
pub fn tcp_listener(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let s = reuseport(addr, Type::STREAM, Protocol::TCP)?;
    s.set_nonblocking(true)?;
    s.set_tcp_nodelay(true)?;
    s.bind(&addr.into())?;
    s.listen(backlog)?;
    Ok(s.into())
}

/// A blocking UDP socket bound to `addr` with SO_REUSEPORT (several threads can share
/// one port), buffers of `buffer` bytes (forced, see [`set_buffer_sizes`]) and a
/// receive timeout, so that its loop can watch a clock.
pub fn udp_reuseport_blocking(addr: SocketAddr, buffer: usize, read_timeout: Duration) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_port(true)?;
    set_buffer_sizes(&s, buffer);
    s.bind(&addr.into())?;
    let s = UdpSocket::from(s);
    s.set_read_timeout(Some(read_timeout))?;
    Ok(s)
}

/// A non-blocking UDP socket on an ephemeral port (of `source`, when given), connected
/// to `server`, with buffers of `buffer` bytes (forced, see [`set_buffer_sizes`]).
pub fn udp_connected(server: SocketAddr, source: Option<IpAddr>, buffer: usize) -> io::Result<UdpSocket> {
    let any: IpAddr = if server.is_ipv4() { [0u8; 4].into() } else { [0u16; 8].into() };
    let s = UdpSocket::bind(SocketAddr::new(source.unwrap_or(any), 0))?;
    set_buffer_sizes(&s, buffer);
    s.connect(server)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn setsockopt_int(socket: &impl AsFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: the pointer and length describe `value`, a c_int that outlives the call,
    // which only reads it.
    let r = unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Ask for send and receive buffers of `bytes`. With CAP_NET_ADMIN (as root),
/// SO_*BUFFORCE goes past `net.core.rmem_max`; otherwise the kernel caps the plain
/// option. Best effort.
pub fn set_buffer_sizes(socket: &impl AsFd, bytes: usize) {
    let bytes = bytes.min(i32::MAX as usize) as libc::c_int;
    for (force, plain) in [(libc::SO_RCVBUFFORCE, libc::SO_RCVBUF), (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF)] {
        if setsockopt_int(socket, libc::SOL_SOCKET, force, bytes).is_err() {
            let _ = setsockopt_int(socket, libc::SOL_SOCKET, plain, bytes);
        }
    }
}
