//! DNS cookies in answers (RFC 7873, server cookies as RFC 9018 makes them): every
//! answer to a query with a client cookie gets a server cookie, appended to its OPT
//! record (the answer left room for it).
//!
//! Over UDP, a query whose server cookie is not one of ours (made with another secret,
//! for another address, or more than an hour ago) gets BADCOOKIE with a fresh server
//! cookie and no answer, as Knot answers it: the client asks again with the cookie,
//! and a forged source address never learns it. Over TCP, which proves the address,
//! it gets its answer and a fresh cookie. A good server cookie less than half an hour
//! old is sent back as it came; an older one is replaced. A client with a good server
//! cookie is not rate limited ([`super::rrl`]).

use crate::access::cookies::{Check, Secrets, SERVER_COOKIE_LEN};
use shoal_wire::edns::{COOKIE_ANSWER_LEN, OPT_COOKIE};
use shoal_wire::{Request, HEADER_LEN};
use shoal_zonedb::answer::Response;
use std::net::IpAddr;

/// Extended RCODE BADCOOKIE (RFC 7873 §8).
const BADCOOKIE: u16 = 23;

/// Unix seconds, the clock server cookies are stamped with (read once per batch).
pub fn now() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32)
}

/// Read the cookie secret file again (a reload): a new secret there replaces the
/// current one, which stays good for an hour.
pub fn reread_secret(shared: &super::Shared) {
    if let Some(keeper) = &shared.cookies {
        match keeper.reread() {
            Ok(true) => tracing::info!("new cookie secret read; the previous one stays good for an hour"),
            Ok(false) => {}
            Err(e) => tracing::error!("{e}; the cookie secret is kept"),
        }
    }
}

/// Add the server cookie to the answer `r` written in `out` for `req` from `ip`, or
/// replace the answer with BADCOOKIE; returns the answer's length and whether the
/// query brought a good server cookie.
pub fn answer(
    req: &Request<'_>,
    r: &Response,
    out: &mut [u8],
    ip: IpAddr,
    secrets: &Secrets,
    now: u32,
    tcp: bool,
) -> (usize, bool) {
    let Some((client, server)) = req.cookie() else { return (r.len, false) };
    if r.opt_at == 0 || r.len + COOKIE_ANSWER_LEN > out.len() {
        return (r.len, false);
    }
    let check = secrets.check(client, server, ip, now);
    let cookie: [u8; SERVER_COOKIE_LEN] = match check {
        Check::Valid { fresh: true } => server.try_into().unwrap_or_else(|_| secrets.server_cookie(client, ip, now)),
        Check::Invalid if !tcp => return (bad_cookie(req, out, &secrets.server_cookie(client, ip, now)), false),
        _ => secrets.server_cookie(client, ip, now),
    };
    let len = append(out, r.opt_at, r.len, client, &cookie);
    (len, matches!(check, Check::Valid { .. }))
}

