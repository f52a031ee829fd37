//! ZONEMD (RFC 8976): the digest of a zone's content, and its verification against the
//! apex ZONEMD records.
//!
//! [`digest`] is the SIMPLE scheme (§3): every record of the zone in canonical form
//! (RFC 4034 §6.2: owner lowercase, the names of the types the record-type table marks
//! lowercased in RDATA, the TTL as stored) and canonical order (owner, then type, then
//! RDATA), each once, hashed as `owner type class TTL RDLENGTH RDATA`. Glue and occluded
//! records are included; the apex ZONEMD RRset and the apex RRSIGs covering ZONEMD are
//! not; empty non-terminals have no records. An RRSIG keeps the TTL of its set (the
//! snapshot keeps one set per covered type). Hash algorithms: SHA-384 (1) and SHA-512 (2).
//!
//! [`verify`] follows §4 for the records it can use: those whose serial is the SOA's,
//! whose scheme is SIMPLE and whose hash algorithm is one of the two above, and whose
//! scheme and algorithm no other apex ZONEMD repeats; the others are set aside and
//! listed ([`Skipped`]). Verification succeeds when any usable record matches; a zone
//! with usable records and no match fails ([`ZonemdError`]) with each digest expected
//! and computed. The zone is walked once whatever the number of records to check.
//!
//! This is a pure function of a snapshot: no clock, no I/O, no logging.
//!
//! Limitations: the ZONEMD RRset's own RRSIG is not validated (§4 step 2): Shoal does
//! not validate DNSSEC signatures. Only the SIMPLE scheme exists.

use crate::audit::order::sorted_nodes;
use crate::store::snapshot::Snapshot;
use sha2::{Digest, Sha384, Sha512};
use shoal_wire::rdata::canonical;
use shoal_wire::{Class, Name, Rtype};
use std::fmt;
use std::ops::Range;

/// The SIMPLE scheme (RFC 8976 §5.2).
pub const SCHEME_SIMPLE: u8 = 1;

/// A hash algorithm of the ZONEMD registry that Shoal computes (RFC 8976 §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZonemdHash {
    Sha384,
    Sha512,
}

impl ZonemdHash {
    /// The algorithm with this registry number, if supported.
    pub fn from_number(n: u8) -> Option<ZonemdHash> {
        match n {
            1 => Some(ZonemdHash::Sha384),
            2 => Some(ZonemdHash::Sha512),
            _ => None,
        }
    }

    pub fn number(self) -> u8 {
        match self {
            ZonemdHash::Sha384 => 1,
            ZonemdHash::Sha512 => 2,
        }
    }

    /// Length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            ZonemdHash::Sha384 => 48,
            ZonemdHash::Sha512 => 64,
        }
    }
}

impl fmt::Display for ZonemdHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ZonemdHash::Sha384 => "SHA-384",
            ZonemdHash::Sha512 => "SHA-512",
        })
    }
}

/// One apex ZONEMD record, read from its RDATA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZonemdRecord {
    pub serial: u32,
    pub scheme: u8,
    pub hash: u8,
    pub digest: Vec<u8>,
}

impl ZonemdRecord {
    /// Read a ZONEMD RDATA: serial (4), scheme (1), hash algorithm (1), digest.
    pub fn parse(rdata: &[u8]) -> Option<ZonemdRecord> {
        if rdata.len() < 6 {
            return None;
        }
        Some(ZonemdRecord {
            serial: u32::from_be_bytes([rdata[0], rdata[1], rdata[2], rdata[3]]),
            scheme: rdata[4],
            hash: rdata[5],
            digest: rdata[6..].to_vec(),
        })
    }
}

/// Why an apex ZONEMD record was not used (RFC 8976 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Its serial is not the SOA's.
    Serial { soa: u32 },
    /// A scheme other than SIMPLE.
    Scheme,
    /// A hash algorithm other than SHA-384 and SHA-512.
    Hash,
    /// Another apex ZONEMD has the same scheme and hash algorithm: none of them counts.
    Duplicate,
    /// RDATA shorter than its fixed fields.
    Malformed,
}

