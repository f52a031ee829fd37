//! Catalog zones (RFC 9432) in the configuration: a zone's role (consumer or
//! producer), the producer catalog a configured zone is listed in, the
//! `[[catalog_group]]` settings a consumer gives the members of a group, and the
//! configuration of a member zone a consumed catalog brings in.
//!
//! A consumer catalog is an ordinary secondary zone; its members become secondary
//! zones of the same primaries, with the catalog's settings, overridden by those of
//! the member's group. A producer catalog has no file: Shoal writes it from the
//! configured zones that name it (`catalog = "…"`).

use super::zone::{CatalogGroup, CatalogRole, Listed, Membership, ZoneConfig, ZoneSource};
use crate::access::acl::Acl;
use shoal_wire::Name;

impl ZoneConfig {
    /// The configuration of a member zone of this (consumer) catalog: a secondary of
    /// the catalog's primaries with the catalog's settings, then those of `group` where
    /// it sets them.
    pub fn member(&self, zone: Name, membership: Membership, group: Option<&CatalogGroup>) -> ZoneConfig {
        let mut z = self.clone();
        z.name = zone;
        z.catalog = CatalogRole::None;
        z.listed_in = None;
        z.member_of = Some(membership);
        if let Some(g) = group {
            if let Some(p) = &g.primaries {
                // NOTIFY comes from the primaries unless the catalog says otherwise.
                if self.allow_notify == Acl::hosts(self.primaries()) {
                    z.allow_notify = Acl::hosts(p);
                }
                z.source = ZoneSource::Primaries(p.clone());
            }
            if let Some(k) = g.transfer_key {
                z.transfer_key = k;
            }
            if let Some(t) = g.transfer_tls {
                z.transfer_tls = Some(t);
            }
            if let Some(a) = &g.allow_transfer {
                z.allow_transfer = a.clone();
            }
            if let Some(n) = &g.notify {
                z.notify = n.clone();
            }
            if let Some(v) = g.zonemd_verify {
                z.zonemd_verify = v;
            }
        }
        z
    }
}

/// Check the catalog links of every zone and fill in each producer's member list: a
/// zone's `catalog` must name a producer catalog, a group needs a catalog, and no
/// catalog is listed in a catalog.
pub(super) fn link(zones: &mut [ZoneConfig], groups: &[CatalogGroup]) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for g in groups {
        if !names.insert(g.name.as_str()) {
            return Err(format!("catalog_group {:?} is configured twice", g.name));
        }
    }
    let producers: std::collections::HashMap<Name, usize> = zones
        .iter()
        .enumerate()
        .filter(|(_, z)| matches!(z.catalog, CatalogRole::Producer(_)))
        .map(|(i, z)| (z.name.clone(), i))
        .collect();
    let mut listed: Vec<(usize, Listed)> = Vec::new();
    for z in zones.iter() {
        let Some((catalog, group)) = &z.listed_in else { continue };
        let Some(&i) = producers.get(catalog) else {
            return Err(format!(
                "zone {}: catalog {catalog} is not a configured zone with catalog_role = \"producer\"",
                z.name
            ));
        };
        if z.catalog != CatalogRole::None {
            return Err(format!("zone {}: a catalog zone cannot be listed in a catalog", z.name));
        }
        listed.push((i, Listed { zone: z.name.clone(), group: group.clone() }));
    }
    listed.sort_by(|a, b| a.1.zone.cmp(&b.1.zone));
    for (i, l) in listed {
        if let CatalogRole::Producer(members) = &mut zones[i].catalog {
            members.push(l);
        }
    }
    Ok(())
}

/// A group's name as a TXT string can carry it (RFC 9432 §4.4.2): at most 255 bytes.
pub(super) fn check_group_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err(format!("catalog group name {name:?} must be 1 to 255 bytes"));
    }
    Ok(())
}
