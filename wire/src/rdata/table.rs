//! The record-type table: for each type its mnemonic, number and RDATA as a list of
//! [`Field`]s, as Knot's `libknot/descriptor.c` and NSD's rdata descriptors have it.
//! Every other per-type fact is read from here: how RDATA is read from text and shown
//! as text, which names are compressed on output (RFC 3597 §4: the RFC 1035 types
//! only) and lowercased in canonical form (RFC 4034 §6.2, RFC 6840 §5.1), and which
//! name's addresses go in the additional section (NS, MX, SRV: RFC 1035 §3.3,
//! RFC 2782).
//!
//! The entries are sorted by type number; a lookup is a binary search.

use super::field::Field::{self, *};
use super::field::NameField;
use crate::types::Rtype;

/// What Shoal knows of one record type.
#[derive(Debug)]
pub struct Descriptor {
    pub rtype: Rtype,
    pub mnemonic: &'static str,
    pub fields: &'static [Field],
    pub kind: Kind,
}

/// Where a type may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Zone data, read and written through its fields.
    Data,
    /// Zone data written only in the RFC 3597 `\#` form (NULL, and obsolete types
    /// whose text form Shoal does not read).
    GenericOnly,
    /// A meta type or pseudo-record (RFC 6895 §3.1): never in a zone.
    Meta,
}

impl Descriptor {
    /// Where compressible names start in the RDATA, and how many follow one another
    /// there; `None` when the type's names are never compressed.
    pub fn compressed_names(&self) -> Option<(usize, usize)> {
        let first = self.fields.iter().position(|f| matches!(f, Name(n) if n.compress))?;
        let skip = self.fields[..first].iter().map(|f| f.fixed_len()).sum::<Option<usize>>()?;
        let count = self.fields[first..].iter().take_while(|f| matches!(f, Name(n) if n.compress)).count();
        Some((skip, count))
    }

    /// Where the name whose addresses go in the additional section starts in the
    /// RDATA; `None` for types without additional processing.
    pub fn additional_target(&self) -> Option<usize> {
        let at = self.fields.iter().position(|f| matches!(f, Name(n) if n.additional))?;
        self.fields[..at].iter().map(|f| f.fixed_len()).sum()
    }
}

/// A name of an RFC 1035 type: compressed on output, lowercased in canonical form.
const fn rfc1035(label: &'static str) -> Field {
    Name(NameField { label, compress: true, canonical_lower: true, stored_lower: false, additional: false })
}

/// A name of a later type listed in RFC 4034 §6.2: never compressed, lowercased in
/// canonical form.
const fn lower(label: &'static str) -> Field {
    Name(NameField { label, compress: false, canonical_lower: true, stored_lower: false, additional: false })
}

/// A name kept as written, in canonical form too (NSEC, RFC 6840 §5.1; later types).
const fn plain(label: &'static str) -> Field {
    Name(NameField { label, compress: false, canonical_lower: false, stored_lower: false, additional: false })
}

/// A name whose in-zone addresses go in the additional section.
const fn with_additional(f: Field) -> Field {
    match f {
        Name(n) => Name(NameField { additional: true, ..n }),
        other => other,
    }
}

const SIGNER: Field =
    Name(NameField { label: "signer", compress: false, canonical_lower: true, stored_lower: true, additional: false });

const SOA: &[Field] =
    &[rfc1035("mname"), rfc1035("rname"), U32("serial"), Ttl("refresh"), Ttl("retry"), Ttl("expire"), Ttl("minimum")];
const DS: &[Field] = &[U16("key tag"), Algorithm("algorithm"), U8("digest type"), Base16("digest")];
const DNSKEY: &[Field] = &[U16("flags"), U8("protocol"), Algorithm("algorithm"), Base64("public key")];
const RRSIG: &[Field] = &[
    Type("type covered"),
    Algorithm("algorithm"),
    U8("labels"),
    Ttl("original TTL"),
    Time("expiration"),
    Time("inception"),
    U16("key tag"),
    SIGNER,
    Base64("signature"),
];
const TLSA: &[Field] = &[U8("usage"), U8("selector"), U8("matching type"), Base16("data")];
const SVCB: &[Field] = &[U16("priority"), plain("target"), SvcParams];
const STRINGS: &[Field] = &[CharStrings("text")];

macro_rules! d {
    ($n:expr, $m:expr, generic) => {
        Descriptor { rtype: Rtype($n), mnemonic: $m, fields: &[], kind: Kind::GenericOnly }
    };
    ($n:expr, $m:expr, meta) => {
        Descriptor { rtype: Rtype($n), mnemonic: $m, fields: &[], kind: Kind::Meta }
    };
    ($n:expr, $m:expr, $f:expr) => {
        Descriptor { rtype: Rtype($n), mnemonic: $m, fields: $f, kind: Kind::Data }
    };
}

