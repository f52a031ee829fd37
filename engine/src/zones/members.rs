//! The member zones of consumed catalogs (RFC 9432 §5): each consumer catalog's
//! published version is read ([`crate::zones::catalog::read`]) and the registry's
//! member zones are brought in line with every catalog at once.
//!
//! - A new member becomes a secondary zone of the catalog's primaries, with the
//!   catalog's settings and its group's ([`crate::config::ZoneConfig::member`]); its
//!   copy in the state directory, if one is there, is served at once.
//! - A member no longer listed is removed, with its copy and journal.
//! - A member whose unique ID changed is reset: removed with its state and
//!   transferred again.
//! - A member listed by another catalog than its owner moves there only when the
//!   owner's `coo` property names that catalog (and is reset unless the unique ID
//!   stays the same); otherwise, and when it is a configured zone, it is refused,
//!   logged once and counted.
//!
//! Members live in the registry only: the configuration never lists them, and a
//! restart finds them again from the catalog's copy.

use crate::config::{CatalogRole, Membership, ZoneConfig};
use crate::zones::catalog;
use crate::zones::entry::load_all;
use crate::zones::registry::Registry;
use shoal_wire::Name;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Member zones added and removed by a sync, for the transfer side's timers.
#[derive(Debug, Default)]
pub struct MemberChanges {
    pub added: Vec<Name>,
    pub removed: Vec<Name>,
}

/// What becomes of one member zone.
enum Step {
    /// Added (or reset: its old state removed first); `joining` when its catalog's
    /// members were synced before.
    Add {
        config: ZoneConfig,
        reset: bool,
        joining: bool,
    },
    /// Kept, with this configuration.
    Keep(ZoneConfig),
    Remove,
}

impl Registry {
    /// A consumer catalog has a new version published: read it at the next sync.
    pub fn catalogs_due(&self) -> bool {
        self.catalogs_due
    }

    /// Read every consumer catalog whose published version is new, then add, reset,
    /// move and remove member zones to match all of them. `force` re-derives every
    /// member's configuration (after a reload).
    pub fn sync_catalogs(&mut self, force: bool) -> MemberChanges {
        self.catalogs_due = false;
        let mut consumers: Vec<Name> = self
            .zones
            .iter()
            .filter(|(_, e)| e.config.catalog == CatalogRole::Consumer)
            .map(|(n, _)| n.clone())
            .collect();
        consumers.sort();
        let mut changed = force;
        let before = self.catalogs.len();
        self.catalogs.retain(|c, _| consumers.contains(c));
        changed |= self.catalogs.len() != before;
        for c in &consumers {
            changed |= self.read_catalog(c);
        }
        if !changed {
            return MemberChanges::default();
        }
        let steps = self.plan(&consumers, force);
        let changes = self.carry_out(steps);
        for k in self.catalogs.values_mut() {
            k.settled |= k.usable;
        }
        changes
    }

    /// Read a consumer catalog's published version if it is new; whether it was.
    fn read_catalog(&mut self, c: &Name) -> bool {
        let Some(s) = self.zones.get(c).and_then(|e| e.snapshot.clone()) else { return false };
        let consumed = self.catalogs.entry(c.clone()).or_default();
        if consumed.serial == Some(s.serial()) {
            return false;
        }
        consumed.serial = Some(s.serial());
        match catalog::read(&s) {
            Ok(m) => {
                for p in &m.problems {
                    tracing::warn!(catalog = %c, serial = s.serial(), "catalog entry left out: {p}");
                }
                tracing::info!(catalog = %c, serial = s.serial(), members = m.zones.len(), "catalog read");
                consumed.members = m.zones;
                consumed.usable = true;
                true
            }
            Err(e) => {
                tracing::error!(catalog = %c, serial = s.serial(), "catalog not used, its members kept as they were: {e}");
                false
            }
        }
    }

