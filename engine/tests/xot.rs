//! Zone transfers over TLS (XoT, RFC 9103), with the certificates of `tests/tls/`
//! (`scripts/make-test-certs.sh`).
//!
//! - Shoal to Shoal with mutual TLS: the secondary checks the primary's certificate
//!   against the CA and the name `primary.shoal.test`, and shows its own; the zone is
//!   transferred whole, then by IXFR after a change and NOTIFY. The primary refuses
//!   the zone over TCP (`transfer_require_tls`), and kdig reads it over TLS.
//! - What must fail does: a secondary that trusts another CA, one whose pin does not
//!   match, one without a client certificate, and one pointed at a primary's clear
//!   port (no fallback to clear text) never get the zone; a pin alone is enough.
//! - A reload whose key does not match its certificate is refused whole, and the
//!   running certificate keeps serving.
//! - A consumed catalog over TLS: its members inherit `transfer_tls` and come over TLS
//!   from a producer that refuses them over TCP.
//! - BIND 9.18 as primary over TLS for a Shoal secondary, and as a secondary over
//!   mutual TLS of a Shoal primary.

mod harness;

use harness::peers::{self, Peer, PeerKind};
use harness::shoal::{Shoal, ShoalZone};
use harness::{find_program, free_port, serial_guard, wait_until, WAIT};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ZONE: &str = "xot.test.";

fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls")
}

fn tls_file(name: &str) -> String {
    tls_dir().join(name).display().to_string()
}

fn server_pin() -> String {
    std::fs::read_to_string(tls_dir().join("server.pin")).expect("tests/tls/server.pin").trim().to_string()
}

fn zone_text(serial: u32) -> String {
    harness::zone::text(ZONE, serial, serial)
}

/// `[tls]` on `port`, with mutual TLS when `mutual`.
fn tls_table(port: u16, mutual: bool) -> String {
    let mut t = format!(
        "\n[tls]\nlisten = [\"127.0.0.1:{port}\"]\ncertificate = \"{}\"\nkey = \"{}\"\n",
        tls_file("server.pem"),
        tls_file("server.key")
    );
    if mutual {
        t.push_str(&format!("client_ca = \"{}\"\n", tls_file("client-ca.pem")));
    }
    t
}

/// A `[[tls_remote]]` named `name` with the given lines.
fn remote(name: &str, lines: &[String]) -> String {
    format!("\n[[tls_remote]]\nname = \"{name}\"\n{}\n", lines.join("\n"))
}

fn client_identity() -> [String; 2] {
    [format!("certificate = \"{}\"", tls_file("client.pem")), format!("key = \"{}\"", tls_file("client.key"))]
}

/// A Shoal primary of [`ZONE`] serving XoT on `tls_port` (mutual TLS when `mutual`),
/// refusing the zone over TCP, NOTIFYing `notify` if given.
fn primary(name: &str, tls_port: u16, mutual: bool, notify: Option<SocketAddr>) -> Shoal {
    let mut zone =
        ShoalZone::primary(ZONE).with("allow_transfer = [\"127.0.0.1\"]").with("transfer_require_tls = true");
    if let Some(n) = notify {
        zone = zone.notify(n);
    }
    Shoal::builder(name)
        .file(&format!("{ZONE}zone"), &zone_text(1))
        .zone(zone)
        .table(&tls_table(tls_port, mutual))
        .start()
}

/// A Shoal secondary of [`ZONE`] reaching `primary` over TLS with the remote `lines`.
fn secondary(name: &str, port: u16, primary: SocketAddr, lines: &[String]) -> Shoal {
    Shoal::builder(name)
        .port(port)
        .zone(
            ShoalZone::secondary(ZONE, primary)
                .with("transfer_tls = \"primary\"")
                .with("allow_notify = [\"127.0.0.1\"]")
                .fast_timers(60, 3600),
        )
        .table(&remote("primary", lines))
        .start()
}

/// The value of an unlabelled counter on the metrics page.
fn counter(addr: SocketAddr, name: &str) -> Option<u64> {
    let (_, page) = harness::http::get(addr, "/metrics")?;
    page.lines().find_map(|l| l.strip_prefix(&format!("{name} "))?.trim().parse().ok())
}

