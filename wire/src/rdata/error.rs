//! [`RdataError`]: why RDATA could not be read from text or shown as text, naming the
//! field.

use std::fmt;

/// Why RDATA could not be read from text, or shown from wire form: the field (as the
/// type's RFC names it) and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdataError {
    /// The field, e.g. `alpn`, `target`, `digest`; empty for the RDATA as a whole.
    pub field: &'static str,
    pub reason: String,
}

impl RdataError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> RdataError {
        RdataError { field, reason: reason.into() }
    }
}

impl fmt::Display for RdataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for RdataError {}
