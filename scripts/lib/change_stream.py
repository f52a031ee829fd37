#!/usr/bin/env python3
"""A stream of zone changes on a Knot primary, and the time until a secondary serves each.

Usage: change_stream.py KNOT_SOCKET ZONES_DIR ZONES RATE SECONDS PORT OUT_CSV

Zones are z0.test. .. z{ZONES-1}.test., each in ZONES_DIR/zN.test.zone at serial 1 (as
written by `write_zone` here). Every 100 ms the next RATE/10 zones of a shuffled order
(no zone changes twice in a run of fewer than ZONES changes) get a new serial and a new
www address in their file, and one `knotc zone-reload` loads them all (Knot computes the
difference, keeps it in its journal, and NOTIFYs the secondary). A change's time starts
just before that knotc call.

The secondary on 127.0.0.1 PORT is asked for each changed zone's SOA every 5 ms (less
often while many changes are pending, to stay under about 3,000 queries a second and
leave the CPU to the servers: every 33 ms with 100 pending), until it answers with the
new serial: that is when the change is served (to within the polling interval). Changes not served 10 s after the
last one count as missed. Writes `zone,changed_at,seconds` rows (seconds -1 if missed)
and prints one summary line: changes, served, missed, p50, p99, max (ms).
"""
import heapq
import random
import select
import socket
import subprocess
import sys
import time

from dnsmsg import soa_query, soa_serial


def write_zone(path, zone, serial):
    with open(path, "w") as f:
        f.write(
            f"$ORIGIN {zone}.\n$TTL 3600\n@ SOA ns1 hostmaster {serial} 3600 900 604800 300\n"
            f"@ NS ns1\nns1 A 192.0.2.1\nwww A 198.51.100.{serial % 250 + 1}\n"
        )


def read_serial(path):
    """The serial of a zone file written by `write_zone`."""
    with open(path) as f:
        for line in f:
            if " SOA " in line:
                return int(line.split()[4])
    raise ValueError(f"no SOA in {path}")


def main():
    sock_path, zdir, zones, rate, seconds, port, out = sys.argv[1:8]
    zones, rate, seconds, port = int(zones), int(rate), float(seconds), int(port)
    order = list(range(zones))
    random.Random(7).shuffle(order)
    per_tick = max(1, rate // 10)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    pending = {}  # zone -> (serial, changed_at)
    polls = []  # heap of (when, zone): the next SOA query of each pending zone
    done = []  # (zone, changed_at, seconds)
    serial_of = {}  # zone -> the serial its last change brought
    start = time.monotonic()
    next_tick, k, qid = start, 0, 0
    last_change = None
    while True:
        now = time.monotonic()
        if now - start < seconds and now >= next_tick:
            batch = [f"z{order[(k + i) % zones]}.test" for i in range(per_tick)]
            k += per_tick
            for z in batch:
                serial_of[z] = read_serial(f"{zdir}/{z}.zone") + 1
                write_zone(f"{zdir}/{z}.zone", z, serial_of[z])
            t0 = time.monotonic()
            subprocess.run(["knotc", "-s", sock_path, "zone-reload", *batch], check=True, stdout=subprocess.DEVNULL)
            for z in batch:
                pending[z] = (serial_of[z], t0)
                heapq.heappush(polls, (t0 + 0.005, z))
            last_change = t0
            next_tick += 0.1
        elif now - start >= seconds and (not pending or now - last_change > 10):
            break
        now = time.monotonic()
        while polls and polls[0][0] <= now:
            _, z = heapq.heappop(polls)
            if z not in pending:
                continue
            qid = (qid + 1) & 0xFFFF
            try:
                s.sendto(soa_query(z, qid), ("127.0.0.1", port))
            except BlockingIOError:
                pass
            # Every 5 ms, or less often while many changes are pending, so that polling
            # stays under about 3,000 queries a second.
            later = max(0.005, len(pending) / 3000)
            heapq.heappush(polls, (now + later, z))
        wait = min(polls[0][0] if polls else next_tick, next_tick) - time.monotonic()
        readable, _, _ = select.select([s], [], [], max(0.0, min(wait, 0.05)))
        while readable:
            try:
                m = s.recv(4096)
            except BlockingIOError:
                break
            got = soa_serial(m)
            if got and got[0] in pending and got[1] >= pending[got[0]][0]:
                p = pending.pop(got[0])
                done.append((got[0], p[1] - start, time.monotonic() - p[1]))
    with open(out, "w") as f:
        f.write("zone,changed_at,seconds\n")
        for z, at, secs in done:
            f.write(f"{z},{at:.4f},{secs:.4f}\n")
        for z, p in pending.items():
            f.write(f"{z},{p[1] - start:.4f},-1\n")
    lat = sorted(d[2] * 1000 for d in done)
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")
    print(f"{len(done) + len(pending)},{len(done)},{len(pending)},{q(0.5):.1f},{q(0.99):.1f},{lat[-1] if lat else float('nan'):.1f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        # --write DIR N: the zones at serial 1.
        for i in range(int(sys.argv[3])):
            write_zone(f"{sys.argv[2]}/z{i}.test.zone", f"z{i}.test", 1)
    else:
        main()
