//! [`Incoming`]: a zone received whole (AXFR, or an IXFR answered with the whole zone)
//! becoming the next version as its records stream in, without ever holding them all.
//!
//! With a version held, each owner's records are compared with the held node as soon
//! as the owner's run ends (senders list an owner's records together). An owner that
//! did not change costs one bit, set in a bitmap over the held arena; a changed one is
//! kept. At the end, held owners that never came are deletions. If few owners changed,
//! the new version is derived from the held one ([`crate::change::overlay`]), sharing every
//! node that did not change, and the diff goes to the journal: the peak is the held
//! version plus the changes, as if the primary had sent an IXFR.
//!
//! Once more owners changed than a derived version may carry, the rest of the stream
//! goes straight into a [`Builder`], with the changes kept so far; the owners found
//! unchanged are copied from the held version at the end. Without a version held
//! (the first transfer), everything goes to the builder. Either way the peak is the
//! held version plus the new one, never a list of records beside them.

use crate::change::apply::MAX_DELTA;
use crate::change::diff::{Diff, Rr};
use crate::change::error::{invalid, ApplyError};
use crate::change::overlay::{derive, records_at, Derived, Records};
use crate::store::build::{Builder, Run};
use crate::store::namehash::{NameMap, NameSet};
use crate::store::snapshot::Snapshot;
use crate::text::load::Sink;
use shoal_wire::{Name, Rtype};
use std::path::{Path, PathBuf};

/// What a finished transfer made.
pub struct Applied {
    pub snapshot: Snapshot,
    /// The difference from the held version, when it was derived from it (a rebuilt
    /// version has none: downstream secondaries then transfer it whole).
    pub diff: Option<Diff>,
}

/// Held owners received unchanged: a bit per node of the held base (a node takes at
/// least 8 bytes of its arena, so offset / 8 tells nodes apart), and the names of the
/// held delta's nodes.
struct Unchanged {
    base: Vec<u64>,
    delta: NameSet<Name>,
}

impl Unchanged {
    fn new(held: &Snapshot) -> Unchanged {
        Unchanged { base: vec![0; held.base.arena_len() / 8 / 64 + 1], delta: NameSet::default() }
    }

    fn bit(at: usize) -> (usize, u64) {
        (at / 8 / 64, 1 << (at / 8 % 64))
    }

    fn get(&self, held: &Snapshot, name: &[u8]) -> bool {
        match held.base_offset(name) {
            Some(at) => {
                let (w, b) = Self::bit(at);
                self.base[w] & b != 0
            }
            None => self.delta.contains(name),
        }
    }

    fn set(&mut self, held: &Snapshot, name: &[u8], on: bool) {
        match held.base_offset(name) {
            Some(at) => {
                let (w, b) = Self::bit(at);
                if on {
                    self.base[w] |= b;
                } else {
                    self.base[w] &= !b;
                }
            }
            None if on => {
                self.delta.insert(Name::from_wire(name).expect("a stored name"));
            }
            None => {
                self.delta.remove(name);
            }
        }
    }
}

/// A zone being received whole; feed it through [`Sink`], then [`Incoming::finish`].
pub struct Incoming<'h> {
    apex: Name,
    held: Option<&'h Snapshot>,
    origin: PathBuf,
    run: Run,
    unchanged: Option<Unchanged>,
    changed: NameMap<Name, Records>,
    /// Changed owners past which the rest goes to a builder: a thirty-second of the
    /// zone (a kept owner costs a few hundred bytes, a built record about eighty, so
    /// the changes kept never weigh more than the zone being built would).
    limit: usize,
    builder: Option<Builder>,
    soa: Option<Rr>,
}

