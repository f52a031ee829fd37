//! DNS cookies (RFC 7873, RFC 9018 server cookies) against real clients: `dig +cookie`
//! learns a server cookie and gets it back as good; a server cookie Shoal did not make
//! gets BADCOOKIE (dig retries with the fresh one); `kdig +cookie` gets a client and a
//! server cookie; the secret survives a restart (its file in the state directory) and a
//! rotation (`shoal ctl cookie-rotate`: the old cookie stays good); a client that
//! brings a good server cookie is not rate limited while one without is; and with
//! `[cookies] enabled = false` no cookie is sent.

mod harness;

use harness::dns;
use harness::shoal::{Shoal, ShoalZone};
use harness::{find_program, serial_guard};
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

const ZONE: &str = "cookie.test.";

/// `dig` (or `kdig`) with `args` at `addr` for the zone's SOA: its output.
fn dig(tool: &str, addr: SocketAddr, args: &[&str]) -> String {
    let retries = if tool == "kdig" { "+retry=1" } else { "+tries=2" };
    let out = Command::new(tool)
        .args(["+time=2", retries, "-p", &addr.port().to_string()])
        .arg(format!("@{}", addr.ip()))
        .args(args)
        .args([ZONE, "SOA"])
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The hex cookie `dig` shows, with its verdict (`good`, ...).
fn dig_cookie(out: &str) -> Option<(String, String)> {
    let line = out.lines().find(|l| l.starts_with("; COOKIE:"))?;
    let mut words = line.split_whitespace().skip(2);
    Some((words.next()?.to_string(), words.next().unwrap_or("").trim_matches(['(', ')']).to_string()))
}

fn tools_or_skip(test: &str) -> bool {
    if find_program("dig").is_some() && find_program("kdig").is_some() {
        return true;
    }
    assert_eq!(
        std::env::var("SHOAL_ALLOW_NO_PEERS").as_deref(),
        Ok("1"),
        "dig or kdig not installed; run scripts/test.sh (it installs bind9-dnsutils and knot-dnsutils)"
    );
    eprintln!("SKIPPED {test}: no dig or kdig and SHOAL_ALLOW_NO_PEERS=1");
    false
}

fn start(name: &str, extra: &str) -> Shoal {
    Shoal::builder(name)
        .file(&format!("{ZONE}zone"), &harness::zone::small_text(ZONE, 1, 1))
        .zone(ShoalZone::primary(ZONE))
        .table(extra)
        .start()
}

#[test]
fn dig_and_kdig_learn_and_bring_back_server_cookies() {
    let _guard = serial_guard();
    if !tools_or_skip("dig_and_kdig_learn_and_bring_back_server_cookies") {
        return;
    }
    let mut shoal = start("cookies", "");
    let (learned, verdict) = dig_cookie(&dig("dig", shoal.addr, &["+cookie"])).expect("a cookie in the answer");
    assert_eq!(verdict, "good", "the client cookie came back");
    assert_eq!(learned.len(), 48, "8 bytes of client cookie and 16 of server cookie: {learned}");
    assert_eq!(&learned[16..24], "01000000", "RFC 9018: version 1, reserved");
    let again = dig("dig", shoal.addr, &[&format!("+cookie={learned}")]);
    assert!(again.contains("status: NOERROR"), "{again}");
    assert_eq!(
        dig_cookie(&again),
        Some((learned.clone(), "good".into())),
        "a fresh server cookie comes back as it went"
    );

    // A server cookie Shoal did not make: BADCOOKIE, and dig retries with the fresh one.
    let forged = format!("{}0100000000000000deadbeefdeadbeef", &learned[..16]);
    let bad = dig("dig", shoal.addr, &[&format!("+cookie={forged}")]);
    assert!(bad.contains("BADCOOKIE"), "{bad}");
    assert!(bad.contains("status: NOERROR"), "answered after the retry: {bad}");

    let k = dig("kdig", shoal.addr, &["+cookie"]);
    let line = k.lines().find(|l| l.contains("COOKIE:")).unwrap_or_else(|| panic!("kdig shows a cookie: {k}"));
    let hex = line.split_whitespace().last().unwrap_or("");
    assert_eq!(hex.len(), 48, "{line}");
    assert_eq!(&hex[16..24], "01000000", "{line}");

    // The secret lives in the state directory: a restart keeps cookies good.
    let secret = std::fs::read_to_string(shoal.dir().join("state/cookie.secret")).expect("secret file");
    assert_eq!(secret.trim().len(), 32);
    shoal.stop();
    shoal.start();
    let after = dig("dig", shoal.addr, &[&format!("+cookie={learned}")]);
    assert_eq!(dig_cookie(&after), Some((learned.clone(), "good".into())), "good after a restart: {after}");

    // A rotation: a new secret on file, and the old cookie still good.
    let out = shoal.ctl(&["cookie-rotate"]);
    assert!(out.status.success(), "{}", out.all());
    let rotated = std::fs::read_to_string(shoal.dir().join("state/cookie.secret")).unwrap();
    assert_ne!(rotated, secret);
    let old = dig("dig", shoal.addr, &[&format!("+cookie={learned}")]);
    assert!(old.contains("status: NOERROR") && !old.contains("BADCOOKIE"), "{old}");
}

/// Send `n` copies of `query` from `sock` and count the answers without TC.
fn answers(sock: &UdpSocket, query: &[u8], n: usize) -> usize {
    for _ in 0..n {
        sock.send(query).unwrap();
    }
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut buf = [0u8; 1500];
    let mut full = 0;
    while let Ok(len) = sock.recv(&mut buf) {
        if len >= 12 && buf[2] & 0x02 == 0 && buf[3] & 0x0f == 0 {
            full += 1;
        }
    }
    full
}

/// A query for the zone's SOA with a COOKIE option of `cookie`.
fn with_cookie(cookie: &[u8]) -> Vec<u8> {
    let mut q = dns::query(0x5555, ZONE, dns::TYPE_SOA);
    q[11] = 1;
    q.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0]);
    q.extend_from_slice(&((4 + cookie.len()) as u16).to_be_bytes());
    q.extend_from_slice(&[0, 10]);
    q.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
    q.extend_from_slice(cookie);
    q
}

