//! DNSSEC answers, validated: what a validating resolver accepts from Knot DNS it must
//! accept from Shoal, for every signed fixture (`engine/tests/zones/signed/`, see
//! `harness::signed`).
//!
//! Validators:
//! - Unbound (`harness::unbound`), started by the test on a free loopback port with a
//!   configuration of its own: the zones' DS records as trust anchors, one stub zone per
//!   signed zone pointing at the server under test, nothing to ask beyond it (every
//!   non-loopback address refused, the root a sink that must stay silent, checked at
//!   the end of each test). One Unbound per authoritative server, so that no cache is
//!   shared. The questions are those of `harness::signed::questions` less those below
//!   a delegation (Unbound would follow the referral to glue in 192.0.2.0/24, which it
//!   may not ask) and DS at the apex (a question for the parent, `test.`), sent with RD
//!   and DO over TCP. Every answer Unbound validates (AD) through Knot must be validated
//!   through Shoal too, with the same RCODE and the same answer section (TTLs aside:
//!   a cache counts them down); and an answer Unbound finds insecure through Knot
//!   ([`NOT_VALIDATED`]: opt-out proofs, QTYPE RRSIG) must be insecure through Shoal
//!   too, not bogus.
//! - `delv` (BIND 9.18) for a handful of names per zone, pointed straight at the
//!   authoritative server (`delv @127.0.0.1 -p PORT -a anchors +root=APEX`): it asks
//!   the server itself for the DNSKEYs and proofs it needs, which an authority for the
//!   zone can answer, so it serves as a second, independent validator. Its verdict
//!   line (`; fully validated`, `; negative response, fully validated`, or the failure)
//!   and its records must be the same for Shoal as for Knot.
//!
//! And Shoal as a secondary: Knot serves `nsec3.test.` as primary; Shoal takes it by
//! AXFR, then Knot is given the re-signed version (`nsec3.test.resigned.zone`: same
//! data, serial + 1, every signature new) and NOTIFYs Shoal, which takes it by IXFR.
//! After each transfer Shoal's AXFR must equal Knot's; after the IXFR every DO answer
//! of Shoal must equal Knot's (as `dnssec.rs` compares them) and validate through
//! Unbound as Knot's do.
//!
//! A test that involves Shoal lists, per question, what the validators said when it
//! fails; the Knot-only test ([`unbound_validates_what_knot_serves`]) checks the set-up
//! itself.
//!
//! Run: `cargo test -p shoal-engine --test dnssec_validation -- --nocapture --test-threads 1`.

mod harness;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::dns::{QuerySpec, Transport};
use harness::dnssec_diff::{quirk_report, shape, unexplained, Case, Got};
use harness::normalize::{self, Parsed};
use harness::peers::{self, Peer, PeerKind, PeerZone};
use harness::process::Proc;
use harness::shoal::{Shoal, ShoalZone};
use harness::signed::{self, place, Place, Question, Variant, NSEC3_ZONE, VARIANTS};
use harness::unbound::{self, Stub, Unbound};
use harness::{find_program, free_port, serial_guard, wait_until, Checks, TempDir, WAIT};

/// What a validating resolver said about one question.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Verdict {
    rcode: String,
    /// The AD bit: validated.
    ad: bool,
    /// Extended DNS Error codes (RFC 8914), e.g. `ede:6` (DNSSEC Bogus).
    ede: Vec<String>,
    /// The answer section, TTLs left out, as presentation lines.
    answer: BTreeSet<String>,
}

impl Verdict {
    fn from(p: &Parsed) -> Verdict {
        let answer = p.answer.iter().map(|rr| normalize::Rr { ttl: 0, ..rr.clone() }.text()).collect();
        let ede = p.opt.iter().flat_map(|o| &o.options).filter(|(code, _)| *code == 15);
        let ede = ede.map(|(_, v)| format!("ede:{}", v.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))));
        Verdict { rcode: normalize::rcode_name(p.rcode), ad: p.flags & 0x0020 != 0, ede: ede.collect(), answer }
    }

    fn summary(&self) -> String {
        let ad = if self.ad { " AD" } else { "" };
        let ede = if self.ede.is_empty() { String::new() } else { format!(" {}", self.ede.join(",")) };
        format!("{}{ad}{ede}, {} answer records", self.rcode, self.answer.len())
    }
}

