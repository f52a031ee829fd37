//! Several DNS messages in one fuzz input, each after a two-byte length as over TCP
//! (RFC 1035 §4.2.2): how the `xfr_in` and `tsig` inputs carry a stream.

/// The messages of `data`: each after its two-byte length; the last takes the rest.
pub fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let [hi, lo, rest @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (m, tail) = rest.split_at(len);
        out.push(m);
        data = tail;
    }
    out
}