impl<'h> Incoming<'h> {
    /// Receive zone `apex`, comparing with `held` if there is one; `origin` (the peer)
    /// names the source in errors.
    pub fn new(apex: &Name, held: Option<&'h Snapshot>, origin: &str) -> Incoming<'h> {
        let mut incoming = Incoming {
            apex: apex.clone(),
            held,
            origin: PathBuf::from(origin),
            run: Run::default(),
            unchanged: held.map(Unchanged::new),
            changed: NameMap::default(),
            limit: held.map_or(0, |h| MAX_DELTA.max(h.record_count() / 32)),
            builder: None,
            soa: None,
        };
        if held.is_none() {
            incoming.start_building();
        }
        incoming
    }

    /// Build the whole version once more than `limit` owners changed (the default is
    /// what a derived version may carry; tests lower it).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Switch to building the whole version: the changes kept so far go in first.
    fn start_building(&mut self) {
        // Sized like the held version; without one the size is unknown, and most zones
        // are small (a secondary of 100,000 zones builds each from a few records).
        let (nodes, bytes) = self.held.map_or((16, 4096), |h| (h.base.len(), h.base.arena_len() * 3 / 2));
        let mut b = Builder::new(&self.apex, nodes, bytes);
        b.add_source(self.origin.clone());
        for (owner, records) in std::mem::take(&mut self.changed) {
            for ((rtype, rdata), ttl) in records {
                b.add(owner.as_wire(), rtype, ttl, &rdata, 0, 0);
            }
        }
        self.builder = Some(b);
    }

    /// The current owner's records are complete: compare them with the held node.
    fn flush(&mut self) {
        if self.run.is_empty() {
            return;
        }
        self.run.normalize();
        let held = self.held.expect("only with a version held");
        let unchanged = self.unchanged.as_mut().expect("with a version held");
        let run = &self.run;
        let owner = run.owner.as_slice();
        let received = || run.entries.iter().map(|e| ((e.rtype, run.rdata(e).into()), e.ttl));
        if let Some(records) = self.changed.get_mut(owner) {
            // The owner came back: the sender does not group owners.
            merge(records, received());
        } else if unchanged.get(held, owner) {
            unchanged.set(held, owner, false);
            let mut records = records_at(held.node(owner));
            merge(&mut records, received());
            self.changed.insert(Name::from_wire(owner).expect("parsed name"), records);
        } else if held.node(owner).is_some_and(|n| same_records(n, run)) {
            unchanged.set(held, owner, true);
        } else {
            self.changed.insert(Name::from_wire(owner).expect("parsed name"), received().collect());
        }
        self.run.clear();
        if self.changed.len() > self.limit {
            self.start_building();
        }
    }

    /// The new version, once the stream has ended (the caller checked it was whole).
    pub fn finish(mut self) -> Result<Applied, ApplyError> {
        self.flush();
        let Some(soa) = self.soa.take() else {
            return Err(ApplyError::Invalid("no SOA at the apex".into()));
        };
        let Some(held) = self.held else {
            return self.build().map(|snapshot| Applied { snapshot, diff: None });
        };
        if self.builder.is_none() {
            let unchanged = self.unchanged.as_ref().expect("with a version held");
            for node in held.nodes().filter(|n| !n.is_empty()) {
                if !unchanged.get(held, node.name()) && !self.changed.contains_key(node.name()) {
                    self.changed.insert(Name::from_wire(node.name()).expect("a stored name"), Records::new());
                }
            }
            if self.changed.len() > self.limit {
                self.start_building();
            }
        }
        if self.builder.is_some() {
            return self.build().map(|snapshot| Applied { snapshot, diff: None });
        }
        let changes = std::mem::take(&mut self.changed);
        let diff = diff_of(held, soa, &changes);
        match derive(held, &changes)? {
            Derived::Done(snapshot) => Ok(Applied { snapshot: *snapshot, diff: Some(diff) }),
            Derived::Rebuild => {
                // A cut or DNAME appeared or went away above existing names.
                self.changed = changes;
                self.start_building();
                self.build().map(|snapshot| Applied { snapshot, diff: None })
            }
        }
    }

    /// Compile what the builder has, plus the held owners received unchanged.
    fn build(mut self) -> Result<Snapshot, ApplyError> {
        let mut b = self.builder.take().expect("building");
        if let (Some(held), Some(unchanged)) = (self.held, self.unchanged.as_ref()) {
            for node in held.nodes().filter(|n| unchanged.get(held, n.name())) {
                b.add_node(node);
            }
        }
        b.finish().map_err(invalid)
    }
}

/// Add an owner's records received later in the stream to those received before: a
/// record that came twice keeps the lower TTL, as a version built from the whole
/// stream keeps it (`Run::normalize`, RFC 2181 §5.2).
fn merge(records: &mut Records, received: impl Iterator<Item = ((Rtype, Box<[u8]>), u32)>) {
    for (record, ttl) in received {
        records.entry(record).and_modify(|t| *t = (*t).min(ttl)).or_insert(ttl);
    }
}

impl Sink for Incoming<'_> {
    fn source(&mut self, _: &Path) -> u16 {
        0
    }

