//! Building snapshots from records that did not come from a master file: a zone
//! received by AXFR, a zone read back from the state directory, and an IXFR applied
//! to the version held.
//!
//! Applying an IXFR derives the new version from the held one, sharing what did not
//! change ([`crate::change::overlay`]).

use crate::change::diff::{Diff, Rr};
use crate::change::error::{invalid, ApplyError};
use crate::change::overlay::{derive, records_at, Derived, Records};
use crate::error::LoadError;
use crate::store::build::{self, Builder};
use crate::store::namehash::NameMap;
use crate::store::snapshot::Snapshot;
use crate::text::load::{Loaded, Record};
use shoal_wire::name::Display;
use shoal_wire::{Name, Rtype};
use std::path::PathBuf;

/// Every record of a snapshot (SOA included), sorted.
pub fn records_of(s: &Snapshot) -> Vec<Rr> {
    let mut v: Vec<Rr> = s
        .nodes()
        .filter(|n| !n.is_empty())
        .flat_map(|node| {
            let name = Name::from_wire(node.name()).expect("a stored name");
            node.rrsets()
                .flat_map(move |r| r.rdatas().map(move |rd| (r.rtype, r.ttl, rd)))
                .map(move |(rtype, ttl, rd)| Rr { owner: name.clone(), rtype, ttl, rdata: rd.into() })
        })
        .collect();
    v.sort();
    v
}

/// Compile records into a snapshot; `origin` names the source in errors (a peer, a file).
pub fn from_records(apex: &Name, records: Vec<Rr>, origin: &str) -> Result<Snapshot, Vec<LoadError>> {
    let loaded = Loaded {
        records: records
            .into_iter()
            .enumerate()
            .map(|(i, r)| Record {
                owner: r.owner,
                rtype: r.rtype,
                ttl: r.ttl,
                rdata: r.rdata,
                file: 0,
                line: i as u32 + 1,
            })
            .collect(),
        files: vec![PathBuf::from(origin)],
    };
    build::compile(apex, loaded)
}

/// The same zone with another SOA serial (for `bump_serial` on reload).
pub fn with_serial(s: &Snapshot, serial: u32) -> Result<Snapshot, ApplyError> {
    let mut records = records_of(s);
    for r in records.iter_mut().filter(|r| r.rtype == Rtype::SOA) {
        let mut rd = r.rdata.to_vec();
        let at = rd.len() - 20;
        rd[at..at + 4].copy_from_slice(&serial.to_be_bytes());
        r.rdata = rd.into();
    }
    from_records(s.apex(), records, "serial bump")
        .map_err(|e| ApplyError::Invalid(e.first().map(|e| e.kind.to_string()).unwrap_or_default()))
}

/// A record in presentation form, for errors and logs.
fn show(r: &Rr) -> String {
    let mut s = format!("{} {} {} ", Display(r.owner.as_wire()), r.ttl, shoal_wire::rdata::rtype_name(r.rtype));
    shoal_wire::rdata::format(r.rtype, &r.rdata, &mut s);
    s
}

/// A delta larger than this many nodes, or than an eighth of the base, is folded into
/// a new base (a full compile, on the caller's thread) so lookups stay one probe and
/// later applies copy little.
pub(crate) const MAX_DELTA: usize = 4096;

/// Apply `diffs` (in order) to `old`. The result shares every node the diffs do not
/// touch with `old` (see [`crate::change::overlay`]); its cost follows the number of changed
/// owners, except when a cut appears above existing names or the accumulated changes
/// are folded into a new base, which compile the whole zone.
pub fn apply(old: &Snapshot, diffs: &[Diff]) -> Result<Snapshot, ApplyError> {
    let changes = net_changes(old, diffs)?;
    match derive(old, &changes)? {
        Derived::Done(s) if s.delta_len() <= MAX_DELTA.max(s.base_len() / 8) => Ok(*s),
        Derived::Done(s) => rebuild(&s, &NameMap::default(), "IXFR"),
        Derived::Rebuild => rebuild(old, &changes, "IXFR"),
    }
}

/// `s` compiled again from its records, with `changes` replacing the owners they name,
/// record by record through a [`Builder`] (no list of the zone's records is made).
pub(crate) fn rebuild(s: &Snapshot, changes: &NameMap<Name, Records>, origin: &str) -> Result<Snapshot, ApplyError> {
    let mut b = Builder::new(s.apex(), s.base_len() + s.delta_len(), s.base.arena_len() * 3 / 2);
    b.add_source(origin.into());
    for node in s.nodes().filter(|n| changes.is_empty() || !changes.contains_key(n.name())) {
        b.add_node(node);
    }
    for (owner, records) in changes {
        for ((rtype, rdata), ttl) in records {
            b.add(owner.as_wire(), *rtype, *ttl, rdata, 0, 0);
        }
    }
    b.finish().map_err(invalid)
}

