"""Plot a shoal-loadtest timeline (answers/s and p99 per window) with the intervals of
events (transfers), as an SVG, and judge it against the windows before the first event.

Usage: plot.py TIMELINE.csv EVENTS.txt OUT.svg TITLE

EVENTS.txt: one "label start_s end_s" per line. The baseline is the median answers/s
and median p99 of the windows from 1 s to the first event. A window is flagged when
its rate is below 90% of the baseline or its p99 above twice the baseline's; the
summary counts flagged windows during events (from start to end + 1 s) and outside.
"""
import csv
import statistics
import sys

timeline, events_path, out, title = sys.argv[1:5]
rows = [(float(r["t_s"]), float(r["qps"]), float(r["p99_us"])) for r in csv.DictReader(open(timeline))]
events = [(l.split()[0], float(l.split()[1]), float(l.split()[2])) for l in open(events_path) if l.strip()]
if not rows:
    sys.exit("empty timeline")
width = rows[1][0] - rows[0][0] if len(rows) > 1 else 0.1
first = min((s for _, s, _ in events), default=rows[-1][0])
base = [r for r in rows if 1.0 <= r[0] and r[0] + width <= first] or rows
base_qps = statistics.median(r[1] for r in base)
base_p99 = statistics.median(r[2] for r in base)
# The last window may be cut short by the end of sending.
judged = rows[:-1]


def during(t):
    return next((label for label, s, e in events if s <= t + width and t <= e + 1.0), None)


flagged = [(t, q, p, during(t)) for t, q, p in judged if q < 0.9 * base_qps or p > 2 * base_p99]
print(f"{title}")
print(f"baseline (windows of {width * 1000:.0f} ms from 1 s to {first:.1f} s): {base_qps:.0f} answers/s, p99 {base_p99:.0f} us")
for label, s, e in events:
    inside = [r for r in judged if s <= r[0] + width and r[0] <= e + 1.0]
    if inside:
        print(f"during {label} ({s:.1f}-{e:.1f} s): min {min(r[1] for r in inside):.0f} answers/s "
              f"({min(r[1] for r in inside) / base_qps:.1%} of baseline), max p99 {max(r[2] for r in inside):.0f} us "
              f"({max(r[2] for r in inside) / base_p99:.1f}x baseline), {len(inside)} windows")
by_event = {}
for t, q, p, ev in flagged:
    by_event.setdefault(ev or "no transfer", []).append((t, q, p))
print(f"windows below 90% of the baseline rate or above 2x its p99: {len(flagged)} of {len(judged)}")
for ev, ws in by_event.items():
    shown = ", ".join(f"{t:.1f}s ({q:.0f}/s, p99 {p:.0f}us)" for t, q, p in ws[:8])
    print(f"  {ev}: {len(ws)}: {shown}{' ...' if len(ws) > 8 else ''}")

# --- SVG ---------------------------------------------------------------------------------
W, H, left, right, top, gap, panel = 1000, 560, 70, 20, 40, 50, 210
t_max = rows[-1][0] + width
x = lambda t: left + (W - left - right) * t / t_max
q_max = max(max(r[1] for r in rows), base_qps) * 1.1 or 1
p_max = max(max(r[2] for r in rows), 2 * base_p99) * 1.1 or 1
y_q = lambda v: top + panel * (1 - v / q_max)
y_p = lambda v: top + panel + gap + panel * (1 - v / p_max)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{left}" y="20" font-size="14">{title}</text>']
colors = {"axfr": "#fde0c5", "ixfr": "#d5e8f8"}
for label, s, e in events:
    for y0 in (top, top + panel + gap):
        svg.append(f'<rect x="{x(s):.1f}" y="{y0}" width="{max(x(e) - x(s), 1):.1f}" height="{panel}" '
                   f'fill="{colors.get(label, "#eeeeee")}"/>')
    svg.append(f'<text x="{x(s) + 3:.1f}" y="{top + 14}">{label}</text>')
for y0, name, vmax in ((top, "answers/s", q_max), (top + panel + gap, "p99 latency (us)", p_max)):
    svg.append(f'<rect x="{left}" y="{y0}" width="{W - left - right}" height="{panel}" fill="none" stroke="#888"/>')
    svg.append(f'<text x="5" y="{y0 + 12}">{name}</text>')
    for k in range(5):
        v = vmax * k / 4
        yy = y0 + panel * (1 - k / 4)
        svg.append(f'<text x="{left - 5}" y="{yy + 4:.1f}" text-anchor="end" fill="#555">{v:.0f}</text>')
for k in range(0, int(t_max) + 1, 10):
    svg.append(f'<text x="{x(k):.1f}" y="{H - 10}" text-anchor="middle" fill="#555">{k}s</text>')
svg.append(f'<line x1="{left}" x2="{W - right}" y1="{y_q(0.9 * base_qps):.1f}" y2="{y_q(0.9 * base_qps):.1f}" '
           f'stroke="#c00" stroke-dasharray="4 3"/>')
svg.append(f'<line x1="{left}" x2="{W - right}" y1="{y_p(2 * base_p99):.1f}" y2="{y_p(2 * base_p99):.1f}" '
           f'stroke="#c00" stroke-dasharray="4 3"/>')
svg.append('<polyline fill="none" stroke="#1f5fa8" stroke-width="1.2" points="'
           + " ".join(f"{x(t + width / 2):.1f},{y_q(q):.1f}" for t, q, _ in rows) + '"/>')
svg.append('<polyline fill="none" stroke="#a83a1f" stroke-width="1.2" points="'
           + " ".join(f"{x(t + width / 2):.1f},{y_p(p):.1f}" for t, _, p in rows) + '"/>')
svg.append(f'<text x="{W - right - 5}" y="{top + panel - 6}" text-anchor="end" fill="#c00">90% of baseline</text>')
svg.append(f'<text x="{W - right - 5}" y="{top + panel + gap + 14}" text-anchor="end" fill="#c00">2x baseline p99</text>')
svg.append("</svg>")
open(out, "w").write("\n".join(svg))
print(f"plot: {out}")
