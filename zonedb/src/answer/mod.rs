//! Answering: query bytes and the catalog in, response bytes and an outcome out.
//!
//! [`prepare()`] parses a query once and finds its zone; [`answer_prepared`] (or
//! [`answer`], both steps at once) writes the response ([`message`]: header, EDNS,
//! CHAOS, errors; [`resolve`]: the zone's part, RFC 1034 §4.3.2) after [`lookup`] has
//! placed the name in the zone, and with DO [`proof`] adds the NSEC or NSEC3 records that
//! prove a denial. Pure and allocation-free: no sockets, no clock, no
//! counters; what it reads of a zone is the store's compiled blocks and nodes.

pub mod lookup;
pub mod message;
pub mod prepare;
pub mod proof;
pub mod resolve;

pub use message::{answer, answer_prepared, answer_record_by_record, Options, Outcome, Response, DEFAULT_UDP_PAYLOAD};
pub use prepare::{prepare, Prepared};
pub use resolve::AnswerKind;
