//! Domain names in lowercase, uncompressed wire form.
//!
//! Every name Shoal compares is kept lowercase (as hickory's `LowerName`), so equality
//! and hashing are plain byte operations. Two forms exist:
//!
//! - [`NameBuf`]: a fixed 255-byte buffer filled while parsing a query; no allocation.
//! - [`Name`]: an owned boxed name for zone data, built on the slow path.
//!
//! [`parse_name`] follows compression pointers strictly backwards with a bounded number
//! of jumps, rejects labels that are not plain labels (RFC 6891 §5 retires the extended
//! label types), and rejects names over 255 bytes (RFC 1035 §3.1).

use core::fmt;

/// Maximum length of a name in wire form, including the root label (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;
/// Maximum length of one label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Maximum number of labels a name can have (127 one-byte labels plus the root).
pub const MAX_LABELS: usize = 128;

/// Why a name could not be read. Zero-size on purpose: the hot path only needs to
/// know that it failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NameError;

/// A name parsed out of a message into a fixed buffer, lowercased.
#[derive(Clone)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Default for NameBuf {
    fn default() -> Self {
        NameBuf { bytes: [0; MAX_NAME_LEN], len: 0 }
    }
}

impl NameBuf {
    /// The name in lowercase wire form, root label included.
    pub fn as_wire(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// Replace the content with `wire` (which must be a valid wire name).
    pub fn set(&mut self, wire: &[u8]) -> Result<(), NameError> {
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError);
        }
        self.bytes[..wire.len()].copy_from_slice(wire);
        self.len = wire.len() as u8;
        Ok(())
    }

    /// Build `prefix` (a sequence of labels without the root) followed by `suffix` (a
    /// complete wire name). Fails when the result would exceed 255 bytes.
    pub fn set_concat(&mut self, prefix: &[u8], suffix: &[u8]) -> Result<(), NameError> {
        let total = prefix.len() + suffix.len();
        if total > MAX_NAME_LEN {
            return Err(NameError);
        }
        self.bytes[..prefix.len()].copy_from_slice(prefix);
        self.bytes[prefix.len()..total].copy_from_slice(suffix);
        self.len = total as u8;
        Ok(())
    }

    /// Lowercase the name in place (a name copied from RDATA keeps its case).
    pub fn make_lowercase(&mut self) {
        lowercase_in_place(&mut self.bytes[..self.len as usize]);
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Display(self.as_wire()))
    }
}

/// An owned name in lowercase wire form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Box<[u8]>);

impl Name {
    /// The root name.
    pub fn root() -> Name {
        Name(Box::new([0u8]))
    }

    /// Wrap wire bytes, lowercasing them. The bytes must be a valid uncompressed name.
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        check_wire(wire)?;
        let mut v = wire.to_vec();
        lowercase_in_place(&mut v);
        Ok(Name(v.into_boxed_slice()))
    }

    /// The lowercase wire bytes.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        label_count(&self.0)
    }

    /// Whether this name is `other` or below it.
    pub fn is_subdomain_of(&self, other: &[u8]) -> bool {
        is_subdomain(&self.0, other)
    }
}

impl core::borrow::Borrow<[u8]> for Name {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Display(&self.0))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Display(&self.0))
    }
}

/// Presentation format of a wire name, for logs and errors.
pub struct Display<'a>(pub &'a [u8]);

impl fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.0;
        if w.len() <= 1 {
            return f.write_str(".");
        }
        let mut i = 0;
        while i < w.len() && w[i] != 0 {
            let l = w[i] as usize;
            for &b in &w[i + 1..(i + 1 + l).min(w.len())] {
                match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => write!(f, "\\{}", b as char)?,
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{:03}", b)?,
                }
            }
            f.write_str(".")?;
            i += 1 + l;
        }
        Ok(())
    }
}

/// The length of the uncompressed name at the start of `b`, root label included; `None`
/// when `b` does not start with one (a compression pointer, a label over 63 bytes, or
/// too few bytes).
pub fn uncompressed_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let l = usize::from(*b.get(i)?);
        if l > MAX_LABEL_LEN {
            return None;
        }
        i += 1 + l;
        if l == 0 {
            return Some(i);
        }
    }
}

/// RFC 4034 §6.1 canonical order of two valid wire names: label by label from the
/// root, each label compared as lowercase bytes, a name before its descendants.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let (la, lb) = (label_starts(a), label_starts(b));
    for (&x, &y) in la.iter().rev().zip(lb.iter().rev()) {
        let (x, y) = (&a[x + 1..x + 1 + usize::from(a[x])], &b[y + 1..y + 1 + usize::from(b[y])]);
        let ord = x.iter().map(u8::to_ascii_lowercase).cmp(y.iter().map(u8::to_ascii_lowercase));
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    la.len().cmp(&lb.len())
}

/// Where each label (not the root) of a valid wire name starts.
fn label_starts(wire: &[u8]) -> Vec<usize> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < wire.len() && wire[i] != 0 {
        v.push(i);
        i += 1 + usize::from(wire[i]);
    }
    v
}

/// Check that `wire` is exactly one valid uncompressed name.
pub fn check_wire(wire: &[u8]) -> Result<(), NameError> {
    if wire.is_empty() || wire.len() > MAX_NAME_LEN {
        return Err(NameError);
    }
    let mut i = 0;
    loop {
        let l = *wire.get(i).ok_or(NameError)? as usize;
        if l == 0 {
            return if i + 1 == wire.len() { Ok(()) } else { Err(NameError) };
        }
        if l > MAX_LABEL_LEN {
            return Err(NameError);
        }
        i += 1 + l;
    }
}

