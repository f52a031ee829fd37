//! A borrowed, validated view of an incoming DNS message.
//!
//! [`Request::parse`] reads the header, the single question (its name lowercased into a
//! fixed buffer) and walks every remaining record so that lying counts, bad names and a
//! malformed or duplicated OPT are caught here, once. It copies nothing but the qname
//! and never allocates.
//!
//! Outcomes follow Knot DNS: too short for a header or QR set → the packet is dropped;
//! anything else malformed → FORMERR (with the question echoed when it parsed).
//! Trailing bytes after the last counted record are FORMERR, as Knot answers them.

use crate::edns::Edns;
use crate::name::{parse_name, skip_name, NameBuf};
use crate::types::HEADER_LEN;
use crate::types::{flags, Class, Opcode, Rtype};

/// Why a message cannot be answered normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not worth a reply: shorter than a header, or a response (QR set).
    Drop,
    /// Malformed: answer FORMERR. `question_end` is set when the question itself parsed
    /// and can be echoed.
    FormErr { question_end: Option<usize> },
}

/// A parsed query.
#[derive(Clone)]
pub struct Request<'a> {
    /// The whole message as received.
    pub msg: &'a [u8],
    pub id: u16,
    /// The second header word (flags, opcode, rcode) as received.
    pub flags: u16,
    pub opcode: Opcode,
    /// The question name, lowercased.
    pub qname: NameBuf,
    pub qtype: Rtype,
    pub qclass: Class,
    /// Offset just past the question (the question is `msg[12..question_end]`).
    pub question_end: usize,
    pub edns: Option<Edns>,
    /// Answer and authority counts as received (NOTIFY and UPDATE carry records).
    pub ancount: u16,
    pub nscount: u16,
    /// Offset of a TSIG record ending the message (RFC 8945 §5.1: it must be last).
    pub tsig_at: Option<usize>,
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

impl<'a> Request<'a> {
    /// Parse a message. See the module documentation for the outcomes.
    pub fn parse(msg: &'a [u8]) -> Result<Request<'a>, ParseError> {
        if msg.len() < HEADER_LEN {
            return Err(ParseError::Drop);
        }
        let fl = be16(msg, 2);
        if fl & flags::QR != 0 {
            return Err(ParseError::Drop);
        }
        let form = |q| ParseError::FormErr { question_end: q };
        let qdcount = be16(msg, 4);
        let ancount = be16(msg, 6);
        let nscount = be16(msg, 8);
        let arcount = be16(msg, 10);
        if qdcount != 1 {
            return Err(form(None));
        }
        let mut qname = NameBuf::default();
        let mut pos = parse_name(msg, HEADER_LEN, &mut qname).map_err(|_| form(None))?;
        // Pointers go backwards, and nothing before the question is a name: a
        // compressed QNAME points into the header, and echoing it would send a
        // question that reads differently (the answer's header is not the query's).
        if pos - HEADER_LEN != qname.as_wire().len() || pos + 4 > msg.len() {
            return Err(form(None));
        }
        let qtype = Rtype(be16(msg, pos));
        let qclass = Class(be16(msg, pos + 2));
        pos += 4;
        let question_end = pos;
        let q = Some(question_end);

        let mut edns = None;
        let mut tsig_at = None;
        let total = ancount as usize + nscount as usize + arcount as usize;
        let first_additional = ancount as usize + nscount as usize;
        for i in 0..total {
            let owner = pos;
            pos = skip_name(msg, pos).map_err(|_| form(q))?;
            if pos + 10 > msg.len() {
                return Err(form(q));
            }
            let rtype = Rtype(be16(msg, pos));
            let class = be16(msg, pos + 2);
            let ttl = u32::from_be_bytes([msg[pos + 4], msg[pos + 5], msg[pos + 6], msg[pos + 7]]);
            let rdlen = be16(msg, pos + 8) as usize;
            let rdata_start = pos + 10;
            pos = rdata_start + rdlen;
            if pos > msg.len() {
                return Err(form(q));
            }
            if rtype == Rtype::OPT {
                // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
                if i < first_additional || edns.is_some() || msg[owner] != 0 {
                    return Err(form(q));
                }
                let e = Edns::parse(class, ttl, &msg[rdata_start..pos], rdata_start).map_err(|_| form(q))?;
                edns = Some(e);
            }
            if rtype == Rtype::TSIG {
                if i + 1 != total || i < first_additional {
                    return Err(form(q));
                }
                tsig_at = Some(owner);
            }
        }
        if pos != msg.len() {
            return Err(form(q));
        }
        Ok(Request {
            msg,
            id: be16(msg, 0),
            flags: fl,
            opcode: Opcode(((fl >> 11) & 0x0f) as u8),
            qname,
            qtype,
            qclass,
            question_end,
            edns,
            ancount,
            nscount,
            tsig_at,
        })
    }

    /// The query's DNS cookie (RFC 7873): the client cookie and the server cookie it
    /// brought back (empty when none).
    pub fn cookie(&self) -> Option<(&'a [u8; 8], &'a [u8])> {
        let (at, len) = self.edns?.cookie?;
        let data = self.msg.get(usize::from(at)..usize::from(at) + usize::from(len))?;
        Some((data[..8].try_into().ok()?, &data[8..]))
    }

    /// The question as received (client's case), ready to be echoed.
    pub fn question_bytes(&self) -> &'a [u8] {
        &self.msg[HEADER_LEN..self.question_end]
    }

