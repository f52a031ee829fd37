//! ZONEMD (RFC 8976) digests and verification against the examples of the RFC's
//! Appendix A (as corrected by its errata) and a zone signed with ZONEMD by
//! `ldns-signzone`, an independent implementation.

use shoal_wire::name::from_ascii;
use shoal_zonedb::audit::zonemd::{digest, hex, verify, SkipReason, ZonemdError, ZonemdHash, ZonemdOutcome};
use shoal_zonedb::change::{apply, diff};
use shoal_zonedb::Snapshot;
use std::path::Path;

fn load(apex: &str, text: &str) -> Snapshot {
    shoal_zonedb::load_zone_str(&from_ascii(apex).unwrap(), text, Path::new("x.zone"))
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// RFC 8976 Appendix A.1: the simple example zone.
const SIMPLE: &str = r#"
example.      86400  IN  SOA     ns1 admin 2018031900 (
                                 1800 900 604800 86400 )
              86400  IN  NS      ns1
              86400  IN  NS      ns2
              86400  IN  ZONEMD  2018031900 1 1 (
                                 c68090d90a7aed71
                                 6bc459f9340e3d7c
                                 1370d4d24b7e2fc3
                                 a1ddc0b9a87153b9
                                 a9713b3c9ae5cc27
                                 777f98b8e730044c )
ns1           3600   IN  A       203.0.113.63
ns2           3600   IN  AAAA    2001:db8::63
"#;

const SIMPLE_DIGEST: &str =
    "c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c";

/// RFC 8976 Appendix A.2: the complex example zone, less its out-of-zone record
/// (`foo.test.`), which Shoal refuses to load and the digest leaves out anyway.
const COMPLEX: &str = r#"
example.      86400  IN  SOA     ns1 admin 2018031900 (
                                 1800 900 604800 86400 )
              86400  IN  NS      ns1
              86400  IN  NS      ns2
              86400  IN  ZONEMD  2018031900 1 1 (
                                 a3b69bad980a3504
                                 e1cffcb0fd6397f9
                                 3848071c93151f55
                                 2ae2f6b1711d4bd2
                                 d8b39808226d7b9d
                                 b71e34b72077f8fe )
ns1           3600   IN  A       203.0.113.63
NS2           3600   IN  AAAA    2001:db8::63
occluded.sub  7200   IN  TXT     "I'm occluded but must be digested"
sub           7200   IN  NS      ns1
duplicate     300    IN  TXT     "I must be digested just once"
duplicate     300    IN  TXT     "I must be digested just once"
UPPERCASE     3600   IN  TXT     "canonicalize uppercase owner names"
*             777    IN  PTR     dont-forget-about-wildcards
mail          3600   IN  MX      20 MAIL1
mail          3600   IN  MX      10 Mail2.Example.
sortme        3600   IN  AAAA    2001:db8::5:61
sortme        3600   IN  AAAA    2001:db8::3:62
sortme        3600   IN  AAAA    2001:db8::4:63
sortme        3600   IN  AAAA    2001:db8::1:65
sortme        3600   IN  AAAA    2001:db8::2:64
non-apex      900    IN  ZONEMD  2018031900 1 1 (
                                 616c6c6f77656420
                                 6275742069676e6f
                                 7265642e20616c6c
                                 6f77656420627574
                                 2069676e6f726564
                                 2e20616c6c6f7765 )
"#;

const COMPLEX_DIGEST: &str =
    "a3b69bad980a3504e1cffcb0fd6397f93848071c93151f552ae2f6b1711d4bd2d8b39808226d7b9db71e34b72077f8fe";

/// RFC 8976 Appendix A.3: multiple digests, SHA-384 and SHA-512 among records of an
/// unknown hash algorithm (240) and an unknown scheme (241).
const MULTIPLE: &str = r#"
example.      86400  IN  SOA     ns1 admin 2018031900 (
                                 1800 900 604800 86400 )
example.      86400  IN  NS      ns1.example.
example.      86400  IN  NS      ns2.example.
example.      86400  IN  ZONEMD  2018031900 1 1 (
                                 62e6cf51b02e54b9
                                 b5f967d547ce4313
                                 6792901f9f88e637
                                 493daaf401c92c27
                                 9dd10f0edb1c56f8
                                 080211f8480ee306 )
example.      86400  IN  ZONEMD  2018031900 1 2 (
                                 08cfa1115c7b948c
                                 4163a901270395ea
                                 226a930cd2cbcf2f
                                 a9a5e6eb85f37c8a
                                 4e114d884e66f176
                                 eab121cb02db7d65
                                 2e0cc4827e7a3204
                                 f166b47e5613fd27 )
example.      86400  IN  ZONEMD  2018031900 1 240 (
                                 e2d523f654b9422a
                                 96c5a8f44607bbee )
example.      86400  IN  ZONEMD  2018031900 241 1 (
                                 e1846540e33a9e41
                                 89792d18d5d131f6
                                 05fc283eaaaaaaaa
                                 aaaaaaaaaaaaaaaa
                                 aaaaaaaaaaaaaaaa
                                 aaaaaaaaaaaaaaaa)
ns1.example.  3600   IN  A       203.0.113.63
ns2.example.  86400  IN  TXT     "This example has multiple digests"
NS2.EXAMPLE.  3600   IN  AAAA    2001:db8::63
"#;

const MULTIPLE_SHA384: &str =
    "62e6cf51b02e54b9b5f967d547ce43136792901f9f88e637493daaf401c92c279dd10f0edb1c56f8080211f8480ee306";
const MULTIPLE_SHA512: &str = "08cfa1115c7b948c4163a901270395ea226a930cd2cbcf2fa9a5e6eb85f37c8a\
                               4e114d884e66f176eab121cb02db7d652e0cc4827e7a3204f166b47e5613fd27";

#[test]
fn rfc8976_appendix_a1_simple_zone() {
    let zone = load("example.", SIMPLE);
    assert_eq!(hex(&digest(&zone, ZonemdHash::Sha384)), SIMPLE_DIGEST);
    assert_eq!(verify(&zone), Ok(ZonemdOutcome::Verified { serial: 2018031900, hash: ZonemdHash::Sha384 }));
}

#[test]
fn rfc8976_appendix_a2_complex_zone() {
    let zone = load("example.", COMPLEX);
    assert_eq!(hex(&digest(&zone, ZonemdHash::Sha384)), COMPLEX_DIGEST);
    assert!(matches!(verify(&zone), Ok(ZonemdOutcome::Verified { hash: ZonemdHash::Sha384, .. })));
}

/// `text` without the multi-line records whose first line contains one of `starts`
/// (each through the line that closes its parentheses).
fn drop_records(text: &str, starts: &[&str]) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        skipping |= starts.iter().any(|s| line.contains(s));
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
        if skipping && line.trim_end().ends_with(')') {
            skipping = false;
        }
    }
    out
}

