//! Counters and the latency histogram of a run, and the reports made from them.
//!
//! Every sending thread keeps its own [`Stats`] (no sharing, no atomics) and the threads'
//! stats are merged at the end. Only queries sent after the warm-up count. A response is
//! recorded by [`Stats::response`]: its ID must match an outstanding query of the socket
//! it arrived on, then [`check_response`] judges it; anything else is an error, never a
//! completion. Latency is recorded per response in nanoseconds into an HDR histogram.
//!
//! The report prints dnsperf's summary block with the same labels, so one script parses
//! both tools, followed by what dnsperf does not give (errors by kind, percentiles).

use crate::query::{check_response, message_id, rcode_name, QuerySet, Verdict};
use crate::slots::SlotTable;
use crate::timeline::Timeline;
use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

/// Latencies above this (a minute) are recorded as this.
const MAX_LATENCY_NS: u64 = 60_000_000_000;

pub struct Stats {
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    /// The ID matched no outstanding query: late, duplicate or made up.
    pub unmatched: u64,
    pub not_response: u64,
    pub question_mismatch: u64,
    pub malformed: u64,
    pub rcodes: [u64; 16],
    pub truncated: u64,
    /// Queries the open-loop schedule owed but could not send (all slots busy).
    pub skipped: u64,
    /// Failed send/receive calls other than "would block" (e.g. ICMP port unreachable).
    pub socket_errors: u64,
    /// TCP connections the server closed (and that were opened again).
    pub reconnects: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// Send calls (sendmmsg or write) that sent something, and what they sent.
    pub send_calls: u64,
    pub send_messages: u64,
    /// Receive calls (recvmmsg or read) that received something, and what they received.
    pub recv_calls: u64,
    pub recv_messages: u64,
    /// Times the loop had nothing to do and slept in ppoll.
    pub waits: u64,
    pub latency_sum_ns: u64,
    pub latency: Histogram<u64>,
    /// When the last valid answer arrived (clock nanoseconds): the end of the measurement
    /// when answers still arrive after sending stopped.
    pub last_answer_ns: u64,
    /// Answers and latency per window of time, when asked for (`--timeline`).
    pub timeline: Option<Timeline>,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            sent: 0,
            completed: 0,
            lost: 0,
            unmatched: 0,
            not_response: 0,
            question_mismatch: 0,
            malformed: 0,
            rcodes: [0; 16],
            truncated: 0,
            skipped: 0,
            socket_errors: 0,
            reconnects: 0,
            request_bytes: 0,
            response_bytes: 0,
            send_calls: 0,
            send_messages: 0,
            recv_calls: 0,
            recv_messages: 0,
            waits: 0,
            latency_sum_ns: 0,
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("valid histogram bounds"),
            last_answer_ns: 0,
            timeline: None,
        }
    }

    /// Stats that also keep a [`Timeline`] of `window_ns` windows from `origin_ns`.
    pub fn with_timeline(window: Option<Duration>, origin_ns: u64) -> Stats {
        let mut s = Stats::new();
        s.timeline = window.map(|w| Timeline::new(origin_ns, w.as_nanos() as u64));
        s
    }

    /// Responses that were not valid answers to an outstanding query.
    pub fn errors(&self) -> u64 {
        self.unmatched + self.not_response + self.question_mismatch + self.malformed
    }

    /// Record one query sent of `len` bytes, if it counts.
    #[inline]
    pub fn query_sent(&mut self, measured: bool, len: usize) {
        if measured {
            self.sent += 1;
            self.request_bytes += len as u64;
        }
    }

    /// Record a query that timed out or was abandoned, if it counts.
    #[inline]
    pub fn query_lost(&mut self, measured: bool) {
        self.lost += measured as u64;
    }

    /// Match `message` (received at `now_ns`) against the outstanding queries in `slots`
    /// and record what it was. `measuring` says whether the run is past its warm-up (for
    /// messages that match nothing).
    pub fn response(
        &mut self,
        message: &[u8],
        slots: &mut SlotTable,
        queries: &QuerySet,
        now_ns: u64,
        measuring: bool,
    ) {
        let Some(id) = message_id(message) else {
            self.malformed += measuring as u64;
            return;
        };
        let Some(query) = slots.complete(id) else {
            self.unmatched += measuring as u64;
            return;
        };
        if !query.measured {
            return;
        }
        match check_response(message, queries.question(query.query as usize)) {
            Verdict::Answer { rcode, truncated } => {
                self.completed += 1;
                self.rcodes[rcode as usize] += 1;
                self.truncated += truncated as u64;
                self.response_bytes += message.len() as u64;
                let ns = now_ns.saturating_sub(query.sent_ns).clamp(1, MAX_LATENCY_NS);
                self.latency_sum_ns += ns;
                self.latency.saturating_record(ns);
                self.last_answer_ns = self.last_answer_ns.max(now_ns);
                if let Some(t) = &mut self.timeline {
                    t.answer(now_ns, ns);
                }
            }
            Verdict::NotResponse => self.not_response += 1,
            Verdict::QuestionMismatch => self.question_mismatch += 1,
            Verdict::Malformed => self.malformed += 1,
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        if let Some(b) = &other.timeline {
            self.timeline.get_or_insert_with(|| b.empty_like()).merge(b);
        }
        self.sent += other.sent;
        self.completed += other.completed;
        self.lost += other.lost;
        self.unmatched += other.unmatched;
        self.not_response += other.not_response;
        self.question_mismatch += other.question_mismatch;
        self.malformed += other.malformed;
        for (a, b) in self.rcodes.iter_mut().zip(other.rcodes) {
            *a += b;
        }
        self.truncated += other.truncated;
        self.skipped += other.skipped;
        self.socket_errors += other.socket_errors;
        self.reconnects += other.reconnects;
        self.request_bytes += other.request_bytes;
        self.response_bytes += other.response_bytes;
        self.send_calls += other.send_calls;
        self.send_messages += other.send_messages;
        self.recv_calls += other.recv_calls;
        self.recv_messages += other.recv_messages;
        self.waits += other.waits;
        self.latency_sum_ns += other.latency_sum_ns;
        self.latency.add(&other.latency).expect("histograms with equal bounds");
        self.last_answer_ns = self.last_answer_ns.max(other.last_answer_ns);
    }
}

