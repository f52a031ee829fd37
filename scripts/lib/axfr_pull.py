"""Pull a zone by AXFR over TCP or TLS (RFC 9103: TLS 1.3, ALPN "dot") and print the
wall time, messages, bytes and records, without decoding records: the transfer ends
when the answer counts add up to RECORDS (the zone's records plus the closing SOA), so
the client's own cost stays far below the server's.

Usage: axfr_pull.py HOST PORT ZONE RECORDS [CA_FILE HOSTNAME [no-alpn-check]]
       (with CA_FILE and HOSTNAME: over TLS, verifying the server against CA_FILE;
       no-alpn-check: go on when the server does not agree to "dot", as NSD 4.6)
Prints: seconds messages bytes records
"""
import socket
import ssl
import struct
import sys
import time


def qname(zone):
    out = b""
    for label in zone.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def main():
    host, port, zone, records = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    query = struct.pack(">HHHHHH", 0x5a5a, 0, 1, 0, 0, 0) + qname(zone) + struct.pack(">HH", 252, 1)
    start = time.monotonic()
    s = socket.create_connection((host, port), timeout=120)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if len(sys.argv) > 6:
        ctx = ssl.create_default_context(cafile=sys.argv[5])
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_alpn_protocols(["dot"])
        s = ctx.wrap_socket(s, server_hostname=sys.argv[6])
        if s.selected_alpn_protocol() != "dot" and sys.argv[7:] != ["no-alpn-check"]:
            sys.exit("the server did not agree to ALPN dot")
    s.sendall(struct.pack(">H", len(query)) + query)
    messages = nbytes = got = 0
    while got < records:
        (n,) = struct.unpack(">H", read_exact(s, 2))
        m = read_exact(s, n)
        rcode = m[3] & 15
        if rcode:
            sys.exit(f"RCODE {rcode}")
        got += struct.unpack(">H", m[6:8])[0]
        messages += 1
        nbytes += n
    took = time.monotonic() - start
    s.close()
    if got != records:
        sys.exit(f"{got} records, {records} expected")
    print(f"{took:.3f} {messages} {nbytes} {got}")


main()