/// An apex ZONEMD record set aside, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// `None` when the RDATA could not be read.
    pub record: Option<ZonemdRecord>,
    pub reason: SkipReason,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(r) = &self.record else { return f.write_str("ZONEMD record too short to read") };
        write!(f, "ZONEMD {} {} {}: ", r.serial, r.scheme, r.hash)?;
        match self.reason {
            SkipReason::Serial { soa } => write!(f, "serial is not the SOA serial {soa}"),
            SkipReason::Scheme => f.write_str("unknown scheme"),
            SkipReason::Hash => f.write_str("unknown hash algorithm"),
            SkipReason::Duplicate => f.write_str("scheme and hash algorithm repeated in the ZONEMD RRset"),
            SkipReason::Malformed => f.write_str("malformed"),
        }
    }
}

/// What verifying a zone's ZONEMD found, when it did not fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZonemdOutcome {
    /// No ZONEMD RRset at the apex.
    NotPresent,
    /// ZONEMD records at the apex, none of them usable: each with why.
    NoneUsable(Vec<Skipped>),
    /// A usable record matched the zone's digest.
    Verified { serial: u32, hash: ZonemdHash },
}

/// One usable ZONEMD record whose digest differs from the zone's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestMismatch {
    pub hash: ZonemdHash,
    /// The record's digest, lowercase hex.
    pub expected: String,
    /// The zone's digest, lowercase hex.
    pub computed: String,
}

/// Why a zone fails ZONEMD verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZonemdError {
    /// No usable apex ZONEMD record matches the zone's content.
    Mismatch { zone: Name, serial: u32, digests: Vec<DigestMismatch> },
}

impl fmt::Display for ZonemdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZonemdError::Mismatch { zone, serial, digests } => {
                write!(f, "zone {zone}: ZONEMD digest mismatch at serial {serial}")?;
                for d in digests {
                    write!(f, "; {}: expected {}, computed {}", d.hash, d.expected, d.computed)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ZonemdError {}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)] as char, DIGITS[usize::from(b & 15)] as char]).collect()
}

/// The zone's SIMPLE-scheme digest with `hash`.
pub fn digest(snapshot: &Snapshot, hash: ZonemdHash) -> Vec<u8> {
    digests(snapshot, &[hash]).pop().expect("one digest per algorithm")
}

/// The zone's SIMPLE-scheme digest with each of `hashes`, in one walk of the zone.
pub fn digests(snapshot: &Snapshot, hashes: &[ZonemdHash]) -> Vec<Vec<u8>> {
    let (mut sha384, mut sha512) = (Sha384::new(), Sha512::new());
    let (want384, want512) = (hashes.contains(&ZonemdHash::Sha384), hashes.contains(&ZonemdHash::Sha512));
    canonical_records(snapshot, |bytes| {
        if want384 {
            sha384.update(bytes);
        }
        if want512 {
            sha512.update(bytes);
        }
    });
    let (d384, d512) = (sha384.finalize().to_vec(), sha512.finalize().to_vec());
    hashes
        .iter()
        .map(|h| match h {
            ZonemdHash::Sha384 => d384.clone(),
            ZonemdHash::Sha512 => d512.clone(),
        })
        .collect()
}

/// Whether an apex record of type `rtype` with `rdata` is left out of the digest: the
/// ZONEMD records and the RRSIGs covering them (RFC 8976 §3.3.1).
fn excluded_at_apex(rtype: Rtype, rdata: &[u8]) -> bool {
    rtype == Rtype::ZONEMD || (rtype == Rtype::RRSIG && rdata.get(..2) == Some(&Rtype::ZONEMD.0.to_be_bytes()[..]))
}

