//! Catalog zones (RFC 9432) end to end, between Shoal processes.
//!
//! [`producer_to_consumer`]: a Shoal producer writes its catalog from the zones that
//! name it; a Shoal consumer takes the catalog and serves its members (with the
//! catalog group's settings), follows a member added to and removed from the
//! producer's configuration (reload, new catalog serial, NOTIFY) without a reload of
//! its own, deletes a removed member's copy and journal, and after a restart serves
//! its members from their copies while the producer is down.
//!
//! [`catalog_rules`]: a primary serves hand-written catalogs, so that each rule of the
//! RFC is put to the consumer as such: a member whose unique ID changes is reset
//! (transferred again); a member another catalog lists moves only when its owner's
//! `coo` property names that catalog; a member that clashes with a configured zone or
//! with another catalog is refused, logged and counted; a catalog of another schema
//! version is not used, and its members are kept.
//!
//! [`knot_produces_shoal_consumes`] and [`shoal_produces_knot_and_bind_consume`]: the
//! same members coming and going between Shoal and Knot 3.2 (as producer, and as
//! consumer) and BIND 9.18 (as consumer). Knot 3.2 adds a zone to a catalog it
//! generates only when it starts (a configuration reload removes members but does not
//! add them), so the test restarts it for that.

mod harness;

use harness::dns::{self, Answer};
use harness::peers::{self, Peer, PeerKind};
use harness::shoal::{Shoal, ShoalZone};
use harness::{serial_guard, wait_until, WAIT};
use std::net::SocketAddr;
use std::path::Path;

/// The zone-status line of `zone` on `shoal`.
fn status(shoal: &Shoal, zone: &str) -> String {
    let out = shoal.ctl(&["zone-status", zone]);
    out.all()
}

/// Wait until `zone` is no longer served (REFUSED: not a zone here).
fn gone(shoal: &Shoal, zone: &str) -> bool {
    wait_until(WAIT, || matches!(shoal.lookup(zone, dns::TYPE_SOA), Answer::Rcode(5)).then_some(())).is_some()
}

/// Fast timers for a consumer catalog (its members inherit them).
fn consumer(name: &str, primary: SocketAddr) -> ShoalZone {
    ShoalZone::secondary(name, primary).with("catalog_role = \"consumer\"").fast_timers(30, 60)
}

fn member_table(zone: &str, extra: &str) -> String {
    format!("\n[[zone]]\nname = \"{zone}\"\nfile = \"zones/{zone}zone\"\ncatalog = \"cat.\"\n{extra}")
}

