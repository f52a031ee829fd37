//! The denial-of-existence chain of a signed zone: the owners of its NSEC records in
//! canonical order (RFC 4034 §6.1), or the hashes of its NSEC3 owners in hash order
//! (RFC 5155 §7.2), so that the record matching or covering a name is one binary search.
//!
//! Each entry is a key whose byte order is the chain's order, so a search is a run of
//! `memcmp`s: for NSEC the owner in canonical order ([`canonical_key`]), for NSEC3 the
//! raw hash of the owner's first label. Keys give the owner back ([`Chain::owner`]), so
//! nothing else is stored. The sorted keys of a complete version are shared (`Arc`)
//! by every version derived from it; names added or removed since are kept beside
//! them, as a snapshot keeps its changed nodes, so an IXFR costs what it changes.

use shoal_wire::name::NameBuf;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;

/// The longest key: a 255-byte name with every byte escaped, plus label ends.
pub const MAX_KEY: usize = 640;

/// NSEC3 hash algorithm 1, the only one defined (RFC 5155 §11): SHA-1.
pub const SHA1: u8 = 1;

/// Iterations above this are not hashed per query: denials then carry only the NSEC3
/// record of the apex, whose iteration count tells validators to treat the zone as
/// insecure (RFC 9276 §3.2; validators cap at 100 to 150).
pub const MAX_ITERATIONS: u16 = 150;

/// Which records the chain is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainKind {
    Nsec,
    Nsec3,
}

/// The canonical-order key of a lowercase wire name: its labels from the last to the
/// first, each ended by 0, bytes 0 and 1 escaped as `1 1` and `1 2`, so that comparing
/// keys bytewise is comparing names in canonical order. Returns the key's length.
pub fn canonical_key(name: &[u8], out: &mut [u8; MAX_KEY]) -> usize {
    let mut starts = [0u8; 128];
    let mut n = 0;
    let mut i = 0;
    while i < name.len() && name[i] != 0 && n < starts.len() {
        starts[n] = i as u8;
        n += 1;
        i += 1 + usize::from(name[i]);
    }
    let mut k = 0;
    for &s in starts[..n].iter().rev() {
        let s = usize::from(s);
        for &b in &name[s + 1..s + 1 + usize::from(name[s])] {
            if b <= 1 {
                out[k] = 1;
                out[k + 1] = b + 1;
                k += 2;
            } else {
                out[k] = b;
                k += 1;
            }
        }
        out[k] = 0;
        k += 1;
    }
    k
}

/// The name of a [`canonical_key`].
fn name_of_key(key: &[u8], out: &mut NameBuf) -> bool {
    let mut labels: [(u16, u16); 128] = [(0, 0); 128];
    let mut n = 0;
    let mut start = 0;
    for (i, &b) in key.iter().enumerate() {
        if b == 0 {
            if n == labels.len() {
                return false;
            }
            labels[n] = (start as u16, i as u16);
            n += 1;
            start = i + 1;
        }
    }
    let mut wire = [0u8; 256];
    let mut w = 0;
    for &(s, e) in labels[..n].iter().rev() {
        let len_at = w;
        w += 1;
        let mut i = usize::from(s);
        while i < usize::from(e) && w < 255 {
            let b = if key[i] == 1 && i + 1 < usize::from(e) {
                i += 1;
                key[i] - 1
            } else {
                key[i]
            };
            wire[w] = b;
            w += 1;
            i += 1;
        }
        wire[len_at] = (w - len_at - 1) as u8;
    }
    wire[w] = 0;
    out.set(&wire[..=w]).is_ok()
}

const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// The raw bytes of a base32hex label (RFC 4648 §7, no padding, either case): the hash
/// an NSEC3 owner's first label spells. `None` if it is not base32hex.
pub fn base32hex_decode(label: &[u8], out: &mut [u8]) -> Option<usize> {
    let (mut acc, mut bits, mut n) = (0u32, 0, 0);
    for &c in label {
        let v = match c.to_ascii_lowercase() {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'v' => c - b'a' + 10,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            n += 1;
        }
    }
    // Leftover bits must be zero padding.
    (acc & ((1 << bits) - 1) == 0).then_some(n)
}

/// Lowercase base32hex of `bytes`, without padding.
pub fn base32hex_encode(bytes: &[u8], out: &mut [u8]) -> usize {
    let (mut acc, mut bits, mut n) = (0u32, 0, 0);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out[n] = BASE32HEX[((acc >> bits) & 31) as usize];
            n += 1;
        }
    }
    if bits > 0 {
        out[n] = BASE32HEX[((acc << (5 - bits)) & 31) as usize];
        n += 1;
    }
    n
}

