//! Zone text: master files (RFC 1035 §5) read into records.
//!
//! [`lexer`] splits the text into tokens, [`presentation`] reads names, numbers and the
//! other fields of presentation format, [`rdata`] turns one record's fields into wire
//! RDATA, and [`load`] reads whole files (`$ORIGIN`, `$TTL`, `$INCLUDE`) into a
//! [`load::Sink`], with errors that name the zone, the file and the line.

pub mod lexer;
pub mod load;
pub mod presentation;
pub mod rdata;
