#!/usr/bin/env bash
# Scenario xfr-under-load: does taking transfers disturb serving?
#
# A Shoal secondary (one worker, pinned to CPU 0) serves a zone of RECORDS records
# (mostly A/AAAA/TXT, scripts/lib/bigzone.py) from a Knot DNS primary, under open-loop
# load of RATE queries/s from shoal-loadtest (CPU 1). Knot, the load generator and
# Shoal's transfer thread share CPU 1. While the load runs:
#
#   (a) at 10 s, Shoal is made to take the whole zone again by AXFR (`shoal ctl
#       zone-retransfer`: received, compared with the held version, applied);
#   (b) from 30 s, IXFRS small changes are committed on Knot one by one, 50 a second
#       (`knotc zone-set`, one transaction each), to ixfr.test., a 10,000-record zone
#       Shoal also serves (Knot takes about 0.3 s to commit a change to the 1M-record
#       zone, which would stretch the stream over minutes); Knot NOTIFYs, Shoal follows
#       by IXFR, and the queries keep going to the big zone.
#
# shoal-loadtest writes answers/s and p50/p99/max latency per 100 ms window
# (timeline.csv); plot.py draws them with the transfer intervals (xfr-under-load.svg)
# and prints the baseline (the windows before the first transfer) and every window whose
# rate fell below 90% of it or whose p99 went above twice it. Shoal's own view comes
# from its /metrics, scraped at each phase's start and end: batch_times.py prints how
# long its UDP worker took per batch in each phase, so an excursion the load generator
# saw can be told from one in the worker (none slow in that phase: not the worker's).
#
# CONTROL=1 runs the same minute without Shoal taking anything: at 10 s the AXFR goes
# from Knot to kdig (on CPU 1) instead, and Shoal does not serve ixfr.test., so Knot
# commits and serves as before while Shoal only answers the load. What the windows show
# then is this machine, not Shoal's transfers; compare the two runs.
#
# Environment: RECORDS=1000000, RATE=100000, IXFRS=1000, DURATION=70, CONTROL=0,
# OUT=dir (default target/xfr-under-load), SKIP_INSTALL=1, CARGO_TARGET_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RECORDS="${RECORDS:-1000000}"
RATE="${RATE:-100000}"
IXFRS="${IXFRS:-1000}"
DURATION="${DURATION:-70}"
CONTROL="${CONTROL:-0}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$ROOT/target/xfr-under-load}"

# log, die, PIDS/WORK with cleanup on exit, stop, free_port, install_peers, build_release.
# shellcheck source=../../scripts/lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"

install_peers knot knot-dnsutils
for tool in knotd knotc taskset python3 cargo; do command -v "$tool" >/dev/null || die "$tool not found"; done
[[ "$(nproc)" -ge 2 ]] || die "needs 2 cores (Shoal's worker on CPU 0, the rest on CPU 1)"
build_release "$TARGET" shoal-engine shoal-loadtest
SHOAL="$TARGET/release/shoal"
LOADTEST="$TARGET/release/shoal-loadtest"
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/xfr-under-load.XXXXXX)"

log "generating big.test. with about $RECORDS records"
python3 "$ROOT/scripts/lib/bigzone.py" "$WORK" "$RECORDS"
python3 - "$WORK" "$RECORDS" <<'PY'
import sys
work, records = sys.argv[1], int(sys.argv[2])
names = int(records / (1 + 1 / 3 + 1 / 5))
with open(f"{work}/queries", "w") as f:
    for i in range(100_000):
        h = i * 7919 % names
        f.write(f"h{h}.big.test. A\n" if i % 10 else f"nx{i}.big.test. A\n")
with open(f"{work}/ixfr.zone", "w") as f:
    f.write("$ORIGIN ixfr.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\nns1 A 192.0.2.1\n")
    for i in range(10_000):
        f.write(f"h{i} A 10.1.{i >> 8 & 255}.{i & 255}\n")
PY

