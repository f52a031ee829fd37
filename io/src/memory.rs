//! Memory the OS gives and takes back: the page size (`sysconf`), and when the
//! allocator (mimalloc, the binaries' global allocator) returns freed pages.

/// The size of a memory page, in bytes (4096 if it cannot be read).
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().filter(|&p| p > 0).unwrap_or(4096)
}

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_t`, v2).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Have the allocator give freed pages back to the OS as they empty, instead of 10 ms
/// later. What allocates is loading, transfers and compiling, never answering; a
/// transfer frees as much as it allocates, and pages kept for a reuse that does not
/// come would raise a secondary's peak memory while it takes a large AXFR. Call first
/// thing in `main`; `MIMALLOC_PURGE_DELAY` in the environment still wins.
pub fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return; // The operator chose.
    }
    // SAFETY: mi_option_set only stores an option value; setting it before any other
    // thread starts is allowed, and 0 is a documented value (immediate purging).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// Return freed memory to the OS now (mimalloc's `mi_collect`), after a large zone
/// version was dropped or built and discarded: otherwise pages freed on a short-lived
/// thread (a refresh) stay resident after that thread is gone.
pub fn release_freed_memory() {
    // SAFETY: mi_collect only walks the allocator's own structures; it has no
    // preconditions and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_are_a_power_of_two() {
        assert!(super::page_size().is_power_of_two());
    }
}
