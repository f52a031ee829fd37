//! The metrics listener of a primary/secondary pair: `/metrics` figures move as queries,
//! transfers and NOTIFYs happen; `/ready` flips to 503 when a zone expires and back when
//! it refreshes; `/health`; and SIGTERM drains the TCP answers already owed.

mod harness;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use harness::dns;
use harness::http::get;
use harness::shoal::{Shoal, ShoalZone};
use harness::{free_port, wait_until, zone, WAIT};

const ZONE: &str = "metrics.test.";

/// `[metrics] listen` on a free port, and that address.
fn metrics_table() -> (String, SocketAddr) {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    (format!("\n[metrics]\nlisten = \"{addr}\"\n"), addr)
}

/// `promtool check metrics` on a scraped page; a note when promtool is not installed.
fn promtool_accepts(dir: &std::path::Path, who: &str, page: &str) {
    let Some(promtool) = harness::find_program("promtool") else {
        eprintln!("SKIPPED promtool check metrics: promtool not installed (Debian package prometheus)");
        return;
    };
    let file = dir.join(format!("{who}.metrics"));
    std::fs::write(&file, page).expect("write the scraped page");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(format!("'{}' check metrics < '{}'", promtool.display(), file.display()));
    let out = harness::process::run(cmd, dir, &format!("promtool-{who}"));
    assert!(out.status.success(), "promtool check metrics rejects the {who}'s page:\n{}", out.all());
}

/// The value of the sample `series` (name and labels exactly as exposed), 0 if absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap_or_else(|_| panic!("bad value in {series} {v}")))
}

fn scrape(addr: SocketAddr) -> String {
    let (status, body) = get(addr, "/metrics").expect("scrape /metrics");
    assert_eq!(status, 200, "{body}");
    body
}

/// Wait until `series` in a scrape of `addr` satisfies `ok`; panic with the scrape if not.
fn wait_metric(addr: SocketAddr, series: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let mut last = String::new();
    wait_until(WAIT, || {
        last = scrape(addr);
        let v = value(&last, series);
        ok(v).then_some(v)
    })
    .unwrap_or_else(|| panic!("{series} never satisfied the check; last scrape:\n{last}"))
}

fn z(series: &str) -> String {
    format!("{series}{{zone=\"{ZONE}\"}}")
}

