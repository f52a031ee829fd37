//! The Prometheus text exposition of Shoal's counters (format 0.0.4): worker threads'
//! counters summed by worker and transport, each zone's query counts (summed over the
//! threads' slots), each zone's transfer-side state and counters, and the process's
//! memory. Rendering reads counters; it never writes one.
//!
//! Per-zone counters are written only once they are non-zero, so an instance with
//! 100,000 quiet zones does not expose millions of zero series; per-zone gauges
//! (serial, loaded, expire deadline) are written for every zone, unless the scrape
//! asks for the server-wide families only ([`Sources::per_zone`]): workers, zones
//! served, the secondary side's checks over every zone, the process.

use crate::metrics::AnswerClass;
use crate::metrics::{RefreshStats, Total, WorkerStats, BATCH_BOUNDS_MICROS, QTYPES};
use crate::zones::{ZoneSet, ZoneStatus};
use shoal_zonedb::Catalog;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

/// A metric family read from worker threads: name, help, and how to read one thread.
/// A metric family's type, as the text format's `# TYPE` line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

type WorkerFamily = (&'static str, &'static str, fn(&WorkerStats) -> u64);
/// The same, with the metric type.
type TypedWorkerFamily = (&'static str, Kind, &'static str, fn(&WorkerStats) -> u64);
/// A per-zone counter family: name, help, and how to read one zone.
type ZoneFamily = (&'static str, &'static str, fn(&ZoneStatus) -> f64);

/// What a scrape reads.
pub struct Sources<'a> {
    pub workers: &'a [Arc<WorkerStats>],
    pub zone_set: &'a ZoneSet,
    /// Whether to write the per-zone series (`/metrics?zones=no` leaves them out).
    pub per_zone: bool,
    /// The transfer side's view of the zones (`None` if it did not answer in time, or
    /// was not asked).
    pub zones: Option<&'a [ZoneStatus]>,
    /// The secondary side's checks, over every zone.
    pub refresh: &'a RefreshStats,
    pub uptime_seconds: u64,
}

