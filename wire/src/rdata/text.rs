//! Presentation-format primitives (RFC 1035 §5.1 and the type RFCs), both ways: domain
//! names (relative names completed with the origin, `@`, escapes), character-strings,
//! TTLs with units, numbers, hex, base64, base32hex, RRSIG times and type bitmaps, read
//! into wire form and written back as text.
//!
//! Errors are short static reasons; the field dispatcher adds the field's name and the
//! loader the zone, file and line.

use crate::name::{MAX_LABEL_LEN, MAX_NAME_LEN};
use data_encoding::{BASE32HEX_NOPAD, BASE64};
use std::fmt::Write as _;

/// A field could not be decoded; the text says why.
pub type FieldResult<T> = Result<T, &'static str>;

/// Decode the escapes of one token into bytes (`\X` → X, `\DDD` → byte DDD).
pub fn unescape(text: &str, out: &mut Vec<u8>) -> FieldResult<()> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
                let v = (b[i + 1] - b'0') as u32 * 100 + (b[i + 2] - b'0') as u32 * 10 + (b[i + 3] - b'0') as u32;
                if v > 255 {
                    return Err("escape \\DDD above 255");
                }
                out.push(v as u8);
                i += 4;
            } else if i + 1 < b.len() {
                if b[i + 1].is_ascii_digit() {
                    return Err("escape \\DDD needs three digits");
                }
                out.push(b[i + 1]);
                i += 2;
            } else {
                return Err("dangling backslash");
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(())
}

/// Append the wire form of the name `text` to `out`, completing a relative name with
/// `origin` (wire form). Letters keep their case; callers lowercase owners.
pub fn name_into(text: &str, origin: &[u8], out: &mut Vec<u8>) -> FieldResult<()> {
    let start = out.len();
    if text == "@" {
        out.extend_from_slice(origin);
        return Ok(());
    }
    if text == "." {
        out.push(0);
        return Ok(());
    }
    let b = text.as_bytes();
    let mut i = 0;
    let mut absolute = false;
    let mut label = Vec::with_capacity(64);
    while i <= b.len() {
        // Collect one label up to an unescaped dot.
        label.clear();
        let mut j = i;
        while j < b.len() && b[j] != b'.' {
            if b[j] == b'\\' {
                j += 1;
                if j < b.len() && b[j].is_ascii_digit() {
                    j += 3;
                } else {
                    j += 1;
                }
            } else {
                j += 1;
            }
        }
        let j = j.min(b.len());
        unescape(&text[i..j], &mut label)?;
        if label.is_empty() {
            if j == b.len() && i == b.len() && i > 0 {
                absolute = true;
                break;
            }
            return Err("empty label in name");
        }
        if label.len() > MAX_LABEL_LEN {
            return Err("label longer than 63 bytes");
        }
        out.push(label.len() as u8);
        out.extend_from_slice(&label);
        if j == b.len() {
            break;
        }
        i = j + 1;
        if i == b.len() {
            absolute = true;
            break;
        }
    }
    if absolute {
        out.push(0);
    } else {
        out.extend_from_slice(origin);
    }
    if out.len() - start > MAX_NAME_LEN {
        return Err("name longer than 255 bytes");
    }
    Ok(())
}

/// A name as an owned vector (see [`name_into`]).
pub fn name(text: &str, origin: &[u8]) -> FieldResult<Vec<u8>> {
    let mut v = Vec::with_capacity(text.len() + origin.len() + 2);
    name_into(text, origin, &mut v)?;
    Ok(v)
}

/// Append one `<character-string>`: a length byte and up to 255 bytes.
pub fn char_string_into(text: &str, out: &mut Vec<u8>) -> FieldResult<()> {
    let at = out.len();
    out.push(0);
    unescape(text, out)?;
    let len = out.len() - at - 1;
    if len > 255 {
        return Err("character-string longer than 255 bytes");
    }
    out[at] = len as u8;
    Ok(())
}

/// A TTL or SOA timer: seconds, or BIND units (`1h30m`, `2w`, case-insensitive).
pub fn ttl(text: &str) -> FieldResult<u32> {
    if text.is_empty() {
        return Err("empty TTL");
    }
    let mut total: u64 = 0;
    let mut cur: u64 = 0;
    let mut digits = false;
    for c in text.bytes() {
        if c.is_ascii_digit() {
            cur = cur * 10 + (c - b'0') as u64;
            digits = true;
            if cur > u32::MAX as u64 {
                return Err("TTL out of range");
            }
            continue;
        }
        let mult = match c.to_ascii_lowercase() {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86400,
            b'w' => 604800,
            _ => return Err("bad TTL"),
        };
        if !digits {
            return Err("bad TTL");
        }
        total += cur * mult;
        cur = 0;
        digits = false;
    }
    total += cur;
    if total > u32::MAX as u64 {
        return Err("TTL out of range");
    }
    Ok(total as u32)
}

