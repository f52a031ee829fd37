//! Reading a zone from master files (RFC 1035 §5) into a [`Sink`]: a flat list of
//! [`Record`]s, or a zone compiled as it is read.
//!
//! Handles `$ORIGIN`, `$TTL`, `$INCLUDE` (relative to the including file, nested at
//! most 16 deep, with an optional origin), BIND's `$GENERATE`, owners inherited from the
//! previous entry, TTL and class in either order, `@`, relative names, and the RDATA of
//! every type in the record-type table (`shoal_wire::rdata`). Errors are collected (up
//! to [`MAX_ERRORS`]) so `shoal check` can show them all, each with zone, file, line and
//! field. Structural rules (SOA, CNAME) are checked when the snapshot is compiled.
//!
//! A record's TTL, when not given, is `$TTL`, else the last explicit TTL, else 3600
//! (Knot's and NSD's default); an RRSIG's is its Original TTL field, as Knot reads it.

use crate::error::{LoadError, LoadErrorKind};
use crate::text::lexer::{Lexer, Token};
use shoal_wire::name::{is_subdomain, lowercase_in_place, Display};
use shoal_wire::rdata::{self, rtype_from_text, rtype_name, text};
use shoal_wire::{Name, Rtype};
use std::path::{Path, PathBuf};

/// Errors collected before loading gives up.
pub const MAX_ERRORS: usize = 100;
const MAX_INCLUDE_DEPTH: usize = 16;
const DEFAULT_TTL: u32 = 3600;

/// One record as read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Lowercase wire owner.
    pub owner: Name,
    pub rtype: Rtype,
    pub ttl: u32,
    pub rdata: Box<[u8]>,
    /// Index into [`Loaded::files`].
    pub file: u16,
    pub line: u32,
}

/// The records of a zone and the files they came from.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    pub files: Vec<PathBuf>,
}

/// Where loading puts what it reads: a list of records ([`Loaded`]), or a zone being
/// compiled as it is read (the store's builder).
pub trait Sink {
    /// A file is being read; records from it carry the index returned.
    fn source(&mut self, path: &Path) -> u16;
    /// One record; `owner` is lowercase wire form, inside the zone.
    fn record(&mut self, owner: &[u8], rtype: Rtype, ttl: u32, rdata: &[u8], file: u16, line: u32);
}

impl Sink for Loaded {
    fn source(&mut self, path: &Path) -> u16 {
        self.files.push(path.to_path_buf());
        (self.files.len() - 1) as u16
    }

    fn record(&mut self, owner: &[u8], rtype: Rtype, ttl: u32, rdata: &[u8], file: u16, line: u32) {
        let owner = Name::from_wire(owner).expect("owner built by text::name is valid");
        self.records.push(Record { owner, rtype, ttl, rdata: rdata.into(), file, line });
    }
}

struct State<'z, S: Sink> {
    apex: &'z Name,
    zone_text: String,
    sink: S,
    errors: Vec<LoadError>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
}

/// Load the zone `apex` from `path` (and what it includes).
pub fn load_file(apex: &Name, path: &Path) -> Result<Loaded, Vec<LoadError>> {
    load_file_into(apex, path, Loaded::default())
}

/// Load the zone `apex` from `path` (and what it includes) into `sink`.
pub fn load_file_into<S: Sink>(apex: &Name, path: &Path, sink: S) -> Result<S, Vec<LoadError>> {
    let mut st = State::new(apex, sink);
    st.file(path, apex.as_wire().to_vec(), 0, None);
    st.finish()
}

/// Load the zone `apex` from text; `path` names it in errors and anchors `$INCLUDE`.
pub fn load_str(apex: &Name, text: &str, path: &Path) -> Result<Loaded, Vec<LoadError>> {
    load_str_into(apex, text, path, Loaded::default())
}

/// Load the zone `apex` from text into `sink`.
pub fn load_str_into<S: Sink>(apex: &Name, text: &str, path: &Path, sink: S) -> Result<S, Vec<LoadError>> {
    let mut st = State::new(apex, sink);
    st.text(text, path, apex.as_wire().to_vec(), 0);
    st.finish()
}

