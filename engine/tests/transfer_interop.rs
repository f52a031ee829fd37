//! Zone transfers between Shoal and the reference servers (issue 4): Shoal as primary
//! of Knot DNS, NSD and BIND, and Shoal as secondary of each of them. One test per
//! peer and direction; the tests of this file run one at a time ([`harness::serial_guard`]).
//!
//! Shoal as primary ([`shoal_primary`]): the peer takes the zone by AXFR and serves
//! exactly what Shoal serves (both AXFRed and compared record for record); after an
//! edit and SIGHUP, Shoal's NOTIFY brings the new version to the peer by IXFR (seen in
//! the peer's log and in Shoal's); a keyed zone transfers with the key; a zone whose
//! `allow_transfer` leaves the peer out is refused, and the peer serves nothing for it.
//!
//! Shoal as secondary ([`shoal_secondary`]): initial AXFR; NOTIFY-driven IXFR; refresh
//! by polling; serial wrap-around (RFC 1982: 4294967295 → 5 is newer); the primary
//! stopped (Shoal keeps serving and retries); expiry (SERVFAIL after expire_max);
//! restart of Shoal serving from its state directory before the primary is back; and
//! convergence when it is back. Each step has its own zone so that failures point at
//! one feature.
//!
//! Two peer-free tests pin, on their own, what Knot does differently from BIND and NSD:
//! it sends NOTIFY over TCP, and it asks for the SOA and then the IXFR on one TCP
//! connection, signed when the zone has a key.
//!
//! A missing peer daemon fails the test unless `SHOAL_ALLOW_NO_PEERS=1`.

mod harness;

use std::net::SocketAddr;

use harness::dns::{self, converges, Answer};
use harness::fake::{FakePrimary, Fault};
use harness::peers::{self, Peer, PeerKind, PeerZone};
use harness::shoal::{Shoal, ShoalZone};
use harness::tsig::{self, Key};
use harness::{free_port, serial_guard, wait_until, zone, Checks, WAIT};

const ALLOW_LOCAL: &str = "allow_transfer = [\"127.0.0.1\"]";
/// Refresh of the zones updated by NOTIFY: long enough that an update arriving sooner
/// than [`NOTIFY_FAST`] was driven by NOTIFY, short enough that the test goes on if not.
const NOTIFY_REFRESH: u32 = 25;
const NOTIFY_FAST: std::time::Duration = std::time::Duration::from_secs(12);

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One side of a comparison: a name for messages, an address, the key to sign with.
type Side<'a> = (&'a str, SocketAddr, Option<&'a Key>);

/// AXFR `zone` from both servers and compare record for record.
fn same_zone(zone: &str, a: Side, b: Side) -> Result<(), String> {
    let ra = dns::axfr(a.1, zone, a.2).map_err(|e| format!("AXFR from {}: {e}", a.0))?;
    let rb = dns::axfr(b.1, zone, b.2).map_err(|e| format!("AXFR from {}: {e}", b.0))?;
    if ra.len() <= zone::HOSTS {
        return Err(format!("{zone}: {} sent only {} records", a.0, ra.len()));
    }
    if ra != rb {
        return Err(format!("{zone}: {} and {} differ: {}", a.0, b.0, dns::diff_lines(&ra, &rb)));
    }
    Ok(())
}

/// Whether the peer's log shows it took `serial` of `zone` incrementally. Knot names
/// the kind; BIND 9.18 and NSD 4.6 do not (at the log levels used here), but they log
/// the size, and an IXFR of a few records cannot be an AXFR of [`zone::HOSTS`] hosts.
fn peer_took_ixfr(peer: &Peer, zone: &str, serial: u32) -> Result<(), String> {
    let bare = zone.trim_end_matches('.');
    // The number just before `unit` in `line` ("10 records", "320 bytes").
    let count = |line: &str, unit: &str| -> Option<usize> {
        let before = &line[..line.find(unit)?];
        before.trim_end().rsplit(' ').next()?.parse().ok()
    };
    let (lines, small) = match peer.kind {
        // info: [plain.test.] IXFR, incoming, remote 127.0.0.1@5300, finished, ...
        PeerKind::Knot => {
            let l = peer.log_has(&[&format!("[{zone}] IXFR, incoming"), "finished"]);
            let ok = !l.is_empty();
            (l, ok)
        }
        // transfer of 'plain.test/IN' from ...: Transfer completed: 1 messages, 10 records,
        // 320 bytes, ... (serial 2)
        PeerKind::Bind => {
            let l = peer.log_has(&[&format!("'{bare}/IN'"), "Transfer completed", &format!("(serial {serial})")]);
            let ok = l.iter().any(|l| count(l, " records").is_some_and(|n| n < 100));
            (l, ok)
        }
        // zone plain.test. received update to serial 2 at ... of 320 bytes in ... seconds
        PeerKind::Nsd => {
            let l = peer.log_has(&[&format!("zone {zone} received update to serial {serial} "), " bytes"]);
            let ok = l.iter().any(|l| count(l, " bytes").is_some_and(|n| n < 5000));
            (l, ok)
        }
    };
    if small {
        Ok(())
    } else {
        Err(format!("{zone}: {} did not take serial {serial} by IXFR; its log: {lines:?}", peer.name()))
    }
}

