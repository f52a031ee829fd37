//! Differential test: Shoal must answer like Knot DNS and NSD.
//!
//! The three servers load the same zones (`engine/tests/zones/`); every query of the
//! corpus (`harness/corpus.rs`, a few hundred) is sent to each of them, the responses are
//! normalised (`harness/normalize.rs`) and compared field by field: Shoal against Knot and
//! Shoal against NSD. A difference fails the test unless a row of [`ALLOWED`] covers it.
//!
//! The two references also disagree with each other; that report (Knot vs NSD) is printed
//! and never fails the test: it shows where the RFCs leave room and Shoal must pick a side.
//!
//! Environment:
//! - `SHOAL_DIFF_PEERS_ONLY=1`: compare only Knot with NSD (no Shoal needed).
//! - `SHOAL_DIFF_VERBOSE=1`: list every reference disagreement, not only examples.
//! - `SHOAL_ALLOW_NO_PEERS=1`: skip (loudly) when knotd/nsd are not installed.
//!
//! Run it with output: `cargo test -p shoal-engine --test differential -- --nocapture`.

mod harness;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use harness::corpus::differential_queries;
use harness::dns::{exchange, QuerySpec, Transport, CLASS_ANY, CLASS_HS, CLASS_NONE};
use harness::normalize::{compare, normalize, Field, FieldDiff, Normalized};
use harness::peers::{self, PeerKind};
use harness::server::Server;

/// Which reference an allowance applies to.
#[allow(dead_code)] // not every variant has a row yet
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Knot,
    Nsd,
    Either,
}

/// One accepted difference between Shoal and a reference.
struct Allowance {
    /// What differs, in a few words.
    description: &'static str,
    /// Which queries it applies to.
    applies: fn(&QuerySpec) -> bool,
    peer: Peer,
    field: Field,
    /// Which differences on that field (`any` for all): keeps a row from hiding more
    /// than the behaviour it names. `left` is Shoal's side, `right` the reference's.
    shape: fn(&FieldDiff) -> bool,
    /// Why the difference is acceptable: the RFC clause or the reference's own quirk.
    reason: &'static str,
}

