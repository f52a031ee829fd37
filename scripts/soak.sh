#!/usr/bin/env bash
# Soak: Shoal (one worker, CPU 0) under an open-loop UDP load at 80% of its peak for
# DURATION seconds (shoal-loadtest on CPU 1), while its primary zone is reloaded every
# 10 s (a changed file, SIGHUP) and a secondary zone takes an IXFR every second (from a
# second Shoal on CPU 1 whose file changes each second). Then the same load for QUIET
# seconds with nothing changing, for comparison. It reports:
#
#   - resident memory of the server, sampled every 10 s: the first minute's median
#     against the last minute's (flat: within 5%);
#   - answers lost during the soak against the kernel's UDP receive-buffer drops
#     (/proc/net/snmp RcvbufErrors) over the same time: none lost beyond those;
#   - p99 latency of the soak against the quiet run's (within twice);
#   - the serials the secondary zone went through (every IXFR taken).
#
# Environment: DURATION=600, QUIET=60, NAMES=100000, OUT=dir (default target/soak),
# CARGO_TARGET_DIR. Prints a table; summary.txt, rss.csv, timeline.csv and logs/ in OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-600}"
QUIET="${QUIET:-60}"
NAMES="${NAMES:-100000}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$ROOT/target/soak}"

# log, die, PIDS/WORK with cleanup on exit, stop, free_port, build_release.
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"

