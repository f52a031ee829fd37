//! Every record type of the table read from text and shown again: each sample parses,
//! its text form parses back to the same wire bytes, and every zone-data type has a
//! sample. Wire bytes are pinned where the RFC gives them.

use shoal_wire::rdata::{self, Kind, Token, TYPES};
use shoal_wire::Rtype;

const ORIGIN: &[u8] = b"\x07example\x03com\x00";

/// Split presentation text into tokens as the zone-file lexer does for these samples
/// (quoted strings without escaped quotes inside, no parentheses).
fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            out.push(Token { text: &r[..end], quoted: true });
            rest = r[(end + 1).min(r.len())..].trim_start();
        } else {
            let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
            out.push(Token { text: &rest[..end], quoted: false });
            rest = rest[end..].trim_start();
        }
    }
    out
}

fn parse(rtype: Rtype, text: &str) -> Result<Vec<u8>, rdata::RdataError> {
    let mut out = Vec::new();
    rdata::parse(rtype, &tokens(text), ORIGIN, &mut out).map(|_| out)
}

fn show(rtype: Rtype, wire: &[u8]) -> String {
    let mut s = String::new();
    rdata::format(rtype, wire, &mut s);
    s
}

/// (type, presentation text) in the spellings Knot and BIND accept.
const SAMPLES: &[(&str, &str)] = &[
    ("A", "192.0.2.1"),
    ("NS", "ns1"),
    ("MD", "mail.example.net."),
    ("MF", "mail.example.net."),
    ("CNAME", "www.example.net."),
    ("SOA", "ns1 hostmaster.example.com. 2024010101 1h 15m 1w 300"),
    ("MB", "mb.example.net."),
    ("MG", "mg.example.net."),
    ("MR", "mr.example.net."),
    ("WKS", "192.0.2.1 tcp 25 80 443"),
    ("PTR", "host.example.net."),
    ("HINFO", "\"Generic PC\" \"Linux\""),
    ("MINFO", "rmail.example.com. email.example.com."),
    ("MX", "10 mail"),
    ("TXT", "\"v=spf1 -all\" plain \"with space\""),
    ("RP", "admin.example.com. txt.example.com."),
    ("AFSDB", "1 afs.example.com."),
    ("X25", "\"311061700956\""),
    ("ISDN", "\"150862028003217\" \"004\""),
    ("RT", "10 relay.example.com."),
    ("NSAP", "0x47.0005.80.005a00.0000.0001.e133.ffffff000161.00"),
    ("SIG", "A 13 3 3600 20240201000000 20240101000000 12345 example.com. dGVzdCBzaWduYXR1cmU="),
    ("KEY", "256 3 13 dGVzdCBrZXkgZGF0YQ=="),
    ("PX", "10 map822.example.com. mapx400.example.com."),
    ("GPOS", "\"-32.6882\" \"116.8652\" \"10.0\""),
    ("AAAA", "2001:db8::1"),
    ("LOC", "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000.00m 10.00m"),
    ("LOC", "42 21 54 N 71 06 18 W -24m 30m"),
    ("SRV", "0 5 5060 sip"),
    ("NAPTR", "100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" ."),
    ("KX", "10 kx.example.com."),
    ("CERT", "PGP 0 0 dGVzdCBjZXJ0"),
    ("DNAME", "example.net."),
    ("APL", "1:192.168.32.0/21 !1:192.168.38.0/28 2:2001:db8::/32"),
    ("DS", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
    ("SSHFP", "4 2 123456789abcdef67890123456789abcdef67890123456789abcdef123456789"),
    ("IPSECKEY", "10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ=="),
    ("RRSIG", "A 13 3 3600 20240201000000 20240101000000 12345 Example.COM. dGVzdCBzaWduYXR1cmU="),
    ("NSEC", "host.example.com. A MX RRSIG NSEC TYPE1234"),
    ("DNSKEY", "257 3 ECDSAP256SHA256 dGVzdCBrZXkgZGF0YQ=="),
    ("DHCID", "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA="),
    ("NSEC3", "1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"),
    ("NSEC3PARAM", "1 0 0 -"),
    ("TLSA", "3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"),
    ("SMIMEA", "3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"),
    ("HIP", "2 200100107B1A74DF365639CC39F1D578 AwEAAbdxyhNuSutc5EMzxTs9LBPCIkOFH8cIvM4p9+LrV4e19WzK00+CI6zBCQTdtWsuxKbWIy87UOoJTwkUs7lBu+Upr1gsNrut79ryra+bSRGQb1slImA8YVJyuIDsj7kwzG7jnERNqnWxZ48AWkskmdHaVDP4BcelrTI3rMXdXF5D rvs.example.com."),
    ("NINFO", "\"information\""),
    ("RKEY", "0 3 1 dGVzdCBrZXkgZGF0YQ=="),
    ("TALINK", "prev.example.com. next.example.com."),
    ("CDS", "0 0 0 00"),
    ("CDNSKEY", "0 3 0 AA=="),
    ("OPENPGPKEY", "dGVzdCBwZ3Aga2V5"),
    ("CSYNC", "66 3 A NS AAAA"),
    ("ZONEMD", "2018031500 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE"),
    ("SVCB", "1 . alpn=h2,h3 port=8443"),
    ("HTTPS", "1 . alpn=h2,h3 ipv4hint=192.0.2.1 ipv6hint=2001:db8::1"),
    ("SPF", "\"v=spf1 -all\""),
    ("NID", "10 0014:4fff:ff20:ee64"),
    ("L32", "10 10.1.2.0"),
    ("L64", "10 2001:0db8:1140:1000"),
    ("LP", "10 l64-subnet1.example.com."),
    ("EUI48", "00-00-5e-00-53-2a"),
    ("EUI64", "00-00-5e-ef-10-00-00-2a"),
    ("URI", "10 1 \"ftp://ftp1.example.com/public\""),
    ("CAA", "0 issue \"ca.example.net\""),
    ("AVC", "\"app-name:WOLFGANG|app-class:OAM\""),
    ("DLV", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
];

fn rtype(mnemonic: &str) -> Rtype {
    rdata::rtype_from_text(mnemonic).unwrap_or_else(|| panic!("{mnemonic} in the table"))
}

#[test]
fn every_zone_data_type_has_a_sample() {
    for d in TYPES.iter().filter(|d| d.kind == Kind::Data) {
        assert!(SAMPLES.iter().any(|(m, _)| *m == d.mnemonic), "no sample for {}", d.mnemonic);
    }
}

#[test]
fn every_sample_round_trips_through_its_text_form() {
    for &(m, text) in SAMPLES {
        let t = rtype(m);
        let wire = parse(t, text).unwrap_or_else(|e| panic!("{m} {text}: {e}"));
        let shown = show(t, &wire);
        assert!(!shown.starts_with("\\#"), "{m} {text}: shown generically as {shown}");
        let again = parse(t, &shown).unwrap_or_else(|e| panic!("{m} shown as {shown}: {e}"));
        assert_eq!(again, wire, "{m}: {text} -> {shown}");
        // The generic form of the same bytes reads back to them too (RFC 3597 §5).
        let mut generic = String::new();
        rdata::format::generic(&wire, &mut generic);
        assert_eq!(parse(t, &generic).unwrap(), wire, "{m} as {generic}");
    }
}

#[test]
fn wire_forms_pinned_by_their_rfcs() {
    assert_eq!(parse(Rtype::MX, "10 mail").unwrap(), b"\x00\x0a\x04mail\x07example\x03com\x00");
    let soa = parse(Rtype::SOA, "ns1 host.master.example.net. 2024 1h 15m 1w 300").unwrap();
    assert_eq!(&soa[soa.len() - 20..], &[0, 0, 7, 232, 0, 0, 14, 16, 0, 0, 3, 132, 0, 9, 58, 128, 0, 0, 1, 44]);
    assert_eq!(parse(Rtype::TXT, "\"a b\" c").unwrap(), b"\x03a b\x01c");
    // RFC 4034 §5.4: the DS example.
    let ds =
        parse(Rtype::DS, "60485 5 1 ( 2BB183AF5F22588179A53B0A 98631FAD1A292118 )".replace(['(', ')'], "").as_str())
            .unwrap();
    assert_eq!(&ds[..4], &[0xec, 0x45, 5, 1]);
    assert_eq!(ds.len(), 24);
    // WKS services by name, as BIND and NSD read them: ports 25 and 53.
    assert_eq!(parse(Rtype(11), "192.0.2.4 tcp smtp domain").unwrap(), [192, 0, 2, 4, 6, 0, 0, 0, 64, 0, 0, 4]);
    // RFC 7043 §3.2 and §4.2.
    assert_eq!(parse(Rtype(108), "00-00-5e-00-53-2a").unwrap(), [0, 0, 0x5e, 0, 0x53, 0x2a]);
    // RFC 6742 §2.1: NID as four groups of 16 bits.
    assert_eq!(
        parse(Rtype(104), "10 0014:4fff:ff20:ee64").unwrap(),
        [0, 10, 0, 0x14, 0x4f, 0xff, 0xff, 0x20, 0xee, 0x64]
    );
    // RFC 8659: CAA flags, tag with its length, value without one.
    assert_eq!(parse(Rtype::CAA, "0 issue \"ca.example.net\"").unwrap(), b"\x00\x05issueca.example.net");
    // The RRSIG signer is stored lowercase; other names keep their case.
    let sig = parse(Rtype::RRSIG, SAMPLES.iter().find(|s| s.0 == "RRSIG").unwrap().1).unwrap();
    assert!(sig.windows(13).any(|w| w == b"\x07example\x03com\x00"));
    assert_eq!(parse(Rtype::CNAME, "WWW.Example.NET.").unwrap(), b"\x03WWW\x07Example\x03NET\x00");
}

#[test]
fn the_knot_spelling_of_each_kind() {
    let cases = [
        ("A", "192.0.2.1"),
        ("MX", "10 mail.example.com."),
        ("SOA", "ns1.example.com. hostmaster.example.com. 2024010101 3600 900 604800 300"),
        ("TXT", "\"v=spf1 -all\" \"plain\" \"with space\""),
        ("DS", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
        ("RRSIG", "A 13 3 3600 20240201000000 20240101000000 12345 example.com. dGVzdCBzaWduYXR1cmU="),
        ("NSEC", "host.example.com. A MX RRSIG NSEC TYPE1234"),
        ("NSEC3", "1 1 12 AABBCCDD 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"),
        ("NSEC3PARAM", "1 0 0 -"),
        ("DNSKEY", "257 3 13 dGVzdCBrZXkgZGF0YQ=="),
        ("CAA", "0 issue \"ca.example.net\""),
        ("EUI48", "00-00-5E-00-53-2A"),
        ("NID", "10 0014:4FFF:FF20:EE64"),
    ];
    for (m, want) in cases {
        let t = rtype(m);
        let text = SAMPLES.iter().find(|s| s.0 == m).map_or(want, |s| s.1);
        assert_eq!(show(t, &parse(t, text).unwrap()), want, "{m}");
    }
}

#[test]
fn generic_form_for_any_type_and_errors_that_name_the_field() {
    assert_eq!(parse(Rtype(65000), "\\# 3 abcdef").unwrap(), [0xab, 0xcd, 0xef]);
    assert_eq!(parse(Rtype::A, "\\# 4 0A000001").unwrap(), [10, 0, 0, 1]);
    assert_eq!(parse(Rtype(65000), "\\# 0").unwrap(), [] as [u8; 0]);
    assert!(parse(Rtype(65000), "\\# 4 abcdef").is_err());
    assert!(parse(Rtype(65000), "abc").is_err(), "unknown types only in the generic form");
    assert!(parse(Rtype::NULL, "abc").is_err());
    assert!(parse(Rtype::TSIG, "\\# 0").is_err(), "meta types never");
    assert_eq!(show(Rtype(65000), &[1, 2]), "\\# 2 0102");
    let e = parse(Rtype::A, "1.2.3").unwrap_err();
    assert_eq!((e.field, e.reason.as_str()), ("address", "bad IPv4 address"));
    assert_eq!(parse(Rtype::A, "1.2.3.4 5").unwrap_err().reason, "trailing data after RDATA");
    assert_eq!(parse(Rtype::MX, "10").unwrap_err().to_string(), "exchange: missing");
    assert_eq!(parse(Rtype::DS, "1 2 3 XY").unwrap_err().field, "digest");
    assert_eq!(parse(Rtype::NSEC3, "1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s BOGUS").unwrap_err().field, "types");
    assert_eq!(parse(Rtype(108), "00-00-5e-00-53").unwrap_err().field, "address");
    assert_eq!(parse(Rtype::CAA, "0 is-sue x").unwrap_err().field, "tag");
    // RDATA that does not match its type's layout is shown generically.
    assert_eq!(show(Rtype::A, &[1, 2, 3]), "\\# 3 010203");
}

#[test]
fn arbitrary_text_never_panics() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet: Vec<char> = "0123456789abcdefABCDEF.:-=,\\\"! ()/#mhdwNSEW@ ".chars().collect();
    for _ in 0..20_000 {
        let len = (next() % 40) as usize;
        let text: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        let d = &TYPES[(next() % TYPES.len() as u64) as usize];
        let _ = parse(d.rtype, &text);
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = show(d.rtype, &bytes);
    }
}

#[test]
fn malformed_rdata_of_every_field_kind_names_the_field() {
    // (type, RDATA, the field the error names)
    let cases = [
        ("NS", "a..b", "nsdname"),
        ("MX", "65536 mail", "preference"),
        ("SSHFP", "256 1 00", "algorithm"),
        ("SOA", "ns hm 1 2 3 4x 5", "expire"),
        ("SOA", "ns hm 4294967296 2 3 4 5", "serial"),
        ("RRSIG", "A 13 3 3600 20241301000000 20240101000000 1 example.com. AA==", "expiration"),
        ("RRSIG", "BOGUS 13 3 3600 1 2 1 example.com. AA==", "type covered"),
        ("DNSKEY", "257 3 NOALG AA==", "algorithm"),
        ("A", "192.0.2", "address"),
        ("AAAA", "2001:db8::g", "address"),
        ("HINFO", "\"a\"", "os"),
        ("ISDN", "\"1\" \"2\" \"3\"", ""),
        ("TXT", "", "text"),
        ("URI", "1 1", "target"),
        ("DHCID", "!!!", "digest"),
        ("IPSECKEY", "1 0 2 . !!!", "public key"),
        ("DS", "1 13 2 0g", "digest"),
        ("NSEC3PARAM", "1 0 0 xyz", "salt"),
        ("NSEC3", "1 0 0 - 11111111111111111111111111111111zz A", "next hashed owner"),
        ("NSEC", "next.example.com. A BOGUS", "types"),
        ("CAA", "0 \"\" x", "tag"),
        ("CERT", "NOPE 0 0 AA==", "type"),
        ("IPSECKEY", "1 1 2 2001:db8::1 AA==", "gateway"),
        ("IPSECKEY", "1 4 2 x AA==", "gateway"),
        ("EUI48", "00-00-5e-00-53", "address"),
        ("EUI64", "00-00-5e-00-53-2a", "address"),
        ("NID", "1 0014:4fff:ff20", "node id"),
        ("WKS", "192.0.2.1 bogus 25", "protocol"),
        ("WKS", "192.0.2.1 tcp no-such-service", "services"),
        ("NSAP", "47.0005", "address"),
        ("HIP", "2 zz AA==", "HIT"),
    ];
    for (m, text, field) in cases {
        let e = parse(rtype(m), text).expect_err(&format!("{m} {text} is refused"));
        assert_eq!(e.field, field, "{m} {text}: {e}");
        assert!(!e.reason.is_empty(), "{m} {text}: a reason");
    }
}
