//! Incoming zone transfers: the records of an AXFR or IXFR response stream, parsed and
//! validated message by message ([`XfrParser`]).
//!
//! Names are decompressed, including inside the RDATA of the types whose names may be
//! compressed on the wire (RFC 3597 §4 lists the RFC 1035 types; SRV, NAPTR, RP, AFSDB,
//! RT, KX, PX and DNAME are decompressed too, as senders differ). Every record must be
//! class IN and inside the zone; the stream must start with the zone's SOA and end with
//! it (RFC 5936 §2.2). IXFR responses (RFC 1995 §4) are told apart by their second
//! record: the client's SOA starts the incremental form, anything else is a full zone.
//!
//! The records of a full zone are handed to a [`Sink`] as they arrive (the version
//! held compares them as they stream in, [`crate::change::incoming`]), never collected here;
//! the steps of an incremental answer are collected and returned.

use crate::change::diff::{soa_serial, Diff, Rr};
use crate::change::xfr_out::RrRef;
use crate::text::load::Sink;
use shoal_wire::message::Header;
use shoal_wire::name::{is_subdomain, parse_name, Display};
use shoal_wire::rdata::field::Field;
use shoal_wire::{Name, NameBuf, Rcode, Rtype};

/// Why a transfer stream is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XfrError {
    /// The primary answered with this RCODE.
    Rcode(u8),
    Malformed(&'static str),
    OutOfZone(String),
    NotClassIn,
    FirstNotSoa,
    /// The stream ended before the closing SOA.
    Incomplete,
    /// Records after the closing SOA.
    TrailingData,
}

impl std::fmt::Display for XfrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XfrError::Rcode(r) => write!(f, "primary answered RCODE {r}"),
            XfrError::Malformed(w) => write!(f, "malformed message: {w}"),
            XfrError::OutOfZone(o) => write!(f, "record outside the zone: {o}"),
            XfrError::NotClassIn => write!(f, "record not of class IN"),
            XfrError::FirstNotSoa => write!(f, "transfer does not start with the zone's SOA"),
            XfrError::Incomplete => write!(f, "transfer ended before the closing SOA"),
            XfrError::TrailingData => write!(f, "records after the closing SOA"),
        }
    }
}

impl std::error::Error for XfrError {}

/// What a transfer brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The primary has nothing newer than the client's serial.
    UpToDate { serial: u32 },
    /// A whole zone, given to the sink record by record (SOA included once).
    Full { records: usize },
    /// Diffs from the client's serial on.
    Incremental(Vec<Diff>),
}

enum State {
    Start,
    /// Got the first SOA; the second record decides the form.
    AfterFirst,
    Full,
    Deleting,
    Adding,
    Done,
}

/// Accumulates a transfer's messages.
pub struct XfrParser {
    apex: Name,
    /// The serial held, for IXFR; `None` for AXFR.
    client_serial: Option<u32>,
    first: Option<Rr>,
    state: State,
    /// Records of a full zone given to the sink.
    records: usize,
    diffs: Vec<Diff>,
    current: Option<Diff>,
    pub messages: usize,
    pub bytes: usize,
}

impl XfrParser {
    pub fn new(apex: Name, client_serial: Option<u32>) -> Self {
        XfrParser {
            apex,
            client_serial,
            first: None,
            state: State::Start,
            records: 0,
            diffs: Vec::new(),
            current: None,
            messages: 0,
            bytes: 0,
        }
    }

    /// Whether the closing SOA has been seen.
    pub fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Records received so far.
    pub fn record_count(&self) -> usize {
        self.records + self.diffs.iter().map(Diff::len).sum::<usize>()
    }

