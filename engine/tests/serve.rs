//! Integration tests of `shoal serve` and `shoal check`, black-box: start the binary with a
//! generated config serving `engine/tests/zones/`, query it over loopback, and decode the
//! answers with hickory-proto (an independent decoder).
//!
//! Each test pins one behaviour and is named after it. The answer tests can be pointed at
//! a reference server with `SHOAL_SERVE_PEER=knot|nsd`, which checks the assertions
//! themselves against Knot or NSD; the `check`/config tests are Shoal's own.

mod harness;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::Ipv4Addr;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, Record, RecordType};

use harness::dns::{exchange, tcp_connect, tcp_frame, tcp_read_message, QuerySpec, CLASS_CH};
use harness::server::Server;
use harness::shoal::{Shoal, ShoalZone};
use harness::IDENTITY;

use RecordType::{A, AAAA, CNAME, MX, NS, SOA, SRV, TXT};

/// The server the answer tests run against: Shoal, or a reference with `SHOAL_SERVE_PEER`.
fn serving() -> Option<Server> {
    Server::chosen_by("SHOAL_SERVE_PEER", "serve")
}

fn ask(server: &Server, spec: &QuerySpec) -> Message {
    let reply =
        exchange(server.addr, spec, 0x2b2b).unwrap_or_else(|| panic!("{}: no reply to {}", server.name, spec.label()));
    assert_eq!(&reply[..2], &[0x2b, 0x2b], "reply ID to {}", spec.label());
    Message::from_vec(&reply).unwrap_or_else(|e| panic!("{}: undecodable: {e}", spec.label()))
}

fn rcode(msg: &Message) -> u16 {
    u16::from(msg.metadata.response_code)
}

fn of_type(records: &[Record], rtype: RecordType) -> Vec<&Record> {
    records.iter().filter(|r| r.record_type() == rtype).collect()
}

fn names(records: &[&Record]) -> BTreeSet<String> {
    records.iter().map(|r| r.name.to_ascii().to_ascii_lowercase()).collect()
}

fn ipv4s(records: &[Record]) -> BTreeSet<Ipv4Addr> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

fn soa_minimum_and_ttl(records: &[Record]) -> Option<(u32, u32)> {
    records.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some((soa.minimum, r.ttl)),
        _ => None,
    })
}

#[test]
fn apex_soa_and_ns_are_authoritative() {
    let Some(server) = serving() else { return };
    let soa = ask(&server, &QuerySpec::rtype("example.com.", SOA));
    assert_eq!(rcode(&soa), 0);
    assert!(soa.metadata.authoritative, "AA on apex SOA");
    match &of_type(&soa.answers, SOA)[..] {
        [rr] => match &rr.data {
            RData::SOA(s) => assert_eq!((s.serial, s.minimum), (2024010101, 300)),
            other => panic!("not an SOA: {other:?}"),
        },
        other => panic!("expected one SOA, got {other:?}"),
    }
    let ns = ask(&server, &QuerySpec::rtype("example.com.", NS));
    assert!(ns.metadata.authoritative, "AA on apex NS");
    let targets: BTreeSet<String> = of_type(&ns.answers, NS)
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(n) => Some(n.0.to_ascii().to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let want = ["ns.external.net.", "ns1.example.com.", "ns2.example.com."];
    assert_eq!(targets, want.iter().map(|s| s.to_string()).collect());
}

#[test]
fn nxdomain_carries_soa_with_ttl_min_of_soa_ttl_and_minimum() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("nonexistent.example.com.", A));
    assert_eq!(rcode(&msg), 3, "NXDOMAIN");
    assert!(msg.metadata.authoritative);
    assert!(msg.answers.is_empty());
    // SOA TTL 3600, MINIMUM 300: RFC 2308 section 3 says use the smaller
    assert_eq!(soa_minimum_and_ttl(&msg.authorities), Some((300, 300)));
}

#[test]
fn nodata_is_noerror_with_soa_and_empty_answer() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("www.example.com.", MX));
    assert_eq!(rcode(&msg), 0);
    assert!(msg.metadata.authoritative);
    assert!(msg.answers.is_empty());
    assert_eq!(soa_minimum_and_ttl(&msg.authorities), Some((300, 300)));
}