/// Whether a token looks like a TTL (starts with a digit).
pub fn is_ttl(text: &str) -> bool {
    text.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

pub fn u8_field(text: &str) -> FieldResult<u8> {
    text.parse().map_err(|_| "expected a number 0-255")
}

pub fn u16_field(text: &str) -> FieldResult<u16> {
    text.parse().map_err(|_| "expected a number 0-65535")
}

pub fn u32_field(text: &str) -> FieldResult<u32> {
    text.parse().map_err(|_| "expected a number 0-4294967295")
}

/// Hex digits (possibly split over tokens by the caller) into bytes.
pub fn hex_into(text: &str, out: &mut Vec<u8>) -> FieldResult<()> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err("odd number of hex digits");
    }
    for pair in b.chunks(2) {
        let h = (pair[0] as char).to_digit(16).ok_or("bad hex digit")?;
        let l = (pair[1] as char).to_digit(16).ok_or("bad hex digit")?;
        out.push((h * 16 + l) as u8);
    }
    Ok(())
}

/// Append an RFC 4034 §4.1.2 type bitmap for `types`.
pub fn type_bitmap_into(types: &mut [u16], out: &mut Vec<u8>) {
    types.sort_unstable();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut max = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let lo = (types[i] & 0xff) as usize;
            bits[lo / 8] |= 0x80 >> (lo % 8);
            max = max.max(lo / 8 + 1);
            i += 1;
        }
        out.push(window);
        out.push(max as u8);
        out.extend_from_slice(&bits[..max]);
    }
}

/// Base64 (RFC 4648), possibly split by the caller's joining of tokens.
pub fn base64_into(text: &str, out: &mut Vec<u8>) -> FieldResult<()> {
    let v = BASE64.decode(text.as_bytes()).map_err(|_| "bad base64")?;
    out.extend_from_slice(&v);
    Ok(())
}

/// Base32hex without padding (RFC 4648 §7, as NSEC3 writes hashed names), any case.
pub fn base32hex(text: &str) -> FieldResult<Vec<u8>> {
    BASE32HEX_NOPAD.decode(text.to_ascii_uppercase().as_bytes()).map_err(|_| "bad base32hex")
}

/// An RRSIG time: `YYYYMMDDHHmmSS` or seconds since the epoch (RFC 4034 §3.2), taken
/// modulo 2^32 (serial-number arithmetic, RFC 4034 §3.1.5).
pub fn sig_time(text: &str) -> FieldResult<u32> {
    if text.len() == 14 && text.bytes().all(|c| c.is_ascii_digit()) {
        let n = |a: usize, b: usize| text[a..b].parse::<i64>().unwrap_or(0);
        let (y, mo, d, h, mi, se) = (n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12), n(12, 14));
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return Err("bad YYYYMMDDHHmmSS time");
        }
        let t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
        return Ok(t.rem_euclid(1 << 32) as u32);
    }
    u32_field(text)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day count since 1970-01-01: (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Write a domain name in presentation form, absolute, with `\.`, `\\` and `\DDD`
/// escapes where a label needs them.
pub fn push_name(out: &mut String, wire: &[u8]) {
    let _ = write!(out, "{}", crate::name::Display(wire));
}

/// Write a character-string in quotes, `"` and `\` escaped, bytes outside printable
/// ASCII as `\DDD`.
pub fn push_char_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    push_escaped(out, bytes);
    out.push('"');
}

/// Write bytes as the inside of a quoted string.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

/// Write bytes as uppercase hex (as Knot writes digests and fingerprints).
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
}

/// Write bytes as base64.
pub fn push_base64(out: &mut String, bytes: &[u8]) {
    out.push_str(&BASE64.encode(bytes));
}

/// Write bytes as base32hex without padding, lowercase (NSEC3 hashed owner names, as
/// Knot writes them).
pub fn push_base32hex(out: &mut String, bytes: &[u8]) {
    out.push_str(&BASE32HEX_NOPAD.encode(bytes).to_ascii_lowercase());
}

