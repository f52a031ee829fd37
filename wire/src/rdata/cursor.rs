//! The two readers every field kind uses: [`Cursor`] over the [`Token`]s of one
//! master-file entry's RDATA, and [`Reader`] over wire RDATA.

use super::error::RdataError;

/// One token of a master-file entry, as the lexer gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// The raw text, escapes undecoded; without the quotes for a quoted string.
    pub text: &'a str,
    pub quoted: bool,
}

impl<'a> Token<'a> {
    /// An unquoted token (tests, control commands).
    pub fn plain(text: &'a str) -> Token<'a> {
        Token { text, quoted: false }
    }
}

/// The tokens of one RDATA, read front to back.
pub struct Cursor<'t, 'a> {
    tokens: &'t [Token<'a>],
    at: usize,
}

impl<'t, 'a> Cursor<'t, 'a> {
    pub fn new(tokens: &'t [Token<'a>]) -> Self {
        Cursor { tokens, at: 0 }
    }

    /// The next token; its absence is an error naming `field`.
    pub fn next(&mut self, field: &'static str) -> Result<Token<'a>, RdataError> {
        self.maybe().ok_or_else(|| RdataError::new(field, "missing"))
    }

    /// The next token, if any.
    pub fn maybe(&mut self) -> Option<Token<'a>> {
        let t = *self.tokens.get(self.at)?;
        self.at += 1;
        Some(t)
    }

    /// The next token without taking it.
    pub fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.at).copied()
    }

    /// Every token left (taken).
    pub fn rest(&mut self) -> &'t [Token<'a>] {
        let r = &self.tokens[self.at..];
        self.at = self.tokens.len();
        r
    }

    /// The texts of every token left, concatenated (base64 and hex may be split by
    /// spaces); an error naming `field` when nothing is left.
    pub fn rest_joined(&mut self, field: &'static str) -> Result<String, RdataError> {
        if self.is_empty() {
            return Err(RdataError::new(field, "missing"));
        }
        Ok(self.rest().iter().map(|t| t.text).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.at >= self.tokens.len()
    }
}

/// Wire RDATA read front to back (for showing it as text).
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// The next `n` bytes; too few is an error naming `field`.
    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], RdataError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| RdataError::new(field, "RDATA too short"))?;
        let b = &self.bytes[self.at..end];
        self.at = end;
        Ok(b)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, RdataError> {
        Ok(self.bytes(1, field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, RdataError> {
        let b = self.bytes(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, RdataError> {
        let b = self.bytes(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An uncompressed domain name (RDATA stored by this server never holds pointers).
    pub fn name(&mut self, field: &'static str) -> Result<&'a [u8], RdataError> {
        let len = crate::name::uncompressed_len(&self.bytes[self.at..])
            .ok_or_else(|| RdataError::new(field, "compressed, invalid or cut short name"))?;
        if len > crate::name::MAX_NAME_LEN {
            return Err(RdataError::new(field, "name longer than 255 bytes"));
        }
        self.bytes(len, field)
    }

    /// The byte `n` places before the next one (a field that depends on an earlier one).
    pub fn peek_back(&self, n: usize) -> Option<u8> {
        self.at.checked_sub(n).map(|i| self.bytes[i])
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let r = &self.bytes[self.at..];
        self.at = self.bytes.len();
        r
    }

    pub fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }
}