/// The questions asked through a validator: see the module doc.
fn validation_questions(v: &Variant) -> Vec<Question> {
    signed::questions(v)
        .into_iter()
        .filter(|q| match place(v, &q.name) {
            Place::Delegation => {
                let cut = [v.name("secure"), v.name("insecure")].contains(&q.name.to_ascii_lowercase());
                cut && q.qtype == signed::DS
            }
            Place::Apex => q.qtype != signed::DS,
            _ => true,
        })
        .collect()
}

/// Whether a row of [`NOT_VALIDATED`] covers this answer.
type Applies = fn(&Variant, &Question, &Verdict) -> bool;

/// Answers Unbound rightly does not mark as validated (no AD), with the reason. Every
/// other answer from Knot must come back validated.
const NOT_VALIDATED: &[(&str, Applies)] = &[
    (
        "QTYPE RRSIG answered with RRSIGs: they are not an RRset any signature covers, so \
         there is nothing to validate (RFC 4035 5 validates RRsets by their RRSIGs); a denial \
         for QTYPE RRSIG is validated like any other",
        |_, q, verdict| q.qtype == signed::RRSIG && verdict.rcode == "NOERROR" && !verdict.answer.is_empty(),
    ),
    (
        "opt-out zone, an answer that rests on an NSEC3 covering the next closer name \
         (NXDOMAIN, wildcard expansion, wildcard NODATA, no DS at the insecure delegation): \
         with opt-out set, that NSEC3 cannot tell a missing name from an unsigned delegation, \
         so the answer is insecure (RFC 5155 9.2)",
        |v, q, verdict| {
            let relative = q.name.to_ascii_lowercase();
            let relative = relative.strip_suffix(v.apex).unwrap_or("").trim_end_matches('.');
            let expansion = relative.ends_with(".wild") && !relative.starts_with("*.");
            let insecure_ds = q.qtype == signed::DS && relative == "insecure";
            matches!(v.denial, signed::Denial::Nsec3 { opt_out: true, .. })
                && (verdict.rcode == "NXDOMAIN" || expansion || insecure_ds)
        },
    ),
];

/// One Unbound per server: `stubs` sends every signed zone to `server`.
fn unbound_for(tag: &str, server: SocketAddr, variants: &[Variant]) -> Unbound {
    let stubs: Vec<Stub> =
        variants.iter().map(|v| Stub { zone: v.apex.to_string(), server, anchors: v.ds() }).collect();
    Unbound::start(tag, &stubs)
}

/// Knot serving the signed variants for queries only.
fn knot_reference(variants: &[Variant]) -> Peer {
    let zones: Vec<PeerZone> = variants.iter().map(|v| PeerZone::reference(v.apex, v.file)).collect();
    let mut knot = Peer::new(PeerKind::Knot, free_port(), &zones);
    for v in variants {
        std::fs::write(knot.zones_dir().join(v.file), v.text()).expect("write signed fixture");
    }
    knot.start();
    knot
}

fn shoal_primary(variants: &[Variant]) -> Shoal {
    let mut shoal = Shoal::builder("dnssec-validation");
    for v in variants {
        shoal = shoal.file(v.file, &v.text()).zone(ShoalZone::primary_file(v.apex, v.file));
    }
    shoal.start()
}

fn resolve(resolver: &Unbound, q: &Question, id: u16) -> Result<Verdict, String> {
    resolver.query(&q.name, q.qtype, id).map(|p| Verdict::from(&p))
}

/// Nothing reached the sink of `resolver`: it asked no one but its stubs.
fn nothing_escaped(checks: &mut Checks, name: &str, resolver: &Unbound) {
    let escaped = resolver.escaped();
    checks.check(escaped.is_empty(), || format!("{name} asked beyond its stubs: {escaped:?}"));
}

