//! NOTIFY out (RFC 1996): tell each secondary that a zone has a new serial.
//!
//! One short-lived thread per zone and new serial sends a NOTIFY (opcode 4, AA, the
//! zone's SOA in the question and answer) to each target over UDP, TSIG-signed when the
//! zone has a transfer key, and retries with doubling timeouts (1, 2, 4, 8 s) until the
//! target answers. The outcome is logged per target.

use crate::access::tsig::{self, Key, Signer};
use crate::metrics::ZoneMeter;
use shoal_wire::message::{Header, MessageBuilder};
use shoal_wire::types::flags;
use shoal_wire::{Name, Opcode, Rcode, Rtype};
use shoal_zonedb::change::diff::Rr;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

const TRIES: u32 = 4;

/// Build a NOTIFY message for `zone` carrying `soa`.
pub fn message(id: u16, zone: &Name, soa: &Rr) -> Vec<u8> {
    // Opcode NOTIFY, AA.
    super::client::soa_message(
        id,
        Opcode::NOTIFY,
        flags::AA,
        zone,
        Rtype::SOA,
        Some((soa, super::client::SoaIn::Answer)),
    )
}

/// Send NOTIFYs for `zone` in the background.
pub fn spawn(zone: Name, soa: Rr, targets: Vec<SocketAddr>, key: Option<Key>, meter: Arc<ZoneMeter>) {
    let r = std::thread::Builder::new().name("shoal-notify".into()).spawn(move || {
        for t in targets {
            meter.notify_sent.inc();
            if !notify_one(&zone, &soa, t, key.as_ref()) {
                meter.notify_failed.inc();
            }
        }
    });
    if let Err(e) = r {
        tracing::error!("cannot start NOTIFY thread: {e}");
    }
}

/// NOTIFY one target, with retries; whether it answered.
fn notify_one(zone: &Name, soa: &Rr, target: SocketAddr, key: Option<&Key>) -> bool {
    let serial = shoal_zonedb::change::diff::soa_serial(&soa.rdata);
    let bind: SocketAddr =
        if target.is_ipv4() { "0.0.0.0:0".parse().expect("valid") } else { "[::]:0".parse().expect("valid") };
    let sock = match UdpSocket::bind(bind).and_then(|s| s.connect(target).map(|_| s)) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%zone, %target, "NOTIFY not sent: {e}");
            return false;
        }
    };
    let id = (std::process::id() as u16) ^ (serial as u16) ^ target.port();
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=TRIES {
        let mut m = message(id, zone, soa);
        if let Some(k) = key {
            Signer::new(k, &[]).sign(&mut m, tsig::now());
        }
        if sock.send(&m).is_ok() {
            let _ = sock.set_read_timeout(Some(wait));
            let mut buf = [0u8; 4096];
            let deadline = std::time::Instant::now() + wait;
            while std::time::Instant::now() < deadline {
                match sock.recv(&mut buf) {
                    Ok(n) if Header::of(&buf[..n]).is_some_and(|h| h.id() == id && h.is_response()) => {
                        let rcode = Header::of(&buf[..n]).map_or(0, |h| h.rcode().0);
                        if rcode == 0 {
                            tracing::info!(%zone, %target, serial, attempt, "NOTIFY acknowledged");
                        } else {
                            tracing::warn!(%zone, %target, serial, rcode, "NOTIFY answered with an error");
                        }
                        return true;
                    }
                    Ok(_) => continue,
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                        break
                    }
                    // Port unreachable (the target is not up yet) and the like: wait out
                    // this try's time before the next one, so the tries span seconds.
                    Err(_) => {
                        std::thread::sleep(deadline.saturating_duration_since(std::time::Instant::now()));
                        break;
                    }
                }
            }
        }
        wait *= 2;
    }
    tracing::warn!(%zone, %target, serial, "NOTIFY not answered after {TRIES} tries");
    false
}

/// What to do with a received NOTIFY.
pub struct InVerdict {
    /// The reply to send (none for a message too broken to answer).
    pub response: Option<Vec<u8>>,
    /// The zone the NOTIFY is about, when its name could be read.
    pub zone: Option<Name>,
    /// Accepted: check the zone's primary now.
    pub accepted: bool,
    /// The serial of the SOA the NOTIFY carried in its answer section, if any.
    pub serial: Option<u32>,
}

