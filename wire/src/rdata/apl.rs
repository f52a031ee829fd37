//! APL RDATA (RFC 3123): a list of address prefixes, each `[!]afi:address/prefix`,
//! read into wire form and shown back in the same form, as Knot shows it.
//!
//! Reading (§5): every token left is one item, and there may be none. The address
//! family is 1 (IPv4) or 2 (IPv6) (§4, IANA address family numbers); the prefix is at
//! most 32 or 128; the address is written as the family writes it and kept whole,
//! bits past the prefix included, as Knot keeps them. Wire form (§4): family (u16),
//! prefix (u8), the negation bit and the address length in its low 7 bits (u8), then
//! the address with its trailing zero bytes left out.
//!
//! Showing: items separated by one space, IPv6 in its RFC 5952 compressed form. An
//! unknown family, an address longer than its family's, or a prefix over the
//! family's size is an error, so the caller falls back to the RFC 3597 form (Knot
//! shows the last one as written; Shoal's text always reads back). An address with
//! trailing zero bytes, which §4 says a sender leaves out, is shown all the same.

use super::cursor::{Cursor, Reader};
use super::error::RdataError;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

const IPV4: u16 = 1;
const IPV6: u16 = 2;

/// Read every token left as one item and append them in wire form.
pub fn parse(c: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    while let Some(token) = c.maybe() {
        item(token.text, out)?;
    }
    Ok(())
}

/// One `[!]afi:address/prefix`.
fn item(text: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let (negated, rest) = match text.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let shape = || RdataError::new("item", format!("expected [!]afi:address/prefix, found `{text}`"));
    let (family, rest) = rest.split_once(':').ok_or_else(shape)?;
    let (address, prefix) = rest.rsplit_once('/').ok_or_else(shape)?;
    let family = match family {
        "1" => IPV4,
        "2" => IPV6,
        _ => return Err(RdataError::new("address family", format!("expected 1 (IPv4) or 2 (IPv6), found `{family}`"))),
    };
    let octets = match family {
        IPV4 => address.parse::<Ipv4Addr>().map(|a| a.octets().to_vec()),
        _ => address.parse::<Ipv6Addr>().map(|a| a.octets().to_vec()),
    }
    .map_err(|_| RdataError::new("address", format!("`{address}` is not an address of family {family}")))?;
    let max = octets.len() * 8;
    let prefix = match prefix.parse::<u8>() {
        Ok(p) if prefix.bytes().all(|b| b.is_ascii_digit()) && usize::from(p) <= max => p,
        _ => return Err(RdataError::new("prefix", format!("expected a length 0-{max}, found `{prefix}`"))),
    };
    let len = octets.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    out.extend_from_slice(&family.to_be_bytes());
    out.push(prefix);
    out.push(u8::from(negated) << 7 | len as u8);
    out.extend_from_slice(&octets[..len]);
    Ok(())
}

/// Show the items left in `r`, separated by one space; nothing when there are none.
pub fn format(r: &mut Reader<'_>, out: &mut String) -> Result<(), RdataError> {
    let mut first = true;
    while !r.is_empty() {
        if !first {
            out.push(' ');
        }
        first = false;
        push_item(r, out)?;
    }
    Ok(())
}