/// Shoal as primary of `kind`.
fn shoal_primary(kind: PeerKind) {
    let _serial = serial_guard();
    if !peers::available(&format!("shoal primary, {} secondary", kind.name()), &[kind]) {
        return;
    }
    let mut checks = Checks::new(&format!("shoal primary, {} secondary", kind.name()));
    let (plain, keyed, denied) = ("plain.test.", "keyed.test.", "denied.test.");
    let (shoal_port, peer_port) = (free_port(), free_port());
    let mut shoal = Shoal::builder(&format!("primary-of-{}", kind.name()))
        .port(shoal_port)
        .zone(ShoalZone::primary(plain).with(ALLOW_LOCAL).notify(loopback(peer_port)))
        .zone(ShoalZone::primary(keyed).with(ALLOW_LOCAL).keyed().notify(loopback(peer_port)))
        .zone(ShoalZone::primary(denied).with("allow_transfer = [\"127.0.0.3\"]"))
        .build();
    for z in [plain, keyed, denied] {
        shoal.write_zone(z, &zone::text(z, 1, 1));
    }
    shoal.start();
    let mut peer = Peer::new(
        kind,
        peer_port,
        &[
            PeerZone::secondary(plain, shoal.addr),
            PeerZone::secondary(keyed, shoal.addr).keyed(),
            PeerZone::secondary(denied, shoal.addr),
        ],
    );
    peer.start();
    let key = Key::test_key();
    // Shoal wants the key for keyed.test.; the peer lets 127.0.0.1 AXFR unsigned.
    let (shoal_addr, peer_name, peer_addr) = (shoal.addr, peer.name(), peer.addr);
    let shoal_side = |z: &str| ("shoal", shoal_addr, (z == keyed).then_some(&key));
    let peer_side = (peer_name, peer_addr, None);

    // (1) Initial AXFR, contents identical; (3) the keyed zone with TSIG.
    for z in [plain, keyed] {
        peer.wait_serial(z, 1);
        checks.ok(same_zone(z, shoal_side(z), peer_side));
        let out = shoal.log_has(&["transfer out done", z, "kind=\"AXFR\""]);
        checks.check(!out.is_empty(), || format!("{z}: Shoal logged no AXFR out"));
    }
    let signed = shoal.log_has(&["transfer out done", keyed, "tsig=true"]);
    checks.check(!signed.is_empty(), || format!("{keyed}: not transferred with TSIG"));

    // (4) The peer is not in denied.test.'s allow_transfer: refused, nothing served.
    let refused = wait_until(WAIT, || Some(shoal.log_has(&["transfer refused", denied])).filter(|l| !l.is_empty()));
    checks.check(refused.is_some(), || format!("{denied}: Shoal logged no \"transfer refused\""));
    let answer = dns::lookup(peer.addr, denied, dns::TYPE_SOA);
    checks.check(answer == Answer::Rcode(dns::RCODE_SERVFAIL), || {
        format!("{denied}: the peer should answer SERVFAIL for a zone it could not get, got {answer:?}")
    });
    let leaked = shoal.log_has(&["transfer out done", denied]);
    checks.check(leaked.is_empty(), || format!("{denied}: transferred to a peer not allowed: {leaked:?}"));

    // (2) Edit, SIGHUP: NOTIFY, then IXFR to the peer.
    for z in [plain, keyed] {
        shoal.write_zone(z, &zone::text(z, 2, 2));
    }
    shoal.reload();
    for z in [plain, keyed] {
        if !checks.check(converges(peer.addr, z, 2), || format!("{z}: {} did not reach serial 2", peer.name())) {
            continue;
        }
        checks.ok(same_zone(z, shoal_side(z), peer_side));
        let acked = shoal.log_has(&["NOTIFY acknowledged", z]);
        checks.check(!acked.is_empty(), || format!("{z}: no \"NOTIFY acknowledged\" in Shoal's log"));
        let ixfr_out = shoal.log_has(&["transfer out done", z, "kind=\"IXFR\"", "1 -> 2"]);
        checks.check(!ixfr_out.is_empty(), || format!("{z}: Shoal logged no IXFR 1 -> 2 out"));
        // The peer may log after it answers with the new serial.
        let _ = wait_until(WAIT, || peer_took_ixfr(&peer, z, 2).ok());
        checks.ok(peer_took_ixfr(&peer, z, 2));
    }
    for z in [plain, keyed] {
        let refused = shoal.log_has(&["transfer refused", z]);
        checks.check(refused.is_empty(), || format!("{z}: a permitted transfer was refused: {refused:?}"));
    }
    checks.finish(|| format!("{}\n{}", peer.tail(), shoal.tail()));
}

