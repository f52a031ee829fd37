//! Applying IXFR diffs shares structure with the version held, and must be exactly a
//! full compile of the resulting records: random diffs (new names under empty
//! non-terminals, wildcards, delegations and their glue, MX/NS/SRV targets whose
//! addresses change, deletions that empty a branch) are applied step by step, and after
//! every step the records, every node's flags, and the answer bytes to a few thousand
//! queries are compared with the zone compiled from scratch. Every tenth version is
//! also saved in the state directory's compiled form, read back, and compared the same
//! way.

use shoal_wire::name::from_ascii;
use shoal_wire::{Name, Rtype};
use shoal_zonedb::change::apply::{apply, from_records, records_of};
use shoal_zonedb::change::diff::{soa_of, Diff, Rr};
use shoal_zonedb::change::incoming::{Applied, Incoming};
use shoal_zonedb::text::load::Sink;
use shoal_zonedb::{answer, Catalog, Options, Snapshot, ZoneState};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

const APEX: &str = "example.com.";

const BASE: &str = r#"
$ORIGIN example.com.
$TTL 300
@        SOA  ns1 hostmaster 1 7200 3600 1209600 300
         NS   ns1
         NS   ns2.sub
         MX   10 mail
ns1      A    192.0.2.53
mail     A    192.0.2.25
www      A    192.0.2.80
a.b.c    A    192.0.2.70
*.w      A    192.0.2.99
sub      NS   ns1.sub
         NS   ns2.sub
ns1.sub  A    192.0.2.153
ns2.sub  A    192.0.2.154
_sip._tcp SRV 0 5 5060 www
"#;

/// Owners the random changes use (relative to the apex).
const OWNERS: [&str; 22] = [
    "www",
    "mail",
    "ns1",
    "h1",
    "h2",
    "a.b.c",
    "d.b.c",
    "x.y.z",
    "y.z",
    "*.w",
    "*.y.z",
    "q.w",
    "sub",
    "ns1.sub",
    "ns2.sub",
    "deep.ns1.sub",
    "sub2",
    "ns.sub2",
    "_sip._tcp",
    "e.f.g.h",
    "cn",
    "@",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn name(rel: &str) -> Name {
    if rel == "@" {
        from_ascii(APEX).unwrap()
    } else {
        from_ascii(&format!("{rel}.{APEX}")).unwrap()
    }
}

fn wire(rel: &str) -> Vec<u8> {
    name(rel).as_wire().to_vec()
}

/// A random record at a random owner (some make the zone invalid: CNAME beside data).
fn random_record(rng: &mut Rng) -> Rr {
    let owner_rel = OWNERS[rng.below(OWNERS.len())];
    let target = OWNERS[rng.below(OWNERS.len() - 1)];
    let (rtype, rdata): (Rtype, Vec<u8>) = match rng.below(10) {
        0..=2 => (Rtype::A, vec![192, 0, 2, rng.below(4) as u8]),
        3 => (Rtype::AAAA, [&[0x20, 0x01, 0x0d, 0xb8][..], &[0; 11], &[rng.below(3) as u8]].concat()),
        4 => (Rtype::TXT, vec![1, b'a' + rng.below(3) as u8]),
        5 => (Rtype::MX, [vec![0, 10], wire(target)].concat()),
        6 if owner_rel != "@" => (Rtype::NS, wire(target)),
        7 => (Rtype::SRV, [vec![0, 0, 0, 5, 0x13, 0xc4], wire(target)].concat()),
        8 if rng.below(4) == 0 => (Rtype::CNAME, wire(target)),
        _ => (Rtype::A, vec![198, 51, 100, rng.below(4) as u8]),
    };
    Rr { owner: name(owner_rel), rtype, ttl: [300, 600][rng.below(2)], rdata: rdata.into() }
}

/// A query for `qname` and `qtype`, with EDNS (payload 1232).
fn query(qname: &Name, qtype: u16) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    q.extend_from_slice(qname.as_wire());
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    q
}

fn catalog(s: &Arc<Snapshot>) -> Catalog {
    let mut c = Catalog::new();
    c.insert(s.apex().clone(), ZoneState::Ready(Arc::clone(s)));
    c
}

