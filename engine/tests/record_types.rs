//! Every record type Shoal reads, in the spellings the reference servers accept, is read,
//! served and transferred as Knot DNS 3.2, NSD 4.6 and BIND 9.18 read, serve and transfer
//! it.
//!
//! Two fixtures under `engine/tests/zones/`: `types-knot.zone` (`types.test.`), every type
//! Knot reads, and `types-bind.zone` (`oldtypes.test.`), the older types BIND reads. Each
//! type sits at its own owner in several spellings (mnemonic and `TYPEnnn`, RFC 3597 `\#`,
//! parentheses, split base64 and hex, TTL units, algorithm mnemonics, relative names,
//! escapes); MX, SRV and NS targets have in-zone addresses. A line ending in
//! `; refused by NSD: why` (or BIND) is left out of the copy that server reads, and Shoal
//! reads the same copy. For each reference, each test:
//! - runs `shoal check` on the reference's copy: it must pass;
//! - serves the copy from Shoal and from the reference (a primary allowing AXFR from
//!   127.0.0.1) and compares the two AXFRs record by record: owner, type, class, TTL and
//!   RDATA bytes, as the harness's own parser reads them (names of the RFC 1035 types
//!   decompressed and lowercased, every other byte as sent);
//! - queries every owner and type of the zone over UDP (EDNS 1232, no DO) and compares
//!   the responses with `harness::normalize`: RCODE, flags and all three sections, so
//!   the additional addresses of NS, MX and SRV targets too.
//!
//! And `shoal ctl zone-read` of the Knot fixture shows every record as `kdig` shows Knot's
//! AXFR of it: the record-type table writes Knot's spelling.
//!
//! NSD and BIND add optional data that Knot, and Shoal with it, leave out; [`trim_optional`]
//! removes it from both sides before comparing, and says which RFC leaves it optional.
//!
//! Where Shoal is wrong a row of [`KNOWN_DIFFERENCES`] names the RRset: the test prints the
//! list and fails on those RRsets only, until Shoal is fixed and the row removed. Where a
//! reference is wrong, a row of [`REFERENCE_QUIRKS`] takes that one query out of the
//! comparison with that reference; the others still compare it.
//!
//! Run: `cargo test -p shoal-engine --test record_types -- --nocapture`.

mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Instant;

use harness::dns;
use harness::normalize::{self, compare, normalize, Normalized, Rr};
use harness::peers::{self, Peer, PeerKind, PeerZone};
use harness::shoal::{Shoal, ShoalZone};
use harness::{free_port, serial_guard, zone, Checks};

use PeerKind::{Bind, Knot, Nsd};

/// A fixture zone: its apex and its file under `engine/tests/zones/`.
struct Fixture {
    apex: &'static str,
    file: &'static str,
}

const KNOT_TYPES: Fixture = Fixture { apex: "types.test.", file: "types-knot.zone" };
const BIND_TYPES: Fixture = Fixture { apex: "oldtypes.test.", file: "types-bind.zone" };

const ALLOW_LOCAL: &str = "allow_transfer = [\"127.0.0.1\"]";

const SOA: u16 = 6;
const NS: u16 = 2;
const A: u16 = 1;
const AAAA: u16 = 28;

/// An RRset Shoal reads, serves or transfers wrongly; the test fails on it.
struct Known {
    /// The references that show it.
    peers: &'static [PeerKind],
    owner: &'static str,
    rtype: u16,
    /// Text of the zone-file line `shoal check` refuses; that line is left out of Shoal's
    /// copy so that the rest of the zone is still compared.
    refused_line: Option<&'static str>,
    what: &'static str,
}

/// Shoal's bugs found by this test. Each row fails the test; fix Shoal, then remove it.
const KNOWN_DIFFERENCES: &[Known] = &[];

/// A query on which one reference departs from the RFC (the others still compare it).
struct Quirk {
    peer: PeerKind,
    owner: &'static str,
    rtype: u16,
    what: &'static str,
}

const REFERENCE_QUIRKS: &[Quirk] = &[Quirk {
    peer: Nsd,
    owner: "rrsig.types.test.",
    rtype: 46,
    what: "NSD answers QTYPE RRSIG with every RRSIG of the owner; Knot, and Shoal with it, send \
           the RRSIGs covering one type only (here the two covering A), as for ANY (RFC 8482 \
           §4.1); no RFC limits the answer either way",
}];

fn label(kind: PeerKind) -> &'static str {
    match kind {
        Knot => "Knot",
        Nsd => "NSD",
        Bind => "BIND",
    }
}