/// `new`, or the same version derived from `old` by `diff` when the change is small:
/// then it shares every untouched node with `old` (a reload or an AXFR that changed a
/// few names costs memory for those names only). `diff` must lead from `old` to `new`.
pub fn shared_with(old: &Snapshot, new: Snapshot, diff: &Diff) -> Snapshot {
    if diff.len() > MAX_DELTA.max(old.record_count() / 8) {
        return new;
    }
    match apply(old, std::slice::from_ref(diff)) {
        Ok(s) if s.serial() == new.serial() && s.record_count() == new.record_count() => s,
        _ => new,
    }
}

/// Every owner the diffs touch, with its complete records after the last diff.
fn net_changes(old: &Snapshot, diffs: &[Diff]) -> Result<NameMap<Name, Records>, ApplyError> {
    let mut touched: NameMap<Name, Records> = NameMap::default();
    let mut held = old.serial();
    let mut soa = None;
    for d in diffs {
        if d.old_serial() != held {
            return Err(ApplyError::SerialMismatch { held, diff_from: d.old_serial() });
        }
        for r in d.removed.iter().filter(|r| r.rtype != Rtype::SOA) {
            let st = touched.entry(r.owner.clone()).or_insert_with(|| records_at(old.node(r.owner.as_wire())));
            // TTL is not part of a record's identity: match on owner, type and RDATA.
            if st.remove(&(r.rtype, r.rdata.clone())).is_none() {
                return Err(ApplyError::MissingDeletion { record: show(r) });
            }
        }
        for a in d.added.iter().filter(|a| a.rtype != Rtype::SOA) {
            let st = touched.entry(a.owner.clone()).or_insert_with(|| records_at(old.node(a.owner.as_wire())));
            // Re-adding a record that exists only updates its TTL (NSD's diffs do this).
            st.insert((a.rtype, a.rdata.clone()), a.ttl);
        }
        held = d.new_serial();
        soa = Some(d.new_soa.clone());
    }
    if let Some(soa) = soa {
        let st = touched.entry(old.apex().clone()).or_insert_with(|| records_at(Some(old.apex_node())));
        st.retain(|(t, _), _| *t != Rtype::SOA);
        st.insert((Rtype::SOA, soa.rdata), soa.ttl);
    }
    Ok(touched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::diff::diff;
    use shoal_wire::name::from_ascii;
    use std::path::Path;

    fn snap(text: &str) -> Snapshot {
        crate::load_zone_str(&from_ascii("example.com.").unwrap(), text, Path::new("t")).unwrap()
    }

    #[test]
    fn applying_the_diff_of_two_versions_gives_the_new_version() {
        let old = snap("@ 60 SOA ns hm 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\na 60 A 192.0.2.2\nb 60 TXT x\n");
        let new = snap(
            "@ 60 SOA ns hm 2 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\na 60 A 192.0.2.9\nb 90 TXT x\nc 60 A 192.0.2.5\n",
        );
        let d = diff(&old, &new);
        let got = apply(&old, &[d]).unwrap();
        assert_eq!(records_of(&got), records_of(&new));
        assert_eq!(got.serial(), 2);
    }

    #[test]
    fn with_serial_changes_only_the_serial() {
        let old = snap("@ 60 SOA ns hm 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n");
        let bumped = with_serial(&old, 2).unwrap();
        assert_eq!(bumped.serial(), 2);
        let d = diff(&old, &bumped);
        assert!(d.is_empty());
        assert_eq!((d.old_serial(), d.new_serial()), (1, 2));
    }

    #[test]
    fn a_deletion_that_does_not_exist_or_a_wrong_start_is_refused() {
        let old = snap("@ 60 SOA ns hm 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n");
        let new = snap("@ 60 SOA ns hm 2 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n");
        let mut d = diff(&old, &new);
        d.removed.push(Rr {
            owner: from_ascii("zz.example.com.").unwrap(),
            rtype: Rtype::A,
            ttl: 60,
            rdata: vec![1, 2, 3, 4].into(),
        });
        let err = apply(&old, &[d.clone()]).unwrap_err();
        assert!(matches!(err, ApplyError::MissingDeletion { .. }));
        assert_eq!(err.to_string(), "IXFR deletes a record the zone does not have: zz.example.com. 60 A 1.2.3.4");
        let other = snap("@ 60 SOA ns hm 7 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n");
        d.removed.clear();
        assert!(matches!(apply(&other, &[d]), Err(ApplyError::SerialMismatch { held: 7, diff_from: 1 })));
    }
}
