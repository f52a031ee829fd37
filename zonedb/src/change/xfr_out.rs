//! Outgoing zone transfers as messages: AXFR (RFC 5936) and IXFR (RFC 1995).
//!
//! A transfer is a sequence of records ([`axfr_records`], [`ixfr_records`]) packed into
//! as few messages as possible ([`Packer`]): each message is filled up to a limit with
//! whole records, names compressed within it. The question is echoed in the first
//! message only (RFC 5936 §2.2.1). TSIG signing of each message is the caller's job;
//! the packer leaves room for it.

use crate::change::diff::{Diff, Rr};
use crate::store::snapshot::Snapshot;
use shoal_wire::types::flags;
use shoal_wire::writer::{Owner, ResponseWriter, Section};
use shoal_wire::{Class, Rtype};
use std::collections::BTreeSet;

/// A record borrowed from a snapshot or a diff.
#[derive(Clone, Copy, Debug)]
pub struct RrRef<'a> {
    pub owner: &'a [u8],
    pub rtype: Rtype,
    pub ttl: u32,
    pub rdata: &'a [u8],
}

impl<'a> From<&'a Rr> for RrRef<'a> {
    fn from(r: &'a Rr) -> Self {
        RrRef { owner: r.owner.as_wire(), rtype: r.rtype, ttl: r.ttl, rdata: &r.rdata }
    }
}

/// The whole zone: SOA, every other record (glue and occluded data included), SOA.
pub fn axfr_records(s: &Snapshot) -> impl Iterator<Item = RrRef<'_>> {
    let apex = s.apex().as_wire();
    let soa = s.apex_node().rrset(Rtype::SOA).expect("zone has SOA");
    let soa_ref = RrRef { owner: apex, rtype: Rtype::SOA, ttl: soa.ttl, rdata: soa.first() };
    let body = s.nodes().flat_map(|node| {
        node.rrsets().filter(|r| r.rtype != Rtype::SOA).flat_map(move |r| {
            r.rdatas().map(move |rd| RrRef { owner: node.name(), rtype: r.rtype, ttl: r.ttl, rdata: rd })
        })
    });
    std::iter::once(soa_ref).chain(body).chain(std::iter::once(soa_ref))
}

/// An IXFR response body: new SOA, then per diff old SOA, removals, new SOA, additions,
/// and the new SOA again (RFC 1995 §4).
pub fn ixfr_records<'a>(current: &'a Rr, diffs: &'a [Diff]) -> impl Iterator<Item = RrRef<'a>> {
    let steps = diffs.iter().flat_map(|d| {
        std::iter::once(RrRef::from(&d.old_soa))
            .chain(d.removed.iter().map(RrRef::from))
            .chain(std::iter::once(RrRef::from(&d.new_soa)))
            .chain(d.added.iter().map(RrRef::from))
    });
    std::iter::once(RrRef::from(current)).chain(steps).chain(std::iter::once(RrRef::from(current)))
}

/// Merge consecutive diffs into one: a record added then removed disappears, a record
/// removed then re-added is unchanged.
pub fn condense(diffs: &[Diff]) -> Option<Diff> {
    let first = diffs.first()?;
    let last = diffs.last()?;
    let mut removed: BTreeSet<Rr> = BTreeSet::new();
    let mut added: BTreeSet<Rr> = BTreeSet::new();
    for d in diffs {
        for r in &d.removed {
            if !added.remove(r) {
                removed.insert(r.clone());
            }
        }
        for a in &d.added {
            if !removed.remove(a) {
                added.insert(a.clone());
            }
        }
    }
    Some(Diff {
        old_soa: first.old_soa.clone(),
        new_soa: last.new_soa.clone(),
        removed: removed.into_iter().collect(),
        added: added.into_iter().collect(),
    })
}

/// Packs records into transfer messages.
pub struct Packer<'q> {
    pub id: u16,
    /// The request's question section as received.
    pub question: &'q [u8],
    /// Maximum message size, room for TSIG already subtracted.
    pub limit: usize,
    first: bool,
}

impl<'q> Packer<'q> {
    pub fn new(id: u16, question: &'q [u8], limit: usize) -> Self {
        Packer { id, question, limit, first: true }
    }

