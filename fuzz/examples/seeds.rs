//! Writes the seed corpora (`corpus/<target>/seed-*`) from what the tests use:
//! `cargo run --example seeds` in `fuzz/` (the stable toolchain will do).
//!
//! - `query`: the differential test's queries (`engine/tests/harness/corpus.rs`, read
//!   from its text) in the shapes it sends them (UDP, TCP, no EDNS, DO, 0x20 case, sizes,
//!   NSID, EDNS versions, classes, CHAOS, meta types), every owner and type of the signed
//!   fixtures with DO, DNS cookies (client only, ours fresh, old, expired, made with the
//!   previous secret, not ours, of bad lengths), and the malformed packets of
//!   `engine/tests/malformed.rs`;
//! - `zone_text`: the fixture zone files, their apex renamed `example.com.`;
//! - `xfr_in`: AXFR and IXFR streams between versions of the transfer zone, written by
//!   Shoal's own transfer writer at two message sizes;
//! - `tsig`: queries, transfer requests, NOTIFYs and response streams signed with each
//!   key at the target's fixed time, and unsigned messages for the target to sign;
//! - `config`: `dist/shoal.toml`, the configurations the integration tests write and
//!   those of the configuration's unit tests, and `[rrl]` and `[cookies]` as the README
//!   sets them.
//!
//! Minimising a corpus (`MINIMIZE=1 scripts/fuzz.sh`) keeps the inputs that reach
//! something no other does, named by content; running this again adds the seeds back.

use shoal_engine::access::cookies::Secrets;
use shoal_engine::access::tsig::Signer;
use shoal_fuzz::fixtures;
use shoal_fuzz::query::{secrets, source, COOKIE_NOW};
use shoal_fuzz::tsig::{keys, NOW};
use shoal_wire::rdata::rtype_from_text;
use shoal_zonedb::change::diff::{diff, soa_of};
use shoal_zonedb::change::xfr_out::{axfr_records, ixfr_records, Packer, RrRef};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn main() {
    let mut written = 0;
    for (target, seeds) in [
        ("query", query_seeds()),
        ("zone_text", zone_text_seeds()),
        ("xfr_in", xfr_in_seeds()),
        ("tsig", tsig_seeds()),
        ("config", config_seeds()),
    ] {
        let dir = Path::new(ROOT).join("corpus").join(target);
        std::fs::create_dir_all(&dir).expect("create corpus folder");
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:04}")), s).expect("write seed");
        }
        println!("{target}: {} seeds", seeds.len());
        written += seeds.len();
    }
    println!("{written} seeds written");
}

fn repo(path: &str) -> PathBuf {
    Path::new(ROOT).join("..").join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rtype(text: &str) -> u16 {
    match text {
        "ANY" => 255,
        "AXFR" => 252,
        "IXFR" => 251,
        "OPT" => 41,
        t if t.starts_with("Unknown(") => t[8..t.len() - 1].parse().expect("Unknown(n)"),
        t => rtype_from_text(t).unwrap_or_else(|| panic!("type {t}")).0,
    }
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for l in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        w.push(l.len() as u8);
        w.extend_from_slice(l.as_bytes());
    }
    w.push(0);
    w
}

/// A query as the harness's `QuerySpec` writes one.
#[derive(Clone)]
struct Q {
    name: String,
    qtype: u16,
    class: u16,
    edns: Option<(u16, u8, bool, bool)>,
    bits: u8,
    flags: u16,
    /// The COOKIE option's data.
    cookie: Option<Vec<u8>>,
}

impl Q {
    fn new(name: &str, qtype: u16) -> Q {
        Q { name: name.into(), qtype, class: 1, edns: Some((1232, 0, false, false)), bits: 0, flags: 0, cookie: None }
    }

    fn edns(mut self, f: impl FnOnce(&mut (u16, u8, bool, bool))) -> Q {
        let mut e = self.edns.unwrap_or((1232, 0, false, false));
        f(&mut e);
        self.edns = Some(e);
        self
    }

