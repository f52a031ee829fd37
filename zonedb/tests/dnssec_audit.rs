//! The DNSSEC audit (`shoal check`'s warnings) on a zone signed by `ldns-signzone`,
//! with NSEC and with NSEC3: a clean zone has no warning (glue, occluded data and NS at
//! delegations are not signed and not reported), and each kind of fault put into it is
//! reported once, with its owner and type.

use shoal_wire::name::from_ascii;
use shoal_wire::Rtype;
use shoal_zonedb::audit::{dnssec_audit, DnssecWarning};
use shoal_zonedb::Snapshot;
use std::path::Path;

/// 2025-06-01 00:00:00 UTC: the fixtures' signatures run from 2024-01-01 to 2037-12-31.
const NOW: u32 = 1_748_736_000;
/// 2037-12-31 00:00:00 UTC, the fixtures' signature expiration.
const EXPIRATION: u32 = 2_145_830_400;

fn fixture(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zones").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(text: &str) -> Snapshot {
    shoal_zonedb::load_zone_str(&from_ascii("audit.test.").unwrap(), text, Path::new("x.zone"))
        .unwrap_or_else(|e| panic!("{e:?}"))
}

fn name(text: &str) -> shoal_wire::Name {
    from_ascii(text).unwrap()
}

/// `text` without its lines that contain `needle` (exactly one must).
fn without_line(text: &str, needle: &str) -> String {
    assert_eq!(text.lines().filter(|l| l.contains(needle)).count(), 1, "{needle}");
    text.lines().filter(|l| !l.contains(needle)).map(|l| format!("{l}\n")).collect()
}

#[test]
fn signed_zones_from_ldns_have_no_warning() {
    for file in ["audit.test.signed-nsec.zone", "audit.test.signed-nsec3.zone"] {
        let warnings = dnssec_audit(&load(&fixture(file)), NOW);
        assert!(warnings.is_empty(), "{file}: {warnings:#?}");
    }
    // Unsigned: nothing to say.
    assert!(dnssec_audit(&load(&fixture("audit.test.zone")), NOW).is_empty());
}

#[test]
fn unsigned_rrset_in_a_signed_zone_is_reported() {
    let text = without_line(&fixture("audit.test.signed-nsec.zone"), "www.audit.test.\t3600\tIN\tRRSIG\tAAAA");
    let warnings = dnssec_audit(&load(&text), NOW);
    assert_eq!(warnings, [DnssecWarning::Unsigned { owner: name("www.audit.test."), rtype: Rtype::AAAA }]);
    assert_eq!(warnings[0].to_string(), "www.audit.test. AAAA: no RRSIG covers this RRset in a signed zone");
    // A DS at a delegation is signed; without its RRSIG it is reported too.
    let text = without_line(&fixture("audit.test.signed-nsec.zone"), "RRSIG\tDS");
    let warnings = dnssec_audit(&load(&text), NOW);
    assert_eq!(warnings, [DnssecWarning::Unsigned { owner: name("sub.audit.test."), rtype: Rtype::DS }]);
}

#[test]
fn signatures_expiring_within_seven_days_or_expired_are_reported() {
    let zone = load(&fixture("audit.test.signed-nsec.zone"));
    let signatures = dnssec_audit(&zone, EXPIRATION - 6 * 86400);
    assert!(!signatures.is_empty());
    assert!(signatures.iter().all(|w| matches!(w, DnssecWarning::Expiring { expiration: EXPIRATION, .. })));
    assert!(signatures.contains(&DnssecWarning::Expiring {
        owner: name("www.audit.test."),
        covered: Rtype::AAAA,
        key_tag: 29809,
        expiration: EXPIRATION
    }));
    assert!(dnssec_audit(&zone, EXPIRATION - 8 * 86400).is_empty(), "eight days ahead: nothing yet");
    let expired = dnssec_audit(&zone, EXPIRATION + 1);
    assert_eq!(expired.len(), signatures.len());
    assert!(expired.iter().all(|w| matches!(w, DnssecWarning::Expired { .. })));
    assert!(expired[0].to_string().contains("expired 20371231000000"), "{}", expired[0]);
}

