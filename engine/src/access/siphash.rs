//! SipHash-2-4 (Aumasson and Bernstein): the keyed 64-bit hash RFC 9018 builds DNS
//! server cookies on. A 16-byte key, a message, no allocation.

/// SipHash-2-4 of `message` under `key`.
pub fn siphash24(key: &[u8; 16], message: &[u8]) -> u64 {
    let k0 = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
    let k1 = u64::from_le_bytes(key[8..].try_into().expect("8 bytes"));
    let mut v = [
        0x736f_6d65_7073_6575 ^ k0,
        0x646f_7261_6e64_6f6d ^ k1,
        0x6c79_6765_6e65_7261 ^ k0,
        0x7465_6462_7974_6573 ^ k1,
    ];
    let mut chunks = message.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let rest = chunks.remainder();
    let mut last = (message.len() as u64 & 0xff) << 56;
    for (i, b) in rest.iter().enumerate() {
        last |= u64::from(*b) << (8 * i);
    }
    v[3] ^= last;
    round(&mut v);
    round(&mut v);
    v[0] ^= last;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference vectors of the SipHash paper (key 00..0f, messages 00, 00 01, ...).
    #[test]
    fn reference_vectors() {
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let message: Vec<u8> = (0..64).collect();
        let expect = |n: usize| siphash24(&key, &message[..n]);
        assert_eq!(expect(0), 0x726f_db47_dd0e_0e31);
        assert_eq!(expect(1), 0x74f8_39c5_93dc_67fd);
        assert_eq!(expect(2), 0x0d6c_8009_d9a9_4f5a);
        assert_eq!(expect(8), 0x93f5_f579_9a93_2462);
        assert_eq!(expect(15), 0xa129_ca61_49be_45e5);
        assert_eq!(expect(63), 0x958a_324c_eb06_4572);
    }
}
