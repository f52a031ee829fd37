//! The pure `answer()` function against hand-written zones, with every response decoded
//! by hickory-proto as an independent decoder.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use shoal_wire::name::from_ascii;
use shoal_zonedb::answer::answer_record_by_record;
use shoal_zonedb::{answer, Catalog, Options, ZoneState};
use std::path::Path;
use std::sync::Arc;

const ZONE: &str = r#"
$ORIGIN example.com.
$TTL 3600
@       SOA   ns1 hostmaster 42 7200 3600 1209600 300
        NS    ns1
        NS    ns2.example.net.
        MX    10 mail
ns1     A     192.0.2.53
mail    A     192.0.2.25
        AAAA  2001:db8::25
www     A     192.0.2.80
Upper   A     192.0.2.81
web     CNAME www
alias   CNAME web
loop1   CNAME loop2
loop2   CNAME loop1
ext     CNAME www.example.net.
dead    CNAME nothere
*.wild  A     192.0.2.99
a.b.ent A     192.0.2.70
old     DNAME new.example.com.
a.new   A     192.0.2.71
long    DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.
sub     NS    ns1.sub
        NS    ns.example.net.
        DS    12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns1.sub A     192.0.2.153
big     TXT   "0123456789012345678901234567890123456789012345678901234567890123456789"
        TXT   "1123456789012345678901234567890123456789012345678901234567890123456789"
        TXT   "2123456789012345678901234567890123456789012345678901234567890123456789"
        TXT   "3123456789012345678901234567890123456789012345678901234567890123456789"
        TXT   "4123456789012345678901234567890123456789012345678901234567890123456789"
        TXT   "5123456789012345678901234567890123456789012345678901234567890123456789"
        TXT   "6123456789012345678901234567890123456789012345678901234567890123456789"
        TXT   "7123456789012345678901234567890123456789012345678901234567890123456789"
"#;

fn catalog() -> Catalog {
    let mut c = Catalog::new();
    let apex = from_ascii("example.com.").unwrap();
    let snap = shoal_zonedb::load_zone_str(&apex, ZONE, Path::new("test.zone")).unwrap();
    c.insert(apex, ZoneState::Ready(Arc::new(snap)));
    let apex = from_ascii("example.").unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zones/rfc4592.zone");
    let snap = shoal_zonedb::load_zone(&apex, &path).unwrap();
    c.insert(apex, ZoneState::Ready(Arc::new(snap)));
    c.insert(from_ascii("broken.test.").unwrap(), ZoneState::Failed);
    c
}

/// A query in wire form; `edns` = Some((payload, version, do, nsid)).
fn query(name: &str, qtype: u16, qclass: u16, edns: Option<(u16, u8, bool, bool)>) -> Vec<u8> {
    let mut m = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())];
    for l in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&qclass.to_be_bytes());
    if let Some((payload, version, dnssec, nsid)) = edns {
        m.extend_from_slice(&[0, 0, 41]);
        m.extend_from_slice(&payload.to_be_bytes());
        m.extend_from_slice(&[0, version, if dnssec { 0x80 } else { 0 }, 0]);
        if nsid {
            m.extend_from_slice(&[0, 4, 0, 3, 0, 0]);
        } else {
            m.extend_from_slice(&[0, 0]);
        }
    }
    m
}

fn ask_with(q: &[u8], opts: &Options<'_>) -> Message {
    let mut out = vec![0u8; 65535];
    let catalog = catalog();
    let r = answer(q, &catalog, opts, &mut out);
    assert!(r.len > 0, "no response");
    Message::from_vec(&out[..r.len]).expect("hickory decodes our response")
}

fn ask(name: &str, t: RecordType) -> Message {
    ask_with(&query(name, u16::from(t), 1, None), &Options::default())
}

fn names(rs: &[hickory_proto::rr::Record]) -> Vec<String> {
    rs.iter().map(|r| format!("{} {}", r.name.to_string().to_lowercase(), r.record_type())).collect()
}