const SHA384_RECORD: &str = "ZONEMD  2018031900 1 1 (";
const SHA512_RECORD: &str = "ZONEMD  2018031900 1 2 (";

#[test]
fn rfc8976_appendix_a3_multiple_digests_sha384_and_sha512() {
    let zone = load("example.", MULTIPLE);
    assert_eq!(hex(&digest(&zone, ZonemdHash::Sha384)), MULTIPLE_SHA384);
    assert_eq!(hex(&digest(&zone, ZonemdHash::Sha512)), MULTIPLE_SHA512);
    assert!(matches!(verify(&zone), Ok(ZonemdOutcome::Verified { .. })));
    // The SHA-512 record alone among the unusable ones verifies.
    let sha512_only = load("example.", &drop_records(MULTIPLE, &[SHA384_RECORD]));
    assert_eq!(verify(&sha512_only), Ok(ZonemdOutcome::Verified { serial: 2018031900, hash: ZonemdHash::Sha512 }));
}

#[test]
fn rfc8976_unknown_scheme_and_hash_are_set_aside() {
    let zone = load("example.", &drop_records(MULTIPLE, &[SHA384_RECORD, SHA512_RECORD]));
    let Ok(ZonemdOutcome::NoneUsable(skipped)) = verify(&zone) else { panic!("{:?}", verify(&zone)) };
    let mut reasons: Vec<SkipReason> = skipped.iter().map(|s| s.reason).collect();
    reasons.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(reasons, [SkipReason::Hash, SkipReason::Scheme]);
}

