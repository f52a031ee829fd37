//! [`NameIndex`]: the hash index of a [`crate::store::nodemap::NodeMap`], arena offsets in an
//! open-addressing table with linear probing.
//!
//! A slot is one `u64`: the top 24 bits of the name's hash (its tag) above a 40-bit
//! arena offset. A probe compares a name in the arena only when the tags agree (a
//! false match once in 16 million), so walking a probe sequence is reading adjacent
//! words. The table grows (doubles) past seven eighths full, as a SwissTable does; a
//! lookup that finds its name reads 1 to 5 slots on average, one that does not 2 to
//! 33, over the growth cycle. It also lets a caller start a lookup's cache misses before it
//! needs the answer: [`NameIndex::prefetch`] loads a hash's first slots,
//! [`NameIndex::first`] then finds the offset to load from the arena. A worker does
//! both for a whole batch of queries before answering any, so their misses overlap
//! instead of coming one after another.

use crate::store::prefetch::prefetch_line;

/// A slot no offset uses.
const EMPTY: u64 = u64::MAX;
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
/// The largest arena offset a slot holds (1 TiB; all ones is `EMPTY`'s).
pub const MAX_OFFSET: usize = (OFFSET_MASK - 1) as usize;

/// Arena offsets by the hash of the name each points at.
pub struct NameIndex {
    slots: Box<[u64]>,
    len: usize,
    /// `64 - log2(slots.len())`: a hash's home slot is the top bits of its product
    /// with the golden ratio, after an XOR with `seed`.
    shift: u32,
    /// A value of the table's size, so that tables of different sizes order the same
    /// names differently (see [`NameIndex::home`]).
    seed: u64,
}

impl Default for NameIndex {
    fn default() -> Self {
        NameIndex::with_capacity(0)
    }
}

/// SplitMix64's finalizer: a table size's seed, with bits set everywhere.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn tag(h: u64) -> u64 {
    h & !OFFSET_MASK
}

impl NameIndex {
    /// An empty index with room for `n` offsets before it grows.
    pub fn with_capacity(n: usize) -> NameIndex {
        NameIndex::with_slots((n.saturating_mul(8) / 7 + 1).next_power_of_two())
    }

    /// An empty index of `slots` slots (a power of two; at least 8 are made).
    fn with_slots(slots: usize) -> NameIndex {
        let slots = slots.max(8);
        debug_assert!(slots.is_power_of_two());
        let shift = 64 - slots.trailing_zeros();
        NameIndex { slots: vec![EMPTY; slots].into_boxed_slice(), len: 0, shift, seed: mix(u64::from(shift)) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where `h`'s probe sequence starts. Without the seed, offsets taken in one
    /// table's order (a Shoal primary's AXFR or state copy is written in it) would
    /// arrive sorted by home in a smaller table that grows as they come: all of them
    /// homed in its first slots, one cluster, and each insertion probing its length.
    #[inline]
    fn home(&self, h: u64) -> usize {
        ((h ^ self.seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The slot, on `h`'s probe sequence, for which `hit` holds (given the slot's value).
    #[inline]
    fn position(&self, h: u64, mut hit: impl FnMut(u64) -> bool) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(h);
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if hit(s) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The offset with hash `h` for which `eq` holds.
    #[inline]
    pub fn find(&self, h: u64, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        let t = tag(h);
        let i = self.position(h, |s| s & !OFFSET_MASK == t && eq((s & OFFSET_MASK) as usize))?;
        Some((self.slots[i] & OFFSET_MASK) as usize)
    }

    /// The first offset whose tag is `h`'s: the one [`Self::find`] will most likely
    /// return, without comparing names.
    #[inline]
    pub fn first(&self, h: u64) -> Option<usize> {
        self.find(h, |_| true)
    }

    /// Start loading `h`'s home slot and the next cache line, where a probe that
    /// does not stop at once goes on.
    #[inline]
    pub fn prefetch(&self, h: u64) {
        let p = self.slots.as_ptr().wrapping_add(self.home(h));
        prefetch_line(p.cast());
        prefetch_line(p.wrapping_add(8).cast());
    }

    /// Add `offset` (not in the index yet) under hash `h`; growing re-hashes every
    /// offset with `rehash`.
    pub fn insert_unique(&mut self, h: u64, offset: usize, rehash: impl Fn(usize) -> u64) {
        assert!(offset <= MAX_OFFSET, "an arena offset past 1 TiB");
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            // Twice the slots: half full again.
            let mut bigger = NameIndex::with_slots(self.slots.len() * 2);
            for o in self.iter() {
                bigger.put(rehash(o), o);
            }
            *self = bigger;
        }
        self.put(h, offset);
    }

    fn put(&mut self, h: u64, offset: usize) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(h);
        while self.slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = tag(h) | offset as u64;
        self.len += 1;
    }

    /// Point the slot of `old` (under hash `h`) at `new`; false if `old` is not there.
    pub fn replace(&mut self, h: u64, old: usize, new: usize) -> bool {
        assert!(new <= MAX_OFFSET, "an arena offset past 1 TiB");
        let t = tag(h);
        let Some(i) = self.position(h, |s| s == t | old as u64) else { return false };
        self.slots[i] = t | new as u64;
        true
    }

    /// Forget every offset, keeping the table's size.
    pub fn clear(&mut self) {
        self.slots.fill(EMPTY);
        self.len = 0;
    }

    /// Every offset, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots.iter().filter(|&&s| s != EMPTY).map(|&s| (s & OFFSET_MASK) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are numbers here; a "hash" whose low and high bits both vary, and a weak
    /// one that puts every key in the same few slots.
    fn h(k: usize) -> u64 {
        (k as u64).wrapping_mul(0xff51_afd7_ed55_8ccd).rotate_left(17)
    }

    #[test]
    fn finds_what_it_holds_and_nothing_else_through_growth() {
        let mut ix = NameIndex::with_capacity(0);
        // Offsets stand for names: key k lives at offset 3k + 1.
        for k in 0..10_000 {
            ix.insert_unique(h(k), 3 * k + 1, |o| h((o - 1) / 3));
            assert_eq!(ix.len(), k + 1);
        }
        assert!(ix.len() * 8 <= ix.slots.len() * 7, "at most seven eighths full");
        assert!(ix.len() * 16 > ix.slots.len() * 7, "and more than seven sixteenths: growing doubles");
        for k in 0..10_000 {
            assert_eq!(ix.find(h(k), |o| o == 3 * k + 1), Some(3 * k + 1), "key {k}");
        }
        for k in 10_000..20_000 {
            assert_eq!(ix.find(h(k), |o| o == 3 * k + 1), None, "absent key {k}");
        }
        let mut all: Vec<_> = ix.iter().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10_000).map(|k| 3 * k + 1).collect::<Vec<_>>());
    }

