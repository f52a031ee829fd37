//! The difference between two versions of a zone, as IXFR carries it (RFC 1995).
//!
//! A [`Diff`] holds the old and new SOA and the records removed and added. A record
//! whose TTL changed is removed with its old TTL and added with its new one, since IXFR
//! has no other way to say it. [`diff`] compares two snapshots node by node and RRset by
//! RRset (RDATA sets are sorted, so each comparison is a merge).

use crate::store::node::RrsetRef;
use crate::store::snapshot::Snapshot;
use shoal_wire::{Name, Rtype};
use std::cmp::Ordering;

/// One resource record, owned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rr {
    pub owner: Name,
    pub rtype: Rtype,
    pub ttl: u32,
    pub rdata: Box<[u8]>,
}

/// One step from one serial to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff {
    pub old_soa: Rr,
    pub new_soa: Rr,
    pub removed: Vec<Rr>,
    pub added: Vec<Rr>,
}

impl Diff {
    pub fn old_serial(&self) -> u32 {
        soa_serial(&self.old_soa.rdata)
    }

    pub fn new_serial(&self) -> u32 {
        soa_serial(&self.new_soa.rdata)
    }

    /// Records this step carries, both SOAs included.
    pub fn len(&self) -> usize {
        2 + self.removed.len() + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

/// The serial in SOA RDATA (the first of its five trailing 32-bit fields).
pub fn soa_serial(rdata: &[u8]) -> u32 {
    let f = &rdata[rdata.len() - 20..];
    u32::from_be_bytes([f[0], f[1], f[2], f[3]])
}

/// The SOA of a snapshot as a record.
pub fn soa_of(s: &Snapshot) -> Rr {
    let soa = s.apex_node().rrset(Rtype::SOA).expect("zone has SOA");
    Rr { owner: s.apex().clone(), rtype: Rtype::SOA, ttl: soa.ttl, rdata: soa.first().into() }
}

/// What changed from `old` to `new` (SOA excluded from the record lists).
pub fn diff(old: &Snapshot, new: &Snapshot) -> Diff {
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for node in old.nodes().filter(|n| !n.is_empty()) {
        let name = Name::from_wire(node.name()).expect("a stored name");
        let other = new.node(node.name());
        for rrset in node.rrsets().filter(|r| r.rtype != Rtype::SOA) {
            let counterpart = other.and_then(|n| n.rrset_like(&rrset));
            compare(&name, rrset, counterpart, &mut removed, &mut added);
        }
    }
    for node in new.nodes().filter(|n| !n.is_empty()) {
        let other = old.node(node.name());
        let mut name = None;
        for rrset in node.rrsets().filter(|r| r.rtype != Rtype::SOA) {
            if other.and_then(|n| n.rrset_like(&rrset)).is_none() {
                let name = name.get_or_insert_with(|| Name::from_wire(node.name()).expect("a stored name"));
                push_all(name, rrset, &mut added);
            }
        }
    }
    removed.sort();
    added.sort();
    Diff { old_soa: soa_of(old), new_soa: soa_of(new), removed, added }
}

fn push_all(name: &Name, rrset: RrsetRef<'_>, out: &mut Vec<Rr>) {
    for rd in rrset.rdatas() {
        out.push(Rr { owner: name.clone(), rtype: rrset.rtype, ttl: rrset.ttl, rdata: rd.into() });
    }
}

/// Compare `old` with its counterpart in the new version (records only in the new one
/// are added by the caller's second pass when the whole RRset is new).
fn compare(name: &Name, old: RrsetRef<'_>, new: Option<RrsetRef<'_>>, removed: &mut Vec<Rr>, added: &mut Vec<Rr>) {
    let Some(new) = new else {
        push_all(name, old, removed);
        return;
    };
    if old.ttl != new.ttl {
        push_all(name, old, removed);
        push_all(name, new, added);
        return;
    }
    let (mut i, mut j) = (0, 0);
    let a: Vec<&[u8]> = old.rdatas().collect();
    let b: Vec<&[u8]> = new.rdatas().collect();
    let rr = |rd: &[u8]| Rr { owner: name.clone(), rtype: old.rtype, ttl: old.ttl, rdata: rd.into() };
    while i < a.len() || j < b.len() {
        let ord = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
            Ordering::Less => {
                removed.push(rr(a[i]));
                i += 1;
            }
            Ordering::Greater => {
                added.push(rr(b[j]));
                j += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;
    use std::path::Path;

    fn snap(text: &str) -> Snapshot {
        crate::load_zone_str(&from_ascii("example.com.").unwrap(), text, Path::new("t")).unwrap()
    }

    #[test]
    fn diff_finds_removed_added_and_ttl_changes() {
        let old = snap(
            "@ 60 SOA ns hm 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\na 60 A 192.0.2.2\na 60 A 192.0.2.3\nb 60 TXT x\n",
        );
        let new = snap("@ 60 SOA ns hm 2 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\na 60 A 192.0.2.2\na 60 A 192.0.2.4\nb 90 TXT x\nc 60 A 192.0.2.5\n");
        let d = diff(&old, &new);
        assert_eq!((d.old_serial(), d.new_serial()), (1, 2));
        let show = |v: &[Rr]| v.iter().map(|r| format!("{} {} {}", r.owner, r.rtype.0, r.ttl)).collect::<Vec<_>>();
        assert_eq!(show(&d.removed), ["a.example.com. 1 60", "b.example.com. 16 60"]);
        assert_eq!(show(&d.added), ["a.example.com. 1 60", "b.example.com. 16 90", "c.example.com. 1 60"]);
        assert_eq!(d.removed[0].rdata.as_ref(), &[192, 0, 2, 3]);
        assert_eq!(d.added[0].rdata.as_ref(), &[192, 0, 2, 4]);
    }
}