#[test]
fn knot_reads_serves_and_transfers_every_type_as_shoal_does() {
    compare_with(Knot, &[KNOT_TYPES]);
}

#[test]
fn nsd_reads_serves_and_transfers_every_type_it_knows_as_shoal_does() {
    compare_with(Nsd, &[KNOT_TYPES, BIND_TYPES]);
}

#[test]
fn bind_reads_serves_and_transfers_the_older_types_as_shoal_does() {
    compare_with(Bind, &[BIND_TYPES]);
}

/// `shoal ctl zone-read` shows each record as `kdig` shows Knot's AXFR of the same
/// file: the record-type table writes Knot's spelling (whitespace aside).
#[test]
fn zone_read_spells_every_type_as_kdig_shows_knots_axfr() {
    let _serial = serial_guard();
    let test = "zone-read against kdig";
    if !peers::available(test, &[Knot]) {
        return;
    }
    let Some(kdig) = harness::find_program("kdig") else {
        assert!(std::env::var_os("SHOAL_ALLOW_NO_PEERS").is_some(), "{test}: kdig not installed (knot-dnsutils)");
        return;
    };
    let text = drop_lines(&read_fixture(KNOT_TYPES.file), "; refused by Knot");
    let shoal = Shoal::builder("types-zone-read")
        .file(KNOT_TYPES.file, &text)
        .zone(ShoalZone::primary_file(KNOT_TYPES.apex, KNOT_TYPES.file))
        .start();
    let mut knot = Peer::new(Knot, free_port(), &[PeerZone::primary(KNOT_TYPES.apex)]);
    knot.write_zone(KNOT_TYPES.apex, &text);
    knot.start();

    let ours = shoal.ctl(&["zone-read", KNOT_TYPES.apex]);
    assert!(ours.status.success(), "zone-read: {}", ours.all());
    let mut cmd = std::process::Command::new(kdig);
    cmd.arg(format!("@{}", knot.addr.ip()))
        .args(["-p", &knot.addr.port().to_string(), KNOT_TYPES.apex, "AXFR"])
        .args(["+nocomments", "+nostats", "+noheader", "+noclass"]);
    let theirs = harness::process::run(cmd, knot.dir(), "kdig-axfr");
    assert!(theirs.status.success(), "kdig: {}", theirs.all());
    // Lines as `owner ttl type rdata`, blanks collapsed; zone-read's class column dropped,
    // and the AXFR's closing SOA folded into the first.
    let lines = |out: &str, class_column: bool| -> BTreeSet<String> {
        out.lines()
            .map(|l| l.split_whitespace().enumerate().filter(|(i, _)| !(class_column && *i == 2)).map(|(_, w)| w))
            .map(|words| words.collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect()
    };
    let (ours, theirs) = (lines(&ours.stdout, true), lines(&theirs.stdout, false));
    let only_ours: Vec<&String> = ours.difference(&theirs).collect();
    let only_theirs: Vec<&String> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "{test}: {} lines agree; zone-read only:\n  {}\nkdig only:\n  {}",
        ours.intersection(&theirs).count(),
        only_ours.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
        only_theirs.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
    );
    assert!(ours.len() > 200, "the fixture holds every type: {} lines", ours.len());
}

