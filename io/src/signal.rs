//! Signals taken synchronously: blocked in every thread, waited for by one
//! (`pthread_sigmask`, `sigwait`), and a process asking itself to stop (`kill`).

use std::io;

pub use libc::{SIGHUP, SIGINT, SIGTERM};

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: zeroed memory is a valid place for sigemptyset to initialise.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a sigset_t we own.
    unsafe { libc::sigemptyset(&mut set) };
    for &s in signals {
        // SAFETY: `set` is initialised; an invalid signal number only makes it fail.
        unsafe { libc::sigaddset(&mut set, s) };
    }
    set
}

/// Block `signals` in the calling thread (call before starting other threads, which
/// inherit the mask).
pub fn block(signals: &[libc::c_int]) -> io::Result<()> {
    let set = sigset(signals);
    // SAFETY: `set` is a valid, initialised signal set; the old mask is not asked for.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// Wait for one of `signals` (which must be blocked) and return it.
pub fn wait(signals: &[libc::c_int]) -> io::Result<libc::c_int> {
    let set = sigset(signals);
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is initialised and `sig` is a valid place for the result.
    let r = unsafe { libc::sigwait(&set, &mut sig) };
    if r == 0 {
        Ok(sig)
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// Send SIGTERM to this process (not to the calling thread: the thread that waits for
/// it takes it).
pub fn terminate_self() -> io::Result<()> {
    // SAFETY: getpid has no preconditions; kill with our own pid and a valid signal
    // number only queues the signal.
    let r = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
