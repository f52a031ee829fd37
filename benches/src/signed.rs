//! A signed variant of [`crate::zone_text`] for the benches: the same names, each
//! authoritative RRset with an RRSIG (ECDSA P-256 sized, made-up bytes: Shoal serves
//! signatures, it never checks them), DNSKEYs, and an NSEC3 chain (SHA-1, no salt, 0
//! iterations, no opt-out) over every authoritative name, with its NSEC3PARAM. RRSIG
//! and NSEC3 records are written in the RFC 3597 `\#` form.

use crate::{compile, zone_text, APEX};
use shoal_wire::name::{from_ascii, Display};
use shoal_wire::rdata::text::{push_hex, type_bitmap_into};
use shoal_wire::Rtype;
use shoal_zonedb::store::chain::{base32hex_encode, nsec3_hash};
use shoal_zonedb::store::flags;
use shoal_zonedb::Snapshot;
use std::fmt::Write;

const SIGNER_TTL: u32 = 3600;

/// The RDATA of an RRSIG covering `covered` at an owner of `labels` labels, with a
/// signature made from `seed` (a different seed is a re-signing).
pub fn rrsig_rdata(covered: Rtype, labels: u8, ttl: u32, seed: u32) -> Vec<u8> {
    let mut rd = Vec::with_capacity(100);
    rd.extend_from_slice(&covered.0.to_be_bytes());
    rd.extend_from_slice(&[13, labels]);
    rd.extend_from_slice(&ttl.to_be_bytes());
    rd.extend_from_slice(&0xe3979300u32.to_be_bytes()); // 2090-12-31
    rd.extend_from_slice(&(0x6955b900u32 + seed).to_be_bytes()); // 2026-01-01 + seed s
    rd.extend_from_slice(&12345u16.to_be_bytes());
    rd.extend_from_slice(from_ascii(APEX).expect("valid").as_wire());
    let mut x = u64::from(seed) ^ 0x9e37_79b9_7f4a_7c15 ^ u64::from(covered.0) << 32;
    for _ in 0..64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rd.push(x as u8);
    }
    rd
}

fn record(z: &mut String, owner: &[u8], ttl: u32, rtype: &str, rdata: &[u8]) {
    let _ = write!(z, "{} {ttl} {rtype} \\# {} ", Display(owner), rdata.len());
    push_hex(z, rdata);
    z.push('\n');
}

/// Master-file text of [`zone_text`]`(names)`, signed as described above.
pub fn signed_zone_text(names: usize) -> String {
    let plain = compile(&zone_text(names));
    signed_text_of(&plain)
}