#[test]
fn metrics_move_with_queries_transfers_and_notifies() {
    let _guard = harness::serial_guard();
    let secondary_port = free_port();
    let secondary_addr: SocketAddr = ([127, 0, 0, 1], secondary_port).into();
    let (ptable, pm) = metrics_table();
    let mut primary = Shoal::builder("metrics-primary")
        .zone(ShoalZone::primary(ZONE).with("allow_transfer = [\"127.0.0.1\"]").notify(secondary_addr))
        .table(&ptable)
        .build();
    primary.write_zone(ZONE, &zone::small_text(ZONE, 1, 1));
    primary.start();
    let (stable, sm) = metrics_table();
    let secondary = Shoal::builder("metrics-secondary")
        .port(secondary_port)
        .zone(ShoalZone::secondary(ZONE, primary.addr))
        .table(&stable)
        .start();
    secondary.wait_serial(ZONE, 1);

    // After the first transfer: serial, an AXFR in, a publish, ready.
    wait_metric(sm, &z("shoal_zone_serial"), |v| v == 1.0);
    let text = scrape(sm);
    assert_eq!(value(&text, &format!("shoal_xfr_in_total{{zone=\"{ZONE}\",kind=\"axfr\"}}")), 1.0, "{text}");
    assert!(value(&text, &z("shoal_xfr_in_bytes_total")) > 0.0, "{text}");
    assert!(value(&text, &z("shoal_snapshot_publish_total")) >= 1.0, "{text}");
    assert_eq!(value(&text, &z("shoal_zone_up")), 1.0, "{text}");
    assert!(value(&text, "shoal_process_resident_memory_bytes") > 1e6, "{text}");
    assert!(value(&text, &z("shoal_zone_last_refresh_timestamp_seconds")) > 1.7e9, "{text}");
    assert!(value(&text, &z("shoal_zone_expire_timestamp_seconds")) > 1.7e9, "{text}");
    assert_eq!(get(sm, "/health").map(|r| r.0), Some(200));
    let (status, body) = get(sm, "/ready").expect("/ready");
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(sm, "/nope").map(|r| r.0), Some(404));

    // Queries: 10 A and 3 NXDOMAIN over UDP, 2 over TCP; the counters move by exactly that.
    let before = scrape(sm);
    for i in 0..10u16 {
        assert!(dns::udp_exchange(secondary_addr, &dns::query(100 + i, &format!("www.{ZONE}"), dns::TYPE_A)).is_some());
    }
    for i in 0..3u16 {
        assert!(
            dns::udp_exchange(secondary_addr, &dns::query(200 + i, &format!("nx{i}.{ZONE}"), dns::TYPE_A)).is_some()
        );
    }
    let mut tcp = dns::tcp_connect(secondary_addr).expect("TCP connect");
    for i in 0..2u16 {
        dns::tcp_write_message(&mut tcp, &dns::query(300 + i, &format!("www.{ZONE}"), dns::TYPE_TXT)).unwrap();
        dns::tcp_read_message(&mut tcp).expect("TCP answer");
    }
    let after = scrape(sm);
    let delta = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(delta(&z("shoal_zone_queries_total")), 15.0, "{after}");
    assert_eq!(delta(&format!("shoal_zone_responses_total{{zone=\"{ZONE}\",result=\"nxdomain\"}}")), 3.0, "{after}");
    assert_eq!(delta("shoal_queries_by_qtype_total{qtype=\"A\"}"), 13.0, "{after}");
    assert_eq!(delta("shoal_queries_by_qtype_total{qtype=\"TXT\"}"), 2.0, "{after}");
    assert_eq!(delta("shoal_queries_total{worker=\"0\",transport=\"tcp\"}"), 2.0, "{after}");
    assert!(delta("shoal_queries_total{worker=\"0\",transport=\"udp\"}") >= 13.0, "{after}");
    assert_eq!(
        delta("shoal_responses_total{worker=\"0\",transport=\"udp\",rcode=\"NXDOMAIN\",kind=\"nxdomain\"}"),
        3.0,
        "{after}"
    );
    assert_eq!(value(&after, "shoal_tcp_connections_open{worker=\"0\"}"), 1.0, "{after}");
    drop(tcp);

    // A new version: the primary NOTIFYs, the secondary takes an IXFR.
    primary.write_zone(ZONE, &zone::small_text(ZONE, 2, 2));
    primary.reload();
    secondary.wait_serial(ZONE, 2);
    wait_metric(sm, &format!("shoal_xfr_in_total{{zone=\"{ZONE}\",kind=\"ixfr\"}}"), |v| v == 1.0);
    wait_metric(sm, &z("shoal_zone_serial"), |v| v == 2.0);
    assert!(value(&scrape(sm), &z("shoal_notify_received_total")) >= 1.0);
    wait_metric(pm, &z("shoal_notify_sent_total"), |v| v >= 1.0);
    let p = scrape(pm);
    assert_eq!(value(&p, &format!("shoal_xfr_out_total{{zone=\"{ZONE}\",kind=\"axfr\"}}")), 1.0, "{p}");
    assert_eq!(value(&p, &format!("shoal_xfr_out_total{{zone=\"{ZONE}\",kind=\"ixfr\"}}")), 1.0, "{p}");
    assert!(value(&p, &z("shoal_xfr_out_bytes_total")) > 0.0, "{p}");
    assert!(value(&p, &z("shoal_snapshot_publish_total")) >= 2.0, "{p}");
    // Prometheus itself reads the pages: `promtool check metrics` parses them as a
    // scrape would (where promtool, Debian's prometheus package, is installed).
    for (who, page) in [("primary", &p), ("secondary", &scrape(sm))] {
        promtool_accepts(primary.dir(), who, page);
    }

    // Refusals are counted: a NOTIFY to the primary (not a secondary zone there), and an
    // AXFR from an address outside allow_transfer... is not possible on loopback-only
    // ACLs, so a NOTIFY it is.
    let refused = dns::udp_exchange(primary.addr, &dns::notify(0x5151, ZONE, 9)).expect("NOTIFY answer");
    assert_eq!(refused[3] & 0x0f, 5, "REFUSED");
    wait_metric(pm, &z("shoal_notify_refused_total"), |v| v == 1.0);
}

