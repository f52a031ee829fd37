//! [`LoadError`]: why a zone could not be loaded, with zone, file and line.

use std::fmt;
use std::path::PathBuf;

/// One problem found while loading or validating a zone.
#[derive(Debug, Clone)]
pub struct LoadError {
    /// The zone's name in presentation format.
    pub zone: String,
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    pub kind: LoadErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io(String),
    /// Master-file syntax: quotes, parentheses, escapes.
    Syntax(&'static str),
    /// A `$` directive that is unknown or malformed.
    Directive(String),
    /// A record without an owner (blank first field on the first record).
    NoOwner,
    /// The owner name is malformed.
    BadOwner(&'static str),
    BadTtl(&'static str),
    /// Only class IN zones are served.
    UnsupportedClass(String),
    UnknownType(String),
    BadRdata {
        rtype: String,
        error: shoal_wire::rdata::RdataError,
    },
    /// A record whose owner is not at or below the zone apex.
    OutOfZone {
        owner: String,
    },
    NoSoa,
    MultipleSoa {
        owner: String,
    },
    CnameAndOtherData {
        owner: String,
    },
    MultipleCname {
        owner: String,
    },
    /// DNAME and CNAME may not share an owner (RFC 6672 §2.4).
    CnameAndDname {
        owner: String,
    },
    IncludeTooDeep,
    /// Loading stopped after this many errors.
    TooManyErrors(usize),
}

impl fmt::Display for LoadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LoadErrorKind::*;
        match self {
            Io(e) => write!(f, "cannot read file: {e}"),
            Syntax(s) => write!(f, "syntax error: {s}"),
            Directive(d) => write!(f, "bad directive: {d}"),
            NoOwner => write!(f, "record has no owner name"),
            BadOwner(r) => write!(f, "bad owner name: {r}"),
            BadTtl(r) => write!(f, "bad TTL: {r}"),
            UnsupportedClass(c) => write!(f, "unsupported class {c} (only IN is served)"),
            UnknownType(t) => write!(f, "unknown record type {t} (use TYPEnnn and \\# for unknown types)"),
            BadRdata { rtype, error } if error.field.is_empty() => write!(f, "{rtype} RDATA: {}", error.reason),
            BadRdata { rtype, error } => write!(f, "{rtype} {}: {}", error.field, error.reason),
            OutOfZone { owner } => write!(f, "record {owner} is outside the zone"),
            NoSoa => write!(f, "no SOA record at the zone apex"),
            MultipleSoa { owner } => write!(f, "more than one SOA record (at {owner})"),
            CnameAndOtherData { owner } => write!(f, "CNAME and other data at {owner}"),
            MultipleCname { owner } => write!(f, "more than one CNAME record at {owner}"),
            CnameAndDname { owner } => write!(f, "CNAME and DNAME at {owner}"),
            IncludeTooDeep => write!(f, "$INCLUDE nested too deeply"),
            TooManyErrors(n) => write!(f, "stopped after {n} errors"),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: zone {}: {}", self.file.display(), self.line, self.zone, self.kind)
        } else {
            write!(f, "{}: zone {}: {}", self.file.display(), self.zone, self.kind)
        }
    }
}

impl std::error::Error for LoadError {}
