//! Reading a zone from master files (RFC 1035 §5) into a flat list of [`Record`]s.
//!
//! Handles `$ORIGIN`, `$TTL`, `$INCLUDE` (relative to the including file, nested at
//! most 16 deep, with an optional origin), owners inherited from the previous entry,
//! TTL and class in either order, `@`, relative names, and every type `rdata` knows.
//! Errors are collected (up to [`MAX_ERRORS`]) so `shoal check` can show them all, each
//! with zone, file and line. Structural rules (SOA, CNAME) are checked when the
//! snapshot is compiled.
//!
//! A record's TTL, when not given, is `$TTL`, else the last explicit TTL, else 3600
//! (Knot's and NSD's default).

use crate::error::{LoadError, LoadErrorKind};
use crate::text::lexer::{Lexer, Token};
use crate::text::{presentation as text, rdata};
use shoal_wire::name::{is_subdomain, lowercase_in_place, Display};
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
            if !entry.blank_owner && first.starts_with('$') && !toks[0].quoted {
                self.directive(&toks, path, line, &mut origin, depth);
                continue;
            }
            let mut i = 0;
            if !entry.blank_owner {
                match text::name(first, &origin) {
                    Ok(mut n) => {
                        lowercase_in_place(&mut n);
                        owner = Some(n);
                    }
                    Err(r) => {
                        self.error(path, line, LoadErrorKind::BadOwner(r));
                        owner = None;
                        continue;
                    }
                }
                i = 1;
            }
            let Some(own) = owner.as_ref() else {
                self.error(path, line, LoadErrorKind::NoOwner);
                continue;
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
                continue;
            }
            let Some(tt) = toks.get(i) else {
                self.error(path, line, LoadErrorKind::UnknownType("(missing)".into()));
                continue;
            };
            let Some(rtype) = text::rtype(tt.text) else {
                self.error(path, line, LoadErrorKind::UnknownType(tt.text.to_string()));
                continue;
            };
            i += 1;
            if !is_subdomain(own, self.apex.as_wire()) {
                self.error(path, line, LoadErrorKind::OutOfZone { owner: Display(own).to_string() });
                continue;
            }
            rd.clear();
            if let Err(reason) = rdata::parse(rtype, &toks[i..], &origin, &mut rd) {
                self.error(path, line, LoadErrorKind::BadRdata { rtype: text::rtype_name(rtype), reason });
                continue;
            }
            if rd.len() > u16::MAX as usize {
                self.error(
                    path,
                    line,
                    LoadErrorKind::BadRdata { rtype: text::rtype_name(rtype), reason: "RDATA longer than 65535 bytes" },
                );
                continue;
            }
            let ttl = match ttl {
                Some(v) => {
                    self.last_ttl = Some(v);
                    v
                }
                None => self.default_ttl.or(self.last_ttl).unwrap_or(DEFAULT_TTL),
            };
            self.sink.record(own, rtype, ttl, &rd, file_idx, line as u32);
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

fn is_class(t: &str) -> bool {
    ["IN", "CH", "CS", "HS", "NONE", "ANY"].iter().any(|c| c.eq_ignore_ascii_case(t))
        || (t.len() > 5 && t[..5].eq_ignore_ascii_case("CLASS") && t[5..].parse::<u16>().is_ok())
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
        assert!(errs[0].to_string().starts_with("zones/x.zone:2: zone example.com.: bad A RDATA"));
        assert!(matches!(errs[1].kind, LoadErrorKind::OutOfZone { .. }));
        assert_eq!(errs[2].line, 5);
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
