//! Response normalisation: an independent DNS wire parser (no shared code with Shoal's
//! `wire` crate) that turns a response into a [`Normalized`] value two servers can be
//! compared on, field by field.
//!
//! What counts as "the same answer":
//! - RCODE, including the extended bits from the OPT TTL (BADVERS is 16);
//! - header flags QR, AA, TC, RD, CD and the opcode (RA and AD are ignored);
//! - the question, lowercased;
//! - answer/authority/additional as multisets of records: owner lowercased, type, class,
//!   TTL, and RDATA with embedded names decompressed and lowercased (RFC 4343 makes them
//!   case-insensitive; Shoal stores names lowercased, Knot and NSD echo the zone file);
//!   record order inside a section is not compared;
//! - OPT presence, version, DO bit and the set of option codes, but not the payload size;
//!   the NSID content only when the query asks for it.
//!
//! Record text in reports comes from hickory-proto's presentation format, and for the
//! DNSSEC types and DNAME, which hickory-proto (built without its `dnssec` feature)
//! shows only as base64, from Shoal's record-type table in Knot's spelling
//! (`shoal_wire::rdata::format`, which `record_types.rs` holds to `kdig`'s output).

use std::collections::BTreeMap;
use std::fmt;

use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

const OPT: u16 = 41;
const NSID: u16 = 3;

/// A decoded response.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub id: u16,
    pub flags: u16,
    /// 12-bit RCODE: header low 4 bits plus OPT extended bits.
    pub rcode: u16,
    pub questions: Vec<(String, u16, u16)>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    pub opt: Option<Opt>,
}

/// One resource record with a canonical RDATA (names decompressed and lowercased).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rr {
    pub owner: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub owner_is_root: bool,
    pub payload: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub dnssec_ok: bool,
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Parsed {
    pub fn qr(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }
    pub fn cd(&self) -> bool {
        self.flags & 0x0010 != 0
    }
    pub fn nsid(&self) -> Option<&[u8]> {
        let opt = self.opt.as_ref()?;
        opt.options.iter().find(|(code, _)| *code == NSID).map(|(_, v)| v.as_slice())
    }
}

