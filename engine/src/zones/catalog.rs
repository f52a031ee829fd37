//! Catalog zones (RFC 9432, schema version 2) as data: the member list read out of a
//! consumed catalog's version ([`read`]), and the version of a producer catalog
//! written from the zones listed in it ([`produce`]).
//!
//! A member is `<unique-id>.zones.<catalog> PTR <member zone>`, with the properties
//! `group.<unique-id>.zones.<catalog> TXT` and `coo.<unique-id>.zones.<catalog> PTR`
//! (change of ownership). Records a consumer does not know are ignored, as the RFC
//! asks; a catalog without `version TXT "2"` is not used at all. [`Consumed`] is what
//! the registry keeps of each consumer catalog between versions.

use crate::config::Listed;
use shoal_wire::{Name, Rtype};
use shoal_zonedb::change::apply::{from_records, records_of};
use shoal_zonedb::change::diff::Rr;
use shoal_zonedb::{LoadError, Snapshot};
use std::collections::BTreeMap;
use std::fmt;

/// A member zone as its catalog lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The unique ID label, lowercase.
    pub id: Box<[u8]>,
    /// The `group` property (the first, when there are several).
    pub group: Option<String>,
    /// The `coo` property: the catalog the member is moving to.
    pub coo: Option<Name>,
}

/// The members of a catalog version, by member zone name, and what was wrong with
/// the entries left out.
#[derive(Debug, Default, Clone)]
pub struct Members {
    pub zones: BTreeMap<Name, Member>,
    pub problems: Vec<String>,
}

/// What the registry knows of one consumer catalog.
#[derive(Default)]
pub struct Consumed {
    /// The serial of the version last read.
    pub serial: Option<u32>,
    /// A version was read and used: `members` is the catalog's list. Until then the
    /// members it owns are kept as they are (its copy could not be read, or its schema
    /// version is not supported).
    pub usable: bool,
    /// Its members were synced from a usable version: members a later version adds
    /// are joining (see [`crate::zones::entry::ZoneEntry::joining`]).
    pub settled: bool,
    /// Its members, as last read.
    pub members: BTreeMap<Name, Member>,
    /// Members refused at the last sync (each is logged once).
    pub refused: std::collections::HashSet<Name>,
    /// Members it owns.
    pub owned: usize,
    /// Members refused so far.
    pub refused_total: u64,
}

/// Why a catalog version is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogError {
    /// No `version` property.
    NoVersion,
    /// A schema version other than "2".
    Version(String),
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::NoVersion => f.write_str("no version property (version TXT \"2\"): not a catalog zone"),
            CatalogError::Version(v) => write!(f, "schema version {v:?} is not supported (only \"2\", RFC 9432)"),
        }
    }
}

impl std::error::Error for CatalogError {}

/// The first label of a wire name and the rest.
fn split_first(wire: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(*wire.first()?);
    (len > 0).then(|| (&wire[1..=len], &wire[1 + len..]))
}

