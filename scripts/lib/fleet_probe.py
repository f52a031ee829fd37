#!/usr/bin/env python3
"""The measuring side of scripts/fleet.sh: it changes zones on the Knot primary and asks
the fleet's members (and dnsdist in front of them) what they serve. It runs inside the
fleet's control namespace and sends only to the addresses it is given (the fleet's
198.18.0.0/15 hosts); every loop has a time limit.

Usage (times are Unix times, float, from time.time()):
  fleet_probe.py write-zone DIR ZONE SERIAL         the fleet zone's file, short timers
  fleet_probe.py change KNOT_SOCK DIR LIMIT ZONES MEMBERS
      ZONES: a comma list, or zN:M (z0.test .. z{M-1}.test); MEMBERS: comma list of
      ADDR (port 53). Each zone's file gets the next serial, one `knotc zone-reload`
      loads them all, and every member is polled for every zone until it serves the
      new serial or a newer one (RFC 1982). Prints `all,MEMBER1,...` seconds from just
      before the knotc call (-1 for a member that missed any zone within LIMIT s).
  fleet_probe.py serving LIMIT ZONES SERIAL MEMBERS  seconds until every member serves
      each of ZONES (as for change) at SERIAL or newer (-1 past LIMIT)
  fleet_probe.py load SERVER QNAME RATE STOPFILE LIMIT OUT_CSV
      queries through SERVER (dnsdist) at RATE/s until STOPFILE exists (or LIMIT s);
      a query counts as failed without a NOERROR answer within 1 s. Writes
      `sent,ok,ms` rows.
  fleet_probe.py failures OUT_CSV FROM TO           `failed,total` of queries sent in
      [FROM, TO)
  fleet_probe.py lb-state API_URL                   `name=up|down ...` from dnsdist's API
  fleet_probe.py wait-lb API_URL NAME STATE LIMIT T0  seconds from T0 until dnsdist
      says NAME is STATE (up/down; polled every 50 ms; -1 past LIMIT)
  fleet_probe.py expiry T0 LIMIT API_URL ZONE MEMBERS  scenario 4: every 250 ms, each
      member's answer for ZONE's SOA (NOERROR/SERVFAIL), GET /ready on port 9153 and
      dnsdist's view, until every member is out on all three (or LIMIT s). Prints
      `member,servfail_after,ready_503_after,lb_down_after` rows (seconds from T0).
  fleet_probe.py recovery T0 LIMIT API_URL ZONE MEMBERS  the reverse: seconds until
      each member answers NOERROR, /ready is 200 and dnsdist has it up again.
  fleet_probe.py metric ADDR NAME [LABEL=VALUE...]  the sum of a metric family's
      samples matching the labels on http://ADDR:9153/metrics (0 when absent)
  fleet_probe.py stats SECONDS...                   `p50 max` of the values, in ms (nan
      for none; any -1 makes max -1)
"""
import heapq
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from change_stream import read_serial, write_zone  # noqa: E402
from dnsmsg import soa_query, soa_serial  # noqa: E402

FLEET_ZONE = "fleet.test"


def write_fleet_zone(path, zone, serial):
    """The fleet zone: SOA refresh 10 s, retry 2 s, expire 20 s (scenario 4 waits for
    the expiry), negative TTL 60 s; 40 hosts that do not change, so that a change (SOA,
    www's A and TXT) is a small part of the zone and a secondary keeps it for IXFR out."""
    hosts = "".join(f"h{i} A 198.19.255.{i + 1}\n" for i in range(40))
    with open(path, "w") as f:
        f.write(
            f"$ORIGIN {zone}.\n$TTL 60\n@ SOA ns1 hostmaster {serial} 10 2 20 60\n"
            f"@ NS ns1\nns1 A 198.18.0.10\nwww A 198.19.{serial // 250 % 250}.{serial % 250 + 1}\n"
            f'www TXT "serial {serial}"\n{hosts}'
        )


def zone_list(spec):
    if spec.startswith("zN:"):
        return [f"z{i}.test" for i in range(int(spec[3:]))]
    return [z for z in spec.split(",") if z]


def newer_or_same(got, want):
    """RFC 1982: `got` is `want` or after it."""
    return (got - want) % (1 << 32) < (1 << 31)


def rcode(m):
    return m[3] & 15 if len(m) >= 4 else None


