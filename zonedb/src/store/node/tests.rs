//! Node packing tests: what is packed reads back, and RDATA copied verbatim into its
//! answer is read back from the answer instead of stored twice.

use super::*;

fn rrset(t: Rtype, rdatas: &[&[u8]]) -> Rrset {
    Rrset { rtype: t, ttl: 300, rdatas: rdatas.iter().map(|r| Box::from(*r)).collect() }
}

#[test]
fn packs_and_reads_back() {
    let data = NodeData {
        flags: 3,
        children: 70_000,
        rrsets: vec![rrset(Rtype::A, &[b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"]), rrset(Rtype::TXT, &[b"\x02hi"])],
    };
    let n = Node::new(b"\x03www\x00", &data, None);
    let r = n.as_ref();
    assert_eq!(r.name(), b"\x03www\x00");
    assert_eq!((r.flags(), r.children(), r.is_empty(), r.record_count()), (3, 70_000, false, 3));
    let a = r.rrset(Rtype::A).unwrap();
    assert_eq!(a.rdatas().collect::<Vec<_>>(), vec![&b"\x01\x02\x03\x04"[..], b"\x05\x06\x07\x08"]);
    assert!(a.block().is_empty());
    assert_eq!(r.rrset(Rtype::TXT).unwrap().first(), b"\x02hi");
    assert!(r.rrset(Rtype::MX).is_none() && r.referral().is_none());
    assert_eq!(r.bytes().len(), packed_len(b"\x03www\x00", &data));
    assert_eq!(r.to_data().rrsets, data.rrsets);
    assert_eq!(check(r.bytes(), 0), Ok(r.bytes().len()));
    // Every truncation, and a length made too large, is refused, never read past.
    for cut in 0..r.bytes().len() {
        assert!(check(&r.bytes()[..cut], 0).is_err(), "truncated at {cut}");
    }
    let mut bad = r.bytes().to_vec();
    let sets_at = 1 + 5 + 5;
    bad[sets_at] = 9;
    assert!(check(&bad, 0).is_err());
}

#[test]
fn rdata_is_read_from_the_answer_when_it_is_verbatim() {
    let data =
        NodeData { flags: 0, children: 0, rrsets: vec![rrset(Rtype::A, &[b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"])] };
    let mut scratch = vec![0u8; 65535];
    let block = Block::compile(b"\x03www\x00", Rtype::A, &mut scratch, |w| {
        data.rrsets[0].rdatas.iter().all(|rd| {
            w.rr(
                shoal_wire::writer::Section::Answer,
                shoal_wire::writer::Owner::Question,
                Rtype::A,
                shoal_wire::Class::IN,
                300,
                rd,
            )
            .is_ok()
        })
    })
    .unwrap();
    let referral = block.clone();
    let blocks = [block];
    let n = Node::new(
        b"\x03www\x00",
        &data,
        Some(Blocks { answers: &blocks, referral: Some(&referral), referral_do: None }),
    );
    let r = n.as_ref();
    assert!(r.referral_do().is_none());
    // With a DO referral too: both blocks read back, and the node checks.
    let mut referral_do = referral.clone();
    referral_do.counts = [0, 2, 1];
    let both = Node::new(
        b"\x03www\x00",
        &data,
        Some(Blocks { answers: &blocks, referral: Some(&referral), referral_do: Some(&referral_do) }),
    );
    let b = both.as_ref();
    assert_eq!(b.referral().unwrap().counts, referral.counts);
    assert_eq!(b.referral_do().unwrap().counts, [0, 2, 1]);
    assert_eq!(b.referral_do().unwrap().bytes, &referral_do.bytes[..]);
    assert_eq!(check(b.bytes(), 0), Ok(b.bytes().len()));
    assert_eq!(b.bytes().len(), r.bytes().len() + 10 + referral_do.pointers.len() + referral_do.bytes.len());
    let a = r.rrset(Rtype::A).unwrap();
    assert_eq!(a.rdatas().collect::<Vec<_>>(), vec![&b"\x01\x02\x03\x04"[..], b"\x05\x06\x07\x08"]);
    assert_eq!(a.block().bytes, &blocks[0].bytes[..]);
    assert_eq!(a.block().counts, [2, 0, 0]);
    assert_eq!(r.referral().unwrap().bytes, &referral.bytes[..]);
    assert_eq!(
        r.referral().unwrap().pointers().collect::<Vec<_>>(),
        blocks[0].as_ref().pointers().collect::<Vec<_>>(),
        "pointers read back"
    );
    assert_eq!(a.block().pointers().collect::<Vec<_>>(), vec![0, 16], "each owner is a pointer to the question");
    assert!(r.bytes().len() < packed_len(b"\x03www\x00", &data) + blocks[0].bytes.len() * 2 + 40, "RDATA stored once");
    assert_eq!(check(r.bytes(), 0), Ok(r.bytes().len()));
    for cut in 0..r.bytes().len() {
        assert!(check(&r.bytes()[..cut], 0).is_err(), "truncated at {cut}");
    }
    // A pointer position past its block is refused.
    let mut bad = r.bytes().to_vec();
    let first_pointer = 1 + 5 + 1 + 4 + 2 + 1 + 14 + 10;
    bad[first_pointer] = 200;
    assert_eq!(check(&bad, 0), Err("pointer outside its block"));
}
