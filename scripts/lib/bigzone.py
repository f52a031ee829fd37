"""The big zone of the zone benchmarks: big.test. with about RECORDS records (mostly
A/AAAA/TXT), in three versions: v1.zone, v2.zone (1% of the records changed) and
v3.zone (every record changed), plus tiny.zone (SOA, NS, one A) and `count` (the
records of v1).

Usage: bigzone.py DIR RECORDS
"""
import sys
work, records = sys.argv[1], int(sys.argv[2])
names = int(records / (1 + 1 / 3 + 1 / 5))
def version(serial, changed):
    out = [f"$ORIGIN big.test.\n$TTL 3600\n@ SOA ns1 hostmaster {serial} 3600 900 604800 300\n@ NS ns1\nns1 A 192.0.2.1\n"]
    for i in range(names):
        c = changed(i)
        a = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" if not c else f"172.{16 + (i >> 16 & 15)}.{i >> 8 & 255}.{i & 255}"
        out.append(f"h{i} A {a}\n")
        if i % 3 == 0:
            out.append(f"h{i} AAAA 2001:db8:{'1' if not c else '2'}::{i >> 16:x}:{i & 0xffff:x}\n")
        if i % 5 == 0:
            out.append(f"h{i} TXT \"v=spf1 ip4:{a} -all\"\n")
    return "".join(out)
open(f"{work}/v1.zone", "w").write(version(1, lambda i: False))
open(f"{work}/v2.zone", "w").write(version(2, lambda i: i % 100 == 0))
open(f"{work}/v3.zone", "w").write(version(3, lambda i: True))
open(f"{work}/tiny.zone", "w").write("$ORIGIN big.test.\n@ 3600 SOA ns1 hostmaster 1 3600 900 604800 300\n@ 3600 NS ns1\nns1 3600 A 192.0.2.1\n")
print(sum(1 for l in open(f"{work}/v1.zone") if not l.startswith("$") and " SOA " not in l) + 1, file=open(f"{work}/count", "w"))
