//! Query files and wire queries: parse a file in dnsperf's format, encode every line once
//! into a DNS query at start, and judge a response against the query it claims to answer.
//!
//! A query file has one `name [TYPE]` per line (`www.example.com A`); blank lines and lines
//! starting with `#` or `;` are skipped; a missing type means A. Names take dnsperf's (and
//! master files') escapes `\.` and `\DDD`; the trailing dot is optional. Types are the
//! common mnemonics or `TYPEnnn` (RFC 3597).
//!
//! The encoded queries live in one buffer ([`QuerySet`]) with ID 0; the sender writes the
//! real ID in front of `query(i)[2..]`. The question of every query starts at offset 12 and
//! is kept uncompressed, so checking a response's question is one slice comparison.

use std::fmt;

pub const HEADER_LEN: usize = 12;
/// The UDP payload size advertised with `--edns` (the DNS Flag Day 2020 value).
pub const EDNS_PAYLOAD: u16 = 1232;
const TYPE_OPT: u16 = 41;

/// How every query is encoded.
#[derive(Clone, Copy, Debug, Default)]
pub struct EncodeOptions {
    /// Set RD (recursion desired); an authoritative server ignores it.
    pub recursion_desired: bool,
    /// Add an EDNS0 OPT record advertising [`EDNS_PAYLOAD`].
    pub edns: bool,
    /// Set the DO bit in the OPT record (implies `edns`).
    pub dnssec_ok: bool,
}

/// Why a line of a query file was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Copy, Debug)]
struct Entry {
    start: u32,
    len: u16,
    question_len: u16,
}

/// Every query of a file, encoded once.
pub struct QuerySet {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

impl QuerySet {
    /// Parse and encode a whole query file.
    pub fn parse(text: &str, options: EncodeOptions) -> Result<QuerySet, ParseError> {
        let mut set = QuerySet { bytes: Vec::new(), entries: Vec::new() };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let error = |message: String| ParseError { line: i + 1, message };
            let mut fields = line.split_whitespace();
            let name = fields.next().expect("a non-empty line has a field");
            let rtype = match fields.next() {
                None => 1,
                Some(t) => parse_type(t).ok_or_else(|| error(format!("unknown query type {t:?}")))?,
            };
            // A third field `DO` sets the DO bit on this query alone (a resolver-like mix).
            let mut line_options = options;
            if let Some(flag) = fields.next() {
                if !flag.eq_ignore_ascii_case("DO") {
                    return Err(error(format!("unexpected {flag:?} after the type (only DO may follow)")));
                }
                line_options.dnssec_ok = true;
            }
            if let Some(extra) = fields.next() {
                return Err(error(format!("unexpected {extra:?} after the type")));
            }
            let start = set.bytes.len();
            if start > u32::MAX as usize - 1024 {
                return Err(error("query file too large".into()));
            }
            let question_len = encode_query(name, rtype, line_options, &mut set.bytes).map_err(error)?;
            let len = set.bytes.len() - start;
            set.entries.push(Entry { start: start as u32, len: len as u16, question_len: question_len as u16 });
        }
        if set.entries.is_empty() {
            return Err(ParseError { line: 0, message: "no queries in the file".into() });
        }
        Ok(set)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Query `i` as encoded, with ID 0.
    pub fn query(&self, i: usize) -> &[u8] {
        let e = self.entries[i];
        &self.bytes[e.start as usize..e.start as usize + e.len as usize]
    }

    /// The question section of query `i` (name, type, class).
    pub fn question(&self, i: usize) -> &[u8] {
        let e = self.entries[i];
        let at = e.start as usize + HEADER_LEN;
        &self.bytes[at..at + e.question_len as usize]
    }

