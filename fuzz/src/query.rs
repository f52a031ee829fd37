//! The `query` target: a message parsed as a query ([`Request::parse`]) and answered
//! from the fixture zones ([`super::fixtures::catalog`]) both ways
//! ([`super::answers::check`]) with the options a worker uses, then given its DNS
//! cookie as a worker gives it (`engine/src/serve/cookie.rs`: a server cookie appended
//! to the answer's OPT record, or BADCOOKIE over UDP for a server cookie not ours) under
//! fixed secrets ([`secrets`]) at a fixed time ([`COOKIE_NOW`]). The answer with its
//! cookie must still fit the size the query allows, and read as a DNS message.
//!
//! Input: one byte of options, then the message as it came off the wire.
//! - bit 0: TCP (64 KiB answers, AXFR refused rather than NOTIMP, no BADCOOKIE);
//! - bit 1: the server has an identity (NSID, CHAOS `id.server`);
//! - bit 2: the server gives its version (CHAOS `version.bind`);
//! - bits 3-4: the server's UDP payload: 1232, 512, 4096 or 1400 bytes;
//! - bit 5: the query came from `::1` rather than `192.0.2.1`.

use super::answers::{self, Dnssec};
use super::fixtures;
use shoal_engine::access::cookies::Secrets;
use shoal_engine::serve::cookie;
use shoal_wire::request::{ParseError, Request};
use shoal_zonedb::{Options, Outcome};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The time server cookies are made and checked at (Unix seconds).
pub const COOKIE_NOW: u32 = 1_767_225_600;

/// The cookie secrets: the current one and the one before a rotation.
pub fn secrets() -> Secrets {
    Secrets { current: [0x11; 16], previous: Some([0x22; 16]) }
}

pub fn run(data: &[u8]) {
    let Some((&bits, msg)) = data.split_first() else { return };
    let opts = options(bits);
    let parsed = Request::parse(msg);
    answers::check(msg, fixtures::catalog(), Dnssec::Whole, &opts, |r, out, limit| {
        match &parsed {
            Err(ParseError::Drop) => assert_eq!(r.outcome, Outcome::Dropped, "a message to drop was answered"),
            Err(ParseError::FormErr { .. }) | Ok(_) => {
                assert!(matches!(r.outcome, Outcome::Answered { .. }), "a query was dropped")
            }
        }
        let Ok(req) = &parsed else { return };
        let (len, _) = cookie::answer(req, r, out, source(bits), &secrets(), COOKIE_NOW, opts.tcp);
        assert!(len <= limit, "an answer of {len} bytes with its cookie, where {limit} are allowed");
        if len > 0 {
            answers::records(&out[..len]);
        }
    });
}

/// The listener options `bits` stand for.
pub fn options(bits: u8) -> Options<'static> {
    Options {
        tcp: bits & 1 != 0,
        udp_payload: [1232, 512, 4096, 1400][usize::from(bits >> 3 & 3)],
        identity: (bits & 2 != 0).then_some(&b"fuzz.shoal"[..]),
        version: (bits & 4 != 0).then_some(&b"shoal fuzz"[..]),
    }
}

/// The query's source address.
pub fn source(bits: u8) -> IpAddr {
    if bits & 0x20 != 0 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
    }
}