/// Append a label value with `\`, `"` and newlines escaped (600,000 of them for
/// 100,000 zones: no allocation each).
fn push_escaped(out: &mut String, v: &str) {
    let mut rest = v;
    while let Some(i) = rest.find(['\\', '"', '\n']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {}", kind.as_str());
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                self.0.push_str(k);
                self.0.push_str("=\"");
                push_escaped(&mut self.0, v);
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// Render every metric.
pub fn render(src: &Sources<'_>) -> String {
    let mut o = Out(String::with_capacity(16 * 1024));
    workers(&mut o, src.workers);
    if src.per_zone {
        zone_queries(&mut o, src.zone_set);
        if let Some(z) = src.zones {
            zone_states(&mut o, z);
        }
        o.family("shoal_zone_status_available", Kind::Gauge, "1 when the transfer side answered this scrape in time.");
        o.sample("shoal_zone_status_available", &[], u8::from(src.zones.is_some()));
    }
    zone_counts(&mut o, &src.zone_set.catalog);
    refresh(&mut o, src.refresh);
    o.family("shoal_process_resident_memory_bytes", Kind::Gauge, "Resident memory of the process.");
    o.sample("shoal_process_resident_memory_bytes", &[], crate::metrics::resident_bytes().unwrap_or(0));
    o.family("shoal_uptime_seconds", Kind::Gauge, "Seconds since the server started.");
    o.sample("shoal_uptime_seconds", &[], src.uptime_seconds);
    o.family("shoal_build_info", Kind::Gauge, "The running version.");
    o.sample("shoal_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1);
    o.0
}

/// Worker threads' counters, summed per (worker, transport): a worker has a UDP thread
/// per listen address.
fn workers(o: &mut Out, stats: &[Arc<WorkerStats>]) {
    let mut groups: BTreeMap<(usize, &'static str), Vec<&WorkerStats>> = BTreeMap::new();
    for s in stats {
        groups.entry((s.worker, s.transport.label())).or_default().push(s);
    }
    let simple: [WorkerFamily; 9] = [
        ("shoal_queries_total", "Messages received, by worker and transport.", |s| s.queries.get()),
        ("shoal_truncated_total", "Responses sent with TC set.", |s| s.truncated.get()),
        ("shoal_dropped_total", "Messages dropped unanswered (shorter than a header, or a response).", |s| {
            s.dropped.get()
        }),
        ("shoal_send_dropped_total", "Answers the kernel did not take, and hand-overs refused.", |s| {
            s.udp_dropped.get()
        }),
        ("shoal_handed_over_total", "Messages passed to the transfer side (NOTIFY, transfers, signed queries).", |s| {
            s.handed_over.get()
        }),
        ("shoal_socket_errors_total", "Failed socket operations.", |s| s.udp_errors.get() + s.tcp_errors.get()),
        ("shoal_malformed_total", "Malformed queries (answered FORMERR).", |s| s.answered(AnswerClass::FormErr)),
        ("shoal_rrl_limited_total", "UDP answers response rate limiting dropped.", |s| s.rrl_dropped.get()),
        ("shoal_rrl_slipped_total", "UDP answers response rate limiting sent truncated (slip).", |s| {
            s.rrl_slipped.get()
        }),
    ];
    for (name, help, get) in simple {
        o.family(name, Kind::Counter, help);
        for ((w, t), ss) in &groups {
            let v: u64 = ss.iter().map(|s| get(s)).sum();
            o.sample(name, &[("worker", &w.to_string()), ("transport", t)], v);
        }
    }
    o.family(
        "shoal_responses_total",
        Kind::Counter,
        "Responses by RCODE; NOERROR split into answer, nodata and referral.",
    );
    for ((w, t), ss) in &groups {
        for class in AnswerClass::ALL {
            let v: u64 = ss.iter().map(|s| s.answered(class)).sum();
            o.sample(
                "shoal_responses_total",
                &[("worker", &w.to_string()), ("transport", t), ("rcode", class.rcode()), ("kind", class.label())],
                v,
            );
        }
    }
    o.family("shoal_queries_by_qtype_total", Kind::Counter, "Answered queries by QTYPE, over all workers.");
    let names = QTYPES.iter().map(|&t| shoal_wire::rdata::rtype_name(shoal_wire::Rtype(t))).chain(["other".into()]);
    for (i, name) in names.enumerate() {
        let v: u64 = stats.iter().map(|s| s.qtypes[i].get()).sum();
        o.sample("shoal_queries_by_qtype_total", &[("qtype", &name)], v);
    }
    batch_times(o, &groups);
    let tcp: Vec<_> = groups.iter().filter(|((_, t), _)| *t == "tcp").collect();
    let conn: [TypedWorkerFamily; 5] = [
        ("shoal_tcp_connections_accepted_total", Kind::Counter, "TCP connections accepted.", |s| s.tcp_accepted.get()),
        ("shoal_tcp_connections_rejected_total", Kind::Counter, "TCP connections refused at the limit.", |s| {
            s.tcp_rejected.get()
        }),
        ("shoal_tcp_connections_idle_closed_total", Kind::Counter, "TCP connections closed for idleness.", |s| {
            s.tcp_closed_idle.get()
        }),
        (
            "shoal_tcp_connections_slow_closed_total",
            Kind::Counter,
            "TCP connections closed: answers left unread.",
            |s| s.tcp_closed_slow.get(),
        ),
        ("shoal_tcp_connections_open", Kind::Gauge, "TCP connections open now.", |s| {
            s.tcp_accepted.get().saturating_sub(s.tcp_closed.get())
        }),
    ];
    for (name, kind, help, get) in conn {
        o.family(name, kind, help);
        for ((w, _), ss) in &tcp {
            o.sample(name, &[("worker", &w.to_string())], ss.iter().map(|s| get(s)).sum::<u64>());
        }
    }
}

/// The UDP threads' batch times, a histogram per worker.
fn batch_times(o: &mut Out, groups: &BTreeMap<(usize, &'static str), Vec<&WorkerStats>>) {
    const NAME: &str = "shoal_udp_batch_seconds";
    o.family(NAME, Kind::Histogram, "Time to answer and send one batch of UDP queries (the receive's wait excluded).");
    for ((w, _), ss) in groups.iter().filter(|((_, t), _)| *t == "udp") {
        let worker = w.to_string();
        let mut counts = [0u64; BATCH_BOUNDS_MICROS.len() + 1];
        for s in ss {
            for (c, n) in counts.iter_mut().zip(s.batch_time.counts()) {
                *c += n;
            }
        }
        let mut cumulative = 0;
        for (i, n) in counts.iter().enumerate() {
            cumulative += n;
            let le = BATCH_BOUNDS_MICROS.get(i).map_or_else(|| "+Inf".to_string(), |&b| (b as f64 / 1e6).to_string());
            o.sample(&format!("{NAME}_bucket"), &[("worker", &worker), ("le", &le)], cumulative);
        }
        let seconds: f64 = ss.iter().map(|s| s.batch_time.seconds()).sum();
        o.sample(&format!("{NAME}_sum"), &[("worker", &worker)], seconds);
        o.sample(&format!("{NAME}_count"), &[("worker", &worker)], cumulative);
    }
}

/// Each zone's query counts, from the zone set's counters (zones with queries only).
fn zone_queries(o: &mut Out, set: &ZoneSet) {
    let mut zones: Vec<_> = set
        .catalog
        .iter()
        .filter_map(|(n, e)| Some((n, set.counters(e.index)?.totals())))
        .filter(|(_, t)| t.queries > 0)
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    zones.sort_by(|a, b| a.0.cmp(&b.0));
    o.family("shoal_zone_queries_total", Kind::Counter, "Queries answered from a zone (zones with queries only).");
    for (z, t) in &zones {
        o.sample("shoal_zone_queries_total", &[("zone", z)], t.queries);
    }
    o.family("shoal_zone_responses_total", Kind::Counter, "A zone's answers by result.");
    for (z, t) in &zones {
        for (result, v) in [
            ("answer", t.noerror),
            ("nodata", t.nodata),
            ("referral", t.referral),
            ("nxdomain", t.nxdomain),
            ("servfail", t.servfail),
            ("other", t.other),
        ] {
            if v > 0 {
                o.sample("shoal_zone_responses_total", &[("zone", z), ("result", result)], v);
            }
        }
    }
}

/// How many zones are served and not.
fn zone_counts(o: &mut Out, catalog: &Catalog) {
    let (ready, failed) = catalog.iter().fold((0u64, 0u64), |(r, f), (_, e)| match e.snapshot() {
        Some(_) => (r + 1, f),
        None => (r, f + 1),
    });
    o.family("shoal_zones", Kind::Gauge, "Configured zones: served, or not (not loaded or expired).");
    o.sample("shoal_zones", &[("state", "served")], ready);
    o.sample("shoal_zones", &[("state", "not_served")], failed);
}

/// The secondary side's checks of its primaries, over every zone.
fn refresh(o: &mut Out, r: &RefreshStats) {
    let families: [(&str, Kind, &str, &Total); 7] = [
        ("shoal_refresh_checks_total", Kind::Counter, "Checks of a primary started (secondary zones).", &r.started),
        ("shoal_refresh_soa_queries_total", Kind::Counter, "SOA queries sent to primaries, every try.", &r.soa_sent),
        (
            "shoal_refresh_soa_timeouts_total",
            Kind::Counter,
            "SOA query tries no answer came to in time (each retried, three tries in all).",
            &r.soa_unanswered,
        ),
        ("shoal_refresh_running", Kind::Gauge, "Checks running now (at most refresh_concurrency).", &r.running),
        ("shoal_refresh_queued", Kind::Gauge, "Checks due and waiting for a slot or for refresh_rate.", &r.queued),
        (
            "shoal_xot_connections_total",
            Kind::Counter,
            "TLS connections from secondaries (XoT) accepted.",
            &r.xot_accepted,
        ),
        (
            "shoal_xot_handshake_failures_total",
            Kind::Counter,
            "TLS connections from secondaries whose handshake failed.",
            &r.xot_failed,
        ),
    ];
    for (name, kind, help, v) in families {
        o.family(name, kind, help);
        o.sample(name, &[], v.get());
    }
}

/// The transfer side's per-zone state and counters.
fn zone_states(o: &mut Out, zones: &[ZoneStatus]) {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let gauge = |o: &mut Out, name: &str, help: &str, get: &dyn Fn(&ZoneStatus) -> Option<u64>| {
        o.family(name, Kind::Gauge, help);
        for z in zones {
            if let Some(v) = get(z) {
                o.sample(name, &[("zone", &z.zone)], v);
            }
        }
    };
    gauge(o, "shoal_zone_up", "1 when the zone is served, 0 when not loaded or expired.", &|z| {
        Some(u64::from(z.state == "served"))
    });
    gauge(o, "shoal_zone_serial", "The SOA serial served.", &|z| z.serial.map(u64::from));
    gauge(
        o,
        "shoal_zone_primary_serial",
        "The SOA serial a primary last answered or announced (secondaries; drift is this minus shoal_zone_serial).",
        &|z| z.primary_serial.map(u64::from),
    );
    gauge(o, "shoal_zone_records", "Records in the served version.", &|z| Some(z.records as u64));
    o.family("shoal_catalog_members", Kind::Gauge, "Member zones a catalog lists (producer) or owns (consumer).");
    for z in zones {
        if let Some(n) = z.catalog_members {
            o.sample("shoal_catalog_members", &[("catalog", &z.zone)], n as u64);
        }
    }
    o.family(
        "shoal_catalog_members_refused_total",
        Kind::Counter,
        "Members a consumer catalog refused: a configured zone, or owned by another catalog without a coo property naming this one.",
    );
    for z in zones {
        if let Some(n) = z.catalog_refused {
            o.sample("shoal_catalog_members_refused_total", &[("catalog", &z.zone)], n);
        }
    }
    gauge(
        o,
        "shoal_zone_last_refresh_timestamp_seconds",
        "Unix time of the last successful check of a primary.",
        &|z| z.last_refresh,
    );
    gauge(o, "shoal_zone_next_refresh_timestamp_seconds", "Unix time of the next check of the primary.", &|z| {
        z.next_refresh_in.map(|s| now + s)
    });
    gauge(
        o,
        "shoal_zone_expire_timestamp_seconds",
        "Unix time at which the zone expires without a successful check.",
        &|z| z.expires_in.map(|s| now + s),
    );
    gauge(o, "shoal_zone_refresh_consecutive_failures", "Checks failed in a row.", &|z| {
        (z.role == "secondary").then_some(u64::from(z.failures))
    });
    let counters: [ZoneFamily; 15] = [
        ("shoal_zone_refresh_failures_total", "Refresh checks in which no primary could be used.", |z| {
            z.meter.refresh_failures.get() as f64
        }),
        ("shoal_xfr_in_failures_total", "Incoming transfers that failed.", |z| z.meter.xfr_in.failed.get() as f64),
        ("shoal_xfr_in_bytes_total", "Bytes of incoming transfers.", |z| z.meter.xfr_in.bytes.get() as f64),
        ("shoal_xfr_in_seconds_total", "Time spent receiving transfers.", |z| z.meter.xfr_in.micros.get() as f64 / 1e6),
        ("shoal_xfr_out_failures_total", "Outgoing transfers cut off.", |z| z.meter.xfr_out.failed.get() as f64),
        ("shoal_xfr_out_refused_total", "Transfer requests refused (ACL, TSIG, not loaded).", |z| {
            z.meter.xfr_out_refused.get() as f64
        }),
        ("shoal_xfr_out_bytes_total", "Bytes of outgoing transfers.", |z| z.meter.xfr_out.bytes.get() as f64),
        ("shoal_xfr_out_seconds_total", "Time spent sending transfers.", |z| z.meter.xfr_out.micros.get() as f64 / 1e6),
        ("shoal_notify_sent_total", "NOTIFY messages sent (one per target and version).", |z| {
            z.meter.notify_sent.get() as f64
        }),
        ("shoal_notify_failed_total", "NOTIFYs no target acknowledged after every retry.", |z| {
            z.meter.notify_failed.get() as f64
        }),
        ("shoal_notify_received_total", "NOTIFYs accepted.", |z| z.meter.notify_received.get() as f64),
        ("shoal_notify_refused_total", "NOTIFYs refused (ACL, TSIG, not a secondary zone).", |z| {
            z.meter.notify_refused.get() as f64
        }),
        ("shoal_zonemd_failures_total", "Versions not published: their ZONEMD digest did not match.", |z| {
            z.meter.zonemd_failures.get() as f64
        }),
        ("shoal_snapshot_publish_total", "New versions published to the workers.", |z| z.meter.publishes.get() as f64),
        ("shoal_snapshot_apply_seconds_total", "Time spent building published versions.", |z| {
            z.meter.apply_micros.get() as f64 / 1e6
        }),
    ];
    for (name, help, get) in counters {
        o.family(name, Kind::Counter, help);
        for z in zones {
            let v = get(z);
            if v > 0.0 {
                o.sample(name, &[("zone", &z.zone)], v);
            }
        }
    }
    for (dir, name) in [("in", "shoal_xfr_in_total"), ("out", "shoal_xfr_out_total")] {
        o.family(name, Kind::Counter, &format!("Completed transfers {dir}, by kind."));
        for z in zones {
            let m = if dir == "in" { &z.meter.xfr_in } else { &z.meter.xfr_out };
            for (kind, v) in [("axfr", m.axfr.get()), ("ixfr", m.ixfr.get())] {
                if v > 0 {
                    o.sample(name, &[("zone", &z.zone), ("kind", kind)], v);
                }
            }
        }
    }
    o.family(
        "shoal_snapshot_last_apply_seconds",
        Kind::Gauge,
        "Time taken to build the zone's last published version.",
    );
    for z in zones {
        if z.meter.publishes.get() > 0 {
            o.sample(
                "shoal_snapshot_last_apply_seconds",
                &[("zone", &z.zone)],
                z.meter.last_apply_micros.get() as f64 / 1e6,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Transport;

    #[test]
    fn renders_valid_families_and_escapes_labels() {
        let w = Arc::new(WorkerStats::new(0, Transport::Udp, 0));
        w.queries.add(7);
        w.batch_time.record(std::time::Duration::from_micros(20));
        w.batch_time.record(std::time::Duration::from_millis(50));
        let zone_set = ZoneSet::default();
        let refresh = RefreshStats::default();
        refresh.soa_sent.add(4);
        let text = render(&Sources {
            workers: &[w],
            zone_set: &zone_set,
            per_zone: true,
            zones: None,
            refresh: &refresh,
            uptime_seconds: 3,
        });
        assert!(text.contains("shoal_refresh_soa_queries_total 4\n"), "{text}");
        assert!(text.contains("shoal_queries_total{worker=\"0\",transport=\"udp\"} 7\n"), "{text}");
        assert!(text.contains("shoal_zone_status_available 0\n"));
        assert!(text.contains("# TYPE shoal_tcp_connections_open gauge\n"));
        assert!(text.contains("shoal_udp_batch_seconds_bucket{worker=\"0\",le=\"0.000016\"} 0\n"), "{text}");
        assert!(text.contains("shoal_udp_batch_seconds_bucket{worker=\"0\",le=\"0.000032\"} 1\n"), "{text}");
        assert!(text.contains("shoal_udp_batch_seconds_bucket{worker=\"0\",le=\"0.016384\"} 1\n"), "{text}");
        assert!(text.contains("shoal_udp_batch_seconds_bucket{worker=\"0\",le=\"+Inf\"} 2\n"), "{text}");
        assert!(text.contains("shoal_udp_batch_seconds_count{worker=\"0\"} 2\n"), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').expect("name value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(series.starts_with("shoal_"), "{line}");
        }
        let mut escaped = String::new();
        push_escaped(&mut escaped, "a\"b\\c\nd");
        assert_eq!(escaped, "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn without_zones_only_server_wide_families_are_written() {
        let mut catalog = Catalog::new();
        catalog.insert(shoal_wire::name::from_ascii("a.test.").unwrap(), shoal_zonedb::ZoneState::Failed);
        let zone_set = ZoneSet::uncounted(catalog);
        let refresh = RefreshStats::default();
        let src = |per_zone| Sources {
            workers: &[],
            zone_set: &zone_set,
            per_zone,
            zones: None,
            refresh: &refresh,
            uptime_seconds: 1,
        };
        let all = render(&src(true));
        assert!(all.contains("shoal_zone_status_available 0\n"), "{all}");
        let server = render(&src(false));
        assert!(server.contains("shoal_zones{state=\"not_served\"} 1\n"), "{server}");
        assert!(server.contains("shoal_refresh_queued 0\n"), "{server}");
        assert!(!server.contains("shoal_zone_"), "{server}");
    }
}