#[test]
fn cname_chain_is_followed_inside_the_zone() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("chain1.example.com.", A));
    assert_eq!(rcode(&msg), 0);
    assert!(msg.metadata.authoritative);
    let cnames = names(&of_type(&msg.answers, CNAME));
    let want = ["chain1.example.com.", "chain2.example.com.", "chain3.example.com."];
    assert_eq!(cnames, want.iter().map(|s| s.to_string()).collect());
    assert_eq!(ipv4s(&msg.answers), BTreeSet::from([Ipv4Addr::new(192, 0, 2, 80)]));
}

#[test]
fn cname_loop_terminates_with_both_cnames() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("loop-a.example.com.", A));
    assert_eq!(rcode(&msg), 0);
    assert_eq!(of_type(&msg.answers, CNAME).len(), 2, "{msg}");
}

#[test]
fn rfc4592_wildcard_synthesises_the_query_name() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("a.b.foo.wild.example.com.", A));
    assert_eq!(rcode(&msg), 0);
    assert!(msg.metadata.authoritative);
    assert_eq!(names(&of_type(&msg.answers, A)), BTreeSet::from(["a.b.foo.wild.example.com.".to_string()]));
    assert_eq!(ipv4s(&msg.answers), BTreeSet::from([Ipv4Addr::new(192, 0, 2, 100)]));
}

#[test]
fn rfc4592_wildcard_does_not_apply_below_existing_name() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("x.exists.sib.example.com.", A));
    assert_eq!(rcode(&msg), 3, "NXDOMAIN, not the *.sib wildcard");
    // RFC 4592 section 2.2.1: _telnet._tcp.host1.example. is NXDOMAIN, host3.example. MX matches
    let msg = ask(&server, &QuerySpec::rtype("_telnet._tcp.host1.example.", SRV));
    assert_eq!(rcode(&msg), 3);
    let msg = ask(&server, &QuerySpec::rtype("host3.example.", MX));
    assert_eq!((rcode(&msg), of_type(&msg.answers, MX).len()), (0, 1));
    let msg = ask(&server, &QuerySpec::rtype("ghost.*.example.", MX));
    assert_eq!(rcode(&msg), 3, "closest encloser *.example. has no wildcard child");
}

#[test]
fn rfc4592_empty_nonterminal_is_nodata_and_below_it_nxdomain() {
    let Some(server) = serving() else { return };
    let ent = ask(&server, &QuerySpec::rtype("ent.example.com.", A));
    assert_eq!((rcode(&ent), ent.answers.len()), (0, 0), "ENT is NODATA");
    assert!(soa_minimum_and_ttl(&ent.authorities).is_some());
    let below = ask(&server, &QuerySpec::rtype("x.ent.example.com.", A));
    assert_eq!(rcode(&below), 3, "x.ent is NXDOMAIN");
}

#[test]
fn referral_has_ns_in_authority_glue_in_additional_and_no_aa() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("host.sub.example.com.", A));
    assert_eq!(rcode(&msg), 0);
    assert!(!msg.metadata.authoritative, "referral must not set AA");
    assert!(msg.answers.is_empty());
    assert_eq!(names(&of_type(&msg.authorities, NS)), BTreeSet::from(["sub.example.com.".to_string()]));
    assert_eq!(of_type(&msg.authorities, NS).len(), 2);
    let glue_a = ipv4s(&msg.additionals);
    assert_eq!(glue_a, BTreeSet::from([Ipv4Addr::new(192, 0, 2, 201), Ipv4Addr::new(192, 0, 2, 202)]));
    assert_eq!(of_type(&msg.additionals, AAAA).len(), 1, "ns1.sub AAAA glue");
}

#[test]
fn big_rrset_is_truncated_over_udp_and_whole_over_tcp() {
    let Some(server) = serving() else { return };
    for spec in [
        QuerySpec::rtype("many.example.com.", A).payload(512),
        QuerySpec::rtype("many.example.com.", A).no_edns(),
        QuerySpec::rtype("big.example.com.", TXT).payload(1232),
    ] {
        let msg = ask(&server, &spec);
        assert!(msg.metadata.truncation, "TC for {}", spec.label());
        let tcp = ask(&server, &spec.clone().tcp());
        assert!(!tcp.metadata.truncation, "no TC over TCP for {}", spec.label());
        let want = if spec.qtype == 1 { 60 } else { 40 };
        assert_eq!(tcp.answers.len(), want, "whole RRset over TCP for {}", spec.label());
    }
    // 60 A records (~1 KB) fit the 1232 bytes both references offer over UDP
    let fits = ask(&server, &QuerySpec::rtype("many.example.com.", A).payload(1232));
    assert!(!fits.metadata.truncation);
    assert_eq!(fits.answers.len(), 60);
}