    /// Probes made by inserting every offset of `from`, in its order, into an index
    /// that starts empty and grows.
    fn probes_copying(from: &NameIndex, key: &dyn Fn(usize) -> u64) -> usize {
        let mut to = NameIndex::with_capacity(0);
        let mut probes = 0;
        for o in from.iter() {
            // Count the slots a lookup of this (absent) key walks before inserting it.
            let _ = to.position(key(o), |_| {
                probes += 1;
                false
            });
            to.insert_unique(key(o), o, key);
        }
        probes
    }

    #[test]
    fn a_big_tables_order_does_not_cluster_a_growing_one() {
        let mut big = NameIndex::with_capacity(0);
        let n = 100_000;
        for k in 0..n {
            big.insert_unique(h(k), k, h);
        }
        // As a primary's transfer arrives at a secondary: in the big table's order.
        let probes = probes_copying(&big, &h);
        // About 5 a key in any order; in the big table's order without the seed, 7,000.
        assert!(probes < 20 * n, "{probes} probes for {n} insertions");
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_the_comparison() {
        let mut ix = NameIndex::with_capacity(4);
        // Same hash, different names (offsets): every one probes past the others.
        for o in [10, 20, 30, 40, 50] {
            ix.insert_unique(7, o, |_| 7);
        }
        for o in [10, 20, 30, 40, 50] {
            assert_eq!(ix.find(7, |x| x == o), Some(o));
        }
        assert_eq!(ix.find(7, |x| x == 60), None);
        assert_eq!(ix.first(7), Some(10));
        assert!(ix.replace(7, 30, 35));
        assert!(!ix.replace(7, 30, 36), "30 was replaced");
        assert_eq!(ix.find(7, |x| x == 35), Some(35));
        assert_eq!(ix.find(7, |x| x == 30), None);
        ix.clear();
        assert!(ix.is_empty());
        assert_eq!(ix.find(7, |_| true), None);
    }

    #[test]
    fn tags_keep_the_comparison_off_other_names() {
        let mut ix = NameIndex::with_capacity(1000);
        for k in 0..1000 {
            ix.insert_unique(h(k), k, h);
        }
        let mut compared = 0;
        for k in 0..1000 {
            ix.find(h(k), |o| {
                compared += 1;
                o == k
            });
        }
        assert_eq!(compared, 1000, "only the name with the same tag is compared");
        ix.prefetch(h(5));
        assert_eq!(ix.slots.len(), 2048);
    }
}
