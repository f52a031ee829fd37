//! The signed fixtures under `engine/tests/zones/signed/` (made by
//! `scripts/make-signed-zones.sh` from `source.zone`; see its header) and the questions
//! the DNSSEC tests ask about them.
//!
//! Four variants of one zone, each under its own apex so that one server loads them all:
//! NSEC (`nsec.test.`), NSEC3 without salt or opt-out (`nsec3.test.`), NSEC3 opt-out
//! (`optout.test.`) and NSEC3 with a salt and 5 iterations (`salted.test.`); each with the
//! DS of its key-signing key in `<apex>ds`, the trust anchor of the validators. And
//! `nsec3.test.resigned.zone`: `nsec3.test.` with serial + 1 and new signatures.
//!
//! [`questions`] is the one list of (name, type) asked of every variant: every owner and
//! type of the signed file (QTYPE RRSIG once per owner), then the cases the source zone
//! was written for (NXDOMAIN, NODATA, empty non-terminals, wildcards, CNAME and DNAME,
//! delegations, meta types), each with the reason it is asked. [`shapes`] is how each is
//! sent: DO off and on, UDP with EDNS payload 512, 1232 and 4096, and TCP.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::dns::QuerySpec;

pub const A: u16 = 1;
pub const NS: u16 = 2;
pub const CNAME: u16 = 5;
pub const SOA: u16 = 6;
pub const MX: u16 = 15;
pub const TXT: u16 = 16;
pub const AAAA: u16 = 28;
pub const SRV: u16 = 33;
pub const DNAME: u16 = 39;
pub const DS: u16 = 43;
pub const RRSIG: u16 = 46;
pub const NSEC: u16 = 47;
pub const DNSKEY: u16 = 48;
pub const NSEC3: u16 = 50;
pub const NSEC3PARAM: u16 = 51;
pub const ANY: u16 = 255;

/// The mnemonics of the types the fixtures hold or the tests ask for.
const TYPES: &[(&str, u16)] = &[
    ("A", A),
    ("NS", NS),
    ("CNAME", CNAME),
    ("SOA", SOA),
    ("MX", MX),
    ("TXT", TXT),
    ("AAAA", AAAA),
    ("SRV", SRV),
    ("DNAME", DNAME),
    ("DS", DS),
    ("RRSIG", RRSIG),
    ("NSEC", NSEC),
    ("DNSKEY", DNSKEY),
    ("NSEC3", NSEC3),
    ("NSEC3PARAM", NSEC3PARAM),
    ("ANY", ANY),
];

/// The mnemonic of `rtype` (`TYPEnnn` for the others).
pub fn type_name(rtype: u16) -> String {
    TYPES.iter().find(|(_, t)| *t == rtype).map_or_else(|| format!("TYPE{rtype}"), |(n, _)| n.to_string())
}

fn type_code(name: &str) -> Option<u16> {
    TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, t)| *t)
}

/// How a variant denies existence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    Nsec,
    Nsec3 { opt_out: bool, iterations: u16, salted: bool },
}

/// One signed variant of the source zone.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    pub apex: &'static str,
    /// File name under `engine/tests/zones/signed/`.
    pub file: &'static str,
    pub denial: Denial,
    /// Which program signed it (reports only).
    pub signer: &'static str,
}

impl Variant {
    /// `label` + `.` + apex (`label` empty: the apex).
    pub fn name(&self, label: &str) -> String {
        if label.is_empty() {
            self.apex.to_string()
        } else {
            format!("{label}.{}", self.apex)
        }
    }

    pub fn is_nsec3(&self) -> bool {
        matches!(self.denial, Denial::Nsec3 { .. })
    }

    pub fn text(&self) -> String {
        read(self.file)
    }

    /// The DS records of the apex (`<apex>ds`), one presentation line each, as
    /// `owner ttl IN DS …` (the TTL is added when the file has none).
    pub fn ds(&self) -> Vec<String> {
        read(&format!("{}ds", self.apex))
            .lines()
            .map(str::split_whitespace)
            .map(|w| w.collect::<Vec<_>>())
            .filter(|w| w.len() > 4)
            .map(|w| match w[1].parse::<u32>() {
                Ok(_) => w.join(" "),
                Err(_) => format!("{} 3600 {}", w[0], w[1..].join(" ")),
            })
            .collect()
    }
}

pub const NSEC_ZONE: Variant =
    Variant { apex: "nsec.test.", file: "nsec.test.zone", denial: Denial::Nsec, signer: "dnssec-signzone" };
