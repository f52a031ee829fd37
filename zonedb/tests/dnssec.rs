//! DO answers from signed zones, decoded by hickory-proto: RRSIGs beside every signed
//! RRset, and the NSEC or NSEC3 records that RFC 4035 §3.1.3 and RFC 5155 §7.2 require,
//! checked by what they prove (an NSEC covers a name when its owner sorts before it and
//! its next name after, in hickory's canonical order; an NSEC3 covers a hash the same
//! way), not by comparing with Shoal's own output.
//!
//! The zones under `tests/zones/signed/` were signed with `ldns-signzone` (ECDSA P-256,
//! `-i 20260101000000 -e 20901231000000`; NSEC3 with `-n -s aabbcc -t 2`). Version 2 of
//! each adds `new` and `zz.ent`, removes `www`, and is signed again with a later
//! inception, so every signature changes: what a re-signing IXFR brings.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name as HName, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use shoal_wire::name::from_ascii;
use shoal_zonedb::answer::answer_record_by_record;
use shoal_zonedb::change::apply::apply;
use shoal_zonedb::change::diff::diff;
use shoal_zonedb::store::chain::{base32hex_encode, nsec3_hash};
use shoal_zonedb::{answer, Catalog, Options, Snapshot, ZoneState};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

fn load(apex: &str, file: &str) -> Snapshot {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zones/signed").join(file);
    shoal_zonedb::load_zone(&from_ascii(apex).unwrap(), &path).unwrap()
}

fn catalog_of(apex: &str, snap: Snapshot) -> Catalog {
    let mut c = Catalog::new();
    c.insert(from_ascii(apex).unwrap(), ZoneState::Ready(Arc::new(snap)));
    c
}

/// A query with EDNS (payload `size`) and DO as given.
fn query(name: &str, qtype: RecordType, dnssec: bool, size: u16) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&u16::from(qtype).to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 41]);
    q.extend_from_slice(&size.to_be_bytes());
    q.extend_from_slice(&[0, 0, if dnssec { 0x80 } else { 0 }, 0, 0, 0]);
    q
}

fn ask_in(c: &Catalog, name: &str, qtype: RecordType, dnssec: bool) -> Message {
    let mut out = vec![0u8; 65535];
    let q = query(name, qtype, dnssec, 4096);
    let r = answer(&q, c, &Options::default(), &mut out);
    let m = Message::from_vec(&out[..r.len]).unwrap();
    // The precompiled path and the record-by-record reference give the same records
    // (not always the same bytes: a precompiled block's names are not offered to the
    // compression of the proofs written after it).
    let mut reference = vec![0u8; 65535];
    let rr = answer_record_by_record(&q, c, &Options::default(), &mut reference);
    let reference = Message::from_vec(&reference[..rr.len]).unwrap();
    let view = |m: &Message| (m.metadata, m.answers.clone(), m.authorities.clone(), m.additionals.clone());
    assert!(view(&m) == view(&reference), "{name} {qtype} DO={dnssec}: precompiled differs from the reference");
    m
}

fn hname(s: &str) -> HName {
    HName::from_str(s).unwrap()
}

fn of_type(rs: &[Record], t: RecordType) -> Vec<&Record> {
    rs.iter().filter(|r| r.record_type() == t).collect()
}

/// The RDATA of a record of a DNSSEC type, which hickory-proto (without its DNSSEC
/// feature) leaves undecoded.
fn raw(r: &Record) -> &[u8] {
    match &r.data {
        RData::Unknown { rdata, .. } => &rdata.anything,
        other => panic!("{} decoded as {other:?}", r.record_type()),
    }
}

/// The types covered by the RRSIGs in `rs` at `owner`.
fn covered_at(rs: &[Record], owner: &HName) -> Vec<RecordType> {
    rs.iter()
        .filter(|r| &r.name == owner && r.record_type() == RecordType::RRSIG)
        .map(|r| RecordType::from(u16::from_be_bytes([raw(r)[0], raw(r)[1]])))
        .collect()
}