/// The lines of `resolver`'s log about `name` (validation failures name it).
fn log_about(resolver: &Unbound, name: &str) -> String {
    let lines = resolver.log_has(&[name.to_ascii_lowercase().trim_end_matches('.')]);
    lines.iter().rev().take(3).map(|l| format!("\n        log: {l}")).collect()
}

/// Set-up check: every answer Knot gives validates through Unbound, but for the rows of
/// [`NOT_VALIDATED`], which must not.
#[test]
fn unbound_validates_what_knot_serves() {
    let _serial = serial_guard();
    let test = "Unbound validates Knot";
    if !peers::available(test, &[PeerKind::Knot]) || !unbound::available(test) {
        return;
    }
    let started = Instant::now();
    let knot = knot_reference(&VARIANTS);
    let resolver = unbound_for("knot", knot.addr, &VARIANTS);
    let mut checks = Checks::new(test);
    let mut asked = 0;
    for v in &VARIANTS {
        for q in validation_questions(v) {
            asked += 1;
            let verdict = match resolve(&resolver, &q, asked) {
                Ok(verdict) => verdict,
                Err(e) => {
                    checks.check(false, || format!("[{}] {}: {e}", v.apex, q.label()));
                    continue;
                }
            };
            let exempt = NOT_VALIDATED.iter().find(|(_, applies)| applies(v, &q, &verdict));
            let answered = verdict.rcode == "NOERROR" || verdict.rcode == "NXDOMAIN";
            let ok = answered && verdict.ad == exempt.is_none();
            checks.check(ok, || {
                let want = exempt.map_or("validated (AD)", |(why, _)| why);
                let log = log_about(&resolver, &q.name);
                format!("[{}] {} ({}): {}; expected {want}{log}", v.apex, q.label(), q.why, verdict.summary())
            });
        }
    }
    nothing_escaped(&mut checks, "unbound", &resolver);
    // The sink does catch what goes beyond the stubs: a name outside them makes Unbound
    // prime the root (`. NS`) at the sink, or ask it the name.
    let probe = "escape-probe.example.";
    resolver.probe(probe, signed::A);
    let caught = wait_until(WAIT, || Some(resolver.escaped()).filter(|e| !e.is_empty()));
    checks.check(caught.is_some(), || format!("a question for {probe} did not reach the sink: is it the root?"));
    println!("{test}: {asked} questions in {:?}", started.elapsed());
    checks.finish(|| format!("{}\n{}", resolver.tail(), knot.tail()));
}

/// Failures of a validation comparison told in full (records, Unbound's log); the rest
/// in one line each.
const FULL_FAILURES: usize = 40;

/// Every question gets from Unbound through Shoal what it gets through Knot: the same
/// RCODE, the same AD bit (validated through Knot: validated through Shoal; insecure
/// through Knot: insecure, not bogus, through Shoal) and the same answer records.
/// `checks` gets one failure per question that differs. Returns how many answers were
/// validated through Knot, and how many questions were asked.
fn compare_through_unbound(
    checks: &mut Checks,
    variants: &[Variant],
    through_knot: &Unbound,
    through_shoal: &Unbound,
) -> (usize, usize) {
    let (mut validated, mut id, mut failed) = (0, 0u16, 0);
    for v in variants {
        for q in validation_questions(v) {
            id = id.wrapping_add(1);
            let (theirs, ours) = (resolve(through_knot, &q, id), resolve(through_shoal, &q, id));
            let Ok(theirs) = theirs else {
                checks.check(false, || format!("[{}] {} through Knot: {theirs:?}", v.apex, q.label()));
                continue;
            };
            validated += usize::from(theirs.ad);
            let same =
                ours.as_ref().is_ok_and(|o| o.ad == theirs.ad && o.rcode == theirs.rcode && o.answer == theirs.answer);
            if same {
                continue;
            }
            failed += 1;
            let ours_summary = ours.as_ref().map_or_else(|e| e.clone(), Verdict::summary);
            let head = format!(
                "[{}] {} ({}): through knot {}; through shoal {ours_summary}",
                v.apex,
                q.label(),
                q.why,
                theirs.summary()
            );
            if failed > FULL_FAILURES {
                checks.check(false, || head);
                continue;
            }
            let mut m = head;
            if let Ok(o) = &ours {
                for line in theirs.answer.difference(&o.answer) {
                    let _ = write!(m, "\n      only through knot : {line}");
                }
                for line in o.answer.difference(&theirs.answer) {
                    let _ = write!(m, "\n      only through shoal: {line}");
                }
            }
            m.push_str(&log_about(through_shoal, &q.name));
            checks.check(false, || m);
        }
    }
    (validated, id as usize)
}