/// The allow-list. Every row is a documented decision: Shoal differs from a reference
/// here on purpose. Keep it short; a row that hides a real bug is worse than a failure.
/// Shoal follows Knot's minimal responses, so most rows name NSD; every answer is still
/// compared strictly with Knot.
///
/// | description | queries | peer | field | reason |
/// |---|---|---|---|---|
/// | IXFR refused: NOTAUTH vs REFUSED | IXFR over UDP | Knot | rcode | Knot answers NOTAUTH to transfers its ACL refuses, NSD and BIND REFUSED; RFC 1995 does not say which |
/// | Extended DNS Errors | all | NSD | opt (EDE codes only) | RFC 8914 EDE is optional; NSD adds codes 0/18/21 to refusals and YXDOMAIN |
/// | apex NS in authority | all | NSD | authority (NS only) | RFC 1034 §4.3.2 step 3a and RFC 2181 §6.1 leave it optional; Knot (and BIND's minimal-responses) omit it |
/// | addresses of NS names in additional | all | NSD | additional (A/AAAA only) | follows from the row above (RFC 1034 §4.3.2 step 6: additional data is optional) |
/// | SRV target below a zone cut | `srv-target` | NSD | additional | Knot adds the glue addresses of an SRV target under a delegation, NSD does not; RFC 2782 makes additional data optional |
/// | ANY picks one RRset | qtype ANY | NSD | answer | RFC 8482 §4.1 lets the server pick the RRset; Knot sends the first (A at the apex), NSD the SOA |
/// | CNAME into another served zone | `cross-zone` | NSD | answer (its authority is covered by the apex NS row) | NSD follows a CNAME into another zone it serves; Knot stops at the zone's edge (RFC 1034 §4.3.2 step 3a restarts only "if the server has the data", optional) |
/// | QTYPE 0 | qtype 0 | NSD | rcode, flags, authority | type 0 is reserved (RFC 6895 §3.1); Knot answers NOTIMP, NSD NODATA |
/// | QCLASS ANY and AA | class ANY | NSD | flags | NSD clears AA for QCLASS ANY, Knot sets it for data from its zone |
/// | no question in refusals of other classes | class HS, NONE | NSD | question | RFC 1035 §4.1.1 copies the question; NSD drops it for classes it does not serve |
/// | BADVERS reply options | EDNS version > 0 | NSD | opt, nsid | RFC 3225 §3 copies DO into the response and RFC 5001 does not exclude BADVERS; NSD drops both |
const ALLOWED: &[Allowance] = &[
    Allowance {
        description: "IXFR refused: NOTAUTH vs REFUSED",
        applies: |q| q.transport == Transport::Udp && q.qtype == 251,
        peer: Peer::Knot,
        field: Field::Rcode,
        shape: |d| d.left == "REFUSED" && d.right == "NOTAUTH",
        reason: "Knot answers NOTAUTH to transfers its ACL refuses, NSD and BIND REFUSED",
    },
    Allowance {
        description: "Extended DNS Errors",
        applies: any_query,
        peer: Peer::Nsd,
        field: Field::Opt,
        shape: |d| without_ede(&d.left) == without_ede(&d.right),
        reason: "RFC 8914 EDE is optional; NSD adds codes 0/18/21, Knot adds none",
    },
    Allowance {
        description: "apex NS in authority",
        applies: any_query,
        peer: Peer::Nsd,
        field: Field::Authority,
        shape: |d| d.left == NOTHING && only_types(&d.right, &["NS"]),
        reason: "RFC 1034 4.3.2 step 3a, RFC 2181 6.1: optional; Shoal is minimal like Knot",
    },
    Allowance {
        description: "addresses of NS names in additional",
        applies: any_query,
        peer: Peer::Nsd,
        field: Field::Additional,
        shape: |d| d.left == NOTHING && only_types(&d.right, &["A", "AAAA"]),
        reason: "RFC 1034 4.3.2 step 6: additional data is optional; Shoal is minimal like Knot",
    },
    Allowance {
        description: "SRV target below a zone cut",
        applies: |q| q.name.to_ascii_lowercase().starts_with("srv-target."),
        peer: Peer::Nsd,
        field: Field::Additional,
        shape: any_diff,
        reason: "Knot adds glue addresses for an SRV target under a delegation, NSD does not",
    },
    Allowance {
        description: "ANY picks one RRset",
        applies: |q| q.qtype == 255,
        peer: Peer::Nsd,
        field: Field::Answer,
        shape: any_diff,
        reason: "RFC 8482 4.1: the responder picks the RRset; Knot the first, NSD the SOA",
    },
    Allowance {
        description: "CNAME into another served zone (answer)",
        applies: is_cross_zone,
        peer: Peer::Nsd,
        field: Field::Answer,
        shape: any_diff,
        reason: "NSD follows a CNAME into another zone it serves; Knot stops at the zone edge",
    },
    Allowance {
        description: "QTYPE 0 (rcode)",
        applies: |q| q.qtype == 0,
        peer: Peer::Nsd,
        field: Field::Rcode,
        shape: |d| d.left == "NOTIMP",
        reason: "type 0 is reserved (RFC 6895 3.1); Knot answers NOTIMP, NSD NODATA",
    },
    Allowance {
        description: "QTYPE 0 (flags)",
        applies: |q| q.qtype == 0,
        peer: Peer::Nsd,
        field: Field::Flags,
        shape: any_diff,
        reason: "follows from NOTIMP: not an authoritative answer",
    },
    Allowance {
        description: "QTYPE 0 (authority)",
        applies: |q| q.qtype == 0,
        peer: Peer::Nsd,
        field: Field::Authority,
        shape: |d| d.left == NOTHING,
        reason: "follows from NOTIMP: no SOA",
    },
    Allowance {
        description: "QCLASS ANY and AA",
        applies: |q| q.qclass == CLASS_ANY,
        peer: Peer::Nsd,
        field: Field::Flags,
        shape: |d| d.left.replace(" aa", "") == d.right.replace(" aa", ""),
        reason: "NSD clears AA for QCLASS ANY, Knot sets it for data from its zone",
    },
    Allowance {
        description: "no question in refusals of other classes",
        applies: |q| matches!(q.qclass, CLASS_HS | CLASS_NONE),
        peer: Peer::Nsd,
        field: Field::Question,
        shape: |d| d.right == "(no question)",
        reason: "RFC 1035 4.1.1 copies the question; NSD drops it for classes it does not serve",
    },
    Allowance {
        description: "BADVERS reply options (opt)",
        applies: |q| q.edns.as_ref().is_some_and(|e| e.version > 0),
        peer: Peer::Nsd,
        field: Field::Opt,
        shape: any_diff,
        reason: "RFC 3225 3 copies DO, RFC 5001 allows NSID on any reply; NSD drops both on BADVERS",
    },
    Allowance {
        description: "BADVERS reply options (nsid)",
        applies: |q| q.edns.as_ref().is_some_and(|e| e.version > 0),
        peer: Peer::Nsd,
        field: Field::Nsid,
        shape: any_diff,
        reason: "RFC 5001 allows NSID on any reply; NSD drops it on BADVERS",
    },
];