impl<'z, S: Sink> State<'z, S> {
    fn new(apex: &'z Name, sink: S) -> Self {
        State { apex, zone_text: apex.to_string(), sink, errors: Vec::new(), default_ttl: None, last_ttl: None }
    }

    fn finish(self) -> Result<S, Vec<LoadError>> {
        if self.errors.is_empty() {
            Ok(self.sink)
        } else {
            Err(self.errors)
        }
    }

    fn error(&mut self, file: &Path, line: usize, kind: LoadErrorKind) {
        if self.errors.len() == MAX_ERRORS {
            let n = self.errors.len();
            self.errors.push(LoadError {
                zone: self.zone_text.clone(),
                file: file.into(),
                line,
                kind: LoadErrorKind::TooManyErrors(n),
            });
        }
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(LoadError { zone: self.zone_text.clone(), file: file.into(), line, kind });
        }
    }

    fn too_many(&self) -> bool {
        self.errors.len() > MAX_ERRORS
    }

    fn file(&mut self, path: &Path, origin: Vec<u8>, depth: usize, from: Option<(&Path, usize)>) {
        match std::fs::read_to_string(path) {
            Ok(t) => self.text(&t, path, origin, depth),
            Err(e) => {
                let (f, l) = from.unwrap_or((path, 0));
                self.error(f, l, LoadErrorKind::Io(format!("{}: {e}", path.display())));
            }
        }
    }

    fn text(&mut self, text: &str, path: &Path, mut origin: Vec<u8>, depth: usize) {
        let file_idx = self.sink.source(path);
        let mut lx = Lexer::new(text);
        let mut toks: Vec<Token<'_>> = Vec::with_capacity(16);
        let mut owner: Option<Vec<u8>> = None;
        let mut rd = Vec::with_capacity(512);
        loop {
            if self.too_many() {
                return;
            }
            let entry = match lx.next_entry(&mut toks) {
                Ok(Some(e)) => e,
                Ok(None) => return,
                Err((line, e)) => {
                    self.error(path, line, LoadErrorKind::Syntax(lex_reason(e)));
                    continue;
                }
            };
            let line = entry.line;
            let first = toks[0].text;
            if !entry.blank_owner && first.eq_ignore_ascii_case("$GENERATE") {
                let at = Place { path, line, file: file_idx };
                self.generate(&toks[1..], at, &origin, &mut owner, &mut rd);
                continue;
            }
            if !entry.blank_owner && first.starts_with('$') && !toks[0].quoted {
                self.directive(&toks, path, line, &mut origin, depth);
                continue;
            }
            let at = Place { path, line: entry.line, file: file_idx };
            self.record(&toks, entry.blank_owner, at, &origin, &mut owner, &mut rd);
        }
    }

    /// One record entry (owner unless `blank_owner`, then TTL and class in either
    /// order, type, RDATA) into the sink; `owner` is the previous entry's owner and
    /// becomes this one's.
    fn record(
        &mut self,
        toks: &[Token<'_>],
        blank_owner: bool,
        at: Place<'_>,
        origin: &[u8],
        owner: &mut Option<Vec<u8>>,
        rd: &mut Vec<u8>,
    ) {
        let (path, line) = (at.path, at.line);
        let first = toks[0].text;
        let mut i = 0;
        if !blank_owner {
            match text::name(first, origin) {
                Ok(mut n) => {
                    lowercase_in_place(&mut n);
                    *owner = Some(n);
                }
                Err(r) => {
                    self.error(path, line, LoadErrorKind::BadOwner(r));
                    *owner = None;
                    return;
                }
            }
            i = 1;
        }
        let Some(own) = owner.as_ref() else {
            self.error(path, line, LoadErrorKind::NoOwner);
            return;
        };
        // [TTL] [class] or [class] [TTL], then the type.
        let mut ttl = None;
        let mut class_seen = false;
        let mut bad = false;
        for _ in 0..2 {
            let Some(t) = toks.get(i) else { break };
            if ttl.is_none() && text::is_ttl(t.text) {
                match text::ttl(t.text) {
                    Ok(v) => ttl = Some(v),
                    Err(r) => {
                        self.error(path, line, LoadErrorKind::BadTtl(r));
                        bad = true;
                    }
                }
                i += 1;
            } else if !class_seen && is_class(t.text) {
                if !t.text.eq_ignore_ascii_case("IN") && !t.text.eq_ignore_ascii_case("CLASS1") {
                    self.error(path, line, LoadErrorKind::UnsupportedClass(t.text.to_string()));
                    bad = true;
                }
                class_seen = true;
                i += 1;
            }
        }
        if bad {
            return;
        }
        let Some(tt) = toks.get(i) else {
            self.error(path, line, LoadErrorKind::UnknownType("(missing)".into()));
            return;
        };
        let Some(rtype) = rtype_from_text(tt.text) else {
            self.error(path, line, LoadErrorKind::UnknownType(tt.text.to_string()));
            return;
        };
        i += 1;
        if !is_subdomain(own, self.apex.as_wire()) {
            self.error(path, line, LoadErrorKind::OutOfZone { owner: Display(own).to_string() });
            return;
        }
        rd.clear();
        if let Err(error) = rdata::parse(rtype, &toks[i..], origin, rd) {
            self.error(path, line, LoadErrorKind::BadRdata { rtype: rtype_name(rtype).into_owned(), error });
            return;
        }
        let ttl = match ttl {
            Some(v) => {
                self.last_ttl = Some(v);
                v
            }
            // An RRSIG (or SIG) without a TTL takes its Original TTL field, the TTL of the
            // RRset it covers (RFC 4034 §3), as Knot reads it.
            None if matches!(rtype, Rtype::RRSIG | Rtype::SIG) && rd.len() >= 8 => {
                u32::from_be_bytes([rd[4], rd[5], rd[6], rd[7]])
            }
            None => self.default_ttl.or(self.last_ttl).unwrap_or(DEFAULT_TTL),
        };
        self.sink.record(own, rtype, ttl, rd, at.file, line as u32);
    }

    /// BIND's `$GENERATE range lhs [ttl] [class] type rhs`: one record per value of the
    /// range (`start-stop[/step]`), with `$` in `lhs` and `rhs` replaced by the value,
    /// `${offset[,width[,base]]}` by the value plus `offset` written `width` wide in
    /// `base` (`d`, `o`, `x`, `X`, or `n`/`N` for reversed nibbles with dots), and `\$`
    /// by a dollar sign. Each generated entry is read as if it were written out.
    fn generate(
        &mut self,
        toks: &[Token<'_>],
        at: Place<'_>,
        origin: &[u8],
        owner: &mut Option<Vec<u8>>,
        rd: &mut Vec<u8>,
    ) {
        let fail = |st: &mut Self, why: String| {
            st.error(at.path, at.line, LoadErrorKind::Directive(format!("$GENERATE: {why}")))
        };
        if toks.len() < 3 {
            return fail(self, "needs a range, an owner, a type and RDATA".into());
        }
        let Some((start, stop, step)) = generate_range(toks[0].text) else {
            return fail(self, format!("bad range {:?} (start-stop[/step])", toks[0].text));
        };
        if (stop - start) / step >= MAX_GENERATED {
            return fail(self, format!("more than {MAX_GENERATED} records"));
        }
        let mut value = start;
        while value <= stop {
            let mut line_text = String::new();
            for (k, t) in toks[1..].iter().enumerate() {
                if k > 0 {
                    line_text.push(' ');
                }
                // The owner and the RDATA fields are templates; TTL, class and type are not,
                // but substituting in them is harmless: they hold no `$`.
                let quoted = t.quoted;
                if quoted {
                    line_text.push('"');
                }
                if let Err(why) = substitute(t.text, value, &mut line_text) {
                    return fail(self, why);
                }
                if quoted {
                    line_text.push('"');
                }
            }
            let mut lx = Lexer::new(&line_text);
            let mut generated = Vec::with_capacity(toks.len());
            match lx.next_entry(&mut generated) {
                Ok(Some(_)) => self.record(&generated, false, at, origin, owner, rd),
                _ => return fail(self, format!("generated {line_text:?} does not read as a record")),
            }
            value += step;
        }
    }

    fn directive(&mut self, toks: &[Token<'_>], path: &Path, line: usize, origin: &mut Vec<u8>, depth: usize) {
        let d = toks[0].text;
        if d.eq_ignore_ascii_case("$ORIGIN") {
            match toks.get(1).map(|t| text::name(t.text, origin)) {
                Some(Ok(mut n)) if toks.len() == 2 => {
                    lowercase_in_place(&mut n);
                    *origin = n;
                }
                Some(Err(r)) => self.error(path, line, LoadErrorKind::Directive(format!("$ORIGIN: {r}"))),
                _ => self.error(path, line, LoadErrorKind::Directive("$ORIGIN needs one name".into())),
            }
        } else if d.eq_ignore_ascii_case("$TTL") {
            match toks.get(1).map(|t| text::ttl(t.text)) {
                Some(Ok(v)) if toks.len() == 2 => self.default_ttl = Some(v),
                Some(Err(r)) => self.error(path, line, LoadErrorKind::BadTtl(r)),
                _ => self.error(path, line, LoadErrorKind::Directive("$TTL needs one value".into())),
            }
        } else if d.eq_ignore_ascii_case("$INCLUDE") {
            if depth >= MAX_INCLUDE_DEPTH {
                self.error(path, line, LoadErrorKind::IncludeTooDeep);
                return;
            }
            let Some(file) = toks.get(1) else {
                self.error(path, line, LoadErrorKind::Directive("$INCLUDE needs a file name".into()));
                return;
            };
            let inc_origin = match toks.get(2).map(|t| text::name(t.text, origin)) {
                None => origin.clone(),
                Some(Ok(mut n)) => {
                    lowercase_in_place(&mut n);
                    n
                }
                Some(Err(r)) => {
                    self.error(path, line, LoadErrorKind::Directive(format!("$INCLUDE origin: {r}")));
                    return;
                }
            };
            let mut target = PathBuf::from(file.text);
            if target.is_relative() {
                if let Some(dir) = path.parent() {
                    target = dir.join(target);
                }
            }
            self.file(&target, inc_origin, depth + 1, Some((path, line)));
        } else {
            self.error(path, line, LoadErrorKind::Directive(format!("unsupported directive {d}")));
        }
    }
}

/// Records one `$GENERATE` may make.
const MAX_GENERATED: u64 = 1_000_000;

/// Where an entry was read: the file, its line and the file's index in the sink.
#[derive(Clone, Copy)]
struct Place<'p> {
    path: &'p Path,
    line: usize,
    file: u16,
}

/// `start-stop[/step]` of `$GENERATE`.
fn generate_range(t: &str) -> Option<(u64, u64, u64)> {
    let (range, step) = match t.split_once('/') {
        Some((r, s)) => (r, s.parse().ok().filter(|&s: &u64| s > 0)?),
        None => (t, 1),
    };
    let (a, b) = range.split_once('-')?;
    let (start, stop): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
    (start <= stop).then_some((start, stop, step))
}

/// Write `template` with `$` and `${offset,width,base}` replaced for `value`.
fn substitute(template: &str, value: u64, out: &mut String) -> Result<(), String> {
    let b = template.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if b.get(i + 1) == Some(&b'$') => {
                out.push('$');
                i += 2;
            }
            b'$' if b.get(i + 1) == Some(&b'{') => {
                let end = template[i..].find('}').ok_or("unterminated ${...}")? + i;
                modifier(&template[i + 2..end], value, out)?;
                i = end + 1;
            }
            b'$' => {
                out.push_str(&value.to_string());
                i += 1;
            }
            _ => {
                let ch = template[i..].chars().next().expect("in bounds");
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    Ok(())
}

/// `offset[,width[,base]]` applied to `value`.
fn modifier(spec: &str, value: u64, out: &mut String) -> Result<(), String> {
    let mut parts = spec.split(',');
    let bad = || format!("bad modifier ${{{spec}}}");
    let offset: i64 = parts.next().filter(|p| !p.is_empty()).map_or(Ok(0), str::parse).map_err(|_| bad())?;
    let width: usize = parts.next().map_or(Ok(0), str::parse).map_err(|_| bad())?;
    let base = parts.next().unwrap_or("d");
    if parts.next().is_some() || width > 255 {
        return Err(bad());
    }
    let v = u64::try_from(i64::try_from(value).map_err(|_| bad())? + offset).map_err(|_| bad())?;
    let digits = match base {
        "d" => format!("{v:0width$}"),
        "o" => format!("{v:0width$o}"),
        "x" => format!("{v:0width$x}"),
        "X" => format!("{v:0width$X}"),
        "n" | "N" => {
            // Reversed nibbles, dot-separated, `width` nibbles at least (BIND's `n`).
            let hex = format!("{v:0width$x}");
            let hex = if base == "N" { hex.to_uppercase() } else { hex };
            hex.chars().rev().map(String::from).collect::<Vec<_>>().join(".")
        }
        _ => return Err(bad()),
    };
    out.push_str(&digits);
    Ok(())
}

fn is_class(t: &str) -> bool {
    ["IN", "CH", "CS", "HS", "NONE", "ANY"].iter().any(|c| c.eq_ignore_ascii_case(t))
        || (t.len() > 5 && t.as_bytes()[..5].eq_ignore_ascii_case(b"CLASS") && t[5..].parse::<u16>().is_ok())
}

fn lex_reason(e: crate::text::lexer::LexError) -> &'static str {
    match e {
        crate::text::lexer::LexError::UnterminatedString => "unterminated quoted string",
        crate::text::lexer::LexError::UnbalancedParenthesis => "unbalanced parenthesis",
        crate::text::lexer::LexError::DanglingEscape => "backslash at end of file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;

    fn apex() -> Name {
        from_ascii("example.com.").unwrap()
    }

    #[test]
    fn bind_generate_with_modifiers() {
        let z = "@ SOA ns1 hm 1 2 3 4 5\n\
                 $GENERATE 1-3 host-$ A 192.0.2.$\n\
                 $GENERATE 10-14/2 ${-10,3,d}.gen 300 IN CNAME h${0,2,x}.example.net.\n\
                 $GENERATE 26-26 ${0,4,n} PTR \\$-literal\n";
        let l = load_str(&apex(), z, Path::new("z")).unwrap();
        let shown: Vec<(String, u32)> = l.records[1..]
            .iter()
            .map(|r| {
                let mut rd = String::new();
                shoal_wire::rdata::format(r.rtype, &r.rdata, &mut rd);
                (format!("{} {}", r.owner, rd), r.line)
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("host-1.example.com. 192.0.2.1".to_string(), 2),
                ("host-2.example.com. 192.0.2.2".to_string(), 2),
                ("host-3.example.com. 192.0.2.3".to_string(), 2),
                ("000.gen.example.com. h0a.example.net.".to_string(), 3),
                ("002.gen.example.com. h0c.example.net.".to_string(), 3),
                ("004.gen.example.com. h0e.example.net.".to_string(), 3),
                ("a.1.0.0.example.com. \\$-literal.example.com.".to_string(), 4),
            ]
        );
        assert_eq!(l.records[4].ttl, 300);
        for bad in [
            "$GENERATE 5-1 x A 192.0.2.1",
            "$GENERATE 1-2 x",
            "$GENERATE 1-2 ${1,2,q} A 192.0.2.1",
            "$GENERATE 0-2000000 x A 192.0.2.1",
        ] {
            let e = load_str(&apex(), &format!("@ SOA ns1 hm 1 2 3 4 5\n{bad}\n"), Path::new("z")).unwrap_err();
            assert!(e[0].to_string().contains("$GENERATE"), "{bad}: {}", e[0]);
        }
    }

    #[test]
    fn rrsig_without_a_ttl_takes_its_original_ttl() {
        let z = "$TTL 300\n@ SOA ns1 hm 1 2 3 4 5\n\
                 www A 192.0.2.1\n\
                 www RRSIG A 13 3 3600 20240201000000 20240101000000 1 example.com. AA==\n\
                 www 60 RRSIG A 13 3 3600 20240201000000 20240101000000 2 example.com. AA==\n\
                 mail A 192.0.2.2\n";
        let l = load_str(&apex(), z, Path::new("z")).unwrap();
        let ttls: Vec<u32> = l.records.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, [300, 300, 3600, 60, 300], "explicit TTLs win; $TTL still applies after");
    }

    #[test]
    fn owners_ttls_and_origin() {
        let z = "$TTL 300\n@ IN SOA ns1 hm 1 2 3 4 5\n  NS ns1\nWWW 60 A 192.0.2.1\n IN 70 A 192.0.2.2\n$ORIGIN sub.example.com.\nx A 192.0.2.3\n";
        let l = load_str(&apex(), z, Path::new("z")).unwrap();
        let r = &l.records;
        assert_eq!(r.len(), 5);
        assert_eq!(r[1].owner, apex());
        assert_eq!(r[1].ttl, 300);
        assert_eq!(r[2].owner.as_wire(), b"\x03www\x07example\x03com\x00");
        assert_eq!(r[2].ttl, 60);
        assert_eq!(r[3].owner, r[2].owner);
        assert_eq!(r[3].ttl, 70);
        assert_eq!(r[4].owner.as_wire(), b"\x01x\x03sub\x07example\x03com\x00");
        assert_eq!(r[4].line, 7);
    }

    #[test]
    fn errors_name_file_and_line_and_keep_going() {
        let z = "@ SOA ns1 hm 1 2 3 4 5\nbad A 1.2.3\nok A 1.2.3.4\nx.example.org. A 1.2.3.4\ny BOGUS 1\n";
        let errs = load_str(&apex(), z, Path::new("zones/x.zone")).unwrap_err();
        assert_eq!(errs.len(), 3);
        assert_eq!(errs[0].line, 2);
        assert!(
            errs[0].to_string().starts_with("zones/x.zone:2: zone example.com.: A address: bad IPv4 address"),
            "{}",
            errs[0]
        );
        assert!(matches!(errs[1].kind, LoadErrorKind::OutOfZone { .. }));
        assert_eq!(errs[2].line, 5);
    }

    /// Found by the `zone_text` fuzz target: a token whose sixth byte is inside a
    /// character made the `CLASSnnn` check slice the text there and panic.
    #[test]
    fn regression_fuzz_class_and_type_with_a_character_across_the_prefix() {
        for line in ["www abcd\u{e9} A 192.0.2.1", "www 60 CLASS\u{e9}1 A 192.0.2.1", "www TYP\u{e9}1 192.0.2.1"] {
            let z = format!("@ SOA ns1 hm 1 2 3 4 5\n{line}\n");
            assert!(load_str(&apex(), &z, Path::new("x.zone")).is_err(), "{line}");
        }
    }

    #[test]
    fn include_is_relative_to_the_including_file() {
        let dir = std::env::temp_dir().join(format!("shoal-inc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("inner.zone"), "host A 192.0.2.9\n").unwrap();
        std::fs::write(dir.join("main.zone"), "@ SOA ns hm 1 2 3 4 5\n$INCLUDE inner.zone sub.example.com.\n").unwrap();
        let l = load_file(&apex(), &dir.join("main.zone")).unwrap();
        assert_eq!(l.records[1].owner.as_wire(), b"\x04host\x03sub\x07example\x03com\x00");
        assert_eq!(l.files.len(), 2);
        let e = load_str(&apex(), "$INCLUDE missing.zone\n", &dir.join("m")).unwrap_err();
        assert_eq!(e[0].line, 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