#[test]
fn producer_to_consumer() {
    let _guard = serial_guard();
    let consumer_port = harness::free_port();
    let consumer_addr: SocketAddr = ([127, 0, 0, 1], consumer_port).into();
    let notify = format!("notify = [\"{consumer_addr}\"]\nallow_transfer = [\"127.0.0.1\"]\n");
    let mut producer = Shoal::builder("producer")
        .zone(ShoalZone::bare("cat.").with("catalog_role = \"producer\"").with(&notify))
        .file("a.test.zone", &harness::zone::small_text("a.test.", 1, 1))
        .file("b.test.zone", &harness::zone::small_text("b.test.", 1, 1))
        .file("c.test.zone", &harness::zone::small_text("c.test.", 1, 1))
        .table(&member_table("a.test.", &format!("catalog_group = \"keyed\"\n{notify}")))
        .table(&member_table("b.test.", &notify))
        .ready_zones(&["cat.", "a.test.", "b.test."])
        .start();
    // The consumer: the group's members are transferred with the key.
    let mut consumer = Shoal::builder("consumer")
        .port(consumer_port)
        .zone(consumer("cat.", producer.addr))
        .table("\n[[catalog_group]]\nname = \"keyed\"\ntransfer_key = \"xfr-key.\"\n")
        .ready_zones(&[])
        .start();
    for z in ["a.test.", "b.test."] {
        consumer.wait_serial(z, 1);
    }
    let a = status(&consumer, "a.test.");
    assert!(a.contains("catalog=cat."), "{a}");
    let cat = status(&consumer, "cat.");
    assert!(cat.contains("catalog_role=consumer members=2 refused=0"), "{cat}");
    let produced = status(&producer, "cat.");
    assert!(produced.contains("catalog_role=producer members=2"), "{produced}");
    // The keyed group's member was asked for with the key: the producer's log says so.
    producer.wait_log(&["transfer out done", "a.test.", "tsig=true"]);

    // A zone added to the producer's configuration: new catalog serial, NOTIFY, served.
    let cat_serial = dns::soa_serial(producer.addr, "cat.").expect("catalog served");
    let config = std::fs::read_to_string(producer.config()).unwrap();
    std::fs::write(producer.config(), format!("{config}{}", member_table("c.test.", &notify))).unwrap();
    producer.reload();
    assert!(
        wait_until(WAIT, || dns::soa_serial(producer.addr, "cat.").filter(|s| *s == cat_serial + 1)).is_some(),
        "the producer's catalog serial goes up by one\n{}",
        producer.tail()
    );
    consumer.wait_serial("c.test.", 1);

    // A zone removed from the producer: gone from the consumer, with its state.
    let state = consumer.dir().join("state");
    assert!(state.join("b.test.zone").exists(), "the member's copy is kept in the state directory");
    let config = std::fs::read_to_string(producer.config()).unwrap();
    std::fs::write(producer.config(), config.replace(&member_table("b.test.", &notify), "")).unwrap();
    producer.reload();
    assert!(gone(&consumer, "b.test."), "b.test. is no longer served\n{}", consumer.tail());
    consumer.wait_log(&["b.test.", "catalog member removed"]);
    for f in ["b.test.zone", "b.test.ixfr"] {
        assert!(!state.join(f).exists(), "{f} deleted with the member");
    }
    let cat = status(&consumer, "cat.");
    assert!(cat.contains("members=2"), "{cat}");

    // A restart with the producer down: the members are served from their copies.
    producer.stop();
    consumer.stop();
    consumer.start();
    for z in ["a.test.", "c.test."] {
        consumer.wait_serial(z, 1);
    }
    assert!(matches!(consumer.lookup("b.test.", dns::TYPE_SOA), Answer::Rcode(5)));
    assert!(status(&consumer, "cat.").contains("members=2"));
}

/// A catalog zone file in schema version 2 with `entries` under `zones`.
fn catalog_text(origin: &str, serial: u32, entries: &str) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 0\n@ SOA invalid. invalid. {serial} 60 60 2419200 0\n@ NS invalid.\n\
         version TXT \"2\"\n{entries}"
    )
}

/// Write a primary's zone file, reload it, and wait until the primary serves `serial`.
fn publish(primary: &mut Shoal, zone: &str, text: &str, serial: u32) {
    harness::zone::write_file(&primary.zone_file(zone), text);
    primary.reload();
    primary.wait_serial(zone, serial);
}

fn copy_mtime(dir: &Path, zone: &str) -> Option<std::time::SystemTime> {
    std::fs::metadata(dir.join("state").join(format!("{zone}zone"))).and_then(|m| m.modified()).ok()
}