/// Shoal as secondary of `kind`.
fn shoal_secondary(kind: PeerKind) {
    let _serial = serial_guard();
    if !peers::available(&format!("{} primary, shoal secondary", kind.name()), &[kind]) {
        return;
    }
    let mut checks = Checks::new(&format!("{} primary, shoal secondary", kind.name()));
    // notified: NOTIFY + IXFR; wrap: the serial wraps; keyed: TSIG. Their refresh is
    // NOTIFY_REFRESH, longer than a NOTIFY-driven update may take, so a lost NOTIFY
    // shows up as a slow update (and the test goes on). polled: no NOTIFY, refresh
    // 2–3 s, outlives the primary; expiring: expire 3–4 s.
    let (notified, wrap, keyed, polled, expiring) =
        ("notified.test.", "wrap.test.", "keyed.test.", "polled.test.", "expiring.test.");
    let (shoal_port, peer_port) = (free_port(), free_port());
    let shoal_addr = loopback(shoal_port);
    let mut peer = Peer::new(
        kind,
        peer_port,
        &[
            PeerZone::primary(notified).notify(shoal_addr),
            PeerZone::primary(wrap).notify(shoal_addr),
            PeerZone::primary(keyed).keyed().notify(shoal_addr),
            PeerZone::primary(polled),
            PeerZone::primary(expiring),
        ],
    );
    let serials_v1 = [(notified, 1), (wrap, u32::MAX), (keyed, 1), (polled, 1), (expiring, 1)];
    for (z, serial) in serials_v1 {
        peer.write_zone(z, &zone::text(z, serial, 1));
    }
    peer.start();
    let primary = peer.addr;
    let slow = format!("refresh_min = {NOTIFY_REFRESH}");
    let slow_max = format!("refresh_max = {NOTIFY_REFRESH}");
    let mut shoal = Shoal::builder(&format!("secondary-of-{}", kind.name()))
        .port(shoal_port)
        .zone(ShoalZone::secondary(notified, primary).with(ALLOW_LOCAL).with(&slow).with(&slow_max))
        .zone(ShoalZone::secondary(wrap, primary).with(ALLOW_LOCAL).with(&slow).with(&slow_max))
        .zone(ShoalZone::secondary(keyed, primary).with(ALLOW_LOCAL).with(&slow).with(&slow_max).keyed())
        .zone(ShoalZone::secondary(polled, primary).with(ALLOW_LOCAL).fast_timers(3, 3600))
        .zone(ShoalZone::secondary(expiring, primary).with(ALLOW_LOCAL).fast_timers(3, 4))
        .start();
    let key = Key::test_key();
    let key_for = |z: &str| (z == keyed).then_some(&key);
    let peer_name = peer.name();
    let sides = |z: &str| ((peer_name, primary, key_for(z)), ("shoal", shoal_addr, key_for(z)));

    // (1) Initial AXFR of every zone ((7): the keyed one with TSIG).
    for (z, serial) in serials_v1 {
        shoal.wait_serial(z, serial);
        let (a, b) = sides(z);
        checks.ok(same_zone(z, a, b));
        let from = format!("serials=\"none -> {serial}\"");
        let done = shoal.log_has(&["transfer in done", z, "kind=\"AXFR\"", &from]);
        checks.check(!done.is_empty(), || format!("{z}: no initial AXFR in Shoal's log"));
    }

    // (2) NOTIFY-driven IXFR, (3) polling, (4) wrap-around, (7) TSIG.
    let serials_v2 = [(notified, 1, 2), (wrap, u32::MAX, 5), (keyed, 1, 2), (polled, 1, 2)];
    for (z, _, serial) in serials_v2 {
        peer.write_zone(z, &zone::text(z, serial, 2));
    }
    let reloaded = std::time::Instant::now();
    peer.reload();
    for (z, old, serial) in serials_v2 {
        if !checks.check(converges(shoal.addr, z, serial), || format!("{z}: Shoal did not reach serial {serial}")) {
            continue;
        }
        let took = reloaded.elapsed();
        let (a, b) = sides(z);
        checks.ok(same_zone(z, a, b));
        let serials = format!("serials=\"{old} -> {serial}\"");
        let done = shoal.log_has(&["transfer in done", z, &serials]);
        checks.check(done.iter().any(|l| l.contains("kind=\"IXFR\"")), || {
            format!("{z}: expected kind=\"IXFR\" for {old} -> {serial}, got {done:?}")
        });
        let notifies = shoal.log_has(&["NOTIFY received", &format!("zone={z}")]);
        if z == polled {
            checks.check(notifies.is_empty(), || format!("{z}: NOTIFY received, but the primary sends none"));
        } else {
            checks.check(!notifies.is_empty(), || format!("{z}: Shoal logged no \"NOTIFY received\""));
            checks.check(took < NOTIFY_FAST, || format!("{z}: update took {took:?}: not driven by NOTIFY"));
        }
    }
    let polled_v2 = dns::axfr(shoal.addr, polled, None).expect("AXFR of polled.test. from Shoal");

    // (5) Primary stopped: Shoal keeps serving and retries. (6) expiring.test. expires.
    peer.stop();
    let failed_before = shoal.log_has(&["SOA query failed", polled]).len();
    let retried =
        wait_until(WAIT, || (shoal.log_has(&["SOA query failed", polled]).len() > failed_before + 1).then_some(()));
    checks.check(retried.is_some(), || format!("{polled}: no repeated \"SOA query failed\" with the primary down"));
    let expired = wait_until(WAIT, || {
        (dns::lookup(shoal.addr, expiring, dns::TYPE_SOA) == Answer::Rcode(dns::RCODE_SERVFAIL)).then_some(())
    });
    checks.check(expired.is_some(), || format!("{expiring}: not SERVFAIL after expire_max"));
    let logged = shoal.log_has(&["zone expired", expiring]);
    checks.check(!logged.is_empty(), || format!("{expiring}: no \"zone expired\" in Shoal's log"));
    for (z, serial) in [(polled, 2), (notified, 2)] {
        let got = dns::soa_serial(shoal.addr, z);
        checks.check(got == Some(serial), || format!("{z}: {got:?} instead of serial {serial} with the primary down"));
    }
    let early = shoal.log_has(&["zone expired", polled]);
    checks.check(early.is_empty(), || format!("{polled}: expired before its expire time: {early:?}"));

    // (8) Restart Shoal while the primary is down: served from the state directory.
    shoal.stop();
    shoal.start();
    for (z, serial) in [(polled, 2), (wrap, 5)] {
        let got = dns::soa_serial(shoal.addr, z);
        checks.check(got == Some(serial), || format!("{z}: {got:?} instead of serial {serial} after restart"));
    }
    match dns::axfr(shoal.addr, polled, None) {
        Ok(after) => checks.check(after == polled_v2, || {
            format!("{polled}: state copy differs: {}", dns::diff_lines(&polled_v2, &after))
        }),
        Err(e) => checks.check(false, || format!("{polled}: AXFR after restart: {e}")),
    };

    // (5) The primary returns, then gets a new version: Shoal converges without NOTIFY.
    // (Not edited while the primary is down: BIND then refuses the zone, "journal
    // rollforward failed: journal out of sync with zone".)
    peer.start();
    peer.write_zone(polled, &zone::text(polled, 3, 3));
    peer.reload();
    if checks.check(converges(shoal.addr, polled, 3), || format!("{polled}: did not reach serial 3")) {
        let (a, b) = sides(polled);
        checks.ok(same_zone(polled, a, b));
    }
    checks.check(converges(shoal.addr, expiring, 1), || format!("{expiring}: not served again"));
    checks.check(shoal.is_running(), || "Shoal exited".to_string());
    checks.finish(|| format!("{}\n{}", peer.tail(), shoal.tail()));
}