    fn record(&mut self, owner: &[u8], rtype: Rtype, ttl: u32, rdata: &[u8], file: u16, line: u32) {
        if rtype == Rtype::SOA && owner == self.apex.as_wire() && self.soa.is_none() {
            self.soa = Some(Rr { owner: self.apex.clone(), rtype, ttl, rdata: rdata.into() });
        }
        if self.builder.is_none() && owner != self.run.owner.as_slice() {
            self.flush();
            self.run.start(owner);
        }
        if let Some(b) = self.builder.as_mut() {
            b.add(owner, rtype, ttl, rdata, file, line);
            return;
        }
        self.run.push(rtype, ttl, rdata, file, line);
    }
}

/// Whether `node` holds exactly the records of a normalized `run`.
fn same_records(node: crate::store::node::NodeRef<'_>, run: &Run) -> bool {
    let mut groups = run.sets();
    for rrset in node.rrsets() {
        let Some(g) = groups.next() else { return false };
        if g[0].rtype != rrset.rtype || g[0].ttl != rrset.ttl || g.len() != rrset.len() {
            return false;
        }
        if !rrset.rdatas().zip(g).all(|(rd, e)| rd == run.rdata(e)) {
            return false;
        }
    }
    groups.next().is_none()
}

/// The diff from `held` to the version `changes` make (SOAs aside), as IXFR carries it.
fn diff_of(held: &Snapshot, new_soa: Rr, changes: &NameMap<Name, Records>) -> Diff {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for (owner, new) in changes {
        let old = records_at(held.node(owner.as_wire()));
        let rr = |((t, rd), ttl): (&(Rtype, Box<[u8]>), &u32)| Rr {
            owner: owner.clone(),
            rtype: *t,
            ttl: *ttl,
            rdata: rd.clone(),
        };
        removed.extend(old.iter().filter(|(k, ttl)| new.get(*k) != Some(*ttl) && k.0 != Rtype::SOA).map(rr));
        added.extend(new.iter().filter(|(k, ttl)| old.get(*k) != Some(*ttl) && k.0 != Rtype::SOA).map(rr));
    }
    removed.sort();
    added.sort();
    Diff { old_soa: crate::change::diff::soa_of(held), new_soa, removed, added }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::apply::records_of;
    use shoal_wire::name::from_ascii;

    fn zone(text: &str) -> Snapshot {
        crate::load_zone_str(&from_ascii("example.com.").unwrap(), text, Path::new("t")).unwrap()
    }

    const V1: &str =
        "@ 60 SOA ns hm 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\na 60 A 192.0.2.2\na 60 TXT x\nb 60 A 192.0.2.3\n";

    /// Feed `text`'s records to a receiver against `held` in the order given by `order`.
    fn receive(held: Option<&Snapshot>, text: &str, limit: Option<usize>, order: impl Fn(&mut Vec<Rr>)) -> Applied {
        let mut records = records_of(&zone(text));
        order(&mut records);
        let mut incoming = Incoming::new(&from_ascii("example.com.").unwrap(), held, "peer");
        if let Some(l) = limit {
            incoming = incoming.with_limit(l);
        }
        for r in &records {
            incoming.record(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata, 0, 0);
        }
        incoming.finish().expect("a valid zone")
    }

    #[test]
    fn only_what_changed_is_in_the_diff_whatever_the_order() {
        let held = zone(V1);
        // A TTL changed at a, b deleted, c added; ns and the apex NS untouched.
        let v2 =
            "@ 60 SOA ns hm 2 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\na 90 A 192.0.2.2\na 60 TXT x\nc 60 A 192.0.2.4\n";
        let orders: [fn(&mut Vec<Rr>); 3] = [|_| {}, |v| v.reverse(), |v| v.rotate_left(3)];
        for order in orders {
            let got = receive(Some(&held), v2, None, order);
            assert_eq!(records_of(&got.snapshot), records_of(&zone(v2)));
            let d = got.diff.expect("derived from the held version");
            let show = |v: &[Rr]| v.iter().map(|r| format!("{} {} {}", r.owner, r.rtype.0, r.ttl)).collect::<Vec<_>>();
            assert_eq!(show(&d.removed), ["a.example.com. 1 60", "b.example.com. 1 60"]);
            assert_eq!(show(&d.added), ["a.example.com. 1 90", "c.example.com. 1 60"]);
            assert!(got.snapshot.shares_base_with(&held));
        }
    }

    #[test]
    fn past_the_limit_or_without_a_held_version_the_zone_is_built_whole() {
        let held = zone(V1);
        let v2 = V1.replace("hm 1", "hm 2").replace("192.0.2.2", "192.0.2.9");
        for (h, limit) in [(Some(&held), Some(0)), (None, None)] {
            for order in [|_: &mut Vec<Rr>| {}, |v: &mut Vec<Rr>| v.reverse()] {
                let got = receive(h, &v2, limit, order);
                assert!(got.diff.is_none() && !got.snapshot.shares_base_with(&held));
                assert_eq!(records_of(&got.snapshot), records_of(&zone(&v2)));
            }
        }
    }

    /// Found by the `xfr_in` fuzz target: an owner that came back later in the stream
    /// with a record it already had, at another TTL, kept the later TTL against a held
    /// version and the lower one without: the same transfer made two different zones.
    #[test]
    fn regression_fuzz_a_record_sent_twice_keeps_its_lower_ttl_with_or_without_a_held_version() {
        let held = zone(V1);
        let apex = from_ascii("example.com.").unwrap();
        let mut stream = records_of(&zone(&V1.replace("hm 1", "hm 2")));
        let b = stream.iter().find(|r| r.owner.to_string() == "b.example.com.").unwrap().clone();
        stream.push(Rr { ttl: 3600, ..b.clone() });
        stream.push(Rr { owner: b.owner.clone(), rtype: Rtype::A, ttl: 90, rdata: vec![192, 0, 2, 4].into() });
        let built = {
            let mut incoming = Incoming::new(&apex, None, "peer");
            for r in &stream {
                incoming.record(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata, 0, 0);
            }
            records_of(&incoming.finish().unwrap().snapshot)
        };
        assert!(built.iter().filter(|r| r.owner == b.owner).all(|r| r.ttl == 60), "the RRset's lowest TTL");
        for limit in [None, Some(0)] {
            let mut incoming = Incoming::new(&apex, Some(&held), "peer");
            if let Some(l) = limit {
                incoming = incoming.with_limit(l);
            }
            for r in &stream {
                incoming.record(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata, 0, 0);
            }
            assert_eq!(records_of(&incoming.finish().unwrap().snapshot), built, "limit {limit:?}");
        }
    }

    #[test]
    fn an_invalid_zone_is_refused() {
        let held = zone(V1);
        for limit in [None, Some(0)] {
            let mut incoming = Incoming::new(&from_ascii("example.com.").unwrap(), Some(&held), "peer");
            if let Some(l) = limit {
                incoming = incoming.with_limit(l);
            }
            for r in records_of(&zone(&V1.replace("hm 1", "hm 2"))) {
                incoming.record(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata, 0, 0);
            }
            let a = from_ascii("a.example.com.").unwrap();
            incoming.record(a.as_wire(), Rtype::CNAME, 60, b"\x01b\x07example\x03com\x00", 0, 7);
            assert!(incoming.finish().is_err(), "CNAME beside other data");
        }
    }
}