/// Every RRset in `rs` (but RRSIGs) has an RRSIG beside it.
fn all_signed(rs: &[Record]) {
    for r in rs.iter().filter(|r| r.record_type() != RecordType::RRSIG) {
        assert!(covered_at(rs, &r.name).contains(&r.record_type()), "{} {} has no RRSIG", r.name, r.record_type());
    }
}

/// Whether the NSEC `r` covers (or matches) `name`, in canonical order, wrapping at the end.
fn nsec_covers(r: &Record, name: &HName) -> bool {
    if r.record_type() != RecordType::NSEC {
        return false;
    }
    let next = HName::read(&mut BinDecoder::new(raw(r))).unwrap_or_else(|_| HName::root());
    let (owner, next) = (r.name.to_lowercase(), next.to_lowercase());
    let name = name.to_lowercase();
    if owner < next {
        owner <= name && name < next
    } else {
        owner <= name || name < next
    }
}

/// The base32hex hash text of an NSEC3 record's owner and next hashed owner.
fn nsec3_range(r: &Record) -> (String, String) {
    let rd = raw(r);
    let at = 5 + usize::from(rd[4]);
    let next = &rd[at + 1..at + 1 + usize::from(rd[at])];
    let owner = r.name.iter().next().map(|l| String::from_utf8_lossy(l).to_lowercase()).unwrap();
    let mut text = [0u8; 64];
    let len = base32hex_encode(next, &mut text);
    (owner, String::from_utf8_lossy(&text[..len]).into_owned())
}

fn hash_of(name: &str) -> String {
    let h = nsec3_hash(from_ascii(name).unwrap().as_wire(), &[0xaa, 0xbb, 0xcc], 2);
    let mut text = [0u8; 32];
    base32hex_encode(&h, &mut text);
    String::from_utf8_lossy(&text).into_owned()
}

fn nsec3_matches(rs: &[Record], name: &str) -> bool {
    let h = hash_of(name);
    of_type(rs, RecordType::NSEC3).iter().any(|r| nsec3_range(r).0 == h)
}

fn nsec3_covers(rs: &[Record], name: &str) -> bool {
    let h = hash_of(name);
    of_type(rs, RecordType::NSEC3).iter().any(|r| {
        let (o, n) = nsec3_range(r);
        if o < n {
            o < h && h < n
        } else {
            o < h || h < n
        }
    })
}

#[test]
fn do_answers_carry_the_rrsigs_of_every_section_and_plain_ones_none() {
    for apex in ["nsec.test.", "nsec3.test."] {
        let c = catalog_of(apex, load(apex, &format!("{}v1.zone", apex.replace("test.", ""))));
        let www = format!("www.{apex}");
        let plain = ask_in(&c, &www, RecordType::A, false);
        assert_eq!(plain.answers.len(), 1);
        let signed = ask_in(&c, &www, RecordType::A, true);
        assert_eq!(of_type(&signed.answers, RecordType::A).len(), 1);
        all_signed(&signed.answers);
        // MX at the apex: the target's addresses come with their signatures.
        let mx = ask_in(&c, apex, RecordType::MX, true);
        all_signed(&mx.answers);
        all_signed(&mx.additionals);
        assert!(!of_type(&mx.additionals, RecordType::AAAA).is_empty());
        // A CNAME chain: every link and the final RRset signed.
        let chain = ask_in(&c, &format!("c1.{apex}"), RecordType::A, true);
        assert_eq!(of_type(&chain.answers, RecordType::CNAME).len(), 2);
        all_signed(&chain.answers);
        // A DNAME is signed, the CNAME made from it is not.
        let d = ask_in(&c, &format!("x.d.{apex}"), RecordType::A, true);
        assert_eq!(covered_at(&d.answers, &hname(&format!("d.{apex}"))), vec![RecordType::DNAME]);
        assert!(covered_at(&d.answers, &hname(&format!("x.d.{apex}"))).is_empty());
        // DNSKEY and NSEC3PARAM/NSEC at the apex, and qtype RRSIG: one set, as Knot.
        all_signed(&ask_in(&c, apex, RecordType::DNSKEY, true).answers);
        let sigs = ask_in(&c, &format!("mail.{apex}"), RecordType::RRSIG, true);
        assert_eq!(covered_at(&sigs.answers, &hname(&format!("mail.{apex}"))), vec![RecordType::A]);
        // The negative SOA and its RRSIG share the negative TTL.
        let nx = ask_in(&c, &format!("nx.{apex}"), RecordType::A, true);
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
        all_signed(&nx.authorities);
        let ttls: Vec<u32> = nx.authorities.iter().filter(|r| r.name == hname(apex)).map(|r| r.ttl).collect();
        assert!(ttls.iter().all(|&t| t == 300), "{ttls:?}");
        let plain_nx = ask_in(&c, &format!("nx.{apex}"), RecordType::A, false);
        assert_eq!(plain_nx.authorities.len(), 1, "no proofs without DO");
    }
}

