//! Differential test: Shoal must answer like Knot DNS and NSD.
//!
//! The three servers load the same zones (`engine/tests/zones/`); every query of the
//! corpus (`support/corpus.rs`, a few hundred) is sent to each of them, the responses are
//! normalised (`support/normalize.rs`) and compared field by field: Shoal against Knot and
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

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use support::corpus::differential_queries;
use support::normalize::{compare, normalize, Field, FieldDiff, Normalized};
use support::query::{exchange, QuerySpec, Transport, CLASS_IN};
use support::servers::{Kind, Server, Setup};

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
    /// Why the difference is acceptable: the RFC clause or the reference's own quirk.
    reason: &'static str,
}

/// The allow-list. Every row is a documented decision: Shoal differs from a reference
/// here on purpose. Keep it short; a row that hides a real bug is worse than a failure.
///
/// | description | queries | peer | field | reason |
/// |---|---|---|---|---|
/// | transfer refused: NOTAUTH vs REFUSED | AXFR/IXFR over UDP | Knot | rcode | Knot answers NOTAUTH to transfers its ACL refuses, NSD and BIND answer REFUSED (RFC 5936 §4.2 does not say) |
/// | Extended DNS Errors | non-IN classes, `version.*` CHAOS, IXFR | NSD | opt | RFC 8914 EDE is optional; NSD adds it (codes 18, 21) to REFUSED answers, Knot does not |
const ALLOWED: &[Allowance] = &[
    Allowance {
        description: "transfer refused: NOTAUTH vs REFUSED",
        applies: |q| q.transport == Transport::Udp && matches!(q.qtype, 251 | 252),
        peer: Peer::Knot,
        field: Field::Rcode,
        reason: "Knot answers NOTAUTH to transfers its ACL refuses, NSD and BIND REFUSED; \
                 RFC 5936 section 4.2 does not say which",
    },
    Allowance {
        description: "Extended DNS Errors on refusals",
        applies: |q| q.qclass != CLASS_IN || q.name.to_ascii_lowercase().starts_with("version.") || q.qtype == 251,
        peer: Peer::Nsd,
        field: Field::Opt,
        reason: "RFC 8914 EDE is optional; NSD adds codes 18/21 to REFUSED answers, Knot adds none",
    },
];

fn allowance_for(spec: &QuerySpec, peer: Kind, field: Field) -> Option<&'static Allowance> {
    ALLOWED.iter().find(|a| {
        a.field == field
            && (a.applies)(spec)
            && match a.peer {
                Peer::Either => true,
                Peer::Knot => peer == Kind::Knot,
                Peer::Nsd => peer == Kind::Nsd,
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
    peer: Kind,
    diff: FieldDiff,
    allowed_by: Option<&'static str>,
    /// For Shoal findings: does the other reference agree with Shoal on this field?
    other_agrees: bool,
}

#[test]
fn shoal_answers_like_knot_and_nsd() {
    if !support::reference_servers_available("differential") {
        return;
    }
    let peers_only = std::env::var("SHOAL_DIFF_PEERS_ONLY").as_deref() == Ok("1");
    let setup = Setup::default();
    let knot = Server::start_or_panic(Kind::Knot, &setup);
    let nsd = Server::start_or_panic(Kind::Nsd, &setup);
    let shoal = (!peers_only).then(|| Server::start_or_panic(Kind::Shoal, &setup));

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
        for (peer, theirs, other) in [(Kind::Knot, &a.knot, &a.nsd), (Kind::Nsd, &a.nsd, &a.knot)] {
            compared += 1;
            let against_other = compare(shoal, other, spec.compare_nsid);
            for diff in compare(shoal, theirs, spec.compare_nsid) {
                findings.push(Finding {
                    query: i,
                    peer,
                    allowed_by: allowance_for(spec, peer, diff.field).map(|a| a.description),
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

fn failure_report(queries: &[QuerySpec], failures: &[&Finding]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n==== Shoal differs from a reference: {} unexplained differences ====\n\
         (\"both references disagree with Shoal\" is a bug; \"the other reference agrees\" \
         needs a decision: fix Shoal or add a documented row to ALLOWED)",
        failures.len()
    );
    for f in failures {
        let verdict = if f.other_agrees {
            "the other reference agrees with Shoal"
        } else {
            "both references disagree with Shoal"
        };
        let _ = writeln!(out, "\n  {} | vs {} | {} | {verdict}", queries[f.query].label(), f.peer.name(), f.diff.field);
        out.push_str(&indent(&f.diff.left, "     shoal: "));
        out.push_str(&indent(&f.diff.right, &format!("     {:<5}: ", f.peer.name())));
    }
    out
}
