//! [`Slot`]: one zone's current version in the catalog, replaced alone while readers
//! answer from it.
//!
//! A slot owns one strong count of the snapshot it points at (or none: the zone is
//! configured but has no usable version). Readers take a plain reference, tied to the
//! catalog they reached the slot through: one atomic load, no reference count, no
//! lock. Only a [`Publisher`](super::publisher::Publisher) replaces what a shared slot
//! holds, and it keeps each replaced snapshot until every catalog through which the
//! slot could have been read at the time is dropped; that rule is what makes the
//! reference safe, and this module and the publisher are the only code that depends
//! on it.

use super::snapshot::Snapshot;
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

/// What a zone is given to serve.
#[derive(Debug, Clone)]
pub enum ZoneState {
    Ready(Arc<Snapshot>),
    /// Configured, but there is no usable version (load failed, or expired).
    Failed,
}

/// One zone's current version.
pub struct Slot {
    /// From `Arc::into_raw` (one strong count owned here), or null for no version.
    current: AtomicPtr<Snapshot>,
    /// The slot owns an `Arc<Snapshot>`: it is `Send` and `Sync` exactly when that is,
    /// and drops one.
    _owns: PhantomData<Arc<Snapshot>>,
}

fn into_raw(state: ZoneState) -> *mut Snapshot {
    match state {
        ZoneState::Ready(s) => Arc::into_raw(s).cast_mut(),
        ZoneState::Failed => ptr::null_mut(),
    }
}

/// # Safety
/// `p` is null or came from `into_raw`, and its strong count is handed over.
unsafe fn from_raw(p: *mut Snapshot) -> Option<Arc<Snapshot>> {
    // SAFETY: as the caller promises.
    (!p.is_null()).then(|| unsafe { Arc::from_raw(p.cast_const()) })
}

impl Slot {
    pub(crate) fn new(state: ZoneState) -> Slot {
        Slot { current: AtomicPtr::new(into_raw(state)), _owns: PhantomData }
    }

    /// The version served now, `None` when the zone has none.
    #[inline]
    pub fn get(&self) -> Option<&Snapshot> {
        let p = self.current.load(Ordering::Acquire);
        // SAFETY: a non-null pointer holds a strong count, released only by `Drop`
        // (no reader is left: the slot is unreachable) or by the publisher after every
        // catalog that shares this slot and existed when it was replaced is dropped;
        // `&self` is borrowed through such a catalog, so the count outlives the borrow.
        unsafe { p.as_ref() }
    }

    /// The version served now, as an owned reference.
    pub fn get_arc(&self) -> Option<Arc<Snapshot>> {
        let p = self.current.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: as in `get`, the count is held for as long as `&self` is borrowed;
        // taking one more leaves the slot's own count in place.
        unsafe {
            Arc::increment_strong_count(p.cast_const());
            Some(Arc::from_raw(p.cast_const()))
        }
    }

    /// Replace the version when no reader can hold the slot (`&mut`): the old one is
    /// released at once.
    pub(crate) fn set(&mut self, state: ZoneState) {
        let old = std::mem::replace(self.current.get_mut(), into_raw(state));
        // SAFETY: `old` came from `into_raw`; `&mut self` means no reader borrows it.
        drop(unsafe { from_raw(old) });
    }

    /// Replace the version while readers may hold references to the old one, which is
    /// returned: the caller (the publisher) keeps it until they are gone.
    pub(crate) fn swap(&self, state: ZoneState) -> Option<Arc<Snapshot>> {
        let old = self.current.swap(into_raw(state), Ordering::AcqRel);
        // SAFETY: `old` came from `into_raw`, and its count moves to the caller.
        unsafe { from_raw(old) }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let p = *self.current.get_mut();
        // SAFETY: `p` came from `into_raw`; a slot is dropped only when nothing can
        // reach it.
        drop(unsafe { from_raw(p) });
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.get() {
            Some(s) => write!(f, "Slot(serial {})", s.serial()),
            None => write!(f, "Slot(no version)"),
        }
    }
}