fn compare_with(kind: PeerKind, fixtures: &[Fixture]) {
    let _serial = serial_guard();
    let test = format!("record types, Shoal vs {}", label(kind));
    if !peers::available(&test, &[kind]) {
        return;
    }
    let started = Instant::now();
    let mut run = Run::new(kind, fixtures, &test);

    // The reference's copies, and Shoal's: the same less the lines Shoal is known to refuse.
    let tag = format!("; refused by {}", label(kind));
    let copies: Vec<String> = fixtures.iter().map(|f| drop_lines(&read_fixture(f.file), &tag)).collect();
    let refused: Vec<&str> = run.known.iter().filter_map(|k| k.refused_line).collect();
    let shoal_copies: Vec<String> =
        copies.iter().map(|c| refused.iter().fold(c.clone(), |t, l| drop_lines(&t, l))).collect();

    // (a) `shoal check` on exactly what the reference reads.
    let mut check = Shoal::builder(&format!("types-check-{}", kind.name()));
    for (f, text) in fixtures.iter().zip(&copies) {
        check = check.file(f.file, text).zone(ShoalZone::primary_file(f.apex, f.file));
    }
    let out = check.build().check();
    if refused.is_empty() {
        run.checks.check(out.status.success(), || {
            format!("`shoal check` refuses what {} reads:\n{}", label(kind), out.all())
        });
    } else {
        let why: Vec<&str> = run.known.iter().filter(|k| k.refused_line.is_some()).map(|k| k.what).collect();
        run.checks.check(false, || match out.status.success() {
            true => format!("`shoal check` passes now: remove the rows of the refused lines ({})", why.join("; ")),
            false => format!("KNOWN DIFFERENCE ({}): {}", why.join("; "), out.all()),
        });
    }

    let mut shoal = Shoal::builder(&format!("types-vs-{}", kind.name()));
    for (f, text) in fixtures.iter().zip(&shoal_copies) {
        shoal = shoal.file(f.file, text).zone(ShoalZone::primary_file(f.apex, f.file).with(ALLOW_LOCAL));
    }
    let shoal = shoal.start();
    let out = shoal.check();
    run.checks.check(out.status.success(), || format!("`shoal check` refuses Shoal's copy:\n{}", out.all()));
    let zones: Vec<PeerZone> = fixtures.iter().map(|f| PeerZone::primary(f.apex)).collect();
    let mut peer = Peer::new(kind, free_port(), &zones);
    for (f, text) in fixtures.iter().zip(&copies) {
        peer.write_zone(f.apex, text);
    }
    peer.start();

    let (mut records, mut queries) = (0, 0);
    for f in fixtures {
        let (ours, theirs) = match (axfr(shoal.addr, f.apex), axfr(peer.addr, f.apex)) {
            (Ok(ours), Ok(theirs)) => (ours, theirs),
            (ours, theirs) => {
                let (ours, theirs) = (ours.err(), theirs.err());
                run.checks.check(false, || format!("AXFR of {}: Shoal {ours:?}, {} {theirs:?}", f.apex, label(kind)));
                continue;
            }
        };
        records += theirs.len();
        let ns_targets = apex_ns_targets(&theirs, f.apex);
        let rrsets = run.compare_transfers(f.apex, ours, theirs);
        for (owner, rtype) in &rrsets {
            queries += 1;
            let query = query(0x5100 ^ queries as u16, owner, *rtype);
            let mut answers = [shoal.addr, peer.addr].map(|addr| normalize(dns::udp_exchange(addr, &query).as_deref()));
            for n in &mut answers {
                trim_optional(kind, f.apex, &ns_targets, owner, *rtype, n);
            }
            run.compare_answers(owner, *rtype, &answers);
        }
    }
    eprintln!("{test}: {records} records transferred, {queries} RRsets queried in {:?}", started.elapsed());
    run.finish(|| format!("{}\n{}", shoal.tail(), peer.tail()));
}

/// The comparison of Shoal with one reference: its failures, and the known ones seen.
struct Run {
    kind: PeerKind,
    test: String,
    known: Vec<&'static Known>,
    seen: BTreeSet<(String, u16)>,
    checks: Checks,
}

impl Run {
    /// Print the rows of [`KNOWN_DIFFERENCES`] that concern `kind` and `fixtures`.
    fn new(kind: PeerKind, fixtures: &[Fixture], test: &str) -> Run {
        let known: Vec<&'static Known> = KNOWN_DIFFERENCES
            .iter()
            .filter(|k| k.peers.contains(&kind) && fixtures.iter().any(|f| k.owner.ends_with(f.apex)))
            .collect();
        for k in &known {
            eprintln!("{test}: KNOWN_DIFFERENCES: {} TYPE{}: {}", k.owner, k.rtype, k.what);
        }
        Run { kind, test: test.to_string(), known, seen: BTreeSet::new(), checks: Checks::new(test) }
    }

    /// (b) Compare two transfers RRset by RRset; returns every RRset either side has.
    fn compare_transfers(&mut self, apex: &str, ours: Vec<Rr>, theirs: Vec<Rr>) -> BTreeSet<(String, u16)> {
        let kind = self.kind;
        let (ours, theirs) = (by_rrset(ours, kind), by_rrset(theirs, kind));
        let keys: BTreeSet<(String, u16)> = ours.keys().chain(theirs.keys()).cloned().collect();
        for key in &keys {
            let (a, b) = (ours.get(key), theirs.get(key));
            if a != b {
                let (a, b, name) = (show(a), show(b), label(kind));
                let diff = format!("AXFR of {apex} differs at {} TYPE{}:\n  Shoal:\n{a}\n  {name}:\n{b}", key.0, key.1);
                self.difference(key, diff);
            }
        }
        keys
    }

