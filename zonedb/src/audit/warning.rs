//! [`DnssecWarning`]: one thing the DNSSEC audit found wrong with a zone, with the owner
//! and type it concerns. Warnings do not stop a zone from loading.

use shoal_wire::rdata::rtype_name;
use shoal_wire::rdata::text::push_sig_time;
use shoal_wire::{Name, Rtype};
use std::fmt;

/// Signatures that expire within this many seconds of now are reported (7 days).
pub const EXPIRY_WARNING_SECONDS: u32 = 7 * 86400;

/// One finding of the DNSSEC audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnssecWarning {
    /// In a signed zone, an authoritative RRset that no RRSIG covers.
    Unsigned { owner: Name, rtype: Rtype },
    /// An RRSIG that expires within [`EXPIRY_WARNING_SECONDS`] of now.
    Expiring { owner: Name, covered: Rtype, key_tag: u16, expiration: u32 },
    /// An RRSIG whose expiration is past.
    Expired { owner: Name, covered: Rtype, key_tag: u16, expiration: u32 },
    /// An NSEC whose next owner name is not the next owner with an NSEC in canonical
    /// order (the apex, after the last).
    NsecChain { owner: Name, next: Name, expected: Name },
    /// In a zone with an NSEC chain, an authoritative owner (or delegation point) without
    /// an NSEC: the chain does not reach it.
    NsecMissing { owner: Name },
    /// An NSEC3 whose next hashed owner is not the next hash of its chain (the first,
    /// after the last); hashes in base32hex.
    Nsec3Chain { owner: Name, next: String, expected: String },
    /// An NSEC3 whose owner is not a base32hex hash label right below the apex.
    Nsec3Owner { owner: Name },
    /// The NSEC3PARAM at the apex asks for more iterations than Shoal hashes per query
    /// ([`crate::store::chain::MAX_ITERATIONS`]): denials carry the apex's NSEC3 only.
    Nsec3Iterations { owner: Name, iterations: u16 },
}

impl DnssecWarning {
    /// The owner the warning concerns.
    pub fn owner(&self) -> &Name {
        match self {
            DnssecWarning::Unsigned { owner, .. }
            | DnssecWarning::Expiring { owner, .. }
            | DnssecWarning::Expired { owner, .. }
            | DnssecWarning::NsecChain { owner, .. }
            | DnssecWarning::NsecMissing { owner }
            | DnssecWarning::Nsec3Chain { owner, .. }
            | DnssecWarning::Nsec3Owner { owner }
            | DnssecWarning::Nsec3Iterations { owner, .. } => owner,
        }
    }

    /// The type the warning concerns: the RRset's, or RRSIG, NSEC, NSEC3.
    pub fn rtype(&self) -> Rtype {
        match self {
            DnssecWarning::Unsigned { rtype, .. } => *rtype,
            DnssecWarning::Expiring { .. } | DnssecWarning::Expired { .. } => Rtype::RRSIG,
            DnssecWarning::NsecChain { .. } | DnssecWarning::NsecMissing { .. } => Rtype::NSEC,
            DnssecWarning::Nsec3Chain { .. } | DnssecWarning::Nsec3Owner { .. } => Rtype::NSEC3,
            DnssecWarning::Nsec3Iterations { .. } => Rtype::NSEC3PARAM,
        }
    }
}

fn time(t: u32) -> String {
    let mut s = String::new();
    push_sig_time(&mut s, t);
    s
}

impl fmt::Display for DnssecWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnssecWarning::Unsigned { owner, rtype } => {
                write!(f, "{owner} {}: no RRSIG covers this RRset in a signed zone", rtype_name(*rtype))
            }
            DnssecWarning::Expiring { owner, covered, key_tag, expiration } => write!(
                f,
                "{owner} RRSIG {} (key tag {key_tag}): expires {} (within 7 days)",
                rtype_name(*covered),
                time(*expiration)
            ),
            DnssecWarning::Expired { owner, covered, key_tag, expiration } => {
                write!(f, "{owner} RRSIG {} (key tag {key_tag}): expired {}", rtype_name(*covered), time(*expiration))
            }
            DnssecWarning::NsecChain { owner, next, expected } => {
                write!(f, "{owner} NSEC: next owner is {next}, the chain needs {expected}")
            }
            DnssecWarning::NsecMissing { owner } => {
                write!(f, "{owner} NSEC: none here; the NSEC chain leaves out this owner")
            }
            DnssecWarning::Nsec3Chain { owner, next, expected } => {
                write!(f, "{owner} NSEC3: next hashed owner is {next}, the chain needs {expected}")
            }
            DnssecWarning::Nsec3Owner { owner } => {
                write!(f, "{owner} NSEC3: owner is not a hash label right below the apex")
            }
            DnssecWarning::Nsec3Iterations { owner, iterations } => write!(
                f,
                "{owner} NSEC3PARAM: {iterations} iterations (RFC 9276 asks for 0); above {} Shoal does not \
                 hash names per query and denials carry only the apex's NSEC3, which validators treat as \
                 insecure",
                crate::store::chain::MAX_ITERATIONS
            ),
        }
    }
}
