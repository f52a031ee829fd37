"""When each of several servers first answers the SOA of bench.test. with a serial:
one process asks them all in turn, every millisecond, for at most 60 s.

Usage: first_serving.py T0 SERIAL NAME:PORT...   (T0: time.time() of the change)
Prints NAME,SECONDS for each (SECONDS since T0, -1 if never), in the order given. With
T0 `-` it starts polling at once and prints the time of day of each (started before
the change, so that its own start-up is not counted).
"""
import os, socket, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnsmsg import soa_query, soa_serial
absolute = sys.argv[1] == "-"
t0, serial = (time.time() if absolute else float(sys.argv[1])), int(sys.argv[2])
servers = [(a.split(":")[0], int(a.split(":")[1])) for a in sys.argv[3:]]
q = soa_query("bench.test", 0x1234)
# One connected socket per server: a late answer is never taken for another's.
socks = {}
for name, port in servers:
    socks[name] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    socks[name].settimeout(0.005)
    socks[name].connect(("127.0.0.1", port))
done = {}
while len(done) < len(servers) and time.time() - t0 < 60:
    for name, port in servers:
        if name in done:
            continue
        try:
            socks[name].send(q)
            m = socks[name].recv(4096)
        except OSError:
            continue
        got = soa_serial(m)
        if got and got[1] == serial:
            done[name] = time.time() - (0 if absolute else t0)
    time.sleep(0.001)
for name, _ in servers:
    print(f"{name},{done.get(name, -1):.4f}")
