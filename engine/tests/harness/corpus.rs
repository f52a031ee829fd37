//! The differential query corpus: every case the test zones were written for
//! (`engine/tests/zones/`), each sent in several shapes (UDP/TCP, with and without EDNS,
//! DO, 0x20 case), plus targeted cases for payload sizes, EDNS versions, NSID, flags,
//! classes, CHAOS and meta query types.
//!
//! The corpus is deterministic: the same list in the same order on every run.

use hickory_proto::rr::RecordType;

use super::dns::{QuerySpec, CLASS_ANY, CLASS_CH, CLASS_HS, CLASS_NONE};

use RecordType::*;

/// (name, type) pairs answered from the zones: one per behaviour worth pinning.
fn base_cases() -> Vec<(&'static str, RecordType)> {
    vec![
        // apex
        ("example.com.", SOA),
        ("example.com.", NS),
        ("example.com.", MX),
        ("example.com.", A),
        ("example.com.", AAAA),
        ("example.com.", TXT),
        ("example.com.", CAA),
        ("example.com.", ANY),
        ("example.com.", DS),
        ("example.com.", SRV),
        // hosts, glue owners, case-insensitivity of owners
        ("ns1.example.com.", A),
        ("ns1.example.com.", AAAA),
        ("ns1.example.com.", ANY),
        ("ns2.example.com.", A),
        ("www.example.com.", A),
        ("www.example.com.", AAAA),
        ("www.example.com.", MX),
        ("www.example.com.", ANY),
        ("www2.example.com.", A),
        ("WWW2.EXAMPLE.COM.", A),
        ("mixed.case.example.com.", A),
        ("MIXED.CASE.example.com.", A),
        ("case.example.com.", A),
        ("mail.example.com.", A),
        ("mail.example.com.", AAAA),
        ("mail.example.com.", MX),
        // one of each type
        ("txt-long.example.com.", TXT),
        ("txt-multi.example.com.", TXT),
        ("txt-escape.example.com.", TXT),
        ("txt-empty.example.com.", TXT),
        ("_sip._tcp.example.com.", SRV),
        ("_ldap._tcp.example.com.", SRV),
        ("_tcp.example.com.", SRV),
        ("caa.example.com.", CAA),
        ("ptr.example.com.", PTR),
        ("hinfo.example.com.", HINFO),
        ("naptr.example.com.", NAPTR),
        ("sshfp.example.com.", SSHFP),
        ("_443._tcp.www.example.com.", TLSA),
        ("spf.example.com.", Unknown(99)),
        ("spf.example.com.", TXT),
        ("rp.example.com.", Unknown(17)),
        ("unknown.example.com.", Unknown(65000)),
        ("unknown.example.com.", A),
        ("unknown.example.com.", ANY),
        ("unknown-empty.example.com.", Unknown(65001)),
        ("generic-a.example.com.", A),
        // CNAME
        ("alias.example.com.", A),
        ("alias.example.com.", AAAA),
        ("alias.example.com.", CNAME),
        ("alias.example.com.", MX),
        ("alias.example.com.", ANY),
        ("chain1.example.com.", A),
        ("chain1.example.com.", CNAME),
        ("chain1.example.com.", TXT),
        ("chain2.example.com.", AAAA),
        ("loop-a.example.com.", A),
        ("loop-b.example.com.", CNAME),
        ("ext-alias.example.com.", A),
        ("deleg-alias.example.com.", A),
        ("dangling.example.com.", A),
        ("alias-wild.example.com.", A),
        ("alias-wild.example.com.", MX),
        ("alias-ent.example.com.", A),
        ("alias-mx.example.com.", MX),
        ("upper-alias.example.com.", A),
        ("cross-zone.example.com.", A),
        ("alias-dname.example.com.", A),
        // DNAME
        ("dname.example.com.", DNAME),
        ("dname.example.com.", A),
        ("www.dname.example.com.", A),
        ("a.b.dname.example.com.", MX),
        ("dname-in.example.com.", DNAME),
        ("www.dname-in.example.com.", A),
        ("mx.dname-in.example.com.", MX),
        ("alias.dname-in.example.com.", A),
        ("nothing.dname-in.example.com.", A),
        ("www.in-target.example.com.", A),
        ("short.long-dname.example.com.", A),
        // wildcards
        ("foo.wild.example.com.", A),
        ("foo.wild.example.com.", MX),
        ("foo.wild.example.com.", AAAA),
        ("foo.wild.example.com.", ANY),
        ("a.b.c.wild.example.com.", A),
        ("*.wild.example.com.", A),
        ("wild.example.com.", A),
        ("x.cname-wild.example.com.", A),
        ("x.cname-wild.example.com.", CNAME),
        ("deep.x.cname-wild.example.com.", AAAA),
        ("x.sib.example.com.", A),
        ("exists.sib.example.com.", A),
        ("exists.sib.example.com.", TXT),
        ("x.exists.sib.example.com.", A),
        ("deeper.exists.sib.example.com.", TXT),
        ("y.deeper.exists.sib.example.com.", A),
        // empty non-terminals
        ("ent.example.com.", A),
        ("b.ent.example.com.", A),
        ("x.ent.example.com.", A),
        ("a.b.ent.example.com.", A),
        ("x.b.ent.example.com.", A),
        ("sibling.example.com.", A),
        // NXDOMAIN
        ("nonexistent.example.com.", A),
        ("does.not.exist.example.com.", TXT),
        // delegations
        ("sub.example.com.", NS),
        ("sub.example.com.", A),
        ("sub.example.com.", DS),
        ("sub.example.com.", SOA),
        ("host.sub.example.com.", A),
        ("ns1.sub.example.com.", A),
        ("ns1.sub.example.com.", AAAA),
        ("deep.host.sub.example.com.", TXT),
        ("out-deleg.example.com.", NS),
        ("out-deleg.example.com.", A),
        ("www.out-deleg.example.com.", A),
        ("ds-deleg.example.com.", DS),
        ("ds-deleg.example.com.", NS),
        ("ds-deleg.example.com.", A),
        ("x.ds-deleg.example.com.", A),
        ("sib-deleg.example.com.", NS),
        ("x.sib-deleg.example.com.", A),
        ("ns.sibling.example.com.", A),
        // additional-section processing
        ("mx-target.example.com.", MX),
        ("srv-target.example.com.", SRV),
        // big RRsets, $INCLUDE and $ORIGIN inside it
        ("big.example.com.", TXT),
        ("many.example.com.", A),
        ("included.example.com.", TXT),
        ("host.included.example.com.", A),
        // RFC 4592 section 2.2.1, the example zone and its listed queries
        ("example.", SOA),
        ("example.", NS),
        ("host3.example.", MX),
        ("host3.example.", A),
        ("foo.bar.example.", TXT),
        ("host1.example.", MX),
        ("host1.example.", A),
        ("sub.*.example.", MX),
        ("sub.*.example.", TXT),
        ("_telnet._tcp.host1.example.", SRV),
        ("_ssh._tcp.host1.example.", SRV),
        ("_ssh._tcp.host2.example.", SRV),
        ("_tcp.host1.example.", SRV),
        ("host.subdel.example.", A),
        ("subdel.example.", NS),
        ("ghost.*.example.", MX),
        ("*.example.", TXT),
        ("*.example.", MX),
        // out of zone: REFUSED
        ("www.example.org.", A),
        ("com.", SOA),
        (".", NS),
        ("example.net.", A),
        ("www.example.comm.", A),
    ]
}

