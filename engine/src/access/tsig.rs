//! TSIG (RFC 8945): signing and verifying messages with a shared secret.
//!
//! - [`verify_request`] checks the TSIG record that ends a request: known key, same
//!   algorithm, MAC over the message with the TSIG removed, time within the fudge.
//!   Failures carry the TSIG error code (BADKEY, BADSIG, BADTIME) for the NOTAUTH reply.
//! - [`Signer`] signs a sequence of response messages: the first MAC covers the
//!   request's MAC, every later one the previous MAC and only the timers
//!   (RFC 8945 §5.3.1), which is what AXFR/IXFR clients verify.
//! - The same `Signer` signs requests (with no prior MAC) for the secondary side.
//!
//! Truncated MACs (§5.2.2.1) are not accepted: a MAC must have the algorithm's length.

use hmac::{Hmac, Mac};
use shoal_wire::message::{Header, HeaderMut};
use shoal_wire::name::{lowercase_in_place, skip_name};
use shoal_wire::{Name, Rtype};

pub const BADSIG: u16 = 16;
pub const BADKEY: u16 = 17;
pub const BADTIME: u16 = 18;
/// Allowed clock difference, seconds (RFC 8945 §10 recommends 300).
pub const FUDGE: u16 = 300;

/// HMAC algorithms (RFC 8945 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    /// The configuration name (`hmac-sha256`).
    pub fn from_config(s: &str) -> Option<Algorithm> {
        match s.to_ascii_lowercase().as_str() {
            "hmac-sha1" => Some(Algorithm::HmacSha1),
            "hmac-sha256" => Some(Algorithm::HmacSha256),
            "hmac-sha384" => Some(Algorithm::HmacSha384),
            "hmac-sha512" => Some(Algorithm::HmacSha512),
            _ => None,
        }
    }

    /// The algorithm name in wire form.
    pub fn wire_name(self) -> &'static [u8] {
        match self {
            Algorithm::HmacSha1 => b"\x09hmac-sha1\x00",
            Algorithm::HmacSha256 => b"\x0bhmac-sha256\x00",
            Algorithm::HmacSha384 => b"\x0bhmac-sha384\x00",
            Algorithm::HmacSha512 => b"\x0bhmac-sha512\x00",
        }
    }

    pub fn mac_len(self) -> usize {
        match self {
            Algorithm::HmacSha1 => 20,
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha384 => 48,
            Algorithm::HmacSha512 => 64,
        }
    }

    fn mac(self, secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }
        match self {
            Algorithm::HmacSha1 => run::<Hmac<sha1::Sha1>>(secret, parts),
            Algorithm::HmacSha256 => run::<Hmac<sha2::Sha256>>(secret, parts),
            Algorithm::HmacSha384 => run::<Hmac<sha2::Sha384>>(secret, parts),
            Algorithm::HmacSha512 => run::<Hmac<sha2::Sha512>>(secret, parts),
        }
    }
}

/// A TSIG key from the configuration.
#[derive(Clone, Debug)]
pub struct Key {
    pub name: Name,
    pub algorithm: Algorithm,
    pub secret: Vec<u8>,
}

/// The TSIG record found at the end of a message.
#[derive(Debug, Clone)]
pub struct TsigRecord {
    /// Offset of the TSIG RR in the message.
    pub start: usize,
    pub key_name: Vec<u8>,
    pub algorithm: Vec<u8>,
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    pub error: u16,
}

