//! The hash of names, keyed per process: the node index ([`crate::store::nodemap`]) and every
//! name-keyed map of a build, an apply, a snapshot and the catalog ([`NameMap`],
//! [`NameSet`]) hash with it.
//!
//! Names come from whoever writes the zone, and a secondary's primary may be a
//! customer's. With an unkeyed hash such a zone can be made of names that all collide:
//! under FxHash (rustc-hash 2), every name of 70 bytes whose bytes 32..40 equal a
//! function of its first 16 hashes alike whatever its bytes 40..48 hold, and a table of
//! n of them takes n²/2 probes to build, on the transfer thread that every zone's
//! updates wait for. Here the keys are drawn from the operating system once per
//! process, so nobody outside knows which names collide.
//!
//! The function is a folded multiply (the 128-bit product of two words, its halves
//! xored) over 16-byte blocks, with the running state and a key in its operands, as in
//! foldhash and aHash's fallback: a multiply for the length and one per 16 bytes.
//! It is not a MAC; it is enough that
//! collisions cannot be chosen without the keys.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// This process's keys: the initial state and the block key.
static KEYS: OnceLock<[u64; 2]> = OnceLock::new();

fn keys() -> &'static [u64; 2] {
    KEYS.get_or_init(|| {
        // std's RandomState draws its keys from the operating system.
        let s = std::collections::hash_map::RandomState::new();
        [s.hash_one(1u64), s.hash_one(2u64)]
    })
}

/// The 128-bit product of `a` and `b`, its halves xored.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline]
fn word(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

/// `bytes` (and their length) folded into the state `h` under key `k`.
#[inline]
fn absorb(k: u64, mut h: u64, bytes: &[u8]) -> u64 {
    let n = bytes.len();
    h = fold(h ^ n as u64, k);
    if n >= 16 {
        // Every whole block but the last, then the last 16 bytes (overlapping the
        // previous block when the length is not a multiple of 16; the length is in h).
        for c in bytes[..n - 1].chunks_exact(16).take((n - 1) / 16) {
            h = fold(h ^ word(c), word(&c[8..]) ^ k);
        }
        let tail = &bytes[n - 16..];
        fold(h ^ word(tail), word(&tail[8..]) ^ k)
    } else {
        // Two reads that between them cover every byte (overlapping when n is not 8
        // or 4; the length is in h).
        let (lo, hi) = if n >= 8 {
            (word(bytes), word(&bytes[n - 8..]))
        } else if n >= 4 {
            (u64::from(half(bytes)), u64::from(half(&bytes[n - 4..])))
        } else if n > 0 {
            (u64::from(bytes[0]), u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]))
        } else {
            (0, 0)
        };
        fold(h ^ lo, hi ^ k)
    }
}

#[inline]
fn half(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
}

/// The hash of a name's wire bytes (or any bytes) under this process's keys.
#[inline]
pub fn hash(bytes: &[u8]) -> u64 {
    let [start, k] = *keys();
    absorb(k, start, bytes)
}

/// A [`Hasher`] under this process's keys.
#[derive(Clone, Copy, Debug)]
pub struct NameHasher {
    h: u64,
    k: u64,
}

impl Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.h = absorb(self.k, self.h, bytes);
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.h = fold(self.h ^ n, self.k);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.h
    }
}

/// Builds [`NameHasher`]s under this process's keys. It holds nothing (the keys are
/// read at each hash), so a map costs no more than with FxHash: 100,000 zones hold
/// several maps each.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildNameHasher;

impl BuildHasher for BuildNameHasher {
    type Hasher = NameHasher;

    #[inline]
    fn build_hasher(&self) -> NameHasher {
        let [start, k] = *keys();
        NameHasher { h: start, k }
    }
}

/// A map keyed by names (or their wire bytes).
pub type NameMap<K, V> = HashMap<K, V, BuildNameHasher>;
/// A set of names (or their wire bytes).
pub type NameSet<K> = HashSet<K, BuildNameHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::Name;

    /// rustc-hash 2.1's byte hash, as far as these names need it: its seeds, its guard
    /// constant and its mix.
    const FX_SEED1: u64 = 0x243f_6a88_85a3_08d3;
    const FX_GUARD: u64 = 0xa409_3822_299f_31d0;

    /// `count` names of 70 wire bytes (a 63-byte label under `test.`) that all hash
    /// alike under FxHash: bytes 32..40 are the state its second block starts from,
    /// so the third block folds to zero whatever bytes 40..48 (which differ) hold.
    fn fx_colliding_names(count: usize) -> Vec<Name> {
        let mut wire = vec![63u8];
        wire.extend(std::iter::repeat_n(b'a', 63));
        wire.extend_from_slice(b"\x04test\x00");
        // Vary bytes 1..16 until the state is free of uppercase letters (the stored
        // name is lowercased, which would change those bytes).
        for seed in 0u64.. {
            wire[1..9].copy_from_slice(&(seed | 0x6161_6161_6161_6161).to_le_bytes());
            let state = fold(FX_SEED1 ^ word(&wire[0..8]), FX_GUARD ^ word(&wire[8..16]));
            if state.to_le_bytes().iter().all(|b| !b.is_ascii_uppercase()) {
                wire[32..40].copy_from_slice(&state.to_le_bytes());
                break;
            }
        }
        (0..count)
            .map(|i| {
                let tail: Vec<u8> = format!("{i:08}").bytes().map(|d| d - b'0' + b'a').collect();
                wire[40..48].copy_from_slice(&tail);
                Name::from_wire(&wire).expect("a valid name")
            })
            .collect()
    }

    fn fx(bytes: &[u8]) -> u64 {
        let mut h = rustc_hash::FxHasher::default();
        h.write(bytes);
        h.finish()
    }

    #[test]
    fn names_made_to_collide_under_fxhash_do_not_collide_here() {
        let names = fx_colliding_names(10_000);
        let fx_hashes: HashSet<u64> = names.iter().map(|n| fx(n.as_wire())).collect();
        assert_eq!(fx_hashes.len(), 1, "the names no longer collide under rustc-hash: update the construction");
        let ours: HashSet<u64> = names.iter().map(|n| hash(n.as_wire())).collect();
        assert_eq!(ours.len(), names.len(), "keyed hashes of distinct names collided");
        // The index takes its home slot from the top bits: those must differ too (of
        // 10,000 names in 2^16 slots, about 700 share a slot by chance).
        let homes: HashSet<u64> = names.iter().map(|n| hash(n.as_wire()) >> 48).collect();
        assert!(homes.len() > 9_000, "{} distinct home slots", homes.len());
    }

    #[test]
    fn a_map_finds_a_name_by_its_bytes() {
        let names = fx_colliding_names(100);
        let map: NameMap<Name, usize> = names.iter().cloned().enumerate().map(|(i, n)| (n, i)).collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(map.get(n.as_wire()), Some(&i));
        }
        // No bytes in the map for the hasher: 100,000 zones hold several maps each.
        assert_eq!(std::mem::size_of::<BuildNameHasher>(), 0);
    }

    #[test]
    fn every_byte_and_the_length_count() {
        let base: Vec<u8> = (0..40u8).collect();
        for n in [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 40] {
            let h = hash(&base[..n]);
            for i in 0..n {
                let mut b = base[..n].to_vec();
                b[i] ^= 1;
                assert_ne!(hash(&b), h, "byte {i} of {n} ignored");
            }
            if n > 0 {
                // The same bytes with a zero appended (padding) hash differently.
                let mut longer = base[..n].to_vec();
                longer.push(0);
                assert_ne!(hash(&longer), h, "length {n} and {} alike", n + 1);
            }
        }
    }
}
