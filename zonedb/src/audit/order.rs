//! The nodes of a zone in canonical order (RFC 4034 §6.1), which the zone digest and
//! the NSEC chain check both walk.
//!
//! Each owner gets a sort key once: its labels from the root down, each byte as itself
//! (bytes 0 and 1 escaped as `1 1` and `1 2`) and each label closed by a 0. Comparing
//! two keys as bytes then gives the canonical order of the names (a shorter label
//! before a longer one it begins, a name before its descendants), so a million owners
//! sort with plain byte comparisons instead of a label walk per comparison. The keys
//! live back to back in one buffer: no allocation per owner. Every owner of a zone ends
//! with its apex, so the apex's labels are left out of the keys.

use crate::store::node::NodeRef;
use crate::store::snapshot::Snapshot;

/// Append the sort key of the valid wire name `name` to `out`, leaving out its last
/// `skip` labels (those every name of a zone shares: its apex).
pub fn push_key(out: &mut Vec<u8>, name: &[u8], skip: usize) {
    let mut starts = [0u8; 128];
    let mut n = 0;
    let mut i = 0;
    while i < name.len() && name[i] != 0 {
        starts[n] = i as u8;
        n += 1;
        i += 1 + usize::from(name[i]);
    }
    for &s in starts[..n.saturating_sub(skip)].iter().rev() {
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

/// One node to sort: the first 8 bytes of its key (zero-padded, big-endian), where its
/// key lies in the key buffer, and the node.
type Entry<'s> = (u64, u32, u32, NodeRef<'s>);

/// The nodes of `snapshot` that hold records (empty non-terminals have none), in
/// canonical order of their owners.
///
/// Keys leave out the apex, which every owner ends with, and the first 8 bytes of
/// each sit in its entry: most comparisons end there, without reading the key buffer.
pub fn sorted_nodes(snapshot: &Snapshot) -> Vec<NodeRef<'_>> {
    let skip = snapshot.apex_labels();
    let mut keys = Vec::new();
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for node in snapshot.nodes().filter(|n| !n.is_empty()) {
        let start = keys.len();
        push_key(&mut keys, node.name(), skip);
        let mut prefix = [0u8; 8];
        let head = &keys[start..keys.len().min(start + 8)];
        prefix[..head.len()].copy_from_slice(head);
        entries.push((u64::from_be_bytes(prefix), start as u32, keys.len() as u32, node));
    }
    let key = |e: &Entry<'_>| &keys[e.1 as usize..e.2 as usize];
    // Equal prefixes, zero-padded, may still be keys of different lengths: the whole
    // keys decide.
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key(a).cmp(key(b))));
    entries.into_iter().map(|e| e.3).collect()
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
        push_key(&mut v, name, 0);
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

    #[test]
    fn sorted_nodes_follow_canonical_cmp_on_a_zone() {
        // Owners of 1 to 3 labels drawn from pieces that share prefixes, with bytes 0,
        // 1 and 255 (as \DDD escapes) and upper case.
        let pieces = ["a", "aa", "aaaaaaaaa", "aaaaaaaab", "b", "B", "\\000", "a\\000", "\\001", "\\255", "zz", "*"];
        let mut text = String::from("@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\n");
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..400 {
            let mut owner = Vec::new();
            for _ in 0..=(x % 3) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                owner.push(pieces[(x % pieces.len() as u64) as usize]);
            }
            if owner.contains(&"*") && owner[0] != "*" {
                continue;
            }
            text.push_str(&format!("{} TXT \"x\"\n", owner.join(".")));
        }
        let apex = shoal_wire::name::from_ascii("example.").unwrap();
        let zone = crate::load_zone_str(&apex, &text, std::path::Path::new("x.zone")).unwrap();
        let sorted: Vec<&[u8]> = sorted_nodes(&zone).iter().map(|n| n.name()).collect();
        let mut expected: Vec<&[u8]> = zone.nodes().filter(|n| !n.is_empty()).map(|n| n.name()).collect();
        expected.sort_by(|a, b| canonical_cmp(a, b));
        assert!(sorted.len() > 100);
        assert_eq!(sorted, expected);
    }
}
