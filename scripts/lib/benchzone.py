"""The zone and queries of the whole-server benchmarks (scripts/bench-peers.sh,
scripts/bench-ab.sh): bench.test. with NAMES names (A on each, AAAA on every 10th, TXT
on every 20th, MX on every 50th, a delegation with glue per 100 names, a wildcard), and
QUERIES queries in dnsperf's format: 70% A of existing names, 7% other existing types,
3% wildcard matches, 10% NXDOMAIN, 5% NODATA, 5% referrals. The same seed gives the same
files.

Usage: benchzone.py DIR NAMES QUERIES  (writes bench.test.zone, queries.txt, soa.txt)
"""
import random, sys
work, names, queries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(20240601)
delegations = max(1, names // 100)
z = ["$ORIGIN bench.test.", "$TTL 3600",
     "@ IN SOA ns1.bench.test. hostmaster.bench.test. 2024060101 3600 900 604800 300",
     "@ IN NS ns1.bench.test.", "@ IN NS ns2.bench.test.",
     "ns1 IN A 192.0.2.1", "ns1 IN AAAA 2001:db8::1", "ns2 IN A 192.0.2.2", "ns2 IN AAAA 2001:db8::2",
     "@ IN MX 10 mail.bench.test.", "mail IN A 192.0.2.25",
     "wild IN TXT \"a wildcard lives below\"", "*.wild IN A 192.0.2.99", "*.wild IN AAAA 2001:db8::99"]
has_aaaa = lambda i: i % 10 == 0
has_txt = lambda i: i % 20 == 1
has_mx = lambda i: i % 50 == 2
for i in range(names):
    h = f"h{i}"
    z.append(f"{h} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    if has_aaaa(i):
        z.append(f"{h} IN AAAA 2001:db8:1::{i >> 16:x}:{i & 0xffff:x}")
    if has_txt(i):
        z.append(f"{h} IN TXT \"v=spf1 ip4:10.0.0.0/8 -all\" \"host {i}\"")
    if has_mx(i):
        z.append(f"{h} IN MX 10 h{(i + 1) % names}.bench.test.")
for j in range(delegations):
    d = f"d{j}"
    z += [f"{d} IN NS ns1.{d}.bench.test.", f"{d} IN NS ns2.{d}.bench.test.",
          f"ns1.{d} IN A 198.51.100.{j % 250 + 1}", f"ns2.{d} IN A 203.0.113.{j % 250 + 1}"]
with open(f"{work}/bench.test.zone", "w") as f:
    f.write("\n".join(z) + "\n")

q = []
for _ in range(queries):
    r = rnd.random()
    i = rnd.randrange(names)
    if r < 0.70:                      # existing name, A
        q.append(f"h{i}.bench.test A")
    elif r < 0.74:                    # existing AAAA
        q.append(f"h{i - i % 10}.bench.test AAAA")
    elif r < 0.76:                    # existing TXT / MX
        t = i - i % 20 + 1
        q.append(f"h{t if t < names else 1}.bench.test TXT")
    elif r < 0.77:
        m = i - i % 50 + 2
        q.append(f"h{m if m < names else 2}.bench.test MX")
    elif r < 0.80:                    # wildcard match
        q.append(f"x{i}.wild.bench.test A")
    elif r < 0.90:                    # NXDOMAIN
        q.append(f"n{i}.bench.test A")
    elif r < 0.95:                    # NODATA: the name exists, the type does not
        n = i if not has_aaaa(i) else (i + 1) % names
        q.append(f"h{n}.bench.test AAAA")
    else:                             # referral below a delegation
        q.append(f"www.d{rnd.randrange(delegations)}.bench.test A")
with open(f"{work}/queries.txt", "w") as f:
    f.write("\n".join(q) + "\n")
with open(f"{work}/soa.txt", "w") as f:
    f.write("bench.test SOA\n")