    /// (c) Compare Shoal's answer (`answers[0]`) with the reference's.
    fn compare_answers(&mut self, owner: &str, rtype: u16, answers: &[Normalized; 2]) {
        let diffs = compare(&answers[0], &answers[1], false);
        if diffs.is_empty() {
            return;
        }
        let name = label(self.kind);
        let text: Vec<String> = diffs
            .iter()
            .map(|d| format!("  {}:\n    Shoal: {}\n    {name}: {}", d.field, indent(&d.left), indent(&d.right)))
            .collect();
        let diff = format!("udp {owner} TYPE{rtype} edns(1232) differs:\n{}", text.join("\n"));
        let quirk = REFERENCE_QUIRKS.iter().find(|q| q.peer == self.kind && q.owner == owner && q.rtype == rtype);
        match quirk {
            Some(q) => eprintln!("{}: REFERENCE_QUIRKS, not compared with {name}: {}\n{diff}", self.test, q.what),
            None => self.difference(&(owner.to_string(), rtype), diff),
        }
    }

    /// Record a difference: as a known one when a row of [`KNOWN_DIFFERENCES`] names it.
    fn difference(&mut self, key: &(String, u16), diff: String) {
        match self.known.iter().find(|k| k.owner == key.0 && k.rtype == key.1) {
            Some(k) => {
                self.seen.insert(key.clone());
                self.checks.check(false, || format!("KNOWN DIFFERENCE ({}): {diff}", k.what));
            }
            None => {
                self.checks.check(false, || diff);
            }
        }
    }

    /// Fail on a known row that no longer differs, then on everything recorded.
    fn finish(mut self, context: impl FnOnce() -> String) {
        let name = label(self.kind);
        for k in &self.known {
            let shown = self.seen.contains(&(k.owner.to_string(), k.rtype));
            self.checks.check(shown, || {
                format!("{} TYPE{} agrees with {name} now: remove its row from KNOWN_DIFFERENCES", k.owner, k.rtype)
            });
        }
        self.checks.finish(context);
    }
}