/// Append the COOKIE option to the OPT record at `opt_at` (the last record of the
/// `len` bytes in `out`); the new length.
fn append(out: &mut [u8], opt_at: usize, len: usize, client: &[u8; 8], server: &[u8; SERVER_COOKIE_LEN]) -> usize {
    let rdlen_at = opt_at + 9;
    let rdlen = u16::from_be_bytes([out[rdlen_at], out[rdlen_at + 1]]) + COOKIE_ANSWER_LEN as u16;
    out[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    out[len..len + 2].copy_from_slice(&OPT_COOKIE.to_be_bytes());
    out[len + 2..len + 4].copy_from_slice(&((8 + SERVER_COOKIE_LEN) as u16).to_be_bytes());
    out[len + 4..len + 12].copy_from_slice(client);
    out[len + 12..len + COOKIE_ANSWER_LEN].copy_from_slice(server);
    len + COOKIE_ANSWER_LEN
}

/// Write BADCOOKIE for `req` into `out`: the header, the question, and an OPT record
/// with the client cookie and a fresh server cookie. Returns its length.
fn bad_cookie(req: &Request<'_>, out: &mut [u8], server: &[u8; SERVER_COOKIE_LEN]) -> usize {
    let question = req.question_bytes();
    let flags = 0x8000 | (u16::from(req.opcode.0) << 11) | (req.flags & 0x0100) | (BADCOOKIE & 0x0f);
    let payload = shoal_zonedb::answer::DEFAULT_UDP_PAYLOAD;
    let dnssec_ok = req.edns.is_some_and(|e| e.dnssec_ok);
    let mut m = [0u8; HEADER_LEN];
    m[..2].copy_from_slice(&req.id.to_be_bytes());
    m[2..4].copy_from_slice(&flags.to_be_bytes());
    m[4..6].copy_from_slice(&1u16.to_be_bytes());
    m[10..12].copy_from_slice(&1u16.to_be_bytes());
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        out[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    put(&m);
    put(question);
    let ttl = ((u32::from(BADCOOKIE) >> 4) << 24) | if dnssec_ok { 0x8000 } else { 0 };
    put(&[0, 0, 41]);
    put(&payload.to_be_bytes());
    put(&ttl.to_be_bytes());
    put(&[0, 0]);
    let client = req.cookie().map_or([0u8; 8], |(c, _)| *c);
    append(out, HEADER_LEN + question.len(), len, &client, server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::edns::expire_value;

    /// A query for `a.` with a COOKIE option of `cookie`.
    fn query(cookie: &[u8]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0]);
        m.extend_from_slice(&((4 + cookie.len()) as u16).to_be_bytes());
        m.extend_from_slice(&[0, 10]);
        m.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
        m.extend_from_slice(cookie);
        m
    }

    /// The answer's COOKIE option data.
    fn cookie_of(m: &[u8]) -> Vec<u8> {
        let at = m.windows(4).rposition(|w| w == [0, 10, 0, 24]).expect("a COOKIE option of 24 bytes");
        m[at + 4..at + 28].to_vec()
    }

    fn answer_to(q: &[u8], secrets: &Secrets, now: u32, tcp: bool) -> (Vec<u8>, bool) {
        let apex = shoal_wire::name::from_ascii("a.").unwrap();
        let snap =
            shoal_zonedb::load_zone_str(&apex, "@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\n@ 60 A 192.0.2.1\n", "z".as_ref())
                .unwrap();
        let mut cat = shoal_zonedb::Catalog::new();
        cat.insert(apex, shoal_zonedb::ZoneState::Ready(std::sync::Arc::new(snap)));
        let mut out = vec![0u8; 1232];
        let opts = shoal_zonedb::Options::default();
        let r = shoal_zonedb::answer::answer(q, &cat, &opts, &mut out);
        let req = Request::parse(q).unwrap();
        let (len, valid) = answer(&req, &r, &mut out, "192.0.2.9".parse().unwrap(), secrets, now, tcp);
        out.truncate(len);
        (out, valid)
    }

    #[test]
    fn first_query_learns_a_cookie_that_then_comes_back_good() {
        let secrets = Secrets::random();
        let client = [7u8; 8];
        let (first, valid) = answer_to(&query(&client), &secrets, 1000, false);
        assert!(!valid);
        assert_eq!(first[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([first[6], first[7]]), 1, "the answer is there");
        let c = cookie_of(&first);
        assert_eq!(&c[..8], &client);
        assert_eq!(expire_value(&first), None);
        let (second, valid) = answer_to(&query(&c), &secrets, 1010, false);
        assert!(valid, "our own cookie");
        assert_eq!(cookie_of(&second), c, "a fresh cookie comes back as it was");
        let (later, valid) = answer_to(&query(&c), &secrets, 1000 + 2000, false);
        assert!(valid);
        assert_ne!(cookie_of(&later)[8..], c[8..], "an older one is replaced");
    }

    #[test]
    fn a_bad_server_cookie_gets_badcookie_over_udp_and_an_answer_over_tcp() {
        let secrets = Secrets::random();
        let mut forged = vec![7u8; 8];
        forged.extend_from_slice(&[1, 0, 0, 0, 0, 0, 3, 232]);
        forged.extend_from_slice(&[9; 8]);
        let (udp, valid) = answer_to(&query(&forged), &secrets, 1000, false);
        assert!(!valid);
        assert_eq!(udp[3] & 0x0f, 7, "BADCOOKIE's low bits");
        assert_eq!(&udp[6..12], &[0, 0, 0, 0, 0, 1], "no records but the OPT");
        let opt = HEADER_LEN + 7;
        assert_eq!(udp[opt + 5], 1, "BADCOOKIE's high bits in the OPT TTL");
        let fresh = cookie_of(&udp);
        assert_eq!(
            secrets.check(&[7u8; 8], &fresh[8..], "192.0.2.9".parse().unwrap(), 1000),
            Check::Valid { fresh: true }
        );
        let (tcp, _) = answer_to(&query(&forged), &secrets, 1000, true);
        assert_eq!(tcp[3] & 0x0f, 0);
        assert_eq!(u16::from_be_bytes([tcp[6], tcp[7]]), 1, "answered over TCP");
    }
}