/// Records, node flags and the answers to every owner × type (and names below them)
/// are the same in both versions.
fn assert_same(step: usize, derived: &Arc<Snapshot>, full: &Arc<Snapshot>) {
    assert_eq!(records_of(derived), records_of(full), "step {step}: records");
    assert_eq!(derived.serial(), full.serial(), "step {step}: serial");
    assert_eq!(derived.record_count(), full.record_count(), "step {step}: record count");
    let names: BTreeSet<Name> =
        derived.nodes().chain(full.nodes()).map(|n| Name::from_wire(n.name()).unwrap()).collect();
    for n in &names {
        let (a, b) = (derived.node(n.as_wire()), full.node(n.as_wire()));
        assert_eq!(a.is_some(), b.is_some(), "step {step}: {n} exists in one version only");
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.flags(), a.children()), (b.flags(), b.children()), "step {step}: {n} flags/children");
    }
    let (cd, cf) = (catalog(derived), catalog(full));
    let mut queried = 0;
    let (mut od, mut of) = (vec![0u8; 4096], vec![0u8; 4096]);
    let extra = ["zz", "zz.www", "zz.a.b.c", "b.c", "c", "zz.w", "zz.y.z", "x.sub", "zz.sub2"].map(name);
    for qname in names.iter().chain(extra.iter()) {
        for qtype in [1u16, 2, 5, 6, 15, 16, 28, 33, 43, 255] {
            let q = query(qname, qtype);
            let ra = answer(&q, &cd, &Options::default(), &mut od);
            let rb = answer(&q, &cf, &Options::default(), &mut of);
            assert_eq!(
                &od[..ra.len],
                &of[..rb.len],
                "step {step}: answer to {qname} type {qtype} differs (derived, then full)"
            );
            queried += 1;
        }
    }
    assert!(queried > 100);
}

