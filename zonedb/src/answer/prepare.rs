//! [`Prepared`]: a query parsed once, its zone found, and its first lookup begun.
//!
//! Answering a query from a large zone waits on memory twice: for the index slot of
//! its QNAME and for the node that slot points at, both far apart in a zone of more
//! than a few thousand names. A worker prepares every query of a batch ([`prepare`]
//! reads the message, finds the zone and asks for the index slot), then calls
//! [`Prepared::warm_node`] on each (the slot has arrived by then; ask for the node),
//! and only then answers them from what was prepared: the misses of the whole batch
//! overlap, and no query is parsed or placed in a zone twice. The prefetches are hints;
//! a query that does not parse or falls in no zone is answered all the same.
//!
//! Each zone's version is read once per batch, into the batch's [`Held`]: every query
//! of a batch is answered from the version its zone had when the batch first asked.

use crate::store::catalog::{Catalog, CatalogEntry};
use crate::store::held::Held;
use crate::store::snapshot::Snapshot;
use shoal_wire::request::{ParseError, Request};

/// A query ready to be answered: the message, what parsing it gave, and its zone.
pub struct Prepared<'q, 'c> {
    pub(crate) msg: &'q [u8],
    pub(crate) parsed: Result<Request<'q>, ParseError>,
    /// The zone with the longest apex that holds the QNAME.
    pub(crate) zone: Option<Found<'c>>,
    /// The QNAME's hash in that zone's node index, when the zone is served.
    hash: u64,
}

/// The zone a query falls in, as read once from its slot: the whole query is answered
/// from this version even if a newer one is published meanwhile.
#[derive(Clone, Copy)]
pub(crate) struct Found<'c> {
    /// The zone's catalog index.
    pub(crate) index: usize,
    /// Its version; `None` for a zone without one.
    pub(crate) snapshot: Option<&'c Snapshot>,
    /// Its entry (read again only for an EDNS EXPIRE answer).
    pub(crate) entry: &'c CatalogEntry,
}

/// Parse `msg`, find its zone in `catalog`, take the zone's version from `held` (read
/// from its slot if the batch has not yet) and ask for the QNAME's index slot.
#[inline]
pub fn prepare<'q, 'c, const N: usize>(msg: &'q [u8], catalog: &'c Catalog, held: &'c Held<N>) -> Prepared<'q, 'c> {
    let parsed = Request::parse(msg);
    let mut hash = 0;
    let zone = parsed.as_ref().ok().and_then(|req| {
        let entry = catalog.find(req.qname.as_wire())?;
        let snapshot = held.version(entry);
        if let Some(snap) = snapshot {
            hash = snap.base.prefetch(req.qname.as_wire());
        }
        Some(Found { index: entry.index, snapshot, entry })
    });
    Prepared { msg, parsed, zone, hash }
}

impl<'q> Prepared<'q, '_> {
    /// Ask for the node the QNAME's index slot points at (call after [`prepare`] has
    /// had time to bring the slot in).
    #[inline]
    pub fn warm_node(&self) {
        if let Some(snap) = self.zone.and_then(|z| z.snapshot) {
            snap.base.prefetch_node(self.hash);
        }
    }

    /// The parsed message, when it parsed.
    pub fn request(&self) -> Option<&Request<'q>> {
        self.parsed.as_ref().ok()
    }

    /// The message as received.
    pub fn message(&self) -> &'q [u8] {
        self.msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn prepares_queries_in_a_zone_with_their_hash() {
        let zone = "$ORIGIN example.\n$TTL 300\n@ SOA ns hm 1 1 1 1 1\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.2\n";
        let apex = shoal_wire::name::from_ascii("example.").unwrap();
        let snap = Arc::new(crate::load_zone_str(&apex, zone, std::path::Path::new("example.zone")).unwrap());
        let mut catalog = Catalog::new();
        catalog.insert(apex, crate::ZoneState::Ready(Arc::clone(&snap)));
        let query = |name: &str| {
            let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            for label in name.split('.').filter(|l| !l.is_empty()) {
                q.push(label.len() as u8);
                q.extend_from_slice(label.as_bytes());
            }
            q.extend_from_slice(&[0, 0, 1, 0, 1]);
            q
        };
        let held = Held::<1>::new();
        let q = query("WWW.example.");
        let p = prepare(&q, &catalog, &held);
        p.warm_node();
        assert_eq!(p.request().unwrap().qname.as_wire(), b"\x03www\x07example\x00");
        assert_eq!(p.zone.map(|z| z.index), Some(0));
        // The hash is the lowercase name's: the first slot with its tag is www's node.
        assert_eq!(snap.base.node_at(snap.base.index_first(p.hash).unwrap()).name(), b"\x03www\x07example\x00");
        let other = query("www.example.org.");
        assert!(prepare(&other, &catalog, &held).zone.is_none(), "no zone");
        let short = [0x12, 0x34, 0, 0];
        assert_eq!(prepare(&short, &catalog, &held).parsed.err(), Some(ParseError::Drop), "shorter than a header");
        let nx = query("nx.example.");
        assert!(prepare(&nx, &catalog, &held).zone.is_some(), "in the zone, though nothing is there");
    }
}