/// Every answer Unbound validates through Knot, it validates through Shoal (and the
/// others are as insecure through Shoal as through Knot).
#[test]
fn unbound_validates_what_shoal_serves_as_it_does_knots() {
    let _serial = serial_guard();
    let test = "Unbound validates Shoal as Knot";
    if !peers::available(test, &[PeerKind::Knot]) || !unbound::available(test) {
        return;
    }
    let started = Instant::now();
    let knot = knot_reference(&VARIANTS);
    let shoal = shoal_primary(&VARIANTS);
    let through_knot = unbound_for("knot", knot.addr, &VARIANTS);
    let through_shoal = unbound_for("shoal", shoal.addr, &VARIANTS);
    let mut checks = Checks::new(test);
    let (validated, asked) = compare_through_unbound(&mut checks, &VARIANTS, &through_knot, &through_shoal);
    checks.check(validated > 100, || format!("only {validated} answers validated through Knot: set-up broken?"));
    nothing_escaped(&mut checks, "unbound (knot)", &through_knot);
    nothing_escaped(&mut checks, "unbound (shoal)", &through_shoal);
    println!("{test}: {asked} questions, {validated} validated through Knot, in {:?}", started.elapsed());
    checks.finish(|| format!("{}\n{}", through_shoal.tail(), shoal.tail()));
}

/// The names `delv` is asked about in each zone: one of each kind of proof, a wildcard,
/// a CNAME chain, and the DS of the insecure delegation (opt-out: insecure).
const DELV_QUESTIONS: &[(&str, u16)] = &[
    ("www", signed::A),
    ("nx", signed::A),
    ("ent", signed::A),
    ("x.wild", signed::A),
    ("chain1", signed::A),
    ("insecure", signed::DS),
];

/// How long one `delv` may take: it answers in well under a second when the server's
/// answers validate, and waits for its own fetch timeouts (10 s and more) when a CNAME
/// target fails, which would make a failing run very long.
const DELV_TIMEOUT: Duration = Duration::from_secs(5);

/// `delv`'s verdict and its records (the lines that are not comments), sorted. The
/// verdict is its status line on stdout (`; fully validated`, `; negative response,
/// fully validated`, `; unsigned answer`), or else its first diagnostic (`;; …`, on
/// stderr, which shares the log).
fn delv(dir: &Path, server: SocketAddr, v: &Variant, name: &str, qtype: u16) -> (String, Vec<String>) {
    let program = find_program("delv").expect("delv installed");
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .args(["-4", "-p", &server.port().to_string(), "-a", "anchors.conf", &format!("+root={}", v.apex)])
        .arg(format!("@{}", server.ip()))
        .args([name, &signed::type_name(qtype)]);
    let log = dir.join("delv.out");
    let _ = std::fs::remove_file(&log);
    let mut proc = Proc::spawn("delv", cmd, &log);
    let finished = proc.wait_exit(DELV_TIMEOUT).is_some();
    proc.stop();
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    let status = out.lines().find(|l| l.starts_with("; ")).or_else(|| out.lines().find(|l| l.starts_with(';')));
    let verdict = match status {
        _ if !finished => format!("no verdict within {DELV_TIMEOUT:?}"),
        Some(line) => line.trim_start_matches(';').trim().to_string(),
        None => "no verdict".into(),
    };
    let mut records: Vec<String> =
        out.lines().filter(|l| !l.starts_with(';') && !l.trim().is_empty()).map(str::to_string).collect();
    records.sort();
    (verdict, records)
}