#[test]
fn positive_answer_is_authoritative_and_echoes_question_case() {
    let m = ask("WwW.Example.COM.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert!(m.metadata.recursion_desired);
    assert_eq!(m.queries[0].name().to_string(), "WwW.Example.COM.");
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].data, RData::A("192.0.2.80".parse().unwrap()));
    assert!(m.authorities.is_empty(), "minimal responses: no NS in authority");
}

#[test]
fn uppercase_owner_in_zone_file_matches_lowercase_query() {
    let m = ask("upper.example.com.", RecordType::A);
    assert_eq!(m.answers.len(), 1);
}

#[test]
fn nxdomain_and_nodata_carry_soa_with_negative_ttl() {
    for (name, t, rcode) in [
        ("nothere.example.com.", RecordType::A, ResponseCode::NXDomain),
        ("www.example.com.", RecordType::MX, ResponseCode::NoError),
    ] {
        let m = ask(name, t);
        assert_eq!(m.metadata.response_code, rcode, "{name}");
        assert!(m.metadata.authoritative);
        assert!(m.answers.is_empty());
        assert_eq!(m.authorities.len(), 1);
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(m.authorities[0].ttl, 300, "min(SOA TTL 3600, MINIMUM 300)");
    }
}

#[test]
fn rfc4592_empty_non_terminal_is_nodata_and_below_it_nxdomain() {
    let m = ask("ent.example.com.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    let m = ask("x.ent.example.com.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn rfc4592_section_2_2_1_examples() {
    // Wildcard matches.
    let m = ask("host3.example.", RecordType::MX);
    assert_eq!(names(&m.answers), ["host3.example. MX"]);
    assert_eq!(names(&m.additionals), ["host1.example. A"]);
    let m = ask("foo.bar.example.", RecordType::TXT);
    assert_eq!(names(&m.answers), ["foo.bar.example. TXT"]);
    // Wildcard matches the name but not the type: NODATA.
    let m = ask("host3.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    // Existing names are not synthesized.
    let m = ask("host1.example.", RecordType::MX);
    assert!(m.answers.is_empty());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let m = ask("sub.*.example.", RecordType::MX);
    assert!(m.answers.is_empty());
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    // The wildcard does not apply below an existing name.
    let m = ask("_telnet._tcp.host1.example.", RecordType::SRV);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let m = ask("ghost.*.example.", RecordType::MX);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    // Below a cut: referral.
    let m = ask("host.subdel.example.", RecordType::A);
    assert!(!m.metadata.authoritative);
    assert_eq!(names(&m.authorities), ["subdel.example. NS", "subdel.example. NS"]);
}

#[test]
fn wildcard_synthesis_uses_the_query_name() {
    let m = ask("A.b.Wild.example.com.", RecordType::A);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].name.to_string().to_lowercase(), "a.b.wild.example.com.");
}

#[test]
fn cname_chain_is_followed_in_zone_and_stops_outside() {
    let m = ask("alias.example.com.", RecordType::A);
    assert_eq!(names(&m.answers), ["alias.example.com. CNAME", "web.example.com. CNAME", "www.example.com. A"]);
    assert!(m.metadata.authoritative);
    let m = ask("ext.example.com.", RecordType::A);
    assert_eq!(names(&m.answers), ["ext.example.com. CNAME"]);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let m = ask("dead.example.com.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "RFC 6604: RCODE of the last link");
    assert_eq!(names(&m.authorities), ["example.com. SOA"]);
    let m = ask("web.example.com.", RecordType::CNAME);
    assert_eq!(names(&m.answers), ["web.example.com. CNAME"]);
}

#[test]
fn cname_loop_terminates() {
    let m = ask("loop1.example.com.", RecordType::A);
    assert_eq!(names(&m.answers), ["loop1.example.com. CNAME", "loop2.example.com. CNAME"]);
}

#[test]
fn dname_synthesizes_cname_and_yxdomain_when_too_long() {
    let m = ask("a.old.example.com.", RecordType::A);
    assert_eq!(names(&m.answers), ["old.example.com. DNAME", "a.old.example.com. CNAME", "a.new.example.com. A"]);
    let long_label = "x".repeat(60);
    let q = format!("{long_label}.{long_label}.long.example.com.");
    let m = ask(&q, RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::YXDomain);
    assert_eq!(names(&m.answers), ["long.example.com. DNAME"]);
}

#[test]
fn referral_has_no_aa_ns_in_authority_and_glue() {
    let m = ask("host.sub.example.com.", RecordType::A);
    assert!(!m.metadata.authoritative);
    assert!(m.answers.is_empty());
    assert_eq!(names(&m.authorities), ["sub.example.com. NS", "sub.example.com. NS"]);
    assert_eq!(names(&m.additionals), ["ns1.sub.example.com. A"]);
}

#[test]
fn ds_at_the_cut_is_answered_from_the_parent_side() {
    let m = ask("sub.example.com.", RecordType::DS);
    assert!(m.metadata.authoritative);
    assert_eq!(names(&m.answers), ["sub.example.com. DS"]);
    let m = ask("sub.example.com.", RecordType::A);
    assert!(!m.metadata.authoritative, "other types at the cut are a referral");
}

#[test]
fn big_rrset_truncates_over_udp_and_fits_over_tcp() {
    let m = ask("big.example.com.", RecordType::TXT);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty(), "RRset is written whole or not at all");
    let tcp = Options { tcp: true, ..Options::default() };
    let m = ask_with(&query("big.example.com.", 16, 1, None), &tcp);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 8);
    let m = ask_with(&query("big.example.com.", 16, 1, Some((1232, 0, false, false))), &Options::default());
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 8);
}

