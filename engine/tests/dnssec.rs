//! DNSSEC answers, differentially: Shoal serving the signed fixtures must answer as Knot
//! DNS 3.2 does, and as NSD 4.6 does where NSD does not depart from Knot in a documented
//! way.
//!
//! The fixtures are `engine/tests/zones/signed/` (`harness::signed`, made by
//! `scripts/make-signed-zones.sh`): one zone signed four ways, NSEC, NSEC3, NSEC3
//! opt-out and NSEC3 with salt and iterations, each under its own apex, all loaded by
//! each server. Every question of `harness::signed::questions` (every owner and type,
//! NXDOMAIN, NODATA, empty non-terminals, wildcards, CNAME chains, DNAME, delegations
//! with and without DS, QTYPE RRSIG/NSEC/NSEC3PARAM/DNSKEY/ANY) goes out in eight shapes
//! (DO off and on; UDP with EDNS payload 512, 1232 and 4096; TCP), and the responses are
//! compared with `harness::normalize`: RCODE, flags (AA, TC, …), the OPT record (DO
//! echoed) and the three sections as sets of records (TTLs and RDATA included, so the
//! same RRSIGs and the same NSEC/NSEC3 proofs).
//!
//! How two answers are compared is `harness::dnssec_diff`:
//! - a truncated UDP response (TC on either side) is compared on RCODE and TC only:
//!   what a server keeps in a truncated answer is its choice (RFC 2181 9, RFC 4035
//!   3.1.1); when one side truncates and the other does not, because the other
//!   compresses better, the whole answers are compared instead;
//! - compared with NSD, the records NSD adds and Knot leaves out (`NSD_EXTRAS`: the
//!   apex NS RRset in authority, the addresses of the NS names in additional, all
//!   optional; an RRSIG NSD should not synthesise) are taken out of both sides;
//! - where a reference departs from the other on a point the RFCs leave open (or gets
//!   it wrong), a row of `REFERENCE_QUIRKS` says so, with its reason; the query is then
//!   not compared with that reference on that field (the other still compares it).
//!
//! What Knot 3.2 and NSD 4.6 were found to disagree on, for these zones (everything
//! else, every NSEC and NSEC3 proof included, they answer alike):
//! - QTYPE RRSIG: Knot answers with the RRSIGs of one covered type, NSD with all of the
//!   owner's (Knot's quirk: Shoal is compared with NSD there);
//! - QTYPE RRSIG at a wildcard expansion: NSD also synthesises the RRSIG of the
//!   wildcard's own NSEC (an NSD extra);
//! - ANY at the apex: Knot picks NS, NSD MX (RFC 8482; NSD's quirk);
//! - NS and MX at the apex over UDP 512 with DO: another subset of additional records
//!   (NSD's quirk);
//! - the apex NS RRset in authority and the NS addresses in additional (NSD extras);
//! - `www.dname` AAAA with DO: 518 bytes from Knot, 507 from NSD (better compression),
//!   so only Knot truncates at 512 (the truncation rule above).
//!
//! Two tests:
//! - [`references_agree_on_signed_zones_but_for_documented_quirks`]: the references
//!   against each other. Every difference must be a documented row, and every row must
//!   still be needed. It keeps the table honest and runs without Shoal.
//! - [`shoal_answers_signed_zones_like_knot_and_nsd`]: Shoal against both. Until Shoal
//!   answers DO queries with RRSIGs and denial proofs it fails, listing per query what
//!   differs. `SHOAL_DNSSEC_SUBJECT=knot` (or `nsd`) puts a second Knot (NSD) in Shoal's
//!   place, to check the test itself.
//!
//! The report lists, per question, each shape (`udp512+do`, `tcp`, …) that differs and
//! on which fields, and for the first [`FULL_REPORTS`] questions the records only one
//! side sent (`SHOAL_DNSSEC_VERBOSE=1`: for every question). `SHOAL_ALLOW_NO_PEERS=1`
//! skips (loudly) without Knot or NSD.
//!
//! Run: `cargo test -p shoal-engine --test dnssec -- --nocapture --test-threads 1`.