impl Rr {
    /// Presentation form: the DNSSEC types and DNAME (DNAME, DS, RRSIG, NSEC, DNSKEY,
    /// NSEC3, NSEC3PARAM) by the record-type table, the others via hickory-proto,
    /// falling back to RFC 3597 `\#` form.
    pub fn text(&self) -> String {
        if [39, 43, 46, 47, 48, 50, 51].contains(&self.rtype) {
            let rtype = shoal_wire::Rtype(self.rtype);
            let mut rdata = String::new();
            shoal_wire::rdata::format::format(rtype, &self.rdata, &mut rdata);
            let class = if self.class == 1 { "IN".to_string() } else { format!("CLASS{}", self.class) };
            let name = shoal_wire::rdata::rtype_name(rtype);
            return format!("{} {} {class} {name} {rdata}", self.owner, self.ttl);
        }
        let mut wire = Vec::new();
        encode_name(&self.owner, &mut wire);
        wire.extend_from_slice(&self.rtype.to_be_bytes());
        wire.extend_from_slice(&self.class.to_be_bytes());
        wire.extend_from_slice(&self.ttl.to_be_bytes());
        wire.extend_from_slice(&(self.rdata.len() as u16).to_be_bytes());
        wire.extend_from_slice(&self.rdata);
        match Record::read(&mut BinDecoder::new(&wire)) {
            Ok(record) => record.to_string(),
            Err(_) => format!(
                "{} {} CLASS{} TYPE{} \\# {} {}",
                self.owner,
                self.ttl,
                self.class,
                self.rtype,
                self.rdata.len(),
                hex(&self.rdata)
            ),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse a whole response. Errors name the offset and what was wrong.
pub fn parse(msg: &[u8]) -> Result<Parsed, String> {
    if msg.len() < 12 {
        return Err(format!("short message: {} bytes", msg.len()));
    }
    let u16_at = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
    let counts = [u16_at(4), u16_at(6), u16_at(8), u16_at(10)];
    let mut pos = 12;
    let mut questions = Vec::new();
    for _ in 0..counts[0] {
        let (name, next) = read_name(msg, pos)?;
        let fixed = msg.get(next..next + 4).ok_or_else(|| format!("question cut at {next}"))?;
        let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
        questions.push((name, qtype, qclass));
        pos = next + 4;
    }
    let mut sections: [Vec<Rr>; 3] = Default::default();
    let mut opt = None;
    for (i, section) in sections.iter_mut().enumerate() {
        for _ in 0..counts[i + 1] {
            let (owner, next) = read_name(msg, pos)?;
            let fixed = msg.get(next..next + 10).ok_or_else(|| format!("record header cut at {next}"))?;
            let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
            let class = u16::from_be_bytes([fixed[2], fixed[3]]);
            let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
            let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
            let start = next + 10;
            let end = start + rdlen;
            if end > msg.len() {
                return Err(format!("RDATA of {owner} TYPE{rtype} runs past the end"));
            }
            pos = end;
            if rtype == OPT {
                if i != 2 {
                    return Err("OPT outside the additional section".into());
                }
                if opt.is_some() {
                    return Err("two OPT records".into());
                }
                opt = Some(parse_opt(&owner, class, ttl, &msg[start..end])?);
                continue;
            }
            let rdata =
                canonical_rdata(msg, rtype, start, end).map_err(|e| format!("RDATA of {owner} TYPE{rtype}: {e}"))?;
            section.push(Rr { owner, rtype, class, ttl, rdata });
        }
    }
    if pos != msg.len() {
        return Err(format!("{} trailing bytes", msg.len() - pos));
    }
    let flags = u16_at(2);
    let ext = opt.as_ref().map(|o| o.ext_rcode).unwrap_or(0) as u16;
    let [answer, authority, additional] = sections;
    Ok(Parsed {
        id: u16_at(0),
        flags,
        rcode: (ext << 4) | (flags & 0xf),
        questions,
        answer,
        authority,
        additional,
        opt,
    })
}

fn parse_opt(owner: &str, class: u16, ttl: u32, rdata: &[u8]) -> Result<Opt, String> {
    let mut options = Vec::new();
    let mut i = 0;
    while i < rdata.len() {
        let head = rdata.get(i..i + 4).ok_or("OPT option header cut short")?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = u16::from_be_bytes([head[2], head[3]]) as usize;
        let value = rdata.get(i + 4..i + 4 + len).ok_or("OPT option value cut short")?;
        options.push((code, value.to_vec()));
        i += 4 + len;
    }
    Ok(Opt {
        owner_is_root: owner == ".",
        payload: class,
        ext_rcode: (ttl >> 24) as u8,
        version: (ttl >> 16) as u8,
        dnssec_ok: ttl & 0x8000 != 0,
        options,
    })
}

/// Read a possibly compressed name at `pos`; returns it lowercased in presentation form
/// and the offset just after it in the original byte stream. Loops, forward-pointer
/// chains and over-long names are errors (at most 128 jumps, 255 wire bytes).
pub fn read_name(msg: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut wire_len = 1;
    let mut after = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(pos).ok_or_else(|| format!("name cut at {pos}"))? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                let next = after.unwrap_or(pos + 1);
                return Ok((labels_to_text(&labels), next));
            }
            0x00 => {
                let label = msg.get(pos + 1..pos + 1 + len).ok_or_else(|| format!("label cut at {pos}"))?;
                wire_len += 1 + len;
                if wire_len > 255 {
                    return Err("name longer than 255 bytes".into());
                }
                labels.push(label.to_ascii_lowercase());
                pos += 1 + len;
            }
            0xc0 => {
                let lo = *msg.get(pos + 1).ok_or("pointer cut")? as usize;
                if after.is_none() {
                    after = Some(pos + 2);
                }
                jumps += 1;
                if jumps > 128 {
                    return Err("compression pointer loop".into());
                }
                pos = ((len & 0x3f) << 8) | lo;
            }
            other => return Err(format!("extended label type {other:#04x}")),
        }
    }
}

fn labels_to_text(labels: &[Vec<u8>]) -> String {
    if labels.is_empty() {
        return ".".into();
    }
    let mut s = String::new();
    for label in labels {
        for &b in label {
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                    s.push('\\');
                    s.push(b as char);
                }
                0x21..=0x7e => s.push(b as char),
                _ => s.push_str(&format!("\\{b:03}")),
            }
        }
        s.push('.');
    }
    s
}

/// Encode a presentation name produced by [`labels_to_text`] back to wire form.
pub fn encode_name(text: &str, out: &mut Vec<u8>) {
    if text != "." {
        let bytes = text.as_bytes();
        let mut label = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if i + 3 < bytes.len() + 1 && bytes[i + 1].is_ascii_digit() => {
                    let d = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("0");
                    label.push(d.parse::<u16>().unwrap_or(0) as u8);
                    i += 4;
                }
                b'\\' => {
                    label.push(bytes[i + 1]);
                    i += 2;
                }
                b'.' => {
                    out.push(label.len() as u8);
                    out.append(&mut label);
                    i += 1;
                }
                b => {
                    label.push(b);
                    i += 1;
                }
            }
        }
    }
    out.push(0);
}