/// `delv`, asking the authoritative server itself, validates Shoal's answers as it
/// validates Knot's.
#[test]
fn delv_validates_what_shoal_serves_as_it_does_knots() {
    let _serial = serial_guard();
    let test = "delv validates Shoal as Knot";
    if !peers::available(test, &[PeerKind::Knot]) {
        return;
    }
    if find_program("delv").is_none() {
        assert!(std::env::var_os("SHOAL_ALLOW_NO_PEERS").is_some(), "{test}: delv not installed (bind9-dnsutils)");
        return;
    }
    let started = Instant::now();
    let knot = knot_reference(&VARIANTS);
    let shoal = shoal_primary(&VARIANTS);
    let dir = TempDir::new("delv");
    let mut checks = Checks::new(test);
    let mut asked = 0;
    for v in &VARIANTS {
        let anchors: String = v
            .ds()
            .iter()
            .map(|ds| {
                let w: Vec<&str> = ds.split_whitespace().collect();
                format!("    \"{}\" static-ds {} {} {} \"{}\";\n", v.apex, w[4], w[5], w[6], w[7..].concat())
            })
            .collect();
        std::fs::write(dir.path().join("anchors.conf"), format!("trust-anchors {{\n{anchors}}};\n"))
            .expect("write delv anchors");
        for (label, qtype) in DELV_QUESTIONS {
            asked += 1;
            let name = v.name(label);
            let (k_verdict, k_records) = delv(dir.path(), knot.addr, v, &name, *qtype);
            let secure = k_verdict.contains("fully validated");
            // In an opt-out zone the DS denial of an insecure delegation and the proof of a
            // wildcard answer rest on an NSEC3 that covers with the opt-out flag: insecure,
            // not secure (RFC 5155 9.2), through Knot as through Shoal.
            let opt_out = matches!(v.denial, signed::Denial::Nsec3 { opt_out: true, .. });
            let insecure_by_opt_out = opt_out && (*label == "insecure" || *label == "x.wild");
            checks.check(secure || insecure_by_opt_out, || {
                format!("[{}] {name} {qtype} through Knot: {k_verdict}", v.apex)
            });
            let (s_verdict, s_records) = delv(dir.path(), shoal.addr, v, &name, *qtype);
            checks.check(s_verdict == k_verdict && s_records == k_records, || {
                format!(
                    "[{}] {name} {}:\n    knot : {k_verdict}\n    shoal: {s_verdict}\n    records only knot: {:?}\n    \
                     records only shoal: {:?}",
                    v.apex,
                    signed::type_name(*qtype),
                    k_records.iter().filter(|r| !s_records.contains(r)).collect::<Vec<_>>(),
                    s_records.iter().filter(|r| !k_records.contains(r)).collect::<Vec<_>>()
                )
            });
        }
    }
    println!("{test}: {asked} questions, each to both servers, in {:?}", started.elapsed());
    checks.finish(|| shoal.tail());
}

