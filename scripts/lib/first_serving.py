"""When each of several servers first answers the SOA of bench.test. with a serial:
one process asks them all in turn, every millisecond, for at most 60 s.

Usage: first_serving.py T0 SERIAL NAME:PORT...   (T0: time.time() of the change)
Prints NAME,SECONDS for each (SECONDS since T0, -1 if never), in the order given. With
T0 `-` it starts polling at once and prints the time of day of each (started before
the change, so that its own start-up is not counted).
"""
import socket, struct, sys, time
absolute = sys.argv[1] == "-"
t0, serial = (time.time() if absolute else float(sys.argv[1])), int(sys.argv[2])
servers = [(a.split(":")[0], int(a.split(":")[1])) for a in sys.argv[3:]]
q = b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05bench\x04test\x00\x00\x06\x00\x01"
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
        # The SOA's serial: the 20 bytes before the end of the first answer's RDATA.
        if len(m) > 40 and m[3] & 15 == 0 and struct.unpack(">H", m[6:8])[0] >= 1:
            rdlen_at = 12 + len(q) - 12 + 10
            rdlen = struct.unpack(">H", m[rdlen_at:rdlen_at + 2])[0]
            end = rdlen_at + 2 + rdlen
            if struct.unpack(">I", m[end - 20:end - 16])[0] == serial:
                done[name] = time.time() - (0 if absolute else t0)
    time.sleep(0.001)
for name, _ in servers:
    print(f"{name},{done.get(name, -1):.4f}")