    fn bytes(&self, id: u16) -> Vec<u8> {
        let mut m = vec![self.bits];
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&self.flags.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(self.edns.is_some())]);
        m.extend_from_slice(&wire_name(&self.name));
        m.extend_from_slice(&self.qtype.to_be_bytes());
        m.extend_from_slice(&self.class.to_be_bytes());
        if let Some((payload, version, dnssec, nsid)) = self.edns {
            m.extend_from_slice(&[0, 0, 41]);
            m.extend_from_slice(&payload.to_be_bytes());
            m.extend_from_slice(&[0, version, if dnssec { 0x80 } else { 0 }, 0]);
            let mut options = Vec::new();
            if nsid {
                options.extend_from_slice(&[0, 3, 0, 0]);
            }
            if let Some(c) = &self.cookie {
                options.extend_from_slice(&[0, 10]);
                options.extend_from_slice(&(c.len() as u16).to_be_bytes());
                options.extend_from_slice(c);
            }
            m.extend_from_slice(&(options.len() as u16).to_be_bytes());
            m.extend_from_slice(&options);
        }
        m
    }
}

fn mixed_case(name: &str, seed: usize) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| if (i + seed).is_multiple_of(3) { c.to_ascii_uppercase() } else { c })
        .collect()
}

/// The `("name", TYPE)` pairs of the differential corpus, read from its source.
fn base_cases() -> Vec<(String, u16)> {
    let text = read("engine/tests/harness/corpus.rs");
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("(\"") else { continue };
        let Some((name, rest)) = rest.split_once("\", ") else { continue };
        let t = rest.trim_end_matches(',').trim_end_matches(')');
        if t.chars().all(|c| c.is_ascii_alphanumeric() || c == '(' || c == ')') && !t.is_empty() {
            let t = if t.starts_with("Unknown(") { format!("{t})") } else { t.to_string() };
            out.push((name.to_string(), rtype(&t)));
        }
    }
    assert!(out.len() > 150, "corpus.rs read as {} cases", out.len());
    out
}

fn query_seeds() -> Vec<Vec<u8>> {
    let mut qs: Vec<Q> = Vec::new();
    for (i, (name, t)) in base_cases().iter().enumerate() {
        let q = Q::new(name, *t);
        qs.push(q.clone());
        qs.push(Q { bits: 1, ..q.clone() });
        qs.push(Q { edns: None, ..q.clone() });
        qs.push(Q { name: mixed_case(name, i), bits: (i % 4) as u8 * 8, ..q.clone() }.edns(|e| e.2 = true));
    }
    for name in ["big.example.com.", "many.example.com.", "example.com.", "sub.example.com."] {
        for payload in [0, 511, 512, 1232, 4096, 65535] {
            qs.push(Q::new(name, 16).edns(|e| e.0 = payload));
            qs.push(Q::new(name, 255).edns(|e| (e.0, e.2) = (payload, true)));
        }
    }
    for name in ["www.example.com.", "nonexistent.example.com.", "www.example.org."] {
        qs.push(Q::new(name, 1).edns(|e| e.1 = 1));
        qs.push(Q::new(name, 6).edns(|e| e.3 = true));
        qs.push(Q { bits: 2, ..Q::new(name, 6).edns(|e| e.3 = true) });
        qs.push(Q { flags: 0x0110, ..Q::new(name, 1) });
    }
    for class in [3, 4, 254, 255] {
        qs.push(Q { class, ..Q::new("www.example.com.", 1) });
        qs.push(Q { class, bits: 1, ..Q::new("example.com.", 6) });
    }
    for name in ["id.server.", "hostname.bind.", "version.bind.", "version.server.", "authors.bind."] {
        for bits in [0, 2, 4, 6] {
            qs.push(Q { class: 3, bits, ..Q::new(name, 16) });
        }
    }
    let client = *b"\x01\x23\x45\x67\x89\xab\xcd\xef";
    for name in ["www.example.com.", "example.com.", "nonexistent.example.com.", "www.example.org."] {
        for bits in [0u8, 1, 0x20] {
            let ip = source(bits);
            let ours = |secrets: Secrets, at: u32| [&client[..], &secrets.server_cookie(&client, ip, at)].concat();
            let previous = Secrets { current: secrets().previous.expect("set"), previous: None };
            for c in [
                client.to_vec(),
                ours(secrets(), COOKIE_NOW),
                ours(secrets(), COOKIE_NOW - 2000),
                ours(secrets(), COOKIE_NOW - 4000),
                ours(previous, COOKIE_NOW),
                [&client[..], &[1, 0, 0, 0], &[0x5a; 12]].concat(),
                [&client[..], &[0x5a; 16]].concat(),
                client[..7].to_vec(),
                [&client[..], &[0x5a; 33]].concat(),
            ] {
                qs.push(Q { bits, cookie: Some(c), ..Q::new(name, 1) });
            }
        }
    }
    for opcode in 1u16..16 {
        qs.push(Q { flags: opcode << 11, ..Q::new("example.com.", 6) });
    }
    for (apex, text) in fixtures::zone_texts().iter().skip(2) {
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() < 5 || w[2] != "IN" {
                continue;
            }
            let t = rtype(w[3]);
            qs.push(Q::new(w[0], t).edns(|e| e.2 = true));
            if t == 1 {
                qs.push(Q::new(&format!("nx.{}", w[0]), 1).edns(|e| e.2 = true));
            }
        }
        for label in ["nx", "nx.www", "nx.ent", "a.b.c.wild", "*"] {
            qs.push(Q::new(&format!("{label}.{apex}"), 1).edns(|e| e.2 = true));
            qs.push(Q::new(&format!("{label}.{apex}"), 50).edns(|e| e.2 = true));
        }
    }
    let mut seeds: Vec<Vec<u8>> = qs.iter().enumerate().map(|(i, q)| q.bytes(i as u16)).collect();
    seeds.sort();
    seeds.dedup();
    seeds.extend(malformed());
    seeds
}

