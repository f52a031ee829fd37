#!/usr/bin/env bash
# Many zones changing at once, end to end: ZONES small zones on a Knot primary, RATE of
# them changed per second for DURATION seconds (each by NOTIFY and IXFR), and the time
# until the secondary serves each change; Shoal as the secondary, then Knot doing the
# same work in the same run.
#
# The primary (Knot, CPU 1) loads the zones from files and keeps their changes in its
# journal (not fsynced: `journal-db-mode: asynchronous`, so that the primary is not what
# limits the rate); scripts/lib/change_stream.py (CPU 1) rewrites RATE/10 zone files every 100 ms,
# has the primary load them with one `knotc zone-reload`, and polls the secondary (CPU
# 0) until it serves each new serial. A change's time runs from just before that knotc
# call, so it includes the primary's loading and NOTIFY. Before the changes, the time
# for the secondary to take every zone (AXFR) from the primary is measured too.
#
# Knot as the secondary keeps each zone in its journal (`journal-content: all`, no zone
# file written), as Shoal keeps its copies and journals in `state_dir`.
#
# Environment: ZONES=100000, RATE=1000 (changes per second), DURATION=60 (seconds),
# SERVERS="shoal knot", OUT=target/bench-changes, SKIP_INSTALL=1, CARGO_TARGET_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ZONES="${ZONES:-100000}"
RATE="${RATE:-1000}"
DURATION="${DURATION:-60}"
SERVERS="${SERVERS:-shoal knot}"
OUT="${OUT:-$ROOT/target/bench-changes}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"
install_peers knot
for tool in knotd knotc taskset python3 cargo; do command -v "$tool" >/dev/null || die "$tool not found"; done
build_release "$TARGET" shoal-engine
SHOAL="$TARGET/release/shoal"
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*.log "$OUT"/*.csv "$OUT/summary.txt"
WORK="$(mktemp -d /tmp/bench-changes.XXXXXX)"
PPORT=$(free_port)
SPORT=$(free_port)
MPORT=$(free_port)
mapfile -t DOMAINS < <(seq -f 'z%.0f.test' 0 $((ZONES - 1)))

# all_served PORT SERIAL LIMIT: seconds until every zone answers its SOA with at least
# SERIAL (500 queries in flight, each unanswered one asked again after 200 ms); -1 if
# not within LIMIT seconds.
all_served() {
    python3 - "$1" "$ZONES" "$2" "$3" "$ROOT/scripts/lib" <<'PY'
import select, socket, sys, time
sys.path.insert(0, sys.argv[5])
from dnsmsg import soa_query, soa_serial
port, n, serial, limit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
start = time.monotonic()
todo = list(range(n))
asked = {}
while (todo or asked) and time.monotonic() - start < limit:
    now = time.monotonic()
    for i in [i for i, t in asked.items() if now - t > 0.2]:
        del asked[i]
        todo.append(i)
    while todo and len(asked) < 500:
        i = todo.pop()
        s.sendto(soa_query(f"z{i}.test", i & 0xFFFF), ("127.0.0.1", port))
        asked[i] = now
    select.select([s], [], [], 0.05)
    while True:
        try:
            m = s.recv(4096)
        except BlockingIOError:
            break
        got = soa_serial(m)
        if not got:
            continue
        i = int(got[0].split(".")[0][1:])
        if i in asked and got[1] >= serial:
            del asked[i]
print(f"{time.monotonic() - start:.1f}" if not todo and not asked else "-1")
PY
}

log "writing $ZONES zones"
mkdir -p "$WORK/primary/zones" "$WORK/primary/db" "$WORK/primary/run"
python3 "$ROOT/scripts/lib/change_stream.py" --write "$WORK/primary/zones" "$ZONES"
{
    cat <<CONF
server:
    rundir: "$WORK/primary/run"
    listen: 127.0.0.1@$PPORT
    user: root:root
log:
  - target: stderr
    any: warning
database:
    storage: "$WORK/primary/db"
    journal-db-mode: asynchronous
remote:
  - id: secondary
    address: 127.0.0.1@$SPORT
acl:
  - id: local
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "$WORK/primary/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
    notify: secondary
    acl: local
zone:
CONF
    for d in "${DOMAINS[@]}"; do printf '  - domain: %s\n' "$d"; done
} >"$WORK/primary/knot.conf"
PIN=1 start_server knot "$WORK/primary"
PRIMARY_PID=$PID
[[ "$(all_served "$PPORT" 1 300)" != -1 ]] || die "the Knot primary did not load every zone"
log "primary serves $ZONES zones"

echo "server,zones,initial_seconds,changes,served,missed,p50_ms,p99_ms,max_ms" >"$OUT/changes.csv"
for server in $SERVERS; do
    dir="$WORK/$server"
    mkdir -p "$dir"
    case "$server" in
        shoal)
            {
                printf '[server]\nlisten = ["127.0.0.1:%s"]\nworkers = 1\nstate_dir = "%s/state"\n' "$SPORT" "$dir"
                printf '[metrics]\nlisten = "127.0.0.1:%s"\n' "$MPORT"
                for d in "${DOMAINS[@]}"; do
                    printf '[[zone]]\nname = "%s."\nprimaries = ["127.0.0.1:%s"]\n' "$d" "$PPORT"
                done
            } >"$dir/shoal.toml"
            ;;
        knot)
            PRIMARY="127.0.0.1@$PPORT" knot_conf "$dir" "$SPORT" 1 "${DOMAINS[@]}"
            sed -i 's/journal-content: none/journal-content: all/' "$dir/knot.conf"
            ;;
        *) die "unknown server $server" ;;
    esac
    PIN=0 start_server "$server" "$dir"
    pid=$PID
    initial=$(all_served "$SPORT" 1 900)
    [[ "$initial" != -1 ]] || die "$server did not take every zone within 900 s"
    log "$server serves all $ZONES zones after ${initial}s; $RATE changes/s for ${DURATION}s"
    sleep 5
    line=$(taskset -c 1 python3 "$ROOT/scripts/lib/change_stream.py" "$WORK/primary/run/knot.sock" \
        "$WORK/primary/zones" "$ZONES" "$RATE" "$DURATION" "$SPORT" "$OUT/$server.csv")
    log "$server: changes,served,missed,p50,p99,max = $line"
    echo "$server,$ZONES,$initial,$line" >>"$OUT/changes.csv"
    if [[ "$server" == shoal ]]; then
        curl -s "http://127.0.0.1:$MPORT/metrics?zones=no" | grep -v -E '^#|_bucket' >"$OUT/logs/shoal-metrics.txt" || true
    fi
    stop "$pid"
done
stop "$PRIMARY_PID"
python3 - "$OUT/changes.csv" "$RATE" "$DURATION" <<'PY' | tee "$OUT/summary.txt"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f"\n{rows[0]['zones']} zones on a Knot primary, {sys.argv[2]} changed per second for {sys.argv[3]} s (NOTIFY, IXFR):")
print("time from the primary's load of each change until the secondary serves it\n")
print(f"{'secondary':>9} {'take all (s)':>12} {'changes':>8} {'served':>7} {'missed':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
for r in rows:
    print(f"{r['server']:>9} {r['initial_seconds']:>12} {r['changes']:>8} {r['served']:>7} {r['missed']:>7} "
          f"{r['p50_ms']:>7} {r['p99_ms']:>7} {r['max_ms']:>7}")
PY
