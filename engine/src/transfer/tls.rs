//! XoT (RFC 9103) as a primary: the listeners of `[tls] listen`, on one acceptor thread
//! that hands each connection to the transfer thread ([`super::Event::Tls`]), and the
//! connection thread's part: the TLS handshake (the secondary's certificate checked
//! when `[tls] client_ca` is set), then the connection's messages answered as over
//! TCP ([`super::conn`]), with transfer policy told they came over TLS.

use super::conn::{self, Context};
use super::xfr_out::Transport;
use super::Event;
use crate::access::tls::accept;
use crate::metrics::RefreshStats;
use crossbeam_channel::Sender;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// How often the acceptor looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);

/// The `[tls]` listeners, bound.
pub struct Acceptor {
    poll: Poll,
    listeners: Vec<TcpListener>,
}

impl Acceptor {
    /// Bind every `[tls]` address, so that one that cannot be bound fails the start
    /// before anything is served.
    pub fn bind(addrs: &[SocketAddr]) -> io::Result<Acceptor> {
        let poll = Poll::new()?;
        let mut listeners = Vec::with_capacity(addrs.len());
        for (i, &a) in addrs.iter().enumerate() {
            let mut l = TcpListener::bind(a).map_err(|e| io::Error::new(e.kind(), format!("tls.listen {a}: {e}")))?;
            poll.registry().register(&mut l, Token(i), Interest::READABLE)?;
            listeners.push(l);
        }
        Ok(Acceptor { poll, listeners })
    }

    /// Accept on a thread of its own until `stopped` says so.
    pub fn spawn(
        self,
        events: Sender<Event>,
        stopped: impl Fn() -> bool + Send + 'static,
    ) -> io::Result<std::thread::JoinHandle<io::Result<()>>> {
        std::thread::Builder::new().name("shoal-xot-accept".into()).spawn(move || self.run(&events, &stopped))
    }

    fn run(mut self, events: &Sender<Event>, stopped: &dyn Fn() -> bool) -> io::Result<()> {
        let mut ready = Events::with_capacity(64);
        while !stopped() {
            if let Err(e) = self.poll.poll(&mut ready, Some(STOP_POLL)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!("XoT acceptor stopped: {e}");
                    return Err(e);
                }
            }
            for ev in &ready {
                let Some(l) = self.listeners.get(ev.token().0) else { continue };
                loop {
                    match l.accept() {
                        Ok((stream, peer)) => {
                            let stream = std::net::TcpStream::from(stream);
                            if events.try_send(Event::Tls { stream, peer }).is_err() {
                                tracing::warn!(%peer, "TLS connection closed: the transfer thread is busy");
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            tracing::warn!("XoT accept failed: {e}");
                            break;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A connection thread's work for an accepted TLS connection: the handshake, then
/// every message until the secondary closes or stays idle; then close_notify.
pub fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    config: &Arc<rustls::ServerConfig>,
    stats: &RefreshStats,
    ctx: Context,
) {
    conn::blocking(&stream);
    let mut tls = match accept(config, stream) {
        Ok(t) => t,
        Err(e) => {
            stats.xot_failed.inc();
            tracing::warn!(%peer, "TLS handshake failed: {e}");
            return;
        }
    };
    stats.xot_accepted.inc();
    conn::serve_messages(&mut tls, peer, None, Vec::new(), Transport::Tls, &ctx);
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
}