/// The NSEC3 hash of a lowercase wire name (RFC 5155 §5): SHA-1 of the name and salt,
/// then `iterations` more times of the digest and salt.
pub fn nsec3_hash(name: &[u8], salt: &[u8], iterations: u16) -> [u8; 20] {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(name);
    h.update(salt);
    let mut d: [u8; 20] = h.finalize_reset().into();
    for _ in 0..iterations {
        h.update(d);
        h.update(salt);
        d = h.finalize_reset().into();
    }
    d
}

/// The NSEC3 parameters of a zone: its NSEC3PARAM (RFC 5155 §4).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Nsec3Params {
    pub algorithm: u8,
    pub iterations: u16,
    pub salt: Box<[u8]>,
}

impl Nsec3Params {
    /// The parameters an NSEC3PARAM or NSEC3 RDATA starts with.
    pub fn parse(rdata: &[u8]) -> Option<Nsec3Params> {
        let salt_len = usize::from(*rdata.get(4)?);
        let salt = rdata.get(5..5 + salt_len)?;
        Some(Nsec3Params {
            algorithm: rdata[0],
            iterations: u16::from_be_bytes([rdata[2], rdata[3]]),
            salt: salt.into(),
        })
    }

    /// Whether an NSEC3 record belongs to the chain of these parameters.
    pub fn matches(&self, nsec3: &[u8]) -> bool {
        nsec3.len() > 5
            && nsec3[0] == self.algorithm
            && u16::from_be_bytes([nsec3[2], nsec3[3]]) == self.iterations
            && nsec3.get(5..5 + usize::from(nsec3[4])) == Some(&self.salt[..])
    }

    /// Whether Shoal hashes names of this chain per query ([`MAX_ITERATIONS`]).
    pub fn hashed(&self) -> bool {
        self.algorithm == SHA1 && self.iterations <= MAX_ITERATIONS
    }

    /// The chain's key of a lowercase wire name.
    pub fn key(&self, name: &[u8]) -> [u8; 20] {
        nsec3_hash(name, &self.salt, self.iterations)
    }
}

/// Sorted keys in one arena: `len:u16 key` back to back, and where each starts. Beside
/// each start, the 8 bytes that follow the prefix all keys share (the apex, for NSEC),
/// as a big-endian number padded with zeros: a search compares those first and reads
/// the arena only when they are equal, so most of its steps touch one array.
#[derive(Debug, Default)]
struct Sorted {
    arena: Vec<u8>,
    at: Vec<u32>,
    /// The leading bytes every key shares.
    common: Box<[u8]>,
    /// For each key, its 8 bytes after `common`.
    prefixes: Vec<u64>,
}