fn read_fixture(file: &str) -> String {
    let path = zone::fixtures_dir().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `text` without the records whose first line contains `needle` (a record continued in
/// parentheses goes with its first line).
fn drop_lines(text: &str, needle: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open = 0i32;
    let mut skipping = false;
    for line in text.lines() {
        let code = line.split(';').next().unwrap_or("");
        let depth = code.matches('(').count() as i32 - code.matches(')').count() as i32;
        if skipping || (open == 0 && line.contains(needle)) {
            open += depth;
            skipping = open > 0;
            continue;
        }
        open += depth;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A query for `owner`/`rtype` as a resolver sends it to an authority: no RD, EDNS with a
/// 1232-byte payload, no DO. Written here rather than by hickory-proto, which refuses
/// some of the escaped owner names of the fixtures.
fn query(id: u16, owner: &str, rtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    normalize::encode_name(owner, &mut q);
    q.extend_from_slice(&rtype.to_be_bytes());
    q.extend_from_slice(&dns::CLASS_IN.to_be_bytes());
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    q
}

/// AXFR `apex` from `addr`: every record as [`normalize::parse`] reads it, the closing
/// SOA left out, sorted. Bounded by the TCP read timeout and a message count.
fn axfr(addr: SocketAddr, apex: &str) -> Result<Vec<Rr>, String> {
    let id = 0x7e57;
    let mut stream = dns::tcp_connect(addr).map_err(|e| format!("connect: {e}"))?;
    dns::tcp_write_message(&mut stream, &dns::query(id, apex, dns::TYPE_AXFR)).map_err(|e| format!("write: {e}"))?;
    let mut records = Vec::new();
    let mut soas = 0;
    for _ in 0..1000 {
        let msg = dns::tcp_read_message(&mut stream).map_err(|e| format!("read: {e}"))?;
        let parsed = normalize::parse(&msg)?;
        if parsed.id != id || parsed.rcode != 0 || parsed.answer.is_empty() {
            return Err(format!(
                "ID {:#x}, {}, {} answers",
                parsed.id,
                normalize::rcode_name(parsed.rcode),
                parsed.answer.len()
            ));
        }
        for rr in parsed.answer {
            if rr.rtype == SOA {
                soas += 1;
                if soas == 2 {
                    records.sort();
                    return Ok(records);
                }
            }
            records.push(rr);
        }
    }
    Err("no closing SOA after 1000 messages".into())
}

/// The records of a transfer by owner and type, as compared with `kind`.
fn by_rrset(records: Vec<Rr>, kind: PeerKind) -> BTreeMap<(String, u16), Vec<Rr>> {
    let mut map: BTreeMap<(String, u16), Vec<Rr>> = BTreeMap::new();
    for rr in records {
        let rr = fold_names(kind, rr);
        map.entry((rr.owner.clone(), rr.rtype)).or_default().push(rr);
    }
    map
}

/// One record per line: presentation form (hickory's, or RFC 3597 for types it does not
/// know) and the RDATA bytes compared.
fn show(records: Option<&Vec<Rr>>) -> String {
    let Some(records) = records else { return "    (none)".into() };
    let line = |rr: &Rr| format!("    {}  [ttl {} rdata {}]", rr.text(), rr.ttl, normalize::hex(&rr.rdata));
    records.iter().map(line).collect::<Vec<_>>().join("\n")
}

fn indent(text: &str) -> String {
    text.replace('\n', "\n           ")
}

/// The name at `at` in uncompressed RDATA, as [`normalize::read_name`] shows it.
fn name_at(rdata: &[u8], at: usize) -> Option<String> {
    normalize::read_name(rdata, at).ok().map(|(name, _)| name)
}

fn apex_ns_targets(records: &[Rr], apex: &str) -> BTreeSet<String> {
    records.iter().filter(|rr| rr.rtype == NS && rr.owner == apex).filter_map(|rr| name_at(&rr.rdata, 0)).collect()
}

/// NSD 4.6 lowercases the domain names inside IPSECKEY (gateway type 3), SVCB, HTTPS and
/// LP RDATA, which RFC 4034 §6.2 does not list and which a signature covers as written
/// (Knot and Shoal keep their case). Compared with NSD, those names are lowercased on both
/// sides; Knot still compares them byte for byte.
fn fold_names(kind: PeerKind, mut rr: Rr) -> Rr {
    let at = match rr.rtype {
        _ if kind != Nsd => return rr,
        45 if rr.rdata.get(1) == Some(&3) => 3,
        64 | 65 | 107 => 2,
        _ => return rr,
    };
    let mut i = at;
    while let Some(&len) = rr.rdata.get(i) {
        let end = i + 1 + usize::from(len);
        if len == 0 || len > 63 || end > rr.rdata.len() {
            break;
        }
        rr.rdata[i + 1..end].make_ascii_lowercase();
        i = end;
    }
    rr
}

/// Take out of a response what NSD and BIND add and Knot and Shoal leave out, all of it
/// optional:
/// - the apex NS RRset in the authority section of a positive answer, and the addresses of
///   its names in the additional section (RFC 1034 §4.3.2 step 6, RFC 2181 §6.1: not
///   required; Knot sends minimal responses);
/// - the addresses of MD, MF, MB (RFC 1035 §3.3), AFSDB, RT (RFC 1183) and KX (RFC 2230)
///   targets in the additional section: those RFCs name additional processing for them,
///   RFC 2181 §9 lets a server leave additional data out, and Knot does it only for NS,
///   MX and SRV, as Shoal does.
///
/// Compared with NSD, the names [`fold_names`] lowercases are lowercased here too.
fn trim_optional(
    kind: PeerKind,
    apex: &str,
    ns_targets: &BTreeSet<String>,
    qname: &str,
    qtype: u16,
    n: &mut Normalized,
) {
    let Normalized::Reply(fields) = n else { return };
    if kind == Knot {
        return;
    }
    let [answer, authority, additional] = &mut fields.sections;
    let mut extra: BTreeSet<String> = answer
        .keys()
        .filter_map(|rr| match rr.rtype {
            3 | 4 | 7 => name_at(&rr.rdata, 0),
            18 | 21 | 36 => name_at(&rr.rdata, 2),
            _ => None,
        })
        .collect();
    if !(qname == apex && qtype == NS) {
        extra.extend(ns_targets.iter().cloned());
    }
    if !answer.is_empty() {
        authority.retain(|rr, _| !(rr.rtype == NS && rr.owner == apex));
    }
    additional.retain(|rr, _| !((rr.rtype == A || rr.rtype == AAAA) && extra.contains(&rr.owner)));
    for section in [answer, authority, additional] {
        let folded = std::mem::take(section);
        for (rr, (_, count)) in folded {
            let rr = fold_names(kind, rr);
            section.entry(rr.clone()).or_insert_with(|| (rr.text(), 0)).1 += count;
        }
    }
}