/// Shoal, secondary of a Knot primary serving `nsec3.test.`, takes the signed zone by
/// AXFR and its re-signed version by IXFR, and then answers and validates as Knot.
#[test]
fn shoal_secondary_of_a_signed_zone_answers_as_its_knot_primary_after_ixfr() {
    let _serial = serial_guard();
    let test = "signed zone, Knot primary, Shoal secondary";
    if !peers::available(test, &[PeerKind::Knot]) || !unbound::available(test) {
        return;
    }
    let started = Instant::now();
    let v = NSEC3_ZONE;
    let (first, second) = (signed::NSEC3_SERIAL, signed::NSEC3_SERIAL + 1);
    let shoal_addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut knot = Peer::new(PeerKind::Knot, free_port(), &[PeerZone::primary(v.apex).notify(shoal_addr)]);
    knot.write_zone(v.apex, &v.text());
    knot.start();
    let shoal = Shoal::builder("dnssec-secondary")
        .listen(shoal_addr)
        .zone(ShoalZone::secondary(v.apex, knot.addr).with("allow_transfer = [\"127.0.0.1\"]"))
        .start();
    let mut checks = Checks::new(test);

    shoal.wait_serial(v.apex, first);
    same_zone(&mut checks, v.apex, knot.addr, shoal.addr);
    let axfr = shoal.log_has(&["transfer in done", v.apex, "kind=\"AXFR\""]);
    checks.check(!axfr.is_empty(), || "no initial AXFR in Shoal's log".into());

    knot.write_zone(v.apex, &signed::read(signed::NSEC3_RESIGNED));
    knot.reload();
    knot.wait_serial(v.apex, second);
    shoal.wait_serial(v.apex, second);
    same_zone(&mut checks, v.apex, knot.addr, shoal.addr);
    let serials = format!("serials=\"{first} -> {second}\"");
    let ixfr = shoal.log_has(&["transfer in done", v.apex, &serials]);
    checks.check(ixfr.iter().any(|l| l.contains("kind=\"IXFR\"")), || {
        format!("{first} -> {second} not by IXFR: {ixfr:?}")
    });

    // Every DO answer as Knot's, in every shape; one failure per question, the records
    // that differ shown for the first ones.
    let mut used = std::collections::BTreeMap::new();
    let (mut compared, mut differing, mut id) = (0, 0, 0x3000u16);
    for q in signed::questions(&v) {
        let dnssec_ok = |s: &QuerySpec| s.edns.as_ref().is_some_and(|e| e.dnssec_ok);
        let shapes: Vec<QuerySpec> = signed::shapes(&q).into_iter().filter(dnssec_ok).collect();
        let tcp = shapes.iter().find(|s| s.transport == Transport::Tcp).expect("a TCP shape");
        let (knot_tcp, shoal_tcp) = (Got::ask(knot.addr, tcp, id), Got::ask(shoal.addr, tcp, id));
        let mut differs: Vec<String> = Vec::new();
        let mut detail = String::new();
        for spec in &shapes {
            id = id.wrapping_add(1);
            compared += 1;
            let (theirs, ours) = (Got::ask(knot.addr, spec, id), Got::ask(shoal.addr, spec, id));
            let case = Case { variant: &v, question: &q, spec };
            let diffs = unexplained(&case, [&ours, &shoal_tcp], [&theirs, &knot_tcp], PeerKind::Knot, None, &mut used);
            if diffs.is_empty() {
                continue;
            }
            let fields: Vec<String> = diffs.iter().map(|d| d.field.to_string()).collect();
            differs.push(format!("{} [{}]", shape(spec), fields.join(",")));
            if detail.is_empty() && differing < FULL_FAILURES {
                for d in &diffs {
                    let _ = write!(
                        detail,
                        "\n    {} {}:\n      shoal: {}\n      knot : {}",
                        spec.label(),
                        d.field,
                        d.left,
                        d.right
                    );
                }
            }
        }
        if !differs.is_empty() {
            differing += 1;
            checks.check(false, || format!("{} ({}): {}{detail}", q.label(), q.why, differs.join(" ")));
        }
    }
    print!("{}", quirk_report(&used));

    let through_knot = unbound_for("knot-primary", knot.addr, &[v]);
    let through_shoal = unbound_for("shoal-secondary", shoal.addr, &[v]);
    let (validated, asked) = compare_through_unbound(&mut checks, &[v], &through_knot, &through_shoal);
    nothing_escaped(&mut checks, "unbound (knot)", &through_knot);
    nothing_escaped(&mut checks, "unbound (shoal)", &through_shoal);
    println!(
        "{test}: {compared} DO queries compared ({differing} questions differ), {asked} questions through Unbound \
         ({validated} validated through Knot), in {:?}",
        started.elapsed()
    );
    checks.finish(|| format!("{}\n{}", knot.tail(), shoal.tail()));
}

/// AXFR `zone` from both and compare record for record.
fn same_zone(checks: &mut Checks, zone: &str, knot: SocketAddr, shoal: SocketAddr) {
    match (harness::dns::axfr(knot, zone, None), harness::dns::axfr(shoal, zone, None)) {
        (Ok(k), Ok(s)) => checks.check(k == s, || {
            format!("{zone}: Shoal's AXFR differs from Knot's: {}", harness::dns::diff_lines(&k, &s))
        }),
        (k, s) => checks.check(false, || format!("{zone}: AXFR from Knot {:?}, from Shoal {:?}", k.err(), s.err())),
    };
}