    /// Feed one response message (TSIG already checked and stripped by the caller);
    /// the records of a full zone go to `full`.
    pub fn feed(&mut self, msg: &[u8], full: &mut dyn Sink) -> Result<(), XfrError> {
        self.messages += 1;
        self.bytes += msg.len();
        let header = Header::of(msg).ok_or(XfrError::Malformed("shorter than a header"))?;
        if !header.is_response() {
            return Err(XfrError::Malformed("not a response"));
        }
        if header.rcode() != Rcode::NOERROR {
            return Err(XfrError::Rcode(header.rcode().0 as u8));
        }
        let (qd, an) = (header.qdcount(), header.ancount());
        let mut pos = shoal_wire::HEADER_LEN;
        let mut scratch = NameBuf::default();
        for _ in 0..qd {
            pos = parse_name(msg, pos, &mut scratch).map_err(|_| XfrError::Malformed("bad question"))? + 4;
        }
        let mut rdata = Vec::with_capacity(512);
        for _ in 0..an {
            let (rtype, class, ttl, next) = read_rr(msg, pos, &mut scratch, &mut rdata)?;
            pos = next;
            if class != 1 {
                return Err(XfrError::NotClassIn);
            }
            self.record(RrRef { owner: scratch.as_wire(), rtype, ttl, rdata: &rdata }, full)?;
        }
        Ok(())
    }

    fn give(&mut self, full: &mut dyn Sink, r: RrRef<'_>) {
        self.records += 1;
        full.record(r.owner, r.rtype, r.ttl, r.rdata, 0, self.records as u32);
    }

    fn record(&mut self, rr: RrRef<'_>, full: &mut dyn Sink) -> Result<(), XfrError> {
        if !is_subdomain(rr.owner, self.apex.as_wire()) {
            return Err(XfrError::OutOfZone(Display(rr.owner).to_string()));
        }
        let is_soa = rr.rtype == Rtype::SOA;
        let at_apex = rr.owner == self.apex.as_wire();
        let owned = |r: &RrRef<'_>| Rr {
            owner: Name::from_wire(r.owner).expect("parsed name"),
            rtype: r.rtype,
            ttl: r.ttl,
            rdata: r.rdata.into(),
        };
        let final_serial = self.first.as_ref().map(|f| soa_serial(&f.rdata));
        match self.state {
            State::Start => {
                if !is_soa || !at_apex {
                    return Err(XfrError::FirstNotSoa);
                }
                self.first = Some(owned(&rr));
                self.state = State::AfterFirst;
            }
            State::AfterFirst => {
                let first = self.first.clone().expect("set in Start");
                if is_soa && self.client_serial == Some(soa_serial(rr.rdata)) && at_apex {
                    self.current = Some(Diff { old_soa: owned(&rr), new_soa: first, removed: vec![], added: vec![] });
                    self.state = State::Deleting;
                } else if is_soa && soa_serial(rr.rdata) == soa_serial(&first.rdata) {
                    // An empty zone body: SOA, SOA.
                    self.give(full, RrRef::from(&first));
                    self.state = State::Done;
                } else {
                    self.give(full, RrRef::from(&first));
                    self.give(full, rr);
                    self.state = State::Full;
                }
            }
            State::Full => {
                if is_soa {
                    if Some(soa_serial(rr.rdata)) != final_serial || !at_apex {
                        return Err(XfrError::Malformed("SOA inside a full zone transfer"));
                    }
                    self.state = State::Done;
                } else {
                    self.give(full, rr);
                }
            }
            State::Deleting => {
                let cur = self.current.as_mut().expect("set when Deleting");
                if is_soa {
                    cur.new_soa = owned(&rr);
                    self.state = State::Adding;
                } else {
                    cur.removed.push(owned(&rr));
                }
            }
            State::Adding => {
                if is_soa {
                    let cur = self.current.take().expect("set when Adding");
                    let ended_at_final = Some(cur.new_serial()) == final_serial;
                    if soa_serial(rr.rdata) != cur.new_serial() {
                        return Err(XfrError::Malformed("IXFR sequence does not continue from the previous one"));
                    }
                    self.diffs.push(cur);
                    if ended_at_final {
                        self.state = State::Done;
                    } else {
                        let soa = owned(&rr);
                        self.current =
                            Some(Diff { old_soa: soa.clone(), new_soa: soa, removed: vec![], added: vec![] });
                        self.state = State::Deleting;
                    }
                } else {
                    self.current.as_mut().expect("set when Adding").added.push(owned(&rr));
                }
            }
            State::Done => return Err(XfrError::TrailingData),
        }
        Ok(())
    }

    /// The result, once the stream has ended.
    pub fn finish(self) -> Result<Received, XfrError> {
        match self.state {
            State::Done if !self.diffs.is_empty() => Ok(Received::Incremental(self.diffs)),
            State::Done => Ok(Received::Full { records: self.records }),
            // A lone SOA answers an IXFR whose client is current (RFC 1995 §2).
            State::AfterFirst if self.client_serial.is_some() => {
                let first = self.first.expect("set");
                Ok(Received::UpToDate { serial: soa_serial(&first.rdata) })
            }
            _ => Err(XfrError::Incomplete),
        }
    }
}

