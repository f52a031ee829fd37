//! [`PollSet`]: descriptors waited on with `ppoll`, kept between calls.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// Descriptors to wait on for readability (and, each on demand, writability).
pub struct PollSet {
    fds: Vec<libc::pollfd>,
}

impl PollSet {
    /// Wait on `fds` (a negative one is skipped by the kernel: a closed connection).
    pub fn new(fds: &[RawFd]) -> PollSet {
        PollSet { fds: fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect() }
    }

    /// Replace descriptor `i` (after a reconnect; negative: none).
    pub fn set_fd(&mut self, i: usize, fd: RawFd) {
        self.fds[i].fd = fd;
    }

    /// Also wait for descriptor `i` to become writable (a write that did not finish).
    pub fn want_write(&mut self, i: usize, yes: bool) {
        self.fds[i].events = if yes { libc::POLLIN | libc::POLLOUT } else { libc::POLLIN };
    }

    /// Wait up to `timeout` for any descriptor to be ready; returns how many are
    /// (0 after a timeout or a signal).
    pub fn wait(&mut self, timeout: Duration) -> io::Result<usize> {
        let ts = libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as _ };
        // SAFETY: the pointer and count describe `self.fds`, exclusively borrowed for the
        // call (the kernel writes `revents` only); `ts` outlives the call; a null signal
        // mask keeps the current one.
        let r = unsafe { libc::ppoll(self.fds.as_mut_ptr(), self.fds.len() as libc::nfds_t, &ts, std::ptr::null()) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            Ok(0)
        } else {
            Err(e)
        }
    }
}