/// Write an RRSIG time as `YYYYMMDDHHmmSS`.
pub fn push_sig_time(out: &mut String, t: u32) {
    let t = i64::from(t);
    let (y, m, d) = civil_from_days(t.div_euclid(86400));
    let s = t.rem_euclid(86400);
    let _ = write!(out, "{y:04}{m:02}{d:02}{:02}{:02}{:02}", s / 3600, s / 60 % 60, s % 60);
}

/// The types of an RFC 4034 §4.1.2 type bitmap, in order.
pub fn bitmap_types(mut b: &[u8]) -> FieldResult<Vec<u16>> {
    let mut types = Vec::new();
    let mut last_window = None;
    while !b.is_empty() {
        if b.len() < 2 {
            return Err("truncated type bitmap");
        }
        let (window, len) = (b[0], usize::from(b[1]));
        if len == 0 || len > 32 || b.len() < 2 + len || last_window.is_some_and(|w| w >= window) {
            return Err("bad type bitmap");
        }
        last_window = Some(window);
        for (i, &byte) in b[2..2 + len].iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    types.push(u16::from(window) << 8 | (i * 8 + bit) as u16);
                }
            }
        }
        b = &b[2 + len..];
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &[u8] = b"\x07example\x03com\x00";

    #[test]
    fn names_relative_absolute_at_and_escapes() {
        assert_eq!(name("www", ORIGIN).unwrap(), b"\x03www\x07example\x03com\x00");
        assert_eq!(name("@", ORIGIN).unwrap(), ORIGIN);
        assert_eq!(name("a.b.", ORIGIN).unwrap(), b"\x01a\x01b\x00");
        assert_eq!(name(".", ORIGIN).unwrap(), b"\x00");
        assert_eq!(name("a\\.b.", ORIGIN).unwrap(), b"\x03a.b\x00");
        assert_eq!(name("\\065x.", ORIGIN).unwrap(), b"\x02Ax\x00");
        assert!(name("a..b", ORIGIN).is_err());
        assert!(name(&"a".repeat(64), ORIGIN).is_err());
    }

    #[test]
    fn ttl_units() {
        assert_eq!(ttl("3600").unwrap(), 3600);
        assert_eq!(ttl("1h30M").unwrap(), 5400);
        assert_eq!(ttl("1w").unwrap(), 604800);
        assert!(ttl("h").is_err());
        assert!(ttl("99999999999").is_err());
    }

    #[test]
    fn rrsig_times_both_ways() {
        assert_eq!(sig_time("20240101000000").unwrap(), 1704067200);
        assert_eq!(sig_time("1704067200").unwrap(), 1704067200);
        assert!(sig_time("20241301000000").is_err());
        let mut s = String::new();
        push_sig_time(&mut s, 1704067200);
        assert_eq!(s, "20240101000000");
        s.clear();
        push_sig_time(&mut s, sig_time("20380119031408").unwrap());
        assert_eq!(s, "20380119031408");
    }

    #[test]
    fn strings_are_quoted_with_escapes() {
        let mut s = String::new();
        push_char_string(&mut s, b"a \"b\" \\ \x07");
        assert_eq!(s, "\"a \\\"b\\\" \\\\ \\007\"");
        let mut back = Vec::new();
        char_string_into(&s[1..s.len() - 1], &mut back).unwrap();
        assert_eq!(&back[1..], b"a \"b\" \\ \x07");
    }

    #[test]
    fn bitmap_matches_rfc4034_example() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234
        let mut t = vec![1, 15, 46, 47, 1234];
        let mut out = Vec::new();
        type_bitmap_into(&mut t, &mut out);
        let mut expected = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        expected.extend_from_slice(&[0; 26]);
        expected.push(0x20);
        assert_eq!(out, expected);
        assert_eq!(bitmap_types(&out).unwrap(), [1, 15, 46, 47, 1234]);
        assert!(bitmap_types(&[0, 0]).is_err());
    }

    #[test]
    fn rfc4034_canonical_order() {
        // RFC 4034 §6.1's example, in order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let wire: Vec<Vec<u8>> = names.iter().map(|n| name(n, b"\0").unwrap()).collect();
        for w in wire.windows(2) {
            assert_eq!(
                crate::name::canonical_cmp(&w[0], &w[1]),
                std::cmp::Ordering::Less,
                "{:?} < {:?}",
                crate::name::Display(&w[0]).to_string(),
                crate::name::Display(&w[1]).to_string()
            );
        }
    }
}
