//! [`prefetch_line`]: the one `unsafe` of `zonedb` (the crate denies it everywhere
//! else), a hint to the CPU to start loading a cache line that a lookup will read soon.
//! The index and node lookups of a batch call it so that their cache misses overlap
//! (see `answer::prepare`).

/// Ask the CPU to start loading the cache line at `p` (a hint: it never faults).
#[inline]
#[allow(unsafe_code)]
pub(crate) fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that reads nothing and does not fault, whatever the
    // address (null, dangling or unmapped included); SSE, which provides it, is part of
    // every x86_64 target.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
