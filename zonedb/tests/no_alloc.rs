//! Proves that answering allocates nothing: a counting global allocator wraps the system
//! allocator, and a batch of answers of every kind must not move its counter.

use shoal_wire::name::from_ascii;
use shoal_zonedb::{answer, Catalog, Options, ZoneState};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ZONE: &str = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns hm 1 2 3 4 5\n NS ns\n MX 10 mail\nns A 192.0.2.1\nmail A 192.0.2.2\nwww A 192.0.2.3\n AAAA 2001:db8::3\nc CNAME www\n*.w TXT \"wild\"\nd DNAME other.example.net.\nsub NS ns.sub\nns.sub A 192.0.2.4\n";

fn q(name: &[u8], qtype: u16, edns: bool) -> Vec<u8> {
    let mut m = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
    m.extend_from_slice(name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if edns {
        m.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 4, 0, 3, 0, 0]);
    }
    m
}

#[test]
fn answering_a_batch_of_every_kind_allocates_nothing() {
    let apex = from_ascii("example.com.").unwrap();
    let snap = shoal_zonedb::load_zone_str(&apex, ZONE, Path::new("z")).unwrap();
    let mut cat = Catalog::new();
    cat.insert(apex, ZoneState::Ready(Arc::new(snap)));
    let queries: Vec<Vec<u8>> = vec![
        q(b"\x03www\x07example\x03com\x00", 1, false),
        q(b"\x03WWW\x07example\x03com\x00", 28, true),
        q(b"\x07example\x03com\x00", 15, true),
        q(b"\x07example\x03com\x00", 2, false),
        q(b"\x04nope\x07example\x03com\x00", 1, true),
        q(b"\x03www\x07example\x03com\x00", 16, false),
        q(b"\x01c\x07example\x03com\x00", 1, false),
        q(b"\x01x\x01w\x07example\x03com\x00", 16, true),
        q(b"\x01x\x01d\x07example\x03com\x00", 1, false),
        q(b"\x01a\x03sub\x07example\x03com\x00", 1, true),
        q(b"\x03www\x07example\x03org\x00", 1, false),
        q(b"\x07example\x03com\x00", 255, false),
        vec![0, 1, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
    ];
    let opts = Options { identity: Some(b"ns1"), ..Options::default() };
    let mut out = vec![0u8; 65535];
    // Warm up (lazy statics, thread-locals).
    for m in &queries {
        answer(m, &cat, &opts, &mut out);
    }
    // The counter does see this thread's allocations.
    let probe = ALLOCS.with(Cell::get);
    drop(std::hint::black_box(vec![0u8; 16]));
    assert_eq!(ALLOCS.with(Cell::get) - probe, 2);
    let bytes = assert_no_allocation(&cat, &queries, &opts, &mut out);
    assert!(bytes > 0);
}

/// Answer `queries` 100 times over; fails if that allocated. Returns the bytes written.
fn assert_no_allocation(cat: &Catalog, queries: &[Vec<u8>], opts: &Options<'_>, out: &mut [u8]) -> usize {
    let before = ALLOCS.with(Cell::get);
    let mut bytes = 0;
    for _ in 0..100 {
        for m in queries {
            bytes += answer(m, cat, opts, out).len;
        }
    }
    let after = ALLOCS.with(Cell::get);
    assert_eq!(after - before, 0, "answer() allocated {} times over {} queries", after - before, 100 * queries.len());
    bytes
}

/// DO queries to signed zones (NSEC and NSEC3): signed answers, denials with their
/// proofs (NSEC3 hashing included), wildcard proofs and referrals allocate nothing.
#[test]
fn answering_do_queries_from_signed_zones_allocates_nothing() {
    let mut cat = Catalog::new();
    for (apex, file) in [("nsec.test.", "nsec.v1.zone"), ("nsec3.test.", "nsec3.v1.zone")] {
        let apex = from_ascii(apex).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zones/signed").join(file);
        let snap = shoal_zonedb::load_zone(&apex, &path).unwrap();
        cat.insert(apex, ZoneState::Ready(Arc::new(snap)));
    }
    let mut queries = Vec::new();
    for zone in ["nsec", "nsec3"] {
        for (name, qtype) in [
            ("www", 1),
            ("", 15),
            ("", 48),
            ("www", 16),
            ("a.nx", 1),
            ("b.ent", 1),
            ("x.wild", 1),
            ("x.wild", 15),
            ("c1", 1),
            ("cx", 1),
            ("x.d", 1),
            ("a.sec", 1),
            ("a.insec", 1),
            ("insec", 43),
            ("mail", 46),
            ("", 255),
        ] {
            let mut wire = Vec::new();
            for label in name.split('.').filter(|l| !l.is_empty()).chain([zone, "test"]) {
                wire.push(label.len() as u8);
                wire.extend_from_slice(label.as_bytes());
            }
            wire.push(0);
            queries.push(q(&wire, qtype, true));
        }
    }
    let opts = Options::default();
    let mut out = vec![0u8; 65535];
    for m in &queries {
        answer(m, &cat, &opts, &mut out);
    }
    let bytes = assert_no_allocation(&cat, &queries, &opts, &mut out);
    assert!(bytes > 100 * queries.len() * 300, "signed answers are large: {bytes} bytes");
}
