#!/usr/bin/env bash
# Zone transfers at size: a 1-million-record zone moved by AXFR, Shoal beside Knot and NSD.
#
#   1. AXFR out: kdig pulls the zone from Shoal, Knot and NSD in turn (median of RUNS).
#   2. AXFR in: Shoal and Knot each take the zone as secondaries of the same Knot primary
#      (time from the start of the transfer to the new version served, from their logs).
#   3. Serving while transferring: open-loop UDP load (RATE q/s, pinned to CPU 1) on a
#      small zone of Shoal, before / during / after (a) Shoal sends the big zone out by
#      AXFR and (b) Shoal takes it in by AXFR; QPS and p99 of each window.
#
# Environment: RECORDS=1000000, RUNS=3, RATE=100000, OUT=target/bench-xfr, SKIP_INSTALL=1.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
RECORDS="${RECORDS:-1000000}"
RUNS="${RUNS:-3}"
RATE="${RATE:-100000}"
OUT="${OUT:-$repo/target/bench-xfr}"
if [ "${SKIP_INSTALL:-}" != 1 ] && ! command -v knotd >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update && apt-get install -y knot knot-dnsutils nsd
fi
cargo build --release -q -p shoal-engine -p shoal-loadtest
target="${CARGO_TARGET_DIR:-$repo/target}"
SHOAL="$target/release/shoal"
LOADTEST="$target/release/shoal-loadtest"
WORK="$(mktemp -d /tmp/shoal-bench-xfr.XXXXXX)"
mkdir -p "$OUT"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '%s %s\n' "$(date +%T)" "$*"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

log "generating big.test ($RECORDS records) and small.test"
python3 - "$WORK" "$RECORDS" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/big.test.zone", "w") as z:
    z.write("$ORIGIN big.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n")
    i = 0
    while i < n:
        z.write(f"h{i} A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n"); i += 1
        if i % 4 == 0 and i < n:
            z.write(f"h{i-1} AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}\n"); i += 1
        if i % 10 == 0 and i < n:
            z.write(f"h{i-2} TXT \"record {i}\"\n"); i += 1
with open(f"{work}/small.test.zone", "w") as z:
    z.write("$ORIGIN small.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n")
    for i in range(1000):
        z.write(f"h{i} A 10.0.{i >> 8}.{i & 255}\n")
with open(f"{work}/queries.txt", "w") as q:
    for i in range(1000):
        q.write(f"h{i}.small.test A\n")
PY

start_shoal() { # NAME CONFIG-BODY -> PORT, PID
    local name="$1" body="$2" dir="$WORK/$1"
    mkdir -p "$dir"
    PORT="$(port)"
    printf '[server]\nlisten = ["127.0.0.1:%s"]\nworkers = 1\nstate_dir = "%s/state"\n%s\n' "$PORT" "$dir" "$body" >"$dir/shoal.toml"
    "$SHOAL" serve --config "$dir/shoal.toml" >"$OUT/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 240); do kdig @127.0.0.1 -p "$PORT" small.test SOA +short +time=1 2>/dev/null | grep -q . && return 0; \
        kdig @127.0.0.1 -p "$PORT" big.test SOA +short +time=1 2>/dev/null | grep -q . && return 0; sleep 0.5; done
    echo "$name did not start" >&2; exit 1
}
start_knot() { # NAME ZONE-SECTION -> PORT, PID
    local name="$1" zones="$2" dir="$WORK/$1"
    mkdir -p "$dir/run" "$dir/db" "$dir/zones"
    cp "$WORK/big.test.zone" "$dir/zones/"
    PORT="$(port)"
    cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir/run"
    listen: 127.0.0.1@$PORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    user: root:root
log:
  - target: stderr
    any: info
database:
    storage: "$dir/db"
acl:
  - id: all
    address: 127.0.0.0/8
    action: [transfer, notify]
template:
  - id: default
    storage: "$dir/zones"
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
    acl: all
$zones
EOF
    knotd -c "$dir/knot.conf" >"$OUT/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
}
start_nsd() {
    local dir="$WORK/nsd"
    mkdir -p "$dir"
    cp "$WORK/big.test.zone" "$dir/"
    PORT="$(port)"
    cat >"$dir/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1
    port: $PORT
    server-count: 1
    zonesdir: "$dir"
    pidfile: "$dir/nsd.pid"
    xfrdfile: "$dir/xfrd.state"
    zonelistfile: "$dir/zone.list"
    database: ""
    username: ""
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: big.test
    zonefile: big.test.zone
    provide-xfr: 127.0.0.1 NOKEY
EOF
    nsd -d -c "$dir/nsd.conf" >"$OUT/nsd.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
}
wait_soa() { # PORT ZONE SERIAL
    for _ in $(seq 600); do
        [ "$(kdig @127.0.0.1 -p "$1" "$2" SOA +short +time=1 2>/dev/null | awk '{print $3}')" = "$3" ] && return 0
        sleep 0.2
    done
    echo "zone $2 serial $3 not served on port $1" >&2; exit 1
}
axfr_time() { # PORT -> seconds (median of RUNS)
    local times=()
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(now)
        kdig @127.0.0.1 -p "$1" big.test AXFR +noall +time=60 >/dev/null
        t1=$(now)
        times+=("$(python3 -c "print(f'{$t1-$t0:.2f}')")")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}