#[test]
fn zonemd_mismatch_reports_serial_expected_and_computed() {
    let wrong = SIMPLE.replace("c68090d90a7aed71", "c68090d90a7aed72");
    let zone = load("example.", &wrong);
    let Err(ZonemdError::Mismatch { zone: apex, serial, digests }) = verify(&zone) else { panic!("must fail") };
    assert_eq!(apex.to_string(), "example.");
    assert_eq!(serial, 2018031900);
    assert_eq!(digests.len(), 1);
    assert_eq!(digests[0].hash, ZonemdHash::Sha384);
    assert_eq!(digests[0].computed, SIMPLE_DIGEST);
    assert_eq!(digests[0].expected, SIMPLE_DIGEST.replacen("c68090d90a7aed71", "c68090d90a7aed72", 1));
    let message = verify(&zone).unwrap_err().to_string();
    assert!(
        message.contains("example.") && message.contains("2018031900") && message.contains(SIMPLE_DIGEST),
        "{message}"
    );
    // Changed content, right digest: a mismatch too.
    let changed = load("example.", &SIMPLE.replace("203.0.113.63", "203.0.113.64"));
    assert!(verify(&changed).is_err());
}

#[test]
fn zonemd_serial_other_than_soa_is_set_aside() {
    let zone = load("example.", &SIMPLE.replace("ZONEMD  2018031900", "ZONEMD  2018031800"));
    let Ok(ZonemdOutcome::NoneUsable(skipped)) = verify(&zone) else { panic!("{:?}", verify(&zone)) };
    assert_eq!(skipped[0].reason, SkipReason::Serial { soa: 2018031900 });
}

#[test]
fn zonemd_repeated_scheme_and_hash_counts_for_nothing() {
    let twice = SIMPLE.replace(
        "ns1           3600",
        &format!("@ 86400 IN ZONEMD 2018031900 1 1 {}\nns1           3600", "ab".repeat(48)),
    );
    let zone = load("example.", &twice);
    let Ok(ZonemdOutcome::NoneUsable(skipped)) = verify(&zone) else { panic!("{:?}", verify(&zone)) };
    assert!(skipped.len() == 2 && skipped.iter().all(|s| s.reason == SkipReason::Duplicate), "{skipped:?}");
}

#[test]
fn zonemd_absent_is_not_present() {
    let zone = load("example.", &drop_records(SIMPLE, &["ZONEMD"]));
    assert_eq!(verify(&zone), Ok(ZonemdOutcome::NotPresent));
}

#[test]
fn zonemd_digest_of_a_version_derived_by_ixfr_equals_a_full_load() {
    let old = load("example.", COMPLEX);
    let new_text = COMPLEX
        .replace("2018031900 (", "2018032000 (")
        .replace("sortme        3600   IN  AAAA    2001:db8::5:61", "added 60 IN A 192.0.2.1")
        .replace("20 MAIL1", "30 MAIL3");
    let new = load("example.", &new_text);
    let derived = apply::apply(&old, &[diff::diff(&old, &new)]).expect("applies");
    assert!(derived.delta_len() > 0, "the derived version reads changed nodes from its delta");
    for hash in [ZonemdHash::Sha384, ZonemdHash::Sha512] {
        assert_eq!(digest(&derived, hash), digest(&new, hash));
    }
    assert_ne!(digest(&old, ZonemdHash::Sha384), digest(&new, ZonemdHash::Sha384));
}

/// A zone under `zonedb/tests/zones/`.
fn fixture(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zones").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The apex ZONEMD digests of a zone text with `hash` (1 or 2), as written.
fn written_digest(text: &str, hash: u8) -> String {
    let line = text.lines().find(|l| l.contains(&format!("ZONEMD\t2024060101 1 {hash} "))).expect("ZONEMD line");
    line.rsplit(' ').next().unwrap().to_string()
}

#[test]
fn ldns_signzone_digests_of_a_signed_zone_match_for_nsec_and_nsec3() {
    for file in ["audit.test.signed-nsec.zone", "audit.test.signed-nsec3.zone"] {
        let text = fixture(file);
        let zone = load("audit.test.", &text);
        assert_eq!(hex(&digest(&zone, ZonemdHash::Sha384)), written_digest(&text, 1), "{file}");
        assert_eq!(hex(&digest(&zone, ZonemdHash::Sha512)), written_digest(&text, 2), "{file}");
        assert!(matches!(verify(&zone), Ok(ZonemdOutcome::Verified { serial: 2024060101, .. })), "{file}");
        // A changed signature is content like any other.
        let tampered = text.replacen("RRSIG\tA 13 3 3600 20371231000000", "RRSIG\tA 13 3 3600 20371230000000", 1);
        assert!(verify(&load("audit.test.", &tampered)).is_err(), "{file}");
    }
}
