//! One query answered both ways, and what must hold between the two answers: the
//! precompiled path the workers take ([`shoal_zonedb::answer`]) and the record-by-record
//! reference ([`shoal_zonedb::answer::answer_record_by_record`]) give the same records.
//!
//! Not always the same bytes: `zonedb/tests/answer.rs` compares bytes for queries where
//! both compress alike, but a precompiled block was written before the query was known,
//! so its names cannot point into the question (a glue address for the very name asked,
//! an NS target equal to the query name), and a DO answer's proofs cannot point into a
//! block written before them (`zonedb/tests/dnssec.rs`). So the two are compared
//! record by record with every name decompressed and lowercased ([`records`]: a name
//! that points into the question takes the question's case, one written out does
//! not); the header flags and RCODE must be the same, and so must the [`Response`] but
//! for truncation.
//!
//! A zone signed only in part (one `shoal check` warns about: RRsets without RRSIGs, a
//! broken NSEC or NSEC3 chain) is answered with DNSSEC records that differ between the
//! two ways (the precompiled block of an unsigned RRset leaves out the RRSIGs of its
//! additional addresses; a precompiled DO referral takes the cut's own NSEC where record
//! by record proves from a chain the apex does not start). For such a zone the caller
//! says [`Dnssec::InPart`], and the RRSIG, NSEC and NSEC3 records of DO answers are left
//! out of the comparison; everything else must still agree.
//!
//! Truncation follows the length, so it may differ: the longer encoding may be
//! truncated where the shorter fits (allowed when the answer that fits is over half the
//! size limit: compressing a name one way or the other changes a few bytes per record,
//! never half an answer), and two truncated answers may hold different records (the
//! precompiled path skips a proof that does not fit and writes a later, smaller one;
//! record by record stops at the first that does not fit). Either way every record of
//! a truncated answer must be one of the whole answer, as TCP gets it.
//!
//! Either answer must fit the size the query allows: 512 bytes, or its EDNS payload
//! capped by the server's, over UDP; 65,535 over TCP.

use shoal_wire::request::Request;
use shoal_wire::Rtype;
use shoal_zonedb::answer::answer_record_by_record;
use shoal_zonedb::{answer, Catalog, Options, Outcome, Response};
use std::cell::RefCell;

/// The TC bit of a header's second word.
const TC: u8 = 0x02;

thread_local! {
    /// Two response buffers, reused: a fuzz iteration should not pay for 128 KiB of
    /// zeroed memory.
    static BUFFERS: RefCell<(Vec<u8>, Vec<u8>)> = RefCell::new((vec![0; 65535], vec![0; 65535]));
}

/// How the zones of a catalog are signed, as far as comparing answers goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dnssec {
    /// Unsigned, or signed throughout: DO answers must agree in every record.
    Whole,
    /// Signed only in part: DO answers may differ in their DNSSEC records.
    InPart,
}

/// Answer `query` from `catalog` both ways with `opts`, and check that they agree;
/// `then` is given the precompiled answer, its bytes (in a 64 KiB buffer, for what a
/// worker adds to it) and the size the query allows.
pub fn check(
    query: &[u8],
    catalog: &Catalog,
    dnssec: Dnssec,
    opts: &Options<'_>,
    then: impl FnOnce(&Response, &mut [u8], usize),
) {
    BUFFERS.with(|b| {
        let (a, b) = &mut *b.borrow_mut();
        let ra = answer(query, catalog, opts, a);
        let rb = answer_record_by_record(query, catalog, opts, b);
        let parsed = Request::parse(query).ok();
        let limit = match (&parsed, opts.tcp) {
            (_, true) => 65535,
            (Some(req), false) => req.edns.map_or(512, |e| e.payload.min(opts.udp_payload).max(512)) as usize,
            (None, false) => 512,
        };
        for (r, out) in [(&ra, &a[..]), (&rb, &b[..])] {
            assert!(r.len <= limit, "a response of {} bytes where {limit} are allowed", r.len);
            match r.outcome {
                Outcome::Dropped => assert_eq!(r.len, 0, "a dropped query has no response"),
                Outcome::Answered { .. } => {
                    assert!(r.len >= 12, "an answer shorter than a header");
                    assert_eq!(out[..2], query[..2], "the answer keeps the query's ID");
                }
            }
        }
        let loose = dnssec == Dnssec::InPart && parsed.as_ref().is_some_and(Request::dnssec_ok);
        compare(query, catalog, opts, (&ra, &a[..ra.len]), (&rb, &b[..rb.len]), limit, loose);
        then(&ra, a, limit);
    })
}