#[test]
fn shoal_to_shoal_over_mutual_tls_axfr_then_ixfr() {
    let _guard = serial_guard();
    let tls_port = free_port();
    let secondary_port = free_port();
    let metrics_port = free_port();
    let mut primary = {
        let zone = ShoalZone::primary(ZONE)
            .with("allow_transfer = [\"127.0.0.1\"]")
            .with("transfer_require_tls = true")
            .notify(([127, 0, 0, 1], secondary_port).into());
        Shoal::builder("xot-primary")
            .file(&format!("{ZONE}zone"), &zone_text(1))
            .zone(zone)
            .table(&tls_table(tls_port, true))
            .table(&format!("\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n"))
            .start()
    };
    let tls_addr: SocketAddr = ([127, 0, 0, 1], tls_port).into();
    let mut lines = vec![format!("ca_file = \"{}\"", tls_file("ca.pem")), "hostname = \"primary.shoal.test\"".into()];
    lines.extend(client_identity());
    let second = secondary("xot-secondary", secondary_port, tls_addr, &lines);
    second.wait_serial(ZONE, 1);
    second.wait_log(&["transfer in done", "AXFR"]);

    // A change: NOTIFY (clear, as RFC 9103 leaves it), then IXFR over TLS.
    primary.write_zone(ZONE, &zone_text(2));
    primary.reload();
    second.wait_serial(ZONE, 2);
    second.wait_log(&["transfer in done", "IXFR", "1 -> 2"]);
    primary.wait_log(&["IXFR", "transfer out done", "1 -> 2"]);
    let accepted = counter(([127, 0, 0, 1], metrics_port).into(), "shoal_xot_connections_total");
    assert!(accepted.is_some_and(|n| n >= 2), "XoT connections counted: {accepted:?}");

    // Over TCP the zone is refused: transfers of it are for TLS only.
    if find_program("dig").is_some() {
        let out = Command::new("dig")
            .args(["+time=3", "+tries=1", "-p", &primary.addr.port().to_string(), "@127.0.0.1", ZONE, "AXFR"])
            .output()
            .expect("dig");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("\tSOA\t"), "AXFR over TCP must be refused:\n{text}");
        primary.wait_log(&["transfer refused", "not come over TLS"]);
    }
    // kdig reads it over TLS (mutual TLS needs its client certificate).
    if find_program("kdig").is_some() {
        let out = Command::new("kdig")
            .args([
                "+tls",
                &format!("+tls-ca={}", tls_file("ca.pem")),
                "+tls-hostname=primary.shoal.test",
                &format!("+tls-certfile={}", tls_file("client.pem")),
                &format!("+tls-keyfile={}", tls_file("client.key")),
                "+time=5",
                "-p",
                &tls_port.to_string(),
                "@127.0.0.1",
                ZONE,
                "AXFR",
            ])
            .output()
            .expect("kdig");
        let text = String::from_utf8_lossy(&out.stdout);
        let soas = text.lines().filter(|l| l.contains("\tSOA\t") && l.contains(" 2 ")).count();
        assert_eq!(soas, 2, "kdig AXFR over TLS opens and closes with the SOA of serial 2:\n{text}\n{}", {
            String::from_utf8_lossy(&out.stderr)
        });
    }
}

#[test]
fn a_primary_that_cannot_be_authenticated_never_gives_the_zone() {
    let _guard = serial_guard();
    let tls_port = free_port();
    let mut primary = primary("xot-auth-primary", tls_port, true, None);
    let tls_addr: SocketAddr = ([127, 0, 0, 1], tls_port).into();
    let identity = client_identity();
    let ca = |f: &str| format!("ca_file = \"{}\"", tls_file(f));
    let cases: Vec<(&str, SocketAddr, Vec<String>)> = vec![
        ("another CA", tls_addr, [vec![ca("other-ca.pem")], identity.to_vec()].concat()),
        (
            "a wrong name",
            tls_addr,
            [vec![ca("ca.pem"), "hostname = \"other.shoal.test\"".into()], identity.to_vec()].concat(),
        ),
        (
            "a wrong pin",
            tls_addr,
            [vec![format!("pin = [\"{}\"]", data_encoding::BASE64.encode(&[9u8; 32]))], identity.to_vec()].concat(),
        ),
        ("no client certificate", tls_addr, vec![ca("ca.pem")]),
        // The primary's clear port: no handshake, and no falling back to clear text.
        ("the clear port", primary.addr, [vec![ca("ca.pem")], identity.to_vec()].concat()),
    ];
    let secondaries: Vec<(&str, Shoal)> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (what, addr, lines))| (what, secondary(&format!("xot-bad-{i}"), free_port(), addr, &lines)))
        .collect();
    // A pin alone authenticates the primary.
    let pinned = secondary(
        "xot-pinned",
        free_port(),
        tls_addr,
        &[vec![format!("pin = [\"{}\"]", server_pin())], identity.to_vec()].concat(),
    );
    pinned.wait_serial(ZONE, 1);
    for (what, s) in &secondaries {
        s.wait_log(&["SOA query failed", "TLS"]);
        assert!(
            matches!(s.lookup(ZONE, harness::dns::TYPE_SOA), harness::dns::Answer::Rcode(2)),
            "{what}: the zone must not be served\n{}",
            s.tail()
        );
        assert!(s.log_has(&["transfer in done"]).is_empty(), "{what}: no transfer\n{}", s.tail());
    }
    // The primary saw the handshakes fail where it could tell (no client certificate).
    primary.wait_log(&["TLS handshake failed"]);
    // The clear port never saw a transfer request from the TLS secondary.
    assert!(primary.log_has(&["transfer refused"]).is_empty(), "{}", primary.tail());
    primary.stop();
}

