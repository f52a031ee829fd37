#!/usr/bin/env bash
# Zones at scale, Shoal beside Knot DNS and NSD on the same machine and zone:
#
#   1. a zone of RECORDS records (mostly A/AAAA/TXT) loaded from its master file: time
#      from start to the first answer, and memory once loaded (PSS of every process,
#      minus the same server with a one-record zone), as bytes per record;
#   2. Shoal restarted as a secondary: time to serve the zone from its state_dir copy;
#   3. Shoal as that secondary taking a full AXFR of a new version in which 1% of the
#      records changed, then one in which every record changed: peak resident memory
#      (VmHWM, reset before each transfer) over the steady state before it.
#
# Environment: RECORDS=1000000, OUT=dir (default target/bench-zones), SKIP_INSTALL=1,
# CARGO_TARGET_DIR. Prints a table; summary.txt and logs/ in OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS="${RECORDS:-1000000}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$ROOT/target/bench-zones}"

# log, die, PIDS/WORK with cleanup on exit, stop, free_port, knot_conf, nsd_conf, start_server, pss.
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"

install_peers knot nsd
for tool in knotd nsd python3 cargo; do command -v "$tool" >/dev/null || die "$tool not found"; done

build_release "$TARGET" shoal-engine
SHOAL="$TARGET/release/shoal"
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/* "$OUT/summary.txt"
WORK="$(mktemp -d /tmp/bench-zones.XXXXXX)"

# --- zones: v1, v2 (1% of the records changed), v3 (every record changed) ---------------
log "generating big.test. with about $RECORDS records (three versions) in $WORK"
python3 "$ROOT/scripts/lib/bigzone.py" "$WORK" "$RECORDS"
COUNT="$(cat "$WORK/count")"
log "v1 has $COUNT records"

# Seconds until the server on port $1 answers the SOA of big.test. with serial $2 (at
# most $3 seconds), measured from $4 (epoch seconds, float); -1 if it never does.
serving_after() {
    python3 - "$1" "$2" "$3" "$4" <<'PY'
import socket, struct, sys, time
port, serial, limit, start = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
q = b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03big\x04test\x00\x00\x06\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.01)
while time.time() - start < limit:
    try:
        s.sendto(q, ("127.0.0.1", port))
        m = s.recv(4096)
        if len(m) > 12 and m[3] & 15 == 0 and struct.unpack(">H", m[6:8])[0] >= 1:
            # The SOA is the first answer: skip the question, the owner, the fixed fields.
            pos = 12 + len(q) - 12
            pos = pos + 2 if m[pos] & 0xC0 else pos + m[pos:].index(0) + 1
            rdlen = struct.unpack(">H", m[pos + 8:pos + 10])[0]
            end = pos + 10 + rdlen
            if struct.unpack(">I", m[end - 20:end - 16])[0] == serial:
                print(f"{time.time() - start:.3f}")
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.005)
print("-1")
PY
}

start_shoal() { # dir zonefile port [secondary primary_port]
    local dir="$1" file="$2" port="$3" source
    mkdir -p "$dir"
    if [[ "${4:-}" == secondary ]]; then
        source="primaries = [\"127.0.0.1:$5\"]"
    else
        source="file = \"$file\"
allow_transfer = [\"127.0.0.1\"]"
    fi
    cat >"$dir/shoal.toml" <<EOF
[server]
listen = ["127.0.0.1:$port"]
workers = 1
state_dir = "$dir/state"
[control]
socket = "$dir/ctl.sock"
[[zone]]
name = "big.test."
$source
EOF
    start_server shoal "$dir"
}

start_knot() { # dir zonefile port
    local dir="$1" file="$2" port="$3"
    knot_conf "$dir" "$port" 1 big.test
    cp "$file" "$dir/zones/big.test.zone"
    start_server knot "$dir"
}

start_nsd() { # dir zonefile port
    local dir="$1" file="$2" port="$3"
    nsd_conf "$dir" "$port" 1 big.test
    cp "$file" "$dir/zones/big.test.zone"
    start_server nsd "$dir"
}

declare -A LOAD MEM BASE
# --- 1: load from the master file, memory ------------------------------------------------
for server in shoal knot nsd; do
    port=$(free_port)
    "start_$server" "$WORK/$server-tiny" "$WORK/tiny.zone" "$port"
    t=$(serving_after "$port" 1 60 "$START")
    [[ "$t" != -1 ]] || die "$server did not serve the tiny zone"
    sleep 1
    BASE[$server]=$(pss "$PID")
    stop "$PID" 100
    port=$(free_port)
    "start_$server" "$WORK/$server" "$WORK/v1.zone" "$port"
    LOAD[$server]=$(serving_after "$port" 1 300 "$START")
    [[ "${LOAD[$server]}" != -1 ]] || die "$server did not serve big.test. within 300 s"
    sleep 2
    MEM[$server]=$(pss "$PID")
    log "$server: serving after ${LOAD[$server]} s; PSS $((MEM[$server] >> 20)) MiB (one-record zone: $((BASE[$server] >> 20)) MiB)"
    stop "$PID" 100
done

# --- 2 and 3: Shoal as a secondary: state_dir restart, AXFR peaks -------------------------
pport=$(free_port)
sport=$(free_port)
cp "$WORK/v1.zone" "$WORK/primary.zone"
start_shoal "$WORK/primary" "$WORK/primary.zone" "$pport"
PPID_SHOAL=$PID
[[ "$(serving_after "$pport" 1 300 "$START")" != -1 ]] || die "primary did not start"
start_shoal "$WORK/secondary" "" "$sport" secondary "$pport"
[[ "$(serving_after "$sport" 1 300 "$START")" != -1 ]] || die "secondary did not transfer v1"
stop "$PID" 100
start_shoal "$WORK/secondary" "" "$sport" secondary "$pport"
SPID=$PID
STATE_LOAD=$(serving_after "$sport" 1 300 "$START")
log "secondary: serving from state_dir after $STATE_LOAD s"
sleep 3
declare -A PEAK
for v in 2 3; do
    steady_kb=$(status_kb "$SPID" VmRSS)
    echo 5 >"/proc/$SPID/clear_refs"
    cp "$WORK/v$v.zone" "$WORK/primary.zone"
    kill -HUP "$PPID_SHOAL"
    [[ "$(serving_after "$pport" "$v" 300 "$(date +%s.%N)")" != -1 ]] || die "primary did not load v$v"
    # The primary's reload peak is not the secondary's: reset again, then transfer.
    echo 5 >"/proc/$SPID/clear_refs"
    steady_kb=$(status_kb "$SPID" VmRSS)
    "$SHOAL" ctl --socket "$WORK/secondary/ctl.sock" zone-retransfer big.test. >/dev/null
    [[ "$(serving_after "$sport" "$v" 300 "$(date +%s.%N)")" != -1 ]] || die "secondary did not take v$v"
    sleep 2
    hwm_kb=$(status_kb "$SPID" VmHWM)
    after_kb=$(status_kb "$SPID" VmRSS)
    PEAK[$v]="$steady_kb $hwm_kb $after_kb"
    log "AXFR of v$v: steady $((steady_kb >> 10)) MiB, peak $((hwm_kb >> 10)) MiB, after $((after_kb >> 10)) MiB"
done

python3 - "$COUNT" "${LOAD[shoal]}" "${LOAD[knot]}" "${LOAD[nsd]}" "${MEM[shoal]}" "${MEM[knot]}" "${MEM[nsd]}" \
    "${BASE[shoal]}" "${BASE[knot]}" "${BASE[nsd]}" "$STATE_LOAD" ${PEAK[2]} ${PEAK[3]} <<'PY' | tee "$OUT/summary.txt"
import sys
a = sys.argv[1:]
n = int(a[0]); load = dict(zip(["shoal", "knot", "nsd"], map(float, a[1:4])))
mem = dict(zip(["shoal", "knot", "nsd"], map(int, a[4:7]))); base = dict(zip(["shoal", "knot", "nsd"], map(int, a[7:10])))
state = float(a[10]); p2 = list(map(int, a[11:14])); p3 = list(map(int, a[14:17]))
print(f"\nZone of {n} records (A/AAAA/TXT), loaded from its master file\n")
print(f"{'server':<8} {'load s':>8} {'PSS MiB':>9} {'bytes/record':>13}")
for s in ["shoal", "knot", "nsd"]:
    print(f"{s:<8} {load[s]:>8.2f} {mem[s] / 2**20:>9.1f} {(mem[s] - base[s]) / n:>13.0f}")
bpr = {s: (mem[s] - base[s]) / n for s in mem}
print(f"\nShoal/Knot: load time {load['shoal'] / load['knot']:.2f}, bytes/record {bpr['shoal'] / bpr['knot']:.2f}")
print(f"Shoal/NSD:  load time {load['shoal'] / load['nsd']:.2f}, bytes/record {bpr['shoal'] / bpr['nsd']:.2f}")
print(f"\nShoal from its state_dir copy: serving after {state:.2f} s")
for label, (steady, hwm, after) in [("1% of records changed", p2), ("every record changed", p3)]:
    print(f"AXFR in, {label}: steady {steady / 1024:.0f} MiB, peak {hwm / 1024:.0f} MiB ({hwm / steady:.2f}x), after {after / 1024:.0f} MiB")
PY
