//! TSIG (RFC 8945), HMAC-SHA256 only, written here rather than taken from a library so
//! that the fake primary can sign and mis-sign: [`sign`] appends a TSIG record to a
//! message (optionally with a damaged MAC), [`mac`] finds the MAC of a signed one.
//! Verifying a signature is left to the servers under test.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};

use super::dns::{name_wire, TYPE_TSIG};
use super::{KEY_NAME, KEY_SECRET};

/// A TSIG key (HMAC-SHA256).
#[derive(Clone, Debug)]
pub struct Key {
    pub name: String,
    pub secret: Vec<u8>,
}

impl Key {
    /// The key every Shoal and every peer is configured with ([`KEY_NAME`]).
    pub fn test_key() -> Key {
        let secret = data_encoding::BASE64.decode(KEY_SECRET.as_bytes()).expect("test key is base64");
        Key { name: KEY_NAME.to_string(), secret }
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Sign `msg` in place (append a TSIG RR, bump ARCOUNT) and return the MAC. `request_mac`:
/// the request's MAC when signing the first response to it (RFC 8945 §5.3). With
/// `corrupt`, the MAC is computed and then damaged: a bad signature by a known key.
pub fn sign(msg: &mut Vec<u8>, key: &Key, request_mac: Option<&[u8]>, corrupt: bool) -> Vec<u8> {
    let time = now_secs();
    let fudge: u16 = 300;
    let key_name = name_wire(&key.name.to_ascii_lowercase());
    let algorithm = name_wire("hmac-sha256.");
    let mut data = Vec::with_capacity(msg.len() + 128);
    if let Some(prior) = request_mac {
        data.extend_from_slice(&(prior.len() as u16).to_be_bytes());
        data.extend_from_slice(prior);
    }
    data.extend_from_slice(msg);
    data.extend_from_slice(&key_name);
    data.extend_from_slice(&255u16.to_be_bytes()); // class ANY
    data.extend_from_slice(&0u32.to_be_bytes()); // TTL
    data.extend_from_slice(&algorithm);
    data.extend_from_slice(&time.to_be_bytes()[2..]); // 48-bit time signed
    data.extend_from_slice(&fudge.to_be_bytes());
    data.extend_from_slice(&0u16.to_be_bytes()); // error
    data.extend_from_slice(&0u16.to_be_bytes()); // other len
    let mut hmac = Hmac::<sha2::Sha256>::new_from_slice(&key.secret).expect("HMAC takes any key length");
    hmac.update(&data);
    let mut mac = hmac.finalize().into_bytes().to_vec();
    if corrupt {
        mac[0] ^= 0x55;
        mac[31] ^= 0xaa;
    }
    let mut rdata = Vec::with_capacity(algorithm.len() + 48);
    rdata.extend_from_slice(&algorithm);
    rdata.extend_from_slice(&time.to_be_bytes()[2..]);
    rdata.extend_from_slice(&fudge.to_be_bytes());
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&mac);
    rdata.extend_from_slice(&msg[0..2]); // original ID
    rdata.extend_from_slice(&0u16.to_be_bytes());
    rdata.extend_from_slice(&0u16.to_be_bytes());
    msg.extend_from_slice(&key_name);
    msg.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    msg.extend_from_slice(&255u16.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    msg.extend_from_slice(&rdata);
    let arcount = u16::from_be_bytes([msg[10], msg[11]]) + 1;
    msg[10..12].copy_from_slice(&arcount.to_be_bytes());
    mac
}

/// The MAC of a message's TSIG record, if its last record is one (for signing a
/// response). Walked by hand: hickory-proto without its DNSSEC features does not fill
/// `Message::signature`.
pub fn mac(msg: &[u8]) -> Option<Vec<u8>> {
    let count = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]) as usize;
    if msg.len() < 12 {
        return None;
    }
    let mut pos = 12;
    for _ in 0..count(4) {
        pos = skip_name(msg, pos)? + 4;
    }
    let records = count(6) + count(8) + count(10);
    let mut last = None;
    for _ in 0..records {
        let start = skip_name(msg, pos)?;
        let rtype = u16::from_be_bytes([*msg.get(start)?, *msg.get(start + 1)?]);
        let rdlen = u16::from_be_bytes([*msg.get(start + 8)?, *msg.get(start + 9)?]) as usize;
        last = Some((rtype, start + 10));
        pos = start + 10 + rdlen;
    }
    let (rtype, rdata) = last?;
    if rtype != TYPE_TSIG {
        return None;
    }
    let p = skip_name(msg, rdata)? + 8;
    let len = u16::from_be_bytes([*msg.get(p)?, *msg.get(p + 1)?]) as usize;
    msg.get(p + 2..p + 2 + len).map(<[u8]>::to_vec)
}

/// The position after the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => return Some(pos + 2),
            l if l < 64 => pos += 1 + l as usize,
            _ => return None,
        }
    }
}