mod harness;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use harness::dns::{QuerySpec, Transport};
use harness::dnssec_diff::{is_tc, quirk_report, shape, unexplained, Case, Got, NSD_EXTRAS, REFERENCE_QUIRKS};
use harness::normalize::{FieldDiff, Normalized};
use harness::peers::{self, Peer, PeerKind, PeerZone};
use harness::server::Server;
use harness::shoal::{Shoal, ShoalZone};
use harness::signed::{self, Question, VARIANTS};
use harness::{free_port, serial_guard, Checks};

use PeerKind::{Knot, Nsd};

/// Failing queries reported in full; the rest get one line each.
const FULL_REPORTS: usize = 40;

/// The servers of one run; started on creation, stopped on drop.
struct Servers {
    subject: Option<Server>,
    knot: Peer,
    nsd: Peer,
}

/// A reference serving every variant as a query-only zone.
fn reference(kind: PeerKind) -> Peer {
    let zones: Vec<PeerZone> = VARIANTS.iter().map(|v| PeerZone::reference(v.apex, v.file)).collect();
    let mut peer = Peer::new(kind, free_port(), &zones);
    for v in &VARIANTS {
        std::fs::write(peer.zones_dir().join(v.file), v.text()).expect("write signed fixture");
    }
    peer.start();
    peer
}

/// Shoal serving every variant, or the reference `SHOAL_DNSSEC_SUBJECT` names.
fn subject() -> Server {
    match std::env::var("SHOAL_DNSSEC_SUBJECT").as_deref() {
        Ok("knot") => return Server::Peer(reference(Knot)),
        Ok("nsd") => return Server::Peer(reference(Nsd)),
        _ => {}
    }
    let mut shoal = Shoal::builder("dnssec");
    for v in &VARIANTS {
        shoal = shoal.file(v.file, &v.text()).zone(ShoalZone::primary_file(v.apex, v.file));
    }
    Server::Shoal(shoal.start())
}

/// The answers of every server to one case, and where the same question over TCP (same
/// DO bit) sits in the run.
struct Asked {
    variant: usize,
    question: Question,
    spec: QuerySpec,
    subject: Option<Got>,
    knot: Got,
    nsd: Got,
    tcp: usize,
}

fn ask_everything(servers: &Servers) -> Vec<Asked> {
    let mut out: Vec<Asked> = Vec::new();
    let mut id: u16 = 0x2000;
    for (vi, v) in VARIANTS.iter().enumerate() {
        for q in signed::questions(v) {
            let first = out.len();
            for spec in signed::shapes(&q) {
                id = id.wrapping_add(1);
                let ask = |addr| Got::ask(addr, &spec, id);
                let subject = servers.subject.as_ref().map(|s| ask(s.addr));
                let (knot, nsd) = (ask(servers.knot.addr), ask(servers.nsd.addr));
                out.push(Asked { variant: vi, question: q.clone(), spec, subject, knot, nsd, tcp: 0 });
            }
            for i in first..out.len() {
                let dnssec_ok = case_of(&out[i]).dnssec_ok();
                out[i].tcp = (first..out.len())
                    .find(|&j| out[j].spec.transport == Transport::Tcp && case_of(&out[j]).dnssec_ok() == dnssec_ok)
                    .expect("every question is asked over TCP too");
            }
        }
    }
    out
}

/// One unexplained difference of the run.
struct Finding {
    asked: usize,
    peer: PeerKind,
    diff: FieldDiff,
}

fn case_of<'a>(a: &'a Asked) -> Case<'a> {
    Case { variant: &VARIANTS[a.variant], question: &a.question, spec: &a.spec }
}

fn describe(a: &Asked) -> String {
    let why = &a.question.why;
    format!("[{}] {} ({why})", VARIANTS[a.variant].apex, a.spec.label())
}

