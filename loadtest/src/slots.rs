//! The table of outstanding queries of one socket or connection, indexed by query ID.
//!
//! The 16-bit DNS ID is split: its low `slot_bits` bits name a slot of the table (as many
//! slots as the socket may have queries outstanding), its high bits carry the slot's
//! generation, bumped at every use. A response is matched with one array access and no
//! allocation, and a late answer to a query that already timed out (its slot reused since)
//! fails the generation check instead of completing the wrong query. Free slots sit on a
//! stack; the table never allocates after `new`.

/// What is remembered about a query in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outstanding {
    /// Index into the query set.
    pub query: u32,
    /// When it was sent, in nanoseconds of the run's clock.
    pub sent_ns: u64,
    /// Sent after the warm-up: counts in the statistics.
    pub measured: bool,
}

#[derive(Clone, Copy)]
struct Slot {
    generation: u16,
    busy: bool,
    query: Outstanding,
}

pub struct SlotTable {
    slots: Vec<Slot>,
    free: Vec<u16>,
    slot_bits: u32,
    outstanding: usize,
}

impl SlotTable {
    /// Keep at least one generation bit so a reused slot always changes ID.
    pub const MAX_CAPACITY: usize = 1 << 15;

    pub fn new(capacity: usize) -> SlotTable {
        assert!((1..=Self::MAX_CAPACITY).contains(&capacity), "slot table capacity {capacity}");
        let slot_bits = usize::BITS - (capacity - 1).leading_zeros();
        let empty = Outstanding { query: 0, sent_ns: 0, measured: false };
        SlotTable {
            slots: vec![Slot { generation: 0, busy: false, query: empty }; capacity],
            // Popped from the end: slot 0 first.
            free: (0..capacity as u16).rev().collect(),
            slot_bits,
            outstanding: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Free slots: how many more queries may be sent now.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    fn id(&self, index: usize) -> u16 {
        let generation = self.slots[index].generation as u32;
        ((generation << self.slot_bits) | index as u32) as u16
    }

    /// Take a free slot for `query`; returns the ID to send it with, or None when full.
    pub fn acquire(&mut self, query: Outstanding) -> Option<u16> {
        let index = self.free.pop()? as usize;
        let generation_mask = (1u32 << (16 - self.slot_bits)) - 1;
        let slot = &mut self.slots[index];
        slot.generation = ((slot.generation as u32 + 1) & generation_mask) as u16;
        slot.busy = true;
        slot.query = query;
        self.outstanding += 1;
        Some(self.id(index))
    }

    /// Give back the slot of a query that was acquired but never sent.
    pub fn cancel(&mut self, id: u16) {
        let taken = self.complete(id);
        debug_assert!(taken.is_some(), "cancel of an ID that is not outstanding");
    }

    /// The query that `id` answers, freeing its slot; None if no query with that ID is
    /// outstanding (a late answer after a timeout, a duplicate, or a made-up ID).
    pub fn complete(&mut self, id: u16) -> Option<Outstanding> {
        let index = (id as u32 & ((1u32 << self.slot_bits) - 1)) as usize;
        if index >= self.slots.len() || !self.slots[index].busy || self.id(index) != id {
            return None;
        }
        let slot = &mut self.slots[index];
        slot.busy = false;
        self.free.push(index as u16);
        self.outstanding -= 1;
        Some(slot.query)
    }

    /// Free every query sent at or before `deadline_ns`, calling `lost` for each.
    pub fn expire(&mut self, deadline_ns: u64, mut lost: impl FnMut(Outstanding)) {
        if self.outstanding == 0 {
            return;
        }
        for index in 0..self.slots.len() {
            let slot = &mut self.slots[index];
            if slot.busy && slot.query.sent_ns <= deadline_ns {
                slot.busy = false;
                lost(slot.query);
                self.free.push(index as u16);
                self.outstanding -= 1;
            }
        }
    }

    /// Free every outstanding query (end of the run, or a closed connection).
    pub fn expire_all(&mut self, lost: impl FnMut(Outstanding)) {
        self.expire(u64::MAX, lost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(query: u32, sent_ns: u64) -> Outstanding {
        Outstanding { query, sent_ns, measured: true }
    }

    #[test]
    fn acquire_until_full_then_complete() {
        let mut t = SlotTable::new(3);
        let ids: Vec<u16> = (0..3).map(|i| t.acquire(q(i, 0)).unwrap()).collect();
        assert_eq!(t.acquire(q(9, 0)), None);
        assert_eq!(t.outstanding(), 3);
        assert_eq!(t.complete(ids[1]), Some(q(1, 0)));
        assert_eq!(t.available(), 1);
        assert_eq!(t.complete(ids[0]).unwrap().query, 0);
        assert_eq!(t.complete(ids[2]).unwrap().query, 2);
        assert_eq!(t.outstanding(), 0);
    }

    #[test]
    fn good_id_matches_once() {
        let mut t = SlotTable::new(1000);
        let id = t.acquire(q(7, 5)).unwrap();
        assert_eq!(t.complete(id), Some(q(7, 5)));
        assert_eq!(t.complete(id), None, "a duplicate answer matches nothing");
    }

    #[test]
    fn bad_id_matches_nothing() {
        let mut t = SlotTable::new(100);
        let id = t.acquire(q(1, 0)).unwrap();
        assert_eq!(t.complete(id ^ 0x8000), None, "another generation");
        assert_eq!(t.complete(id + 1), None, "a free slot");
        assert_eq!(t.complete(127), None, "beyond the table");
        assert_eq!(t.outstanding(), 1);
        assert!(t.complete(id).is_some());
    }

    #[test]
    fn late_answer_after_timeout_does_not_match_reused_slot() {
        let mut t = SlotTable::new(1);
        let old = t.acquire(q(1, 10)).unwrap();
        let mut lost = Vec::new();
        t.expire(10, |o| lost.push(o.query));
        assert_eq!(lost, vec![1]);
        let new = t.acquire(q(2, 20)).unwrap();
        assert_ne!(old, new);
        assert_eq!(t.complete(old), None);
        assert_eq!(t.complete(new).unwrap().query, 2);
    }

    #[test]
    fn expire_frees_only_old_queries() {
        let mut t = SlotTable::new(4);
        let _a = t.acquire(q(0, 100)).unwrap();
        let b = t.acquire(q(1, 300)).unwrap();
        let mut lost = 0;
        t.expire(200, |_| lost += 1);
        assert_eq!((lost, t.outstanding(), t.available()), (1, 1, 3));
        assert!(t.complete(b).is_some());
        t.acquire(q(2, 400)).unwrap();
        t.expire_all(|_| lost += 1);
        assert_eq!((lost, t.outstanding()), (2, 0));
    }

    #[test]
    fn generations_cycle_through_every_id_bit() {
        let mut t = SlotTable::new(SlotTable::MAX_CAPACITY);
        let first = t.acquire(q(0, 0)).unwrap();
        t.cancel(first);
        let second = t.acquire(q(0, 0)).unwrap();
        assert_ne!(first, second);
        let mut t = SlotTable::new(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..70_000 {
            let id = t.acquire(q(0, 0)).unwrap();
            seen.insert(id);
            t.cancel(id);
        }
        assert_eq!(seen.len(), 65_536);
    }
}