#[test]
fn a_good_server_cookie_is_not_rate_limited_and_cookies_can_be_turned_off() {
    let _guard = serial_guard();
    let shoal = start("cookies-rrl", "\n[rrl]\nrate = 5\nburst = 5\nslip = 0\n");
    let client = [9u8; 8];
    // Learn the server cookie from another prefix than the ones measured.
    let learner = UdpSocket::bind("127.70.0.1:0").unwrap();
    learner.connect(shoal.addr).unwrap();
    learner.send(&with_cookie(&client)).unwrap();
    learner.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 1500];
    let n = learner.recv(&mut buf).expect("an answer");
    let at = buf[..n].windows(4).rposition(|w| w == [0, 10, 0, 24]).expect("a server cookie");
    let full_cookie = buf[at + 4..at + 28].to_vec();
    assert_eq!(&full_cookie[..8], &client);

    let with = UdpSocket::bind("127.71.0.1:0").unwrap();
    with.connect(shoal.addr).unwrap();
    // The server cookie was made for 127.70.0.1: from this address it is not good,
    // so learn one here first (a BADCOOKIE answer carries it).
    with.send(&with_cookie(&full_cookie)).unwrap();
    with.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = with.recv(&mut buf).expect("BADCOOKIE");
    assert_eq!(buf[3] & 0x0f, 7, "BADCOOKIE for a cookie made for another address");
    let at = buf[..n].windows(4).rposition(|w| w == [0, 10, 0, 24]).expect("a fresh server cookie");
    let here = buf[at + 4..at + 28].to_vec();
    assert_eq!(answers(&with, &with_cookie(&here), 60), 60, "a good server cookie is never limited");

    let without = UdpSocket::bind("127.72.0.1:0").unwrap();
    without.connect(shoal.addr).unwrap();
    let limited = answers(&without, &with_cookie(&client), 60);
    assert!(limited <= 15, "{limited} of 60 answered to a client cookie alone (rate 5, burst 5)");

    let off = start("cookies-off", "\n[cookies]\nenabled = false\n");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(off.addr).unwrap();
    sock.send(&with_cookie(&client)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = sock.recv(&mut buf).expect("an answer");
    assert_eq!(buf[3] & 0x0f, 0);
    assert!(!buf[..n].windows(2).any(|w| w == [0, 10]), "no COOKIE option when cookies are off");
}
