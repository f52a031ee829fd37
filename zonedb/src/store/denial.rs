//! [`Denial`]: how a signed zone proves that names and types do not exist, worked out
//! once per version: whether the apex is signed, and which chain its denials come from
//! (NSEC3 when the apex has an NSEC3PARAM, NSEC when it has an NSEC, RFC 5155 §7.2,
//! RFC 4035 §3.1.3), with the [`Chain`] of that chain's owners.

use crate::store::chain::{base32hex_decode, canonical_key, Chain, ChainKind, Nsec3Params, MAX_KEY};
use crate::store::node::NodeRef;
use shoal_wire::Rtype;

/// A key of the chain, on the stack.
pub struct Key {
    bytes: [u8; MAX_KEY],
    len: usize,
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Key {
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn of(f: impl FnOnce(&mut [u8; MAX_KEY]) -> Option<usize>) -> Option<Key> {
        let mut bytes = [0u8; MAX_KEY];
        let len = f(&mut bytes)?;
        Some(Key { bytes, len })
    }
}

/// The denial side of a version.
#[derive(Debug, Clone, Default)]
pub enum Denial {
    /// No chain: the zone is unsigned, or signed without NSEC or NSEC3 at the apex.
    #[default]
    None,
    Nsec(Chain),
    Nsec3 {
        params: Nsec3Params,
        chain: Chain,
        /// The hash of the apex, computed once (what denials carry when the iterations
        /// are too many to hash per query, [`Nsec3Params::hashed`]).
        apex_key: [u8; 20],
    },
}

impl Denial {
    /// The kind of denial the apex asks for, with an empty chain.
    pub fn for_apex(apex: NodeRef<'_>) -> Denial {
        let empty = || std::iter::empty::<&[u8]>();
        if let Some(params) = apex.rrset(Rtype::NSEC3PARAM).and_then(|p| p.rdatas().find_map(Nsec3Params::parse)) {
            let apex_key = params.key(apex.name());
            return Denial::Nsec3 { params, chain: Chain::new(ChainKind::Nsec3, empty()), apex_key };
        }
        if apex.rrset(Rtype::NSEC).is_some() {
            return Denial::Nsec(Chain::new(ChainKind::Nsec, empty()));
        }
        Denial::None
    }

    /// The denial of a version whose nodes are `nodes`, with its chain sorted. Each
    /// key is copied straight into the chain's arena as the nodes go by.
    pub fn scan<'n>(apex: NodeRef<'_>, nodes: impl Iterator<Item = NodeRef<'n>>) -> Denial {
        let mut d = Denial::for_apex(apex);
        let apex_name = apex.name();
        let kind = match &d {
            Denial::None => return d,
            Denial::Nsec(_) => ChainKind::Nsec,
            Denial::Nsec3 { .. } => ChainKind::Nsec3,
        };
        let chain = Chain::new(kind, nodes.filter_map(|n| d.key_of(n, apex_name)));
        if let Some(c) = d.chain_mut() {
            *c = chain;
        }
        d
    }

    /// Whether two apexes ask for the same denial (same kind, same NSEC3 parameters).
    pub fn same_kind(a: NodeRef<'_>, b: NodeRef<'_>) -> bool {
        match (Denial::for_apex(a), Denial::for_apex(b)) {
            (Denial::None, Denial::None) | (Denial::Nsec(_), Denial::Nsec(_)) => true,
            (Denial::Nsec3 { params: x, .. }, Denial::Nsec3 { params: y, .. }) => x == y,
            _ => false,
        }
    }

    /// The chain key of `node` when it is a link of this chain: it owns an NSEC, or an
    /// NSEC3 of these parameters one label below the apex.
    pub fn key_of(&self, node: NodeRef<'_>, apex: &[u8]) -> Option<Key> {
        match self {
            Denial::None => None,
            Denial::Nsec(_) => {
                node.rrset(Rtype::NSEC)?;
                Key::of(|out| Some(canonical_key(node.name(), out)))
            }
            Denial::Nsec3 { params, .. } => {
                let name = node.name();
                let label = &name[1..=usize::from(name[0])];
                if name.len() != 1 + label.len() + apex.len() || !name.ends_with(apex) {
                    return None;
                }
                node.rrset(Rtype::NSEC3)?.rdatas().find(|rd| params.matches(rd))?;
                Key::of(|out| base32hex_decode(label, &mut out[..40]))
            }
        }
    }

    pub fn chain(&self) -> Option<&Chain> {
        match self {
            Denial::None => None,
            Denial::Nsec(c) | Denial::Nsec3 { chain: c, .. } => Some(c),
        }
    }

    pub fn chain_mut(&mut self) -> Option<&mut Chain> {
        match self {
            Denial::None => None,
            Denial::Nsec(c) | Denial::Nsec3 { chain: c, .. } => Some(c),
        }
    }
}