#[test]
fn tcp_pipelined_queries_are_all_answered_with_matching_ids() {
    let Some(server) = serving() else { return };
    let names = ["www", "mail", "ns1", "ns2", "sip", "alias", "chain1", "foo.wild", "nonexistent", "ptr"];
    let mut batch = Vec::new();
    let mut expected = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        let id = 0x100 + i as u16;
        let spec = QuerySpec::rtype(&format!("{name}.example.com."), A);
        batch.extend(tcp_frame(&spec.to_wire(id)));
        expected.insert((id, format!("{name}.example.com.")));
    }
    let mut stream = tcp_connect(server.addr).expect("connect");
    stream.write_all(&batch).expect("one write of 10 queries");
    let mut got = BTreeSet::new();
    for _ in 0..names.len() {
        let reply = tcp_read_message(&mut stream).expect("pipelined answer");
        let msg = Message::from_vec(&reply).expect("decode");
        let qname = msg.queries[0].name.to_ascii().to_ascii_lowercase();
        got.insert((msg.metadata.id, qname));
    }
    assert_eq!(got, expected, "RFC 7766 section 6.2.1: every pipelined query answered");
}

#[test]
fn edns_version_1_gets_badvers_with_an_opt_of_version_0() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("www.example.com.", A).edns_version(1));
    assert_eq!(rcode(&msg), 16, "BADVERS (RFC 6891 section 6.1.3)");
    let edns = msg.edns.as_ref().expect("OPT in a BADVERS reply");
    assert_eq!(edns.version(), 0);
    assert!(msg.answers.is_empty());
}

#[test]
fn nsid_is_returned_when_identity_is_set() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("www.example.com.", A).nsid());
    let edns = msg.edns.as_ref().expect("OPT");
    match edns.option(EdnsCode::NSID) {
        Some(EdnsOption::NSID(nsid)) => assert_eq!(nsid.as_ref(), IDENTITY.as_bytes()),
        other => panic!("no NSID option: {other:?}"),
    }
    let plain = ask(&server, &QuerySpec::rtype("www.example.com.", A));
    assert!(plain.edns.as_ref().and_then(|e| e.option(EdnsCode::NSID)).is_none(), "NSID only when asked");
}

#[test]
fn chaos_id_server_returns_the_identity() {
    let Some(server) = serving() else { return };
    let msg = ask(&server, &QuerySpec::rtype("id.server.", TXT).class(CLASS_CH));
    assert_eq!(rcode(&msg), 0);
    let txt = msg.answers.iter().find_map(|r| match &r.data {
        RData::TXT(t) => Some(t.txt_data.concat()),
        _ => None,
    });
    assert_eq!(txt.as_deref(), Some(IDENTITY.as_bytes()));
}

#[test]
fn query_outside_served_zones_is_refused() {
    let Some(server) = serving() else { return };
    for name in ["www.example.org.", "com.", "."] {
        let msg = ask(&server, &QuerySpec::rtype(name, A));
        assert_eq!(rcode(&msg), 5, "REFUSED for {name}");
        assert!(msg.answers.is_empty() && !msg.metadata.authoritative);
    }
}

#[test]
fn question_case_is_echoed_exactly() {
    let Some(server) = serving() else { return };
    let spec = QuerySpec::rtype("www.example.com.", A).mixed_case(7);
    let msg = ask(&server, &spec);
    assert_eq!(msg.queries[0].name.to_ascii(), spec.wire_name(), "DNS 0x20 relies on it");
}

// ---- shoal check and configuration ----

const GOOD_HEAD: &str = "$ORIGIN bad.test.\n$TTL 300\n\
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n  IN NS ns1\nns1 IN A 192.0.2.1\n";