/// Feed `out` the zone's records in canonical form and order (RFC 8976 §3.3), a node's
/// worth of bytes at a time.
fn canonical_records(snapshot: &Snapshot, mut out: impl FnMut(&[u8])) {
    let apex = snapshot.apex().as_wire();
    let mut rdatas = Vec::new();
    let mut records: Vec<(Rtype, u32, Range<usize>)> = Vec::new();
    let mut bytes = Vec::new();
    for node in sorted_nodes(snapshot) {
        let owner = node.name();
        let at_apex = owner == apex;
        rdatas.clear();
        records.clear();
        for rrset in node.rrsets() {
            for rd in rrset.rdatas() {
                if at_apex && excluded_at_apex(rrset.rtype, rd) {
                    continue;
                }
                let start = rdatas.len();
                canonical(rrset.rtype, rd, &mut rdatas);
                records.push((rrset.rtype, rrset.ttl, start..rdatas.len()));
            }
        }
        // RRSIGs of several sets sort together, by RDATA; names lowercased in RDATA may
        // have made two records of a set equal, or changed their order.
        records.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| rdatas[a.2.clone()].cmp(&rdatas[b.2.clone()])));
        records.dedup_by(|a, b| a.0 == b.0 && rdatas[a.2.clone()] == rdatas[b.2.clone()]);
        bytes.clear();
        for (rtype, ttl, range) in &records {
            bytes.extend_from_slice(owner);
            bytes.extend_from_slice(&rtype.0.to_be_bytes());
            bytes.extend_from_slice(&Class::IN.0.to_be_bytes());
            bytes.extend_from_slice(&ttl.to_be_bytes());
            bytes.extend_from_slice(&(range.len() as u16).to_be_bytes());
            bytes.extend_from_slice(&rdatas[range.clone()]);
        }
        out(&bytes);
    }
}

/// The apex ZONEMD records Shoal can check, each with its hash algorithm.
type Usable = Vec<(ZonemdRecord, ZonemdHash)>;

/// The apex ZONEMD records, each either usable or set aside; `None` without any.
fn classify(snapshot: &Snapshot) -> Option<(Usable, Vec<Skipped>)> {
    let set = snapshot.apex_node().rrset(Rtype::ZONEMD)?;
    let soa = snapshot.serial();
    let mut usable = Vec::new();
    let mut skipped = Vec::new();
    let records: Vec<Option<ZonemdRecord>> = set.rdatas().map(ZonemdRecord::parse).collect();
    for r in &records {
        let Some(r) = r else {
            skipped.push(Skipped { record: None, reason: SkipReason::Malformed });
            continue;
        };
        let repeated = records.iter().flatten().filter(|o| o.scheme == r.scheme && o.hash == r.hash).count() > 1;
        let reason = match ZonemdHash::from_number(r.hash) {
            _ if r.scheme != SCHEME_SIMPLE => SkipReason::Scheme,
            None => SkipReason::Hash,
            Some(_) if repeated => SkipReason::Duplicate,
            Some(_) if r.serial != soa => SkipReason::Serial { soa },
            Some(h) => {
                usable.push((r.clone(), h));
                continue;
            }
        };
        skipped.push(Skipped { record: Some(r.clone()), reason });
    }
    Some((usable, skipped))
}

/// Verify the zone's content against its apex ZONEMD records (RFC 8976 §4).
pub fn verify(snapshot: &Snapshot) -> Result<ZonemdOutcome, ZonemdError> {
    let Some((usable, skipped)) = classify(snapshot) else { return Ok(ZonemdOutcome::NotPresent) };
    if usable.is_empty() {
        return Ok(ZonemdOutcome::NoneUsable(skipped));
    }
    let mut hashes: Vec<ZonemdHash> = usable.iter().map(|u| u.1).collect();
    hashes.dedup();
    let computed = digests(snapshot, &hashes);
    let of = |h: ZonemdHash| &computed[hashes.iter().position(|&x| x == h).expect("computed")];
    if let Some((r, h)) = usable.iter().find(|(r, h)| r.digest == *of(*h)) {
        return Ok(ZonemdOutcome::Verified { serial: r.serial, hash: *h });
    }
    let digests = usable
        .iter()
        .map(|(r, h)| DigestMismatch { hash: *h, expected: hex(&r.digest), computed: hex(of(*h)) })
        .collect();
    Err(ZonemdError::Mismatch { zone: snapshot.apex().clone(), serial: snapshot.serial(), digests })
}
