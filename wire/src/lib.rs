//! # shoal-wire: the hot-path DNS codec
//!
//! This crate owns the bytes of a DNS message on the query path:
//!
//! - [`name`]: domain names in lowercase, uncompressed wire form, parsed out of a
//!   message with compression pointers followed and bounded;
//! - [`request`]: a borrowed view of a query (header, the one question, the OPT record)
//!   that is parsed once and never allocates;
//! - [`edns`]: the parts of EDNS(0) (RFC 6891) a server acts on;
//! - [`message`]: the slow-path message layer (a header view and a message builder)
//!   for the transfer side's queries, NOTIFYs and replies;
//! - [`serial`]: SOA serials compared by RFC 1982 arithmetic;
//! - [`rdata`]: the record-type table, and RDATA read from presentation format and
//!   shown as text (the slow path: zone files, control commands, logs);
//! - [`writer`]: a response writer that encodes into a caller's buffer with name
//!   compression and all-or-nothing writes of records, so a response that does not fit
//!   is truncated at a record boundary (RFC 2181 §9).
//!
//! What it never does: allocate, know about zones, or use hickory types. Errors on the
//! hot path are small `Copy` values; rich errors live at the edges (zone loading,
//! configuration).
//!
//! ## Limitations
//!
//! - A request holds one question (QDCOUNT 1); anything else is FORMERR.
//! - EDNS options other than NSID are read past, not acted on (no cookies, no
//!   EDNS EXPIRE, no client subnet); only EDNS version 0 is answered.
//! - Names are compressed against the question and earlier names of a response only
//!   for the types whose RDATA RFC 3597 §4 allows to be compressed.

#![deny(unsafe_code)]

pub mod edns;
pub mod message;
pub mod name;
pub mod rdata;
pub mod request;
pub mod serial;
pub mod types;
pub mod writer;

pub use edns::Edns;
pub use name::{Name, NameBuf};
pub use request::{ParseError, Request};
pub use serial::Serial;
pub use types::{Class, Opcode, Rcode, Rtype, HEADER_LEN};
pub use writer::{ResponseWriter, WriteError};