    /// Decide each member zone's fate, and which catalogs refuse which members.
    fn plan(&mut self, consumers: &[Name], force: bool) -> BTreeMap<Name, Step> {
        // Every member zone, with the catalogs that list it.
        let mut listed: BTreeMap<&Name, Vec<&Name>> = BTreeMap::new();
        for c in consumers {
            for m in self.catalogs.get(c).into_iter().flat_map(|k| k.members.keys()) {
                listed.entry(m).or_default().push(c);
            }
        }
        let mut steps = BTreeMap::new();
        let mut refused: HashMap<&Name, HashSet<Name>> = HashMap::new();
        let mut owned: HashMap<&Name, usize> = HashMap::new();
        let unread = |c: &Name| consumers.contains(c) && !self.catalogs.get(c).is_some_and(|k| k.usable);
        for (&m, cats) in &listed {
            let entry = self.zones.get(m);
            let owner = match entry.map(|e| e.config.member_of.as_ref()) {
                // A configured zone, or the member of a catalog not read yet: no other
                // catalog may take it.
                Some(None) => None,
                Some(Some(ms)) if unread(&ms.catalog) => None,
                Some(Some(ms)) if cats.contains(&&ms.catalog) => {
                    // Moving where the owner's coo property says, if that catalog lists it.
                    let coo = self.catalogs[&ms.catalog].members[m].coo.as_ref();
                    Some(cats.iter().copied().find(|c| Some(*c) == coo).unwrap_or(&ms.catalog))
                }
                // New, or no longer listed by its owner: the first catalog listing it.
                _ => Some(cats[0]),
            };
            for &c in cats {
                // A catalog whose coo property hands the member to its owner does not
                // refuse it: it is moving, or has moved.
                let handed_over = owner.is_some() && self.catalogs[c].members[m].coo.as_ref() == owner;
                if Some(c) != owner && !handed_over {
                    refused.entry(c).or_default().insert(m.clone());
                }
            }
            let Some(c) = owner else { continue };
            *owned.entry(c).or_default() += 1;
            let member = &self.catalogs[c].members[m];
            let membership = Membership { catalog: c.clone(), id: member.id.clone(), group: member.group.clone() };
            let held = entry.and_then(|e| e.config.member_of.as_ref());
            let unchanged = held == Some(&membership);
            if unchanged && !force {
                continue;
            }
            let group = member.group.as_deref().and_then(|g| self.config.catalog_groups.iter().find(|x| x.name == g));
            let config = self.zones[c].config.member(m.clone(), membership, group);
            let joining = self.catalogs[c].settled;
            let step = match held {
                Some(h) if h.id == member.id => Step::Keep(config),
                Some(h) => {
                    tracing::info!(zone = %m, catalog = %c, from = %h.catalog, "catalog member reset: its unique ID changed");
                    Step::Add { config, reset: true, joining }
                }
                None => Step::Add { config, reset: false, joining },
            };
            if let Some(h) = held.filter(|h| h.catalog != *c) {
                tracing::info!(zone = %m, from = %h.catalog, to = %c, "catalog member changes owner (coo)");
            }
            steps.insert(m.clone(), step);
        }
        // Members whose catalogs no longer list them, or are no longer configured. A
        // catalog with no usable version yet keeps what it owns.
        for (name, e) in &self.zones {
            let Some(ms) = &e.config.member_of else { continue };
            if !listed.contains_key(name) && !unread(&ms.catalog) {
                steps.insert(name.clone(), Step::Remove);
            }
        }
        for (c, k) in self.catalogs.iter_mut() {
            let now = refused.remove(c).unwrap_or_default();
            for m in now.difference(&k.refused) {
                k.refused_total += 1;
                let why = match self.zones.get(m).and_then(|e| e.config.member_of.as_ref()) {
                    Some(ms) => format!("it is a member of catalog {} (no coo property names this one)", ms.catalog),
                    None if self.zones.contains_key(m) => "it is a configured zone".into(),
                    None => "another catalog lists it first".into(),
                };
                tracing::warn!(zone = %m, catalog = %c, "catalog member refused: {why}");
            }
            k.refused = now;
            k.owned = owned.get(c).copied().unwrap_or(0);
        }
        steps
    }

    /// Carry out the plan: remove, reset, add (loading any copies on every core), and
    /// reconfigure member zones.
    fn carry_out(&mut self, steps: BTreeMap<Name, Step>) -> MemberChanges {
        let mut changes = MemberChanges::default();
        let mut new = Vec::new();
        let mut joining = HashSet::new();
        // A member reconfigured (its group's key or primaries) changes the NOTIFY policy.
        let reconfigured = steps.values().any(|s| matches!(s, Step::Keep(_)));
        for (name, step) in steps {
            match step {
                Step::Keep(config) => {
                    if let Some(e) = self.zones.get_mut(&name) {
                        e.journal.set_limit(config.ixfr_journal);
                        e.config = config;
                    }
                }
                Step::Remove => {
                    self.remove_member(&name);
                    changes.removed.push(name);
                }
                Step::Add { config, reset, joining: j } => {
                    self.removed_state.remove(&name);
                    if j {
                        joining.insert(name.clone());
                    }
                    if reset {
                        self.remove_member(&name);
                        changes.removed.push(name.clone());
                    }
                    tracing::info!(zone = %name, catalog = %config.member_of.as_ref().map_or(String::new(), |m| m.catalog.to_string()), "catalog member added");
                    changes.added.push(name);
                    new.push(config);
                }
            }
        }
        for (name, mut e) in load_all(&new, self.config.answering_threads()) {
            e.joining = e.snapshot.is_none() && joining.contains(&name);
            self.zones.insert(name, e);
        }
        if reconfigured || !changes.added.is_empty() || !changes.removed.is_empty() {
            self.mark_rebuild();
        }
        changes
    }

    /// Drop a member zone and delete its copy and journal.
    fn remove_member(&mut self, name: &Name) {
        let Some(e) = self.zones.remove(name) else { return };
        let paths: Vec<_> = [e.config.state_path(), e.config.journal_path()].into_iter().flatten().collect();
        delete(name, &paths);
        if e.secondary.as_ref().is_some_and(|s| s.in_flight) || e.flushing.is_some() || e.saving {
            // A check, journal or copy write still running may write them again.
            self.removed_state.insert(name.clone(), paths);
        }
        tracing::info!(zone = %name, "catalog member removed with its state");
    }

    /// Delete again the state files of a removed member that a check, journal or copy
    /// write finishing after its removal may have written (kept until the zone comes
    /// back: several such writes may finish).
    pub fn delete_removed_state(&self, name: &Name) {
        if let Some(paths) = self.removed_state.get(name) {
            delete(name, paths);
        }
    }
}

/// Delete a removed member's state files (a file already gone is fine).
fn delete(name: &Name, paths: &[std::path::PathBuf]) {
    for path in paths {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!(zone = %name, "cannot delete {}: {err}", path.display()),
        }
    }
}