/// The 8 bytes of `key` from `skip` on, as a big-endian number padded with zeros: of two
/// keys, the smaller never has the larger number (zero is the smallest byte).
fn prefix(key: &[u8], skip: usize) -> u64 {
    let mut b = [0u8; 8];
    let rest = key.get(skip..).unwrap_or_default();
    let n = rest.len().min(8);
    b[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(b)
}

impl Sorted {
    fn key(&self, i: usize) -> &[u8] {
        let at = self.at[i] as usize;
        let len = usize::from(u16::from_le_bytes([self.arena[at], self.arena[at + 1]]));
        &self.arena[at + 2..at + 2 + len]
    }

    /// Index of the last key `<= target`, if any.
    fn last_at_most(&self, target: &[u8]) -> Option<usize> {
        let fast = target.starts_with(&self.common);
        let want = prefix(target, self.common.len());
        let (mut lo, mut hi) = (0, self.at.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at_most = match self.prefixes[mid].cmp(&want) {
                std::cmp::Ordering::Less if fast => true,
                std::cmp::Ordering::Greater if fast => false,
                _ => self.key(mid) <= target,
            };
            if at_most {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1)
    }
}

/// The later of two keys, either of which may be missing.
fn later<'k>(a: Option<&'k [u8]>, b: Option<&'k [u8]>) -> Option<&'k [u8]> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// The chain of one version.
#[derive(Debug, Clone)]
pub struct Chain {
    kind: ChainKind,
    base: Arc<Sorted>,
    /// Keys added since `base` was sorted.
    added: BTreeSet<Box<[u8]>>,
    /// Keys of `base` removed since.
    removed: BTreeSet<Box<[u8]>>,
}

impl Chain {
    /// A chain of `keys` (in any order; duplicates dropped).
    pub fn new(kind: ChainKind, keys: impl Iterator<Item = impl AsRef<[u8]>>) -> Chain {
        let mut arena = Vec::new();
        let mut at = Vec::new();
        for k in keys {
            let k = k.as_ref();
            at.push(arena.len() as u32);
            arena.extend_from_slice(&(k.len() as u16).to_le_bytes());
            arena.extend_from_slice(k);
        }
        let mut sorted = Sorted { arena, at, common: Box::default(), prefixes: Vec::new() };
        let mut order = std::mem::take(&mut sorted.at);
        {
            let key = |a: u32| {
                let a = a as usize;
                let len = usize::from(u16::from_le_bytes([sorted.arena[a], sorted.arena[a + 1]]));
                &sorted.arena[a + 2..a + 2 + len]
            };
            order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
            order.dedup_by(|a, b| key(*a) == key(*b));
        }
        sorted.at = order;
        sorted.at.shrink_to_fit();
        if let (Some(_), Some(_)) = (sorted.at.first(), sorted.at.last()) {
            // The prefix all sorted keys share is the one the first and last share.
            let (first, last) = (sorted.key(0), sorted.key(sorted.at.len() - 1));
            let n = first.iter().zip(last).take_while(|(a, b)| a == b).count();
            sorted.common = first[..n].into();
        }
        let skip = sorted.common.len();
        sorted.prefixes = (0..sorted.at.len()).map(|i| prefix(sorted.key(i), skip)).collect();
        Chain { kind, base: Arc::new(sorted), added: BTreeSet::new(), removed: BTreeSet::new() }
    }

    pub fn kind(&self) -> ChainKind {
        self.kind
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.base.at.len() - self.removed.len() + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys added or removed since the shared base was sorted.
    pub fn delta_len(&self) -> usize {
        self.added.len() + self.removed.len()
    }

    /// Whether `key` is in the chain.
    pub fn contains(&self, key: &[u8]) -> bool {
        if self.added.contains(key) {
            return true;
        }
        self.base.last_at_most(key).is_some_and(|i| self.base.key(i) == key) && !self.removed.contains(key)
    }

    pub fn insert(&mut self, key: &[u8]) {
        if !self.removed.remove(key) && !self.contains(key) {
            self.added.insert(key.into());
        }
    }

    pub fn remove(&mut self, key: &[u8]) {
        if !self.added.remove(key) && self.contains(key) {
            self.removed.insert(key.into());
        }
    }

    /// The last key of the base at or before index `i` that is not removed.
    fn base_live(&self, mut i: Option<usize>) -> Option<&[u8]> {
        while let Some(j) = i {
            let k = self.base.key(j);
            if self.removed.is_empty() || !self.removed.contains(k) {
                return Some(k);
            }
            i = j.checked_sub(1);
        }
        None
    }

    /// The key that matches or covers `target`: the last key `<= target`, or the last
    /// of all when `target` sorts before every key (the chain wraps around).
    pub fn covering(&self, target: &[u8]) -> Option<&[u8]> {
        let from_base = self.base_live(self.base.last_at_most(target));
        let from_added =
            self.added.range::<[u8], _>((Bound::Unbounded, Bound::Included(target))).next_back().map(|k| &k[..]);
        later(from_base, from_added).or_else(|| {
            let last_base = self.base_live(self.base.at.len().checked_sub(1));
            later(last_base, self.added.iter().next_back().map(|k| &k[..]))
        })
    }

    /// Every key, in order (for checks and tests).
    pub fn keys(&self) -> Vec<&[u8]> {
        let mut v: Vec<&[u8]> = (0..self.base.at.len())
            .map(|i| self.base.key(i))
            .filter(|k| !self.removed.contains(*k))
            .chain(self.added.iter().map(|k| &k[..]))
            .collect();
        v.sort_unstable();
        v
    }

    /// The owner name of `key`: the name itself for NSEC, the base32hex of the hash
    /// under `apex` for NSEC3.
    pub fn owner(&self, key: &[u8], apex: &[u8], out: &mut NameBuf) -> bool {
        match self.kind {
            ChainKind::Nsec => name_of_key(key, out),
            ChainKind::Nsec3 => {
                let mut label = [0u8; 64];
                if key.len() > 39 {
                    return false;
                }
                let n = base32hex_encode(key, &mut label[1..]);
                label[0] = n as u8;
                out.set_concat(&label[..=n], apex).is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::{canonical_cmp, from_ascii};

    fn key(name: &str) -> Vec<u8> {
        let mut out = [0u8; MAX_KEY];
        let mut n = from_ascii(name).unwrap().as_wire().to_vec();
        shoal_wire::name::lowercase_in_place(&mut n);
        let l = canonical_key(&n, &mut out);
        out[..l].to_vec()
    }

    #[test]
    fn keys_sort_as_names_do_and_give_the_name_back() {
        // RFC 4034 §6.1's example, in canonical order, plus labels with bytes 0, 1 and 2.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
            "a\\000.z2.example.",
            "a\\001.z2.example.",
            "a\\002.z2.example.",
        ];
        let wires: Vec<Vec<u8>> = names.iter().map(|n| from_ascii(n).unwrap().as_wire().to_vec()).collect();
        for pair in wires.windows(2).zip(names.windows(2)) {
            let (w, n) = pair;
            let expected = canonical_cmp(&w[0], &w[1]);
            assert_eq!(key(n[0]).cmp(&key(n[1])), expected, "{} vs {}", n[0], n[1]);
        }
        for (w, n) in wires.iter().zip(names) {
            let mut lower = w.clone();
            shoal_wire::name::lowercase_in_place(&mut lower);
            let mut back = NameBuf::default();
            assert!(name_of_key(&key(n), &mut back));
            assert_eq!(back.as_wire(), &lower[..], "{n}");
        }
        assert_eq!(key("."), Vec::<u8>::new());
    }

    #[test]
    fn nsec3_hashes_match_rfc_5155_appendix_a() {
        // RFC 5155 Appendix A: salt aabbccdd, 12 iterations.
        let p = Nsec3Params { algorithm: 1, iterations: 12, salt: vec![0xaa, 0xbb, 0xcc, 0xdd].into() };
        for (name, hash) in [
            ("example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
            ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
            ("*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
        ] {
            let h = p.key(from_ascii(name).unwrap().as_wire());
            let mut text = [0u8; 32];
            base32hex_encode(&h, &mut text);
            assert_eq!(std::str::from_utf8(&text).unwrap(), hash, "{name}");
            let mut raw = [0u8; 20];
            assert_eq!(base32hex_decode(hash.to_uppercase().as_bytes(), &mut raw), Some(20));
            assert_eq!(raw, h);
        }
        assert_eq!(base32hex_decode(b"0w", &mut [0u8; 4]), None, "w is not base32hex");
    }

    #[test]
    fn covering_finds_the_predecessor_and_wraps_across_changes() {
        let mut c = Chain::new(ChainKind::Nsec3, [b"b".as_slice(), b"d", b"f", b"d"].into_iter());
        assert_eq!(c.len(), 3);
        assert_eq!(c.covering(b"c"), Some(&b"b"[..]));
        assert_eq!(c.covering(b"d"), Some(&b"d"[..]));
        assert_eq!(c.covering(b"a"), Some(&b"f"[..]), "wraps to the last");
        let base = c.clone();
        c.remove(b"d");
        c.insert(b"c");
        c.insert(b"g");
        assert!(!c.contains(b"d") && c.contains(b"c") && c.contains(b"b"));
        assert_eq!(c.covering(b"e"), Some(&b"c"[..]));
        assert_eq!(c.covering(b"a"), Some(&b"g"[..]));
        c.remove(b"g");
        c.remove(b"f");
        assert_eq!(c.covering(b"a"), Some(&b"c"[..]));
        assert_eq!(c.keys(), vec![&b"b"[..], b"c"]);
        assert_eq!(c.delta_len(), 3);
        assert_eq!(base.keys(), vec![&b"b"[..], b"d", b"f"], "the base is shared, not changed");
        c.insert(b"d");
        assert_eq!(c.delta_len(), 2, "re-adding a removed key undoes the removal");
    }

    #[test]
    fn searches_by_prefix_agree_with_plain_comparison() {
        // Keys sharing a long prefix (as NSEC keys share the apex), keys that are
        // prefixes of others, bytes 0 in the padding range, and targets outside the
        // shared prefix.
        let mut rng = Lcg(7);
        let mut keys: Vec<Vec<u8>> = (0..300)
            .map(|_| {
                let mut k = b"test\0apex\0".to_vec();
                let len = rng.next() % 12;
                k.extend((0..len).map(|_| [0u8, 1, b'a', b'b', b'z'][rng.next() % 5]));
                k
            })
            .collect();
        let chain = Chain::new(ChainKind::Nsec, keys.iter());
        keys.sort();
        keys.dedup();
        assert_eq!(chain.base.common.len(), 10, "the shared prefix");
        for _ in 0..2000 {
            let mut t = if rng.next() % 10 < 1 { b"test\0ape".to_vec() } else { b"test\0apex\0".to_vec() };
            let len = rng.next() % 14;
            t.extend((0..len).map(|_| [0u8, 1, b'a', b'b', b'z', 0xff][rng.next() % 6]));
            let plain = keys.iter().rposition(|k| k.as_slice() <= t.as_slice());
            assert_eq!(chain.base.last_at_most(&t), plain, "{t:?}");
        }
    }

    /// A small deterministic generator for the tests.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) as usize
        }
    }

    #[test]
    fn nsec3_owners_are_the_hash_under_the_apex() {
        let c = Chain::new(ChainKind::Nsec3, std::iter::empty::<&[u8]>());
        let mut out = NameBuf::default();
        let apex = from_ascii("example.").unwrap();
        assert!(c.owner(&[0u8; 20], apex.as_wire(), &mut out));
        assert_eq!(out.as_wire(), from_ascii("00000000000000000000000000000000.example.").unwrap().as_wire());
    }
}