/// Every type Shoal knows by name, sorted by number.
pub static TYPES: &[Descriptor] = &[
    d!(1, "A", &[Ipv4("address")]),
    d!(2, "NS", &[with_additional(rfc1035("nsdname"))]),
    d!(3, "MD", &[rfc1035("madname")]),
    d!(4, "MF", &[rfc1035("madname")]),
    d!(5, "CNAME", &[rfc1035("cname")]),
    d!(6, "SOA", SOA),
    d!(7, "MB", &[rfc1035("madname")]),
    d!(8, "MG", &[rfc1035("mgmname")]),
    d!(9, "MR", &[rfc1035("newname")]),
    d!(10, "NULL", generic),
    d!(11, "WKS", &[Ipv4("address"), Protocol("protocol"), Services("services")]),
    d!(12, "PTR", &[rfc1035("ptrdname")]),
    d!(13, "HINFO", &[CharString("cpu"), CharString("os")]),
    d!(14, "MINFO", &[rfc1035("rmailbx"), rfc1035("emailbx")]),
    d!(15, "MX", &[U16("preference"), with_additional(rfc1035("exchange"))]),
    d!(16, "TXT", STRINGS),
    d!(17, "RP", &[lower("mbox"), lower("txt")]),
    d!(18, "AFSDB", &[U16("subtype"), lower("hostname")]),
    d!(19, "X25", &[CharString("psdn address")]),
    d!(20, "ISDN", &[CharString("address"), OptionalCharString("subaddress")]),
    d!(21, "RT", &[U16("preference"), lower("intermediate host")]),
    d!(22, "NSAP", &[Nsap("address")]),
    d!(24, "SIG", RRSIG),
    d!(25, "KEY", DNSKEY),
    d!(26, "PX", &[U16("preference"), lower("map822"), lower("mapx400")]),
    d!(27, "GPOS", &[CharString("longitude"), CharString("latitude"), CharString("altitude")]),
    d!(28, "AAAA", &[Ipv6("address")]),
    d!(29, "LOC", &[Loc]),
    d!(30, "NXT", generic),
    d!(33, "SRV", &[U16("priority"), U16("weight"), U16("port"), with_additional(lower("target"))]),
    d!(
        35,
        "NAPTR",
        &[
            U16("order"),
            U16("preference"),
            CharString("flags"),
            CharString("services"),
            CharString("regexp"),
            lower("replacement")
        ]
    ),
    d!(36, "KX", &[U16("preference"), lower("exchanger")]),
    d!(37, "CERT", &[CertType("type"), U16("key tag"), Algorithm("algorithm"), Base64("certificate")]),
    d!(38, "A6", generic),
    d!(39, "DNAME", &[lower("target")]),
    d!(41, "OPT", meta),
    d!(42, "APL", &[Apl]),
    d!(43, "DS", DS),
    d!(44, "SSHFP", &[U8("algorithm"), U8("fingerprint type"), Base16("fingerprint")]),
    d!(
        45,
        "IPSECKEY",
        &[U8("precedence"), U8("gateway type"), U8("algorithm"), IpsecGateway("gateway"), OptionalBase64("public key")]
    ),
    d!(46, "RRSIG", RRSIG),
    d!(47, "NSEC", &[plain("next domain"), Bitmap("types")]),
    d!(48, "DNSKEY", DNSKEY),
    d!(49, "DHCID", &[Base64("digest")]),
    d!(
        50,
        "NSEC3",
        &[
            U8("hash algorithm"),
            U8("flags"),
            U16("iterations"),
            Salt("salt"),
            NextHashed("next hashed owner"),
            Bitmap("types")
        ]
    ),
    d!(51, "NSEC3PARAM", &[U8("hash algorithm"), U8("flags"), U16("iterations"), Salt("salt")]),
    d!(52, "TLSA", TLSA),
    d!(53, "SMIMEA", TLSA),
    d!(55, "HIP", &[Hip]),
    d!(56, "NINFO", STRINGS),
    d!(57, "RKEY", DNSKEY),
    d!(58, "TALINK", &[plain("previous"), plain("next")]),
    d!(59, "CDS", DS),
    d!(60, "CDNSKEY", DNSKEY),
    d!(61, "OPENPGPKEY", &[Base64("public key")]),
    d!(62, "CSYNC", &[U32("serial"), U16("flags"), Bitmap("types")]),
    d!(63, "ZONEMD", &[U32("serial"), U8("scheme"), U8("hash algorithm"), Base16("digest")]),
    d!(64, "SVCB", SVCB),
    d!(65, "HTTPS", SVCB),
    d!(99, "SPF", STRINGS),
    d!(104, "NID", &[U16("preference"), Ilnp64("node id")]),
    d!(105, "L32", &[U16("preference"), Ipv4("locator")]),
    d!(106, "L64", &[U16("preference"), Ilnp64("locator")]),
    d!(107, "LP", &[U16("preference"), plain("fqdn")]),
    d!(108, "EUI48", &[Eui48("address")]),
    d!(109, "EUI64", &[Eui64("address")]),
    d!(249, "TKEY", meta),
    d!(250, "TSIG", meta),
    d!(251, "IXFR", meta),
    d!(252, "AXFR", meta),
    d!(253, "MAILB", meta),
    d!(254, "MAILA", meta),
    d!(255, "ANY", meta),
    d!(256, "URI", &[U16("priority"), U16("weight"), Text("target")]),
    d!(257, "CAA", &[U8("flags"), CaaTag("tag"), Text("value")]),
    d!(258, "AVC", STRINGS),
    d!(32769, "DLV", DS),
];