kport=$(free_port)
sport=$(free_port)
mport=$(free_port)
mkdir -p "$WORK/knot/run" "$WORK/knot/db" "$WORK/knot/zones" "$WORK/shoal"
cp "$WORK/v1.zone" "$WORK/knot/zones/big.test.zone"
cp "$WORK/ixfr.zone" "$WORK/knot/zones/ixfr.test.zone"
cat >"$WORK/knot/knot.conf" <<EOF
server:
    rundir: "$WORK/knot/run"
    listen: 127.0.0.1@$kport
    background-workers: 1
    user: root:root
log:
  - target: stderr
    any: warning
database:
    storage: "$WORK/knot/db"
remote:
  - id: shoal
    address: 127.0.0.1@$sport
acl:
  - id: shoal
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "$WORK/knot/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
    semantic-checks: off
zone:
  - domain: big.test
    notify: shoal
    acl: shoal
  - domain: ixfr.test
    notify: shoal
    acl: shoal
EOF
cat >"$WORK/shoal/shoal.toml" <<EOF
[server]
listen = ["127.0.0.1:$sport"]
workers = 1
state_dir = "$WORK/shoal/state"
[control]
socket = "$WORK/shoal/ctl.sock"
[metrics]
listen = "127.0.0.1:$mport"
[[zone]]
name = "big.test."
primaries = ["127.0.0.1:$kport"]
EOF
if [[ "$CONTROL" != 1 ]]; then
    printf '[[zone]]\nname = "ixfr.test."\nprimaries = ["127.0.0.1:%s"]\n' "$kport" >>"$WORK/shoal/shoal.toml"
fi

log "starting Knot (primary, CPU 1) and Shoal (secondary, worker on CPU 0)"
taskset -c 1 knotd -c "$WORK/knot/knot.conf" >"$OUT/knot.log" 2>&1 &
PIDS+=($!)
"$SHOAL" serve --config "$WORK/shoal/shoal.toml" >"$OUT/shoal.log" 2>&1 &
SHOAL_PID=$!
PIDS+=("$SHOAL_PID")
# Everything this script runs from now on (kdig, knotc, the pacer, the load) stays on
# CPU 1: CPU 0 is the Shoal worker's alone. Shoal itself was started with both cores,
# so it placed its worker on CPU 0 and its other threads on CPU 1.
taskset -pc 1 $$ >/dev/null
serial() { kdig +short +time=1 +retry=0 -p "$1" @127.0.0.1 "${2:-big.test.}" SOA 2>/dev/null | awk '{print $3}'; }
for _ in $(seq 600); do
    [[ "$(serial "$sport")" == 1 ]] && break
    sleep 0.5
done
[[ "$(serial "$sport")" == 1 ]] || die "Shoal did not take big.test. from Knot"
for _ in $(seq 100); do
    [[ "$CONTROL" == 1 || "$(serial "$sport" ixfr.test.)" == 1 ]] && break
    sleep 0.2
done
log "Shoal serves big.test. serial 1"

scrape() {
    python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$mport/metrics', timeout=5).read().decode())" \
        >"$OUT/metrics.$1" || die "cannot read Shoal's metrics"
    # When, and CPU 0's times (user nice system idle iowait irq softirq steal, in 1/100 s):
    # time the hypervisor gave the worker's core to someone else shows up as steal.
    { echo "# time $(date +%s.%N)"; grep '^cpu0 ' /proc/stat | sed 's/^/# /'; } >>"$OUT/metrics.$1"
}
since() { python3 -c "import time; print(f'{time.time() - $1:.3f}')"; }
: >"$OUT/events.txt"

log "load: $RATE q/s for $DURATION s"
scrape 0-start
START=$(date +%s.%N)
# SCHED_FIFO (when allowed): CPU 1 also runs Knot and Shoal's transfer thread, and the
# load generator's own waits for the CPU must not be measured as Shoal's latency.
RT=()
chrt -f 10 true 2>/dev/null && RT=(chrt -f 10)
taskset -c 1 "${RT[@]}" "$LOADTEST" run -p "$sport" -d "$WORK/queries" -Q "$RATE" -l "$DURATION" -q 20000 -c 8 \
    --timeline "$OUT/timeline.csv" >"$OUT/loadtest.txt" 2>&1 &
