//! RDATA in presentation format → wire form, per record type.
//!
//! The common types and every type that carries a domain name are parsed here, so that
//! relative names are completed with the origin and nothing is lost; the RFC 3597
//! generic form `\# len hex` works for every type. The remaining types that
//! hickory-proto knows (CAA, SSHFP, TLSA, SVCB/HTTPS, CERT, …) go through
//! `hickory_proto::rr::RData::try_from_str` and are encoded by hickory. Anything else is
//! an error naming the type and pointing at the `\#` form.

use crate::text::lexer::Token;
use crate::text::presentation::{self as text, FieldResult};
use data_encoding::{BASE32HEX_NOPAD, BASE64};
use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use shoal_wire::Rtype;

/// Parse the RDATA `tokens` of type `rtype` into `out` (appended).
pub fn parse(rtype: Rtype, tokens: &[Token<'_>], origin: &[u8], out: &mut Vec<u8>) -> FieldResult<()> {
    if tokens.first().is_some_and(|t| !t.quoted && t.text == "\\#") {
        return generic(tokens, out);
    }
    let mut f = Fields { tokens, i: 0 };
    match rtype {
        Rtype::A => {
            let a: std::net::Ipv4Addr = f.next()?.parse().map_err(|_| "bad IPv4 address")?;
            out.extend_from_slice(&a.octets());
        }
        Rtype::AAAA => {
            let a: std::net::Ipv6Addr = f.next()?.parse().map_err(|_| "bad IPv6 address")?;
            out.extend_from_slice(&a.octets());
        }
        Rtype::NS
        | Rtype::CNAME
        | Rtype::DNAME
        | Rtype::PTR
        | Rtype::MB
        | Rtype::MG
        | Rtype::MR
        | Rtype(3)
        | Rtype(4) => text::name_into(f.next()?, origin, out)?,
        Rtype::MX | Rtype::AFSDB | Rtype::RT | Rtype::KX => {
            out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            text::name_into(f.next()?, origin, out)?;
        }
        Rtype::SOA => {
            text::name_into(f.next()?, origin, out)?;
            text::name_into(f.next()?, origin, out)?;
            out.extend_from_slice(&text::u32_field(f.next()?)?.to_be_bytes());
            for _ in 0..4 {
                out.extend_from_slice(&text::ttl(f.next()?)?.to_be_bytes());
            }
        }
        Rtype::MINFO | Rtype::RP => {
            text::name_into(f.next()?, origin, out)?;
            text::name_into(f.next()?, origin, out)?;
        }
        Rtype::TXT | Rtype::SPF => {
            text::char_string_into(f.next()?, out)?;
            while let Some(t) = f.maybe() {
                text::char_string_into(t, out)?;
            }
        }
        Rtype::HINFO => {
            text::char_string_into(f.next()?, out)?;
            text::char_string_into(f.next()?, out)?;
        }
        Rtype::SRV => {
            for _ in 0..3 {
                out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            }
            text::name_into(f.next()?, origin, out)?;
        }
        Rtype::NAPTR => {
            out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            for _ in 0..3 {
                text::char_string_into(f.next()?, out)?;
            }
            text::name_into(f.next()?, origin, out)?;
        }
        Rtype::DS | Rtype::CDS | Rtype(32769) => {
            out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            out.push(text::u8_field(f.next()?)?);
            out.push(text::u8_field(f.next()?)?);
            text::hex_into(&f.rest_joined(), out)?;
        }
        Rtype::DNSKEY | Rtype::CDNSKEY | Rtype::KEY => {
            out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            out.push(text::u8_field(f.next()?)?);
            out.push(text::u8_field(f.next()?)?);
            base64_into(&f.rest_joined(), out)?;
        }
        Rtype::RRSIG | Rtype::SIG => {
            let covered = text::rtype(f.next()?).ok_or("unknown type covered")?;
            out.extend_from_slice(&covered.0.to_be_bytes());
            out.push(text::u8_field(f.next()?)?);
            out.push(text::u8_field(f.next()?)?);
            out.extend_from_slice(&text::u32_field(f.next()?)?.to_be_bytes());
            out.extend_from_slice(&sig_time(f.next()?)?.to_be_bytes());
            out.extend_from_slice(&sig_time(f.next()?)?.to_be_bytes());
            out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            let signer = text::name(f.next()?, origin)?;
            out.extend_from_slice(&signer.to_ascii_lowercase());
            base64_into(&f.rest_joined(), out)?;
        }
        Rtype::NSEC => {
            let next = text::name(f.next()?, origin)?;
            out.extend_from_slice(&next);
            bitmap(&mut f, out)?;
        }
        Rtype::NSEC3 | Rtype::NSEC3PARAM => {
            out.push(text::u8_field(f.next()?)?);
            out.push(text::u8_field(f.next()?)?);
            out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            let salt = f.next()?;
            if salt == "-" {
                out.push(0);
            } else {
                let mut s = Vec::new();
                text::hex_into(salt, &mut s)?;
                if s.len() > 255 {
                    return Err("salt longer than 255 bytes");
                }
                out.push(s.len() as u8);
                out.extend_from_slice(&s);
            }
            if rtype == Rtype::NSEC3 {
                let next = BASE32HEX_NOPAD
                    .decode(f.next()?.to_ascii_uppercase().as_bytes())
                    .map_err(|_| "bad base32hex next hashed owner")?;
                out.push(next.len() as u8);
                out.extend_from_slice(&next);
                bitmap(&mut f, out)?;
            }
        }
        Rtype::URI => {
            out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            out.extend_from_slice(&text::u16_field(f.next()?)?.to_be_bytes());
            text::unescape(f.next()?, out)?;
        }
        Rtype::SVCB | Rtype::HTTPS => {
            // hickory parses SVCB but cannot complete a relative target name.
            let mut joined = String::new();
            for (k, t) in tokens.iter().enumerate() {
                if k == 1 && t.text != "." && !t.text.ends_with('.') {
                    let full = text::name(t.text, origin)?;
                    joined.push_str(&shoal_wire::name::Display(&full).to_string());
                } else {
                    push_token(&mut joined, t);
                }
                joined.push(' ');
            }
            return hickory(rtype, &joined, out);
        }
        _ => {
            if rtype.is_meta() {
                return Err("meta type cannot appear in a zone");
            }
            let mut joined = String::new();
            for t in tokens {
                push_token(&mut joined, t);
                joined.push(' ');
            }
            return hickory(rtype, &joined, out);
        }
    }
    if f.i != tokens.len() {
        return Err("trailing data after RDATA");
    }
    Ok(())
}

fn push_token(s: &mut String, t: &Token<'_>) {
    if t.quoted {
        s.push('"');
        s.push_str(t.text);
        s.push('"');
    } else {
        s.push_str(t.text);
    }
}

fn hickory(rtype: Rtype, text: &str, out: &mut Vec<u8>) -> FieldResult<()> {
    let rd = RData::try_from_str(RecordType::from(rtype.0), text)
        .map_err(|_| "RDATA not understood (hickory-proto rejected it; use RFC 3597 \\# form)")?;
    let mut bytes = Vec::new();
    let mut enc = BinEncoder::new(&mut bytes);
    enc.set_canonical_form(true);
    rd.emit(&mut enc).map_err(|_| "RDATA could not be encoded")?;
    out.extend_from_slice(&bytes);
    Ok(())
}

/// RFC 3597 §5: `\# <length> <hex>…`.
fn generic(tokens: &[Token<'_>], out: &mut Vec<u8>) -> FieldResult<()> {
    let len: usize = tokens.get(1).ok_or("\\# needs a length")?.text.parse().map_err(|_| "bad \\# length")?;
    let start = out.len();
    let hex: String = tokens[2..].iter().map(|t| t.text).collect();
    text::hex_into(&hex, out)?;
    if out.len() - start != len {
        return Err("\\# length does not match the hex data");
    }
    Ok(())
}

fn base64_into(s: &str, out: &mut Vec<u8>) -> FieldResult<()> {
    let v = BASE64.decode(s.as_bytes()).map_err(|_| "bad base64")?;
    out.extend_from_slice(&v);
    Ok(())
}

/// RRSIG times: `YYYYMMDDHHmmSS` or seconds since the epoch (RFC 4034 §3.2).
fn sig_time(s: &str) -> FieldResult<u32> {
    if s.len() == 14 && s.bytes().all(|c| c.is_ascii_digit()) {
        let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap_or(0);
        let (y, mo, d, h, mi, se) = (n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12), n(12, 14));
        let days = days_from_civil(y, mo, d);
        let t = days * 86400 + h * 3600 + mi * 60 + se;
        // Serial-number arithmetic: the value is taken modulo 2^32 (RFC 4034 §3.1.5).
        return Ok(t.rem_euclid(1 << 32) as u32);
    }
    text::u32_field(s)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn bitmap(f: &mut Fields<'_, '_>, out: &mut Vec<u8>) -> FieldResult<()> {
    let mut types = Vec::new();
    while let Some(t) = f.maybe() {
        types.push(text::rtype(t).ok_or("unknown type in bitmap")?.0);
    }
    types.dedup();
    text::type_bitmap_into(&mut types, out);
    Ok(())
}

struct Fields<'t, 'a> {
    tokens: &'t [Token<'a>],
    i: usize,
}

impl<'a> Fields<'_, 'a> {
    fn next(&mut self) -> FieldResult<&'a str> {
        self.maybe().ok_or("missing RDATA field")
    }

    fn maybe(&mut self) -> Option<&'a str> {
        let t = self.tokens.get(self.i)?;
        self.i += 1;
        Some(t.text)
    }

    fn rest_joined(&mut self) -> String {
        let s: String = self.tokens[self.i..].iter().map(|t| t.text).collect();
        self.i = self.tokens.len();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::lexer::Lexer;

    const ORIGIN: &[u8] = b"\x07example\x03com\x00";

    fn rd(t: Rtype, s: &str) -> FieldResult<Vec<u8>> {
        let mut toks = Vec::new();
        Lexer::new(s).next_entry(&mut toks).unwrap();
        let mut out = Vec::new();
        parse(t, &toks, ORIGIN, &mut out).map(|_| out)
    }

    #[test]
    fn mx_soa_and_txt() {
        assert_eq!(rd(Rtype::MX, "10 mail").unwrap(), b"\x00\x0a\x04mail\x07example\x03com\x00");
        let soa = rd(Rtype::SOA, "ns1 host.master.example.net. 2024 1h 15m 1w 300").unwrap();
        assert_eq!(&soa[soa.len() - 20..], &[0, 0, 7, 232, 0, 0, 14, 16, 0, 0, 3, 132, 0, 9, 58, 128, 0, 0, 1, 44]);
        assert_eq!(rd(Rtype::TXT, "\"a b\" c").unwrap(), b"\x03a b\x01c");
        assert!(rd(Rtype::TXT, &format!("\"{}\"", "x".repeat(256))).is_err());
    }

    #[test]
    fn generic_form_for_any_type() {
        assert_eq!(rd(Rtype(65000), "\\# 3 abcdef").unwrap(), [0xab, 0xcd, 0xef]);
        assert_eq!(rd(Rtype::A, "\\# 4 0A000001").unwrap(), [10, 0, 0, 1]);
        assert!(rd(Rtype(65000), "\\# 4 abcdef").is_err());
        assert!(rd(Rtype(65000), "abc").is_err());
    }

    #[test]
    fn caa_and_sshfp_via_hickory() {
        let caa = rd(Rtype::CAA, "0 issue \"ca.example.net\"").unwrap();
        assert_eq!(&caa[..7], b"\x00\x05issue");
        assert_eq!(rd(Rtype::SSHFP, "1 1 0123abcd").unwrap(), [1, 1, 1, 0x23, 0xab, 0xcd]);
    }

    #[test]
    fn bad_address_and_trailing_data_are_errors() {
        assert!(rd(Rtype::A, "1.2.3").is_err());
        assert!(rd(Rtype::A, "1.2.3.4 5").is_err());
        assert!(rd(Rtype::AAAA, "1.2.3.4").is_err());
    }

    #[test]
    fn rrsig_time_formats_agree() {
        assert_eq!(sig_time("20240101000000").unwrap(), 1704067200);
        assert_eq!(sig_time("1704067200").unwrap(), 1704067200);
    }
}
