//! Denial-of-existence proofs in answers to DO queries from signed zones: the NSEC
//! (RFC 4035 §3.1.3) or NSEC3 (RFC 5155 §7.2) records, each with its RRSIGs, that
//! prove a name or type absent, a wildcard expansion legitimate, or a delegation
//! insecure. They go in the authority section after everything else there.
//!
//! The records are found through the zone's chain ([`crate::store::chain`]): one
//! binary search for each record that matches or covers a name. For NSEC3 each name
//! a proof needs is hashed once per query, never per record compared; a chain whose
//! iteration count is above [`crate::store::chain::MAX_ITERATIONS`] is not hashed per query at all: its
//! denials carry the NSEC3 record of the apex, whose parameters tell a validator to
//! treat the zone as insecure (RFC 9276 §3.2). A record written once is not repeated
//! (the NSEC covering a name may also cover its wildcard).

use crate::store::chain::{canonical_key, Chain, Nsec3Params, MAX_KEY};
use crate::store::denial::Denial;
use crate::store::encode::{rrset_and_sigs, write_signed};
use crate::store::snapshot::Snapshot;
use shoal_wire::name::{label_count, NameBuf};
use shoal_wire::writer::{Owner, ResponseWriter, Section};
use shoal_wire::Rtype;

/// What a proof shows.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Denied<'n> {
    /// `name` does not exist and no wildcard matches it; `encloser` is its closest
    /// encloser (RFC 4035 §3.1.3.2, RFC 5155 §7.2.2).
    NxDomain { name: &'n [u8], encloser: &'n [u8] },
    /// `name` exists but has no data of the type asked (RFC 4035 §3.1.3.1, RFC 5155
    /// §7.2.3, §7.2.4 for DS).
    NoData { name: &'n [u8] },
    /// `name` was answered from the wildcard below `encloser`: no closer match exists
    /// (RFC 4035 §3.1.3.3, RFC 5155 §7.2.6).
    WildcardAnswer { name: &'n [u8], encloser: &'n [u8] },
    /// `name` matched the wildcard below `encloser`, which has no data of the type
    /// asked (RFC 4035 §3.1.3.4, RFC 5155 §7.2.5).
    WildcardNoData { name: &'n [u8], encloser: &'n [u8] },
    /// The delegation at `cut` has no DS (RFC 4035 §3.1.4, RFC 5155 §7.2.7).
    Insecure { cut: &'n [u8] },
}

/// The suffix of `name` with `labels` labels.
pub(crate) fn suffix(name: &[u8], labels: usize) -> &[u8] {
    let mut skip = label_count(name).saturating_sub(labels);
    let mut i = 0;
    while skip > 0 && name[i] != 0 {
        i += 1 + usize::from(name[i]);
        skip -= 1;
    }
    &name[i..]
}

/// Writes the proofs of one answer, remembering what it wrote.
pub(crate) struct Prover<'a, 'w> {
    snap: &'a Snapshot,
    w: &'a mut ResponseWriter<'w>,
    written: [NameBuf; 4],
    count: usize,
}

impl<'a, 'w> Prover<'a, 'w> {
    pub(crate) fn new(snap: &'a Snapshot, w: &'a mut ResponseWriter<'w>) -> Self {
        Prover { snap, w, written: Default::default(), count: 0 }
    }

    /// Write the proof of `what`. Returns false if it did not fit (TC is then set).
    pub(crate) fn prove(&mut self, what: Denied<'_>) -> bool {
        match self.snap.denial() {
            Denial::None => true,
            Denial::Nsec(chain) => self.nsec(chain, what),
            Denial::Nsec3 { params, chain, .. } if params.hashed() => self.nsec3(params, chain, what),
            Denial::Nsec3 { chain, apex_key, .. } => self.nsec3_matching(chain, apex_key, self.snap.apex().as_wire()),
        }
    }

    /// Write the `rtype` RRset at `owner` with its signatures, once per answer.
    fn record(&mut self, owner: &[u8], rtype: Rtype) -> bool {
        if self.written[..self.count].iter().any(|n| n.as_wire() == owner) {
            return true;
        }
        let Some(node) = self.snap.node(owner) else { return true };
        let (Some(set), sigs) = rrset_and_sigs(node, rtype, true) else { return true };
        if !write_signed(self.w, Section::Authority, Owner::Name(node.name()), set, sigs) {
            return false;
        }
        if self.count < self.written.len() {
            let _ = self.written[self.count].set(owner);
            self.count += 1;
        }
        true
    }

    // NSEC (RFC 4035 §3.1.3).

    /// The NSEC that matches or covers `name`.
    fn nsec_covering(&mut self, chain: &Chain, name: &[u8]) -> bool {
        let mut key = [0u8; MAX_KEY];
        let len = canonical_key(name, &mut key);
        let mut owner = NameBuf::default();
        match chain.covering(&key[..len]) {
            Some(k) if chain.owner(k, &[], &mut owner) => self.record(owner.as_wire(), Rtype::NSEC),
            _ => true,
        }
    }

    /// The NSEC at `name` (or, at an empty non-terminal, the one covering it).
    fn nsec_at(&mut self, chain: &Chain, name: &[u8]) -> bool {
        match self.snap.node(name).filter(|n| n.rrset(Rtype::NSEC).is_some()) {
            Some(_) => self.record(name, Rtype::NSEC),
            None => self.nsec_covering(chain, name),
        }
    }

    fn nsec(&mut self, chain: &Chain, what: Denied<'_>) -> bool {
        let mut wild = NameBuf::default();
        match what {
            Denied::NxDomain { name, encloser } => {
                self.nsec_covering(chain, name)
                    && (wild.set_concat(b"\x01*", encloser).is_err() || self.nsec_covering(chain, wild.as_wire()))
            }
            Denied::NoData { name } => self.nsec_at(chain, name),
            Denied::WildcardAnswer { name, .. } => self.nsec_covering(chain, name),
            Denied::WildcardNoData { name, encloser } => {
                self.nsec_covering(chain, name)
                    && (wild.set_concat(b"\x01*", encloser).is_err() || self.nsec_at(chain, wild.as_wire()))
            }
            Denied::Insecure { cut } => self.nsec_at(chain, cut),
        }
    }

    // NSEC3 (RFC 5155 §7.2).

    /// The NSEC3 whose hash is `key`, if the chain has it; false only if it did not fit.
    fn nsec3_matching(&mut self, chain: &Chain, key: &[u8], apex: &[u8]) -> bool {
        let mut owner = NameBuf::default();
        if !chain.contains(key) || !chain.owner(key, apex, &mut owner) {
            return true;
        }
        self.record(owner.as_wire(), Rtype::NSEC3)
    }

    /// The NSEC3 that covers the hash `key`.
    fn nsec3_covering(&mut self, chain: &Chain, key: &[u8], apex: &[u8]) -> bool {
        let mut owner = NameBuf::default();
        match chain.covering(key) {
            Some(k) if chain.owner(k, apex, &mut owner) => self.record(owner.as_wire(), Rtype::NSEC3),
            _ => true,
        }
    }

    /// The closest provable encloser proof of `name` (RFC 5155 §7.2.1), starting the
    /// search at its ancestor with `labels` labels: the NSEC3 matching the closest
    /// ancestor that has one, and the one covering the next closer name. When `name`
    /// itself matches, that NSEC3 alone. Returns how many labels the encloser has.
    fn closest_encloser(&mut self, p: &Nsec3Params, chain: &Chain, name: &[u8], labels: usize) -> (bool, usize) {
        let apex = self.snap.apex().as_wire();
        let apex_labels = self.snap.apex_labels();
        let mut at = labels.min(label_count(name)).max(apex_labels);
        let mut key = p.key(suffix(name, at));
        while at > apex_labels && !chain.contains(&key) {
            at -= 1;
            key = p.key(suffix(name, at));
        }
        let mut ok = self.nsec3_matching(chain, &key, apex);
        if at < label_count(name) {
            ok &= self.nsec3_covering(chain, &p.key(suffix(name, at + 1)), apex);
        }
        (ok, at)
    }

    fn nsec3(&mut self, p: &Nsec3Params, chain: &Chain, what: Denied<'_>) -> bool {
        let apex = self.snap.apex().as_wire();
        let mut wild = NameBuf::default();
        match what {
            Denied::NxDomain { name, encloser } => {
                let (ok, at) = self.closest_encloser(p, chain, name, label_count(encloser));
                ok && (wild.set_concat(b"\x01*", suffix(name, at)).is_err()
                    || self.nsec3_covering(chain, &p.key(wild.as_wire()), apex))
            }
            Denied::NoData { name } => self.closest_encloser(p, chain, name, label_count(name)).0,
            Denied::WildcardAnswer { name, encloser } => {
                let next_closer = suffix(name, label_count(encloser) + 1);
                self.nsec3_covering(chain, &p.key(next_closer), apex)
            }
            Denied::WildcardNoData { name, encloser } => {
                self.closest_encloser(p, chain, name, label_count(encloser)).0
                    && (wild.set_concat(b"\x01*", encloser).is_err()
                        || self.nsec3_matching(chain, &p.key(wild.as_wire()), apex))
            }
            Denied::Insecure { cut } => self.closest_encloser(p, chain, cut, label_count(cut)).0,
        }
    }
}