    /// Fill `out` with the next message. Returns its length, or 0 when `records` is
    /// exhausted. A record too big for an empty message is skipped (cannot happen for
    /// RDATA under 64 KiB with the usual limit).
    pub fn next_message<'a>(
        &mut self,
        records: &mut std::iter::Peekable<impl Iterator<Item = RrRef<'a>>>,
        out: &mut [u8],
    ) -> usize {
        if records.peek().is_none() && !self.first {
            return 0;
        }
        let mut w = ResponseWriter::new(out, self.limit).hashed();
        let qd = u16::from(self.first);
        w.header(self.id, flags::QR | flags::AA, qd);
        if self.first {
            let _ = w.question(self.question);
            self.first = false;
        }
        let mut n = 0;
        while let Some(r) = records.peek() {
            if w.rr(Section::Answer, Owner::Name(r.owner), r.rtype, Class::IN, r.ttl, r.rdata).is_err() {
                if n == 0 {
                    records.next();
                    continue;
                }
                break;
            }
            n += 1;
            records.next();
        }
        w.finish()
    }

    /// Every message `records` fill, each in a buffer of its own, for a caller that
    /// wants the whole stream at once (tests, tools); a server streams them one by one
    /// with [`Packer::next_message`].
    pub fn all_messages<'a>(mut self, records: impl Iterator<Item = RrRef<'a>>) -> Vec<Vec<u8>> {
        let mut records = records.peekable();
        let mut buf = vec![0u8; 65535];
        std::iter::from_fn(|| {
            let n = self.next_message(&mut records, &mut buf);
            (n > 0).then(|| buf[..n].to_vec())
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;
    use std::path::Path;

    #[test]
    fn axfr_is_soa_records_soa_in_messages_under_the_limit() {
        let mut z = String::from("@ 60 SOA ns hm 7 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n");
        for i in 0..2000 {
            z.push_str(&format!("h{i} 60 A 10.0.{}.{}\n", i / 256, i % 256));
        }
        let s = crate::load_zone_str(&from_ascii("example.com.").unwrap(), &z, Path::new("t")).unwrap();
        let q = b"\x07example\x03com\x00\x00\xfc\x00\x01";
        let mut total = 0;
        let mut msgs = 0;
        let mut first_type = None;
        let mut last_type = None;
        for buf in Packer::new(9, q, 16384).all_messages(axfr_records(&s)) {
            assert!(buf.len() <= 16384);
            let m = hickory_proto::op::Message::from_vec(&buf).unwrap();
            assert_eq!(m.queries.len(), usize::from(msgs == 0));
            first_type.get_or_insert(m.answers[0].record_type());
            last_type = Some(m.answers.last().unwrap().record_type());
            total += m.answers.len();
            msgs += 1;
        }
        assert!(msgs > 1);
        assert_eq!(total, 2002 + 2);
        assert_eq!(first_type, Some(hickory_proto::rr::RecordType::SOA));
        assert_eq!(last_type, Some(hickory_proto::rr::RecordType::SOA));
    }

    #[test]
    fn condense_cancels_add_then_remove() {
        let soa = |s: u8| Rr {
            owner: from_ascii("e.").unwrap(),
            rtype: Rtype::SOA,
            ttl: 1,
            rdata: [&[0u8, 0, 0, 0, 0, s][..], &[0u8; 16][..]].concat().into(),
        };
        let a = |x: u8| Rr { owner: from_ascii("a.e.").unwrap(), rtype: Rtype::A, ttl: 1, rdata: vec![x; 4].into() };
        let d1 = Diff { old_soa: soa(1), new_soa: soa(2), removed: vec![a(1)], added: vec![a(2)] };
        let d2 = Diff { old_soa: soa(2), new_soa: soa(3), removed: vec![a(2)], added: vec![a(1), a(3)] };
        let c = condense(&[d1, d2]).unwrap();
        assert_eq!(c.removed, vec![]);
        assert_eq!(c.added, vec![a(3)]);
        assert_eq!((c.old_serial(), c.new_serial()), (1, 3));
    }
}
