//! Comparing DNSSEC answers of two servers to the same query (`dnssec.rs`,
//! `dnssec_validation.rs`): what counts as a difference, and which differences between
//! Knot DNS 3.2 and NSD 4.6 are documented choices rather than bugs.
//!
//! - [`comparable`]: a truncated UDP answer is compared on RCODE and TC only, and when
//!   one side truncates and the other does not, the TC is explained if the truncating
//!   side's whole answer (its TCP answer) does not fit the payload asked for while the
//!   other side's does: then only compression differs (optional, RFC 1035 4.1.4) and the
//!   whole answers are compared.
//! - [`NSD_EXTRAS`]: records NSD adds and Knot leaves out, taken out of both sides
//!   whenever NSD is one of them.
//! - [`REFERENCE_QUIRKS`]: where one reference departs from the other; a difference
//!   with that reference on the row's fields is not held against the other side.
//!
//! [`unexplained`] applies all three and returns what is left.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use super::dns::{exchange, QuerySpec, Transport};
use super::normalize::{compare, normalize, Field, FieldDiff, Normalized, Rr};
use super::peers::PeerKind;
use super::signed::{self, place, Place, Question, Variant};

use PeerKind::Nsd;

/// One query of the run: which variant, which question, which shape.
pub struct Case<'a> {
    pub variant: &'a Variant,
    pub question: &'a Question,
    pub spec: &'a QuerySpec,
}

impl Case<'_> {
    pub fn dnssec_ok(&self) -> bool {
        self.spec.edns.as_ref().is_some_and(|e| e.dnssec_ok)
    }

    pub fn place(&self) -> Place {
        place(self.variant, &self.question.name)
    }

    /// The name relative to the apex, lowercased (`""` at the apex).
    pub fn relative(&self) -> String {
        let name = self.question.name.to_ascii_lowercase();
        name.strip_suffix(self.variant.apex).unwrap_or(&name).trim_end_matches('.').to_string()
    }
}

/// A point on which one reference answers differently from the other, and why that is
/// not a bug of the other (or of Shoal when it sides with the other).
pub struct Quirk {
    /// The reference that departs.
    pub peer: PeerKind,
    pub description: &'static str,
    pub applies: fn(&Case) -> bool,
    pub fields: &'static [Field],
    /// Which differences it covers, on a diff whose `left` is the other side (Shoal or
    /// the other reference) and `right` the quirky reference.
    pub shape: fn(&FieldDiff) -> bool,
    pub reason: &'static str,
}

/// Where Knot and NSD part ways on the signed fixtures, beyond [`NSD_EXTRAS`]. Each row
/// names the reference that departs; Shoal is compared with that reference everywhere
/// else, and on the row's fields with the other one.
///
/// | reference | what | queries | fields | why it is not the other's bug |
/// |---|---|---|---|---|
/// | NSD | QTYPE RRSIG: every RRSIG of the owner (Knot: those of one covered type) | QTYPE RRSIG | answer | no RFC limits the answer; Knot, and Shoal with it, answer it like ANY (as in `record_types.rs`) |
/// | NSD | ANY at the apex: MX (and its addresses), Knot NS | ANY at the apex | answer, additional | RFC 8482 4.1: the responder picks the RRset |
/// | NSD | another subset of additional records at 512 bytes with DO | NS, MX at the apex, UDP 512, DO | additional | RFC 2181 9, RFC 4035 3.1.1: additional data that does not fit is left out without TC; which is the server's choice |
pub const REFERENCE_QUIRKS: &[Quirk] = &[
    Quirk {
        peer: Nsd,
        description: "QTYPE RRSIG answered with every RRSIG of the owner (Knot: those of one covered type)",
        applies: |c| c.question.qtype == signed::RRSIG,
        fields: &[Field::Answer],
        shape: |d| d.left == NOTHING && only_types(&d.right, &["RRSIG"]),
        reason: "no RFC limits the answer to QTYPE RRSIG; Knot, and Shoal with it, answer it like ANY \
                 (RFC 8482 4.1): the RRSIGs of one covered type",
    },
    Quirk {
        peer: Nsd,
        description: "ANY at the apex picks MX (Knot: NS)",
        applies: |c| c.question.qtype == signed::ANY && c.place() == Place::Apex,
        fields: &[Field::Answer, Field::Additional],
        shape: |_| true,
        reason: "RFC 8482 4.1: the responder picks the RRset it returns",
    },
    Quirk {
        peer: Nsd,
        description: "another subset of additional records when 512 bytes with DO do not hold all",
        applies: |c| {
            let q = c.question.qtype;
            c.spec.transport == Transport::Udp
                && c.spec.edns.as_ref().is_some_and(|e| e.payload == 512 && e.dnssec_ok)
                && c.place() == Place::Apex
                && (q == signed::NS || q == signed::MX)
        },
        fields: &[Field::Additional],
        shape: |d| only_types(&d.left, &["A", "AAAA", "RRSIG"]) && only_types(&d.right, &["A", "AAAA", "RRSIG"]),
        reason: "RFC 2181 9, RFC 4035 3.1.1: additional data that does not fit is left out without TC",
    },
];