#[test]
fn random_diffs_applied_equal_a_full_compile() {
    for seed in 1..=4u64 {
        random_walk(0x5eed_1234_abcd_0000 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
}

fn random_walk(seed: u64) {
    let apex = from_ascii(APEX).unwrap();
    let mut rng = Rng(seed);
    let mut held = Arc::new(shoal_zonedb::load_zone_str(&apex, BASE, Path::new("base.zone")).unwrap());
    let mut records: BTreeSet<(Name, Rtype, Box<[u8]>)> =
        records_of(&held).into_iter().filter(|r| r.rtype != Rtype::SOA).map(|r| (r.owner, r.rtype, r.rdata)).collect();
    let mut ttls = std::collections::BTreeMap::new();
    for r in records_of(&held) {
        ttls.insert((r.owner.clone(), r.rtype, r.rdata.clone()), r.ttl);
    }
    let (mut applied, mut refused, mut shared, mut axfr_derived, mut persisted) = (0, 0, 0, 0, 0);
    for step in 1..=300 {
        let old_soa = soa_of(&held);
        let mut new_soa = old_soa.clone();
        let at = new_soa.rdata.len() - 20;
        let mut rd = new_soa.rdata.to_vec();
        rd[at..at + 4].copy_from_slice(&(held.serial() + 1).to_be_bytes());
        new_soa.rdata = rd.into();
        let mut removed = Vec::new();
        let mut next = records.clone();
        for _ in 0..rng.below(5) {
            let Some(r) = next.iter().nth(rng.below(next.len().max(1))).cloned() else { break };
            next.remove(&r);
            let ttl = ttls[&r];
            removed.push(Rr { owner: r.0, rtype: r.1, ttl, rdata: r.2 });
        }
        let mut added = Vec::new();
        for _ in 0..1 + rng.below(5) {
            let r = random_record(&mut rng);
            if next.insert((r.owner.clone(), r.rtype, r.rdata.clone())) {
                added.push(r);
            }
        }
        let diff = Diff { old_soa: old_soa.clone(), new_soa: new_soa.clone(), removed, added: added.clone() };
        // The expected version, compiled from scratch.
        let mut all: Vec<Rr> = next
            .iter()
            .map(|(o, t, rd)| {
                let ttl = added
                    .iter()
                    .find(|a| &a.owner == o && a.rtype == *t && &a.rdata == rd)
                    .map_or_else(|| ttls[&(o.clone(), *t, rd.clone())], |a| a.ttl);
                Rr { owner: o.clone(), rtype: *t, ttl, rdata: rd.clone() }
            })
            .collect();
        // An RRset has one TTL: the lowest, as compiling decides.
        all.sort();
        let mut lowest = std::collections::BTreeMap::new();
        for r in &all {
            let e = lowest.entry((r.owner.clone(), r.rtype)).or_insert(r.ttl);
            *e = (*e).min(r.ttl);
        }
        for r in &mut all {
            r.ttl = lowest[&(r.owner.clone(), r.rtype)];
        }
        all.push(new_soa.clone());
        let full = from_records(&apex, all.clone(), "expected");
        let derived = apply(&held, &[diff]);
        match (derived, full) {
            (Ok(d), Ok(f)) => {
                let (d, f) = (Arc::new(d), Arc::new(f));
                assert_same(step, &d, &f);
                // The same version received whole (AXFR) and compared with the held one.
                match receive_whole(&apex, &held, &all, step).expect("a valid zone") {
                    Applied { snapshot, diff: Some(diff) } => {
                        let via_diff = Arc::new(apply(&held, &[diff]).expect("its own diff applies"));
                        assert_same(step, &Arc::new(snapshot), &f);
                        assert_same(step, &via_diff, &f);
                        axfr_derived += 1;
                    }
                    Applied { snapshot, diff: None } => assert_same(step, &Arc::new(snapshot), &f),
                }
                if d.shares_base_with(&held) {
                    shared += 1;
                }
                // The compiled form saved to the state directory and read back (base and
                // delta flattened) answers the same.
                if step % 10 == 0 {
                    let path = std::env::temp_dir().join(format!("shoal-apply-{}-{seed:x}.zone", std::process::id()));
                    shoal_zonedb::change::persist::save(&d, &path).expect("save");
                    let back =
                        Arc::new(shoal_zonedb::change::persist::load(&apex, &path).expect("load what was saved"));
                    std::fs::remove_file(&path).ok();
                    assert_same(step, &back, &f);
                    persisted += 1;
                }
                held = d;
                records = next;
                ttls.clear();
                for r in records_of(&held) {
                    ttls.insert((r.owner.clone(), r.rtype, r.rdata.clone()), r.ttl);
                }
                applied += 1;
            }
            (Err(_), Err(_)) => {
                assert!(receive_whole(&apex, &held, &all, step).is_err(), "step {step}: an invalid AXFR is refused");
                refused += 1;
            }
            (d, f) => panic!("step {step}: apply {:?} but a full compile {:?}", d.map(|_| ()), f.map(|_| ())),
        }
    }
    assert!(applied > 150, "{applied} applied, {refused} refused");
    assert!(refused > 0, "some random diffs make the zone invalid and must be refused");
    assert!(shared > applied / 2, "most applies share the base: {shared} of {applied}");
    assert!(axfr_derived > applied / 2, "most AXFRs are derived from the held version: {axfr_derived} of {applied}");
    assert!(persisted > 10, "{persisted} versions saved and loaded");
}

/// `all` received whole against `held`, three ways by step: each owner's records
/// together (as senders list them), each owner's records split over the stream, and
/// built whole from the first changed owner on.
fn receive_whole(
    apex: &Name,
    held: &Snapshot,
    all: &[Rr],
    step: usize,
) -> Result<Applied, shoal_zonedb::change::ApplyError> {
    let mut order: Vec<&Rr> = all.iter().collect();
    if step % 3 == 1 {
        let (even, odd): (Vec<_>, Vec<_>) = order.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        order = even.into_iter().chain(odd).map(|(_, r)| r).collect();
    }
    let mut incoming = Incoming::new(apex, Some(held), "test");
    if step % 3 == 2 {
        incoming = incoming.with_limit(0);
    }
    for r in order {
        incoming.record(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata, 0, 0);
    }
    incoming.finish()
}

#[test]
fn an_apply_shares_the_base_and_copies_only_what_changed() {
    let apex = from_ascii(APEX).unwrap();
    let mut text = String::from(BASE);
    for i in 0..5000 {
        text.push_str(&format!("n{i} A 10.0.{}.{}\n", i / 256, i % 256));
    }
    let held = shoal_zonedb::load_zone_str(&apex, &text, Path::new("big.zone")).unwrap();
    let mut new_soa = soa_of(&held);
    let mut rd = new_soa.rdata.to_vec();
    let at = rd.len() - 20;
    rd[at..at + 4].copy_from_slice(&2u32.to_be_bytes());
    new_soa.rdata = rd.into();
    // The address of the MX target changes: the apex's MX answer carries it.
    let diff = Diff {
        old_soa: soa_of(&held),
        new_soa,
        removed: vec![Rr { owner: name("mail"), rtype: Rtype::A, ttl: 300, rdata: vec![192, 0, 2, 25].into() }],
        added: vec![Rr { owner: name("mail"), rtype: Rtype::A, ttl: 300, rdata: vec![192, 0, 2, 26].into() }],
    };
    let new = apply(&held, &[diff]).unwrap();
    assert!(new.shares_base_with(&held));
    assert_eq!(new.delta_len(), 2, "mail and the apex (SOA, and its MX answer)");
    let c = catalog(&Arc::new(new));
    let mut out = vec![0u8; 4096];
    let r = answer(&query(&apex, 15), &c, &Options::default(), &mut out);
    let msg = &out[..r.len];
    assert!(msg.windows(4).any(|w| w == [192, 0, 2, 26]), "the MX answer carries the new address");
    assert!(!msg.windows(4).any(|w| w == [192, 0, 2, 25]));
}