/// The checks between the precompiled answer `a` and the record-by-record one `b`.
fn compare(
    query: &[u8],
    catalog: &Catalog,
    opts: &Options<'_>,
    (ra, a): (&Response, &[u8]),
    (rb, b): (&Response, &[u8]),
    limit: usize,
    loose: bool,
) {
    let untruncated = |r: &Response| match r.outcome {
        Outcome::Answered { rcode, kind, .. } => Some((rcode, kind, r.qtype, r.zone)),
        Outcome::Dropped => None,
    };
    assert_eq!(untruncated(ra), untruncated(rb), "precompiled and record-by-record disagree");
    if a == b {
        return;
    }
    let (sa, sb) = (comparable(records(a), loose), comparable(records(b), loose));
    let (ta, tb) = (a[2] & TC != 0, b[2] & TC != 0);
    if ta || tb {
        // Truncated where the other encoding may have had room for more: each holds
        // records of the whole answer.
        let fits = match (ta, tb) {
            (true, false) => b.len(),
            (false, true) => a.len(),
            _ => limit,
        };
        assert!(fits > limit / 2, "one way truncated, the other fits in {fits} of {limit} bytes");
        let mut whole = vec![0; 65535];
        let rw = answer_record_by_record(query, catalog, &Options { tcp: true, ..*opts }, &mut whole);
        let whole = comparable(records(&whole[..rw.len]), loose);
        let whole = flat(&whole);
        for r in flat(&sa).into_iter().chain(flat(&sb)) {
            assert!(whole.contains(&r), "a truncated answer holds {r:?}, not in the whole answer {whole:?}");
        }
        return;
    }
    assert_eq!(a[2..4], b[2..4], "precompiled and record-by-record flags differ");
    assert!(sa == sb, "precompiled and record-by-record records differ:\n{sa:?}\n{sb:?}");
}

/// Every record of every section but the OPT record, in order.
fn flat(s: &Sections) -> Vec<&Record> {
    s.1.iter().flatten().filter(|r| r.1 != Rtype::OPT.0).collect()
}

/// `s` as the two ways are compared: without its RRSIG, NSEC and NSEC3 records when
/// `loose` (a DO answer from a zone signed only in part).
fn comparable(mut s: Sections, loose: bool) -> Sections {
    if loose {
        let dnssec = [Rtype::RRSIG.0, Rtype::NSEC.0, Rtype::NSEC3.0];
        s.1.iter_mut().for_each(|section| section.retain(|r| !dnssec.contains(&r.1)));
    }
    s
}

/// A record with its names decompressed: owner, type, class, TTL, RDATA.
pub type Record = (Vec<u8>, u16, u16, u32, Vec<u8>);

/// The question name, then the records of the answer, authority and additional sections.
pub type Sections = (Vec<u8>, [Vec<Record>; 3]);

/// The question name and the records of each section of `msg` (an answer Shoal wrote,
/// so well formed), names decompressed where the type's names may be compressed.
pub fn records(msg: &[u8]) -> Sections {
    let count = |i: usize| usize::from(u16::from_be_bytes([msg[i], msg[i + 1]]));
    let (question, mut pos) = if count(4) == 0 { (Vec::new(), 12) } else { name(msg, 12) };
    pos += 4 * count(4).min(1);
    let mut out: [Vec<Record>; 3] = Default::default();
    for (section, at) in out.iter_mut().zip([6, 8, 10]) {
        for _ in 0..count(at) {
            let (record, end) = record(msg, pos);
            section.push(record);
            pos = end;
        }
    }
    (question, out)
}

/// The record at `pos`, and the offset after it.
fn record(msg: &[u8], pos: usize) -> (Record, usize) {
    let (owner, p) = name(msg, pos);
    let f = &msg[p..p + 10];
    let rtype = u16::from_be_bytes([f[0], f[1]]);
    let class = u16::from_be_bytes([f[2], f[3]]);
    let ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
    let end = p + 10 + usize::from(u16::from_be_bytes([f[8], f[9]]));
    let mut rdata = Vec::new();
    let mut i = p + 10;
    if let Some((skip, names)) = shoal_wire::rdata::descriptor(Rtype(rtype)).and_then(|d| d.compressed_names()) {
        rdata.extend_from_slice(&msg[i..i + skip]);
        i += skip;
        for _ in 0..names {
            let (n, next) = name(msg, i);
            rdata.extend_from_slice(&n);
            i = next;
        }
    }
    rdata.extend_from_slice(&msg[i..end]);
    ((owner, rtype, class, ttl, rdata), end)
}

/// The name at `pos` with compression pointers followed, lowercased, and the offset
/// after it where it was written.
fn name(msg: &[u8], mut pos: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let len = msg[pos];
        if len & 0xc0 == 0xc0 {
            after.get_or_insert(pos + 2);
            let target = usize::from(u16::from_be_bytes([len & 0x3f, msg[pos + 1]]));
            assert!(target < pos, "a compression pointer that does not point back");
            pos = target;
            continue;
        }
        out.extend(msg[pos..pos + 1 + usize::from(len)].iter().map(u8::to_ascii_lowercase));
        pos += 1 + usize::from(len);
        if len == 0 {
            return (out, after.unwrap_or(pos));
        }
    }
}