#[test]
fn broken_nsec_chain_is_reported() {
    // mail's NSEC skips ns1: its link is wrong; ns1's own link is still right.
    let text = fixture("audit.test.signed-nsec.zone").replace(
        "mail.audit.test.\t300\tIN\tNSEC\tns1.audit.test.",
        "mail.audit.test.\t300\tIN\tNSEC\tsub.audit.test.",
    );
    let warnings = dnssec_audit(&load(&text), NOW);
    assert_eq!(
        warnings,
        [DnssecWarning::NsecChain {
            owner: name("mail.audit.test."),
            next: name("sub.audit.test."),
            expected: name("ns1.audit.test.")
        }]
    );
    // The last NSEC must point back to the apex.
    let text = fixture("audit.test.signed-nsec.zone")
        .replace("www.audit.test.\t300\tIN\tNSEC\taudit.test.", "www.audit.test.\t300\tIN\tNSEC\tzzz.audit.test.");
    let warnings = dnssec_audit(&load(&text), NOW);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(matches!(&warnings[0], DnssecWarning::NsecChain { expected, .. } if *expected == name("audit.test.")));
}

/// Found by the `zone_text` fuzz target: a zone whose apex had no NSEC (its chain of
/// the other owners intact, the last pointing to the apex) passed the audit, yet a DO
/// referral from it carried the cut's NSEC when answered from precompiled blocks and
/// none when answered record by record, which proves only from a chain the apex starts.
#[test]
fn regression_fuzz_an_owner_left_out_of_the_nsec_chain_is_reported() {
    let apex_nsec = |l: &&str| l.starts_with("audit.test.\t") && l.contains("NSEC");
    let text: String =
        fixture("audit.test.signed-nsec.zone").lines().filter(|l| !apex_nsec(l)).map(|l| format!("{l}\n")).collect();
    let warnings = dnssec_audit(&load(&text), NOW);
    assert_eq!(warnings, [DnssecWarning::NsecMissing { owner: name("audit.test.") }]);
    assert_eq!(warnings[0].rtype(), Rtype::NSEC);
    assert!(warnings[0].to_string().starts_with("audit.test. NSEC: none here"), "{}", warnings[0]);
}

#[test]
fn broken_nsec3_chain_is_reported() {
    let text = fixture("audit.test.signed-nsec3.zone");
    // The NSEC3 whose next hash is kj17…: removing kj17… breaks the link to it.
    let owner = "i55p0sqk5enmuv9slsnskpbl7hff3dip.audit.test.";
    let removed = "kj170dlombmjuid4qei6qlvlahi2ferq.audit.test.\t300\tIN\tNSEC3\t";
    let after = text.lines().find(|l| l.starts_with(removed)).expect("NSEC3 line").to_string();
    let next_of_removed = after.split_whitespace().last().unwrap().to_string();
    let warnings = dnssec_audit(&load(&without_line(&text, removed)), NOW);
    assert_eq!(
        warnings,
        [DnssecWarning::Nsec3Chain {
            owner: name(owner),
            next: "kj170dlombmjuid4qei6qlvlahi2ferq".into(),
            expected: next_of_removed
        }]
    );
    assert_eq!(warnings[0].rtype(), Rtype::NSEC3);
}

#[test]
fn nsec3_iterations_above_what_is_hashed_per_query_are_reported() {
    let zone =
        "$ORIGIN audit.test.\n$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n@ NSEC3PARAM 1 0 200 AABB\n";
    let warnings = dnssec_audit(&load(zone), NOW);
    assert_eq!(warnings, [DnssecWarning::Nsec3Iterations { owner: name("audit.test."), iterations: 200 }]);
    assert_eq!(warnings[0].rtype(), Rtype::NSEC3PARAM);
    assert!(dnssec_audit(&load(&zone.replace(" 200 ", " 150 ")), NOW).is_empty(), "150 is hashed");
}