pub const NOTHING: &str = "(nothing)";

/// Every record line of a section rendering has one of these types (`(nothing)` has none).
pub fn only_types(records: &str, types: &[&str]) -> bool {
    records == NOTHING || records.lines().all(|line| types.iter().any(|t| line.contains(&format!(" IN {t} "))))
}

pub fn quirk_for(case: &Case, peer: PeerKind, diff: &FieldDiff) -> Option<&'static Quirk> {
    REFERENCE_QUIRKS
        .iter()
        .find(|q| q.peer == peer && q.fields.contains(&diff.field) && (q.applies)(case) && (q.shape)(diff))
}

/// Records NSD adds and Knot leaves out, all of them optional or wrong: compared with
/// NSD, they are taken out of both sides first (so Shoal may send them or not).
pub struct Extra {
    pub description: &'static str,
    /// Whether the record at `section` (0 answer, 1 authority, 2 additional) is one.
    pub drops: fn(&Case, usize, &Rr, answer_empty: bool) -> bool,
    pub reason: &'static str,
}

/// | what NSD adds | where | why it may be left out |
/// |---|---|---|
/// | the apex NS RRset and its RRSIG | authority of positive answers | RFC 1034 4.3.2 step 3a, RFC 2181 6.1: optional; Knot is minimal |
/// | the addresses of the apex NS names and their RRSIGs | additional (unless the question is the apex NS) | RFC 1034 4.3.2 step 6: additional data is optional |
/// | the RRSIG of the wildcard's own NSEC, synthesised at the qname | answer to QTYPE RRSIG at a wildcard expansion | the NSEC at `*.wild` describes that owner (RFC 4034 4.1.3 takes `*` literally there) and is not expanded, so its RRSIG is not either; Knot does not |
pub const NSD_EXTRAS: &[Extra] = &[
    Extra {
        description: "apex NS RRset in authority",
        drops: |c, section, rr, answer_empty| {
            section == 1 && !answer_empty && rr.owner == c.variant.apex && covers_or_is(rr, signed::NS)
        },
        reason: "RFC 1034 4.3.2 step 3a, RFC 2181 6.1: optional",
    },
    Extra {
        description: "addresses of the apex NS names in additional",
        drops: |c, section, rr, _| {
            let asked_apex_ns = c.place() == Place::Apex && c.question.qtype == signed::NS;
            let ns_names = [c.variant.name("ns1"), c.variant.name("ns2")];
            section == 2
                && !asked_apex_ns
                && ns_names.contains(&rr.owner)
                && (covers_or_is(rr, signed::A) || covers_or_is(rr, signed::AAAA))
        },
        reason: "RFC 1034 4.3.2 step 6: additional data is optional",
    },
    Extra {
        description: "RRSIG of the wildcard's NSEC at a wildcard expansion",
        drops: |c, section, rr, _| {
            let expansion = c.relative().ends_with(".wild") && !c.relative().starts_with('*');
            section == 0 && c.question.qtype == signed::RRSIG && expansion && covers_or_is(rr, signed::NSEC)
        },
        reason: "the NSEC at *.wild describes that owner (RFC 4034 4.1.3) and is not expanded",
    },
];

/// `rr` has type `rtype`, or is an RRSIG covering `rtype`.
pub fn covers_or_is(rr: &Rr, rtype: u16) -> bool {
    rr.rtype == rtype || (rr.rtype == signed::RRSIG && rr.rdata.get(..2) == Some(&rtype.to_be_bytes()[..]))
}

/// Take [`NSD_EXTRAS`] out of an answer; counts the rows that took something in `used`.
pub fn trim_nsd_extras(n: &mut Normalized, case: &Case, used: &mut BTreeMap<&'static str, usize>) {
    let Normalized::Reply(fields) = n else { return };
    let answer_empty = fields.sections[0].is_empty();
    for (i, section) in fields.sections.iter_mut().enumerate() {
        section.retain(|rr, _| match NSD_EXTRAS.iter().find(|e| (e.drops)(case, i, rr, answer_empty)) {
            Some(e) => {
                *used.entry(e.description).or_default() += 1;
                false
            }
            None => true,
        });
    }
}

/// One server's reply: normalised, and its length in bytes (0: none).
#[derive(Clone)]
pub struct Got {
    pub n: Normalized,
    pub len: usize,
}

impl Got {
    /// Send `spec` to `addr` (bounded retries and timeouts) and keep what came back.
    pub fn ask(addr: SocketAddr, spec: &QuerySpec, id: u16) -> Got {
        let reply = exchange(addr, spec, id);
        Got { len: reply.as_ref().map_or(0, Vec::len), n: normalize(reply.as_deref()) }
    }
}