/// Where the names that may be compressed on output start in `rtype`'s RDATA and how
/// many follow one another (RFC 3597 §4: only the RFC 1035 well-known types); `None`
/// for every other type.
#[inline]
pub fn compressed_names(rtype: Rtype) -> Option<(usize, usize)> {
    descriptor(rtype)?.compressed_names()
}

/// The descriptor of `rtype`, if Shoal knows it by name.
#[inline]
pub fn descriptor(rtype: Rtype) -> Option<&'static Descriptor> {
    TYPES.binary_search_by_key(&rtype.0, |d| d.rtype.0).ok().map(|i| &TYPES[i])
}

/// A type by mnemonic or as `TYPEnnn` (case-insensitive).
pub fn rtype_from_text(text: &str) -> Option<Rtype> {
    // Compared as bytes: the fifth byte of a token may fall inside a character.
    let b = text.as_bytes();
    if b.len() > 4 && b[..4].eq_ignore_ascii_case(b"TYPE") && b[4..].iter().all(u8::is_ascii_digit) {
        return text[4..].parse().ok().map(Rtype);
    }
    TYPES.iter().find(|d| d.mnemonic.eq_ignore_ascii_case(text)).map(|d| d.rtype)
}

/// The mnemonic of a type, or `TYPEnnn` (RFC 3597 §5).
pub fn rtype_name(rtype: Rtype) -> std::borrow::Cow<'static, str> {
    match descriptor(rtype) {
        Some(d) => d.mnemonic.into(),
        None => format!("TYPE{}", rtype.0).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_number_without_duplicates() {
        for w in TYPES.windows(2) {
            assert!(w[0].rtype.0 < w[1].rtype.0, "{} before {}", w[0].mnemonic, w[1].mnemonic);
        }
        for d in TYPES {
            assert_eq!(descriptor(d.rtype).map(|x| x.mnemonic), Some(d.mnemonic));
            assert_eq!(rtype_from_text(&d.mnemonic.to_lowercase()), Some(d.rtype));
        }
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(rtype_from_text("aaaa"), Some(Rtype::AAAA));
        assert_eq!(rtype_from_text("TYPE65000"), Some(Rtype(65000)));
        assert_eq!(rtype_from_text("type1"), Some(Rtype::A));
        assert_eq!(rtype_from_text("TYPE"), None);
        assert_eq!(rtype_from_text("BOGUS"), None);
        assert_eq!(rtype_name(Rtype(65000)), "TYPE65000");
        assert_eq!(rtype_name(Rtype::HTTPS), "HTTPS");
    }

    /// Found by the `zone_text` fuzz target: a token whose fifth byte is inside a
    /// character made the `TYPEnnn` check slice the text there and panic.
    #[test]
    fn regression_fuzz_type_mnemonic_with_a_character_across_byte_four() {
        assert_eq!(rtype_from_text("abc\u{e9}"), None);
        assert_eq!(rtype_from_text("TYP\u{e9}1"), None);
        assert_eq!(rtype_from_text("\u{20ac}\u{20ac}"), None);
    }

    #[test]
    fn compression_only_for_the_rfc1035_types() {
        let compressed: Vec<&str> =
            TYPES.iter().filter(|d| d.compressed_names().is_some()).map(|d| d.mnemonic).collect();
        assert_eq!(compressed, ["NS", "MD", "MF", "CNAME", "SOA", "MB", "MG", "MR", "PTR", "MINFO", "MX"]);
        let at = |t| descriptor(t).unwrap().compressed_names();
        assert_eq!(at(Rtype::MX), Some((2, 1)));
        assert_eq!(at(Rtype::SOA), Some((0, 2)));
        assert_eq!(at(Rtype::MINFO), Some((0, 2)));
        assert_eq!(at(Rtype::SRV), None);
    }

    #[test]
    fn additional_targets_of_ns_mx_and_srv() {
        let with: Vec<(&str, usize)> =
            TYPES.iter().filter_map(|d| Some((d.mnemonic, d.additional_target()?))).collect();
        assert_eq!(with, [("NS", 0), ("MX", 2), ("SRV", 6)]);
    }
}
