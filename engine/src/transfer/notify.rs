//! NOTIFY out (RFC 1996): tell each secondary that a zone has a new serial.
//!
//! One short-lived thread per zone and new serial sends a NOTIFY (opcode 4, AA, the
//! zone's SOA in the question and answer) to each target over UDP, TSIG-signed when the
//! zone has a transfer key, and retries with doubling timeouts (1, 2, 4, 8 s) until the
//! target answers. The outcome is logged per target.

use super::tsig::{self, Key, Signer};
use shoal_wire::{Name, Rtype};
use shoal_zonedb::diff::Rr;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const TRIES: u32 = 4;

/// Build a NOTIFY message for `zone` carrying `soa`.
pub fn message(id: u16, zone: &Name, soa: &Rr) -> Vec<u8> {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x24, 0x00]); // opcode NOTIFY, AA
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    m.extend_from_slice(zone.as_wire());
    m.extend_from_slice(&Rtype::SOA.0.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&[0xc0, 12]);
    m.extend_from_slice(&Rtype::SOA.0.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&soa.ttl.to_be_bytes());
    m.extend_from_slice(&(soa.rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&soa.rdata);
    m
}

/// Send NOTIFYs for `zone` in the background.
pub fn spawn(zone: Name, soa: Rr, targets: Vec<SocketAddr>, key: Option<Key>) {
    let r = std::thread::Builder::new().name("shoal-notify".into()).spawn(move || {
        for t in targets {
            notify_one(&zone, &soa, t, key.as_ref());
        }
    });
    if let Err(e) = r {
        tracing::error!("cannot start NOTIFY thread: {e}");
    }
}

fn notify_one(zone: &Name, soa: &Rr, target: SocketAddr, key: Option<&Key>) {
    let serial = shoal_zonedb::diff::soa_serial(&soa.rdata);
    let bind: SocketAddr =
        if target.is_ipv4() { "0.0.0.0:0".parse().expect("valid") } else { "[::]:0".parse().expect("valid") };
    let sock = match UdpSocket::bind(bind).and_then(|s| s.connect(target).map(|_| s)) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%zone, %target, "NOTIFY not sent: {e}");
            return;
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
                    Ok(n) if n >= 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0x80 != 0 => {
                        let rcode = buf[3] & 0x0f;
                        if rcode == 0 {
                            tracing::info!(%zone, %target, serial, attempt, "NOTIFY acknowledged");
                        } else {
                            tracing::warn!(%zone, %target, serial, rcode, "NOTIFY answered with an error");
                        }
                        return;
                    }
                    Ok(_) => continue,
                    Err(_) => break,
                }
            }
        }
        wait *= 2;
    }
    tracing::warn!(%zone, %target, serial, "NOTIFY not answered after {TRIES} tries");
}