/// The serial of the SOA in a NOTIFY's answer section (RFC 1996 §3.7: a hint the
/// secondary may use), given where its question ends.
pub fn announced_serial(msg: &[u8], question_end: usize) -> Option<u32> {
    if Header::of(msg)?.ancount() == 0 {
        return None;
    }
    let at = shoal_wire::name::skip_name(msg, question_end).ok()?;
    let fixed = msg.get(at..at + 10)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata = msg.get(at + 10..at + 10 + rdlen)?;
    if rtype != Rtype::SOA.0 || rdlen < 22 {
        return None;
    }
    let s = &rdata[rdlen - 20..rdlen - 16];
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Check a NOTIFY: a secondary zone of ours (`zone` finds its allow list and key),
/// from an allowed address, signed when a key is set. Accepted: NOERROR; otherwise
/// REFUSED (NOTAUTH for a bad signature), each logged.
pub fn check_in<'a>(
    msg: &[u8],
    peer: SocketAddr,
    keys: &[Key],
    zone: impl Fn(&[u8]) -> Option<(&'a crate::access::acl::Acl, Option<&'a Key>)>,
) -> InVerdict {
    let Ok(req) = shoal_wire::Request::parse(msg) else {
        return InVerdict { response: None, zone: None, accepted: false, serial: None };
    };
    let name = shoal_wire::name::Display(req.qname.as_wire()).to_string();
    let refused = |response: Vec<u8>| InVerdict {
        response: Some(response),
        zone: Name::from_wire(req.qname.as_wire()).ok(),
        accepted: false,
        serial: None,
    };
    let header = Header::of(msg).expect("a parsed request has a header");
    let reply = |rcode: u8, signer: Option<(&Key, &[u8])>| {
        let mut m = MessageBuilder::reply(&header, Rcode(u16::from(rcode)), flags::AA)
            .question_bytes(req.question_bytes())
            .finish();
        if let Some((k, mac)) = signer {
            Signer::new(k, mac).sign(&mut m, tsig::now());
        }
        m
    };
    let Some((acl, key)) = zone(req.qname.as_wire()) else {
        tracing::warn!(zone = %name, %peer, "NOTIFY refused: not a secondary zone of this server");
        return refused(reply(5, None));
    };
    if !acl.allows(peer.ip()) {
        tracing::warn!(zone = %name, %peer, "NOTIFY refused: sender not in allow_notify");
        return refused(reply(5, None));
    }
    let signed = match tsig::verify_request(msg, keys, tsig::now()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(zone = %name, %peer, tsig_error = e.code, "NOTIFY refused: bad TSIG");
            return refused(reply(9, None));
        }
    };
    let mac = match (key, &signed) {
        (Some(k), Some((used, mac))) if used.name == k.name => Some((k, mac.as_slice())),
        (Some(_), _) => {
            tracing::warn!(zone = %name, %peer, "NOTIFY refused: not signed with the zone's transfer_key");
            return refused(reply(5, None));
        }
        (None, _) => None,
    };
    InVerdict {
        response: Some(reply(0, mac)),
        zone: Name::from_wire(req.qname.as_wire()).ok(),
        accepted: true,
        serial: announced_serial(msg, req.question_end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serial_a_notify_carries_is_read_from_its_answer() {
        let zone = shoal_wire::name::from_ascii("example.com.").unwrap();
        let mut rdata = b"\x02ns\x00\x02hm\x00".to_vec();
        for v in [4_000_000_001u32, 3600, 900, 604_800, 300] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        let soa = Rr { owner: zone.clone(), rtype: Rtype::SOA, ttl: 60, rdata: rdata.into() };
        let msg = message(7, &zone, &soa);
        let req = shoal_wire::Request::parse(&msg).unwrap();
        assert_eq!(req.opcode, Opcode::NOTIFY);
        assert_eq!(announced_serial(&msg, req.question_end), Some(4_000_000_001));
        // Without the answer (a bare NOTIFY), no serial.
        let mut bare = msg[..req.question_end].to_vec();
        bare[7] = 0;
        assert_eq!(announced_serial(&bare, req.question_end), None);
        // A cut answer is not read past its end.
        assert_eq!(announced_serial(&msg[..msg.len() - 3], req.question_end), None);
    }
}
