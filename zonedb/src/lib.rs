//! # shoal-zonedb: zones, from master file to answer
//!
//! - [`load`] reads RFC 1035 master files ([`lexer`], [`text`], [`rdata`]) into
//!   records, with errors that name zone, file and line;
//! - [`build`] compiles records as they stream in (from a file, a transfer, a rebuild)
//!   into an immutable [`Snapshot`] ([`snapshot`]): packed nodes ([`node`]) in one arena
//!   with a hash index ([`nodemap`]), empty non-terminals and node flags (cut, glue,
//!   wildcard child, DNAME) precomputed;
//! - [`apply`] and [`overlay`] derive a new version from the held one by an IXFR, and
//!   [`incoming`] by a zone received whole, sharing what did not change; [`xfr_in`]
//!   parses transfer streams and [`xfr`] writes them; [`persist`] is the state copy;
//! - [`block`] holds response sections precompiled per RRset, cut and zone, copied into
//!   responses with a pointer fix-up instead of being encoded per query;
//! - [`lookup`] places a name in a snapshot (exact, wildcard, NXDOMAIN, referral, DNAME);
//! - [`answer`] is the pure `query bytes + catalog → response bytes` function;
//! - [`catalog`] maps apexes to snapshots; the engine publishes it through `ArcSwap`;
//! - [`counters`] counts each zone's queries, one cache line per answering thread.
//!
//! This crate knows nothing of sockets, threads, files beyond zone files, or time.

pub mod answer;
pub mod apply;
pub mod block;
pub mod build;
pub mod catalog;
pub mod counters;
pub mod diff;
pub mod error;
pub mod incoming;
pub mod journal;
pub mod lexer;
pub mod load;
pub mod lookup;
pub mod namehash;
pub mod nameindex;
pub mod node;
pub mod nodemap;
pub mod overlay;
pub mod persist;
pub mod rdata;
pub mod snapshot;
pub mod text;
pub mod warm;
pub mod xfr;
pub mod xfr_in;

pub use answer::{answer, Options, Outcome, Response};
pub use catalog::{Catalog, CatalogEntry, ZoneState};
pub use counters::QueryCounters;
pub use error::{LoadError, LoadErrorKind};
pub use snapshot::Snapshot;

use shoal_wire::Name;
use std::path::Path;

/// Load and compile the zone `apex` from the master file at `path`.
/// The records are compiled as they are read ([`build`]), never held as a list.
pub fn load_zone(apex: &Name, path: &Path) -> Result<Snapshot, Vec<LoadError>> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len() as usize);
    load::load_file_into(apex, path, builder_for(apex, size))?.finish()
}

/// Load and compile the zone `apex` from text (tests, the bundled example zone).
pub fn load_zone_str(apex: &Name, text: &str, path: &Path) -> Result<Snapshot, Vec<LoadError>> {
    load::load_str_into(apex, text, path, builder_for(apex, text.len()))?.finish()
}

/// A builder sized for a master file of `size` bytes: a record takes about three
/// times its text packed with its answer (room for four is reserved: an oversized
/// arena costs address space, not memory, and one that must grow is copied); the
/// index is sized for a line of about 40 bytes per owner.
fn builder_for(apex: &Name, size: usize) -> build::Builder {
    build::Builder::new(apex, size / 40, size * 4 + 4096)
}
