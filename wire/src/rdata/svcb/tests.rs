//! SvcParams tests: RFC 9460 Appendix D vectors (text and wire), the Appendix A.1
//! value-list escapes, Knot's spellings, the failure cases, and arbitrary input.

use super::*;
use crate::rdata::testing::{format_all, parse_all, XorShift};

/// Tokens as the zone lexer makes them: split on blanks, `"…"` one quoted token
/// (without the quotes), `\` keeping the next byte in the token.
fn lex(s: &str) -> Vec<Token<'_>> {
    let b = s.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'(' | b')' => i += 1,
            b'"' => {
                let start = i + 1;
                i = start;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(b.len());
                tokens.push(Token { text: &s[start..end], quoted: true });
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\n' | b'"' | b'(' | b')') {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(b.len());
                tokens.push(Token { text: &s[start..end], quoted: false });
                i = end;
            }
        }
    }
    tokens
}

fn wire(text: &str) -> Result<Vec<u8>, RdataError> {
    parse_all(&lex(text), parse)
}

fn show(bytes: &[u8]) -> Result<String, RdataError> {
    format_all(bytes, format)
}

fn hex(s: &str) -> Vec<u8> {
    let digits: String = s.split_whitespace().collect();
    let mut v = Vec::new();
    text::hex_into(&digits, &mut v).unwrap();
    v
}

/// RFC 9460 Appendix D.1 and D.2, whole RDATA through [`crate::rdata::parse`] and
/// [`crate::rdata::format`]: the text, its wire form, and what `kdig` showed for it
/// from knotd 3.2.6.
#[test]
fn rfc9460_appendix_d_vectors() {
    const FOO_COM: &str = "03666f6f076578616d706c6503636f6d00";
    const FOO_ORG: &str = "03666f6f076578616d706c65036f726700";
    let alpn_escaped = format!("0010 {FOO_ORG} 0001 000c 08665c6f6f2c626172 026832");
    let cases: &[(&str, String, &str)] = &[
        ("0 foo.example.com.", format!("0000 {FOO_COM}"), "0 foo.example.com."),
        ("1 .", "0001 00".into(), "1 ."),
        ("16 foo.example.com. port=53", format!("0010 {FOO_COM} 0003 0002 0035"), "16 foo.example.com. port=53"),
        (
            "1 foo.example.com. key667=hello",
            format!("0001 {FOO_COM} 029b 0005 68656c6c6f"),
            "1 foo.example.com. key667=\"hello\"",
        ),
        (
            "1 foo.example.com. key667=\"hello\\210qoo\"",
            format!("0001 {FOO_COM} 029b 0009 68656c6c6fd2716f6f"),
            "1 foo.example.com. key667=\"hello\\210qoo\"",
        ),
        (
            "1 foo.example.com. ( ipv6hint=\"2001:db8::1,2001:db8::53:1\" )",
            format!("0001 {FOO_COM} 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001"),
            "1 foo.example.com. ipv6hint=2001:db8::1,2001:db8::53:1",
        ),
        (
            "1 example.com. ipv6hint=\"2001:db8:122:344::192.0.2.33\"",
            "0001 076578616d706c6503636f6d00 0006 0010 20010db80122034400000000c0000221".into(),
            "1 example.com. ipv6hint=2001:db8:122:344::c000:221",
        ),
        (
            "16 foo.example.org. ( alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1 )",
            format!("0010 {FOO_ORG} 0000 0004 0001 0004 0001 0009 026832 0568332d3139 0004 0004 c0000201"),
            "16 foo.example.org. mandatory=alpn,ipv4hint alpn=h2,h3-19 ipv4hint=192.0.2.1",
        ),
        (
            "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"",
            alpn_escaped.clone(),
            "16 foo.example.org. alpn=f\\\\\\\\oo\\\\,bar,h2",
        ),
        (
            "16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2",
            alpn_escaped,
            "16 foo.example.org. alpn=f\\\\\\\\oo\\\\,bar,h2",
        ),
    ];
    for (text, wire_hex, knot) in cases {
        let mut w = Vec::new();
        crate::rdata::parse(crate::Rtype::SVCB, &lex(text), b"\0", &mut w).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(w, hex(wire_hex), "{text}");
        let mut shown = String::new();
        crate::rdata::format(crate::Rtype::HTTPS, &w, &mut shown);
        assert_eq!(shown, *knot, "{text}");
    }
    let mut shown = String::new();
    crate::rdata::format(crate::Rtype::SVCB, &hex("0001 00 0003 0001 35"), &mut shown);
    assert_eq!(shown, "\\# 8 0001000003000135", "a malformed port shows in the RFC 3597 form");
}

