//! The nodes of a zone in canonical order (RFC 4034 §6.1), which the zone digest and
//! the NSEC chain check both walk.
//!
//! Each owner gets a sort key once: its labels from the root down, each byte as itself
//! (bytes 0 and 1 escaped as `1 1` and `1 2`) and each label closed by a 0. Comparing
//! two keys as bytes then gives the canonical order of the names (a shorter label
//! before a longer one it begins, a name before its descendants), so a million owners
//! sort with plain byte comparisons instead of a label walk per comparison. The keys
//! live back to back in one buffer: no allocation per owner.

use crate::store::node::NodeRef;
use crate::store::snapshot::Snapshot;

/// Append the sort key of the valid wire name `name` to `out`.
pub fn push_key(out: &mut Vec<u8>, name: &[u8]) {
    let mut starts = [0u8; 128];
    let mut n = 0;
    let mut i = 0;
    while i < name.len() && name[i] != 0 {
        starts[n] = i as u8;
        n += 1;
        i += 1 + usize::from(name[i]);
    }
    for &s in starts[..n].iter().rev() {
        let s = usize::from(s);
        for &b in &name[s + 1..s + 1 + usize::from(name[s])] {
            match b.to_ascii_lowercase() {
                0 => out.extend_from_slice(&[1, 1]),
                1 => out.extend_from_slice(&[1, 2]),
                b => out.push(b),
            }
        }
        out.push(0);
    }
}

/// The nodes of `snapshot` that hold records (empty non-terminals have none), in
/// canonical order of their owners.
pub fn sorted_nodes(snapshot: &Snapshot) -> Vec<NodeRef<'_>> {
    let mut keys = Vec::new();
    let mut entries: Vec<(u32, u32, NodeRef<'_>)> = Vec::new();
    for node in snapshot.nodes().filter(|n| !n.is_empty()) {
        let start = keys.len() as u32;
        push_key(&mut keys, node.name());
        entries.push((start, keys.len() as u32, node));
    }
    let key = |e: &(u32, u32, NodeRef<'_>)| &keys[e.0 as usize..e.1 as usize];
    entries.sort_unstable_by(|a, b| key(a).cmp(key(b)));
    entries.into_iter().map(|e| e.2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::canonical_cmp;

    /// The wire form of a name given as labels (any bytes), leftmost first.
    fn wire(labels: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for l in labels {
            v.push(l.len() as u8);
            v.extend_from_slice(l);
        }
        v.push(0);
        v
    }

    fn key(name: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        push_key(&mut v, name);
        v
    }

    #[test]
    fn rfc4034_section_6_1_example_order() {
        // RFC 4034 §6.1, in the order it gives.
        let names = [
            wire(&[b"example"]),
            wire(&[b"a", b"example"]),
            wire(&[b"yljkjljk", b"a", b"example"]),
            wire(&[b"Z", b"a", b"example"]),
            wire(&[b"zABC", b"a", b"EXAMPLE"]),
            wire(&[b"z", b"example"]),
            wire(&[b"\x01", b"z", b"example"]),
            wire(&[b"*", b"z", b"example"]),
            wire(&[b"\x80", b"z", b"example"]),
        ];
        for pair in names.windows(2) {
            assert!(key(&pair[0]) < key(&pair[1]), "{:?} before {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn keys_order_as_canonical_cmp_does() {
        let labels: [&[u8]; 9] = [b"a", b"a\x00", b"\x00", b"\x01", b"\x02", b"ab", b"\xff", b"A", b"aa"];
        let mut names = vec![wire(&[])];
        for x in labels {
            names.push(wire(&[x]));
            for y in labels {
                names.push(wire(&[x, y]));
            }
        }
        for x in &names {
            for y in &names {
                assert_eq!(key(x).cmp(&key(y)), canonical_cmp(x, y), "{x:?} vs {y:?}");
            }
        }
    }
}