    /// The longest query, to size buffers.
    pub fn max_len(&self) -> usize {
        self.entries.iter().map(|e| e.len as usize).max().unwrap_or(0)
    }
}

/// A query type mnemonic or `TYPEnnn`, case-insensitive.
pub fn parse_type(text: &str) -> Option<u16> {
    const TYPES: &[(&str, u16)] = &[
        ("A", 1),
        ("NS", 2),
        ("CNAME", 5),
        ("SOA", 6),
        ("PTR", 12),
        ("HINFO", 13),
        ("MX", 15),
        ("TXT", 16),
        ("RP", 17),
        ("AFSDB", 18),
        ("SIG", 24),
        ("KEY", 25),
        ("AAAA", 28),
        ("LOC", 29),
        ("SRV", 33),
        ("NAPTR", 35),
        ("KX", 36),
        ("CERT", 37),
        ("DNAME", 39),
        ("OPT", 41),
        ("APL", 42),
        ("DS", 43),
        ("SSHFP", 44),
        ("IPSECKEY", 45),
        ("RRSIG", 46),
        ("NSEC", 47),
        ("DNSKEY", 48),
        ("DHCID", 49),
        ("NSEC3", 50),
        ("NSEC3PARAM", 51),
        ("TLSA", 52),
        ("SMIMEA", 53),
        ("HIP", 55),
        ("CDS", 59),
        ("CDNSKEY", 60),
        ("OPENPGPKEY", 61),
        ("CSYNC", 62),
        ("ZONEMD", 63),
        ("SVCB", 64),
        ("HTTPS", 65),
        ("SPF", 99),
        ("TKEY", 249),
        ("TSIG", 250),
        ("IXFR", 251),
        ("AXFR", 252),
        ("ANY", 255),
        ("URI", 256),
        ("CAA", 257),
    ];
    if let Some(&(_, v)) = TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)) {
        return Some(v);
    }
    let digits = text.get(..4).filter(|p| p.eq_ignore_ascii_case("TYPE")).map(|_| &text[4..])?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Append the wire form of a presentation-format name (absolute; trailing dot optional).
pub fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    let bytes = name.as_bytes();
    if name == "." {
        out.push(0);
        return Ok(());
    }
    if bytes.is_empty() {
        return Err("empty name".into());
    }
    let mut label_at = out.len();
    out.push(0);
    let mut i = 0;
    let finish_label = |out: &mut Vec<u8>, label_at: usize| -> Result<(), String> {
        let len = out.len() - label_at - 1;
        if len == 0 {
            return Err(format!("empty label in {name:?}"));
        }
        if len > 63 {
            return Err(format!("label longer than 63 bytes in {name:?}"));
        }
        out[label_at] = len as u8;
        Ok(())
    };
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                finish_label(out, label_at)?;
                if i + 1 == bytes.len() {
                    break;
                }
                label_at = out.len();
                out.push(0);
                i += 1;
            }
            b'\\' => {
                let rest = &bytes[i + 1..];
                if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
                    let v = (rest[0] - b'0') as u32 * 100 + (rest[1] - b'0') as u32 * 10 + (rest[2] - b'0') as u32;
                    if v > 255 {
                        return Err(format!("bad escape \\{} in {name:?}", &name[i + 1..i + 4]));
                    }
                    out.push(v as u8);
                    i += 4;
                } else if let Some(&c) = rest.first() {
                    out.push(c);
                    i += 2;
                } else {
                    return Err(format!("name {name:?} ends with a backslash"));
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if *bytes.last().expect("non-empty") != b'.' || bytes.ends_with(b"\\.") {
        finish_label(out, label_at)?;
    }
    out.push(0);
    if out.len() - start > 255 {
        return Err(format!("name {name:?} is longer than 255 bytes"));
    }
    Ok(())
}

/// Append a query (ID 0) for `name` and `rtype`, class IN; returns the question's length.
pub fn encode_query(name: &str, rtype: u16, options: EncodeOptions, out: &mut Vec<u8>) -> Result<usize, String> {
    let edns = options.edns || options.dnssec_ok;
    let start = out.len();
    let flags: u16 = if options.recursion_desired { 0x0100 } else { 0 };
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
    if let Err(e) = encode_name(name, out) {
        out.truncate(start);
        return Err(e);
    }
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    let question_len = out.len() - start - HEADER_LEN;
    if edns {
        out.push(0);
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
        let do_bit: u16 = if options.dnssec_ok { 0x8000 } else { 0 };
        out.extend_from_slice(&[0, 0]); // extended RCODE, version
        out.extend_from_slice(&do_bit.to_be_bytes());
        out.extend_from_slice(&[0, 0]); // RDLENGTH
    }
    Ok(question_len)
}

/// What a response (whose ID already matched an outstanding query) turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A response to our question, with its header RCODE and TC flag.
    Answer { rcode: u8, truncated: bool },
    /// QR is clear: a query, not a response.
    NotResponse,
    /// QDCOUNT is not 1 or the question differs from ours (names compare case-insensitively).
    QuestionMismatch,
    /// Shorter than a header.
    Malformed,
}

