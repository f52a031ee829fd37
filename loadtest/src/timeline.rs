//! [`Timeline`]: answers and their latency in fixed windows of time (100 ms by default),
//! to see what a server does *while* something happens to it (a zone transfer, a
//! reload), which whole-run figures average away.
//!
//! Each sending thread keeps its own timeline; they are merged at the end like
//! [`crate::stats::Stats`]. A window counts the valid answers that arrived in it and
//! their latencies (an HDR histogram at two significant digits, microseconds). Written
//! as CSV: window start (s), answers, answers per second, p50, p99 and max latency (µs).

use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// Latencies above this (a minute, in µs) are recorded as this.
const MAX_US: u64 = 60_000_000;

struct Window {
    answers: u64,
    latency: Histogram<u64>,
}

impl Window {
    fn new() -> Window {
        Window { answers: 0, latency: Histogram::new_with_bounds(1, MAX_US, 2).expect("valid histogram bounds") }
    }
}

pub struct Timeline {
    /// Clock nanoseconds where window 0 starts.
    origin_ns: u64,
    window_ns: u64,
    windows: Vec<Window>,
}

impl Timeline {
    pub fn new(origin_ns: u64, window_ns: u64) -> Timeline {
        Timeline { origin_ns, window_ns: window_ns.max(1), windows: Vec::new() }
    }

    /// An answer that arrived at `now_ns` after `latency_ns`. Answers before the origin
    /// (the warm-up) are not counted.
    #[inline]
    pub fn answer(&mut self, now_ns: u64, latency_ns: u64) {
        let Some(since) = now_ns.checked_sub(self.origin_ns) else { return };
        let i = (since / self.window_ns) as usize;
        if i >= self.windows.len() {
            self.windows.resize_with(i + 1, Window::new);
        }
        let w = &mut self.windows[i];
        w.answers += 1;
        w.latency.saturating_record((latency_ns / 1000).clamp(1, MAX_US));
    }

    /// An empty timeline with the same origin and windows.
    pub fn empty_like(&self) -> Timeline {
        Timeline::new(self.origin_ns, self.window_ns)
    }

    pub fn merge(&mut self, other: &Timeline) {
        if other.windows.len() > self.windows.len() {
            self.windows.resize_with(other.windows.len(), Window::new);
        }
        for (a, b) in self.windows.iter_mut().zip(&other.windows) {
            a.answers += b.answers;
            a.latency.add(&b.latency).expect("same histogram bounds");
        }
    }

    /// The CSV text: a header, then one row per window up to `windows` (empty windows
    /// included: a server that stopped answering shows as zeros).
    pub fn csv(&self, windows: usize) -> String {
        let mut out = String::from("t_s,answers,qps,p50_us,p99_us,max_us\n");
        let secs = self.window_ns as f64 / 1e9;
        let empty = Window::new();
        for i in 0..windows.max(self.windows.len()) {
            let w = self.windows.get(i).unwrap_or(&empty);
            let q = |p: f64| if w.answers == 0 { 0 } else { w.latency.value_at_quantile(p) };
            let _ = writeln!(
                out,
                "{:.3},{},{:.0},{},{},{}",
                i as f64 * secs,
                w.answers,
                w.answers as f64 / secs,
                q(0.5),
                q(0.99),
                if w.answers == 0 { 0 } else { w.latency.max() }
            );
        }
        out
    }

    pub fn write_csv(&self, path: &Path, windows: usize) -> io::Result<()> {
        std::fs::write(path, self.csv(windows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_count_answers_and_latency_where_they_arrive() {
        let ms = 1_000_000;
        let mut a = Timeline::new(1000 * ms, 100 * ms);
        a.answer(999 * ms, ms); // warm-up: not counted
        for i in 0..10 {
            a.answer(1000 * ms + i * ms, 200_000); // window 0: 10 answers at 200 µs
        }
        let mut b = Timeline::new(1000 * ms, 100 * ms);
        b.answer(1250 * ms, 50 * ms); // window 2: one slow answer
        a.merge(&b);
        let csv = a.csv(4);
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "t_s,answers,qps,p50_us,p99_us,max_us");
        assert!(rows[1].starts_with("0.000,10,100,200,200,"), "{}", rows[1]);
        assert_eq!(rows[2], "0.100,0,0,0,0,0", "an empty window shows as zeros");
        assert!(rows[3].starts_with("0.200,1,10,50"), "{}", rows[3]);
        assert_eq!(rows.len(), 5, "header and the 4 windows asked for");
    }
}
