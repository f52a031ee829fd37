//! The `tsig` target: TSIG verification (`engine/src/access/tsig.rs`, RFC 8945) of
//! arbitrary messages with fixed keys, at a fixed time ([`NOW`]): each message as a
//! request ([`tsig::verify_request`]), as a single response ([`tsig::verify_response`]),
//! and all of them as one response stream ([`tsig::Verifier`], which lets up to 99
//! unsigned messages pass between signed ones).
//!
//! A fuzzer cannot forge a MAC, so the target can sign the messages itself first: then
//! a request signed with a key must verify with it, and a stream signed by a [`Signer`]
//! must verify message by message, whenever the TSIG record found is the one appended.
//! A damaged byte may follow the signing, to reach the checks behind the MAC.
//!
//! Input: one byte of mode, then messages ([`super::stream`]).
//! - bits 0-1: the key ([`keys`]: HMAC-SHA256, -SHA1, -SHA384, -SHA512);
//! - bit 2: sign the messages first (the first as a request, the rest as its response);
//! - bit 3: then flip the bits of one byte, at the offset the second input byte gives.

use super::stream::frames;
use shoal_engine::access::tsig::{self, Algorithm, Key, Signer, Verifier};
use shoal_wire::name::from_ascii;
use std::sync::OnceLock;

/// The time every signature is made and checked at.
pub const NOW: u64 = 1_767_225_600;

/// The request MAC a response is checked against when the target did not sign.
pub const REQUEST_MAC: [u8; 32] = [0x5a; 32];

/// One key per algorithm; the first is the test harness's `xfr-key.`.
pub fn keys() -> &'static [Key; 4] {
    static KEYS: OnceLock<[Key; 4]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = |name: &str, algorithm, secret: &[u8]| Key {
            name: from_ascii(name).expect("valid"),
            algorithm,
            secret: secret.to_vec(),
        };
        [
            key("xfr-key.", Algorithm::HmacSha256, b"shoal-transfer-test-key-32-bytes!!"),
            key("sha1-key.", Algorithm::HmacSha1, b"0123456789"),
            key("sha384-key.example.", Algorithm::HmacSha384, b""),
            key("sha512-key.", Algorithm::HmacSha512, &[0xa5; 100]),
        ]
    })
}

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let keys = keys();
    let key = &keys[usize::from(mode & 3)];
    let mut messages: Vec<Vec<u8>> = frames(rest).into_iter().map(<[u8]>::to_vec).collect();
    if mode & 4 != 0 {
        let flip = (mode & 8 != 0).then(|| usize::from(rest.get(1).copied().unwrap_or(0)));
        signed(&mut messages, key, keys, flip);
        return;
    }
    for m in &messages {
        let _ = tsig::verify_request(m, keys, NOW);
        let _ = tsig::verify_response(m, key, &REQUEST_MAC, NOW);
    }
    let mut stream = Verifier::new(key, &REQUEST_MAC);
    for m in &messages {
        if stream.verify(m, NOW).is_err() {
            break;
        }
    }
}

/// Sign `messages` with `key` (the first as a request, the rest as its response
/// stream), damage one byte if `flip` says where, and verify them.
fn signed(messages: &mut [Vec<u8>], key: &Key, keys: &[Key], flip: Option<usize>) {
    let Some((request, responses)) = messages.split_first_mut() else { return };
    let appended_at = request.len();
    Signer::new(key, &[]).sign(request, NOW);
    let damaged = flip.is_some_and(|at| damage(request, at));
    let verified = tsig::verify_request(request, keys, NOW);
    let ours = !damaged && found_at(request) == Some(appended_at);
    if ours {
        let used = verified.as_ref().map(|v| v.as_ref().map(|(k, _)| k.name.clone()));
        assert!(matches!(&used, Ok(Some(n)) if *n == key.name), "a request signed with a key does not verify");
    }
    let request_mac = match verified {
        Ok(Some((_, mac))) => mac,
        _ => REQUEST_MAC.to_vec(),
    };
    let mut signer = Signer::new(key, &request_mac);
    let mut stream = Verifier::new(key, &request_mac);
    // Whether every message so far was verified as the signer signed it: once one was
    // not (its TSIG not found where it was appended), the chains part.
    let mut in_step = true;
    for (i, m) in responses.iter_mut().enumerate() {
        let appended_at = m.len();
        signer.sign(m, NOW);
        let damaged = i == 0 && flip.is_some_and(|at| damage(m, at));
        in_step &= !damaged && found_at(m) == Some(appended_at);
        let single = (i == 0).then(|| tsig::verify_response(m, key, &request_mac, NOW));
        let result = stream.verify(m, NOW);
        if in_step {
            assert!(single.is_none_or(|r| r.is_ok()), "a signed response does not verify alone");
            assert!(result.is_ok(), "message {i} of a signed stream does not verify");
        } else if result.is_err() {
            return;
        }
    }
}

/// Flip the bits of the byte at `at` (modulo the length); whether one was flipped.
fn damage(m: &mut [u8], at: usize) -> bool {
    let len = m.len();
    match m.get_mut(at % len.max(1)) {
        Some(b) => {
            *b ^= 0xff;
            true
        }
        None => false,
    }
}

/// Where the TSIG record that ends `m` starts, if one does.
fn found_at(m: &[u8]) -> Option<usize> {
    tsig::find(m).ok().flatten().map(|t| t.start)
}