class Poller:
    """Asks each member for the SOA of each pending zone until it serves at least the
    wanted serial. One connected UDP socket per member, so an answer is attributed to
    the member that sent it; at most 300 queries in flight per member, an unanswered one
    asked again after 200 ms; about 6,000 queries a second in all at most."""

    def __init__(self, members):
        self.members = members
        self.socks = {}
        for m in members:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.connect((m, 53))
            s.setblocking(False)
            self.socks[m] = s

    def run(self, wants, t0, limit):
        """wants: {zone: serial}. Returns {(member, zone): seconds since t0}."""
        pending = {(m, z): s for m in self.members for z, s in wants.items()}
        done = {}
        polls = [(0.0, m, z) for (m, z) in pending]
        heapq.heapify(polls)
        asked = {m: {} for m in self.members}  # member -> {qid: zone}
        qid = 0
        by_sock = {s.fileno(): m for m, s in self.socks.items()}
        while pending and time.time() - t0 < limit:
            now = time.time()
            while polls and polls[0][0] <= now:
                _, m, z = heapq.heappop(polls)
                if (m, z) not in pending:
                    continue
                if len(asked[m]) >= 300:
                    heapq.heappush(polls, (now + 0.01, m, z))
                    break
                qid = (qid + 1) & 0xFFFF
                asked[m][qid] = z
                try:
                    self.socks[m].send(soa_query(z, qid))
                except OSError:
                    pass
                heapq.heappush(polls, (now + max(0.002, len(pending) / 6000, 0.2 if len(pending) > 30 else 0), m, z))
            wait = max(0.0, min(0.02, (polls[0][0] if polls else now + 0.02) - time.time()))
            readable, _, _ = select.select(list(self.socks.values()), [], [], wait)
            for s in readable:
                m = by_sock[s.fileno()]
                while True:
                    try:
                        msg = s.recv(4096)
                    except OSError:
                        break
                    if len(msg) < 2:
                        continue
                    z = asked[m].pop(struct.unpack(">H", msg[:2])[0], None)
                    got = soa_serial(msg)
                    if z and got and (m, z) in pending and newer_or_same(got[1], pending[(m, z)]):
                        del pending[(m, z)]
                        done[(m, z)] = time.time() - t0
            if len(asked) and any(len(a) > 250 for a in asked.values()):
                # Answers lost (or never coming): forget the oldest so polling goes on.
                for m in self.members:
                    if len(asked[m]) > 250:
                        for k in list(asked[m])[:100]:
                            del asked[m][k]
        return done


def change(knot_sock, zdir, limit, zones, members):
    wants = {}
    for z in zones:
        path = f"{zdir}/{z}.zone"
        serial = (read_serial(path) + 1) % (1 << 32)
        (write_fleet_zone if z == FLEET_ZONE else write_zone)(path, z, serial)
        wants[z] = serial
    poller = Poller(members)
    t0 = time.time()
    subprocess.run(["knotc", "-s", knot_sock, "zone-reload", *zones], check=True, stdout=subprocess.DEVNULL)
    done = poller.run(wants, t0, limit)
    per = []
    for m in members:
        times = [done.get((m, z), -1) for z in zones]
        per.append(-1 if min(times) < 0 else max(times))
    print(",".join(f"{v:.3f}" for v in [(-1 if min(per) < 0 else max(per))] + per))


def serving(limit, zones, serial, members):
    t0 = time.time()
    done = Poller(members).run({z: serial for z in zones}, t0, limit)
    print(f"{max(done.values()):.3f}" if len(done) == len(members) * len(zones) else "-1")


def stats(values):
    v = sorted(float(x) for x in values)
    if not v:
        print("nan nan")
    elif v[0] < 0:
        print(f"{v[len(v) // 2] * 1000:.0f} -1")
    else:
        print(f"{v[(len(v) - 1) // 2] * 1000:.0f} {v[-1] * 1000:.0f}")


def a_query(name, qid):
    q = soa_query(name, qid)
    return q[:-4] + b"\x00\x01\x00\x01"


