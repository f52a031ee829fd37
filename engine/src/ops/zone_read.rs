//! `shoal ctl zone-read ZONE [OWNER [TYPE]]` (as `knotc zone-read`): the records a zone
//! serves now, read from the version the workers answer from, in presentation format
//! (one `owner TTL class type RDATA` line each, RDATA through the record-type table,
//! owners in canonical order, RFC 4034 §6.1, the SOA first), or as JSON with `--json`.
//!
//! OWNER is absolute or relative to the zone (`@` for the apex); TYPE is a mnemonic or
//! `TYPEnnn`. A zone that is configured but not served is an error that says so.

use crate::zones::ZoneSet;
use shoal_wire::name::{canonical_cmp, is_subdomain};
use shoal_wire::rdata::{self, text};
use shoal_wire::Name;
use std::fmt::Write as _;

/// One record as zone-read shows it.
#[derive(serde::Serialize)]
struct Line {
    owner: String,
    ttl: u32,
    class: &'static str,
    #[serde(rename = "type")]
    rtype: String,
    rdata: String,
}

/// The reply to `zone-read` with `args` (zone, then optional owner and type).
pub fn zone_read(set: &ZoneSet, args: &[&str], json: bool) -> Result<String, String> {
    let zone_text = args.first().ok_or("zone-read needs a zone name")?;
    let apex = absolute(zone_text, b"\0").ok_or_else(|| format!("{zone_text:?} is not a domain name"))?;
    let snap = match set.catalog.get(apex.as_wire()) {
        Some(e) => match e.snapshot() {
            Some(s) => s,
            None => return Err(format!("zone {apex} is not served (not loaded, or expired)")),
        },
        None => return Err(format!("no zone {apex}")),
    };
    let owner = match args.get(1) {
        Some(o) => {
            let n = absolute(o, apex.as_wire()).ok_or_else(|| format!("{o:?} is not a domain name"))?;
            if !is_subdomain(n.as_wire(), apex.as_wire()) {
                return Err(format!("{n} is not in zone {apex}"));
            }
            Some(n)
        }
        None => None,
    };
    let rtype = match args.get(2) {
        Some(t) => Some(rdata::rtype_from_text(t).ok_or_else(|| format!("{t:?} is not a record type"))?),
        None => None,
    };
    if args.len() > 3 {
        return Err("zone-read takes a zone, an owner and a type".into());
    }
    let mut nodes: Vec<_> = match &owner {
        Some(o) => snap.node(o.as_wire()).into_iter().collect(),
        None => snap.nodes().collect(),
    };
    nodes.sort_by(|a, b| canonical_cmp(a.name(), b.name()));
    let mut lines = Vec::new();
    for node in nodes {
        let mut owner_text = String::new();
        text::push_name(&mut owner_text, node.name());
        let mut sets: Vec<_> = node.rrsets().filter(|s| rtype.is_none_or(|t| t == s.rtype)).collect();
        // The SOA first, as a zone file and a zone transfer have it; then by type.
        sets.sort_by_key(|s| (s.rtype != shoal_wire::Rtype::SOA, s.rtype.0));
        for set in sets {
            let type_text = rdata::rtype_name(set.rtype).into_owned();
            for rd in set.rdatas() {
                let mut rdata_text = String::new();
                rdata::format(set.rtype, rd, &mut rdata_text);
                lines.push(Line {
                    owner: owner_text.clone(),
                    ttl: set.ttl,
                    class: "IN",
                    rtype: type_text.clone(),
                    rdata: rdata_text,
                });
            }
        }
    }
    if json {
        return Ok(serde_json::to_string_pretty(&lines).unwrap_or_default() + "\n");
    }
    let mut out = String::new();
    for l in &lines {
        let _ = writeln!(out, "{} {} {} {} {}", l.owner, l.ttl, l.class, l.rtype, l.rdata);
    }
    Ok(out)
}

/// A name from the command line, completed with `origin` when relative.
fn absolute(t: &str, origin: &[u8]) -> Option<Name> {
    Name::from_wire(&text::name(t, origin).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    fn set() -> ZoneSet {
        let apex = shoal_wire::name::from_ascii("example.com.").unwrap();
        let text = "$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nb A 192.0.2.2\nb TXT \"x y\"\n\
                    a CAA 0 issue \"ca.example.net\"\n_tcp SRV 0 5 5060 b\n";
        let snap = shoal_zonedb::load_zone_str(&apex, text, Path::new("t")).unwrap();
        let mut catalog = shoal_zonedb::Catalog::new();
        use shoal_zonedb::ZoneState;
        catalog.insert(apex, ZoneState::Ready(Arc::new(snap)));
        catalog.insert(shoal_wire::name::from_ascii("down.test.").unwrap(), ZoneState::Failed);
        ZoneSet::uncounted(catalog)
    }

    #[test]
    fn whole_zone_in_canonical_order_with_rdata_as_text() {
        let out = zone_read(&set(), &["example.com"], false).unwrap();
        let want = "example.com. 300 IN SOA ns.example.com. hm.example.com. 1 2 3 4 5\n\
                    example.com. 300 IN NS ns.example.com.\n\
                    _tcp.example.com. 300 IN SRV 0 5 5060 b.example.com.\n\
                    a.example.com. 300 IN CAA 0 issue \"ca.example.net\"\n\
                    b.example.com. 300 IN A 192.0.2.2\n\
                    b.example.com. 300 IN TXT \"x y\"\n\
                    ns.example.com. 300 IN A 192.0.2.1\n";
        assert_eq!(out, want);
    }

    #[test]
    fn owner_and_type_filter_and_json() {
        let s = set();
        assert_eq!(zone_read(&s, &["example.com.", "b", "TXT"], false).unwrap(), "b.example.com. 300 IN TXT \"x y\"\n");
        assert_eq!(
            zone_read(&s, &["example.com.", "@", "ns"], false).unwrap(),
            "example.com. 300 IN NS ns.example.com.\n"
        );
        assert_eq!(zone_read(&s, &["example.com.", "nothere"], false).unwrap(), "");
        let j: serde_json::Value =
            serde_json::from_str(&zone_read(&s, &["example.com.", "ns"], true).unwrap()).unwrap();
        assert_eq!(j[0]["type"], "A");
        assert_eq!(j[0]["rdata"], "192.0.2.1");
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let s = set();
        assert_eq!(zone_read(&s, &["example.org."], false).unwrap_err(), "no zone example.org.");
        assert!(zone_read(&s, &["down.test."], false).unwrap_err().contains("not served"));
        assert!(zone_read(&s, &["example.com.", "www.example.org."], false).unwrap_err().contains("not in zone"));
        assert!(zone_read(&s, &["example.com.", "b", "BOGUS"], false).unwrap_err().contains("not a record type"));
        assert!(zone_read(&s, &[], false).is_err());
    }
}