/// Read one record at `pos` into `owner` (lowercased, as `parse_name` reads every
/// name) and `rdata` (names in it decompressed): its type, class, TTL, and the offset after it.
fn read_rr(
    msg: &[u8],
    pos: usize,
    owner: &mut NameBuf,
    rdata: &mut Vec<u8>,
) -> Result<(Rtype, u16, u32, usize), XfrError> {
    let p = parse_name(msg, pos, owner).map_err(|_| XfrError::Malformed("bad owner name"))?;
    let h = msg.get(p..p + 10).ok_or(XfrError::Malformed("truncated record"))?;
    let rtype = Rtype(u16::from_be_bytes([h[0], h[1]]));
    let class = u16::from_be_bytes([h[2], h[3]]);
    let ttl = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let rdlen = u16::from_be_bytes([h[8], h[9]]) as usize;
    let start = p + 10;
    let end = start + rdlen;
    if end > msg.len() {
        return Err(XfrError::Malformed("RDATA past the end of the message"));
    }
    rdata.clear();
    let mut i = start;
    // Names are decompressed where the record-type table says a sender may have
    // compressed them (the types whose names are lowercased in canonical form, as RFC
    // 3597 §4 and RFC 4034 §6.2 list them); the rest of the RDATA is copied as it is.
    for f in shoal_wire::rdata::descriptor(rtype).map_or(&[][..], |d| d.fields) {
        match f {
            Field::Name(n) if n.canonical_lower => {
                let mut name = NameBuf::default();
                i = parse_name(msg, i, &mut name).map_err(|_| XfrError::Malformed("bad name in RDATA"))?;
                rdata.extend_from_slice(name.as_wire());
            }
            Field::CharString(_) => {
                let l = *msg.get(i).ok_or(XfrError::Malformed("short RDATA"))? as usize;
                rdata.extend_from_slice(msg.get(i..i + 1 + l).ok_or(XfrError::Malformed("short RDATA"))?);
                i += 1 + l;
            }
            f => match f.fixed_len() {
                Some(k) => {
                    rdata.extend_from_slice(msg.get(i..i + k).ok_or(XfrError::Malformed("short RDATA"))?);
                    i += k;
                }
                // A field of varying length: the rest goes as it is.
                None => break,
            },
        }
        if i > end {
            return Err(XfrError::Malformed("RDATA fields run past RDLENGTH"));
        }
    }
    rdata.extend_from_slice(&msg[i.min(end)..end]);
    if rtype == Rtype::SOA && rdata.len() < 22 {
        return Err(XfrError::Malformed("short SOA"));
    }
    if rdata.len() > usize::from(u16::MAX) {
        return Err(XfrError::Malformed("RDATA longer than 65535 bytes once decompressed"));
    }
    Ok((rtype, class, ttl, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::diff::diff;
    use crate::change::xfr_out::{axfr_records, ixfr_records, Packer};
    use crate::text::load::Loaded;
    use shoal_wire::name::from_ascii;
    use std::path::Path;

    fn snap(text: &str) -> crate::Snapshot {
        crate::load_zone_str(&from_ascii("example.com.").unwrap(), text, Path::new("t")).unwrap()
    }

    fn messages<'a>(recs: impl Iterator<Item = crate::change::xfr_out::RrRef<'a>>, limit: usize) -> Vec<Vec<u8>> {
        Packer::new(1, b"\x07example\x03com\x00\x00\xfc\x00\x01", limit).all_messages(recs)
    }

    const V1: &str = "@ 60 SOA ns hm 1 2 3 4 5\n@ 60 NS ns\n@ 60 MX 10 mail\nns 60 A 192.0.2.1\nmail 60 A 192.0.2.2\n_s._tcp 60 SRV 0 0 1 mail\n";
    const V2: &str = "@ 60 SOA ns hm 2 2 3 4 5\n@ 60 NS ns\n@ 60 MX 10 mail\nns 60 A 192.0.2.1\nmail 60 A 192.0.2.3\n_s._tcp 60 SRV 0 0 1 mail\n";

    #[test]
    fn axfr_roundtrip_through_messages() {
        let s = snap(V1);
        let mut p = XfrParser::new(s.apex().clone(), None);
        let mut got = Loaded::default();
        for m in messages(axfr_records(&s), 120) {
            p.feed(&m, &mut got).unwrap();
        }
        assert!(p.done());
        assert_eq!(p.finish().unwrap(), Received::Full { records: got.records.len() });
        let mut recs: Vec<Rr> = got
            .records
            .into_iter()
            .map(|r| Rr { owner: r.owner, rtype: r.rtype, ttl: r.ttl, rdata: r.rdata })
            .collect();
        recs.sort();
        assert_eq!(recs, crate::change::apply::records_of(&s));
    }

    #[test]
    fn ixfr_incremental_and_up_to_date() {
        let (a, b) = (snap(V1), snap(V2));
        let d = diff(&a, &b);
        let cur = crate::change::diff::soa_of(&b);
        let mut p = XfrParser::new(a.apex().clone(), Some(1));
        for m in messages(ixfr_records(&cur, std::slice::from_ref(&d)), 512) {
            p.feed(&m, &mut Loaded::default()).unwrap();
        }
        assert_eq!(p.finish().unwrap(), Received::Incremental(vec![d]));
        let mut p = XfrParser::new(a.apex().clone(), Some(2));
        for m in messages(std::iter::once(crate::change::xfr_out::RrRef::from(&cur)), 512) {
            p.feed(&m, &mut Loaded::default()).unwrap();
        }
        assert_eq!(p.finish().unwrap(), Received::UpToDate { serial: 2 });
    }

    #[test]
    fn broken_streams_are_errors() {
        let s = snap(V1);
        let msgs = messages(axfr_records(&s), 100);
        let mut sink = Loaded::default();
        let mut p = XfrParser::new(s.apex().clone(), None);
        p.feed(&msgs[0], &mut sink).unwrap();
        assert_eq!(p.finish().unwrap_err(), XfrError::Incomplete);
        let mut p = XfrParser::new(from_ascii("example.org.").unwrap(), None);
        assert!(matches!(p.feed(&msgs[0], &mut sink).unwrap_err(), XfrError::OutOfZone(_)));
        let mut m = msgs[0].clone();
        m[3] |= 5;
        let mut p = XfrParser::new(s.apex().clone(), None);
        assert_eq!(p.feed(&m, &mut sink).unwrap_err(), XfrError::Rcode(5));
        // Garbage after the header.
        let mut p = XfrParser::new(s.apex().clone(), None);
        let mut g = msgs[0][..40].to_vec();
        g.extend_from_slice(&[0xc0, 0xff, 1, 2]);
        assert!(p.feed(&g, &mut sink).is_err());
    }
}