#[test]
fn catalog_rules() {
    let _guard = serial_guard();
    let consumer_port = harness::free_port();
    let consumer_addr: SocketAddr = ([127, 0, 0, 1], consumer_port).into();
    let notify = format!("notify = [\"{consumer_addr}\"]");
    let allow = "allow_transfer = [\"127.0.0.1\"]";
    let members = ["m1.test.", "m2.test.", "m3.test.", "local.test."];
    let mut builder = Shoal::builder("catalog-primary")
        .file(
            "one.zone",
            &catalog_text(
                "one.",
                1,
                "a.zones PTR m1.test.\nb.zones PTR m2.test.\nc.zones PTR m3.test.\nd.zones PTR absent.test.\n",
            ),
        )
        .file("two.zone", &catalog_text("two.", 1, "y.zones PTR local.test.\n"))
        .zone(ShoalZone::primary_file("one.", "one.zone").with(&notify).with(allow))
        .zone(ShoalZone::primary_file("two.", "two.zone").with(&notify).with(allow));
    for m in members {
        builder = builder
            .file(&format!("{m}zone"), &harness::zone::small_text(m, 1, 1))
            .zone(ShoalZone::primary(m).with(&notify).with(allow));
    }
    let mut primary = builder.start();
    let metrics: SocketAddr = ([127, 0, 0, 1], harness::free_port()).into();
    let consumer = Shoal::builder("catalog-consumer")
        .port(consumer_port)
        .table(&format!("\n[metrics]\nlisten = \"{metrics}\"\n"))
        .zone(consumer("one.", primary.addr))
        .zone(consumer("two.", primary.addr))
        .file("local.test.zone", &harness::zone::small_text("local.test.", 7, 1))
        .zone(ShoalZone::primary("local.test."))
        .start();
    for m in ["m1.test.", "m2.test.", "m3.test."] {
        consumer.wait_serial(m, 1);
    }
    // absent.test., which the primary does not serve, came with the catalog's first
    // version: the consumer is not ready without it.
    let ready = || harness::http::get(metrics, "/ready").unwrap_or((0, String::new()));
    let (code, body) = ready();
    assert!(code == 503 && body.contains("absent.test."), "{code} {body}");
    // two. lists m2 too, which one. owns: two. refuses it, and local.test., a
    // configured zone: both logged, both counted.
    publish(&mut primary, "two.", &catalog_text("two.", 2, "x.zones PTR m2.test.\ny.zones PTR local.test.\n"), 2);
    assert!(status(&consumer, "m2.test.").contains("catalog=one."));
    consumer.wait_log(&["m2.test.", "catalog member refused", "member of catalog one."]);
    consumer.wait_log(&["local.test.", "catalog member refused", "configured zone"]);
    assert!(status(&consumer, "two.").contains("members=0 refused=2"), "{}", status(&consumer, "two."));
    assert_eq!(dns::soa_serial(consumer.addr, "local.test."), Some(7), "the configured zone is untouched");

    // coo: one. hands m2 to two., which lists it under another unique ID (x, not b):
    // it moves, and is reset.
    publish(
        &mut primary,
        "one.",
        &catalog_text(
            "one.",
            2,
            "a.zones PTR m1.test.\nb.zones PTR m2.test.\ncoo.b.zones PTR two.\nc.zones PTR m3.test.\nd.zones PTR absent.test.\n",
        ),
        2,
    );
    assert!(
        wait_until(WAIT, || status(&consumer, "m2.test.").contains("catalog=two.").then_some(())).is_some(),
        "m2 moves to two.\n{}",
        consumer.tail()
    );
    consumer.wait_log(&["m2.test.", "catalog member changes owner"]);
    consumer.wait_serial("m2.test.", 1);

    // A unique ID that changes resets the member: its copy is written again.
    let before = copy_mtime(consumer.dir(), "m1.test.").expect("m1 has a copy");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    publish(
        &mut primary,
        "one.",
        &catalog_text(
            "one.",
            3,
            "renamed.zones PTR m1.test.\nb.zones PTR m2.test.\ncoo.b.zones PTR two.\nc.zones PTR m3.test.\nd.zones PTR absent.test.\n",
        ),
        3,
    );
    consumer.wait_log(&["m1.test.", "catalog member reset"]);
    assert!(
        wait_until(WAIT, || copy_mtime(consumer.dir(), "m1.test.").filter(|t| *t > before)).is_some(),
        "m1 transferred again after the reset\n{}",
        consumer.tail()
    );
    consumer.wait_serial("m1.test.", 1);

    // A catalog of another schema version is not used: its members stay.
    let v1 = catalog_text("one.", 4, "renamed.zones PTR m1.test.\n").replace("TXT \"2\"", "TXT \"1\"");
    publish(&mut primary, "one.", &v1, 4);
    consumer.wait_log(&["catalog not used", "schema version \"1\""]);
    assert_eq!(dns::soa_serial(consumer.addr, "m3.test."), Some(1), "m3 is still served");

    // Removed from its catalog: gone. late.test., added by a later version and not
    // served either, is not waited for: a zone added to a catalog does not take the
    // servers of a fleet out of their load balancer while they transfer it.
    publish(
        &mut primary,
        "one.",
        &catalog_text("one.", 5, "renamed.zones PTR m1.test.\nlate.zones PTR late.test.\n"),
        5,
    );
    assert!(gone(&consumer, "m3.test."), "m3 removed\n{}", consumer.tail());
    assert!(gone(&consumer, "absent.test."));
    assert_eq!(ready().0, 200, "{}", ready().1);
    assert!(
        matches!(consumer.lookup("late.test.", dns::TYPE_SOA), Answer::Rcode(2)),
        "late.test. is a zone here, not served yet"
    );
    assert_eq!(dns::soa_serial(consumer.addr, "m1.test."), Some(1));
    assert_eq!(dns::soa_serial(consumer.addr, "m2.test."), Some(1), "m2 belongs to two. now");
}