def load(server, qname, rate, stopfile, limit, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((server, 53))
    s.setblocking(False)
    start = time.time()
    sent = {}  # qid -> send time
    rows = []
    qid, n = 0, 0
    while time.time() - start < limit and not os.path.exists(stopfile):
        now = time.time()
        if now >= start + n / rate:
            qid = (qid + 1) & 0xFFFF
            if qid in sent:
                rows.append((sent.pop(qid), 0, -1))
            sent[qid] = now
            try:
                s.send(a_query(qname, qid))
            except OSError:
                pass
            n += 1
        for k in [k for k, t in sent.items() if now - t > 1.0]:
            rows.append((sent.pop(k), 0, -1))
        readable, _, _ = select.select([s], [], [], max(0.0, start + n / rate - time.time()))
        if readable:
            try:
                m = s.recv(4096)
            except OSError:
                continue
            k = struct.unpack(">H", m[:2])[0] if len(m) >= 12 else None
            if k in sent:
                t = sent.pop(k)
                ok = rcode(m) == 0 and struct.unpack(">H", m[6:8])[0] > 0
                rows.append((t, int(ok), (time.time() - t) * 1000 if ok else -1))
    deadline = time.time() + 1.0
    while sent and time.time() < deadline:
        readable, _, _ = select.select([s], [], [], 0.05)
        if readable:
            m = s.recv(4096)
            k = struct.unpack(">H", m[:2])[0]
            if k in sent:
                t = sent.pop(k)
                ok = rcode(m) == 0 and time.time() - t <= 1.0
                rows.append((t, int(ok), (time.time() - t) * 1000 if ok else -1))
    rows.extend((t, 0, -1) for t in sent.values())
    rows.sort()
    with open(out, "w") as f:
        f.write("sent,ok,ms\n")
        for t, ok, ms in rows:
            f.write(f"{t:.4f},{ok},{ms:.2f}\n")


def failures(csv_path, t_from, t_to):
    failed = total = 0
    with open(csv_path) as f:
        next(f)
        for line in f:
            t, ok, _ = line.split(",")
            if t_from <= float(t) < t_to:
                total += 1
                failed += ok == "0"
    print(f"{failed},{total}")


def lb_states(api):
    """{server name: 'up'|'down'} from dnsdist's API, {} if it does not answer."""
    req = urllib.request.Request(api, headers={"X-API-Key": "fleet"})
    try:
        with urllib.request.urlopen(req, timeout=1) as r:
            data = json.load(r)
    except (OSError, ValueError):
        return {}
    return {s["name"]: ("up" if s["state"].lower() == "up" else "down") for s in data.get("servers", [])}


def wait_lb(api, name, state, limit, t0):
    while time.time() - t0 < limit:
        if lb_states(api).get(name) == state:
            print(f"{time.time() - t0:.3f}")
            return
        time.sleep(0.05)
    print("-1")


def soa_rcode(member, zone):
    """The RCODE of the member's answer to ZONE's SOA, None without one within 0.5 s."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        s.sendto(soa_query(zone, 0x4242), (member, 53))
        return rcode(s.recv(4096))
    except OSError:
        return None
    finally:
        s.close()


def ready_status(member):
    try:
        with urllib.request.urlopen(f"http://{member}:9153/ready", timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def watch(t0, limit, api, zone, members, out):
    """`out` True: wait for SERVFAIL, 503, down; False: NOERROR, 200, up."""
    names = {m: f"s{i + 1}" for i, m in enumerate(members)}
    first = {m: [-1.0, -1.0, -1.0] for m in members}
    while time.time() - t0 < limit:
        lb = lb_states(api)
        now = time.time() - t0
        for m in members:
            seen = [
                soa_rcode(m, zone) == (2 if out else 0),
                ready_status(m) == (503 if out else 200),
                lb.get(names[m]) == ("down" if out else "up"),
            ]
            for i, yes in enumerate(seen):
                if yes and first[m][i] < 0:
                    first[m][i] = now
        if all(v >= 0 for f in first.values() for v in f):
            break
        time.sleep(0.25)
    for m in members:
        print(f"{m}," + ",".join(f"{v:.1f}" for v in first[m]))


def metric(addr, name, labels):
    try:
        with urllib.request.urlopen(f"http://{addr}:9153/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        print("-1")
        return
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        base = series.split("{", 1)[0]
        if base != name:
            continue
        if all(f'{k}="{v}"' in series for k, v in (lv.split("=", 1) for lv in labels)):
            total += float(value)
    print(f"{total:g}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "write-zone":
        write_fleet_zone(f"{args[0]}/{args[1]}.zone", args[1], int(args[2]))
    elif cmd == "change":
        change(args[0], args[1], float(args[2]), zone_list(args[3]), args[4].split(","))
    elif cmd == "serving":
        serving(float(args[0]), zone_list(args[1]), int(args[2]), args[3].split(","))
    elif cmd == "stats":
        stats(args)
    elif cmd == "load":
        load(args[0], args[1], float(args[2]), args[3], float(args[4]), args[5])
    elif cmd == "failures":
        failures(args[0], float(args[1]), float(args[2]))
    elif cmd == "lb-state":
        print(" ".join(f"{k}={v}" for k, v in sorted(lb_states(args[0]).items())))
    elif cmd == "wait-lb":
        wait_lb(args[0], args[1], args[2], float(args[3]), float(args[4]))
    elif cmd in ("expiry", "recovery"):
        watch(float(args[0]), float(args[1]), args[2], args[3], args[4].split(","), cmd == "expiry")
    elif cmd == "metric":
        metric(args[0], args[1], args[2:])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