load() { # PORT SECONDS -> "qps p99us"
    taskset -c 1 "$LOADTEST" run -p "$1" -d "$WORK/queries.txt" -l "$2" -Q "$RATE" -q 20000 2>/dev/null |
        awk '/Queries per second/ {q=$4} /p99 / {for (i=1;i<=NF;i++) if ($i=="p99") p=$(i+1)} END {printf "%.0f q/s, p99 %s us", q, p}'
}

log "1. AXFR out of $RECORDS records to kdig (median of $RUNS)"
start_shoal shoal-primary "[[zone]]
name = \"big.test.\"
file = \"$WORK/big.test.zone\"
allow_transfer = [\"127.0.0.0/8\"]
[[zone]]
name = \"small.test.\"
file = \"$WORK/small.test.zone\""
SHOAL_PORT=$PORT; SHOAL_PID=$PID
wait_soa "$SHOAL_PORT" big.test 1
out_shoal=$(axfr_time "$SHOAL_PORT")
start_knot knot-primary "zone:
  - domain: big.test"
KNOT_PORT=$PORT
wait_soa "$KNOT_PORT" big.test 1
out_knot=$(axfr_time "$KNOT_PORT")
start_nsd
NSD_PORT=$PORT; NSD_PID=$PID
wait_soa "$NSD_PORT" big.test 1
out_nsd=$(axfr_time "$NSD_PORT")
kill "$NSD_PID"
log "   Shoal ${out_shoal}s  Knot ${out_knot}s  NSD ${out_nsd}s"

log "3a. serving small.test on Shoal while it sends big.test by AXFR ($RATE q/s open loop)"
before_out=$(load "$SHOAL_PORT" 5)
( sleep 1; kdig @127.0.0.1 -p "$SHOAL_PORT" big.test AXFR +noall +time=60 >/dev/null ) &
bg=$!
during_out=$(load "$SHOAL_PORT" 5)
wait "$bg"  # not a bare `wait`: the servers are background jobs too
after_out=$(load "$SHOAL_PORT" 5)
log "   before: $before_out | during: $during_out | after: $after_out"
kill "$SHOAL_PID"

log "2. AXFR in from the Knot primary: Shoal and Knot as secondaries"
start_shoal shoal-secondary "[[zone]]
name = \"big.test.\"
primaries = [\"127.0.0.1:$KNOT_PORT\"]
[[zone]]
name = \"small.test.\"
file = \"$WORK/small.test.zone\""
SEC_PORT=$PORT; SEC_PID=$PID
wait_soa "$SEC_PORT" big.test 1
in_shoal=$(grep -o 'transfer in done.*' "$OUT/shoal-secondary.log" | grep -o 'ms=[0-9]*' | head -1 | cut -d= -f2)
start_knot knot-secondary "remote:
  - id: primary
    address: 127.0.0.1@$KNOT_PORT
zone:
  - domain: big.test
    master: primary
    file: \"$WORK/knot-secondary/zones/in.zone\""
KSEC_PORT=$PORT
wait_soa "$KSEC_PORT" big.test 1
in_knot=$(grep -o 'AXFR, incoming.*finished, [0-9.]* seconds' "$OUT/knot-secondary.log" | grep -o '[0-9.]* seconds' | head -1)
log "   Shoal ${in_shoal} ms (transfer, validation and compiled snapshot)  Knot ${in_knot}"

log "3b. serving small.test on Shoal while it takes big.test in by AXFR again ($RATE q/s open loop)"
before_in=$(load "$SEC_PORT" 5)
( sleep 1; "$SHOAL" ctl --config "$WORK/shoal-secondary/shoal.toml" zone-retransfer big.test >/dev/null ) &
bg=$!
during_in=$(load "$SEC_PORT" 5)
wait "$bg"
after_in=$(load "$SEC_PORT" 5)
log "   before: $before_in | during: $during_in | after: $after_in"
grep -o 'transfer in done.*' "$OUT/shoal-secondary.log" | tail -1

{
    echo "records,$RECORDS"
    echo "axfr_out_seconds,shoal,$out_shoal,knot,$out_knot,nsd,$out_nsd"
    echo "axfr_in,shoal_ms,$in_shoal,knot,$in_knot"
    echo "serving_during_axfr_out,before,$before_out,during,$during_out,after,$after_out"
    echo "serving_during_axfr_in,before,$before_in,during,$during_in,after,$after_in"
} | tee "$OUT/summary.csv"