/// Whether `addr` serves `zone` (an SOA with AA), within [`WAIT`].
fn serves(addr: SocketAddr, zone: &str) -> bool {
    wait_until(WAIT, || dns::soa_serial(addr, zone)).is_some()
}

/// Whether `addr` stops serving `zone`, within [`WAIT`].
fn stops_serving(addr: SocketAddr, zone: &str) -> bool {
    wait_until(WAIT, || dns::soa_serial(addr, zone).is_none().then_some(())).is_some()
}

/// A Knot configuration generating catalog `cat.` from `members`, NOTIFYing `notify`.
fn knot_producer(d: &Path, addr: SocketAddr, notify: SocketAddr, members: &[&str]) -> String {
    let d = d.display();
    let mut c = format!(
        "server:\n    rundir: \"{d}\"\n    listen: {}@{}\n    udp-workers: 1\n    tcp-workers: 1\n    \
         background-workers: 1\nlog:\n  - target: stderr\n    any: info\ndatabase:\n    storage: \"{d}/storage\"\n\
         remote:\n  - id: consumer\n    address: {}@{}\nacl:\n  - id: plain\n    address: 127.0.0.1\n    \
         action: transfer\ntemplate:\n  - id: default\n    storage: \"{d}/zones\"\n    zonefile-sync: -1\n    \
         acl: plain\n    notify: consumer\nzone:\n  - domain: cat.\n    catalog-role: generate\n",
        addr.ip(),
        addr.port(),
        notify.ip(),
        notify.port()
    );
    for m in members {
        c.push_str(&format!(
            "  - domain: {m}\n    file: \"{d}/zones/{m}zone\"\n    catalog-role: member\n    catalog-zone: cat.\n"
        ));
    }
    c
}

#[test]
fn knot_produces_shoal_consumes() {
    let _guard = serial_guard();
    if !peers::available("knot_produces_shoal_consumes", &[PeerKind::Knot]) {
        return;
    }
    let port = harness::free_port();
    let shoal_addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let members = ["a.test.", "b.test.", "c.test."];
    let write_knot = |knot: &Peer, list: &[&str]| {
        std::fs::write(knot.dir().join("knot.conf"), knot_producer(knot.dir(), knot.addr, shoal_addr, list)).unwrap();
    };
    // Ready once a.test. answers: it stays in the configuration across the restart.
    let mut knot = Peer::custom(PeerKind::Knot, harness::free_port(), &["a.test.".into()], |d, a| {
        knot_producer(d, a, shoal_addr, &members[..2])
    });
    for m in members {
        knot.write_zone(m, &harness::zone::small_text(m, 1, 1));
    }
    knot.start();
    let shoal =
        Shoal::builder("knot-catalog-consumer").port(port).zone(consumer("cat.", knot.addr)).ready_zones(&[]).start();
    for m in &members[..2] {
        assert!(serves(shoal.addr, m), "{m} from Knot's catalog\n{}\n{}", shoal.tail(), knot.tail());
    }
    // b.test. out, c.test. in; Knot generates the catalog anew as it starts.
    write_knot(&knot, &["a.test.", "c.test."]);
    knot.stop();
    knot.start();
    assert!(serves(shoal.addr, "c.test."), "c.test. added\n{}", shoal.tail());
    assert!(stops_serving(shoal.addr, "b.test."), "b.test. removed\n{}", shoal.tail());
    // A member removed by a reload of Knot's configuration.
    write_knot(&knot, &["c.test."]);
    knot.reload();
    assert!(stops_serving(shoal.addr, "a.test."), "a.test. removed on reload\n{}", shoal.tail());
    assert_eq!(dns::soa_serial(shoal.addr, "c.test."), Some(1));
}

