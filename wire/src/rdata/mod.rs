//! Record types and their RDATA: one descriptor per type ([`table`]), and RDATA read
//! from presentation format into wire form ([`mod@parse`]) and shown from wire form in
//! presentation format ([`mod@format`]), both driven by the descriptor's list of fields
//! ([`field`]). The same table says which names in an RDATA are compressed on output,
//! which are lowercased in canonical form ([`mod@canonical`] writes that form), and which
//! name's addresses go in the additional section. Presentation primitives (names,
//! character-strings, TTLs, numbers, encodings) are in [`text`]; the field kinds with
//! a grammar of their own have a module each ([`svcb`], [`loc`], [`apl`]). Fields read
//! tokens through a [`cursor::Cursor`] and wire bytes through a [`cursor::Reader`], and
//! report an [`error::RdataError`]. Their random-input tests share a generator
//! (`testing`).
//!
//! This is the slow path (zone files, control commands, logs): it allocates freely.
//! The query path reads only [`table`]'s per-type facts.

pub mod apl;
pub mod canonical;
pub mod cursor;
pub mod error;
pub mod field;
pub mod format;
pub mod loc;
pub mod parse;
pub mod svcb;
pub mod table;
#[cfg(test)]
pub(crate) mod testing;
pub mod text;

pub use canonical::canonical;
pub use cursor::{Cursor, Reader, Token};
pub use error::RdataError;
pub use format::format;
pub use parse::parse;
pub use table::{compressed_names, descriptor, rtype_from_text, rtype_name, Descriptor, Kind, TYPES};
