//! [`parse`]: RDATA in presentation format into wire form, field by field as the type's
//! descriptor lists them, or in the RFC 3597 generic form (`\# length hex`), which
//! every type accepts and the only form for types without a descriptor.

use super::cursor::{Cursor, Token};
use super::error::RdataError;
use super::field::Field::{self, *};
use super::table::{descriptor, rtype_from_text, Kind};
use super::text::{self, FieldResult};
use super::{apl, loc, svcb};
use crate::types::Rtype;

/// Read the RDATA `tokens` of type `rtype` into `out` (appended). Relative names are
/// completed with `origin` (wire form).
pub fn parse(rtype: Rtype, tokens: &[Token<'_>], origin: &[u8], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let start = out.len();
    let result = parse_at(rtype, tokens, origin, out);
    if result.is_err() {
        out.truncate(start);
    } else if out.len() - start > usize::from(u16::MAX) {
        out.truncate(start);
        return Err(RdataError::new("", "RDATA longer than 65535 bytes"));
    }
    result
}

fn parse_at(rtype: Rtype, tokens: &[Token<'_>], origin: &[u8], out: &mut Vec<u8>) -> Result<(), RdataError> {
    if rtype.is_meta() {
        return Err(RdataError::new("", "a meta type cannot appear in a zone"));
    }
    if tokens.first().is_some_and(|t| !t.quoted && t.text == "\\#") {
        return generic(tokens, out);
    }
    let d = match descriptor(rtype) {
        Some(d) if d.kind == Kind::Meta => return Err(RdataError::new("", "a meta type cannot appear in a zone")),
        Some(d) if d.kind == Kind::Data => d,
        _ => return Err(RdataError::new("", "write this type in the RFC 3597 form: \\# <length> <hex>")),
    };
    let mut c = Cursor::new(tokens);
    for f in d.fields {
        parse_field(f, &mut c, origin, out)?;
    }
    if !c.is_empty() {
        return Err(RdataError::new("", "trailing data after RDATA"));
    }
    Ok(())
}

/// RFC 3597 §5: `\# <length> <hex>…` (`\# 0` for empty RDATA).
fn generic(tokens: &[Token<'_>], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let len: usize = tokens
        .get(1)
        .ok_or_else(|| RdataError::new("length", "missing"))?
        .text
        .parse()
        .map_err(|_| RdataError::new("length", "not a number"))?;
    let start = out.len();
    let hex: String = tokens[2..].iter().map(|t| t.text).collect();
    text::hex_into(&hex, out).map_err(|r| RdataError::new("data", r))?;
    if out.len() - start != len {
        return Err(RdataError::new("data", "length does not match the hex data"));
    }
    Ok(())
}

/// WKS service names (the IANA service names of `/etc/services`, as BIND and NSD read
/// them there), for the well-known ports a zone is likely to list.
const SERVICES: &[(&str, u16)] = &[
    ("echo", 7),
    ("discard", 9),
    ("daytime", 13),
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("time", 37),
    ("whois", 43),
    ("domain", 53),
    ("tftp", 69),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
];

/// DNSSEC algorithm mnemonics (IANA "DNS Security Algorithm Numbers").
const ALGORITHMS: &[(&str, u8)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

/// CERT type mnemonics (RFC 4398 §2.1).
const CERT_TYPES: &[(&str, u16)] = &[
    ("PKIX", 1),
    ("SPKI", 2),
    ("PGP", 3),
    ("IPKIX", 4),
    ("ISPKI", 5),
    ("IPGP", 6),
    ("ACPKIX", 7),
    ("IACPKIX", 8),
    ("URI", 253),
    ("OID", 254),
];

/// Read the field `f` from `c` into `out` (the IPSECKEY gateway reads the gateway type
/// from the RDATA written so far).
fn parse_field(f: &Field, c: &mut Cursor<'_, '_>, origin: &[u8], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let label = f.label();
    let err = |reason: &'static str| RdataError::new(label, reason);
    match *f {
        Name(n) => {
            let start = out.len();
            text::name_into(c.next(label)?.text, origin, out).map_err(err)?;
            if n.stored_lower {
                out[start..].make_ascii_lowercase();
            }
        }
        U8(_) => out.push(text::u8_field(c.next(label)?.text).map_err(err)?),
        U16(_) => out.extend_from_slice(&text::u16_field(c.next(label)?.text).map_err(err)?.to_be_bytes()),
        U32(_) => out.extend_from_slice(&text::u32_field(c.next(label)?.text).map_err(err)?.to_be_bytes()),
        Ttl(_) => out.extend_from_slice(&text::ttl(c.next(label)?.text).map_err(err)?.to_be_bytes()),
        Time(_) => out.extend_from_slice(&text::sig_time(c.next(label)?.text).map_err(err)?.to_be_bytes()),
        Type(_) => {
            let t = rtype_from_text(c.next(label)?.text).ok_or_else(|| err("unknown type"))?;
            out.extend_from_slice(&t.0.to_be_bytes());
        }
        Algorithm(_) => out.push(mnemonic_or_number(c.next(label)?.text, ALGORITHMS).map_err(err)?),
        CertType(_) => {
            let t = c.next(label)?.text;
            let v = match CERT_TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(t)) {
                Some(&(_, v)) => v,
                None => text::u16_field(t).map_err(err)?,
            };
            out.extend_from_slice(&v.to_be_bytes());
        }
        Ipv4(_) => {
            let a: std::net::Ipv4Addr = c.next(label)?.text.parse().map_err(|_| err("bad IPv4 address"))?;
            out.extend_from_slice(&a.octets());
        }
        Ipv6(_) => {
            let a: std::net::Ipv6Addr = c.next(label)?.text.parse().map_err(|_| err("bad IPv6 address"))?;
            out.extend_from_slice(&a.octets());
        }
        CharString(_) => text::char_string_into(c.next(label)?.text, out).map_err(err)?,
        OptionalCharString(_) => {
            if let Some(t) = c.maybe() {
                text::char_string_into(t.text, out).map_err(err)?;
            }
        }
        CharStrings(_) => {
            text::char_string_into(c.next(label)?.text, out).map_err(err)?;
            while let Some(t) = c.maybe() {
                text::char_string_into(t.text, out).map_err(err)?;
            }
        }
        Text(_) => {
            text::unescape(c.next(label)?.text, out).map_err(err)?;
        }
        Base64(_) => text::base64_into(&c.rest_joined(label)?, out).map_err(err)?,
        OptionalBase64(_) => {
            if !c.is_empty() {
                text::base64_into(&c.rest_joined(label)?, out).map_err(err)?;
            }
        }
        Base16(_) => text::hex_into(&c.rest_joined(label)?, out).map_err(err)?,
        Salt(_) => {
            let t = c.next(label)?.text;
            let mut s = Vec::new();
            if t != "-" {
                text::hex_into(t, &mut s).map_err(err)?;
            }
            let len = u8::try_from(s.len()).map_err(|_| err("longer than 255 bytes"))?;
            out.push(len);
            out.extend_from_slice(&s);
        }
        NextHashed(_) => {
            let h = text::base32hex(c.next(label)?.text).map_err(err)?;
            let len = u8::try_from(h.len()).map_err(|_| err("longer than 255 bytes"))?;
            out.push(len);
            out.extend_from_slice(&h);
        }
        Bitmap(_) => {
            let mut types = Vec::new();
            while let Some(t) = c.maybe() {
                types.push(rtype_from_text(t.text).ok_or_else(|| err("unknown type"))?.0);
            }
            types.sort_unstable();
            types.dedup();
            text::type_bitmap_into(&mut types, out);
        }
        CaaTag(_) => {
            let t = c.next(label)?.text;
            if t.is_empty() || t.len() > 255 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(err("letters and digits only, 1 to 255 of them"));
            }
            out.push(t.len() as u8);
            out.extend_from_slice(t.as_bytes());
        }
        IpsecGateway(_) => {
            let kind = out.get(out.len().wrapping_sub(2)).copied().ok_or_else(|| err("no gateway type"))?;
            let t = c.next(label)?.text;
            match kind {
                0 if t == "." => {}
                0 => return Err(err("gateway type 0 takes `.`")),
                1 => parse_field(&Ipv4(label), &mut Cursor::new(&[Token::plain(t)]), origin, out)?,
                2 => parse_field(&Ipv6(label), &mut Cursor::new(&[Token::plain(t)]), origin, out)?,
                3 => text::name_into(t, origin, out).map_err(err)?,
                _ => return Err(err("unknown gateway type")),
            }
        }
        Eui48(_) => hex_groups(c.next(label)?.text, 6, 1, '-', out).map_err(err)?,
        Eui64(_) => hex_groups(c.next(label)?.text, 8, 1, '-', out).map_err(err)?,
        Ilnp64(_) => hex_groups(c.next(label)?.text, 4, 2, ':', out).map_err(err)?,
        Protocol(_) => {
            let t = c.next(label)?.text;
            out.push(match t.to_ascii_lowercase().as_str() {
                "tcp" => 6,
                "udp" => 17,
                _ => text::u8_field(t).map_err(err)?,
            });
        }
        Services(_) => {
            let mut bits: Vec<u8> = Vec::new();
            while let Some(t) = c.maybe() {
                let port = match SERVICES.iter().find(|(n, _)| n.eq_ignore_ascii_case(t.text)) {
                    Some(&(_, p)) => usize::from(p),
                    None => usize::from(text::u16_field(t.text).map_err(|_| err("a port number or service name"))?),
                };
                if bits.len() <= port / 8 {
                    bits.resize(port / 8 + 1, 0);
                }
                bits[port / 8] |= 0x80 >> (port % 8);
            }
            out.extend_from_slice(&bits);
        }
        Nsap(_) => {
            let t = c.next(label)?.text;
            let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).ok_or_else(|| err("starts with 0x"))?;
            let digits: String = hex.chars().filter(|&ch| ch != '.').collect();
            text::hex_into(&digits, out).map_err(err)?;
        }
        Hip => {
            let alg = text::u8_field(c.next("algorithm")?.text).map_err(|r| RdataError::new("algorithm", r))?;
            let mut hit = Vec::new();
            text::hex_into(c.next("HIT")?.text, &mut hit).map_err(|r| RdataError::new("HIT", r))?;
            let mut key = Vec::new();
            text::base64_into(c.next("public key")?.text, &mut key).map_err(|r| RdataError::new("public key", r))?;
            let hit_len = u8::try_from(hit.len()).map_err(|_| RdataError::new("HIT", "longer than 255 bytes"))?;
            let key_len =
                u16::try_from(key.len()).map_err(|_| RdataError::new("public key", "longer than 65535 bytes"))?;
            out.push(hit_len);
            out.push(alg);
            out.extend_from_slice(&key_len.to_be_bytes());
            out.extend_from_slice(&hit);
            out.extend_from_slice(&key);
            while let Some(t) = c.maybe() {
                text::name_into(t.text, origin, out).map_err(|r| RdataError::new("rendezvous server", r))?;
            }
        }
        SvcParams => svcb::parse(c, out)?,
        Loc => loc::parse(c, out)?,
        Apl => apl::parse(c, out)?,
    }
    Ok(())
}

/// A number, or a mnemonic from `names` (case-insensitive).
fn mnemonic_or_number(t: &str, names: &[(&str, u8)]) -> FieldResult<u8> {
    match names.iter().find(|(n, _)| n.eq_ignore_ascii_case(t)) {
        Some(&(_, v)) => Ok(v),
        None => text::u8_field(t),
    }
}

/// `count * group` bytes written as `count` groups of `2 * group` hex digits joined by
/// `sep`.
fn hex_groups(t: &str, count: usize, group: usize, sep: char, out: &mut Vec<u8>) -> FieldResult<()> {
    let parts: Vec<&str> = t.split(sep).collect();
    if parts.len() != count || parts.iter().any(|p| p.len() != 2 * group) {
        return Err(if group == 1 { "expected hex pairs joined by '-'" } else { "expected 4 groups of 4 hex digits" });
    }
    for p in parts {
        text::hex_into(p, out)?;
    }
    Ok(())
}