fn push_item(r: &mut Reader<'_>, out: &mut String) -> Result<(), RdataError> {
    let family = r.u16("address family")?;
    let prefix = r.u8("prefix")?;
    let flags = r.u8("address")?;
    let address = r.bytes(usize::from(flags & 0x7f), "address")?;
    let size = match family {
        IPV4 => 4,
        IPV6 => 16,
        _ => return Err(RdataError::new("address family", format!("unknown family {family}"))),
    };
    if address.len() > size {
        return Err(RdataError::new("address", "longer than its family's addresses"));
    }
    if usize::from(prefix) > size * 8 {
        return Err(RdataError::new("prefix", "longer than its family's addresses"));
    }
    let mut full = [0u8; 16];
    full[..address.len()].copy_from_slice(address);
    if flags & 0x80 != 0 {
        out.push('!');
    }
    let _ = match family {
        IPV4 => write!(out, "{family}:{}/{prefix}", Ipv4Addr::new(full[0], full[1], full[2], full[3])),
        _ => write!(out, "{family}:{}/{prefix}", Ipv6Addr::from(full)),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::cursor::Token;
    use super::*;
    use crate::rdata::testing::{format_all, parse_all, XorShift};

    fn wire(text: &str) -> Result<Vec<u8>, RdataError> {
        let tokens: Vec<Token<'_>> = text.split_whitespace().map(Token::plain).collect();
        parse_all(&tokens, parse)
    }

    fn show(bytes: &[u8]) -> Result<String, RdataError> {
        format_all(bytes, format)
    }

    /// RFC 3123 §6's examples, with the wire form §4 describes.
    #[test]
    fn rfc3123_examples() {
        let w = wire("1:192.168.32.0/21 !1:192.168.38.0/28").unwrap();
        assert_eq!(w, [0, 1, 21, 3, 192, 168, 32, 0, 1, 28, 0x83, 192, 168, 38]);
        assert_eq!(show(&w).unwrap(), "1:192.168.32.0/21 !1:192.168.38.0/28");
        let w = wire("1:224.0.0.0/4 2:FF00:0:0:0:0:0:0:0/8").unwrap();
        assert_eq!(w, [0, 1, 4, 1, 224, 0, 2, 8, 1, 0xff]);
        assert_eq!(show(&w).unwrap(), "1:224.0.0.0/4 2:ff00::/8");
        assert_eq!(wire("").unwrap(), []);
        assert_eq!(show(&[]).unwrap(), "");
    }

    /// Text as written in a zone, and as `kdig` showed it from knotd 3.2.6.
    #[test]
    fn knot_spellings() {
        let cases: &[(&str, &str)] = &[
            (
                "1:0.0.0.0/0 !2:::/0 2:2001:db8::1/128 1:192.0.2.0/32",
                "1:0.0.0.0/0 !2:::/0 2:2001:db8::1/128 1:192.0.2.0/32",
            ),
            ("1:192.168.38.1/21 1:1.2.3.4/08", "1:192.168.38.1/21 1:1.2.3.4/8"),
            (
                "!2:::ffff:1.2.3.4/128 2:::1.2.3.4/128 2:::0.1.0.0/128",
                "!2:::ffff:1.2.3.4/128 2:::102:304/128 2:::1:0/128",
            ),
            ("2:1:0:0:1::/64", "2:1:0:0:1::/64"),
        ];
        for (text, knot) in cases {
            let w = wire(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(show(&w).unwrap(), *knot, "{text}");
            assert_eq!(wire(knot).unwrap(), w, "{knot} reads back");
        }
        // Trailing zero bytes on the wire show as Knot shows them (`1:1.2.3.0/32`).
        assert_eq!(show(&[0, 1, 32, 4, 1, 2, 3, 0]).unwrap(), "1:1.2.3.0/32");
    }

    #[test]
    fn bad_items_are_refused() {
        let cases: &[(&str, &str)] = &[
            ("1:1.2.3.4", "item"),
            ("3:1.2.3.4/8", "address family"),
            ("01:1.2.3.4/8", "address family"),
            ("0:1.2.3.4/8", "address family"),
            ("1:1.2.3.4/33", "prefix"),
            ("2:::/129", "prefix"),
            ("1:1.2.3.4/+8", "prefix"),
            ("1:1.2.3.4/", "prefix"),
            ("2:1.2.3.4/8", "address"),
            ("1:::1/8", "address"),
            ("1:1.2.3/8", "address"),
            ("!!1:1.2.3.4/8", "address family"),
            ("1.2.3.4/8", "item"),
        ];
        for (text, field) in cases {
            assert_eq!(wire(text).unwrap_err().field, *field, "{text}");
        }
    }

    #[test]
    fn malformed_wire_is_an_error() {
        let cases: &[&[u8]] = &[
            &[0, 1, 8, 5, 1, 2, 3, 4, 5], // IPv4 address of five bytes
            &[0, 2, 8, 17, 0],            // IPv6 address of seventeen bytes (truncated too)
            &[0, 3, 0, 0],                // unknown family
            &[0, 1, 33, 4, 1, 2, 3, 4],   // prefix over 32
            &[0, 2, 129, 0],              // prefix over 128
            &[0, 1, 0, 0x80, 0],          // a second item cut short
            &[0, 1, 8, 2, 10],            // address cut short
        ];
        for case in cases {
            assert!(show(case).is_err(), "{case:?}");
        }
    }

    /// Random tokens never panic; what reads shows, and reads back the same.
    #[test]
    fn random_tokens_never_panic_and_round_trip() {
        const PIECES: &[&str] =
            &["!", "1", "2", ":", "::", "/", ".", "0", "8", "32", "128", "255", "ff", "1.2.3.4", "é"];
        let mut rng = XorShift(0x5eed_1234_abcd_ef01);
        let mut accepted = 0;
        for _ in 0..50_000 {
            let texts: Vec<String> = (0..rng.below(3))
                .map(|_| (0..1 + rng.below(6)).map(|_| PIECES[rng.below(PIECES.len())]).collect())
                .collect();
            let tokens: Vec<Token<'_>> = texts.iter().map(|t| Token::plain(t)).collect();
            let mut out = Vec::new();
            if parse(&mut Cursor::new(&tokens), &mut out).is_ok() {
                accepted += 1;
                let text = show(&out).unwrap_or_else(|e| panic!("{texts:?} read but not shown: {e}"));
                assert_eq!(wire(&text).unwrap(), out, "{texts:?} shown as {text}");
            }
        }
        assert!(accepted > 1_000, "only {accepted} random inputs read");
    }

    /// Random bytes never panic; what shows reads back to the same text.
    #[test]
    fn random_wire_never_panics() {
        let mut rng = XorShift(0xfeed_beef_0bad_cafe);
        let mut shown = 0;
        for _ in 0..50_000 {
            let mut bytes = Vec::new();
            for _ in 0..rng.below(3) {
                let len = rng.below(18);
                bytes.extend_from_slice(&[0, rng.below(4) as u8, rng.below(140) as u8]);
                bytes.push((rng.below(2) as u8) << 7 | len as u8);
                bytes.extend((0..rng.below(len + 2)).map(|_| rng.next() as u8));
            }
            if let Ok(text) = show(&bytes) {
                shown += 1;
                assert_eq!(show(&wire(&text).unwrap()).unwrap(), text);
            }
        }
        assert!(shown > 1_000, "only {shown} random wire forms shown");
    }
}
