"""How long until a server answers for every zone of a list: each zone's SOA is asked
over UDP, a few hundred queries in flight at a time, and asked again until its answer
is what is waited for.

Usage: all_serving.py PORT ZONES_FILE serve|gone LIMIT [T0]
  serve: every zone answers its SOA (NOERROR, the SOA first);
  gone:  every zone is refused (REFUSED: no longer a zone of the server).
Prints the seconds from T0 (time.time(), default: now) until the last zone did, or
-1 (and how many were left) when LIMIT seconds passed first.
"""
import os, socket, struct, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnsmsg import soa_query, soa_serial

port, path, mode, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
t0 = float(sys.argv[5]) if len(sys.argv) > 5 else time.time()
zones = [z.strip().rstrip(".") for z in open(path) if z.strip()]
pending = set(range(len(zones)))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", port))
s.settimeout(0.05)
WINDOW = 256


def done(i, m):
    if mode == "serve":
        got = soa_serial(m)
        return got is not None
    return len(m) >= 4 and m[3] & 15 == 5


while pending and time.time() - t0 < limit:
    batch = list(pending)
    for start in range(0, len(batch), WINDOW):
        chunk = batch[start:start + WINDOW]
        try:
            for i in chunk:
                s.send(soa_query(zones[i], i & 0xFFFF))
        except OSError:
            # Nothing listens yet (an ICMP port unreachable came back): try again.
            time.sleep(0.02)
            continue
        waiting = {i & 0xFFFF: i for i in chunk}
        while waiting:
            try:
                m = s.recv(4096)
            except OSError:
                break
            if len(m) < 12:
                continue
            i = waiting.pop(struct.unpack(">H", m[:2])[0], None)
            if i is not None and done(i, m):
                pending.discard(i)
    if pending:
        time.sleep(0.02)
if pending:
    print(f"-1 ({len(pending)} of {len(zones)} left)")
else:
    print(f"{time.time() - t0:.3f}")