#[test]
fn edns_is_echoed_badvers_and_nsid() {
    let id = Options { identity: Some(b"ns1.test"), ..Options::default() };
    let m = ask_with(&query("www.example.com.", 1, 1, Some((4096, 0, true, true))), &id);
    let e = m.edns.as_ref().expect("OPT echoed");
    assert_eq!(e.max_payload(), 1232);
    assert!(e.flags().dnssec_ok);
    let raw = m.to_vec().unwrap();
    assert!(raw.windows(8).any(|w| w == b"ns1.test"), "NSID carried");
    let m = ask_with(&query("www.example.com.", 1, 1, Some((4096, 1, false, false))), &id);
    // 16 is BADVERS in an OPT context (hickory names the shared code BADSIG).
    assert_eq!(u16::from(m.metadata.response_code), 16);
    assert!(m.answers.is_empty());
}

#[test]
fn refused_outside_zones_servfail_for_failed_zone() {
    let m = ask("www.example.org.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(!m.metadata.authoritative);
    let m = ask("www.broken.test.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn chaos_identity_and_hidden_version() {
    let id = Options { identity: Some(b"ns1.test"), ..Options::default() };
    let m = ask_with(&query("id.server.", 16, 3, None), &id);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);
    let m = ask_with(&query("version.bind.", 16, 3, None), &id);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn rfc8482_any_gets_one_rrset_over_udp_and_tcp_and_does_not_follow_cname() {
    for tcp in [false, true] {
        let opts = Options { tcp, ..Options::default() };
        let m = ask_with(&query("example.com.", 255, 1, None), &opts);
        assert!(!m.answers.is_empty());
        assert!(m.answers.iter().all(|r| r.record_type() == m.answers[0].record_type()), "one RRset");
        let m = ask_with(&query("alias.example.com.", 255, 1, None), &opts);
        assert_eq!(names(&m.answers), ["alias.example.com. CNAME"]);
    }
}

#[test]
fn cd_is_cleared_class_any_is_answered_as_in_and_refused_carries_ede() {
    let mut q = query("www.example.com.", 1, 255, Some((1232, 0, false, false)));
    q[3] |= 0x10; // CD
    let m = ask_with(&q, &Options::default());
    assert!(!m.metadata.checking_disabled, "RFC 4035 3.1.6");
    assert_eq!(m.answers.len(), 1);
    let q = query("www.example.org.", 1, 1, Some((1232, 0, false, false)));
    let mut out = vec![0u8; 4096];
    let catalog = catalog();
    let r = answer(&q, &catalog, &Options::default(), &mut out);
    // OPT with EDE option 15, info code 20, at the very end.
    assert_eq!(&out[r.len - 6..r.len], &[0, 15, 0, 2, 0, 20]);
}

#[test]
fn answers_report_the_catalog_index_of_the_zone_that_answered() {
    let cat = catalog();
    let mut out = vec![0u8; 65535];
    let o = Options::default();
    let index = |apex: &str| cat.find(from_ascii(apex).unwrap().as_wire()).unwrap().index;
    let zone_of = |name: &str, class: u16, out: &mut [u8]| answer(&query(name, 1, class, None), &cat, &o, out).zone;
    // Positive, NXDOMAIN and SERVFAIL answers all belong to their zone.
    assert_eq!(zone_of("www.example.com.", 1, &mut out), Some(index("example.com.")));
    assert_eq!(zone_of("nope.example.com.", 1, &mut out), Some(index("example.com.")));
    assert_eq!(zone_of("host1.example.", 1, &mut out), Some(index("example.")));
    assert_eq!(zone_of("x.broken.test.", 1, &mut out), Some(index("broken.test.")));
    // REFUSED outside every zone, CHAOS and malformed queries belong to none.
    assert_eq!(zone_of("www.example.org.", 1, &mut out), None);
    assert_eq!(zone_of("id.server.", 3, &mut out), None);
    assert_eq!(answer(&[0xbe, 0xef, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0], &cat, &o, &mut out).zone, None);
    let indexes: std::collections::BTreeSet<usize> = cat.iter().map(|(_, e)| e.index).collect();
    assert_eq!(indexes, (0..cat.len()).collect(), "indexes are 0..len, one per zone");
}

#[test]
fn rfc5155_7_2_8_an_nsec3_owner_name_does_not_exist_for_queries() {
    let apex = from_ascii("signed.test.").unwrap();
    let zone = "$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n\
                2vptu5timamqttgl4luu9kg21e0aor3s NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s A\n\
                2vptu5timamqttgl4luu9kg21e0aor3s RRSIG NSEC3 13 3 300 20240201000000 20240101000000 1 signed.test. AA==\n\
                both NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s A\nboth A 192.0.2.9\n";
    let snap = shoal_zonedb::load_zone_str(&apex, zone, Path::new("signed.zone")).unwrap();
    let mut cat = Catalog::new();
    cat.insert(apex, ZoneState::Ready(Arc::new(snap)));
    let mut out = vec![0u8; 65535];
    let ask = |name: &str, t: u16, out: &mut Vec<u8>| {
        let r = answer(&query(name, t, 1, None), &cat, &Options::default(), out);
        Message::from_vec(&out[..r.len]).unwrap()
    };
    for t in [50u16, 46, 1] {
        let m = ask("2vptu5timamqttgl4luu9kg21e0aor3s.signed.test.", t, &mut out);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "type {t}");
        assert!(m.answers.is_empty());
        assert_eq!(names(&m.authorities), ["signed.test. SOA"]);
    }
    // A name with other data beside an NSEC3 exists as usual.
    let m = ask("both.signed.test.", 50, &mut out);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);

    // An IXFR that signs an unsigned zone: the new version knows it has hashed names.
    let apex = from_ascii("later.test.").unwrap();
    let unsigned = "$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
    let signed = "$TTL 300\n@ SOA ns hm 2 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n\
                  2vptu5timamqttgl4luu9kg21e0aor3s NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s A\n";
    let old = shoal_zonedb::load_zone_str(&apex, unsigned, Path::new("v1")).unwrap();
    let new = shoal_zonedb::load_zone_str(&apex, signed, Path::new("v2")).unwrap();
    let d = shoal_zonedb::change::diff::diff(&old, &new);
    let applied = shoal_zonedb::change::apply::apply(&old, &[d]).unwrap();
    assert!(applied.shares_base_with(&old), "derived, not rebuilt");
    let mut cat = Catalog::new();
    cat.insert(apex, ZoneState::Ready(Arc::new(applied)));
    let r = answer(
        &query("2vptu5timamqttgl4luu9kg21e0aor3s.later.test.", 50, 1, None),
        &cat,
        &Options::default(),
        &mut out,
    );
    let m = Message::from_vec(&out[..r.len]).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn malformed_queries_get_formerr_notimp_or_nothing() {
    let cat = catalog();
    let mut out = vec![0u8; 65535];
    let o = Options::default();
    // Too short, or QR set: dropped.
    assert_eq!(answer(&[0; 11], &cat, &o, &mut out).len, 0);
    let mut q = query("www.example.com.", 1, 1, None);
    q[2] |= 0x80;
    assert_eq!(answer(&q, &cat, &o, &mut out).len, 0);
    // Lying counts: FORMERR with the ID kept.
    let mut q = query("www.example.com.", 1, 1, None);
    q[7] = 3;
    let r = answer(&q, &cat, &o, &mut out);
    let m = Message::from_vec(&out[..r.len]).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(m.metadata.id, 0xbeef);
    // Unknown opcode: NOTIMP.
    let mut q = query("www.example.com.", 1, 1, None);
    q[2] = 0x01 | (2 << 3);
    let r = answer(&q, &cat, &o, &mut out);
    let m = Message::from_vec(&out[..r.len]).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
}

#[test]
fn every_truncation_of_a_query_is_handled() {
    let cat = catalog();
    let mut out = vec![0u8; 65535];
    let q = query("www.example.com.", 1, 1, Some((1232, 0, true, true)));
    for n in 0..q.len() {
        let r = answer(&q[..n], &cat, &Options::default(), &mut out);
        if n >= 12 {
            assert!(r.len >= 12, "a reply for {n} bytes");
            assert_eq!(out[3] & 0x0f, 1, "FORMERR for {n} bytes");
        } else {
            assert_eq!(r.len, 0);
        }
    }
}

#[test]
fn precompiled_blocks_equal_record_by_record_encoding() {
    let cat = catalog();
    let mut names = vec![
        "example.com.".to_string(),
        "www.example.com.".into(),
        "WWW.EXAMPLE.com.".into(),
        "nothere.example.com.".into(),
        "a.very.deep.name.that.does.not.exist.example.com.".into(),
        "mail.example.com.".into(),
        "ent.example.com.".into(),
        "host.sub.example.com.".into(),
        "a.b.c.d.sub.example.com.".into(),
        "sub.example.com.".into(),
        "big.example.com.".into(),
        "host3.example.".into(),
        "_ssh._tcp.host1.example.".into(),
        "x.subdel.example.".into(),
    ];
    names.push(format!("{}.example.com.", "z".repeat(63)));
    let mut a = vec![0u8; 65535];
    let mut b = vec![0u8; 65535];
    for name in &names {
        for t in [1u16, 2, 6, 15, 16, 28, 33, 43, 99] {
            for edns in [None, Some((512, 0, false, false)), Some((4096, 0, true, false))] {
                let q = query(name, t, 1, edns);
                let opts = Options::default();
                let ra = answer(&q, &cat, &opts, &mut a);
                let rb = answer_record_by_record(&q, &cat, &opts, &mut b);
                assert_eq!(ra, rb, "{name} {t} {edns:?}");
                assert_eq!(&a[..ra.len], &b[..rb.len], "{name} {t} {edns:?}");
            }
        }
    }
}
