//! [`Field`]: the kinds of RDATA field a record type's layout lists, with what every
//! kind knows of itself (its name in errors, its length when fixed). Reading a field
//! from text is [`mod@super::parse`]'s, showing it is [`mod@super::format`]'s; the kinds with a
//! grammar of their own have a module each ([`super::svcb`], [`super::loc`],
//! [`super::apl`]).
//!
//! The kinds marked "to the end" take every token (or byte) left.

/// One field of an RDATA layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// A domain name (relative names completed with the origin).
    Name(NameField),
    U8(&'static str),
    U16(&'static str),
    U32(&'static str),
    /// A 32-bit time span: seconds or BIND units (`1h30m`).
    Ttl(&'static str),
    /// An RRSIG time: `YYYYMMDDHHmmSS` or seconds.
    Time(&'static str),
    /// A type mnemonic or `TYPEnnn` (RRSIG type covered).
    Type(&'static str),
    /// A DNSSEC algorithm: a number or its mnemonic (`ECDSAP256SHA256`).
    Algorithm(&'static str),
    Ipv4(&'static str),
    Ipv6(&'static str),
    /// One `<character-string>`.
    CharString(&'static str),
    /// One `<character-string>` or nothing (the ISDN subaddress).
    OptionalCharString(&'static str),
    /// One or more `<character-string>`s, to the end.
    CharStrings(&'static str),
    /// One string without a length byte, to the end (URI target, CAA value).
    Text(&'static str),
    /// Base64, to the end, split over tokens as the writer likes.
    Base64(&'static str),
    /// Base64 or nothing, to the end (IPSECKEY public key).
    OptionalBase64(&'static str),
    /// Hex, to the end, split over tokens as the writer likes.
    Base16(&'static str),
    /// Hex after a length byte, `-` for none (NSEC3 salt).
    Salt(&'static str),
    /// Base32hex after a length byte (NSEC3 next hashed owner).
    NextHashed(&'static str),
    /// An RFC 4034 §4.1.2 type bitmap, to the end.
    Bitmap(&'static str),
    /// The CAA tag: letters and digits after a length byte.
    CaaTag(&'static str),
    /// A CERT type: a number or its mnemonic (RFC 4398 §2.1).
    CertType(&'static str),
    /// The IPSECKEY gateway, read as the gateway type before it says (RFC 4025 §2.5).
    IpsecGateway(&'static str),
    /// `xx-xx-xx-xx-xx-xx` (RFC 7043).
    Eui48(&'static str),
    /// `xx-xx-xx-xx-xx-xx-xx-xx` (RFC 7043).
    Eui64(&'static str),
    /// Four groups of four hex digits, `0123:4567:89ab:cdef` (RFC 6742 NID, L64).
    Ilnp64(&'static str),
    /// WKS protocol: `tcp`, `udp` or a number.
    Protocol(&'static str),
    /// WKS services: port numbers, to the end, as a bitmap.
    Services(&'static str),
    /// NSAP: `0x` and hex digits, dots allowed between them (RFC 1706).
    Nsap(&'static str),
    /// HIP: algorithm, HIT (hex), public key (base64), rendezvous servers (RFC 8005).
    Hip,
    /// SVCB and HTTPS parameters, to the end (RFC 9460).
    SvcParams,
    /// LOC (RFC 1876).
    Loc,
    /// APL items, to the end (RFC 3123).
    Apl,
}

/// A name field, as [`Field::Name`] holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameField {
    pub label: &'static str,
    /// May be compressed on output (RFC 3597 §4).
    pub compress: bool,
    /// Lowercased in canonical form (RFC 4034 §6.2 as corrected by RFC 6840 §5.1).
    pub canonical_lower: bool,
    /// Lowercased when read from a zone file (the RRSIG signer, as Knot stores it).
    pub stored_lower: bool,
    /// Its in-zone addresses go in the additional section.
    pub additional: bool,
}

use Field::*;

impl Field {
    /// The field's name, as errors show it.
    pub fn label(&self) -> &'static str {
        match *self {
            Name(n) => n.label,
            U8(l)
            | U16(l)
            | U32(l)
            | Ttl(l)
            | Time(l)
            | Type(l)
            | Algorithm(l)
            | Ipv4(l)
            | Ipv6(l)
            | CharString(l)
            | OptionalCharString(l)
            | CharStrings(l)
            | Text(l)
            | Base64(l)
            | OptionalBase64(l)
            | Base16(l)
            | Salt(l)
            | NextHashed(l)
            | Bitmap(l)
            | CaaTag(l)
            | CertType(l)
            | IpsecGateway(l)
            | Eui48(l)
            | Eui64(l)
            | Ilnp64(l)
            | Protocol(l)
            | Services(l)
            | Nsap(l) => l,
            Hip => "HIP",
            SvcParams => "parameters",
            Loc => "location",
            Apl => "items",
        }
    }

    /// The field's length in wire form when every value has the same, else `None`.
    pub fn fixed_len(&self) -> Option<usize> {
        match self {
            U8(_) | Algorithm(_) | Protocol(_) => Some(1),
            U16(_) | Type(_) | CertType(_) => Some(2),
            U32(_) | Ttl(_) | Time(_) | Ipv4(_) => Some(4),
            Eui48(_) => Some(6),
            Eui64(_) | Ilnp64(_) => Some(8),
            Ipv6(_) | Loc => Some(16),
            _ => None,
        }
    }
}