const NOTHING: &str = "(nothing)";

fn any_query(_: &QuerySpec) -> bool {
    true
}

fn any_diff(_: &FieldDiff) -> bool {
    true
}

fn is_cross_zone(q: &QuerySpec) -> bool {
    q.name.to_ascii_lowercase().starts_with("cross-zone.")
}

/// Every record line of a section rendering has one of these types.
fn only_types(records: &str, types: &[&str]) -> bool {
    records.lines().all(|line| types.iter().any(|t| line.contains(&format!(" IN {t} "))))
}

/// An `opt` rendering (`v0 do options=[ede:18,nsid]`) with the EDE codes left out.
fn without_ede(opt: &str) -> String {
    let Some((head, rest)) = opt.split_once("options=[") else { return opt.to_string() };
    let items = rest.trim_end_matches(']').split(',').filter(|i| !i.is_empty() && !i.starts_with("ede:"));
    format!("{head}options=[{}]", items.collect::<Vec<_>>().join(","))
}

fn allowance_for(spec: &QuerySpec, peer: PeerKind, diff: &FieldDiff) -> Option<&'static Allowance> {
    ALLOWED.iter().find(|a| {
        a.field == diff.field
            && (a.applies)(spec)
            && (a.shape)(diff)
            && match a.peer {
                Peer::Either => true,
                Peer::Knot => peer == PeerKind::Knot,
                Peer::Nsd => peer == PeerKind::Nsd,
            }
    })
}

/// One server's answer to one query.
struct Answers {
    knot: Normalized,
    nsd: Normalized,
    shoal: Option<Normalized>,
}

/// A difference between two servers on one query.
struct Finding {
    query: usize,
    peer: PeerKind,
    diff: FieldDiff,
    allowed_by: Option<&'static str>,
    /// For Shoal findings: does the other reference agree with Shoal on this field?
    other_agrees: bool,
}

#[test]
fn shoal_answers_like_knot_and_nsd() {
    if !peers::available("differential", &[PeerKind::Knot, PeerKind::Nsd]) {
        return;
    }
    let peers_only = std::env::var("SHOAL_DIFF_PEERS_ONLY").as_deref() == Ok("1");
    let knot = Server::peer(PeerKind::Knot);
    let nsd = Server::peer(PeerKind::Nsd);
    let shoal = (!peers_only).then(Server::shoal);

    let queries = differential_queries();
    let mut answers = Vec::with_capacity(queries.len());
    for (i, spec) in queries.iter().enumerate() {
        let id = (i as u16).wrapping_mul(7919).wrapping_add(17);
        let ask = |server: &Server| normalize(exchange(server.addr, spec, id).as_deref());
        answers.push(Answers { knot: ask(&knot), nsd: ask(&nsd), shoal: shoal.as_ref().map(ask) });
    }
    assert_references_answered(&queries, &answers);

    let references = reference_disagreements(&queries, &answers);
    print!("{}", reference_report(&queries, &references));

    let mut compared = 0;
    let mut findings = Vec::new();
    for (i, (spec, a)) in queries.iter().zip(&answers).enumerate() {
        let Some(shoal) = &a.shoal else { continue };
        for (peer, theirs, other) in [(PeerKind::Knot, &a.knot, &a.nsd), (PeerKind::Nsd, &a.nsd, &a.knot)] {
            compared += 1;
            let against_other = compare(shoal, other, spec.compare_nsid);
            for diff in compare(shoal, theirs, spec.compare_nsid) {
                findings.push(Finding {
                    query: i,
                    peer,
                    allowed_by: allowance_for(spec, peer, &diff).map(|a| a.description),
                    other_agrees: !against_other.iter().any(|d| d.field == diff.field),
                    diff,
                });
            }
        }
    }
    if peers_only {
        compared = queries.len();
    }
    let allowed = findings.iter().filter(|f| f.allowed_by.is_some()).count();
    let failures: Vec<&Finding> = findings.iter().filter(|f| f.allowed_by.is_none()).collect();
    print!("{}", allowance_report(&findings));
    if !failures.is_empty() {
        print!("{}", failure_report(&queries, &failures));
    }
    let summary = format!(
        "differential: {} queries, {compared} compared, {allowed} differences allowed, {} failures{}",
        queries.len(),
        failures.len(),
        if peers_only {
            format!(" (peers only: {} Knot-vs-NSD differences reported)", references.len())
        } else {
            String::new()
        }
    );
    println!("{summary}");
    assert!(failures.is_empty(), "{summary}; see the report above");
}

