//! The kernel's message headers and I/O vectors for one batched call (`mmsghdr`,
//! `iovec`), allocated once per batch and filled again before every call.

/// Headers for up to `capacity` messages, each with `pieces` I/O vectors.
pub(crate) struct Headers {
    pub(crate) hdrs: Vec<libc::mmsghdr>,
    pub(crate) iovs: Vec<libc::iovec>,
    pub(crate) pieces: usize,
}

// SAFETY: the raw pointers inside `hdrs` and `iovs` are written just before each system
// call from buffers that call borrows, and only the kernel reads them, during the call;
// between calls they are stale numbers that nothing dereferences. Moving the headers to
// another thread moves nothing they point at.
unsafe impl Send for Headers {}

impl Headers {
    pub(crate) fn new(capacity: usize, pieces: usize) -> Headers {
        // SAFETY: mmsghdr is plain data (integers and raw pointers); all-zero is a valid
        // empty header.
        let empty: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let iov = libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 };
        Headers { hdrs: vec![empty; capacity], iovs: vec![iov; capacity * pieces], pieces }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Header `i` uses the first `used` of its pieces and an address of `namelen` bytes
    /// (0: none, a connected socket). Its pointers are set by [`Headers::link`].
    pub(crate) fn set(&mut self, i: usize, used: usize, namelen: usize) {
        debug_assert!(used <= self.pieces);
        let h = &mut self.hdrs[i];
        h.msg_len = 0;
        let m = &mut h.msg_hdr;
        m.msg_namelen = namelen as libc::socklen_t;
        m.msg_iovlen = used as _;
        m.msg_control = std::ptr::null_mut();
        m.msg_controllen = 0;
        m.msg_flags = 0;
    }

    /// Point the first `count` headers at their I/O vectors and at their slots of
    /// `addrs` (those with an address). Call after the last write to the I/O vectors
    /// and to `addrs`, just before the system call: the pointers come from one
    /// `as_mut_ptr` of each, which nothing retakes before the kernel reads them.
    pub(crate) fn link(&mut self, count: usize, addrs: &mut [libc::sockaddr_storage]) {
        debug_assert!(count <= self.hdrs.len() && count <= addrs.len());
        let iovs = self.iovs.as_mut_ptr();
        let names = addrs.as_mut_ptr();
        for (i, h) in self.hdrs[..count].iter_mut().enumerate() {
            let m = &mut h.msg_hdr;
            m.msg_iov = iovs.wrapping_add(i * self.pieces);
            m.msg_name = if m.msg_namelen == 0 { std::ptr::null_mut() } else { names.wrapping_add(i).cast() };
        }
    }
}