/// A failed verification: the TSIG error to report, and the key name if known.
#[derive(Debug, Clone)]
pub struct TsigError {
    pub code: u16,
    pub record: Option<TsigRecord>,
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// The message is malformed, or has a TSIG record that is not its last record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedTsig;

/// Find the TSIG record if it is the last record of the message.
pub fn find(msg: &[u8]) -> Result<Option<TsigRecord>, MalformedTsig> {
    let h = Header::of(msg).ok_or(MalformedTsig)?;
    let mut pos = shoal_wire::HEADER_LEN;
    for _ in 0..h.qdcount() {
        pos = skip_name(msg, pos).map_err(|_| MalformedTsig)? + 4;
    }
    let total = usize::from(h.ancount()) + usize::from(h.nscount()) + usize::from(h.arcount());
    let mut last = None;
    for i in 0..total {
        let start = pos;
        pos = skip_name(msg, pos).map_err(|_| MalformedTsig)?;
        let rtype = be16(msg, pos).ok_or(MalformedTsig)?;
        let rdlen = be16(msg, pos + 8).ok_or(MalformedTsig)? as usize;
        let rdata = pos + 10;
        pos = rdata + rdlen;
        if pos > msg.len() {
            return Err(MalformedTsig);
        }
        if rtype == Rtype::TSIG.0 {
            if i != total - 1 {
                return Err(MalformedTsig);
            }
            last = Some((start, rdata, rdlen));
        }
    }
    let Some((start, rdata, rdlen)) = last else { return Ok(None) };
    let mut key = shoal_wire::NameBuf::default();
    shoal_wire::name::parse_name(msg, start, &mut key).map_err(|_| MalformedTsig)?;
    let rd = &msg[rdata..rdata + rdlen];
    let mut alg = shoal_wire::NameBuf::default();
    let p = shoal_wire::name::parse_name(rd, 0, &mut alg).map_err(|_| MalformedTsig)?;
    let f = rd.get(p..p + 10).ok_or(MalformedTsig)?;
    let time_signed = u64::from_be_bytes([0, 0, f[0], f[1], f[2], f[3], f[4], f[5]]);
    let fudge = be16(f, 6).ok_or(MalformedTsig)?;
    let mac_len = be16(f, 8).ok_or(MalformedTsig)? as usize;
    let mac = rd.get(p + 10..p + 10 + mac_len).ok_or(MalformedTsig)?.to_vec();
    let q = p + 10 + mac_len;
    let original_id = be16(rd, q).ok_or(MalformedTsig)?;
    let error = be16(rd, q + 2).ok_or(MalformedTsig)?;
    let other = be16(rd, q + 4).ok_or(MalformedTsig)? as usize;
    if q + 6 + other != rd.len() {
        return Err(MalformedTsig);
    }
    Ok(Some(TsigRecord {
        start,
        key_name: key.as_wire().to_vec(),
        algorithm: alg.as_wire().to_vec(),
        time_signed,
        fudge,
        mac,
        original_id,
        error,
    }))
}

/// The message as it was before signing: TSIG removed, ARCOUNT decremented, original ID.
fn unsigned_message(msg: &[u8], t: &TsigRecord) -> Vec<u8> {
    let mut m = msg[..t.start].to_vec();
    if let Some(mut h) = HeaderMut::of(&mut m) {
        h.set_id(t.original_id);
        h.add_arcount(-1);
    }
    m
}

fn variables(key: &[u8], alg: &[u8], time: u64, fudge: u16, error: u16, other: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    let mut k = key.to_vec();
    lowercase_in_place(&mut k);
    v.extend_from_slice(&k);
    v.extend_from_slice(&255u16.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    let mut a = alg.to_vec();
    lowercase_in_place(&mut a);
    v.extend_from_slice(&a);
    v.extend_from_slice(&time.to_be_bytes()[2..]);
    v.extend_from_slice(&fudge.to_be_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&(other.len() as u16).to_be_bytes());
    v.extend_from_slice(other);
    v
}

/// Verify a signed request against `keys`. `Ok(None)`: not signed. `Ok(Some(..))`:
/// the key used and the request's MAC (for signing the response).
pub fn verify_request<'k>(msg: &[u8], keys: &'k [Key], now: u64) -> Result<Option<(&'k Key, Vec<u8>)>, TsigError> {
    let t = match find(msg) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(MalformedTsig) => return Err(TsigError { code: BADSIG, record: None }),
    };
    verify(msg, &t, keys, now, &[]).map(|k| Some((k, t.mac.clone())))
}

/// Verify a signed response to a request whose MAC was `request_mac`.
pub fn verify_response(msg: &[u8], key: &Key, request_mac: &[u8], now: u64) -> Result<Vec<u8>, TsigError> {
    let t = match find(msg) {
        Ok(Some(t)) => t,
        _ => return Err(TsigError { code: BADSIG, record: None }),
    };
    verify(msg, &t, std::slice::from_ref(key), now, request_mac).map(|_| t.mac.clone())
}