LOAD_PID=$!
PIDS+=("$LOAD_PID")

sleep 10
scrape 1-before-a
a_start=$(since "$START")
if [[ "$CONTROL" == 1 ]]; then
    kdig +time=60 -p "$kport" @127.0.0.1 big.test. AXFR >/dev/null
else
    axfrs_before=$(grep -c 'kind="AXFR"' "$OUT/shoal.log" || true)
    "$SHOAL" ctl --socket "$WORK/shoal/ctl.sock" zone-retransfer big.test. >/dev/null
    for _ in $(seq 1200); do
        [[ "$(grep -c 'kind="AXFR"' "$OUT/shoal.log" || true)" -gt "$axfrs_before" ]] && break
        sleep 0.05
    done
fi
a_end=$(since "$START")
scrape 2-a
echo "axfr $a_start $a_end" >>"$OUT/events.txt"
log "AXFR of $RECORDS records taken from ${a_start} s to ${a_end} s"

sleep "$(python3 -c "print(max(0.0, 30 - $(since "$START")))")"
scrape 3-before-b
b_start=$(since "$START")
ixfrs_before=$(grep -c 'kind="IXFR"' "$OUT/shoal.log" || true)
# One knotc reading transactions from stdin, paced at 50 a second.
python3 - "$IXFRS" <<'PY' | knotc -c "$WORK/knot/knot.conf" >/dev/null
import sys, time
for i in range(1, int(sys.argv[1]) + 1):
    print(f"zone-begin ixfr.test.\nzone-set ixfr.test. change{i} 3600 A 192.0.2.{i % 250 + 1}\nzone-commit ixfr.test.", flush=True)
    time.sleep(0.02)
PY
target=$((IXFRS + 1))
follower=$sport
[[ "$CONTROL" == 1 ]] && follower=$kport
for _ in $(seq 600); do
    [[ "$(serial "$follower" ixfr.test.)" -ge "$target" ]] && break
    sleep 0.05
done
b_end=$(since "$START")
scrape 4-b
echo "ixfr $b_start $b_end" >>"$OUT/events.txt"
IXFRS_TAKEN=$(($(grep -c 'kind="IXFR"' "$OUT/shoal.log" || true) - ixfrs_before))
log "$IXFRS commits on Knot from ${b_start} s to ${b_end} s; Shoal took $IXFRS_TAKEN IXFRs, serial $(serial "$follower" ixfr.test.)"

while kill -0 "$LOAD_PID" 2>/dev/null; do sleep 0.5; done
scrape 5-end
grep -E "Queries per second|Queries lost" "$OUT/loadtest.txt" || true
python3 "$ROOT/loadtest/scenarios/plot.py" "$OUT/timeline.csv" "$OUT/events.txt" "$OUT/xfr-under-load.svg" \
    "$RATE q/s, $RECORDS-record AXFR (a), $IXFRS commits as IXFR (b)$([[ "$CONTROL" == 1 ]] && echo ", CONTROL: Shoal takes neither")" \
    | tee "$OUT/summary.txt"
python3 "$ROOT/loadtest/scenarios/batch_times.py" "start=$OUT/metrics.0-start" "before (a)=$OUT/metrics.1-before-a" \
    "(a) AXFR=$OUT/metrics.2-a" "between=$OUT/metrics.3-before-b" "(b) IXFR stream=$OUT/metrics.4-b" \
    "after (b)=$OUT/metrics.5-end" | tee -a "$OUT/summary.txt"
echo "IXFRs taken by Shoal: $IXFRS_TAKEN (for $IXFRS commits on the primary)" | tee -a "$OUT/summary.txt"