#[test]
fn shoal_primary_to_knot_secondary() {
    shoal_primary(PeerKind::Knot);
}

#[test]
fn shoal_primary_to_nsd_secondary() {
    shoal_primary(PeerKind::Nsd);
}

#[test]
fn shoal_primary_to_bind_secondary() {
    shoal_primary(PeerKind::Bind);
}

#[test]
fn knot_primary_to_shoal_secondary() {
    shoal_secondary(PeerKind::Knot);
}

#[test]
fn nsd_primary_to_shoal_secondary() {
    shoal_secondary(PeerKind::Nsd);
}

#[test]
fn bind_primary_to_shoal_secondary() {
    shoal_secondary(PeerKind::Bind);
}

/// RFC 1996 §3.5 allows NOTIFY over TCP, and Knot 3.2 sends it that way: it must be
/// answered (not NOTIMPL) and start a refresh.
#[test]
fn rfc1996_notify_over_tcp_is_accepted() {
    let zone = "tcp-notify.test.";
    let fake = FakePrimary::start(zone, false);
    // Default refresh (the SOA's 7200 s): only the NOTIFY can bring serial 2 in time.
    let shoal = Shoal::builder("notify-over-tcp").zone(ShoalZone::secondary(zone, fake.addr)).start();
    shoal.wait_serial(zone, 1);
    fake.set(2, 2, Fault::None);
    let mut s = dns::tcp_connect(shoal.addr).expect("connect to Shoal");
    dns::tcp_write_message(&mut s, &dns::notify(0x7777, zone, 2)).expect("send NOTIFY over TCP");
    let reply =
        dns::tcp_read_message(&mut s).unwrap_or_else(|e| panic!("no reply to NOTIFY over TCP: {e}\n{}", shoal.tail()));
    let (opcode, rcode) = ((reply[2] >> 3) & 0x0f, reply[3] & 0x0f);
    assert!(
        reply[..2] == [0x77, 0x77] && reply[2] & 0x80 != 0 && opcode == 4 && rcode == 0,
        "NOTIFY over TCP answered with opcode {opcode}, RCODE {rcode} (want a NOERROR NOTIFY response)\n{}",
        shoal.tail()
    );
    shoal.wait_serial(zone, 2);
}