pub const NSEC3_ZONE: Variant = Variant {
    apex: "nsec3.test.",
    file: "nsec3.test.zone",
    denial: Denial::Nsec3 { opt_out: false, iterations: 0, salted: false },
    signer: "ldns-signzone",
};
pub const OPTOUT_ZONE: Variant = Variant {
    apex: "optout.test.",
    file: "optout.test.zone",
    denial: Denial::Nsec3 { opt_out: true, iterations: 0, salted: false },
    signer: "dnssec-signzone",
};
pub const SALTED_ZONE: Variant = Variant {
    apex: "salted.test.",
    file: "salted.test.zone",
    denial: Denial::Nsec3 { opt_out: false, iterations: 5, salted: true },
    signer: "ldns-signzone",
};

/// Every signed variant.
pub const VARIANTS: [Variant; 4] = [NSEC_ZONE, NSEC3_ZONE, OPTOUT_ZONE, SALTED_ZONE];

/// `nsec3.test.` re-signed: serial 2026010101, signatures from 2026-01-02.
pub const NSEC3_RESIGNED: &str = "nsec3.test.resigned.zone";
pub const NSEC3_SERIAL: u32 = 2026010100;

/// `engine/tests/zones/signed`.
pub fn dir() -> PathBuf {
    super::zone::fixtures_dir().join("signed")
}

/// The text of `engine/tests/zones/signed/<file>`.
pub fn read(file: &str) -> String {
    let path = dir().join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e} (scripts/make-signed-zones.sh)", path.display()))
}

/// One record of a signed file: owner (lowercased), type, and for RRSIG the type covered.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileRecord {
    pub owner: String,
    pub rtype: u16,
    pub covered: Option<u16>,
}

/// The records of a signed file (one record per line, absolute owners, as the script
/// writes them: `owner ttl class type rdata…`).
pub fn records(text: &str) -> Vec<FileRecord> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with(';') && !l.trim().is_empty())
        .map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            assert!(w.len() >= 5, "not `owner ttl class type rdata`: {line}");
            let rtype = type_code(w[3]).unwrap_or_else(|| panic!("unexpected type {} in {line}", w[3]));
            let covered = (rtype == RRSIG).then(|| type_code(w[4]).unwrap_or_else(|| panic!("covered type: {line}")));
            FileRecord { owner: w[0].to_ascii_lowercase(), rtype, covered }
        })
        .collect()
}

/// One question: name, type, and why it is asked.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub why: &'static str,
}

impl Question {
    pub fn label(&self) -> String {
        format!("{} {}", self.name, type_name(self.qtype))
    }
}

/// What a question is about, from its name: lets the tests and the quirk tables say
/// which questions a rule covers without listing them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Apex,
    /// At or below a delegation (`secure`, `insecure`, their glue).
    Delegation,
    /// An NSEC3 owner name (hashed label).
    Hashed,
    Other,
}

/// Where `name` falls in `variant`.
pub fn place(variant: &Variant, name: &str) -> Place {
    let name = name.to_ascii_lowercase();
    if name == variant.apex {
        return Place::Apex;
    }
    let Some(relative) = name.strip_suffix(&format!(".{}", variant.apex)) else { return Place::Other };
    let last = relative.rsplit('.').next().unwrap_or("");
    if last == "secure" || last == "insecure" {
        return Place::Delegation;
    }
    if relative.len() == 32 && !relative.contains('.') && variant.is_nsec3() {
        return Place::Hashed;
    }
    Place::Other
}