fn indent(text: &str) -> String {
    text.replace('\n', "\n            ")
}

/// The findings, per question: one line naming each shape that differs and on which
/// fields; then, for the first [`FULL_REPORTS`] questions (all with
/// `SHOAL_DNSSEC_VERBOSE=1`), every differing field of the first shape that differs,
/// with the records only one side sent. A difference Knot and NSD show alike is shown
/// once, as `vs knot+nsd`.
fn report(asked: &[Asked], findings: &[Finding], ours: &str) -> String {
    let verbose = std::env::var("SHOAL_DNSSEC_VERBOSE").as_deref() == Ok("1");
    let mut by_query: BTreeMap<usize, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_query.entry(f.asked).or_default().push(f);
    }
    // Questions in the order asked, each with its differing shapes.
    let mut by_question: Vec<(usize, Vec<usize>)> = Vec::new();
    for &i in by_query.keys() {
        let same = |j: &usize| asked[*j].variant == asked[i].variant && asked[*j].question == asked[i].question;
        match by_question.last_mut() {
            Some((first, shapes)) if same(first) => shapes.push(i),
            _ => by_question.push((i, vec![i])),
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n==== {} queries of {} questions differ ({ours} on the left) ====",
        by_query.len(),
        by_question.len()
    );
    for (n, (first, shapes)) in by_question.iter().enumerate() {
        let a = &asked[*first];
        let list: Vec<String> = shapes
            .iter()
            .map(|i| {
                let fields: std::collections::BTreeSet<String> =
                    by_query[i].iter().map(|f| f.diff.field.to_string()).collect();
                let fields: Vec<String> = fields.into_iter().collect();
                format!("{} [{}]", shape(&asked[*i].spec), fields.join(","))
            })
            .collect();
        let label = a.question.label();
        let _ = writeln!(out, "-- [{}] {label} ({}): {}", VARIANTS[a.variant].apex, a.question.why, list.join(" "));
        if !(verbose || n < FULL_REPORTS) {
            continue;
        }
        let _ = writeln!(out, "   {}:", a.spec.label());
        let diffs = &by_query[first];
        for f in diffs {
            let both = f.peer == Knot
                && diffs.iter().any(|g| g.peer == Nsd && g.diff.field == f.diff.field && g.diff.left == f.diff.left);
            let shadowed = f.peer == Nsd && diffs.iter().any(|g| g.peer == Knot && g.diff.field == f.diff.field);
            if shadowed && diffs.iter().any(|g| g.peer == Knot && g.diff.left == f.diff.left) {
                continue;
            }
            let theirs = if both { "knot+nsd" } else { f.peer.name() };
            let _ = writeln!(out, "   vs {theirs}, {}:", f.diff.field);
            let _ = writeln!(out, "     {ours:<5}: {}", indent(&f.diff.left));
            let _ = writeln!(out, "     {:<5}: {}", f.peer.name(), indent(&f.diff.right));
        }
    }
    out
}

/// Per variant: how many queries, and how many of each shape Knot truncated.
fn summary(asked: &[Asked]) -> String {
    let mut counts: BTreeMap<&str, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for a in asked {
        let e = counts.entry(VARIANTS[a.variant].apex).or_default();
        e.0 += 1;
        if is_tc(&a.knot.n) {
            let payload = a.spec.edns.as_ref().map_or(0, |e| e.payload);
            let shape = format!("{payload}{}", if case_of(a).dnssec_ok() { "+do" } else { "" });
            *e.1.entry(shape).or_default() += 1;
        }
    }
    let mut out = String::new();
    for (apex, (n, tc)) in counts {
        let tc: Vec<String> = tc.iter().map(|(shape, k)| format!("{k} at {shape}")).collect();
        let _ = writeln!(out, "  {apex:<13} {n} queries; truncated by Knot: {}", tc.join(", "));
    }
    out
}

