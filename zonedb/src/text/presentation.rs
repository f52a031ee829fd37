//! Presentation-format fields (RFC 1035 §5.1 and the type RFCs) decoded into wire form:
//! domain names (relative names completed with the origin, `@`, escapes),
//! character-strings, TTLs with units, numbers, and record type mnemonics.
//!
//! Errors are short static reasons; the loader adds zone, file and line.

use shoal_wire::name::{MAX_LABEL_LEN, MAX_NAME_LEN};
use shoal_wire::Rtype;

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

/// Record type mnemonics this server knows by name (RFC 3597 `TYPEnnn` always works).
const TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("MD", 3),
    ("MF", 4),
    ("CNAME", 5),
    ("SOA", 6),
    ("MB", 7),
    ("MG", 8),
    ("MR", 9),
    ("NULL", 10),
    ("WKS", 11),
    ("PTR", 12),
    ("HINFO", 13),
    ("MINFO", 14),
    ("MX", 15),
    ("TXT", 16),
    ("RP", 17),
    ("AFSDB", 18),
    ("X25", 19),
    ("ISDN", 20),
    ("RT", 21),
    ("NSAP", 22),
    ("SIG", 24),
    ("KEY", 25),
    ("PX", 26),
    ("GPOS", 27),
    ("AAAA", 28),
    ("LOC", 29),
    ("NXT", 30),
    ("SRV", 33),
    ("NAPTR", 35),
    ("KX", 36),
    ("CERT", 37),
    ("A6", 38),
    ("DNAME", 39),
    ("APL", 42),
    ("DS", 43),
    ("SSHFP", 44),
    ("IPSECKEY", 45),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("DHCID", 49),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("TLSA", 52),
    ("SMIMEA", 53),
    ("HIP", 55),
    ("CDS", 59),
    ("CDNSKEY", 60),
    ("OPENPGPKEY", 61),
    ("CSYNC", 62),
    ("ZONEMD", 63),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("SPF", 99),
    ("NID", 104),
    ("L32", 105),
    ("L64", 106),
    ("LP", 107),
    ("EUI48", 108),
    ("EUI64", 109),
    ("TKEY", 249),
    ("TSIG", 250),
    ("IXFR", 251),
    ("AXFR", 252),
    ("ANY", 255),
    ("URI", 256),
    ("CAA", 257),
    ("AVC", 258),
    ("DLV", 32769),
];

/// A type mnemonic or `TYPEnnn` (case-insensitive).
pub fn rtype(text: &str) -> Option<Rtype> {
    if text.len() > 4 && text[..4].eq_ignore_ascii_case("TYPE") {
        return text[4..].parse().ok().map(Rtype);
    }
    TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)).map(|&(_, v)| Rtype(v))
}

/// The mnemonic of a type, or `TYPEnnn`.
pub fn rtype_name(t: Rtype) -> String {
    TYPES.iter().find(|&&(_, v)| v == t.0).map_or_else(|| format!("TYPE{}", t.0), |(n, _)| n.to_string())
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
    fn types_by_name_and_number() {
        assert_eq!(rtype("aaaa"), Some(Rtype::AAAA));
        assert_eq!(rtype("TYPE65000"), Some(Rtype(65000)));
        assert_eq!(rtype("BOGUS"), None);
        assert_eq!(rtype_name(Rtype(65000)), "TYPE65000");
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
    }
}
