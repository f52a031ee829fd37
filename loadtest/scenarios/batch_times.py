#!/usr/bin/env python3
"""Shoal's own view of a scenario: its UDP worker's batch times, phase by phase.

Usage: batch_times.py LABEL=metrics-file [LABEL=metrics-file ...]

Each file is a scrape of Shoal's /metrics (shoal_udp_batch_seconds, a histogram of the
time a worker took to answer and send one batch, summed over workers), followed by two
comment lines the scenario adds: `# time UNIX-SECONDS` and `# cpu0 ...` (CPU 0's line
from /proc/stat). For the phase between each scrape and the next, prints its length,
the batches counted and their mean time, how many took more than 256 µs and more than
1 ms (and those per second), the bucket of the slowest, and CPU 0's steal time (the
hypervisor running something else on the worker's core) and interrupt time. A
client-side latency excursion with no slow batch in its phase did not happen in the
worker.
"""
import re
import sys

SAMPLE = re.compile(r'^shoal_udp_batch_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)$')
INF = float("inf")


def read(path):
    """Cumulative bucket counts by bound (seconds, inf last), their sum, time, CPU 0."""
    buckets, total, when, cpu0 = {}, 0.0, None, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("# time "):
                when = float(line.split()[2])
            elif line.startswith("# cpu0 "):
                cpu0 = [int(v) for v in line.split()[2:]]
            m = SAMPLE.match(line)
            if not m:
                continue
            kind, labels, value = m.groups()
            if kind == "bucket":
                le = re.search(r'le="([^"]+)"', labels).group(1)
                bound = INF if le == "+Inf" else float(le)
                buckets[bound] = buckets.get(bound, 0) + int(float(value))
            elif kind == "sum":
                total += float(value)
    if not buckets or when is None or cpu0 is None:
        sys.exit(f"{path}: no shoal_udp_batch_seconds samples, or no time and cpu0 lines")
    return buckets, total, when, cpu0


def main():
    scrapes = [(arg.split("=", 1)[0], read(arg.split("=", 1)[1])) for arg in sys.argv[1:]]
    print("Shoal's UDP worker, batch time per phase (answer + send, from /metrics), and CPU 0:")
    print(f"{'phase':<18} {'s':>5} {'batches':>8} {'mean µs':>7} {'>256µs':>6} {'>1ms':>5} {'>1ms/s':>6}"
          f"  {'slowest':<11} {'steal ms':>8} {'irq ms':>6}")
    for (_, (b0, s0, t0, c0)), (label, (b1, s1, t1, c1)) in zip(scrapes, scrapes[1:]):
        bounds = sorted(b1)
        count = b1[INF] - b0.get(INF, 0)
        per, prev = {}, 0
        for b in bounds:
            cum = b1[b] - b0.get(b, 0)
            per[b], prev = cum - prev, cum
        above = lambda limit: sum(n for b, n in per.items() if b > limit)
        slowest = max((b for b, n in per.items() if n > 0), default=None)
        if slowest is None:
            worst = "-"
        elif slowest == INF:
            worst = f">{bounds[-2] * 1e3:g} ms"
        else:
            worst = f"<={slowest * 1e6:g} µs"
        secs = max(t1 - t0, 1e-9)
        mean = (s1 - s0) / count * 1e6 if count else 0.0
        # /proc/stat cpu fields: user nice system idle iowait irq softirq steal (1/100 s).
        steal = (c1[7] - c0[7]) * 10
        irq = (c1[5] + c1[6] - c0[5] - c0[6]) * 10
        print(f"{label:<18} {secs:>5.1f} {count:>8} {mean:>7.1f} {above(256e-6):>6} {above(1024e-6):>5}"
              f" {above(1024e-6) / secs:>6.2f}  {worst:<11} {steal:>8} {irq:>6}")


if __name__ == "__main__":
    main()