/// A name under `suffix` whose wire form is exactly `wire_len` bytes.
pub fn long_name_under(suffix: &str, wire_len: usize) -> String {
    let suffix_wire: usize = suffix.trim_end_matches('.').split('.').map(|l| l.len() + 1).sum::<usize>() + 1;
    let mut left = wire_len - suffix_wire;
    let mut labels = Vec::new();
    let mut letter = b'a';
    while left > 0 {
        // a label costs len + 1; never leave a remainder of 1 (a zero-length label)
        let mut len = (left - 1).min(63);
        if left - (len + 1) == 1 {
            len -= 1;
        }
        labels.push(String::from_utf8(vec![letter; len]).expect("ascii"));
        letter += 1;
        left -= len + 1;
    }
    format!("{}.{suffix}", labels.join("."))
}

/// The whole corpus, in a fixed order.
pub fn differential_queries() -> Vec<QuerySpec> {
    let mut out = Vec::new();
    let base = base_cases();
    for (i, (name, rtype)) in base.iter().enumerate() {
        let q = QuerySpec::rtype(name, *rtype);
        out.push(q.clone());
        out.push(q.clone().tcp());
        out.push(q.clone().no_edns());
        if i % 2 == 0 {
            out.push(q.clone().dnssec_ok().mixed_case(i as u64 + 1));
        } else {
            out.push(q.clone().tcp().mixed_case(i as u64 + 1));
        }
    }
    // Truncation and payload sizes: big answers, referrals with glue, ANY.
    let sized = [
        ("big.example.com.", TXT),
        ("many.example.com.", A),
        ("example.com.", ANY),
        ("example.com.", NS),
        ("mx-target.example.com.", MX),
        ("srv-target.example.com.", SRV),
        ("sub.example.com.", A),
        ("sib-deleg.example.com.", A),
        ("txt-long.example.com.", TXT),
        ("nonexistent.example.com.", A),
    ];
    for (name, rtype) in sized {
        for payload in [512, 1232, 4096] {
            out.push(QuerySpec::rtype(name, rtype).payload(payload));
            out.push(QuerySpec::rtype(name, rtype).payload(payload).dnssec_ok());
        }
        out.push(QuerySpec::rtype(name, rtype).no_edns().rd());
    }
    // EDNS version 1: BADVERS (RFC 6891 section 6.1.3), in and out of zone.
    for name in ["www.example.com.", "nonexistent.example.com.", "big.example.com.", "www.example.org."] {
        out.push(QuerySpec::rtype(name, A).edns_version(1));
        out.push(QuerySpec::rtype(name, A).edns_version(1).tcp());
    }
    out.push(QuerySpec::rtype("www.example.com.", A).edns_version(255).dnssec_ok());
    // NSID (RFC 5001): content compared.
    for (name, rtype) in
        [("example.com.", SOA), ("nonexistent.example.com.", A), ("sub.example.com.", A), ("www.example.org.", A)]
    {
        out.push(QuerySpec::rtype(name, rtype).nsid());
        out.push(QuerySpec::rtype(name, rtype).nsid().tcp());
    }
    out.push(QuerySpec::rtype("id.server.", TXT).class(CLASS_CH).nsid());
    out.push(QuerySpec::rtype("www.example.com.", A).nsid().edns_version(1));
    // RD and CD are copied; RA is not compared.
    for q in [
        QuerySpec::rtype("www.example.com.", A).rd(),
        QuerySpec::rtype("www.example.com.", A).cd(),
        QuerySpec::rtype("www.example.com.", A).rd().cd().tcp(),
        QuerySpec::rtype("nonexistent.example.com.", A).rd(),
        QuerySpec::rtype("sub.example.com.", A).rd(),
        QuerySpec::rtype("www.example.org.", A).rd(),
        QuerySpec::rtype("www.example.org.", A).cd().no_edns(),
    ] {
        out.push(q);
    }
    // Classes other than IN.
    for class in [CLASS_CH, CLASS_HS, CLASS_NONE, CLASS_ANY] {
        out.push(QuerySpec::rtype("www.example.com.", A).class(class));
        out.push(QuerySpec::rtype("example.com.", SOA).class(class).tcp());
    }
    // CHAOS identity and version.
    for name in ["id.server.", "hostname.bind.", "version.bind.", "version.server.", "authors.bind.", "nothing.bind."] {
        out.push(QuerySpec::rtype(name, TXT).class(CLASS_CH));
        out.push(QuerySpec::rtype(name, TXT).class(CLASS_CH).no_edns().tcp());
    }
    out.push(QuerySpec::rtype("id.server.", A).class(CLASS_CH));
    out.push(QuerySpec::rtype("ID.Server.", TXT).class(CLASS_CH));
    // Meta and DNSSEC types against an unsigned zone.
    for (name, rtype) in [
        ("example.com.", AXFR),
        ("example.com.", IXFR),
        ("www.example.com.", Unknown(0)),
        ("www.example.com.", Unknown(253)),
        ("www.example.com.", Unknown(254)),
        ("www.example.com.", OPT),
        ("www.example.com.", RRSIG),
        ("www.example.com.", NSEC),
        ("example.com.", DNSKEY),
        ("example.com.", NSEC3PARAM),
        ("nonexistent.example.com.", ANY),
        ("sub.example.com.", ANY),
    ] {
        out.push(QuerySpec::rtype(name, rtype));
    }
    // DNAME substitution that overflows 255 bytes: YXDOMAIN (RFC 6672 section 2.2).
    let fits = long_name_under("long-dname.example.com.", 200);
    let overflows = long_name_under("long-dname.example.com.", 255);
    for name in [&fits, &overflows] {
        out.push(QuerySpec::rtype(name, A));
        out.push(QuerySpec::rtype(name, A).tcp().no_edns());
    }
    // The longest legal name inside the zone that does not exist.
    out.push(QuerySpec::rtype(&long_name_under("example.com.", 255), A));
    out
}
