#!/usr/bin/env bash
# One record changed on a Knot primary, end to end: the time from `knotc zone-commit`
# until a Shoal secondary and a Knot secondary serve the new serial (NOTIFY, IXFR), and
# the bytes each secondary wrote for the change, for zones of about 10k, 100k and 1M
# records (scripts/lib/benchzone.py's bench.test.).
#
# The primary (Knot, CPU 1) keeps its changes in its journal and NOTIFYs both
# secondaries (CPU 0). Each round adds one A record with knotc zone-begin / zone-set /
# zone-commit (Knot increments the serial); scripts/lib/first_serving.py, started
# before the commit, sees the primary and each secondary serve the new serial; the bytes written are the change of the process's
# `wchar` in /proc/PID/io (what it passed to write calls: the journal, a copy of the zone).
#
# Then Shoal is killed (-9), the primary stopped, and Shoal started again: the time until
# it serves the last serial from its copy and the journal replayed onto it.
#
# Environment: SIZES="10000 100000 1000000" (records), ROUNDS=5, OUT=target/bench-ixfr,
# SKIP_INSTALL=1, SHOAL_BIN=path (a shoal binary built before, e.g. of another revision,
# instead of building the working tree).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZES="${SIZES:-10000 100000 1000000}"
ROUNDS="${ROUNDS:-5}"
OUT="${OUT:-$ROOT/target/bench-ixfr}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"
install_peers knot
for tool in knotd knotc taskset python3 cargo; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
if [[ -n "${SHOAL_BIN:-}" ]]; then
    SHOAL="$SHOAL_BIN"
else
    build_release "$TARGET" shoal-engine
    SHOAL="$TARGET/release/shoal"
fi
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*.log "$OUT/ixfr.csv"
WORK="$(mktemp -d /tmp/bench-ixfr.XXXXXX)"
wchar() { awk '$1 == "wchar:" {print $2}' "/proc/$1/io"; }
echo "records,round,server,seconds,bytes" >"$OUT/ixfr.csv"

for records in $SIZES; do
    dir="$WORK/$records"
    mkdir -p "$dir/primary/db" "$dir/primary/run"
    # benchzone.py writes about 1.21 records per name.
    python3 "$ROOT/scripts/lib/benchzone.py" "$dir" $((records * 100 / 121)) 10
    cp "$dir/bench.test.zone" "$dir/primary/bench.test.zone"
    PPORT=$(free_port)
    SPORT=$(free_port)
    KPORT=$(free_port)
    cat >"$dir/primary/knot.conf" <<CONF
server:
    rundir: "$dir/primary/run"
    listen: 127.0.0.1@$PPORT
    background-workers: 1
    user: root:root
log:
  - target: stderr
    any: warning
database:
    storage: "$dir/primary/db"
remote:
  - id: shoal
    address: 127.0.0.1@$SPORT
  - id: knot
    address: 127.0.0.1@$KPORT
acl:
  - id: local
    address: 127.0.0.1
    action: transfer
zone:
  - domain: bench.test
    storage: "$dir/primary"
    file: bench.test.zone
    zonefile-sync: -1
    journal-content: changes
    semantic-checks: off
    notify: [shoal, knot]
    acl: local
