//! Numeric protocol constants: record types, classes, opcodes and response codes.
//!
//! They are plain `u16`/`u8` newtypes rather than enums so that values this server
//! has never heard of (RFC 3597 unknown types) pass through unchanged.

/// Size of the fixed DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;

/// A resource record type (RFC 1035 §3.2.2 and later registries).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Rtype(pub u16);

impl Rtype {
    pub const A: Rtype = Rtype(1);
    pub const NS: Rtype = Rtype(2);
    pub const CNAME: Rtype = Rtype(5);
    pub const SOA: Rtype = Rtype(6);
    pub const MB: Rtype = Rtype(7);
    pub const MG: Rtype = Rtype(8);
    pub const MR: Rtype = Rtype(9);
    pub const NULL: Rtype = Rtype(10);
    pub const WKS: Rtype = Rtype(11);
    pub const PTR: Rtype = Rtype(12);
    pub const HINFO: Rtype = Rtype(13);
    pub const MINFO: Rtype = Rtype(14);
    pub const MX: Rtype = Rtype(15);
    pub const TXT: Rtype = Rtype(16);
    pub const RP: Rtype = Rtype(17);
    pub const AFSDB: Rtype = Rtype(18);
    pub const RT: Rtype = Rtype(21);
    pub const SIG: Rtype = Rtype(24);
    pub const KEY: Rtype = Rtype(25);
    pub const AAAA: Rtype = Rtype(28);
    pub const LOC: Rtype = Rtype(29);
    pub const SRV: Rtype = Rtype(33);
    pub const NAPTR: Rtype = Rtype(35);
    pub const KX: Rtype = Rtype(36);
    pub const CERT: Rtype = Rtype(37);
    pub const DNAME: Rtype = Rtype(39);
    pub const OPT: Rtype = Rtype(41);
    pub const DS: Rtype = Rtype(43);
    pub const SSHFP: Rtype = Rtype(44);
    pub const RRSIG: Rtype = Rtype(46);
    pub const NSEC: Rtype = Rtype(47);
    pub const DNSKEY: Rtype = Rtype(48);
    pub const NSEC3: Rtype = Rtype(50);
    pub const NSEC3PARAM: Rtype = Rtype(51);
    pub const TLSA: Rtype = Rtype(52);
    pub const SMIMEA: Rtype = Rtype(53);
    pub const CDS: Rtype = Rtype(59);
    pub const CDNSKEY: Rtype = Rtype(60);
    pub const OPENPGPKEY: Rtype = Rtype(61);
    pub const CSYNC: Rtype = Rtype(62);
    pub const ZONEMD: Rtype = Rtype(63);
    pub const SVCB: Rtype = Rtype(64);
    pub const HTTPS: Rtype = Rtype(65);
    pub const SPF: Rtype = Rtype(99);
    pub const TKEY: Rtype = Rtype(249);
    pub const TSIG: Rtype = Rtype(250);
    pub const IXFR: Rtype = Rtype(251);
    pub const AXFR: Rtype = Rtype(252);
    pub const MAILB: Rtype = Rtype(253);
    pub const MAILA: Rtype = Rtype(254);
    pub const ANY: Rtype = Rtype(255);
    pub const URI: Rtype = Rtype(256);
    pub const CAA: Rtype = Rtype(257);

    /// Types that only make sense in a question or as a transport artefact
    /// (RFC 6895 §3.1: meta-types and q-types). They never appear in zone data.
    pub fn is_meta(self) -> bool {
        matches!(self.0, 41 | 128..=255) || self == Rtype(0)
    }
}

/// A class (RFC 1035 §3.2.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Class(pub u16);

impl Class {
    pub const IN: Class = Class(1);
    pub const CH: Class = Class(3);
    pub const NONE: Class = Class(254);
    pub const ANY: Class = Class(255);
}

/// An opcode (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Opcode(pub u8);

impl Opcode {
    pub const QUERY: Opcode = Opcode(0);
    pub const NOTIFY: Opcode = Opcode(4);
    pub const UPDATE: Opcode = Opcode(5);
}

/// A response code, including the extended codes carried in OPT (RFC 6891 §6.1.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rcode(pub u16);

impl Rcode {
    pub const NOERROR: Rcode = Rcode(0);
    pub const FORMERR: Rcode = Rcode(1);
    pub const SERVFAIL: Rcode = Rcode(2);
    pub const NXDOMAIN: Rcode = Rcode(3);
    pub const NOTIMP: Rcode = Rcode(4);
    pub const REFUSED: Rcode = Rcode(5);
    pub const YXDOMAIN: Rcode = Rcode(6);
    pub const NOTAUTH: Rcode = Rcode(9);
    pub const BADVERS: Rcode = Rcode(16);

    /// The low four bits, which go in the header.
    pub fn header_bits(self) -> u8 {
        (self.0 & 0x0f) as u8
    }

    /// The high eight bits, which go in the OPT record's TTL field.
    pub fn extended_bits(self) -> u8 {
        (self.0 >> 4) as u8
    }
}

/// Header flag bits in the second 16-bit word of the header.
pub mod flags {
    pub const QR: u16 = 0x8000;
    /// The four opcode bits.
    pub const OPCODE: u16 = 0x7800;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const AD: u16 = 0x0020;
    pub const CD: u16 = 0x0010;
}