/// Lowercase ASCII letters of a wire name in place (length bytes are < 64 and so are
/// never in `A..=Z`).
pub fn lowercase_in_place(wire: &mut [u8]) {
    for b in wire {
        b.make_ascii_lowercase();
    }
}

/// Number of labels in a valid wire name, not counting the root.
pub fn label_count(wire: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < wire.len() && wire[i] != 0 {
        n += 1;
        i += 1 + wire[i] as usize;
    }
    n
}

/// Whether `name` equals `apex` or lies below it (both lowercase wire names).
pub fn is_subdomain(name: &[u8], apex: &[u8]) -> bool {
    if name.len() < apex.len() {
        return false;
    }
    let start = name.len() - apex.len();
    if name[start..] != *apex {
        return false;
    }
    // The suffix must start on a label boundary of `name`.
    let mut i = 0;
    while i < start {
        i += 1 + name[i] as usize;
    }
    i == start
}

/// The offset of the parent of the name starting at `wire[0]`, or `None` at the root.
pub fn parent_offset(wire: &[u8]) -> Option<usize> {
    match wire.first() {
        Some(0) | None => None,
        Some(&l) => Some(1 + l as usize),
    }
}

/// Read a possibly compressed name at `pos` of `msg` into `out`, lowercased.
/// Returns the offset just past the name's encoding at `pos` (after the first pointer,
/// if any).
pub fn parse_name(msg: &[u8], mut pos: usize, out: &mut NameBuf) -> Result<usize, NameError> {
    let mut len = 0usize;
    let mut end = None;
    let mut jumps = 0;
    loop {
        let l = *msg.get(pos).ok_or(NameError)?;
        match l & 0xc0 {
            0x00 => {
                let l = l as usize;
                if len + 1 + l > MAX_NAME_LEN {
                    return Err(NameError);
                }
                let label = msg.get(pos..pos + 1 + l).ok_or(NameError)?;
                out.bytes[len..len + 1 + l].copy_from_slice(label);
                lowercase_in_place(&mut out.bytes[len + 1..len + 1 + l]);
                len += 1 + l;
                pos += 1 + l;
                if l == 0 {
                    out.len = len as u8;
                    return Ok(end.unwrap_or(pos));
                }
            }
            0xc0 => {
                let lo = *msg.get(pos + 1).ok_or(NameError)? as usize;
                let target = ((l as usize & 0x3f) << 8) | lo;
                // Pointers must go strictly backwards: this alone rules out loops, and
                // the jump bound keeps the work per name small.
                if target >= pos || jumps >= MAX_LABELS {
                    return Err(NameError);
                }
                jumps += 1;
                if end.is_none() {
                    end = Some(pos + 2);
                }
                pos = target;
            }
            _ => return Err(NameError),
        }
    }
}

/// Skip a possibly compressed name at `pos` without copying it. Returns the offset
/// just past its encoding. Pointers are validated as in [`parse_name`].
pub fn skip_name(msg: &[u8], pos: usize) -> Result<usize, NameError> {
    let mut scratch = NameBuf::default();
    parse_name(msg, pos, &mut scratch)
}

/// Convert a presentation-format absolute name (`www.example.com.`) to wire form.
/// Only for tests and configuration; the zone loader has its own full parser.
pub fn from_ascii(text: &str) -> Result<Name, NameError> {
    if text == "." {
        return Ok(Name::root());
    }
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut v = Vec::with_capacity(text.len() + 2);
    for label in text.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(NameError);
        }
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    Name::from_wire(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_follows_backward_pointer_and_lowercases() {
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\x03WWW\x07Example\x03com\x00");
        let p = msg.len();
        msg.extend_from_slice(b"\x04mail\xc0\x10"); // points at "Example"
        let mut n = NameBuf::default();
        let end = parse_name(&msg, p, &mut n).unwrap();
        assert_eq!(end, msg.len());
        assert_eq!(n.as_wire(), b"\x04mail\x07example\x03com\x00");
    }

    #[test]
    fn pointer_loop_is_rejected() {
        let msg = b"\0\0\0\0\0\0\0\0\0\0\0\0\xc0\x0c";
        assert!(parse_name(msg, 12, &mut NameBuf::default()).is_err());
        let fwd = b"\0\0\0\0\0\0\0\0\0\0\0\0\xc0\x0e\x00";
        assert!(parse_name(fwd, 12, &mut NameBuf::default()).is_err());
    }

    #[test]
    fn name_over_255_bytes_is_rejected() {
        let mut msg = vec![0u8; 12];
        for _ in 0..5 {
            msg.push(63);
            msg.extend_from_slice(&[b'a'; 63]);
        }
        msg.push(0);
        assert!(parse_name(&msg, 12, &mut NameBuf::default()).is_err());
    }

    #[test]
    fn extended_label_types_are_rejected() {
        let msg = b"\0\0\0\0\0\0\0\0\0\0\0\0\x41\x00";
        assert!(parse_name(msg, 12, &mut NameBuf::default()).is_err());
    }

    #[test]
    fn subdomain_respects_label_boundaries() {
        let apex = from_ascii("example.com.").unwrap();
        let a = from_ascii("www.example.com.").unwrap();
        let b = from_ascii("wwwexample.com.").unwrap();
        assert!(a.is_subdomain_of(apex.as_wire()));
        assert!(apex.is_subdomain_of(apex.as_wire()));
        assert!(!b.is_subdomain_of(apex.as_wire()));
        assert!(a.is_subdomain_of(&[0]));
    }

    #[test]
    fn display_escapes_special_bytes() {
        let n = Name::from_wire(b"\x03a.b\x02\x00z\x00").unwrap();
        assert_eq!(n.to_string(), "a\\.b.\\000z.");
    }
}
