//! [`format()`]: RDATA in wire form shown in presentation format, in Knot's spelling:
//! field by field as the type's descriptor lists them, or in the RFC 3597 generic form
//! for types without one and for RDATA that does not match its type's layout.

use super::cursor::Reader;
use super::error::RdataError;
use super::field::Field::{self, *};
use super::table::{descriptor, rtype_name, Kind};
use super::{apl, loc, svcb, text};
use crate::types::Rtype;
use std::fmt::Write as _;

/// Append the presentation form of `rdata` of type `rtype` to `out`.
pub fn format(rtype: Rtype, rdata: &[u8], out: &mut String) {
    let start = out.len();
    if let Some(d) = descriptor(rtype).filter(|d| d.kind == Kind::Data) {
        let mut r = Reader::new(rdata);
        let mut ok = true;
        for (i, f) in d.fields.iter().enumerate() {
            let before = out.len();
            if i > 0 {
                out.push(' ');
            }
            if format_field(f, &mut r, out).is_err() {
                ok = false;
                break;
            }
            if out.len() == before + usize::from(i > 0) {
                out.truncate(before); // an optional field that is absent
            }
        }
        if ok && r.is_empty() {
            return;
        }
        out.truncate(start);
    }
    generic(rdata, out);
}

/// RFC 3597 §5: `\# <length> <hex>`.
pub fn generic(rdata: &[u8], out: &mut String) {
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        text::push_hex(out, rdata);
    }
}

/// Show the field `f` read from `r` as text on `out`.
fn format_field(f: &Field, r: &mut Reader<'_>, out: &mut String) -> Result<(), RdataError> {
    let label = f.label();
    let err = |reason: &'static str| RdataError::new(label, reason);
    match *f {
        Name(_) => text::push_name(out, r.name(label)?),
        U8(_) | Algorithm(_) | Protocol(_) => {
            let _ = write!(out, "{}", r.u8(label)?);
        }
        U16(_) | CertType(_) => {
            let _ = write!(out, "{}", r.u16(label)?);
        }
        U32(_) | Ttl(_) => {
            let _ = write!(out, "{}", r.u32(label)?);
        }
        Time(_) => text::push_sig_time(out, r.u32(label)?),
        Type(_) => out.push_str(&rtype_name(Rtype(r.u16(label)?))),
        Ipv4(_) => {
            let b = r.bytes(4, label)?;
            let _ = write!(out, "{}", std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]));
        }
        Ipv6(_) => {
            let b: [u8; 16] = r.bytes(16, label)?.try_into().expect("16 bytes");
            let _ = write!(out, "{}", std::net::Ipv6Addr::from(b));
        }
        CharString(_) => push_char_string(r, label, out)?,
        OptionalCharString(_) => {
            if !r.is_empty() {
                push_char_string(r, label, out)?;
            }
        }
        CharStrings(_) => {
            push_char_string(r, label, out)?;
            while !r.is_empty() {
                out.push(' ');
                push_char_string(r, label, out)?;
            }
        }
        Text(_) => text::push_char_string(out, r.rest()),
        Base64(_) | OptionalBase64(_) => text::push_base64(out, r.rest()),
        Base16(_) => text::push_hex(out, r.rest()),
        Salt(_) => {
            let len = usize::from(r.u8(label)?);
            match r.bytes(len, label)? {
                [] => out.push('-'),
                salt => text::push_hex(out, salt),
            }
        }
        NextHashed(_) => {
            let len = usize::from(r.u8(label)?);
            text::push_base32hex(out, r.bytes(len, label)?);
        }
        Bitmap(_) => {
            let types = text::bitmap_types(r.rest()).map_err(err)?;
            for (i, t) in types.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&rtype_name(Rtype(*t)));
            }
        }
        CaaTag(_) => {
            let len = usize::from(r.u8(label)?);
            out.push_str(&String::from_utf8_lossy(r.bytes(len, label)?));
        }
        IpsecGateway(_) => {
            // The gateway type is the second byte of the RDATA, already read.
            match r.peek_back(2) {
                Some(0) => out.push('.'),
                Some(1) => format_field(&Ipv4(label), r, out)?,
                Some(2) => format_field(&Ipv6(label), r, out)?,
                Some(3) => text::push_name(out, r.name(label)?),
                _ => return Err(err("unknown gateway type")),
            }
        }
        Eui48(_) => push_hex_groups(out, r.bytes(6, label)?, 1, '-'),
        Eui64(_) => push_hex_groups(out, r.bytes(8, label)?, 1, '-'),
        Ilnp64(_) => push_hex_groups(out, r.bytes(8, label)?, 2, ':'),
        Services(_) => {
            let mut first = true;
            for (i, byte) in r.rest().iter().enumerate() {
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        let _ = write!(out, "{}{}", if first { "" } else { " " }, i * 8 + bit);
                        first = false;
                    }
                }
            }
        }
        Nsap(_) => {
            out.push_str("0x");
            text::push_hex(out, r.rest());
        }
        Hip => {
            let hit_len = usize::from(r.u8("HIT")?);
            let alg = r.u8("algorithm")?;
            let key_len = usize::from(r.u16("public key")?);
            let _ = write!(out, "{alg} ");
            text::push_hex(out, r.bytes(hit_len, "HIT")?);
            out.push(' ');
            text::push_base64(out, r.bytes(key_len, "public key")?);
            while !r.is_empty() {
                out.push(' ');
                text::push_name(out, r.name("rendezvous server")?);
            }
        }
        SvcParams => svcb::format(r, out)?,
        Loc => loc::format(r, out)?,
        Apl => apl::format(r, out)?,
    }
    Ok(())
}

fn push_char_string(r: &mut Reader<'_>, label: &'static str, out: &mut String) -> Result<(), RdataError> {
    let len = usize::from(r.u8(label)?);
    text::push_char_string(out, r.bytes(len, label)?);
    Ok(())
}

/// Groups of uppercase hex digits joined by `sep`, as Knot writes EUI and ILNP values.
fn push_hex_groups(out: &mut String, bytes: &[u8], group: usize, sep: char) {
    for (i, g) in bytes.chunks(group).enumerate() {
        if i > 0 {
            out.push(sep);
        }
        for b in g {
            let _ = write!(out, "{b:02X}");
        }
    }
}