CONF
    PIN=1 start_server knot "$dir/primary"
    PRIMARY_PID=$PID
    SERIAL=$(awk '$3 == "SOA" || $4 == "SOA" {print $(NF - 4); exit}' "$dir/bench.test.zone")
    [[ "$(serving_after "$PPORT" bench.test "$SERIAL" 300 "$START")" != -1 ]] || die "the Knot primary did not load"
    start_secondaries "$dir" "$PPORT" "$SPORT" "$KPORT" "$SERIAL"
    sleep 2
    log "$records records: both secondaries serve serial $SERIAL"
    for round in $(seq "$ROUNDS"); do
        SERIAL=$((SERIAL + 1))
        s0=$(wchar "$SHOAL_PID")
        k0=$(wchar "$KNOT_PID")
        knotc -s "$dir/primary/run/knot.sock" zone-begin bench.test >/dev/null
        knotc -s "$dir/primary/run/knot.sock" zone-set bench.test "added$round" 300 A "192.0.2.$round" >/dev/null
        times=$(time_to_serve "$SERIAL" "$PPORT" "$SPORT" "$KPORT" \
            knotc -s "$dir/primary/run/knot.sock" zone-commit bench.test)
        sleep 1
        s1=$(wchar "$SHOAL_PID")
        k1=$(wchar "$KNOT_PID")
        pt=$(grep '^primary,' <<<"$times" | cut -d, -f2)
        st=$(grep '^shoal,' <<<"$times" | cut -d, -f2)
        kt=$(grep '^knot,' <<<"$times" | cut -d, -f2)
        echo "$records,$round,primary,$pt,0" >>"$OUT/ixfr.csv"
        echo "$records,$round,shoal,$st,$((s1 - s0))" >>"$OUT/ixfr.csv"
        echo "$records,$round,knot,$kt,$((k1 - k0))" >>"$OUT/ixfr.csv"
        log "  round $round: serial $SERIAL served by the primary after ${pt}s, Shoal ${st}s ($((s1 - s0)) bytes written), Knot ${kt}s ($((k1 - k0)) bytes)"
    done
    # Start-up from the copy and the journal: kill -9 the Shoal secondary (its journal
    # holds this size's changes since the copy), stop the primary, start Shoal again
    # and time until it serves the last serial.
    kill -9 "$SHOAL_PID"
    stop "$SHOAL_PID" 1
    for p in "$KNOT_PID" "$PRIMARY_PID"; do stop "$p"; done
    journal=$(find "$dir/shoal/state" -name '*.ixfr' -size +0 | head -1)
    PIN=0 start_server shoal "$dir/shoal"
    restart=$(serving_after "$SPORT" bench.test "$SERIAL" 60 "$START")
    echo "$records,restart,shoal,$restart,$(stat -c %s "$journal" 2>/dev/null || echo 0)" >>"$OUT/ixfr.csv"
    log "  restarted with the primary down: serial $SERIAL served after ${restart}s (journal $(stat -c %s "$journal" 2>/dev/null || echo 0) bytes)"
    stop "$PID"
done
python3 - "$OUT/ixfr.csv" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
restarts = [r for r in rows if r["round"] == "restart"]
rows = [r for r in rows if r["round"] != "restart"]
print("\nOne record committed on a Knot primary: time from `knotc zone-commit` until each serves it (median, ms),")
print("and bytes each secondary wrote for it; 'after primary' is the median of the secondary's time minus the primary's\n")
print(f"{'records':>9} {'primary ms':>10} {'Shoal ms':>9} {'after primary':>13} {'Shoal bytes':>12} {'Knot ms':>8} {'after primary':>13} {'Knot bytes':>11}")
for size in dict.fromkeys(r["records"] for r in rows):
    cols = []
    p = {r["round"]: 1000 * float(r["seconds"]) for r in rows if r["records"] == size and r["server"] == "primary"}
    pm = statistics.median(p.values()) if p else 0
    for server in ("shoal", "knot"):
        t = [1000 * float(r["seconds"]) for r in rows if r["records"] == size and r["server"] == server and float(r["seconds"]) >= 0]
        b = [int(r["bytes"]) for r in rows if r["records"] == size and r["server"] == server]
        after = [1000 * float(r["seconds"]) - p.get(r["round"], 0) for r in rows
                 if r["records"] == size and r["server"] == server and float(r["seconds"]) >= 0]
        cols += [f"{statistics.median(t):.1f}" if t else "-", f"{statistics.median(after):.1f}" if after else "-",
                 f"{statistics.median(b):.0f}" if b else "-"]
    print(f"{size:>9} {pm:>10.1f} {cols[0]:>9} {cols[1]:>13} {cols[2]:>12} {cols[3]:>8} {cols[4]:>13} {cols[5]:>11}")
print("\nShoal restarted (kill -9, primary down): time from start until it serves the last serial")
print("from its copy and its journal (bytes)\n")
for r in restarts:
    print(f"{r['records']:>9} {1000 * float(r['seconds']):>10.1f} ms  journal {r['bytes']} bytes")
PY