#[test]
fn nsec_proves_nxdomain_nodata_wildcards_and_insecure_delegations() {
    let c = catalog_of("nsec.test.", load("nsec.test.", "nsec.v1.zone"));
    let proves = |m: &Message, name: &str| {
        of_type(&m.authorities, RecordType::NSEC).iter().any(|r| nsec_covers(r, &hname(name)))
    };

    let nx = ask_in(&c, "a.nx.nsec.test.", RecordType::A, true);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(proves(&nx, "a.nx.nsec.test."), "the name is covered");
    assert!(proves(&nx, "*.nsec.test."), "the wildcard at the closest encloser is covered");
    all_signed(&nx.authorities);

    let nodata = ask_in(&c, "www.nsec.test.", RecordType::TXT, true);
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    let at_www = of_type(&nodata.authorities, RecordType::NSEC);
    assert_eq!(at_www.len(), 1);
    assert_eq!(at_www[0].name, hname("www.nsec.test."), "the NSEC of the name itself");

    let ent = ask_in(&c, "b.ent.nsec.test.", RecordType::A, true);
    assert_eq!(ent.metadata.response_code, ResponseCode::NoError);
    assert!(proves(&ent, "b.ent.nsec.test."), "an empty non-terminal: the NSEC whose span holds it");

    let wild = ask_in(&c, "x.wild.nsec.test.", RecordType::A, true);
    assert_eq!(wild.answers[0].name, hname("x.wild.nsec.test."));
    all_signed(&wild.answers);
    assert!(proves(&wild, "x.wild.nsec.test."), "no closer match than the wildcard");

    let wild_nodata = ask_in(&c, "x.wild.nsec.test.", RecordType::MX, true);
    assert!(proves(&wild_nodata, "x.wild.nsec.test."));
    assert!(of_type(&wild_nodata.authorities, RecordType::NSEC).iter().any(|r| r.name == hname("*.wild.nsec.test.")));

    let secure = ask_in(&c, "a.sec.nsec.test.", RecordType::A, true);
    assert!(!secure.metadata.authoritative);
    assert_eq!(of_type(&secure.authorities, RecordType::DS).len(), 1);
    all_signed(&secure.authorities.iter().filter(|r| r.record_type() != RecordType::NS).cloned().collect::<Vec<_>>());

    let insecure = ask_in(&c, "a.insec.nsec.test.", RecordType::A, true);
    let nsec = of_type(&insecure.authorities, RecordType::NSEC);
    assert_eq!(nsec.len(), 1);
    assert_eq!(nsec[0].name, hname("insec.nsec.test."), "the cut's NSEC shows no DS");
    assert!(of_type(&insecure.authorities, RecordType::DS).is_empty());

    let ds = ask_in(&c, "insec.nsec.test.", RecordType::DS, true);
    assert!(ds.metadata.authoritative);
    assert_eq!(of_type(&ds.authorities, RecordType::NSEC)[0].name, hname("insec.nsec.test."));
}

