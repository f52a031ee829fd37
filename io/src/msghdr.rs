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

    /// Point header `i` at its I/O vectors (the first `used` of its pieces) and at the
    /// address `name` of `namelen` bytes (null: none, a connected socket).
    pub(crate) fn point(&mut self, i: usize, used: usize, name: *mut libc::sockaddr_storage, namelen: usize) {
        debug_assert!(used <= self.pieces);
        let iov: *mut libc::iovec = &mut self.iovs[i * self.pieces];
        let h = &mut self.hdrs[i];
        h.msg_len = 0;
        let m = &mut h.msg_hdr;
        m.msg_name = name.cast();
        m.msg_namelen = namelen as libc::socklen_t;
        m.msg_iov = iov;
        m.msg_iovlen = used as _;
        m.msg_control = std::ptr::null_mut();
        m.msg_controllen = 0;
        m.msg_flags = 0;
    }
}