/// The questions asked of `variant`; see the module doc. Sorted, no duplicates.
pub fn questions(variant: &Variant) -> Vec<Question> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut ask = |name: String, qtype: u16, why: &'static str| {
        if seen.insert((name.clone(), qtype)) {
            out.push(Question { name, qtype, why });
        }
    };
    for r in records(&variant.text()) {
        ask(r.owner.clone(), r.rtype, "an owner and type of the zone");
        if r.rtype == NSEC3 {
            ask(r.owner.clone(), A, "an NSEC3 owner name holds no data: NXDOMAIN (RFC 5155 7.2.8)");
        }
    }
    let v = variant;
    let cases: &[(&str, u16, &'static str)] = &[
        ("nx", A, "NXDOMAIN below the apex"),
        ("nx", ANY, "NXDOMAIN for ANY"),
        ("nx", RRSIG, "NXDOMAIN for QTYPE RRSIG"),
        ("nx.www", A, "NXDOMAIN below an existing host"),
        ("nx.ent", A, "NXDOMAIN below an empty non-terminal"),
        ("nx.b.ent", A, "NXDOMAIN below an empty non-terminal"),
        ("nx.a.b.ent", A, "NXDOMAIN below the host under the empty non-terminals"),
        ("nx.target", A, "NXDOMAIN below the DNAME target (an empty non-terminal)"),
        ("nowhere", A, "the dangling CNAME's target: NXDOMAIN"),
        ("x.nowhere", A, "below the dangling CNAME's target: NXDOMAIN"),
        ("www", TXT, "NODATA at a host"),
        ("www", MX, "NODATA at a host"),
        ("www", DS, "NODATA for DS at a host that is no delegation"),
        ("www", DNSKEY, "NODATA for DNSKEY below the apex"),
        ("www", NSEC3PARAM, "NODATA for NSEC3PARAM below the apex"),
        ("www", ANY, "ANY at a host with two types"),
        ("www.target", AAAA, "NODATA at the DNAME target's host"),
        ("", AAAA, "NODATA at the apex"),
        ("", DS, "DS at the apex: the child side has none (NODATA)"),
        ("", NSEC, "QTYPE NSEC at the apex"),
        ("", NSEC3, "QTYPE NSEC3 at the apex: no NSEC3 owned by the apex name (NODATA)"),
        ("", NSEC3PARAM, "NSEC3PARAM at the apex (NODATA for NSEC)"),
        ("", ANY, "ANY at the apex (RFC 8482)"),
        ("ent", A, "NODATA at an empty non-terminal"),
        ("b.ent", A, "NODATA at an empty non-terminal"),
        ("b.ent", DS, "DS at an empty non-terminal"),
        ("_tcp", SRV, "NODATA at the SRV owner's empty parent"),
        ("target", A, "NODATA at the DNAME target (an empty non-terminal)"),
        ("wild", A, "NODATA at the wildcard's parent (an empty non-terminal)"),
        ("x.wild", A, "wildcard expansion"),
        ("x.wild", TXT, "wildcard expansion, second type"),
        ("x.wild", AAAA, "wildcard NODATA: the name matches *.wild, the type does not"),
        ("x.wild", MX, "wildcard NODATA"),
        ("x.wild", ANY, "ANY at a wildcard expansion"),
        ("x.wild", RRSIG, "QTYPE RRSIG at a wildcard expansion"),
        ("X.Wild", A, "wildcard expansion, qname in mixed case"),
        ("a.b.wild", A, "wildcard expansion two labels below the wildcard's parent"),
        ("a.b.wild", AAAA, "wildcard NODATA two labels down"),
        ("chain1", A, "CNAME chain of three links to an A record"),
        ("chain1", AAAA, "CNAME chain to a host with AAAA"),
        ("chain1", TXT, "CNAME chain ending in NODATA"),
        ("chain2", A, "CNAME chain from the middle"),
        ("chain3", A, "the last CNAME link"),
        ("chain1", ANY, "ANY at a CNAME"),
        ("dangling", A, "CNAME to a name that does not exist: NXDOMAIN proof after the CNAME"),
        ("dangling", TXT, "CNAME to a name that does not exist"),
        ("dname", A, "NODATA at the DNAME owner"),
        ("www.dname", A, "DNAME redirection: DNAME, synthesised CNAME, target's A"),
        ("www.dname", AAAA, "DNAME redirection to NODATA"),
        ("nx.dname", A, "DNAME redirection to a name that does not exist"),
        ("a.b.dname", TXT, "DNAME redirection two labels down"),
        ("secure", DS, "DS at the secure delegation (answered by the parent)"),
        ("secure", NS, "referral to the secure delegation, DS in authority"),
        ("secure", A, "referral to the secure delegation"),
        ("secure", ANY, "ANY at a delegation: a referral"),
        ("ns.secure", A, "glue below the secure delegation: a referral"),
        ("nx.secure", A, "a name below the secure delegation: a referral"),
        ("a.b.secure", MX, "two labels below the secure delegation: a referral"),
        ("insecure", DS, "DS at the insecure delegation: NODATA with its denial proof"),
        ("insecure", NS, "referral to the insecure delegation, its no-DS proof in authority"),
        ("insecure", A, "referral to the insecure delegation"),
        ("ns.insecure", A, "glue below the insecure delegation: a referral"),
        ("nx.insecure", A, "a name below the insecure delegation: a referral"),
        ("", MX, "MX with an in-zone target: its addresses in additional"),
        ("_sip._tcp", SRV, "SRV with an in-zone target"),
        ("big", TXT, "a large RRset: fits 1232 without DO, not with its RRSIG"),
        ("big", ANY, "ANY at the large RRset"),
        ("", DNSKEY, "the DNSKEY RRset"),
    ];
    for (label, qtype, why) in cases {
        ask(v.name(label), *qtype, why);
    }
    out.sort();
    out
}

/// How a question is sent: DO off and on, each over UDP with EDNS payload 512, 1232 and
/// 4096 and over TCP (payload 4096); no RD, as a resolver asks an authority.
pub fn shapes(q: &Question) -> Vec<QuerySpec> {
    let mut out = Vec::with_capacity(8);
    for dnssec_ok in [false, true] {
        for payload in [512, 1232, 4096, 0] {
            let mut spec = QuerySpec::new(&q.name, q.qtype).payload(if payload == 0 { 4096 } else { payload });
            if payload == 0 {
                spec = spec.tcp();
            }
            if dnssec_ok {
                spec = spec.dnssec_ok();
            }
            out.push(spec);
        }
    }
    out
}