/// RFC 9460 Appendix D.3, every failure case; then more that Knot also refuses.
#[test]
fn rfc9460_appendix_d3_failures() {
    let rfc = [
        "key123=abc key123=def",
        "mandatory",
        "alpn",
        "port",
        "ipv4hint",
        "ipv6hint",
        "no-default-alpn=abc",
        "mandatory=key123",
        "mandatory=mandatory",
        "mandatory=key123,key123 key123=abc",
    ];
    let more: &[&[&str]] = &[
        &["ech", "ech=\"\"", "ech=abc", "dohpath", "no-default-alpn=\"\"", "key65001="],
        &["port=123,456", "port=65536", "port=+1", "port=0x1"],
        &["alpn=\"\"", "alpn=h2,", "alpn=,h2", "alpn=h2,,h3", "alpn=a\\\\;b", "alpn=h2 key1=h3"],
        &["ipv4hint=1.2.3", "ipv4hint=1.2.3.4,", "ipv4hint=::1", "ipv6hint=1.2.3.4"],
        &["mandatory=alpn,alpn alpn=h2", "mandatory=key0", "mandatory=bogus"],
        &["key65536=a", "ALPN=h2", "KEY65000=a", "foo=a", "\"alpn=h2\"", "alpn=h2\"x\""],
    ];
    for text in rfc.iter().chain(more.iter().flat_map(|m| m.iter())) {
        assert!(wire(text).is_err(), "{text} should be refused");
    }
    let e = wire("key123=abc key123=def").unwrap_err();
    assert_eq!(e.to_string(), "parameters: `key123` appears twice");
    let e = wire("mandatory=key123").unwrap_err();
    assert_eq!(e.to_string(), "mandatory: lists `key123`, which is not in the record");
    let e = wire("foo=a").unwrap_err();
    assert_eq!(e.to_string(), "parameters: unknown key: `foo`");
    assert_eq!(wire("port=x").unwrap_err().field, "port");
    assert_eq!(wire("alpn").unwrap_err().field, "alpn");
}

/// RFC 9460 Appendix A.1's example: two spellings of one list of three items.
#[test]
fn rfc9460_appendix_a1_value_list() {
    let mut full = vec![0, 1, 0, 25];
    full.extend_from_slice(b"\x05part1\x05part2\x0cpart3,part4\\");
    let quoted = wire("alpn=\"part1,part2,part3\\\\,part4\\\\\\\\\"").unwrap();
    let plain = wire("alpn=part1\\,\\p\\a\\r\\t2\\044part3\\092,part4\\092\\\\").unwrap();
    assert_eq!(quoted, full);
    assert_eq!(plain, full);
}