#[test]
fn nsec3_proves_nxdomain_nodata_wildcards_and_insecure_delegations() {
    let c = catalog_of("nsec3.test.", load("nsec3.test.", "nsec3.v1.zone"));

    let nx = ask_in(&c, "a.nx.nsec3.test.", RecordType::A, true);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    let ns = &nx.authorities;
    assert!(nsec3_matches(ns, "nsec3.test."), "closest encloser matched");
    assert!(nsec3_covers(ns, "nx.nsec3.test."), "next closer name covered");
    assert!(nsec3_covers(ns, "*.nsec3.test."), "wildcard covered");
    assert!(of_type(ns, RecordType::NSEC3).len() <= 3);
    all_signed(ns);

    let nodata = ask_in(&c, "www.nsec3.test.", RecordType::TXT, true);
    assert!(nsec3_matches(&nodata.authorities, "www.nsec3.test."));
    assert_eq!(of_type(&nodata.authorities, RecordType::NSEC3).len(), 1);

    let ent = ask_in(&c, "b.ent.nsec3.test.", RecordType::A, true);
    assert!(nsec3_matches(&ent.authorities, "b.ent.nsec3.test."), "ENTs have NSEC3 records");

    let wild = ask_in(&c, "y.x.wild.nsec3.test.", RecordType::A, true);
    all_signed(&wild.answers);
    assert!(nsec3_covers(&wild.authorities, "x.wild.nsec3.test."), "the next closer name is covered");

    let wild_nodata = ask_in(&c, "x.wild.nsec3.test.", RecordType::MX, true);
    let ns = &wild_nodata.authorities;
    assert!(nsec3_matches(ns, "wild.nsec3.test.") && nsec3_covers(ns, "x.wild.nsec3.test."));
    assert!(nsec3_matches(ns, "*.wild.nsec3.test."), "the wildcard matched, without the type");

    let insecure = ask_in(&c, "a.insec.nsec3.test.", RecordType::A, true);
    assert!(nsec3_matches(&insecure.authorities, "insec.nsec3.test."));
    let secure = ask_in(&c, "a.sec.nsec3.test.", RecordType::A, true);
    assert_eq!(of_type(&secure.authorities, RecordType::DS).len(), 1);

    // The hashed owners are not names of the zone.
    let hashed = format!("{}.nsec3.test.", hash_of("www.nsec3.test."));
    assert_eq!(ask_in(&c, &hashed, RecordType::NSEC3, true).metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn truncation_keeps_rrsigs_with_their_rrset() {
    let c = catalog_of("nsec3.test.", load("nsec3.test.", "nsec3.v1.zone"));
    let mut out = vec![0u8; 65535];
    for size in [512u16, 600, 700, 1232] {
        let q = query("a.nx.nsec3.test.", RecordType::A, true, size);
        let r = answer(&q, &c, &Options::default(), &mut out);
        assert!(r.len <= usize::from(size));
        let m = Message::from_vec(&out[..r.len]).unwrap();
        // Whatever fits is whole: every RRset present has its RRSIG.
        all_signed(&m.authorities);
        let complete = of_type(&m.authorities, RecordType::NSEC3).len() >= 2;
        assert!(complete || m.metadata.truncation, "size {size}: a proof that does not fit sets TC");
    }
}

/// Version 2 applied to version 1 as an IXFR (every RRSIG changed, names added and
/// removed) answers every query exactly as version 2 compiled from its file, and
/// shares version 1's nodes; so does its state copy read back.
#[test]
fn a_resigning_ixfr_answers_as_the_new_version_compiled_whole() {
    for (apex, stem) in [("nsec.test.", "nsec"), ("nsec3.test.", "nsec3")] {
        let v1 = load(apex, &format!("{stem}.v1.zone"));
        let v2 = load(apex, &format!("{stem}.v2.zone"));
        let d = diff(&v1, &v2);
        let derived = apply(&v1, std::slice::from_ref(&d)).unwrap();
        assert!(derived.shares_base_with(&v1), "{apex}: the IXFR is applied in place, not rebuilt");
        // The state copy of the derived version, read back, answers the same too.
        let path = std::env::temp_dir().join(format!("shoal-dnssec-test-{}-{stem}.state", std::process::id()));
        shoal_zonedb::change::persist::save(&derived, &path).unwrap();
        let reloaded = shoal_zonedb::change::persist::load(&from_ascii(apex).unwrap(), &path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let (fresh, applied, reloaded) = (catalog_of(apex, v2), catalog_of(apex, derived), catalog_of(apex, reloaded));
        let mut names: Vec<String> = [
            "", "www.", "new.", "zz.ent.", "ent.", "b.ent.", "a.b.ent.", "nx.", "a.nx.", "x.wild.", "insec.",
            "a.insec.",
        ]
        .iter()
        .map(|n| format!("{n}{apex}"))
        .collect();
        names.push(format!("{}.{apex}", hash_of(&format!("new.{apex}"))));
        for name in &names {
            for t in
                [RecordType::A, RecordType::TXT, RecordType::NSEC, RecordType::NSEC3, RecordType::DS, RecordType::SOA]
            {
                for dnssec in [false, true] {
                    let (a, b) = (ask_in(&fresh, name, t, dnssec), ask_in(&applied, name, t, dnssec));
                    assert_eq!(a.to_vec().unwrap(), b.to_vec().unwrap(), "{name} {t} DO={dnssec}");
                    let c = ask_in(&reloaded, name, t, dnssec);
                    assert_eq!(a.to_vec().unwrap(), c.to_vec().unwrap(), "{name} {t} DO={dnssec}, read back");
                }
            }
        }
    }
}

/// A chain of more iterations than Shoal hashes per query: denials carry the signed SOA
/// and the apex's NSEC3 (its iteration count tells validators the zone is insecure),
/// found without hashing anything per query.
#[test]
fn nsec3_above_the_iteration_cap_denies_with_the_apex_nsec3_only() {
    let apex = "capped.test.";
    let salt = [0xaa, 0xbb];
    let h = nsec3_hash(from_ascii(apex).unwrap().as_wire(), &salt, 500);
    let mut label = [0u8; 32];
    base32hex_encode(&h, &mut label);
    let label = String::from_utf8_lossy(&label).into_owned();
    let mut nsec3 = vec![1, 0, 0x01, 0xf4, 2, 0xaa, 0xbb, 20];
    nsec3.extend_from_slice(&h);
    nsec3.extend_from_slice(&[0, 6, 0x22, 0, 0, 0, 0, 0x02]); // NS SOA RRSIG
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let sig = |covered: u16| {
        let mut rd = covered.to_be_bytes().to_vec();
        rd.extend_from_slice(&[13, 2, 0, 0, 1, 44, 0xe3, 0x97, 0x93, 0, 0x69, 0x55, 0xb9, 0, 0x30, 0x39]);
        rd.extend_from_slice(from_ascii(apex).unwrap().as_wire());
        rd.extend_from_slice(&[7; 64]);
        format!("RRSIG \\# {} {}", rd.len(), hex(&rd))
    };
    let text = format!(
        "$ORIGIN {apex}\n$TTL 300\n@ SOA ns hm 1 2 3 4 300\n@ {}\n@ NS ns\n@ {}\nns A 192.0.2.1\n\
         @ NSEC3PARAM 1 0 500 AABB\n{label} NSEC3 \\# {} {}\n{label} {}\n",
        sig(6),
        sig(2),
        nsec3.len(),
        hex(&nsec3),
        sig(50)
    );
    let snap = shoal_zonedb::load_zone_str(&from_ascii(apex).unwrap(), &text, Path::new("capped.zone")).unwrap();
    let c = catalog_of(apex, snap);
    for (name, rcode) in [("nx.capped.test.", ResponseCode::NXDomain), ("ns.capped.test.", ResponseCode::NoError)] {
        let t = if rcode == ResponseCode::NoError { RecordType::TXT } else { RecordType::A };
        let m = ask_in(&c, name, t, true);
        assert_eq!(m.metadata.response_code, rcode, "{name}");
        let nsec3s = of_type(&m.authorities, RecordType::NSEC3);
        assert_eq!(nsec3s.len(), 1, "{name}: the apex's NSEC3 alone");
        assert_eq!(nsec3_range(nsec3s[0]).0, label);
        all_signed(&m.authorities);
    }
}
