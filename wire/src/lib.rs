//! # shoal-wire: the hot-path DNS codec
//!
//! This crate owns the bytes of a DNS message on the query path:
//!
//! - [`name`]: domain names in lowercase, uncompressed wire form, parsed out of a
//!   message with compression pointers followed and bounded;
//! - [`request`]: a borrowed view of a query (header, the one question, the OPT record)
//!   that is parsed once and never allocates;
//! - [`edns`]: the parts of EDNS(0) (RFC 6891) a server acts on;
//! - [`writer`]: a response writer that encodes into a caller's buffer with name
//!   compression and all-or-nothing writes of records, so a response that does not fit
//!   is truncated at a record boundary (RFC 2181 §9).
//!
//! What it never does: allocate, know about zones, or use hickory types. Errors on the
//! hot path are small `Copy` values; rich errors live at the edges (zone loading,
//! configuration).

pub mod edns;
pub mod name;
pub mod request;
pub mod types;
pub mod writer;

pub use edns::Edns;
pub use name::{Name, NameBuf};
pub use request::{ParseError, Request};
pub use types::{Class, Opcode, Rcode, Rtype};
pub use writer::{ResponseWriter, WriteError};

/// Size of the fixed DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
