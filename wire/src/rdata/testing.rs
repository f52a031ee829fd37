//! What the random-input tests of the field kinds share: [`XorShift`], a small
//! deterministic generator, so the tests need no dependency and every run tries the
//! same inputs.

/// A xorshift64 generator (Marsaglia); the seed must not be zero.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