/// RFC 7766 §6.2.1: a server keeps a TCP connection open after answering. Knot's
/// refresh sends the SOA query and then the IXFR on one connection, both signed when
/// the zone has a key; closing after the signed SOA answer makes every refresh fail.
#[test]
fn rfc7766_signed_query_then_transfer_on_one_tcp_connection() {
    let zone = "signed-tcp.test.";
    let mut shoal = Shoal::builder("signed-tcp").zone(ShoalZone::primary(zone).with(ALLOW_LOCAL).keyed()).build();
    shoal.write_zone(zone, &zone::small_text(zone, 7, 7));
    shoal.start();
    let key = Key::test_key();
    let mut s = dns::tcp_connect(shoal.addr).expect("connect to Shoal");
    let mut q = dns::query(0x5151, zone, dns::TYPE_SOA);
    tsig::sign(&mut q, &key, None, false);
    dns::tcp_write_message(&mut s, &q).expect("send signed SOA query");
    let reply = dns::tcp_read_message(&mut s).unwrap_or_else(|e| panic!("no reply to the signed SOA query: {e}"));
    assert!(reply[3] & 0x0f == 0 && tsig::mac(&reply).is_some(), "signed SOA query not answered signed");
    let records = dns::axfr_on(&mut s, zone, Some(&key));
    assert!(
        records.as_ref().is_ok_and(|r| r.len() == 4),
        "AXFR after a signed SOA query on the same TCP connection: {records:?}\n{}",
        shoal.tail()
    );
}
