//! # shoal-zonedb: zones, from master file to answer
//!
//! Five rooms, each depending only on those listed before it (and on `shoal-wire`):
//!
//! - [`text`]: master files read into records, with errors that name zone, file and line;
//! - [`store`]: the compiled zone. Records are compiled as they stream in (from a file,
//!   a transfer, a rebuild) into an immutable [`Snapshot`]: packed nodes in one arena
//!   with a hash index, empty non-terminals and node flags (cut, glue, wildcard child,
//!   DNAME) worked out once, and each RRset's answer, each referral and the negative
//!   SOA precompiled as response bytes. The [`Catalog`] maps apexes to snapshots;
//! - [`mod@answer`]: the pure `query bytes + catalog → response bytes + outcome` function;
//! - [`change`]: new versions from old ones (IXFR applied, a zone received whole,
//!   sharing what did not change), transfer streams in and out, the IXFR journal and
//!   the state copy;
//! - [`audit`]: findings about a compiled zone: its ZONEMD digest verified (RFC 8976),
//!   and the DNSSEC audit (unsigned RRsets, expiring signatures, broken NSEC and NSEC3
//!   chains).
//!
//! [`error`] holds [`LoadError`], which text and store both report.
//!
//! This crate knows nothing of sockets, threads, files beyond zone files and its own
//! state files, counters, or time.
//!
//! ## Limitations
//!
//! - Signed zones are served as the signer made them: Shoal neither signs nor
//!   validates. NSEC3 chains of more than 150 iterations are not hashed per query
//!   (RFC 9276): their denials carry the apex's NSEC3 only.
//! - Master files: types without a text form in the record-type table (NULL, NXT, A6,
//!   and types Shoal does not know by name) are read only in the RFC 3597 `\#` form.
//! - CNAME chains are followed within the query's zone only.
//! - No DNS UPDATE (RFC 2136).

#![deny(unsafe_code)]

pub mod answer;
pub mod audit;
pub mod change;
pub mod error;
pub mod store;
pub mod text;

pub use answer::{answer, answer_prepared, prepare, AnswerKind, Options, Outcome, Prepared, Response};
pub use error::{LoadError, LoadErrorKind};
pub use store::catalog::{Catalog, CatalogEntry, ZoneState};
pub use store::held::Held;
pub use store::publisher::{Publisher, Reclaimed};
pub use store::snapshot::Snapshot;

use shoal_wire::Name;
use std::path::Path;

/// Load and compile the zone `apex` from the master file at `path`.
/// The records are compiled as they are read ([`store::build`]), never held as a list.
pub fn load_zone(apex: &Name, path: &Path) -> Result<Snapshot, Vec<LoadError>> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len() as usize);
    text::load::load_file_into(apex, path, builder_for(apex, size))?.finish()
}

/// Load and compile the zone `apex` from text (tests, the bundled example zone).
pub fn load_zone_str(apex: &Name, text: &str, path: &Path) -> Result<Snapshot, Vec<LoadError>> {
    text::load::load_str_into(apex, text, path, builder_for(apex, text.len()))?.finish()
}

/// A builder sized for a master file of `size` bytes: a record takes about three
/// times its text packed with its answer (room for four is reserved: an oversized
/// arena costs address space, not memory, and one that must grow is copied); the
/// index is sized for a line of about 40 bytes per owner.
fn builder_for(apex: &Name, size: usize) -> store::build::Builder {
    store::build::Builder::new(apex, size / 40, size * 4 + 4096)
}
