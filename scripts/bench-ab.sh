#!/usr/bin/env bash
# Shoal against Shoal: the same zone and queries (scripts/lib/benchzone.py, as
# bench-peers.sh serves them) answered by a build of BASE (a git revision) and by a
# build of the working tree, alternately, each pinned to CPU 0 with the load
# (shoal-loadtest, closed loop) on CPU 1. The rounds interleave the builds (and swap
# which goes first) so that a slow minute of a shared machine hits both alike.
#
# For a change that should leave speed alone (a restructuring) this tells whether it
# did, within the machine's noise. Comparing two runs of bench-peers.sh cannot: Knot
# and NSD move between runs as much as a regression would. Speed against Knot and NSD
# is still bench-peers.sh's job.
#
# Usage: scripts/bench-ab.sh BASE            e.g. scripts/bench-ab.sh HEAD~5
#
# Environment:
#   DURATION=8       seconds per measurement        ROUNDS=5      rounds (each build, UDP and TCP)
#   NAMES=100000     names in the zone              QUERIES=150000 lines in the query file
#   OUT=dir          results (default target/bench-ab): summary.txt, runs.csv, logs/
#   CARGO_TARGET_DIR where the working tree's release binaries go (default target/)
# BASE is checked out in target/bench-ab-base/ (a git worktree kept between runs, so
# its build is incremental) and built there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${1:?usage: scripts/bench-ab.sh BASE (a git revision)}"
DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-5}"
NAMES="${NAMES:-100000}"
QUERIES="${QUERIES:-150000}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$ROOT/target/bench-ab}"
BASE_TREE="$ROOT/target/bench-ab-base"
SERVER_CPU=0
LOAD_CPU=1

# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"

for tool in taskset python3 cargo git; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ "$(nproc)" -ge 2 ]] || die "needs at least 2 cores (server on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"
base_rev="$(git -C "$ROOT" rev-parse --verify "$BASE^{commit}")" || die "$BASE is not a revision"
head_rev="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo '+changes')"

build_release "$TARGET" shoal-engine shoal-loadtest
if [[ ! -d "$BASE_TREE" ]]; then
    git -C "$ROOT" worktree add --detach "$BASE_TREE" "$base_rev" >/dev/null
fi
git -C "$BASE_TREE" checkout -q --detach "$base_rev"
log "building $BASE ($(git -C "$ROOT" rev-parse --short "$base_rev")) in $BASE_TREE"
(cd "$BASE_TREE" && CARGO_TARGET_DIR="$BASE_TREE/target" cargo build --release -q --package=shoal-engine)
declare -A SHOAL=([base]="$BASE_TREE/target/release/shoal" [head]="$TARGET/release/shoal")
LOADTEST="$TARGET/release/shoal-loadtest"

mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*.txt "$OUT/runs.csv" "$OUT/summary.txt"
WORK="$(mktemp -d /tmp/bench-ab.XXXXXX)"
log "generating bench.test. ($NAMES names) and $QUERIES queries in $WORK"
python3 "$ROOT/scripts/lib/benchzone.py" "$WORK" "$NAMES" "$QUERIES"

# start BUILD: serve the zone from that build, pinned; sets PORT and PID.
start() {
    local build="$1" dir="$WORK/$1"
    mkdir -p "$dir"
    PORT="$(free_port)"
    printf '[server]\nlisten = ["127.0.0.1:%s"]\nworkers = 1\nstate_dir = "%s/state"\n\n[[zone]]\nname = "bench.test."\nfile = "%s/bench.test.zone"\n' \
        "$PORT" "$dir" "$WORK" >"$dir/shoal.toml"
    taskset -c "$SERVER_CPU" "${SHOAL[$build]}" serve --config "$dir/shoal.toml" >"$OUT/logs/$build-server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 120); do
        kill -0 "$PID" 2>/dev/null || die "$build exited; see $OUT/logs/$build-server.log"
        if "$LOADTEST" run -p "$PORT" -d "$WORK/soa.txt" -l 0.05 -c 1 -q 1 -t 0.2 2>/dev/null |
            grep -q 'Response codes:       NOERROR'; then
            return 0
        fi
        sleep 0.5
    done
    die "$build did not answer within 60 s"
}

echo "round,build,transport,qps" >"$OUT/runs.csv"
for round in $(seq "$ROUNDS"); do
    order=(base head)
    ((round % 2 == 0)) && order=(head base)
    log "round $round of $ROUNDS: ${order[*]}"
    for build in "${order[@]}"; do
        start "$build"
        for transport in udp tcp; do
            name="$build-$transport-r$round"
            flags=()
            [[ "$transport" == tcp ]] && flags=(--tcp)
            # Bounded: the tool stops by itself after DURATION; timeout is a safety net.
            timeout $((DURATION * 3 + 30)) taskset -c "$LOAD_CPU" "$LOADTEST" run "${flags[@]}" -p "$PORT" \
                -d "$WORK/queries.txt" -l "$DURATION" -c 8 -q 1000 >"$OUT/logs/$name.txt" 2>&1 ||
                die "$name failed (see $OUT/logs/$name.txt)"
            qps="$(awk '/Queries per second/ {print int($4); exit}' "$OUT/logs/$name.txt")"
            echo "$round,$build,$transport,$qps" >>"$OUT/runs.csv"
            log "  $(printf '%-16s' "$name") $qps q/s"
        done
        stop "$PID"
    done
done

python3 - "$OUT/runs.csv" "$BASE ($(git -C "$ROOT" rev-parse --short "$base_rev"))" "$head_rev" "$DURATION" "$ROUNDS" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
path, base, head, duration, rounds = sys.argv[1:]
runs = list(csv.DictReader(open(path)))
print(f"Shoal {head} (head) against {base} (base): closed loop, {rounds} rounds of {duration} s,")
print("server pinned to CPU 0, shoal-loadtest -c 8 -q 1000 on CPU 1\n")
print(f"{'transport':10} {'base q/s median':>16} {'min-max':>17} {'head q/s median':>16} {'min-max':>17} {'head/base':>10}")
for t in ("udp", "tcp"):
    q = {b: [int(r["qps"]) for r in runs if r["transport"] == t and r["build"] == b] for b in ("base", "head")}
    if not q["base"] or not q["head"]:
        continue
    mb, mh = statistics.median(q["base"]), statistics.median(q["head"])
    # Paired by round: the two builds of one round ran a minute apart.
    pairs = [h / b for b, h in zip(q["base"], q["head"]) if b]
    print(f"{t:10} {mb:16.0f} {min(q['base']):8}-{max(q['base']):<8} {mh:16.0f} {min(q['head']):8}-{max(q['head']):<8} {mh / mb:10.3f}")
    print(f"{'':10} head/base by round: {', '.join(f'{p:.3f}' for p in pairs)}")
PY