/// Packets like those of `engine/tests/malformed.rs`, after an options byte of 0.
fn malformed() -> Vec<Vec<u8>> {
    let valid = Q { edns: None, ..Q::new("www.example.com.", 1) }.bytes(0x1234);
    let hdr = |qd: u16, an: u16, ns: u16, ar: u16| {
        let mut h = vec![0, 0x12, 0x34, 0, 0];
        for c in [qd, an, ns, ar] {
            h.extend_from_slice(&c.to_be_bytes());
        }
        h
    };
    let q = &valid[13..];
    let with = |h: Vec<u8>, rest: &[u8]| [h, rest.to_vec()].concat();
    let opt = [0u8, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0];
    let mut out: Vec<Vec<u8>> = (0..13).map(|n| valid[..n].to_vec()).collect();
    out.extend([
        hdr(0, 0, 0, 0),
        hdr(1, 0, 0, 0),
        with(hdr(0, 0, 0, 0), q),
        with(hdr(2, 0, 0, 0), q),
        with(hdr(65535, 0, 0, 0), q),
        with(hdr(2, 0, 0, 0), &[q, q].concat()),
        with(hdr(1, 0, 0, 0), &q[..q.len() - 3]),
        with(hdr(1, 0, 0, 0), &[q, &[0xde, 0xad]].concat()),
        with(hdr(1, 0, 0, 0), &[0xc0, 12, 0, 1, 0, 1]),
        with(hdr(1, 0, 0, 0), &[0xc0, 14, 0xc0, 12, 0, 1, 0, 1]),
        with(hdr(1, 0, 0, 0), &[3, b'w', b'w', b'w', 0xc0, 12, 0, 1, 0, 1]),
        with(hdr(1, 0, 0, 0), &[0xc0, 2, 0, 1, 0, 1]),
        with(hdr(1, 0, 0, 0), &[0xc0, 0xff, 0, 1, 0, 1]),
        with(hdr(1, 0, 0, 0), &[&[0xc0, 18, 0, 1, 0, 1][..], &wire_name("www.example.com.")].concat()),
        with(hdr(1, 0, 0, 0), &[&[0x41][..], &[b'a'; 70], &[0, 0, 1, 0, 1]].concat()),
        with(hdr(1, 5, 0, 0), q),
        with(hdr(1, 0, 0, 65535), q),
        with(hdr(1, 0, 0, 1), &[q, &opt[..9], &[0, 8, 0, 10, 0, 40, 1, 2, 3, 4]].concat()),
        with(hdr(1, 0, 0, 1), &[q, &opt[..9], &[0, 50]].concat()),
        with(hdr(1, 0, 0, 2), &[q, &opt, &opt].concat()),
        with(hdr(1, 0, 0, 1), &[q, &wire_name("example.com."), &opt[1..]].concat()),
        with(hdr(1, 1, 0, 0), &[q, &opt].concat()),
        with(hdr(1, 0, 0, 1), &[q, &opt[..6]].concat()),
    ]);
    let mut response = valid.clone();
    response[3] |= 0x80;
    out.push(response);
    out
}

