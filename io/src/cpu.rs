//! Which cores a thread runs on (`sched_setaffinity`, `sched_getaffinity`).

use std::io;

/// The number of cores a `cpu_set_t` describes.
const SET_BITS: usize = 8 * std::mem::size_of::<libc::cpu_set_t>();

fn empty_set() -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain data for which all-zero is a valid (empty) set.
    unsafe { std::mem::zeroed() }
}

/// Pin the calling thread to `core`. Failure is harmless (the caller logs it).
pub fn pin_to_core(core: usize) -> io::Result<()> {
    pin_to_cores(&[core])
}

/// Let the calling thread (and the threads it starts later) run only on `cores`.
pub fn pin_to_cores(cores: &[usize]) -> io::Result<()> {
    let mut set = empty_set();
    for &core in cores {
        // SAFETY: CPU_SET writes one bit inside `set`; the core is reduced below the
        // set's size.
        unsafe { libc::CPU_SET(core % SET_BITS, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; the pointer and size describe `set`, which
    // the call only reads.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The cores the calling thread may run on, in order (`[0]` if that cannot be read).
pub fn allowed_cores() -> Vec<usize> {
    let mut set = empty_set();
    // SAFETY: pid 0 is the calling thread; the pointer and size describe `set`, which
    // the call writes.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return vec![0];
    }
    // SAFETY: CPU_ISSET reads one bit inside `set`; `i` is below the set's size.
    (0..SET_BITS).filter(|&i| unsafe { libc::CPU_ISSET(i, &set) }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_pinned_to_an_allowed_core_is_allowed_only_that_one() {
        let cores = allowed_cores();
        let last = *cores.last().expect("at least one core");
        std::thread::spawn(move || {
            pin_to_core(last).expect("an allowed core");
            assert_eq!(allowed_cores(), vec![last]);
        })
        .join()
        .unwrap();
    }
}