fn signed_text_of(plain: &Snapshot) -> String {
    let apex = plain.apex().as_wire().to_vec();
    let mut z = String::with_capacity(plain.record_count() * 300);
    let _ = writeln!(z, "$ORIGIN {APEX}\n$TTL 3600");
    // Two DNSKEYs (a KSK and a ZSK, P-256 sized) and the NSEC3PARAM at the apex.
    for (flags, seed) in [(257u16, 1u8), (256, 2)] {
        let mut rd = flags.to_be_bytes().to_vec();
        rd.extend_from_slice(&[3, 13]);
        rd.extend((0..64).map(|i| seed.wrapping_mul(31).wrapping_add(i)));
        record(&mut z, &apex, SIGNER_TTL, "DNSKEY", &rd);
    }
    record(&mut z, &apex, 0, "NSEC3PARAM", &[1, 0, 0, 0, 0]);
    let mut chain: Vec<([u8; 20], Vec<u16>)> = Vec::new();
    for node in plain.nodes() {
        let owner = node.name();
        let labels = shoal_wire::name::label_count(owner) as u8;
        let wildcard = owner.starts_with(b"\x01*");
        let mut types: Vec<u16> = Vec::new();
        for set in node.rrsets() {
            for rd in set.rdatas() {
                record(&mut z, owner, set.ttl, &format!("TYPE{}", set.rtype.0), rd);
            }
            types.push(set.rtype.0);
            let unsigned = node.has(flags::BELOW_CUT) || (node.has(flags::DELEGATION) && set.rtype == Rtype::NS);
            if !unsigned {
                let sig = rrsig_rdata(set.rtype, labels - u8::from(wildcard), set.ttl, 0);
                record(&mut z, owner, set.ttl, "RRSIG", &sig);
            }
        }
        if node.has(flags::BELOW_CUT) {
            continue;
        }
        let insecure_cut = node.has(flags::DELEGATION) && types == [Rtype::NS.0];
        let signed_here = !types.is_empty() && !insecure_cut;
        if owner == apex.as_slice() {
            types.extend([Rtype::DNSKEY.0, Rtype::NSEC3PARAM.0]);
        }
        if signed_here || owner == apex.as_slice() {
            types.push(Rtype::RRSIG.0);
        }
        types.sort_unstable();
        types.dedup();
        chain.push((nsec3_hash(owner, &[], 0), types));
    }
    chain.sort_unstable();
    let ttl = plain.negative_ttl();
    for (i, (hash, types)) in chain.iter().enumerate() {
        let next = &chain[(i + 1) % chain.len()].0;
        let mut rd = vec![1, 0, 0, 0, 0, 20];
        rd.extend_from_slice(next);
        type_bitmap_into(&mut types.clone(), &mut rd);
        let mut label = [0u8; 32];
        base32hex_encode(hash, &mut label);
        let mut owner = vec![32];
        owner.extend_from_slice(&label);
        owner.extend_from_slice(&apex);
        record(&mut z, &owner, ttl, "NSEC3", &rd);
        let labels = shoal_wire::name::label_count(&owner) as u8;
        record(&mut z, &owner, ttl, "RRSIG", &rrsig_rdata(Rtype::NSEC3, labels, ttl, 0));
    }
    z
}

/// An IXFR that re-signs `changes` RRsets of a zone made by [`signed_zone_text`]: the
/// RRSIG of the A record of `changes` hosts spread over the zone, and of the SOA, are
/// replaced by new ones, and the serial goes up by one.
pub fn resign_ixfr(held: &Snapshot, names: usize, changes: usize) -> shoal_zonedb::change::diff::Diff {
    use shoal_zonedb::change::diff::{Diff, Rr};
    let (old_soa, new_soa) = crate::next_soa(held);
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let mut resign = |owner: shoal_wire::Name, covered: Rtype| {
        let labels = owner.label_count() as u8;
        let old = rrsig_rdata(covered, labels, SIGNER_TTL, 0);
        let new = rrsig_rdata(covered, labels, SIGNER_TTL, 1);
        removed.push(Rr { owner: owner.clone(), rtype: Rtype::RRSIG, ttl: SIGNER_TTL, rdata: old.into() });
        added.push(Rr { owner, rtype: Rtype::RRSIG, ttl: SIGNER_TTL, rdata: new.into() });
    };
    resign(held.apex().clone(), Rtype::SOA);
    let stride = (names / changes.max(1)).max(1);
    for k in 0..changes {
        let i = (k * stride) % names;
        let i = if i % 100 == 99 { i - 1 } else { i };
        resign(from_ascii(&format!("host{i}.{APEX}")).expect("valid"), Rtype::A);
    }
    Diff { old_soa, new_soa, removed, added }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_zonedb::change::apply::apply;
    use shoal_zonedb::store::denial::Denial;

    #[test]
    fn the_signed_zone_loads_with_its_chain_and_takes_a_resigning_ixfr_in_place() {
        let held = compile(&signed_zone_text(500));
        assert!(held.is_signed());
        let Denial::Nsec3 { chain, .. } = held.denial() else { panic!("an NSEC3 zone") };
        // Every authoritative name has its NSEC3: names, the apex, ENT `wild`, the cuts.
        assert!(chain.len() > 500, "{} links", chain.len());
        let d = resign_ixfr(&held, 500, 20);
        let new = apply(&held, std::slice::from_ref(&d)).unwrap();
        assert!(new.shares_base_with(&held));
        assert_eq!(new.record_count(), held.record_count());
        assert_eq!(new.serial(), held.serial() + 1);
    }
}