/// Run `shoal check` on a config serving `bad.test.` from `zone_text` (or on
/// `config_text` with that zone file beside it); returns the exit code and stdout +
/// stderr. Bounded: the process is stopped after a time limit.
fn shoal_check(config_text: Option<&str>, zone_text: &str) -> (Option<i32>, String) {
    let shoal = Shoal::builder("check")
        .identity(IDENTITY)
        .zone(ShoalZone::primary_file("bad.test.", "bad.zone"))
        .file("bad.zone", zone_text)
        .build();
    if let Some(text) = config_text {
        std::fs::write(shoal.config(), text).expect("write config");
    }
    let out = shoal.check();
    (out.status.code(), out.all())
}

fn assert_check_fails_naming(zone_text: &str, needles: &[&str]) {
    let (code, output) = shoal_check(None, zone_text);
    assert_eq!(code, Some(1), "shoal check must exit 1; output:\n{output}");
    assert!(needles.iter().any(|n| output.contains(n)), "output should name one of {needles:?}:\n{output}");
}

#[test]
fn check_accepts_a_valid_zone() {
    let (code, output) = shoal_check(None, GOOD_HEAD);
    assert_eq!(code, Some(0), "valid zone rejected:\n{output}");
}

#[test]
fn check_rejects_cname_beside_other_data_naming_file_and_line() {
    let zone = format!("{GOOD_HEAD}www IN A 192.0.2.2\nwww IN CNAME ns1\n");
    assert_check_fails_naming(&zone, &["bad.zone:6", "bad.zone:7"]);
}

#[test]
fn check_rejects_a_zone_without_soa_naming_the_file() {
    let zone = "$ORIGIN bad.test.\n$TTL 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n";
    assert_check_fails_naming(zone, &["bad.zone"]);
}

#[test]
fn check_rejects_an_out_of_zone_record_naming_file_and_line() {
    let zone = format!("{GOOD_HEAD}www.other.test. IN A 192.0.2.3\n");
    assert_check_fails_naming(&zone, &["bad.zone:6"]);
}

#[test]
fn check_rejects_bad_rdata_naming_file_and_line() {
    for bad in ["www IN A 192.0.2.300", "mx IN MX mail.bad.test.", "t IN TYPE65000 \\# 4 0a00"] {
        let zone = format!("{GOOD_HEAD}ok IN A 192.0.2.9\n{bad}\n");
        assert_check_fails_naming(&zone, &["bad.zone:7"]);
    }
}

#[test]
fn config_with_unknown_key_fails_naming_the_key() {
    for (key, config) in [
        ("frobnicate", "[server]\nlisten = [\"127.0.0.1:5300\"]\nfrobnicate = true\n[[zone]]\nname = \"bad.test.\"\nfile = \"zones/bad.zone\"\n"),
        ("fiel", "[server]\nlisten = [\"127.0.0.1:5300\"]\n[[zone]]\nname = \"bad.test.\"\nfiel = \"zones/bad.zone\"\n"),
    ] {
        let (code, output) = shoal_check(Some(config), GOOD_HEAD);
        assert_eq!(code, Some(1), "unknown key {key} accepted:\n{output}");
        assert!(output.contains(key), "output should name {key}:\n{output}");
    }
}

#[test]
fn broken_zone_answers_servfail_while_the_good_zone_is_served() {
    let shoal = Shoal::builder("shoal")
        .identity(IDENTITY)
        .fixture_files()
        .zone(ShoalZone::primary_file("example.com.", "example.com.zone"))
        .zone(ShoalZone::primary_file("broken.test.", "broken.zone"))
        .file(
            "broken.zone",
            "$ORIGIN broken.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n  IN NS ns1\nns1 IN A 192.0.2.999\n",
        )
        .ready_zones(&["example.com."])
        .start();
    let server = Server::Shoal(shoal);
    for name in ["broken.test.", "ns1.broken.test."] {
        let msg = ask(&server, &QuerySpec::rtype(name, SOA));
        assert_eq!(rcode(&msg), 2, "SERVFAIL for {name} in the zone that failed to load");
    }
    let good = ask(&server, &QuerySpec::rtype("www.example.com.", A));
    assert_eq!((rcode(&good), good.metadata.authoritative), (0, true));
}
