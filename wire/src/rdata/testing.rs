//! What the tests of the field kinds share: [`XorShift`], a small deterministic
//! generator, so the random-input tests need no dependency and every run tries the same
//! inputs; [`parse_all`] and [`format_all`], a field kind's text read into wire form and
//! back, every token and byte used.

use super::cursor::{Cursor, Reader, Token};
use super::error::RdataError;

/// Read `tokens` with a field kind's `parse`; every token must be used.
pub(crate) fn parse_all(
    tokens: &[Token<'_>],
    parse: fn(&mut Cursor<'_, '_>, &mut Vec<u8>) -> Result<(), RdataError>,
) -> Result<Vec<u8>, RdataError> {
    let mut c = Cursor::new(tokens);
    let mut out = Vec::new();
    parse(&mut c, &mut out)?;
    assert!(c.is_empty(), "tokens left");
    Ok(out)
}

/// Show `bytes` with a field kind's `format`; every byte must be used.
pub(crate) fn format_all(
    bytes: &[u8],
    format: fn(&mut Reader<'_>, &mut String) -> Result<(), RdataError>,
) -> Result<String, RdataError> {
    let mut r = Reader::new(bytes);
    let mut out = String::new();
    format(&mut r, &mut out)?;
    assert!(r.is_empty(), "bytes left");
    Ok(out)
}

/// A xorshift64 generator (Marsaglia); the seed must not be zero.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