/// BIND's options block on `addr`, with `extra` statements inside it.
fn bind_options(d: &Path, addr: SocketAddr, extra: &str) -> String {
    format!(
        "options {{\n    directory \"{d}\";\n    pid-file \"{d}/named.pid\";\n    session-keyfile \"{d}/session.key\";\n    \
         managed-keys-directory \"{d}\";\n    listen-on port {port} {{ {ip}; }};\n    listen-on-v6 {{ none; }};\n    \
         recursion no;\n    dnssec-validation no;\n    notify-delay 0;\n    min-refresh-time 1;\n    min-retry-time 1;\n    \
         max-retry-time 2;\n{extra}}};\ncontrols {{ }};\n",
        d = d.display(),
        port = addr.port(),
        ip = addr.ip(),
    )
}

#[test]
fn bind_primary_over_tls_to_a_shoal_secondary() {
    let _guard = serial_guard();
    if !peers::available("bind_primary_over_tls_to_a_shoal_secondary", &[PeerKind::Bind]) {
        return;
    }
    let tls_port = free_port();
    let secondary_port = free_port();
    let mut bind = Peer::custom(PeerKind::Bind, free_port(), &[ZONE.to_string()], |d, addr| {
        let mut c = format!(
            "tls local-tls {{ key-file \"{}\"; cert-file \"{}\"; }};\n",
            tls_file("server.key"),
            tls_file("server.pem")
        );
        c.push_str(&bind_options(d, addr, &format!("    listen-on port {tls_port} tls local-tls {{ 127.0.0.1; }};\n")));
        c.push_str(&format!(
            "zone \"{ZONE}\" {{\n    type primary;\n    file \"zones/{ZONE}zone\";\n    ixfr-from-differences yes;\n    \
             notify explicit;\n    also-notify {{ 127.0.0.1 port {secondary_port}; }};\n    \
             allow-transfer port {tls_port} transport tls {{ 127.0.0.1; }};\n}};\n"
        ));
        c
    });
    bind.write_zone(ZONE, &zone_text(1));
    bind.start();
    let lines = [format!("ca_file = \"{}\"", tls_file("ca.pem")), "hostname = \"primary.shoal.test\"".into()];
    let second = secondary("xot-from-bind", secondary_port, ([127, 0, 0, 1], tls_port).into(), &lines);
    second.wait_serial(ZONE, 1);
    bind.write_zone(ZONE, &zone_text(2));
    bind.reload();
    second.wait_serial(ZONE, 2);
    second.wait_log(&["transfer in done", "IXFR", "1 -> 2"]);
}

#[test]
fn shoal_primary_over_mutual_tls_to_a_bind_secondary() {
    let _guard = serial_guard();
    if !peers::available("shoal_primary_over_mutual_tls_to_a_bind_secondary", &[PeerKind::Bind]) {
        return;
    }
    let tls_port = free_port();
    let bind_port = free_port();
    let mut primary = primary("xot-to-bind", tls_port, true, Some(([127, 0, 0, 1], bind_port).into()));
    let mut bind = Peer::custom(PeerKind::Bind, bind_port, &[], |d, addr| {
        let mut c = format!(
            "tls to-shoal {{ ca-file \"{}\"; remote-hostname \"primary.shoal.test\"; cert-file \"{}\"; key-file \"{}\"; }};\n",
            tls_file("ca.pem"),
            tls_file("client.pem"),
            tls_file("client.key")
        );
        c.push_str(&bind_options(d, addr, ""));
        c.push_str(&format!(
            "zone \"{ZONE}\" {{\n    type secondary;\n    primaries {{ 127.0.0.1 port {tls_port} tls to-shoal; }};\n    \
             file \"secondary/{ZONE}zone\";\n}};\n"
        ));
        c
    });
    bind.start();
    let served = |serial: u32| {
        wait_until(WAIT, || (harness::dns::soa_serial(bind.addr, ZONE) == Some(serial)).then_some(())).is_some()
    };
    assert!(served(1), "BIND took the zone over TLS\n{}\n{}", bind.tail(), primary.tail());
    primary.write_zone(ZONE, &zone_text(2));
    primary.reload();
    assert!(served(2), "BIND took serial 2 over TLS\n{}\n{}", bind.tail(), primary.tail());
    primary.wait_log(&["IXFR", "transfer out done", "1 -> 2"]);
    std::thread::sleep(Duration::from_millis(100));
    assert!(primary.log_has(&["transfer refused"]).is_empty(), "BIND never asked over TCP\n{}", primary.tail());
}

