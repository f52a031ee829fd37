//! [`Server`]: Shoal or a reference (Knot DNS, NSD) serving the fixture zones
//! ([`zone::fixtures`]) under [`IDENTITY`], behind one type, for tests that send the
//! same queries to either: the differential test asks all three, and the serve and
//! malformed tests can be pointed at a reference to check their own assertions.
//!
//! Shoal is started through [`Shoal::builder`], the references through
//! [`Peer::reference`]; this module only chooses.

use std::ops::{Deref, DerefMut};

use super::daemon::Daemon;
use super::peers::{self, Peer, PeerKind};
use super::shoal::{Shoal, ShoalZone};
use super::{zone, IDENTITY};

/// A running server of the fixture zones; stopped on drop.
pub enum Server {
    Shoal(Shoal),
    Peer(Peer),
}

impl Server {
    /// Shoal serving the fixtures, ready (every fixture zone answers SOA over UDP and TCP).
    pub fn shoal() -> Server {
        let zones = zone::fixtures().into_iter().map(|f| ShoalZone::primary_file(f.name, f.file));
        Server::Shoal(Shoal::builder("shoal").identity(IDENTITY).fixture_files().zones(zones).start())
    }

    /// A reference serving the fixtures, ready.
    pub fn peer(kind: PeerKind) -> Server {
        let mut peer = Peer::reference(kind);
        peer.start();
        Server::Peer(peer)
    }

    /// The server `test` runs against: Shoal, or the reference named by the environment
    /// variable `var` (`knot` or `nsd`). `None` when that reference is missing and
    /// `SHOAL_ALLOW_NO_PEERS=1` (see [`peers::available`]).
    pub fn chosen_by(var: &str, test: &str) -> Option<Server> {
        let kind = match std::env::var(var).as_deref() {
            Ok("knot") => PeerKind::Knot,
            Ok("nsd") => PeerKind::Nsd,
            _ => return Some(Server::shoal()),
        };
        peers::available(test, &[kind]).then(|| Server::peer(kind))
    }

    pub fn is_shoal(&self) -> bool {
        matches!(self, Server::Shoal(_))
    }
}

impl Deref for Server {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        match self {
            Server::Shoal(s) => s,
            Server::Peer(p) => p,
        }
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Daemon {
        match self {
            Server::Shoal(s) => s,
            Server::Peer(p) => p,
        }
    }
}
