#!/usr/bin/env python3
"""A DNS relay that adds delay, for scripts/fleet.sh (this kernel has no netem).

Usage: relay.py LISTEN_PORT UPSTREAM_ADDR UPSTREAM_PORT DELAY_MS SECONDS

Listens on 0.0.0.0:LISTEN_PORT, UDP and TCP, and passes every message to
UPSTREAM_ADDR:UPSTREAM_PORT and every answer back, each held DELAY_MS milliseconds in
each direction (so a query and its answer take 2 x DELAY_MS more). The fleet runs it
inside the primary's namespace, with an nftables redirect of port 53 to LISTEN_PORT, so
the secondaries' SOA queries and transfers reach the primary only through it. It only
ever sends to UPSTREAM and to the clients that wrote to it, and exits after SECONDS
(or on SIGTERM).
"""
import heapq
import socket
import sys
import threading
import time


class Scheduler:
    """Runs `fn` at `when` (monotonic), in order, on one thread."""

    def __init__(self):
        self.heap = []
        self.cv = threading.Condition()
        self.seq = 0
        threading.Thread(target=self.loop, daemon=True).start()

    def at(self, when, fn):
        with self.cv:
            self.seq += 1
            heapq.heappush(self.heap, (when, self.seq, fn))
            self.cv.notify()

    def loop(self):
        while True:
            with self.cv:
                while not self.heap or self.heap[0][0] > time.monotonic():
                    self.cv.wait(None if not self.heap else self.heap[0][0] - time.monotonic())
                _, _, fn = heapq.heappop(self.heap)
            try:
                fn()
            except OSError:
                pass


def udp(port, upstream, delay, sched):
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("0.0.0.0", port))
    backs = {}  # client address -> its socket towards the upstream
    lock = threading.Lock()

    def answers(client, back):
        while True:
            try:
                m = back.recv(65535)
            except OSError:
                return
            sched.at(time.monotonic() + delay, lambda m=m: front.sendto(m, client))

    while True:
        m, client = front.recvfrom(65535)
        with lock:
            back = backs.get(client)
            if back is None:
                back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                back.connect(upstream)
                backs[client] = back
                threading.Thread(target=answers, args=(client, back), daemon=True).start()
        sched.at(time.monotonic() + delay, lambda m=m, back=back: back.send(m))


def pipe(src, dst, delay, sched):
    """Bytes from src to dst, each chunk DELAY later than it came; the order is kept
    because the scheduler runs in time order."""
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            sched.at(time.monotonic() + delay, lambda: dst.shutdown(socket.SHUT_WR))
            return
        sched.at(time.monotonic() + delay, lambda d=data: dst.sendall(d))


def tcp(port, upstream, delay, sched):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(64)
    while True:
        client, _ = listener.accept()
        try:
            back = socket.create_connection(upstream, timeout=5)
            back.settimeout(None)
        except OSError:
            client.close()
            continue
        threading.Thread(target=pipe, args=(client, back, delay, sched), daemon=True).start()
        threading.Thread(target=pipe, args=(back, client, delay, sched), daemon=True).start()


def main():
    port, addr, uport, delay_ms, seconds = sys.argv[1:6]
    upstream = (addr, int(uport))
    delay = float(delay_ms) / 1000
    sched = Scheduler()
    for serve in (udp, tcp):
        threading.Thread(target=serve, args=(int(port), upstream, delay, sched), daemon=True).start()
    time.sleep(float(seconds))


if __name__ == "__main__":
    main()
