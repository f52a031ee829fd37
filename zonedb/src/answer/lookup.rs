//! Finding where a name falls in a zone (RFC 1034 §4.3.2 step 3, RFC 4592, RFC 6672).
//!
//! [`Snapshot::lookup`] walks the qname's ancestors from the apex down, one hash probe
//! per label, and stops at the first of: a zone cut (referral), a DNAME at a proper
//! ancestor, or a missing name (then the closest encloser's wildcard child is tried).
//! A DS query at a cut is answered from the parent side (RFC 4035 §3.1.4.1), so the walk
//! does not stop at a cut equal to the qname when the type is DS. A name that holds only
//! NSEC3 records (and their RRSIGs) does not exist for queries (RFC 5155 §7.2.8).

use crate::store::flags;
use crate::store::node::NodeRef;
use crate::store::snapshot::Snapshot;
use shoal_wire::name::MAX_LABELS;
use shoal_wire::{NameBuf, Rtype};

/// Where a name falls in a zone.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'s> {
    /// The name exists (an empty-non-terminal is a node without RRsets).
    Found { node: NodeRef<'s> },
    /// No such name, but the wildcard `*.<encloser>` matches (`encloser` is the closest
    /// encloser, a suffix of the name).
    Wildcard { node: NodeRef<'s>, encloser: &'s [u8] },
    /// No such name and no wildcard; `encloser` is the closest encloser.
    NxDomain { encloser: &'s [u8] },
    /// The name is at or below the zone cut `cut`.
    Referral { cut: &'s [u8], node: NodeRef<'s> },
    /// A DNAME at `owner`, a proper ancestor of the name, redirects it.
    Dname { owner: &'s [u8], node: NodeRef<'s> },
}

impl Snapshot {
    /// Look `qname` (lowercase wire, inside this zone) up for `qtype`.
    pub fn lookup(&self, qname: &[u8], qtype: Rtype) -> Lookup<'_> {
        // The common case in one probe: the name exists and nothing above it redirects.
        if let Some(node) = self.node(qname).filter(|&n| !self.hashed_name_only(n)) {
            if !node.has(flags::BELOW_CUT | flags::BELOW_DNAME) {
                if node.has(flags::DELEGATION) && qtype != Rtype::DS {
                    return Lookup::Referral { cut: node.name(), node };
                }
                return Lookup::Found { node };
            }
        }
        let mut starts = [0u8; MAX_LABELS + 1];
        let mut q = 0;
        let mut i = 0;
        while i < qname.len() && qname[i] != 0 && q < MAX_LABELS {
            starts[q] = i as u8;
            q += 1;
            i += 1 + qname[i] as usize;
        }
        starts[q] = i as u8;
        let a = self.apex_labels();
        if q < a {
            return Lookup::NxDomain { encloser: self.apex().as_wire() };
        }
        let mut encloser: &[u8] = self.apex().as_wire();
        for d in a..=q {
            let suffix = &qname[starts[q - d] as usize..];
            // A name holding only NSEC3 records does not exist for queries (RFC 5155
            // §7.2.8, erratum 4622), as Knot and NSD answer: the hashed chain is not part
            // of the zone's names.
            let Some(node) = self.node(suffix).filter(|&n| !self.hashed_name_only(n)) else {
                return self.wildcard(encloser);
            };
            let owner = node.name();
            encloser = owner;
            let at_qname = d == q;
            if node.has(flags::DELEGATION) && !(at_qname && qtype == Rtype::DS) {
                return Lookup::Referral { cut: owner, node };
            }
            if !at_qname && node.has(flags::DNAME) {
                return Lookup::Dname { owner, node };
            }
            if at_qname {
                return Lookup::Found { node };
            }
        }
        Lookup::NxDomain { encloser: self.apex().as_wire() }
    }

    /// Below `encloser`, the closest encloser of a missing name: its wildcard, or none.
    fn wildcard<'s>(&'s self, encloser: &'s [u8]) -> Lookup<'s> {
        let nx = Lookup::NxDomain { encloser };
        let Some(ce) = self.node(encloser) else { return nx };
        if !ce.has(flags::WILDCARD_CHILD) {
            return nx;
        }
        let mut w = NameBuf::default();
        if w.set_concat(b"\x01*", encloser).is_err() {
            return nx;
        }
        match self.node(w.as_wire()) {
            Some(node) => Lookup::Wildcard { node, encloser },
            None => nx,
        }
    }
}