/// The TC bit of a reply.
pub fn is_tc(n: &Normalized) -> bool {
    matches!(n, Normalized::Reply(f) if f.flags.split(' ').any(|f| f == "tc"))
}

/// Compare two answers; a truncated answer on either side only on RCODE and TC.
pub fn differences_of(left: &Normalized, right: &Normalized) -> Vec<FieldDiff> {
    let diffs = compare(left, right, false);
    if !(is_tc(left) || is_tc(right)) {
        return diffs;
    }
    let tc = |n: &Normalized| if is_tc(n) { "tc".to_string() } else { "no tc".to_string() };
    diffs
        .into_iter()
        .filter_map(|d| match d.field {
            Field::Reply | Field::Rcode => Some(d),
            Field::Flags if is_tc(left) != is_tc(right) => {
                Some(FieldDiff { field: Field::Flags, left: tc(left), right: tc(right) })
            }
            _ => None,
        })
        .collect()
}

/// The answers to compare when one side truncated a UDP answer and the other did not:
/// if the truncating side's TCP answer is longer than the payload asked for and the
/// other side's UDP answer is not, both truncated honestly at the same limit and only
/// their compression differs (optional, RFC 1035 4.1.4); the whole UDP answer is then
/// compared with the other side's TCP answer. Otherwise the answers as they came, and
/// the TC bits differ.
pub fn comparable(spec: &QuerySpec, ours: [&Got; 2], theirs: [&Got; 2]) -> (Normalized, Normalized) {
    let (ours, ours_tcp, theirs, theirs_tcp) = (ours[0], ours[1], theirs[0], theirs[1]);
    let payload = spec.edns.as_ref().map_or(512, |e| usize::from(e.payload));
    if spec.transport == Transport::Udp && is_tc(&ours.n) != is_tc(&theirs.n) {
        if is_tc(&ours.n) && ours_tcp.len > payload && theirs.len <= payload {
            return (ours_tcp.n.clone(), theirs.n.clone());
        }
        if is_tc(&theirs.n) && theirs_tcp.len > payload && ours.len <= payload {
            return (ours.n.clone(), theirs_tcp.n.clone());
        }
    }
    (ours.n.clone(), theirs.n.clone())
}

/// Compare `ours` (Shoal, or a reference: `ours_kind`) with `theirs` from `peer` for
/// one case (each with the TCP answer to the same question): the differences that no
/// quirk of `peer` covers, nor one of `ours_kind` (a reference keeps its own quirks when
/// it stands in for Shoal); the quirks used are counted in `used`.
pub fn unexplained(
    case: &Case,
    ours: [&Got; 2],
    theirs: [&Got; 2],
    peer: PeerKind,
    ours_kind: Option<PeerKind>,
    used: &mut BTreeMap<&'static str, usize>,
) -> Vec<FieldDiff> {
    let (mut ours, mut theirs) = comparable(case.spec, ours, theirs);
    if peer == Nsd || ours_kind == Some(Nsd) {
        trim_nsd_extras(&mut ours, case, &mut BTreeMap::new());
        trim_nsd_extras(&mut theirs, case, used);
    }
    let mut out = Vec::new();
    for diff in differences_of(&ours, &theirs) {
        let flipped = FieldDiff { field: diff.field, left: diff.right.clone(), right: diff.left.clone() };
        let own = ours_kind.and_then(|k| quirk_for(case, k, &flipped));
        match quirk_for(case, peer, &diff).or(own) {
            Some(q) => *used.entry(q.description).or_default() += 1,
            None => out.push(diff),
        }
    }
    out
}

/// A shape in a few characters: `udp512+do`, `tcp`.
pub fn shape(spec: &QuerySpec) -> String {
    let dnssec_ok = if spec.edns.as_ref().is_some_and(|e| e.dnssec_ok) { "+do" } else { "" };
    match spec.transport {
        Transport::Tcp => format!("tcp{dnssec_ok}"),
        Transport::Udp => format!("udp{}{dnssec_ok}", spec.edns.as_ref().map_or(0, |e| e.payload)),
    }
}

/// The rows of [`REFERENCE_QUIRKS`] and [`NSD_EXTRAS`] used, how often, and why.
pub fn quirk_report(used: &BTreeMap<&'static str, usize>) -> String {
    let mut out = String::new();
    for q in REFERENCE_QUIRKS {
        if let Some(n) = used.get(q.description) {
            let fields: Vec<String> = q.fields.iter().map(Field::to_string).collect();
            let (peer, fields) = (q.peer.name(), fields.join("+"));
            let _ = writeln!(out, "quirk of {peer} used {n}x, {fields}: {} ({})", q.description, q.reason);
        }
    }
    for e in NSD_EXTRAS {
        if let Some(n) = used.get(e.description) {
            let _ = writeln!(out, "extra of nsd dropped {n}x: {} ({})", e.description, e.reason);
        }
    }
    out
}
