//! The slow-path message layer: [`Header`], a view of any message's fixed header
//! (RFC 1035 §4.1.1), and [`MessageBuilder`], which writes a whole message (queries,
//! NOTIFY, replies of the transfer side) into an owned buffer. Code outside this crate
//! reads header bits and writes header bytes only through these.
//!
//! The query path does not use this module: it has [`crate::Request`] and
//! [`crate::ResponseWriter`], which never allocate.

use crate::types::HEADER_LEN;
use crate::types::{flags, Class, Opcode, Rcode, Rtype};

/// The fixed header of a message of at least [`HEADER_LEN`] bytes.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a>(&'a [u8]);

impl<'a> Header<'a> {
    /// The header of `msg`, `None` when it is shorter than a header.
    pub fn of(msg: &'a [u8]) -> Option<Header<'a>> {
        (msg.len() >= HEADER_LEN).then_some(Header(msg))
    }

    fn word(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.0[at], self.0[at + 1]])
    }

    pub fn id(&self) -> u16 {
        self.word(0)
    }

    /// The second header word (QR, opcode, AA, TC, RD, RA, AD, CD, RCODE).
    pub fn flags(&self) -> u16 {
        self.word(2)
    }

    pub fn is_response(&self) -> bool {
        self.flags() & flags::QR != 0
    }

    pub fn is_truncated(&self) -> bool {
        self.flags() & flags::TC != 0
    }

    pub fn is_authoritative(&self) -> bool {
        self.flags() & flags::AA != 0
    }

    pub fn opcode(&self) -> Opcode {
        Opcode(((self.flags() >> 11) & 0x0f) as u8)
    }

    /// The header's four RCODE bits (an OPT record may extend them).
    pub fn rcode(&self) -> Rcode {
        Rcode(self.flags() & 0x0f)
    }

    pub fn qdcount(&self) -> u16 {
        self.word(4)
    }

    pub fn ancount(&self) -> u16 {
        self.word(6)
    }

    pub fn nscount(&self) -> u16 {
        self.word(8)
    }

    pub fn arcount(&self) -> u16 {
        self.word(10)
    }
}

/// The header fields a signer rewrites in a message it holds: the ID and ARCOUNT.
pub struct HeaderMut<'a>(&'a mut [u8]);