/// A harness that gets no answers compares nothing: make sure the references replied.
fn assert_references_answered(queries: &[QuerySpec], answers: &[Answers]) {
    for (name, pick) in
        [("knot", (|a: &Answers| &a.knot) as fn(&Answers) -> &Normalized), ("nsd", |a: &Answers| &a.nsd)]
    {
        let silent: Vec<&str> = queries
            .iter()
            .zip(answers)
            .filter(|(_, a)| !matches!(pick(a), Normalized::Reply(_)))
            .map(|(q, _)| q.name.as_str())
            .collect();
        assert!(
            silent.len() * 20 < queries.len(),
            "{name} gave no parseable reply to {} of {} queries (harness broken?): {:?}",
            silent.len(),
            queries.len(),
            &silent[..silent.len().min(10)]
        );
    }
}

fn reference_disagreements(queries: &[QuerySpec], answers: &[Answers]) -> Vec<(usize, FieldDiff)> {
    let mut out = Vec::new();
    for (i, (spec, a)) in queries.iter().zip(answers).enumerate() {
        for diff in compare(&a.knot, &a.nsd, spec.compare_nsid) {
            out.push((i, diff));
        }
    }
    out
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect::<String>()
}

/// Knot vs NSD, grouped by (field, what differs): identical differences on many queries
/// collapse into one entry with a count and example queries (all with
/// `SHOAL_DIFF_VERBOSE=1`).
fn reference_report(queries: &[QuerySpec], diffs: &[(usize, FieldDiff)]) -> String {
    let verbose = std::env::var("SHOAL_DIFF_VERBOSE").as_deref() == Ok("1");
    let mut groups: BTreeMap<(Field, &str, &str), Vec<usize>> = BTreeMap::new();
    for (i, d) in diffs {
        groups.entry((d.field, d.left.as_str(), d.right.as_str())).or_default().push(*i);
    }
    let mut ordered: Vec<_> = groups.into_iter().collect();
    ordered.sort_by(|a, b| a.0 .0.cmp(&b.0 .0).then(b.1.len().cmp(&a.1.len())));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n==== Knot vs NSD: {} differences in {} groups, {} queries (informational) ====",
        diffs.len(),
        ordered.len(),
        queries.len()
    );
    for ((field, left, right), list) in &ordered {
        let _ = writeln!(out, "\n-- {field}: {} queries --", list.len());
        out.push_str(&indent(left, "     knot: "));
        out.push_str(&indent(right, "     nsd:  "));
        let shown = if verbose { list.len() } else { list.len().min(4) };
        for i in &list[..shown] {
            let _ = writeln!(out, "   e.g. {}", queries[*i].label());
        }
        if shown < list.len() {
            let _ = writeln!(out, "   ... and {} more", list.len() - shown);
        }
    }
    out
}

/// How often each allow-list row was used, with its reason.
fn allowance_report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for row in ALLOWED {
        let used = findings.iter().filter(|f| f.allowed_by == Some(row.description)).count();
        if used > 0 {
            let _ =
                writeln!(out, "allowed {used}x vs {:?} {}: {} ({})", row.peer, row.field, row.description, row.reason);
        }
    }
    out
}

/// Shoal's unexplained differences, grouped like the reference report: identical
/// differences collapse into one entry; bugs (both references agree against Shoal) first.
fn failure_report(queries: &[QuerySpec], failures: &[&Finding]) -> String {
    let verbose = std::env::var("SHOAL_DIFF_VERBOSE").as_deref() == Ok("1");
    type Key<'a> = (bool, Field, &'static str, &'a str, &'a str);
    let mut groups: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for f in failures {
        let key = (f.other_agrees, f.diff.field, f.peer.name(), f.diff.left.as_str(), f.diff.right.as_str());
        groups.entry(key).or_default().push(f.query);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n==== Shoal differs from a reference: {} unexplained differences in {} groups ====\n\
         (\"both references disagree with Shoal\" is a bug; \"the other reference agrees\" \
         needs a decision: fix Shoal or add a documented row to ALLOWED)",
        failures.len(),
        groups.len()
    );
    for ((other_agrees, field, peer, left, right), list) in &groups {
        let verdict =
            if *other_agrees { "the other reference agrees with Shoal" } else { "both references disagree with Shoal" };
        let _ = writeln!(out, "\n-- vs {peer} | {field} | {} queries | {verdict} --", list.len());
        out.push_str(&indent(left, "     shoal: "));
        out.push_str(&indent(right, &format!("     {peer:<5}: ")));
        let shown = if verbose { list.len() } else { list.len().min(4) };
        for i in &list[..shown] {
            let _ = writeln!(out, "   e.g. {}", queries[*i].label());
        }
        if shown < list.len() {
            let _ = writeln!(out, "   ... and {} more", list.len() - shown);
        }
    }
    out
}