/// Every fixture zone file, its apex renamed `example.com.` (the target's apex).
fn zone_text_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (file, apex) in [
        ("engine/tests/zones/example.com.zone", "example.com."),
        ("engine/tests/zones/example.com.include", "example.com."),
        ("engine/tests/zones/example.zone", "example."),
        ("engine/tests/zones/types-bind.zone", "types.test."),
        ("engine/tests/zones/types-knot.zone", "types.test."),
        ("engine/tests/zones/signed/nsec.test.zone", "nsec.test."),
        ("engine/tests/zones/signed/nsec3.test.zone", "nsec3.test."),
        ("engine/tests/zones/signed/optout.test.zone", "optout.test."),
        ("engine/tests/zones/signed/salted.test.zone", "salted.test."),
        ("engine/tests/zones/signed/source.zone", "source.test."),
        ("engine/tests/zones/zonemd/zonemd.test.v1.zone", "zonemd.test."),
        ("zonedb/tests/zones/rfc4592.zone", "example."),
        ("zonedb/tests/zones/audit.test.zone", "audit.test."),
        ("zonedb/tests/zones/audit.test.signed-nsec.zone", "audit.test."),
    ] {
        let text = read(file).replace("$INCLUDE example.com.include", "");
        let text = if apex == "example.com." { text } else { rename(&text, apex) };
        out.push(text.into_bytes());
    }
    for v in 1..=3 {
        out.push(fixtures::transfer_zone(v).into_bytes());
    }
    out
}

/// `text` with names under `apex` moved under `example.com.`.
fn rename(text: &str, apex: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(|c: char| c.is_whitespace()) {
        let bare = word.trim_end();
        if bare.eq_ignore_ascii_case(apex) {
            out.push_str(&word.replacen(bare, "example.com.", 1));
        } else if let Some(stem) = bare.strip_suffix(apex).filter(|s| s.ends_with('.')) {
            out.push_str(&word.replacen(bare, &format!("{stem}example.com."), 1));
        } else {
            out.push_str(word);
        }
    }
    out
}