/// The ID of a message, if it is long enough to have one.
pub fn message_id(message: &[u8]) -> Option<u16> {
    message.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Judge `response` against `question` (the question section of the query it answers).
pub fn check_response(response: &[u8], question: &[u8]) -> Verdict {
    if response.len() < HEADER_LEN {
        return Verdict::Malformed;
    }
    if response[2] & 0x80 == 0 {
        return Verdict::NotResponse;
    }
    if response[4..6] != [0, 1] {
        return Verdict::QuestionMismatch;
    }
    let Some(got) = response.get(HEADER_LEN..HEADER_LEN + question.len()) else {
        return Verdict::QuestionMismatch;
    };
    // Label length bytes are at most 63, below every ASCII letter, so an ASCII
    // case-insensitive comparison of the name bytes compares lengths exactly.
    let name_len = question.len() - 4;
    if !got[..name_len].eq_ignore_ascii_case(&question[..name_len]) || got[name_len..] != question[name_len..] {
        return Verdict::QuestionMismatch;
    }
    Verdict::Answer { rcode: response[3] & 0x0f, truncated: response[2] & 0x02 != 0 }
}

/// The mnemonic of a header RCODE.
pub fn rcode_name(rcode: u8) -> &'static str {
    const NAMES: [&str; 16] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
        "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
    ];
    NAMES[(rcode & 0x0f) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Result<Vec<u8>, String> {
        let mut v = Vec::new();
        encode_name(text, &mut v).map(|_| v)
    }

    #[test]
    fn encode_name_with_and_without_trailing_dot() {
        let want = b"\x03www\x07example\x03com\x00".to_vec();
        assert_eq!(name("www.example.com").unwrap(), want);
        assert_eq!(name("www.example.com.").unwrap(), want);
        assert_eq!(name(".").unwrap(), vec![0]);
    }

    #[test]
    fn encode_name_escapes() {
        assert_eq!(name("a\\.b.c").unwrap(), b"\x03a.b\x01c\x00".to_vec());
        assert_eq!(name("\\065b.").unwrap(), b"\x02Ab\x00".to_vec());
        assert_eq!(name("x\\.").unwrap(), b"\x02x.\x00".to_vec());
        assert!(name("a\\256").is_err());
        assert!(name("a\\").is_err());
    }

    #[test]
    fn encode_name_refuses_bad_names() {
        assert!(name("").is_err());
        assert!(name("a..b").is_err());
        assert!(name(&"a".repeat(64)).is_err());
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(name(&long).is_err());
        assert!(name(&vec!["a".repeat(63); 3].join(".")).is_ok());
    }

    #[test]
    fn parse_type_mnemonics_and_rfc3597() {
        assert_eq!(parse_type("A"), Some(1));
        assert_eq!(parse_type("aaaa"), Some(28));
        assert_eq!(parse_type("TYPE65534"), Some(65534));
        assert_eq!(parse_type("type1"), Some(1));
        assert_eq!(parse_type("TYPE"), None);
        assert_eq!(parse_type("TYPE70000"), None);
        assert_eq!(parse_type("BOGUS"), None);
    }

    #[test]
    fn encode_plain_query() {
        let mut out = Vec::new();
        let qlen = encode_query("example.com", 28, EncodeOptions::default(), &mut out).unwrap();
        let mut want = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x07example\x03com\x00\x00\x1c\x00\x01");
        assert_eq!(out, want);
        assert_eq!(qlen, 17);
    }

    #[test]
    fn encode_query_with_rd_edns_and_do() {
        let mut out = Vec::new();
        let opts = EncodeOptions { recursion_desired: true, edns: false, dnssec_ok: true };
        let qlen = encode_query("a.", 1, opts, &mut out).unwrap();
        assert_eq!(&out[2..4], &[0x01, 0x00], "RD set");
        assert_eq!(&out[10..12], &[0, 1], "ARCOUNT 1");
        let opt = &out[HEADER_LEN + qlen..];
        assert_eq!(opt, &[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);

        let mut out = Vec::new();
        let opts = EncodeOptions { recursion_desired: false, edns: true, dnssec_ok: false };
        let qlen = encode_query("a.", 1, opts, &mut out).unwrap();
        assert_eq!(&out[HEADER_LEN + qlen..], &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn parse_dnsperf_file() {
        let text = "# a comment\n\nwww.example.com A\n  example.com.   MX  \n; another\nexample.com\nfoo.test TYPE99\n";
        let set = QuerySet::parse(text, EncodeOptions::default()).unwrap();
        assert_eq!(set.len(), 4);
        assert_eq!(set.question(0), b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(&set.question(1)[13..], &[0, 15, 0, 1]);
        assert_eq!(&set.question(2)[13..], &[0, 1, 0, 1], "a missing type means A");
        assert_eq!(&set.question(3)[10..], &[0, 99, 0, 1]);
        assert_eq!(&set.query(0)[HEADER_LEN..], set.question(0));
        assert_eq!(set.max_len(), HEADER_LEN + 21);
    }

    #[test]
    fn parse_dnsperf_file_errors_name_the_line() {
        let err = QuerySet::parse("a.test A\nb.test NOPE\n", EncodeOptions::default()).err().unwrap();
        assert_eq!(err.line, 2);
        let err = QuerySet::parse("a.test A IN\n", EncodeOptions::default()).err().unwrap();
        assert_eq!(err.line, 1);
        let err = QuerySet::parse("a..test A\n", EncodeOptions::default()).err().unwrap();
        assert_eq!(err.line, 1);
        assert!(QuerySet::parse("# nothing\n", EncodeOptions::default()).is_err());
        let err = QuerySet::parse("a.test A DO CD\n", EncodeOptions::default()).err().unwrap();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn a_do_field_sets_the_do_bit_on_that_query_only() {
        let set = QuerySet::parse("a.test A DO\nb.test A\nc.test AAAA do\n", EncodeOptions::default()).unwrap();
        let opt = |i: usize| set.query(i)[HEADER_LEN + set.question(i).len()..].to_vec();
        assert_eq!(opt(0), [0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
        assert!(opt(1).is_empty(), "no EDNS unless asked");
        assert_eq!(opt(2)[7], 0x80);
    }

    fn response_to(query: &[u8], rcode: u8) -> Vec<u8> {
        let mut r = query.to_vec();
        r[2] |= 0x84; // QR, AA
        r[3] = rcode;
        r
    }

    #[test]
    fn check_good_response() {
        let set = QuerySet::parse("www.example.com AAAA\n", EncodeOptions::default()).unwrap();
        let r = response_to(set.query(0), 3);
        assert_eq!(check_response(&r, set.question(0)), Verdict::Answer { rcode: 3, truncated: false });
        let mut tc = response_to(set.query(0), 0);
        tc[2] |= 0x02;
        assert_eq!(check_response(&tc, set.question(0)), Verdict::Answer { rcode: 0, truncated: true });
    }

    #[test]
    fn check_question_case_insensitive() {
        let set = QuerySet::parse("www.example.com A\n", EncodeOptions::default()).unwrap();
        let mut r = response_to(set.query(0), 0);
        r[13..16].copy_from_slice(b"WwW");
        assert_eq!(check_response(&r, set.question(0)), Verdict::Answer { rcode: 0, truncated: false });
    }

    #[test]
    fn check_bad_responses() {
        let set = QuerySet::parse("www.example.com A\n", EncodeOptions::default()).unwrap();
        let q = set.question(0);
        assert_eq!(check_response(set.query(0), q), Verdict::NotResponse);
        assert_eq!(check_response(&[0x80; 11], q), Verdict::Malformed);

        let mut other_name = response_to(set.query(0), 0);
        other_name[13] = b'x';
        assert_eq!(check_response(&other_name, q), Verdict::QuestionMismatch);

        let mut other_type = response_to(set.query(0), 0);
        let at = HEADER_LEN + q.len() - 3;
        other_type[at] = 28;
        assert_eq!(check_response(&other_type, q), Verdict::QuestionMismatch);

        let mut no_question = response_to(set.query(0), 1);
        no_question[5] = 0;
        assert_eq!(check_response(&no_question, q), Verdict::QuestionMismatch);

        let short = &response_to(set.query(0), 0)[..HEADER_LEN + 4];
        assert_eq!(check_response(short, q), Verdict::QuestionMismatch);
    }
}
