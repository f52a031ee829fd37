"""The SOA query and the reading of its answer that the benchmark scripts share."""
import struct


def soa_query(zone, qid):
    """A query for the SOA of `zone` (with or without the trailing dot), ID `qid`."""
    qname = b"".join(bytes([len(l)]) + l.encode() for l in zone.split(".") if l) + b"\0"
    return struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + qname + b"\x00\x06\x00\x01"


def soa_serial(m):
    """(qname, serial) of a NOERROR answer whose first record is the SOA, else None
    (also for a message too short or broken to read)."""
    try:
        return _soa_serial(m)
    except (IndexError, ValueError, struct.error, UnicodeDecodeError):
        return None


def _soa_serial(m):
    if len(m) < 12 or m[3] & 15 != 0 or struct.unpack(">H", m[6:8])[0] < 1:
        return None
    pos, labels = 12, []
    while m[pos]:
        labels.append(m[pos + 1:pos + 1 + m[pos]].decode())
        pos += 1 + m[pos]
    pos += 5
    pos = pos + 2 if m[pos] & 0xC0 else pos + m[pos:].index(0) + 1
    if struct.unpack(">H", m[pos:pos + 2])[0] != 6:
        return None
    rdlen = struct.unpack(">H", m[pos + 8:pos + 10])[0]
    end = pos + 10 + rdlen
    return ".".join(labels), struct.unpack(">I", m[end - 20:end - 16])[0]