#[test]
fn ready_flips_when_a_zone_expires_and_back_when_it_refreshes() {
    let _guard = harness::serial_guard();
    let mut primary =
        Shoal::builder("ready-primary").zone(ShoalZone::primary(ZONE).with("allow_transfer = [\"127.0.0.1\"]")).build();
    primary.write_zone(ZONE, &zone::small_text(ZONE, 1, 1));
    primary.start();
    let (table, m) = metrics_table();
    let secondary = Shoal::builder("ready-secondary")
        .zone(ShoalZone::secondary(ZONE, primary.addr).fast_timers(4, 4))
        .table(&table)
        .start();
    secondary.wait_serial(ZONE, 1);
    assert_eq!(get(m, "/ready").map(|r| r.0), Some(200));

    primary.stop();
    let body = wait_until(WAIT, || get(m, "/ready").filter(|(s, _)| *s == 503).map(|(_, b)| b))
        .unwrap_or_else(|| panic!("/ready never 503 after expiry\n{}", secondary.tail()));
    assert!(body.contains(ZONE), "{body}");
    assert_eq!(get(m, "/health").map(|r| r.0), Some(200), "alive while not ready");
    let text = scrape(m);
    assert_eq!(value(&text, &z("shoal_zone_up")), 0.0, "{text}");
    assert!(value(&text, &z("shoal_zone_refresh_failures_total")) >= 1.0, "{text}");
    assert_eq!(value(&text, "shoal_zones{state=\"not_served\"}"), 1.0, "{text}");

    primary.start();
    wait_until(WAIT, || get(m, "/ready").filter(|(s, _)| *s == 200))
        .unwrap_or_else(|| panic!("/ready never 200 again\n{}", secondary.tail()));
}

#[test]
fn sigterm_drains_tcp_answers_already_owed() {
    let _guard = harness::serial_guard();
    // A TXT RRset of about 16 KB: 600 answers are over 9 MB, more than the socket
    // buffers (at most 4 MB here) hold while the client does not read.
    let mut text = zone::small_text(ZONE, 1, 1);
    for i in 0..64 {
        text.push_str(&format!("big IN TXT \"{}{i}\"\n", "x".repeat(240)));
    }
    let (table, m) = metrics_table();
    let mut server = Shoal::builder("drain").zone(ShoalZone::primary(ZONE)).table(&table).build();
    server.write_zone(ZONE, &text);
    server.start();

    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let mut s: TcpStream = socket.into();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    const N: u16 = 600;
    let mut burst = Vec::new();
    for i in 0..N {
        let q = dns::query(i, &format!("big.{ZONE}"), dns::TYPE_TXT);
        burst.extend_from_slice(&(q.len() as u16).to_be_bytes());
        burst.extend_from_slice(&q);
    }
    s.write_all(&burst).unwrap();
    // The server has answered some and is waiting for the client to read.
    wait_metric(m, "shoal_queries_total{worker=\"0\",transport=\"tcp\"}", |v| v >= 50.0);
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    let mut got = 0u16;
    while let Ok(msg) = dns::tcp_read_message(&mut s) {
        assert_eq!(u16::from_be_bytes([msg[0], msg[1]]), got, "answers in order");
        assert_eq!(msg[3] & 0x0f, 0, "NOERROR");
        got += 1;
    }
    assert_eq!(got, N, "every query read before SIGTERM is answered\n{}", server.tail());
    let status = server.wait_exit(Duration::from_secs(15)).expect("exits after draining");
    assert!(status.success(), "{status:?}\n{}", server.tail());
}