/// A finished run: merged stats, how long the measurement lasted and what was asked for.
pub struct Report<'a> {
    pub stats: &'a Stats,
    pub elapsed: Duration,
    pub label: &'a str,
    /// "udp" or "tcp".
    pub transport: &'static str,
    /// The open-loop rate, if any.
    pub rate: Option<f64>,
    pub clients: usize,
    pub outstanding: usize,
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

impl Report<'_> {
    pub fn qps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.stats.completed as f64 / secs
        } else {
            0.0
        }
    }

    fn quantile_us(&self, q: f64) -> f64 {
        if self.stats.latency.is_empty() {
            return 0.0;
        }
        self.stats.latency.value_at_quantile(q) as f64 / 1e3
    }

    /// The `q` quantile over every query the run owed: answers by their latency, lost
    /// queries (and, in open loop, skipped ones) as slower than any answer. `None` when the
    /// quantile falls among the unanswered: the latency is then "never" (shown as `lost`).
    /// This is the fair figure when servers differ in loss: one that drops what it cannot
    /// answer in time must not look faster than one that answers it late.
    fn quantile_with_losses_us(&self, q: f64) -> Option<f64> {
        let s = self.stats;
        let unanswered = s.lost + s.skipped;
        let owed = s.completed + unanswered;
        if owed == 0 || s.completed == 0 {
            return if owed == 0 { Some(0.0) } else { None };
        }
        let rank = (q * owed as f64).ceil().max(1.0) as u64;
        if rank > s.completed {
            return None;
        }
        Some(s.latency.value_at_quantile(rank as f64 / s.completed as f64) as f64 / 1e3)
    }

    fn average_us(&self) -> f64 {
        if self.stats.completed == 0 {
            0.0
        } else {
            self.stats.latency_sum_ns as f64 / self.stats.completed as f64 / 1e3
        }
    }

    fn max_us(&self) -> f64 {
        self.stats.latency.max() as f64 / 1e3
    }

    fn min_us(&self) -> f64 {
        if self.stats.latency.is_empty() {
            0.0
        } else {
            self.stats.latency.min() as f64 / 1e3
        }
    }

    /// dnsperf's "Statistics" block, then shoal-loadtest's own lines.
    pub fn text(&self) -> String {
        let s = self.stats;
        let mut o = String::new();
        let _ = writeln!(o, "Statistics:\n");
        let _ = writeln!(o, "  Queries sent:         {}", s.sent);
        let _ = writeln!(o, "  Queries completed:    {} ({:.2}%)", s.completed, pct(s.completed, s.sent));
        let _ = writeln!(o, "  Queries lost:         {} ({:.2}%)", s.lost, pct(s.lost, s.sent));
        let _ = writeln!(o);
        let codes: Vec<String> = (0..16u8)
            .filter(|&r| s.rcodes[r as usize] > 0)
            .map(|r| {
                let n = s.rcodes[r as usize];
                format!("{} {} ({:.2}%)", rcode_name(r), n, pct(n, s.completed))
            })
            .collect();
        let _ = writeln!(o, "  Response codes:       {}", codes.join(", "));
        let avg = |bytes: u64, n: u64| bytes.checked_div(n).unwrap_or(0);
        let _ = writeln!(
            o,
            "  Average packet size:  request {}, response {}",
            avg(s.request_bytes, s.sent),
            avg(s.response_bytes, s.completed)
        );
        let _ = writeln!(o, "  Run time (s):         {:.6}", self.elapsed.as_secs_f64());
        let _ = writeln!(o, "  Queries per second:   {:.6}", self.qps());
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "  Average Latency (s):  {:.6} (min {:.6}, max {:.6})",
            self.average_us() / 1e6,
            self.min_us() / 1e6,
            self.max_us() / 1e6
        );
        let _ = writeln!(o, "  Latency StdDev (s):   {:.6}", s.latency.stdev() / 1e9);
        let _ = writeln!(o);
        let _ = writeln!(o, "shoal-loadtest:\n");
        let _ = writeln!(
            o,
            "  Errors:               {} (unmatched id {}, not a response {}, question mismatch {}, malformed {})",
            s.errors(),
            s.unmatched,
            s.not_response,
            s.question_mismatch,
            s.malformed
        );
        let _ = writeln!(o, "  Truncated (TC):       {}", s.truncated);
        if let Some(rate) = self.rate {
            let _ = writeln!(o, "  Target rate (q/s):    {rate:.0}, skipped {}", s.skipped);
            let _ = writeln!(o, "  Sent per second:      {:.6}", s.sent as f64 / self.elapsed.as_secs_f64().max(1e-9));
        }
        if s.socket_errors > 0 || s.reconnects > 0 {
            let _ = writeln!(o, "  Socket errors:        {}, reconnects {}", s.socket_errors, s.reconnects);
        }
        let per = |n: u64, calls: u64| if calls == 0 { 0.0 } else { n as f64 / calls as f64 };
        let _ = writeln!(
            o,
            "  Batching:             {:.1} per send, {:.1} per receive, {} waits",
            per(s.send_messages, s.send_calls),
            per(s.recv_messages, s.recv_calls),
            s.waits
        );
        let _ = writeln!(
            o,
            "  Latency (us):         p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
            self.quantile_us(0.5),
            self.quantile_us(0.9),
            self.quantile_us(0.99),
            self.quantile_us(0.999),
            self.max_us()
        );
        let lossy = |q: f64| self.quantile_with_losses_us(q).map_or("lost".to_string(), |v| format!("{v:.1}"));
        let _ = writeln!(
            o,
            "  Latency with losses:  p50 {}  p90 {}  p99 {}  p99.9 {}  (us; a lost or skipped query counts as never answered)",
            lossy(0.5),
            lossy(0.9),
            lossy(0.99),
            lossy(0.999)
        );
        o
    }

    pub const CSV_HEADER: &'static str = "label,transport,mode,clients,outstanding,rate,seconds,sent,completed,lost,\
errors,qps,avg_us,p50_us,p90_us,p99_us,p999_us,max_us,p99_with_losses_us,noerror,nxdomain,servfail,refused,other_rcode,truncated";

    pub fn csv_row(&self) -> String {
        let s = self.stats;
        let other: u64 = s.rcodes.iter().sum::<u64>() - s.rcodes[0] - s.rcodes[2] - s.rcodes[3] - s.rcodes[5];
        format!(
            "{},{},{},{},{},{},{:.3},{},{},{},{},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{},{},{},{},{},{},{}",
            self.label.replace([',', '\n'], " "),
            self.transport,
            if self.rate.is_some() { "open" } else { "closed" },
            self.clients,
            self.outstanding,
            self.rate.map_or(0.0, |r| r),
            self.elapsed.as_secs_f64(),
            s.sent,
            s.completed,
            s.lost,
            s.errors(),
            self.qps(),
            self.average_us(),
            self.quantile_us(0.5),
            self.quantile_us(0.9),
            self.quantile_us(0.99),
            self.quantile_us(0.999),
            self.max_us(),
            // Empty when the 99th percentile query was never answered.
            self.quantile_with_losses_us(0.99).map_or(String::new(), |v| format!("{v:.1}")),
            s.rcodes[0],
            s.rcodes[3],
            s.rcodes[2],
            s.rcodes[5],
            other,
            s.truncated
        )
    }

    /// Append the CSV row to `path`, writing the header first if the file is new or empty.
    pub fn append_csv(&self, path: &Path) -> io::Result<()> {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        if f.metadata()?.len() == 0 {
            writeln!(f, "{}", Self::CSV_HEADER)?;
        }
        writeln!(f, "{}", self.csv_row())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::EncodeOptions;
    use crate::slots::Outstanding;

    fn answer(query: &[u8], id: u16, rcode: u8) -> Vec<u8> {
        let mut r = query.to_vec();
        r[..2].copy_from_slice(&id.to_be_bytes());
        r[2] |= 0x80;
        r[3] = rcode;
        r
    }

    #[test]
    fn responses_are_matched_and_judged() {
        let queries = QuerySet::parse("a.test A\nb.test A\n", EncodeOptions::default()).unwrap();
        let mut slots = SlotTable::new(8);
        let mut st = Stats::new();
        let id0 = slots.acquire(Outstanding { query: 0, sent_ns: 1_000, measured: true }).unwrap();
        let id1 = slots.acquire(Outstanding { query: 1, sent_ns: 1_000, measured: true }).unwrap();
        let warm = slots.acquire(Outstanding { query: 0, sent_ns: 0, measured: false }).unwrap();

        st.response(&answer(queries.query(0), id0, 3), &mut slots, &queries, 51_000, true);
        assert_eq!((st.completed, st.rcodes[3], st.errors()), (1, 1, 0));
        assert_eq!(st.latency.max(), st.latency.highest_equivalent(50_000));

        // Same ID again: no longer outstanding.
        st.response(&answer(queries.query(0), id0, 0), &mut slots, &queries, 60_000, true);
        assert_eq!((st.completed, st.unmatched), (1, 1));

        // Right ID, wrong question: an error, not a completion.
        st.response(&answer(queries.query(0), id1, 0), &mut slots, &queries, 60_000, true);
        assert_eq!((st.completed, st.question_mismatch), (1, 1));

        // A warm-up query's answer counts for nothing.
        st.response(&answer(queries.query(0), warm, 0), &mut slots, &queries, 60_000, true);
        assert_eq!((st.completed, st.errors()), (1, 2));
        st.response(&[1], &mut slots, &queries, 60_000, true);
        assert_eq!(st.malformed, 1);
    }

    #[test]
    fn losses_count_as_slower_than_every_answer() {
        let queries = QuerySet::parse("a.test A\n", EncodeOptions::default()).unwrap();
        let mut slots = SlotTable::new(256);
        let mut st = Stats::new();
        // 198 answers at 1..=198 us, 2 lost: p99 of 200 is the 198th value.
        for i in 1..=198u64 {
            st.query_sent(true, 30);
            let id = slots.acquire(Outstanding { query: 0, sent_ns: 0, measured: true }).unwrap();
            st.response(&answer(queries.query(0), id, 0), &mut slots, &queries, i * 1_000, true);
        }
        st.lost = 2;
        let r = Report {
            stats: &st,
            elapsed: Duration::from_secs(1),
            label: "",
            transport: "udp",
            rate: Some(200.0),
            clients: 1,
            outstanding: 256,
        };
        let p99 = r.quantile_with_losses_us(0.99).unwrap();
        assert!((197.0..=199.0).contains(&p99), "{p99}");
        assert!(r.quantile_us(0.99) < p99, "ignoring losses flatters the server");
        let (elapsed, rate) = (r.elapsed, r.rate);
        st.skipped = 1;
        let r = Report { stats: &st, elapsed, label: "", transport: "udp", rate, clients: 1, outstanding: 256 };
        assert_eq!(r.quantile_with_losses_us(0.99), None, "3 of 201 never answered");
        assert!(r.quantile_with_losses_us(0.5).is_some());
    }

    #[test]
    fn report_has_dnsperf_lines() {
        let queries = QuerySet::parse("a.test A\n", EncodeOptions::default()).unwrap();
        let mut slots = SlotTable::new(2);
        let mut st = Stats::new();
        for _ in 0..4 {
            st.query_sent(true, 30);
            let id = slots.acquire(Outstanding { query: 0, sent_ns: 0, measured: true }).unwrap();
            st.response(&answer(queries.query(0), id, 0), &mut slots, &queries, 100_000, true);
        }
        let mut other = Stats::new();
        other.query_sent(true, 30);
        other.query_lost(true);
        st.merge(&other);
        let r = Report {
            stats: &st,
            elapsed: Duration::from_secs(2),
            label: "x,y",
            transport: "udp",
            rate: None,
            clients: 1,
            outstanding: 2,
        };
        let text = r.text();
        assert!(text.contains("  Queries sent:         5\n"), "{text}");
        assert!(text.contains("  Queries completed:    4 (80.00%)\n"), "{text}");
        assert!(text.contains("  Queries lost:         1 (20.00%)\n"), "{text}");
        assert!(text.contains("  Queries per second:   2.000000\n"), "{text}");
        assert!(text.contains("  Response codes:       NOERROR 4 (100.00%)\n"), "{text}");
        assert!(text.contains("  Average Latency (s):  0.000100 (min 0.000100, max 0.000100)\n"), "{text}");
        // 1 of 5 lost: the median is an answer, the 90th percentile was never answered.
        assert!(text.contains("  Latency with losses:  p50 100.0  p90 lost  p99 lost"), "{text}");
        let row = r.csv_row();
        assert!(row.starts_with("x y,udp,closed,1,2,0,2.000,5,4,1,0,2.0,100.0,"), "{row}");
        assert_eq!(row.split(',').count(), Report::CSV_HEADER.split(',').count());
    }
}
