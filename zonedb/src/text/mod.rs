//! Zone text: master files (RFC 1035 §5) read into records.
//!
//! [`lexer`] splits the text into tokens and [`load`] reads whole files (`$ORIGIN`,
//! `$TTL`, `$INCLUDE`) into a [`load::Sink`], each record's RDATA through the record-type
//! table of `shoal_wire::rdata`, with errors that name the zone, the file, the line and
//! the field.

pub mod lexer;
pub mod load;