impl<'a> HeaderMut<'a> {
    /// The header of `msg`, `None` when it is shorter than a header.
    pub fn of(msg: &'a mut [u8]) -> Option<HeaderMut<'a>> {
        (msg.len() >= HEADER_LEN).then_some(HeaderMut(msg))
    }

    pub fn set_id(&mut self, id: u16) {
        self.0[0..2].copy_from_slice(&id.to_be_bytes());
    }

    /// Add `delta` (which may be negative) to ARCOUNT, saturating.
    pub fn add_arcount(&mut self, delta: i32) {
        let ar = i32::from(u16::from_be_bytes([self.0[10], self.0[11]]));
        let n = (ar + delta).clamp(0, i32::from(u16::MAX)) as u16;
        self.0[10..12].copy_from_slice(&n.to_be_bytes());
    }
}

/// The section a record goes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// A message written front to back: header, question, then records section by
/// section (a record for an earlier section after a later one is a bug).
pub struct MessageBuilder {
    buf: Vec<u8>,
    section: Section,
}

impl MessageBuilder {
    /// A message with `id` and the flags word `flags` (opcode and bits; counts follow).
    pub fn new(id: u16, flags: u16) -> MessageBuilder {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0; 8]);
        MessageBuilder { buf, section: Section::Answer }
    }

    /// A query (or NOTIFY, with `opcode`) with the given flag bits (`flags::RD`, `flags::AA`).
    pub fn query(id: u16, opcode: Opcode, bits: u16) -> MessageBuilder {
        MessageBuilder::new(id, (u16::from(opcode.0) << 11) | bits)
    }

    /// A reply to the message whose header is `to`: same ID and opcode, QR set, `rcode`,
    /// the `bits` given (`flags::AA`), RD copied.
    pub fn reply(to: &Header<'_>, rcode: Rcode, bits: u16) -> MessageBuilder {
        let fl = flags::QR | (to.flags() & (flags::OPCODE | flags::RD)) | bits | (rcode.0 & 0x0f);
        MessageBuilder::new(to.id(), fl)
    }

    fn bump(&mut self, at: usize) {
        let n = u16::from_be_bytes([self.buf[at], self.buf[at + 1]]).wrapping_add(1);
        self.buf[at..at + 2].copy_from_slice(&n.to_be_bytes());
    }

    /// Add a question (`name` in wire form).
    pub fn question(mut self, name: &[u8], qtype: Rtype, class: Class) -> MessageBuilder {
        self.buf.extend_from_slice(name);
        self.buf.extend_from_slice(&qtype.0.to_be_bytes());
        self.buf.extend_from_slice(&class.0.to_be_bytes());
        self.bump(4);
        self
    }

    /// Add a question copied from another message (name, type and class in wire form).
    pub fn question_bytes(mut self, question: &[u8]) -> MessageBuilder {
        self.buf.extend_from_slice(question);
        self.bump(4);
        self
    }

    /// Add a record to `section`; `owner` in wire form, uncompressed.
    pub fn record(mut self, section: Section, owner: &[u8], rtype: Rtype, ttl: u32, rdata: &[u8]) -> MessageBuilder {
        debug_assert!(section >= self.section, "records are added section by section");
        self.section = section;
        self.buf.extend_from_slice(owner);
        self.buf.extend_from_slice(&rtype.0.to_be_bytes());
        self.buf.extend_from_slice(&Class::IN.0.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let len = u16::try_from(rdata.len()).expect("RDATA of at most 65535 bytes");
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(rdata);
        self.bump(match section {
            Section::Answer => 6,
            Section::Authority => 8,
            Section::Additional => 10,
        });
        self
    }

    /// Add an OPT record (RFC 6891) advertising `payload`, with `options` (raw option
    /// code, length and data), as the last record before any TSIG.
    pub fn opt(mut self, payload: u16, options: &[u8]) -> MessageBuilder {
        self.section = Section::Additional;
        self.buf.push(0);
        self.buf.extend_from_slice(&Rtype::OPT.0.to_be_bytes());
        self.buf.extend_from_slice(&payload.to_be_bytes());
        self.buf.extend_from_slice(&0u32.to_be_bytes());
        let len = u16::try_from(options.len()).expect("options of at most 65535 bytes");
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(options);
        self.bump(10);
        self
    }

    /// The message.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_messages_read_back_through_the_header_view() {
        let zone = b"\x07example\x00";
        let soa = [0u8; 22];
        let m = MessageBuilder::query(0x1234, Opcode::NOTIFY, flags::AA)
            .question(zone, Rtype::SOA, Class::IN)
            .record(Section::Answer, zone, Rtype::SOA, 3600, &soa)
            .finish();
        let h = Header::of(&m).unwrap();
        assert_eq!((h.id(), h.opcode(), h.is_authoritative(), h.is_response()), (0x1234, Opcode::NOTIFY, true, false));
        assert_eq!((h.qdcount(), h.ancount(), h.nscount(), h.arcount()), (1, 1, 0, 0));
        assert_eq!(m.len(), 12 + zone.len() + 4 + zone.len() + 10 + soa.len());
        let r = MessageBuilder::reply(&h, Rcode::REFUSED, 0).question_bytes(&m[12..12 + zone.len() + 4]).finish();
        let rh = Header::of(&r).unwrap();
        assert_eq!(
            (rh.id(), rh.opcode(), rh.is_response(), rh.rcode()),
            (0x1234, Opcode::NOTIFY, true, Rcode::REFUSED)
        );
        assert!(!rh.is_authoritative());
        assert!(Header::of(&r[..11]).is_none());
        let mut signed = r.clone();
        let mut h = HeaderMut::of(&mut signed).unwrap();
        h.set_id(7);
        h.add_arcount(1);
        h.add_arcount(-2);
        assert_eq!((Header::of(&signed).unwrap().id(), Header::of(&signed).unwrap().arcount()), (7, 0));
    }
}