/// `messages` each after its two-byte length, as `shoal_fuzz::stream::frames` reads them.
fn frame(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(&(m.len() as u16).to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

/// The messages `records` fill at `limit` bytes each, answering `qtype` for the zone.
fn messages<'a>(records: impl Iterator<Item = RrRef<'a>>, qtype: u16, limit: usize) -> Vec<Vec<u8>> {
    let mut question = wire_name(fixtures::TRANSFER_APEX);
    question.extend_from_slice(&qtype.to_be_bytes());
    question.extend_from_slice(&[0, 1]);
    Packer::new(0x4242, &question, limit).all_messages(records)
}

fn xfr_in_seeds() -> Vec<Vec<u8>> {
    let versions: Vec<_> = (1..=3).map(fixtures::transfer_snapshot).collect();
    let diffs = [diff(&versions[0], &versions[1]), diff(&versions[1], &versions[2])];
    let mut out = Vec::new();
    for limit in [512, 16384] {
        for v in &versions {
            let axfr = frame(&messages(axfr_records(v), 252, limit));
            for mode in [0u8, 2, 6, 1] {
                out.push([&[mode][..], &axfr].concat());
            }
        }
        for n in 1..=2 {
            let current = soa_of(&versions[n]);
            let ixfr = frame(&messages(ixfr_records(&current, &diffs[..n]), 251, limit));
            out.push([&[1u8][..], &ixfr].concat());
        }
    }
    let current = soa_of(&versions[0]);
    out.push([&[1u8][..], &frame(&messages(std::iter::once(RrRef::from(&current)), 251, 512))].concat());
    out
}

fn tsig_seeds() -> Vec<Vec<u8>> {
    let zone = wire_name(fixtures::TRANSFER_APEX);
    let message = |flags: u16, qtype: u16| {
        let mut m = vec![0x12, 0x34];
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(&zone);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    };
    let requests = [message(0, 6), message(0, 252), message(0x2000, 6), message(0x0100, 1)];
    let v1 = fixtures::transfer_snapshot(1);
    let axfr = messages(axfr_records(&v1), 252, 512);
    let mut out = Vec::new();
    for (k, key) in keys().iter().enumerate() {
        let mode = k as u8;
        for r in &requests {
            let mut signed = r.clone();
            Signer::new(key, &[]).sign(&mut signed, NOW);
            out.push([&[mode][..], &frame(&[signed])].concat());
            out.push([&[mode | 4][..], &frame(std::slice::from_ref(r))].concat());
        }
        let mut signer = Signer::new(key, &shoal_fuzz::tsig::REQUEST_MAC);
        let mut stream = Vec::new();
        for m in axfr.iter().take(3) {
            let mut m = m.clone();
            signer.sign(&mut m, NOW);
            stream.push(m);
        }
        out.push([&[mode][..], &frame(&stream)].concat());
        let unsigned: Vec<Vec<u8>> = std::iter::once(requests[1].clone()).chain(axfr.iter().take(3).cloned()).collect();
        out.push([&[mode | 4][..], &frame(&unsigned)].concat());
        out.push([&[mode | 12][..], &frame(&unsigned)].concat());
    }
    out
}

fn config_seeds() -> Vec<Vec<u8>> {
    let key = "[[key]]\nname = \"xfr-key.\"\nalgorithm = \"hmac-sha256\"\n\
               secret = \"c2hvYWwtdHJhbnNmZXItdGVzdC1rZXktMzItYnl0ZXMhIQ==\"\n";
    let server = "[server]\nlisten = [\"127.0.0.1:5353\", \"[::1]:5353\"]\nworkers = 1\nstate_dir = \"state\"\n\
                  identity = \"shoal-test\"\nrefresh_concurrency = 4\ndrain_timeout = 0\n";
    let texts = [
        read("dist/shoal.toml"),
        format!("{server}\n{key}\n[[zone]]\nname = \"example.com.\"\nfile = \"zones/example.com.zone\"\n\
                 allow_transfer = [\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]\ntransfer_key = \"xfr-key.\"\n\
                 notify = [\"127.0.0.1:5300\"]\nixfr_journal = 100\nbump_serial = true\n"),
        format!("{server}\n{key}\n[[zone]]\nname = \"example.org.\"\nprimaries = [\"127.0.0.1:5300\", \"192.0.2.2\"]\n\
                 transfer_key = \"xfr-key.\"\nallow_notify = [\"127.0.0.1\"]\nrefresh_min = 1\nrefresh_max = 5\n\
                 retry_min = 1\nretry_max = 2\nexpire_min = 3\nexpire_max = 10\nmax_transfer_bytes = 1000000\n\
                 zonemd_verify = false\n"),
        format!("{server}\n{key}\n[[catalog_group]]\nname = \"keyed\"\ntransfer_key = \"xfr-key.\"\n\
                 [[zone]]\nname = \"catalog.example.\"\nprimaries = [\"127.0.0.1:5300\"]\ncatalog_role = \"consumer\"\n\
                 [[zone]]\nname = \"producer.example.\"\ncatalog_role = \"producer\"\n\
                 [[zone]]\nname = \"a.test.\"\nfile = \"a.zone\"\ncatalog = \"producer.example.\"\ncatalog_group = \"keyed\"\n"),
        format!("{server}\n[metrics]\nlisten = \"127.0.0.1:9153\"\n[log]\nformat = \"json\"\n\
                 level = \"info,shoal_engine::transfer=debug\"\n[control]\nsocket = \"shoal.sock\"\n"),
        "[server]\nrefresh_rate = 50\n".to_string(),
        format!("{server}tcp_max_connections = 64\ntcp_max_per_source = 4\ntcp_max_queries = 100\n\
                 tcp_idle_timeout = 10\nudp_rcvbuf = 4194304\nudp_payload = 1232\nmax_transfer_connections = 8\n\
                 [rrl]\nrate = 20\nburst = 40\nslip = 2\nipv4_prefix = 24\nipv6_prefix = 56\n\
                 exempt = [\"192.0.2.0/24\", \"2001:db8::/32\"]\n\
                 [cookies]\nenabled = true\nsecret_file = \"/var/lib/shoal/cookie.secret\"\n"),
        "[rrl]\nrate = 0\n[cookies]\nenabled = false\nsecret_file = \"cookie.secret\"\n".to_string(),
        "[rrl]\nipv4_prefix = 33\n".to_string(),
        "[[zone]]\nname = \"e.\"\nfile = \"f\"\nprimaries = [\"192.0.2.1\"]\n".to_string(),
        "[[catalog_group]]\nname = \"g\"\n[[catalog_group]]\nname = \"g\"\n".to_string(),
        "[log]\nlevel = \"info,[\"\n".to_string(),
        String::new(),
    ];
    texts.into_iter().map(String::into_bytes).collect()
}
