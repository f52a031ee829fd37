//! Every system call of Shoal (and of its load generator) that the standard library,
//! socket2 and mio do not wrap safely, behind a safe API, in the manner of quinn-udp:
//! this crate is the only place in the workspace with socket or OS `unsafe`, and each
//! block says why it is sound (`// SAFETY:`). `shoal-engine` and `shoal-loadtest`
//! forbid `unsafe` and call these instead.
//!
//! What it owns:
//! - `recv`: [`RecvBatch`], up to a batch of datagrams filled by one `recvmmsg`, each in
//!   its own slot, with its length, source address and truncation flag;
//! - `send`: [`SendBatch`], a batch of [`Transmit`]s (one or two borrowed pieces each,
//!   to an address or on a connected socket) sent by `sendmmsg`, partial sends and a
//!   refused destination handled;
//! - `msghdr` (private): the kernel's message headers, allocated once per batch;
//! - `sockaddr` (private): socket addresses to and from the kernel's layout;
//! - `socket`: sockets with SO_REUSEPORT and large buffers (socket2 where it can);
//! - `poll`: [`PollSet`], `ppoll` on a set of descriptors kept between calls;
//! - `cpu`: pinning threads to cores, the cores allowed;
//! - `signal`: blocking and waiting for signals, and a process asking itself to stop;
//! - `memory`: the page size, and when the allocator (mimalloc) returns freed memory.
//!
//! Neither batch allocates after `new`: the headers, I/O vectors, address slots and
//! buffers are made once, and the pointers inside the kernel's structures are written
//! again before every call from what the call borrows, so no structure keeps a pointer
//! into memory that may have moved.
//!
//! Limitations: Linux only (`recvmmsg`, `sendmmsg`, `sched_setaffinity`, SO_*BUFFORCE);
//! no GSO/GRO and no ancillary data (local address, ECN) yet; one I/O vector per
//! received datagram.

pub mod cpu;
pub mod memory;
mod msghdr;
pub mod poll;
pub mod recv;
pub mod send;
pub mod signal;
mod sockaddr;
pub mod socket;

pub use poll::PollSet;
pub use recv::RecvBatch;
pub use send::{SendBatch, Transmit};