#[test]
fn a_bad_certificate_at_reload_keeps_the_running_one() {
    let _guard = serial_guard();
    let tls_port = free_port();
    let secondary_port = free_port();
    let mut primary = primary("xot-reload-primary", tls_port, false, Some(([127, 0, 0, 1], secondary_port).into()));
    let tls_addr: SocketAddr = ([127, 0, 0, 1], tls_port).into();
    let second =
        secondary("xot-reload-secondary", secondary_port, tls_addr, &[format!("pin = [\"{}\"]", server_pin())]);
    second.wait_serial(ZONE, 1);
    // The key no longer matches the certificate: the reload is refused as a whole.
    let config = std::fs::read_to_string(primary.config()).expect("read shoal.toml");
    let broken = config.replace(&tls_file("server.key"), &tls_file("client.key"));
    assert_ne!(config, broken);
    std::fs::write(primary.config(), broken).expect("write shoal.toml");
    primary.write_zone(ZONE, &zone_text(2));
    primary.reload();
    primary.wait_log(&["reload rejected", "certificate and key"]);
    assert_eq!(harness::dns::soa_serial(primary.addr, ZONE), Some(1), "nothing of the rejected reload applies");
    // Put right, the reload goes through and the secondary takes serial 2 over TLS with
    // the certificate it pinned.
    std::fs::write(primary.config(), config).expect("write shoal.toml");
    primary.reload();
    second.wait_serial(ZONE, 2);
    second.wait_log(&["transfer in done", "IXFR", "1 -> 2"]);
}

#[test]
fn a_consumed_catalog_and_its_members_come_over_tls_only() {
    let _guard = serial_guard();
    let tls_port = free_port();
    let consumer_port = free_port();
    let only_tls = format!(
        "allow_transfer = [\"127.0.0.1\"]\ntransfer_require_tls = true\nnotify = [\"127.0.0.1:{consumer_port}\"]\n"
    );
    let member =
        |z: &str| format!("\n[[zone]]\nname = \"{z}\"\nfile = \"zones/{z}zone\"\ncatalog = \"cat.\"\n{only_tls}");
    let producer = Shoal::builder("xot-producer")
        .zone(ShoalZone::bare("cat.").with("catalog_role = \"producer\"").with(&only_tls))
        .file("m1.test.zone", &harness::zone::small_text("m1.test.", 1, 1))
        .file("m2.test.zone", &harness::zone::small_text("m2.test.", 1, 1))
        .table(&member("m1.test."))
        .table(&member("m2.test."))
        .table(&tls_table(tls_port, false))
        .ready_zones(&["cat.", "m1.test.", "m2.test."])
        .start();
    // The catalog's primary is the TLS port; its members inherit transfer_tls.
    let consumer = Shoal::builder("xot-consumer")
        .port(consumer_port)
        .zone(
            ShoalZone::secondary("cat.", ([127, 0, 0, 1], tls_port).into())
                .with("catalog_role = \"consumer\"")
                .with("transfer_tls = \"primary\"")
                .with("allow_notify = [\"127.0.0.1\"]")
                .fast_timers(30, 60),
        )
        .table(&remote("primary", &[format!("pin = [\"{}\"]", server_pin())]))
        .ready_zones(&[])
        .start();
    for z in ["m1.test.", "m2.test."] {
        consumer.wait_serial(z, 1);
        consumer.wait_log(&["transfer in done", z]);
    }
    // Every transfer went over TLS: over TCP the producer would have refused them.
    assert!(producer.log_has(&["transfer refused"]).is_empty(), "{}", producer.tail());
}