/// The character-strings of a TXT RDATA, joined.
fn txt_text(rdata: &[u8]) -> String {
    let mut out = Vec::new();
    let mut rest = rdata;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        out.extend_from_slice(&tail[..len]);
        rest = &tail[len..];
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What one member node holds: its PTR targets, `group` and `coo`.
type Node = (Vec<Name>, Option<String>, Option<Name>);

/// The member list of a catalog version.
pub fn read(s: &Snapshot) -> Result<Members, CatalogError> {
    let apex = s.apex().as_wire();
    let mut zones_suffix = vec![5u8];
    zones_suffix.extend_from_slice(b"zones");
    zones_suffix.extend_from_slice(apex);
    let mut version: Option<String> = None;
    let mut nodes: BTreeMap<Box<[u8]>, Node> = BTreeMap::new();
    for r in records_of(s) {
        let owner = r.owner.as_wire();
        let Some((first, rest)) = split_first(owner) else { continue };
        if rest == apex && first == b"version" && r.rtype == Rtype::TXT {
            version.get_or_insert_with(|| txt_text(&r.rdata));
            continue;
        }
        if rest == zones_suffix.as_slice() && r.rtype == Rtype::PTR {
            if let Ok(member) = Name::from_wire(&r.rdata) {
                nodes.entry(first.into()).or_default().0.push(member);
            }
            continue;
        }
        let Some((id, tail)) = split_first(rest) else { continue };
        if tail != zones_suffix.as_slice() {
            continue;
        }
        let node = nodes.entry(id.into()).or_default();
        match (first, r.rtype) {
            (b"group", Rtype::TXT) => {
                node.1.get_or_insert_with(|| txt_text(&r.rdata));
            }
            (b"coo", Rtype::PTR) => {
                if let Ok(to) = Name::from_wire(&r.rdata) {
                    node.2.get_or_insert(to);
                }
            }
            _ => {}
        }
    }
    match version.as_deref() {
        None => return Err(CatalogError::NoVersion),
        Some("2") => {}
        Some(v) => return Err(CatalogError::Version(v.into())),
    }
    let mut out = Members::default();
    let label = |id: &[u8]| String::from_utf8_lossy(id).into_owned();
    for (id, (names, group, coo)) in nodes {
        match names.as_slice() {
            [] => {}
            [zone] if zone.as_wire() == apex => {
                out.problems.push(format!("member {} lists the catalog itself; ignored", label(&id)));
            }
            [zone] => {
                if out.zones.contains_key(zone) {
                    out.problems.push(format!("zone {zone} is listed again under {}; ignored there", label(&id)));
                    continue;
                }
                out.zones.insert(zone.clone(), Member { id, group, coo });
            }
            _ => out.problems.push(format!("member {} has {} PTR records, not one; ignored", label(&id), names.len())),
        }
    }
    Ok(out)
}

/// The unique ID Shoal gives a zone it lists: 16 hex digits of the SHA-256 of its
/// name, the same on every producer and at every restart.
pub fn unique_id(zone: &Name) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(zone.as_wire());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The SOA timers of a produced catalog: refresh and retry a minute, so that
/// consumers converge within that when a NOTIFY is lost; expire four weeks.
const SOA_TIMERS: [u32; 4] = [60, 60, 2_419_200, 0];

/// A producer catalog's version with `serial`, listing `members`.
pub fn produce(apex: &Name, members: &[Listed], serial: u32) -> Result<Snapshot, Vec<LoadError>> {
    let name = |prefix: &[&[u8]]| -> Name {
        let mut wire = Vec::new();
        for label in prefix {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        wire.extend_from_slice(apex.as_wire());
        Name::from_wire(&wire).expect("a catalog name within the limits")
    };
    let txt = |s: &str| -> Box<[u8]> {
        let mut v = vec![s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v.into()
    };
    let invalid = shoal_wire::name::from_ascii("invalid.").expect("valid");
    let mut soa = [invalid.as_wire(), invalid.as_wire()].concat();
    soa.extend_from_slice(&serial.to_be_bytes());
    for t in SOA_TIMERS {
        soa.extend_from_slice(&t.to_be_bytes());
    }
    let rr = |owner: Name, rtype: Rtype, rdata: Box<[u8]>| Rr { owner, rtype, ttl: 0, rdata };
    let mut records = vec![
        rr(apex.clone(), Rtype::SOA, soa.into()),
        rr(apex.clone(), Rtype::NS, invalid.as_wire().into()),
        rr(name(&[b"version"]), Rtype::TXT, txt("2")),
    ];
    for m in members {
        let id = unique_id(&m.zone);
        records.push(rr(name(&[id.as_bytes(), b"zones"]), Rtype::PTR, m.zone.as_wire().into()));
        if let Some(g) = &m.group {
            records.push(rr(name(&[b"group", id.as_bytes(), b"zones"]), Rtype::TXT, txt(g)));
        }
    }
    from_records(apex, records, "(catalog written by shoal)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;

    fn zone(text: &str) -> Snapshot {
        shoal_zonedb::load_zone_str(&from_ascii("cat.").unwrap(), text, std::path::Path::new("cat.zone")).unwrap()
    }

    const HEAD: &str = "$ORIGIN cat.\n$TTL 0\n@ SOA invalid. invalid. 1 60 60 2419200 0\n@ NS invalid.\n";

    #[test]
    fn members_groups_and_coo_are_read() {
        let s = zone(&format!(
            "{HEAD}version TXT \"2\"\nm1.zones PTR A.example.\ngroup.m1.zones TXT \"signed\"\n\
             M2.zones PTR b.example.\ncoo.m2.zones PTR other-cat.\nunknown.cat. TXT \"ignored\"\n\
             ext.m1.zones TXT \"custom\"\n"
        ));
        let m = read(&s).unwrap();
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        let a = &m.zones[&from_ascii("a.example.").unwrap()];
        assert_eq!((&*a.id, a.group.as_deref(), &a.coo), (&b"m1"[..], Some("signed"), &None));
        let b = &m.zones[&from_ascii("b.example.").unwrap()];
        assert_eq!(&*b.id, b"m2", "IDs are compared lowercase");
        assert_eq!(b.coo, Some(from_ascii("other-cat.").unwrap()));
        assert_eq!(m.zones.len(), 2);
    }

    #[test]
    fn broken_entries_are_left_out_and_named() {
        let s = zone(&format!(
            "{HEAD}version TXT \"2\"\nm1.zones PTR a.example.\nm1.zones PTR c.example.\n\
             m2.zones PTR b.example.\nm3.zones PTR b.example.\nm4.zones PTR cat.\n"
        ));
        let m = read(&s).unwrap();
        assert_eq!(m.zones.keys().map(|n| n.to_string()).collect::<Vec<_>>(), ["b.example."]);
        assert_eq!(&*m.zones[&from_ascii("b.example.").unwrap()].id, b"m2", "the first ID in order wins");
        assert_eq!(m.problems.len(), 3, "{:?}", m.problems);
    }

    #[test]
    fn a_catalog_of_another_schema_version_is_not_used() {
        assert_eq!(read(&zone(HEAD)).unwrap_err(), CatalogError::NoVersion);
        let e = read(&zone(&format!("{HEAD}version TXT \"1\"\nm.zones PTR a.\n"))).unwrap_err();
        assert_eq!(e, CatalogError::Version("1".into()));
    }

    #[test]
    fn a_produced_catalog_reads_back_as_its_members() {
        let apex = from_ascii("cat.").unwrap();
        let listed = vec![
            Listed { zone: from_ascii("a.example.").unwrap(), group: Some("signed".into()) },
            Listed { zone: from_ascii("b.example.").unwrap(), group: None },
        ];
        let s = produce(&apex, &listed, 7).unwrap();
        assert_eq!(s.serial(), 7);
        let m = read(&s).unwrap();
        assert_eq!(m.zones.len(), 2);
        let a = &m.zones[&listed[0].zone];
        assert_eq!(a.group.as_deref(), Some("signed"));
        assert_eq!(&*a.id, unique_id(&listed[0].zone).as_bytes());
        assert_eq!(unique_id(&listed[0].zone).len(), 16);
        assert_ne!(unique_id(&listed[0].zone), unique_id(&listed[1].zone));
        assert_eq!(m.zones[&listed[1].zone].group, None);
    }
}
