//! [`Slot`]: one zone's current version in the catalog, replaced alone while readers
//! answer from it.
//!
//! A slot is an `ArcSwapOption` over the zone's snapshot (none: the zone is configured
//! but has no usable version). Readers load it without a lock and without touching the
//! snapshot's reference count: a batch of queries loads each zone's slot once into its
//! [`Held`](super::held::Held) (an arc-swap guard, a store into the reading thread's own
//! debt slot) and answers every query of that zone from it. Only a
//! [`Publisher`](super::publisher::Publisher) replaces what a shared slot holds; it
//! keeps each replaced snapshot until every catalog through which the slot could have
//! been read at the time is dropped, so that a worker never drops the last handle of a
//! version (freeing a large zone is the transfer side's work, never a worker's).

use super::snapshot::Snapshot;
use arc_swap::{ArcSwapOption, Guard};
use std::sync::Arc;

/// What a zone is given to serve.
#[derive(Debug, Clone)]
pub enum ZoneState {
    Ready(Arc<Snapshot>),
    /// Configured, but there is no usable version (load failed, or expired).
    Failed,
}

impl ZoneState {
    fn into_option(self) -> Option<Arc<Snapshot>> {
        match self {
            ZoneState::Ready(s) => Some(s),
            ZoneState::Failed => None,
        }
    }
}

/// One zone's current version.
pub struct Slot {
    current: ArcSwapOption<Snapshot>,
}

impl Slot {
    pub(crate) fn new(state: ZoneState) -> Slot {
        Slot { current: ArcSwapOption::new(state.into_option()) }
    }

    /// The version served now, for a short read (a batch of queries): no reference
    /// count taken while the reading thread holds few guards.
    #[inline]
    pub(crate) fn load(&self) -> Guard<Option<Arc<Snapshot>>> {
        self.current.load()
    }

    /// The version served now, as an owned reference.
    pub fn get_arc(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// Replace the version when no reader can hold the slot (`&mut`): the old one is
    /// released at once.
    pub(crate) fn set(&mut self, state: ZoneState) {
        self.current.store(state.into_option());
    }

    /// Replace the version while readers may hold the old one, which is returned: the
    /// caller (the publisher) keeps it until they are gone.
    pub(crate) fn swap(&self, state: ZoneState) -> Option<Arc<Snapshot>> {
        self.current.swap(state.into_option())
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.load() {
            Some(s) => write!(f, "Slot(serial {})", s.serial()),
            None => write!(f, "Slot(no version)"),
        }
    }
}