for tool in taskset python3 cargo; do command -v "$tool" >/dev/null || die "$tool not found"; done
build_release "$TARGET" shoal-engine shoal-loadtest
SHOAL="$TARGET/release/shoal"
LOAD="$TARGET/release/shoal-loadtest"
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/* "$OUT"/*.csv "$OUT/summary.txt"
WORK="$(mktemp -d /tmp/soak.XXXXXX)"

python3 "$ROOT/scripts/lib/benchzone.py" "$WORK" "$NAMES" 150000 >/dev/null
# churn.test.: the zone whose file changes (reloaded every 10 s); feed.test.: the
# primary's zone, changed every second.
zone_text() { # ORIGIN SERIAL
    printf '$ORIGIN %s\n$TTL 300\n@ SOA ns1 h %s 3600 600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nv A 10.0.%s.%s\n' \
        "$1" "$2" $(($2 / 250 % 250)) $(($2 % 250))
}
zone_text churn.test. 1 >"$WORK/churn.zone"
zone_text feed.test. 1 >"$WORK/feed.zone"
PORT=$(free_port)
PPORT=$(free_port)
METRICS=$(free_port)
cat >"$WORK/primary.toml" <<EOF
[server]
listen = ["127.0.0.1:$PPORT"]
workers = 1
state_dir = "$WORK/pstate"
[[zone]]
name = "feed.test."
file = "$WORK/feed.zone"
allow_transfer = ["127.0.0.1"]
notify = ["127.0.0.1:$PORT"]
EOF
cat >"$WORK/shoal.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
workers = 1
state_dir = "$WORK/state"
[metrics]
listen = "127.0.0.1:$METRICS"
[[zone]]
name = "bench.test."
file = "$WORK/bench.test.zone"
[[zone]]
name = "churn.test."
file = "$WORK/churn.zone"
[[zone]]
name = "feed.test."
primaries = ["127.0.0.1:$PPORT"]
EOF
taskset -c 1 "$SHOAL" serve --config "$WORK/primary.toml" >"$OUT/logs/primary.log" 2>&1 &
PRIMARY=$!
PIDS+=("$PRIMARY")
taskset -c 0 "$SHOAL" serve --config "$WORK/shoal.toml" >"$OUT/logs/shoal.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
for _ in $(seq 300); do
    [[ "$(serving_after "$PORT" feed.test 1 0.2 "$(date +%s.%N)")" != -1 ]] && break
done

rcvbuf_errors() { awk '/^Udp:/ {n++} /^Udp:/ && n == 2 {print $6}' /proc/net/snmp; }
rss_kb() { status_kb "$SERVER" VmRSS; }

log "peak: 10 s closed loop"
taskset -c 1 "$LOAD" run -p "$PORT" -d "$WORK/queries.txt" -l 10 --busy-poll >"$OUT/logs/peak.txt"
PEAK=$(awk '/Queries per second/ {printf "%d", $4}' "$OUT/logs/peak.txt")
RATE=$((PEAK * 8 / 10))
log "peak $PEAK q/s; soak at $RATE q/s for $DURATION s"

# The changes: feed.test. every second on the primary, churn.test. every 10 s here.
(
    serial=1
    end=$(($(date +%s) + DURATION))
    while [[ $(date +%s) -lt $end ]]; do
        sleep 1
        serial=$((serial + 1))
        zone_text feed.test. "$serial" >"$WORK/feed.zone.new" && mv "$WORK/feed.zone.new" "$WORK/feed.zone"
        kill -HUP "$PRIMARY"
        if ((serial % 10 == 0)); then
            zone_text churn.test. "$serial" >"$WORK/churn.zone.new" && mv "$WORK/churn.zone.new" "$WORK/churn.zone"
            kill -HUP "$SERVER"
        fi
        echo "$serial" >"$WORK/serial"
    done
) &
CHANGER=$!
PIDS+=("$CHANGER")
(
    echo "seconds,rss_kb" >"$OUT/rss.csv"
    start=$(date +%s)
    while kill -0 "$SERVER" 2>/dev/null && [[ $(($(date +%s) - start)) -le $((DURATION + 5)) ]]; do
        echo "$(($(date +%s) - start)),$(rss_kb)" >>"$OUT/rss.csv"
        sleep 10
    done
) &
SAMPLER=$!
PIDS+=("$SAMPLER")
drops0=$(rcvbuf_errors)
taskset -c 1 "$LOAD" run -p "$PORT" -d "$WORK/queries.txt" -Q "$RATE" -l "$DURATION" -q 20000 \
    --timeline "$OUT/timeline.csv" --window-ms 1000 >"$OUT/logs/soak.txt"
drops=$(($(rcvbuf_errors) - drops0))
wait "$CHANGER" 2>/dev/null || true
stop "$SAMPLER"
last_serial=$(cat "$WORK/serial" 2>/dev/null || echo 1)
served_serial=$(python3 - "$ROOT/scripts/lib" "$PORT" <<'PY'
import socket, sys
sys.path.insert(0, sys.argv[1])
from dnsmsg import soa_query, soa_serial
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(soa_query("feed.test", 7), ("127.0.0.1", int(sys.argv[2])))
got = soa_serial(s.recv(4096)); print(got[1] if got else -1)
PY
)
log "quiet: $QUIET s at $RATE q/s, nothing changing"
taskset -c 1 "$LOAD" run -p "$PORT" -d "$WORK/queries.txt" -Q "$RATE" -l "$QUIET" -q 20000 >"$OUT/logs/quiet.txt"
xfrs=$(grep -c 'transfer in done.*feed.test' "$OUT/logs/shoal.log" || true)

python3 - "$OUT" "$drops" "$RATE" "$DURATION" "$last_serial" "$served_serial" "$xfrs" <<'PY' | tee "$OUT/summary.txt"
import csv, re, statistics, sys
out, drops, rate, duration, last, served, xfrs = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
rows = [r for r in csv.DictReader(open(f"{out}/rss.csv")) if r["rss_kb"]]
first = statistics.median(int(r["rss_kb"]) for r in rows if int(r["seconds"]) <= 60)
last_min = statistics.median(int(r["rss_kb"]) for r in rows if int(r["seconds"]) >= int(duration) - 60)
def stats(name):
    t = open(f"{out}/logs/{name}.txt").read()
    sent = int(re.search(r"Queries sent:\s+(\d+)", t).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", t).group(1))
    p99 = float(re.search(r"Latency \(us\):.*p99 ([0-9.]+)", t).group(1))
    return sent, lost, p99
s_sent, s_lost, s_p99 = stats("soak")
q_sent, q_lost, q_p99 = stats("quiet")
print(f"Soak: {duration} s at {rate} q/s (80% of peak), zone reload every 10 s, IXFR every second")
print(f"  resident memory: first minute {first / 1024:.1f} MiB, last minute {last_min / 1024:.1f} MiB ({(last_min - first) / first * 100:+.1f}%)")
print(f"  answers lost: {s_lost} of {s_sent}; kernel UDP receive-buffer drops meanwhile: {drops}")
print(f"  p99: soak {s_p99:.1f} us, quiet {q_p99:.1f} us ({s_p99 / q_p99:.2f}x); quiet lost {q_lost} of {q_sent}")
print(f"  feed.test.: primary at serial {last}, served {served}; {xfrs} transfers in")
PY