/// Spellings taken from `kdig` against knotd 3.2.6 serving these records.
#[test]
fn knot_spellings() {
    let cases: &[(&str, &str)] = &[
        ("alpn=h2 no-default-alpn ech=YWJj", "alpn=h2 no-default-alpn ech=YWJj"),
        (
            "key65000 key65001=\"\" key65002=\"a b\\\"\\\\\\000\\255\"",
            "key65000 key65001 key65002=\"a b\\\"\\\\\\000\\255\"",
        ),
        ("port=0 ipv4hint=192.0.2.1,192.0.2.2", "port=0 ipv4hint=192.0.2.1,192.0.2.2"),
        ("port=01", "port=1"),
        ("key065000=a", "key65000=\"a\""),
        ("alpn=h2 mandatory=alpn,port port=443", "mandatory=alpn,port alpn=h2 port=443"),
        ("alpn=\"h2\\\"x\"", "alpn=h2\\\"x"),
        (
            "key65004=\\001\\127\\200 key65005=\"\\\"\" key65006=a=b",
            "key65004=\"\\001\\127\\200\" key65005=\"\\\"\" key65006=\"a=b\"",
        ),
        (
            "mandatory=key65000,alpn,port alpn=h2 port=1 key65000",
            "mandatory=alpn,port,key65000 alpn=h2 port=1 key65000",
        ),
        ("ipv6hint=::ffff:1.2.3.4,::1.2.3.4,::", "ipv6hint=::ffff:1.2.3.4,::102:304,::"),
        ("key3=443 key1=h2,h3", "alpn=h2,h3 port=443"),
        ("key65535=x", "key65535=\"x\""),
    ];
    for (text, knot) in cases {
        let w = wire(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(show(&w).unwrap(), *knot, "{text}");
        assert_eq!(wire(knot).unwrap(), w, "{knot} reads back");
    }
}

/// Where Knot's spelling does not read back (it quotes one id, `alpn="h2 x",h3`,
/// and leaves `;` bare), the whole value is quoted instead.
#[test]
fn alpn_values_that_need_quotes() {
    let cases: &[(&str, &str)] = &[
        ("alpn=\"h2 x,h3\"", "alpn=\"h2 x,h3\""),
        ("alpn=\"h2;x\"", "alpn=\"h2;x\""),
        ("alpn=\"a(b,c)d,\\009x,\\200y\"", "alpn=\"a(b,c)d,\\009x,\\200y\""),
    ];
    for (text, shown) in cases {
        let w = wire(text).unwrap();
        assert_eq!(show(&w).unwrap(), *shown);
        assert_eq!(wire(shown).unwrap(), w);
    }
}

#[test]
fn dohpath_is_named_and_quoted() {
    let w = wire("dohpath=/dns-query{?dns}").unwrap();
    assert_eq!(w, [&[0, 7, 0, 16][..], b"/dns-query{?dns}"].concat());
    assert_eq!(show(&w).unwrap(), "dohpath=\"/dns-query{?dns}\"");
    assert_eq!(wire("key7=\"/q\"").unwrap(), [&[0, 7, 0, 2][..], b"/q"].concat());
    assert!(wire("dohpath=\"\"").is_err());
    assert!(wire("dohpath=\\255").is_err());
}

#[test]
fn values_over_65535_bytes_are_refused() {
    let long = format!("key9=\"{}\"", "a".repeat(65536));
    assert_eq!(wire(&long).unwrap_err().reason, "value longer than 65535 bytes");
    let fits = format!("key9=\"{}\"", "a".repeat(65535));
    assert_eq!(wire(&fits).unwrap().len(), 65539);
}

/// Wire forms that would not read back are errors (the caller shows `\#`).
#[test]
fn malformed_wire_is_an_error() {
    let cases = [
        "0003 0002 0035 0001 0003 026832",              // keys out of order
        "0003 0002 0035 0003 0002 0035",                // key twice
        "0003 0001 00",                                 // port one byte
        "0002 0001 00",                                 // no-default-alpn with a value
        "0001 0003 026832 ff",                          // truncated
        "0001 0000",                                    // empty alpn
        "0001 0003 006832",                             // empty ALPN id
        "0001 0003 056832",                             // id past the value
        "0004 0003 c00002",                             // IPv4 hint of three bytes
        "0006 0000",                                    // no IPv6 hint
        "0000 0002 0001",                               // mandatory key absent
        "0000 0004 0003 0001 0001 0000 0003 0002 0035", // mandatory unsorted
        "0000 0002 0000",                               // mandatory lists itself
        "0005 0000",                                    // empty ech
        "0007 0000",                                    // empty dohpath
        "0007 0001 ff",                                 // dohpath not UTF-8
        "00",                                           // half a key
    ];
    for case in cases {
        assert!(show(&hex(case)).is_err(), "{case}");
    }
}

/// Random token lists never panic; whatever reads shows, and reads back the same.
#[test]
fn random_tokens_never_panic_and_round_trip() {
    const PIECES: &[&str] = &[
        "alpn",
        "mandatory",
        "port",
        "ipv4hint",
        "ipv6hint",
        "ech",
        "dohpath",
        "no-default-alpn",
        "key7",
        "key1",
        "key0",
        "key65535",
        "key9",
        "key",
        "=",
        "=",
        "=",
        "h2",
        "h3",
        ",",
        ",",
        "\\",
        "\\\\",
        "\\,",
        "\\044",
        "\\092",
        "\\999",
        "\\0",
        "\"",
        " ",
        ";",
        "1.2.3.4",
        "::1",
        "65535",
        "65536",
        "0",
        "YWJj",
        "AAAA",
        "/q{?dns}",
        "alpn,port",
        "key9,alpn",
        "\\255",
        "é",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut texts = Vec::new();
        for _ in 0..rng.below(4) {
            let text: String = (0..1 + rng.below(5)).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            texts.push((text, rng.below(4) == 0));
        }
        let tokens: Vec<Token<'_>> = texts.iter().map(|(t, q)| Token { text: t, quoted: *q }).collect();
        let mut out = Vec::new();
        if parse(&mut Cursor::new(&tokens), &mut out).is_ok() {
            accepted += 1;
            let shown = show(&out).unwrap_or_else(|e| panic!("{tokens:?} read but not shown: {e}"));
            assert_eq!(wire(&shown).unwrap(), out, "{tokens:?} shown as {shown}");
        }
    }
    assert!(accepted > 500, "only {accepted} random inputs read");
}

/// Random bytes, and random parameter lists, never panic; what shows reads back.
#[test]
fn random_wire_never_panics_and_round_trips() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut shown = 0;
    for round in 0..20_000 {
        let bytes: Vec<u8> = if round % 2 == 0 {
            (0..rng.below(40)).map(|_| rng.next() as u8).collect()
        } else {
            let mut b = Vec::new();
            let mut key = 0u16;
            for _ in 0..rng.below(4) {
                key += 1 + rng.below(4) as u16;
                let len = rng.below(9);
                b.extend_from_slice(&key.to_be_bytes());
                b.extend_from_slice(&(len as u16).to_be_bytes());
                b.extend((0..len).map(|_| [0, 1, 2, 3, 4, 0x2c, 0x5c, 0x68, 0x20, 0xff][rng.below(10)]));
            }
            b
        };
        if let Ok(text) = show(&bytes) {
            shown += 1;
            assert_eq!(wire(&text).unwrap_or_else(|e| panic!("{bytes:?} shown as {text}: {e}")), bytes);
        }
    }
    assert!(shown > 1000, "only {shown} random wire forms shown");
}