/// What an RDATA consists of, for the types whose RDATA embeds domain names.
enum Part {
    Name,
    Fixed(usize),
    CharString,
    Rest,
}

fn layout(rtype: u16) -> Option<&'static [Part]> {
    use Part::*;
    Some(match rtype {
        // NS MD MF CNAME MB MG MR PTR DNAME
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => &[Name],
        6 => &[Name, Name, Fixed(20)],                               // SOA
        14 | 17 => &[Name, Name],                                    // MINFO RP
        15 | 18 | 21 | 36 => &[Fixed(2), Name],                      // MX AFSDB RT KX
        26 => &[Fixed(2), Name, Name],                               // PX
        33 => &[Fixed(6), Name],                                     // SRV
        35 => &[Fixed(4), CharString, CharString, CharString, Name], // NAPTR
        46 => &[Fixed(18), Name, Rest],                              // RRSIG
        47 => &[Name, Rest],                                         // NSEC
        _ => return None,
    })
}

fn canonical_rdata(msg: &[u8], rtype: u16, start: usize, end: usize) -> Result<Vec<u8>, String> {
    let Some(parts) = layout(rtype) else {
        return Ok(msg[start..end].to_vec());
    };
    let mut out = Vec::with_capacity(end - start);
    let mut pos = start;
    for part in parts {
        match part {
            Part::Name => {
                let (name, next) = read_name(&msg[..end], pos)?;
                encode_name(&name, &mut out);
                pos = next;
            }
            Part::Fixed(n) => {
                let bytes = msg.get(pos..pos + n).filter(|_| pos + n <= end);
                out.extend_from_slice(bytes.ok_or("fixed field cut short")?);
                pos += n;
            }
            Part::CharString => {
                let len = *msg.get(pos).filter(|_| pos < end).ok_or("string cut")? as usize;
                let bytes = msg.get(pos..pos + 1 + len).filter(|_| pos + 1 + len <= end);
                out.extend_from_slice(bytes.ok_or("string cut short")?);
                pos += 1 + len;
            }
            Part::Rest => {
                out.extend_from_slice(&msg[pos..end]);
                pos = end;
            }
        }
    }
    if pos != end {
        return Err(format!("{} bytes left over", end - pos));
    }
    Ok(out)
}

/// The fields two responses are compared on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// Reply or no reply (or an unparseable reply).
    Reply,
    Rcode,
    /// Opcode and QR/AA/TC/RD/CD.
    Flags,
    Question,
    Answer,
    Authority,
    Additional,
    /// OPT presence, version, DO, option codes.
    Opt,
    /// NSID option content (only when the query asks for comparison).
    Nsid,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Field::Reply => "reply",
            Field::Rcode => "rcode",
            Field::Flags => "flags",
            Field::Question => "question",
            Field::Answer => "answer",
            Field::Authority => "authority",
            Field::Additional => "additional",
            Field::Opt => "opt",
            Field::Nsid => "nsid",
        };
        f.write_str(s)
    }
}

/// A response reduced to what is compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Normalized {
    NoReply,
    Unparseable(String),
    Reply(Box<Fields>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    pub rcode: String,
    pub flags: String,
    pub question: String,
    /// record → (presentation text, count)
    pub sections: [BTreeMap<Rr, (String, usize)>; 3],
    pub opt: String,
    pub nsid: String,
}

pub fn rcode_name(rcode: u16) -> String {
    let name = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        23 => "BADCOOKIE",
        _ => return format!("RCODE{rcode}"),
    };
    name.to_string()
}

/// An EDNS option as compared: its code, and for Extended DNS Errors (RFC 8914, code
/// 15) the INFO-CODE too; NSID content is compared separately.
fn option_summary((code, value): &(u16, Vec<u8>)) -> String {
    match (code, value.as_slice()) {
        (15, [hi, lo, ..]) => format!("ede:{}", u16::from_be_bytes([*hi, *lo])),
        (3, _) => "nsid".into(),
        _ => code.to_string(),
    }
}