/// BIND 9.18 consuming `cat.` from `primary`.
fn bind_consumer(d: &Path, addr: SocketAddr, primary: SocketAddr) -> String {
    format!(
        "options {{\n    directory \"{d}\";\n    pid-file \"{d}/named.pid\";\n    session-keyfile \"{d}/session.key\";\n    \
         managed-keys-directory \"{d}\";\n    listen-on port {port} {{ {ip}; }};\n    listen-on-v6 {{ none; }};\n    \
         recursion no;\n    dnssec-validation no;\n    allow-new-zones yes;\n    min-refresh-time 1;\n    \
         catalog-zones {{ zone \"cat.\" default-primaries {{ {pip} port {pport}; }} min-update-interval 1 in-memory yes; }};\n}};\n\
         controls {{ }};\nzone \"cat.\" {{\n    type secondary;\n    primaries {{ {pip} port {pport}; }};\n    file \"secondary/cat.zone\";\n}};\n",
        d = d.display(),
        port = addr.port(),
        ip = addr.ip(),
        pip = primary.ip(),
        pport = primary.port()
    )
}

/// Knot 3.2 consuming `cat.` from `primary`; members take the `member` template.
fn knot_consumer(d: &Path, addr: SocketAddr, primary: SocketAddr) -> String {
    let d = d.display();
    format!(
        "server:\n    rundir: \"{d}\"\n    listen: {}@{}\n    udp-workers: 1\n    tcp-workers: 1\n    \
         background-workers: 1\nlog:\n  - target: stderr\n    any: info\ndatabase:\n    storage: \"{d}/storage\"\n\
         remote:\n  - id: producer\n    address: {}@{}\nacl:\n  - id: plain\n    address: 127.0.0.1\n    \
         action: [transfer, notify]\ntemplate:\n  - id: default\n    storage: \"{d}/secondary\"\n    zonefile-sync: -1\n  \
         - id: member\n    storage: \"{d}/secondary\"\n    master: producer\n    acl: plain\nzone:\n  - domain: cat.\n    \
         master: producer\n    acl: plain\n    catalog-role: interpret\n    catalog-template: member\n",
        addr.ip(),
        addr.port(),
        primary.ip(),
        primary.port()
    )
}

#[test]
fn shoal_produces_knot_and_bind_consume() {
    let _guard = serial_guard();
    if !peers::available("shoal_produces_knot_and_bind_consume", &[PeerKind::Knot, PeerKind::Bind]) {
        return;
    }
    let (knot_port, bind_port) = (harness::free_port(), harness::free_port());
    let (knot_addr, bind_addr): (SocketAddr, SocketAddr) =
        (([127, 0, 0, 1], knot_port).into(), ([127, 0, 0, 1], bind_port).into());
    let notify = format!("notify = [\"{knot_addr}\", \"{bind_addr}\"]\nallow_transfer = [\"127.0.0.1\"]\n");
    let mut producer = Shoal::builder("catalog-producer")
        .zone(ShoalZone::bare("cat.").with("catalog_role = \"producer\"").with(&notify))
        .file("a.test.zone", &harness::zone::small_text("a.test.", 1, 1))
        .file("b.test.zone", &harness::zone::small_text("b.test.", 1, 1))
        .file("c.test.zone", &harness::zone::small_text("c.test.", 1, 1))
        .table(&member_table("a.test.", &format!("catalog_group = \"g1\"\n{notify}")))
        .table(&member_table("b.test.", &notify))
        .ready_zones(&["cat.", "a.test.", "b.test."])
        .start();
    let mut knot = Peer::custom(PeerKind::Knot, knot_port, &[], |d, a| knot_consumer(d, a, producer.addr));
    knot.start();
    let mut bind = Peer::custom(PeerKind::Bind, bind_port, &[], |d, a| bind_consumer(d, a, producer.addr));
    bind.start();
    for peer in [&knot, &bind] {
        for m in ["a.test.", "b.test."] {
            assert!(serves(peer.addr, m), "{} serves {m} from Shoal's catalog\n{}", peer.name(), peer.tail());
        }
    }
    // c.test. in and b.test. out of the producer's configuration, at one reload.
    let config = std::fs::read_to_string(producer.config()).unwrap();
    let config = config.replace(&member_table("b.test.", &notify), &member_table("c.test.", &notify));
    std::fs::write(producer.config(), config).unwrap();
    producer.reload();
    for peer in [&knot, &bind] {
        assert!(serves(peer.addr, "c.test."), "{} adds c.test.\n{}", peer.name(), peer.tail());
        assert!(stops_serving(peer.addr, "b.test."), "{} removes b.test.\n{}", peer.name(), peer.tail());
        assert_eq!(dns::soa_serial(peer.addr, "a.test."), Some(1), "{} keeps a.test.", peer.name());
    }
}