/// Knot against NSD: every difference is a documented quirk, and every quirk is needed.
#[test]
fn references_agree_on_signed_zones_but_for_documented_quirks() {
    let _serial = serial_guard();
    let test = "DNSSEC, Knot vs NSD";
    if !peers::available(test, &[Knot, Nsd]) {
        return;
    }
    let started = Instant::now();
    let servers = Servers { subject: None, knot: reference(Knot), nsd: reference(Nsd) };
    let asked = ask_everything(&servers);
    let mut checks = Checks::new(test);
    let mut used = BTreeMap::new();
    let mut findings = Vec::new();
    for (i, a) in asked.iter().enumerate() {
        let case = case_of(a);
        for got in [&a.knot, &a.nsd] {
            let ok = matches!(got.n, Normalized::Reply(_));
            checks.check(ok, || format!("{}: no parseable reply from a reference: {:?}", describe(a), got.n));
        }
        let tcp = &asked[a.tcp];
        for diff in unexplained(&case, [&a.knot, &tcp.knot], [&a.nsd, &tcp.nsd], Nsd, Some(Knot), &mut used) {
            findings.push(Finding { asked: i, peer: Nsd, diff });
        }
    }
    print!("{}", quirk_report(&used));
    let rows = REFERENCE_QUIRKS.iter().map(|q| q.description).chain(NSD_EXTRAS.iter().map(|e| e.description));
    for row in rows {
        checks.check(used.contains_key(row), || format!("the row \"{row}\" covers nothing now: remove it"));
    }
    if !findings.is_empty() {
        print!("{}", report(&asked, &findings, "knot"));
        checks.check(false, || format!("{} undocumented Knot-vs-NSD differences (report above)", findings.len()));
    }
    println!("{test}: {} queries in {:?}\n{}", asked.len(), started.elapsed(), summary(&asked));
    checks.finish(|| format!("{}\n{}", servers.knot.tail(), servers.nsd.tail()));
}

/// Shoal against Knot (strictly) and NSD (but for NSD's quirks).
#[test]
fn shoal_answers_signed_zones_like_knot_and_nsd() {
    let _serial = serial_guard();
    let test = "DNSSEC, Shoal vs Knot and NSD";
    if !peers::available(test, &[Knot, Nsd]) {
        return;
    }
    let started = Instant::now();
    let servers = Servers { subject: Some(subject()), knot: reference(Knot), nsd: reference(Nsd) };
    let subject_kind = match servers.subject.as_ref() {
        Some(Server::Peer(p)) => Some(p.kind),
        _ => None,
    };
    let ours = if subject_kind.is_some() { "subj" } else { "shoal" };
    let asked = ask_everything(&servers);
    let mut used = BTreeMap::new();
    let mut findings = Vec::new();
    for (i, a) in asked.iter().enumerate() {
        let case = case_of(a);
        let tcp = &asked[a.tcp];
        let ours = [a.subject.as_ref().expect("subject asked"), tcp.subject.as_ref().expect("subject asked")];
        for (peer, theirs) in [(Knot, [&a.knot, &tcp.knot]), (Nsd, [&a.nsd, &tcp.nsd])] {
            for diff in unexplained(&case, ours, theirs, peer, subject_kind, &mut used) {
                findings.push(Finding { asked: i, peer, diff });
            }
        }
    }
    print!("{}", quirk_report(&used));
    let failing = findings.iter().map(|f| f.asked).collect::<std::collections::BTreeSet<_>>().len();
    if !findings.is_empty() {
        print!("{}", report(&asked, &findings, ours));
    }
    println!("{test}: {} queries, {failing} differ, in {:?}\n{}", asked.len(), started.elapsed(), summary(&asked));
    let subject = servers.subject.as_ref().expect("subject");
    assert!(
        findings.is_empty(),
        "{test}: {failing} of {} queries differ (report above)\n{}",
        asked.len(),
        subject.tail()
    );
}