/// Reduce a raw reply (or its absence) to comparable fields.
pub fn normalize(reply: Option<&[u8]>) -> Normalized {
    let Some(bytes) = reply else {
        return Normalized::NoReply;
    };
    let parsed = match parse(bytes) {
        Ok(p) => p,
        Err(e) => return Normalized::Unparseable(format!("{e}; bytes {}", hex(bytes))),
    };
    let mut flags = vec![format!("opcode={}", parsed.opcode())];
    for (set, name) in
        [(parsed.qr(), "qr"), (parsed.aa(), "aa"), (parsed.tc(), "tc"), (parsed.rd(), "rd"), (parsed.cd(), "cd")]
    {
        if set {
            flags.push(name.to_string());
        }
    }
    let mut question =
        parsed.questions.iter().map(|(n, t, c)| format!("{n} CLASS{c} TYPE{t}")).collect::<Vec<_>>().join(" | ");
    if question.is_empty() {
        question = "(no question)".into();
    }
    let to_map = |rrs: &[Rr]| {
        let mut map: BTreeMap<Rr, (String, usize)> = BTreeMap::new();
        for rr in rrs {
            map.entry(rr.clone()).or_insert_with(|| (rr.text(), 0)).1 += 1;
        }
        map
    };
    let (opt, nsid) = match &parsed.opt {
        None => ("none".to_string(), "none".to_string()),
        Some(o) => {
            let mut codes: Vec<String> = o.options.iter().map(option_summary).collect();
            codes.sort_unstable();
            let opt = format!(
                "v{}{}{} options=[{}]",
                o.version,
                if o.dnssec_ok { " do" } else { "" },
                if o.owner_is_root { "" } else { " non-root-owner" },
                codes.join(","),
            );
            let nsid =
                parsed.nsid().map(|v| format!("{:?}", String::from_utf8_lossy(v))).unwrap_or_else(|| "none".into());
            (opt, nsid)
        }
    };
    Normalized::Reply(Box::new(Fields {
        rcode: rcode_name(parsed.rcode),
        flags: flags.join(" "),
        question,
        sections: [to_map(&parsed.answer), to_map(&parsed.authority), to_map(&parsed.additional)],
        opt,
        nsid,
    }))
}

/// One field on which two servers disagree; `left`/`right` are readable renderings
/// (for sections: the records only the left, respectively only the right, server sent).
#[derive(Clone, Debug)]
pub struct FieldDiff {
    pub field: Field,
    pub left: String,
    pub right: String,
}

/// Compare two normalised responses field by field.
pub fn compare(left: &Normalized, right: &Normalized, compare_nsid: bool) -> Vec<FieldDiff> {
    let (l, r) = match (left, right) {
        (Normalized::Reply(l), Normalized::Reply(r)) => (l, r),
        _ if left == right => return Vec::new(),
        _ => return vec![FieldDiff { field: Field::Reply, left: describe(left), right: describe(right) }],
    };
    let mut diffs = Vec::new();
    let mut scalar = |field, a: &String, b: &String| {
        if a != b {
            diffs.push(FieldDiff { field, left: a.clone(), right: b.clone() });
        }
    };
    scalar(Field::Rcode, &l.rcode, &r.rcode);
    scalar(Field::Flags, &l.flags, &r.flags);
    scalar(Field::Question, &l.question, &r.question);
    scalar(Field::Opt, &l.opt, &r.opt);
    if compare_nsid {
        scalar(Field::Nsid, &l.nsid, &r.nsid);
    }
    let fields = [Field::Answer, Field::Authority, Field::Additional];
    for (i, field) in fields.into_iter().enumerate() {
        let (a, b) = (&l.sections[i], &r.sections[i]);
        if a != b {
            diffs.push(FieldDiff { field, left: only_in(a, b), right: only_in(b, a) });
        }
    }
    diffs
}

fn describe(n: &Normalized) -> String {
    match n {
        Normalized::NoReply => "no reply".into(),
        Normalized::Unparseable(e) => format!("unparseable: {e}"),
        Normalized::Reply(f) => format!("reply {}", f.rcode),
    }
}

fn only_in(a: &BTreeMap<Rr, (String, usize)>, b: &BTreeMap<Rr, (String, usize)>) -> String {
    let lines: Vec<String> = a
        .iter()
        .filter(|(rr, (_, count))| b.get(*rr).map(|(_, c)| c) != Some(count))
        .map(|(_, (text, count))| if *count > 1 { format!("{text} (x{count})") } else { text.clone() })
        .collect();
    if lines.is_empty() {
        "(nothing)".into()
    } else {
        lines.join("\n")
    }
}