    pub fn rd(&self) -> bool {
        self.flags & flags::RD != 0
    }

    pub fn cd(&self) -> bool {
        self.flags & flags::CD != 0
    }

    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|e| e.dnssec_ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&arcount.to_be_bytes());
        m.extend_from_slice(name);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(extra);
        m
    }

    const OPT: &[u8] = &[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0];

    #[test]
    fn parses_question_and_opt() {
        let m = query(b"\x03WwW\x07example\x00", 1, OPT, 1);
        let r = Request::parse(&m).unwrap();
        assert_eq!(r.id, 0x1234);
        assert!(r.rd());
        assert_eq!(r.qname.as_wire(), b"\x03www\x07example\x00");
        assert_eq!(r.question_bytes(), &m[12..m.len() - OPT.len()]);
        let e = r.edns.unwrap();
        assert_eq!(e.payload, 1232);
        assert!(e.dnssec_ok);
    }

    #[test]
    fn response_and_short_packets_are_dropped() {
        assert_eq!(Request::parse(&[0; 11]).err(), Some(ParseError::Drop));
        let mut m = query(b"\x00", 1, &[], 0);
        m[2] |= 0x80;
        assert_eq!(Request::parse(&m).err(), Some(ParseError::Drop));
    }

    #[test]
    fn lying_counts_duplicate_opt_and_trailing_bytes_are_formerr() {
        let m = query(b"\x00", 1, &[], 1);
        assert!(matches!(Request::parse(&m), Err(ParseError::FormErr { question_end: Some(_) })));
        let mut two = OPT.to_vec();
        two.extend_from_slice(OPT);
        let m = query(b"\x00", 1, &two, 2);
        assert!(matches!(Request::parse(&m), Err(ParseError::FormErr { .. })));
        let m = query(b"\x00", 1, b"junk", 0);
        assert!(matches!(Request::parse(&m), Err(ParseError::FormErr { .. })));
        let mut m = query(b"\x00", 1, &[], 0);
        m[5] = 0;
        assert_eq!(Request::parse(&m).err(), Some(ParseError::FormErr { question_end: None }));
    }

    /// Found by the `query` fuzz target: a QNAME that is a pointer into the header was
    /// read as the name there and echoed as sent, a pointer into the answer's header,
    /// so the answer's question read as another name or none (label type 0x80).
    #[test]
    fn regression_fuzz_compressed_qname_is_formerr_without_the_question() {
        for name in [&b"\xc0\x02"[..], b"\xc0\x0b", b"\x03www\xc0\x0b", b"\x01a\xc0\x0c"] {
            let m = query(name, 1, &[], 0);
            assert_eq!(Request::parse(&m).err(), Some(ParseError::FormErr { question_end: None }), "{name:?}");
        }
    }

    #[test]
    fn opt_with_non_root_owner_is_formerr() {
        let mut opt = vec![1, b'a', 0];
        opt.extend_from_slice(&OPT[1..]);
        let m = query(b"\x00", 1, &opt, 1);
        assert!(matches!(Request::parse(&m), Err(ParseError::FormErr { .. })));
    }
}