fn verify<'k>(msg: &[u8], t: &TsigRecord, keys: &'k [Key], now: u64, prior: &[u8]) -> Result<&'k Key, TsigError> {
    let err = |code| TsigError { code, record: Some(t.clone()) };
    let mut kn = t.key_name.clone();
    lowercase_in_place(&mut kn);
    let mut an = t.algorithm.clone();
    lowercase_in_place(&mut an);
    let key = keys
        .iter()
        .find(|k| k.name.as_wire() == kn.as_slice() && k.algorithm.wire_name() == an.as_slice())
        .ok_or(err(BADKEY))?;
    if t.mac.len() != key.algorithm.mac_len() {
        return Err(err(BADSIG));
    }
    let body = unsigned_message(msg, t);
    let vars = variables(&t.key_name, &t.algorithm, t.time_signed, t.fudge, t.error, &[]);
    let mut parts: Vec<&[u8]> = Vec::new();
    let prior_len = (prior.len() as u16).to_be_bytes();
    if !prior.is_empty() {
        parts.push(&prior_len);
        parts.push(prior);
    }
    parts.push(&body);
    parts.push(&vars);
    let expect = key.algorithm.mac(&key.secret, &parts);
    if !constant_time_eq(&expect, &t.mac) {
        return Err(err(BADSIG));
    }
    if now.abs_diff(t.time_signed) > u64::from(t.fudge) {
        return Err(err(BADTIME));
    }
    Ok(key)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies the messages of a signed response stream (RFC 8945 §5.3.1): the first
/// must be signed; later ones may leave out the TSIG (up to 99 in a row), and the next
/// signed message then covers them.
pub struct Verifier<'k> {
    key: &'k Key,
    prior_mac: Vec<u8>,
    first: bool,
    unsigned: Vec<u8>,
    unsigned_count: usize,
}

impl<'k> Verifier<'k> {
    pub fn new(key: &'k Key, request_mac: &[u8]) -> Self {
        Verifier { key, prior_mac: request_mac.to_vec(), first: true, unsigned: Vec::new(), unsigned_count: 0 }
    }

    /// Check one message of the stream.
    pub fn verify(&mut self, msg: &[u8], now: u64) -> Result<(), TsigError> {
        let t = match find(msg) {
            Ok(Some(t)) => t,
            Ok(None) if !self.first && self.unsigned_count < 99 => {
                self.unsigned.extend_from_slice(msg);
                self.unsigned_count += 1;
                return Ok(());
            }
            _ => return Err(TsigError { code: BADSIG, record: None }),
        };
        let err = |code| TsigError { code, record: Some(t.clone()) };
        let mut kn = t.key_name.clone();
        lowercase_in_place(&mut kn);
        if kn != self.key.name.as_wire() || t.mac.len() != self.key.algorithm.mac_len() {
            return Err(err(BADKEY));
        }
        let body = unsigned_message(msg, &t);
        let prior_len = (self.prior_mac.len() as u16).to_be_bytes();
        let mut parts: Vec<&[u8]> = vec![&prior_len, &self.prior_mac, &self.unsigned, &body];
        let vars;
        let mut timers = [0u8; 8];
        if self.first {
            vars = variables(&t.key_name, &t.algorithm, t.time_signed, t.fudge, t.error, &[]);
            parts.push(&vars);
        } else {
            timers[..6].copy_from_slice(&t.time_signed.to_be_bytes()[2..]);
            timers[6..].copy_from_slice(&t.fudge.to_be_bytes());
            parts.push(&timers);
        }
        let expect = self.key.algorithm.mac(&self.key.secret, &parts);
        if !constant_time_eq(&expect, &t.mac) {
            return Err(err(BADSIG));
        }
        if now.abs_diff(t.time_signed) > u64::from(t.fudge) {
            return Err(err(BADTIME));
        }
        self.prior_mac = t.mac;
        self.first = false;
        self.unsigned.clear();
        self.unsigned_count = 0;
        Ok(())
    }
}

/// Signs a request or a sequence of response messages.
pub struct Signer<'k> {
    key: &'k Key,
    prior_mac: Vec<u8>,
    first: bool,
}

impl<'k> Signer<'k> {
    /// For a response to a request with MAC `request_mac`; for a request, pass `&[]`.
    pub fn new(key: &'k Key, request_mac: &[u8]) -> Self {
        Signer { key, prior_mac: request_mac.to_vec(), first: true }
    }

    /// The MAC of the last message signed.
    pub fn last_mac(&self) -> &[u8] {
        &self.prior_mac
    }

    /// Append a TSIG record to `msg` (a complete message) and bump ARCOUNT.
    pub fn sign(&mut self, msg: &mut Vec<u8>, now: u64) {
        let alg = self.key.algorithm.wire_name();
        let key = self.key.name.as_wire();
        let mut parts: Vec<&[u8]> = Vec::new();
        let prior_len = (self.prior_mac.len() as u16).to_be_bytes();
        if !self.prior_mac.is_empty() {
            parts.push(&prior_len);
            parts.push(&self.prior_mac);
        }
        parts.push(msg);
        let vars;
        let mut timers = [0u8; 8];
        if self.first {
            vars = variables(key, alg, now, FUDGE, 0, &[]);
            parts.push(&vars);
        } else {
            timers[..6].copy_from_slice(&now.to_be_bytes()[2..]);
            timers[6..].copy_from_slice(&FUDGE.to_be_bytes());
            parts.push(&timers);
        }
        let mac = self.key.algorithm.mac(&self.key.secret, &parts);
        let id = Header::of(msg).map_or(0, |h| h.id());
        append_tsig(msg, key, alg, now, &mac, id, 0);
        self.prior_mac = mac;
        self.first = false;
    }
}

/// Append a TSIG record (signed or, with an empty MAC, an unsigned error report).
pub fn append_tsig(msg: &mut Vec<u8>, key: &[u8], alg: &[u8], time: u64, mac: &[u8], original_id: u16, error: u16) {
    msg.extend_from_slice(key);
    msg.extend_from_slice(&Rtype::TSIG.0.to_be_bytes());
    msg.extend_from_slice(&255u16.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    let rdlen = alg.len() + 6 + 2 + 2 + mac.len() + 2 + 2 + 2;
    msg.extend_from_slice(&(rdlen as u16).to_be_bytes());
    msg.extend_from_slice(alg);
    msg.extend_from_slice(&time.to_be_bytes()[2..]);
    msg.extend_from_slice(&FUDGE.to_be_bytes());
    msg.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    msg.extend_from_slice(mac);
    msg.extend_from_slice(&original_id.to_be_bytes());
    msg.extend_from_slice(&error.to_be_bytes());
    msg.extend_from_slice(&0u16.to_be_bytes());
    if let Some(mut h) = HeaderMut::of(msg) {
        h.add_arcount(1);
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::name::from_ascii;

    fn key() -> Key {
        Key {
            name: from_ascii("xfr-key.").unwrap(),
            algorithm: Algorithm::HmacSha256,
            secret: b"0123456789abcdef".to_vec(),
        }
    }

    fn query() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(b"\x07example\x03com\x00\x00\xfc\x00\x01");
        m
    }

    #[test]
    fn sign_then_verify_request_and_response_chain() {
        let k = key();
        let keys = [k.clone()];
        let mut q = query();
        let mut s = Signer::new(&k, &[]);
        s.sign(&mut q, 1000);
        let (used, req_mac) = verify_request(&q, &keys, 1010).unwrap().unwrap();
        assert_eq!(used.name, k.name);
        // A two-message response.
        let mut signer = Signer::new(&k, &req_mac);
        let mut r1 = query();
        r1[2] = 0x84;
        signer.sign(&mut r1, 1000);
        let mut r2 = r1[..12].to_vec();
        r2[5] = 0;
        r2[10] = 0;
        r2[11] = 0;
        signer.sign(&mut r2, 1000);
        let m1 = verify_response(&r1, &k, &req_mac, 1000).unwrap();
        let mut v = Verifier::new(&k, &req_mac);
        v.verify(&r1, 1000).unwrap();
        v.verify(&r2, 1000).unwrap();
        let mut v = Verifier::new(&k, &req_mac);
        assert!(v.verify(&r2, 1000).is_err(), "out of order");
        // The second message's MAC covers the first MAC and timers only.
        let t2 = find(&r2).unwrap().unwrap();
        let body = unsigned_message(&r2, &t2);
        let mut timers = Vec::new();
        timers.extend_from_slice(&1000u64.to_be_bytes()[2..]);
        timers.extend_from_slice(&FUDGE.to_be_bytes());
        let expect = k.algorithm.mac(&k.secret, &[&(m1.len() as u16).to_be_bytes(), &m1, &body, &timers]);
        assert_eq!(expect, t2.mac);
    }

    #[test]
    fn wrong_secret_unknown_key_and_stale_time_are_reported() {
        let k = key();
        let mut q = query();
        Signer::new(&k, &[]).sign(&mut q, 1000);
        let other = Key { secret: b"another secret!!".to_vec(), ..key() };
        assert_eq!(verify_request(&q, &[other], 1000).unwrap_err().code, BADSIG);
        let unknown = Key { name: from_ascii("other.").unwrap(), ..key() };
        assert_eq!(verify_request(&q, &[unknown], 1000).unwrap_err().code, BADKEY);
        assert_eq!(verify_request(&q, &[key()], 5000).unwrap_err().code, BADTIME);
        let mut tampered = q.clone();
        tampered[13] ^= 0x20;
        assert_eq!(verify_request(&tampered, &[key()], 1000).unwrap_err().code, BADSIG);
        assert!(verify_request(&query(), &[key()], 1000).unwrap().is_none());
    }
}
