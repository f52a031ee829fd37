#!/usr/bin/env bash
# Shoal against Knot DNS and NSD on the same 100k-name zone, measured with dnsperf and
# shoal-loadtest, with a UDP reflector as the machine's ceiling.
#
# Layout of a run (2 cores): the server is pinned to CPU 0 and the load to CPU 1, so each
# server gets exactly one core. Rounds interleave the servers (Shoal, Knot, NSD,
# reflector, Shoal, ...) so a slow minute of a shared machine hits all of them alike;
# the tables give the median and the min-max range over the rounds.
#
#   1. closed loop UDP: dnsperf and shoal-loadtest (-c 8 -q 1000), every server and the reflector;
#   2. closed loop TCP with pipelining: shoal-loadtest --tcp against Shoal, Knot and NSD;
#   3. latency at load: shoal-loadtest open loop at 80% of Shoal's median peak, p99 of each;
#   4. all cores: each server with 2 workers, nothing pinned, one round.
#   5. the zone itself, ROUNDS rounds: time from start to serving it from its master file
#      and memory (PSS) once loaded; then, as a secondary of a Shoal primary on CPU 1, time
#      from start to serving it by AXFR, and memory after.
#   6. the same zone signed with NSEC3 (ldns-signzone, ECDSA P-256, no salt, 0 iterations
#      as RFC 9276 asks), pinned as in 1, ROUNDS rounds of shoal-loadtest with every other
#      query carrying DO (as resolvers send them; dnsperf cannot mix), the reflector
#      again as the ceiling; and each server's memory (PSS) per record of the signed zone.
#
# Environment:
#   DURATION=10      seconds per measurement        ROUNDS=3      rounds of step 1 and 2
#   QUICK=1          2 s runs, 1 round (a smoke test of the script)
#   SKIP_INSTALL=1   do not apt-get knot, nsd, dnsperf
#   OUT=dir          results (default target/bench-peers): summary.txt, runs.csv, summary.csv, logs/
#   CARGO_TARGET_DIR where the release binaries are built (default target/ in the repo)
#   NAMES=100000     names in the zone              QUERIES=150000 lines in the query file
#   SIGNED_ONLY=1    run step 6 alone (e.g. NAMES=1000000 SIGNED_ONLY=1 for memory per
#                    record of a signed 1M-record zone)
#   PINNED_ONLY=1    run steps 1 to 3 alone
#   SHOAL_EXTRA=toml appended to Shoal's configuration, e.g. $'[rrl]\nrate = 10000000'
#                    for the cost of response rate limiting on a load it never limits
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-3}"
if [[ "${QUICK:-0}" == 1 ]]; then
    DURATION=2
    ROUNDS=1
fi
NAMES="${NAMES:-100000}"
QUERIES="${QUERIES:-150000}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$ROOT/target/bench-peers}"
SERVER_CPU=0
LOAD_CPU=1

# log, die, PIDS/WORK with cleanup on exit, stop, free_port, knot_conf, nsd_conf.
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"
EXTRA_NAME=""

# --- tools --------------------------------------------------------------------------------
install_peers knot nsd dnsperf ldnsutils
for tool in knotd nsd dnsperf taskset python3 cargo ldns-signzone ldns-keygen; do
    command -v "$tool" >/dev/null || die "$tool not found (install it or unset SKIP_INSTALL)"
done
[[ "$(nproc)" -ge 2 ]] || die "needs at least 2 cores (server on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"

build_release "$TARGET" shoal-engine shoal-loadtest
SHOAL="$TARGET/release/shoal"
LOADTEST="$TARGET/release/shoal-loadtest"

mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*.txt "$OUT"/logs/*.log "$OUT/runs.csv" "$OUT/summary.csv" "$OUT/summary.txt" "$OUT/zone.csv" "$OUT/signed.csv"
WORK="$(mktemp -d /tmp/bench-peers.XXXXXX)"

# --- zone and queries -----------------------------------------------------------------------
log "machine: $(nproc) cores, $(uname -r); $(knotd --version 2>&1 | head -1); $(nsd -v 2>&1 | head -1); $(dnsperf -h 2>&1 | grep -m1 Version)"
log "generating bench.test. ($NAMES names) and $QUERIES queries in $WORK"
python3 "$ROOT/scripts/lib/benchzone.py" "$WORK" "$NAMES" "$QUERIES"
# What the servers serve and the load sends (step 6 switches to the signed zone).
ZONE_FILE="$WORK/bench.test.zone"
QUERY_FILE="$WORK/queries.txt"

# Wait (at most 60 s) until the server on port $1 answers the SOA query with NOERROR.
wait_ready() {
    local port="$1" name="$2" pid="$3"
    for _ in $(seq 120); do
        kill -0 "$pid" 2>/dev/null || die "$name exited; see $OUT/logs/$name-server.log"
        local answer
        answer="$("$LOADTEST" run -p "$port" -d "$WORK/soa.txt" -l 0.05 -c 1 -q 1 -t 0.2 2>/dev/null || true)"
        [[ "$answer" == *"Response codes:       NOERROR"* ]] && return 0
        sleep 0.5
    done
    die "$name did not answer on port $port within 60 s"
}

# start_<server> WORKERS CPUSET: start it on a fresh port, set PORT and PID.
start_shoal() {
    local workers="$1" cpus="$2" dir="$WORK/shoal"
    mkdir -p "$dir"
    PORT="$(free_port)"
    cat >"$dir/shoal.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
workers = $workers

[[zone]]
name = "bench.test."
file = "$ZONE_FILE"
EOF
    printf '%s\n' "${SHOAL_EXTRA:-}" >>"$dir/shoal.toml"
    taskset -c "$cpus" "$SHOAL" serve --config "$dir/shoal.toml" >"$OUT/logs/shoal-server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_ready "$PORT" shoal "$PID"
}

start_knot() {
    local workers="$1" cpus="$2" dir="$WORK/knot"
    PORT="$(free_port)"
    knot_conf "$dir" "$PORT" "$workers" bench.test
    cp "$ZONE_FILE" "$dir/zones/bench.test.zone"
    taskset -c "$cpus" knotd -c "$dir/knot.conf" >"$OUT/logs/knot-server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_ready "$PORT" knot "$PID"
}

start_nsd() {
    local workers="$1" cpus="$2" dir="$WORK/nsd"
    PORT="$(free_port)"
    nsd_conf "$dir" "$PORT" "$workers" bench.test
    cp "$ZONE_FILE" "$dir/zones/bench.test.zone"
    taskset -c "$cpus" nsd -d -c "$dir/nsd.conf" >"$OUT/logs/nsd-server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_ready "$PORT" nsd "$PID"
}

start_reflector() {
    local cpus="$1" limit
    limit=$(python3 -c "print(int(($DURATION + 5) * ($ROUNDS * 2 + 6) + 600))")
    PORT="$(free_port)"
    taskset -c "$cpus" "$LOADTEST" reflect --listen "127.0.0.1:$PORT" --time-limit "$limit" \
        >"$OUT/logs/reflector-server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_ready "$PORT" reflector "$PID"
}

# --- one measurement: log file named SERVER-TOOL-EXTRA-rROUND.txt ------------------------------
# measure ROUND SERVER PORT TOOL PIN [extra args...]; TOOL is dnsperf, udp or tcp.
measure() {
    local round="$1" server="$2" port="$3" tool="$4" pin="$5"
    shift 5
    local name="$server-$tool${EXTRA_NAME:+-$EXTRA_NAME}-r$round" cmd=()
    [[ "$pin" != none ]] && cmd=(taskset -c "$pin")
    case "$tool" in
    dnsperf) cmd+=(dnsperf -s 127.0.0.1 -p "$port" -d "$QUERY_FILE" -l "$DURATION" -c 8 -q 1000 -t 1 "$@") ;;
    udp) cmd+=("$LOADTEST" run -p "$port" -d "$QUERY_FILE" -l "$DURATION" -c 8 -q 1000 "$@") ;;
    tcp) cmd+=("$LOADTEST" run --tcp -p "$port" -d "$QUERY_FILE" -l "$DURATION" -c 8 -q 1000 "$@") ;;
    esac
    {
        printf '# %s\n' "${cmd[*]}"
        printf '# loadavg before: %s\n' "$(cut -d' ' -f1-4 /proc/loadavg)"
    } >"$OUT/logs/$name.txt"
    # Bounded: the tools stop by themselves after DURATION; timeout is a safety net.
    if ! timeout $((DURATION * 3 + 30)) "${cmd[@]}" >>"$OUT/logs/$name.txt" 2>&1; then
        log "  $name failed (see $OUT/logs/$name.txt)"
        return 0
    fi
    log "  $(printf '%-34s' "$name") $(grep -m1 'Queries per second' "$OUT/logs/$name.txt" | awk '{printf "%12.0f q/s", $4}')" \
        "$(grep -m1 'Latency (us)' "$OUT/logs/$name.txt" | awk '{print "p50", $4, "p99", $8, "us"}')"
}

if [[ "${SIGNED_ONLY:-0}" != 1 ]]; then
# --- 1 and 2: pinned rounds ---------------------------------------------------------------------
log "starting servers pinned to CPU $SERVER_CPU (one worker each)"
declare -A PORTS SPIDS
start_shoal 1 "$SERVER_CPU"
PORTS[shoal]=$PORT SPIDS[shoal]=$PID
start_knot 1 "$SERVER_CPU"
PORTS[knot]=$PORT SPIDS[knot]=$PID
start_nsd 1 "$SERVER_CPU"
PORTS[nsd]=$PORT SPIDS[nsd]=$PID
start_reflector "$SERVER_CPU"
PORTS[reflector]=$PORT SPIDS[reflector]=$PID

BUSY=(--busy-poll)
for round in $(seq "$ROUNDS"); do
    log "round $round of $ROUNDS (${DURATION} s per run)"
    for server in shoal knot nsd reflector; do
        port=${PORTS[$server]}
        measure "$round" "$server" "$port" dnsperf "$LOAD_CPU"
        measure "$round" "$server" "$port" udp "$LOAD_CPU" "${BUSY[@]}"
        if [[ "$server" != reflector ]]; then
            measure "$round" "$server" "$port" tcp "$LOAD_CPU" "${BUSY[@]}"
        fi
    done
done

# --- 3: latency at 80% of Shoal's peak ------------------------------------------------------------
RATE=$(python3 - "$OUT/logs" <<'PY'
import glob, re, statistics, sys
q = []
for path in glob.glob(f"{sys.argv[1]}/shoal-udp-r*.txt"):
    m = re.search(r"Queries per second:\s+([0-9.]+)", open(path).read())
    if m:
        q.append(float(m.group(1)))
print(int(0.8 * statistics.median(q)) if q else 0)
PY
)
if [[ "$RATE" -gt 0 ]]; then
    log "latency: open loop at $RATE q/s (80% of Shoal's median peak)"
    EXTRA_NAME=open
    for round in $(seq "$ROUNDS"); do
        for server in shoal knot nsd; do
            measure "$round" "$server" "${PORTS[$server]}" udp "$LOAD_CPU" -Q "$RATE" -q 20000 --warmup 1 "${BUSY[@]}"
        done
    done
    EXTRA_NAME=""
else
    log "latency: skipped (no Shoal peak measured)"
fi
for server in shoal knot nsd reflector; do stop "${SPIDS[$server]}"; done

if [[ "${PINNED_ONLY:-0}" != 1 ]]; then
# --- 4: all cores, nothing pinned -----------------------------------------------------------------
log "all cores: 2 workers per server, load unpinned (2 threads), one round"
EXTRA_NAME=allcores
for server in shoal knot nsd; do
    "start_$server" 2 "0-$(($(nproc) - 1))"
    measure 1 "$server" "$PORT" dnsperf none -T 2
    measure 1 "$server" "$PORT" udp none -T 2
    stop "$PID"
done
EXTRA_NAME=""

# --- 5: load time, memory and AXFR in ------------------------------------------------------------
SERIAL=$(awk '$3 == "SOA" || $4 == "SOA" {print $(NF - 4); exit}' "$WORK/bench.test.zone")
log "zone: load from the master file and AXFR in (serial $SERIAL), $ROUNDS rounds"
PPORT=$(free_port)
mkdir -p "$WORK/primary"
cat >"$WORK/primary/shoal.toml" <<EOF
[server]
listen = ["127.0.0.1:$PPORT"]
workers = 1

[[zone]]
name = "bench.test."
file = "$WORK/bench.test.zone"
allow_transfer = ["127.0.0.1"]
EOF
PIN="$LOAD_CPU" start_server shoal "$WORK/primary"
PRIMARY_PID=$PID
wait_ready "$PPORT" primary "$PRIMARY_PID"
# zone_server SERVER MODE DIR PORT: configure and start SERVER on CPU 0 with one worker,
# serving bench.test. from its master file (MODE file) or from the primary (secondary).
zone_server() {
    local server="$1" mode="$2" dir="$3" port="$4" primary=""
    rm -rf "$dir"
    mkdir -p "$dir"
    [[ "$mode" == secondary ]] && primary="127.0.0.1@$PPORT"
    case "$server" in
    shoal)
        local source="file = \"$WORK/bench.test.zone\""
        [[ "$mode" == secondary ]] && source="primaries = [\"127.0.0.1:$PPORT\"]"
        printf '[server]\nlisten = ["127.0.0.1:%s"]\nworkers = 1\nstate_dir = "%s/state"\n\n[[zone]]\nname = "bench.test."\n%s\n' \
            "$port" "$dir" "$source" >"$dir/shoal.toml"
        ;;
    knot) PRIMARY="$primary" knot_conf "$dir" "$port" 1 bench.test ;;
    nsd) PRIMARY="$primary" nsd_conf "$dir" "$port" 1 bench.test ;;
    esac
    [[ "$server" != shoal && "$mode" == file ]] && cp "$WORK/bench.test.zone" "$dir/zones/bench.test.zone"
    PIN="$SERVER_CPU" start_server "$server" "$dir"
}
echo "server,kind,round,seconds,pss" >"$OUT/zone.csv"
for round in $(seq "$ROUNDS"); do
    for server in shoal knot nsd; do
        for mode in file secondary; do
            port=$(free_port)
            zone_server "$server" "$mode" "$WORK/zone-$server-$mode" "$port"
            t=$(serving_after "$port" bench.test "$SERIAL" 120 "$START")
            [[ "$t" != -1 ]] || die "$server ($mode) did not serve bench.test. within 120 s"
            sleep 1
            echo "$server,$mode,$round,$t,$(pss "$PID")" >>"$OUT/zone.csv"
            log "  $server-$mode-r$round: serving after $t s, PSS $(($(pss "$PID") >> 20)) MiB"
            stop "$PID"
        done
    done
done
stop "$PRIMARY_PID"
fi

fi

if [[ "${PINNED_ONLY:-0}" != 1 ]]; then
# --- 6: the zone signed with NSEC3, half the queries with DO -------------------------------------
log "signing bench.test. with NSEC3 (ldns-signzone, ECDSA P-256, no salt, 0 iterations)"
sign_zone "$WORK/bench.test.zone" "$WORK/bench.test.signed" "$WORK/keys"
SIGNED_RECORDS=$(grep -cv '^;' "$WORK/bench.test.signed")
awk 'NR % 2 == 0 {print $0 " DO"; next} {print}' "$WORK/queries.txt" >"$WORK/queries-do.txt"
ZONE_FILE="$WORK/bench.test.signed"
QUERY_FILE="$WORK/queries-do.txt"
log "signed zone: $SIGNED_RECORDS records; starting servers pinned to CPU $SERVER_CPU"
declare -A SPORTS SSPIDS
echo "server,records,pss" >"$OUT/signed.csv"
for server in shoal knot nsd; do
    "start_$server" 1 "$SERVER_CPU"
    SPORTS[$server]=$PORT SSPIDS[$server]=$PID
    sleep 1
    echo "$server,$SIGNED_RECORDS,$(pss "$PID")" >>"$OUT/signed.csv"
    log "  $server: PSS $(($(pss "$PID") >> 20)) MiB serving the signed zone"
done
start_reflector "$SERVER_CPU"
SPORTS[reflector]=$PORT SSPIDS[reflector]=$PID
EXTRA_NAME=signed
for round in $(seq "$ROUNDS"); do
    for server in shoal knot nsd reflector; do
        measure "$round" "$server" "${SPORTS[$server]}" udp "$LOAD_CPU" --busy-poll
    done
done
EXTRA_NAME=""
for server in shoal knot nsd reflector; do stop "${SSPIDS[$server]}"; done
fi

# --- tables -----------------------------------------------------------------------------------------
python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import csv, glob, os, re, statistics, sys
out = sys.argv[1]
runs = []
for path in sorted(glob.glob(f"{out}/logs/*-r*.txt")):
    base = os.path.basename(path)[:-4]
    parts = base.split("-")
    server, tool, rnd = parts[0], parts[1], int(parts[-1][1:])
    kind = parts[2] if len(parts) == 4 else "peak"
    text = open(path).read()
    num = lambda pat: (float(m.group(1)) if (m := re.search(pat, text)) else None)
    qps = num(r"Queries per second:\s+([0-9.]+)")
    if qps is None:
        continue
    lat = re.search(r"Latency \(us\):\s+p50 ([0-9.]+)\s+p90 ([0-9.]+)\s+p99 ([0-9.]+)", text)
    codes = re.search(r"Response codes:\s+(.*)", text)
    lossy = re.search(r"Latency with losses:.*?p99 (\S+)", text)
    p99_all = "" if not lossy else (float("inf") if lossy.group(1) == "lost" else float(lossy.group(1)))
    runs.append(dict(server=server, tool="dnsperf" if tool == "dnsperf" else f"shoal-loadtest/{tool}", kind=kind,
                     round=rnd, qps=qps, avg_us=1e6 * (num(r"Average Latency \(s\):\s+([0-9.]+)") or 0),
                     p50_us=float(lat.group(1)) if lat else "", p99_us=float(lat.group(3)) if lat else "", p99_all_us=p99_all,
                     sent=int(num(r"Queries sent:\s+(\d+)") or 0), lost=int(num(r"Queries lost:\s+(\d+)") or 0),
                     errors=int(num(r"Errors:\s+(\d+)") or 0), rcodes=codes.group(1).strip() if codes else "",
                     loadavg=num(r"# loadavg before: ([0-9.]+)") or 0.0))
fields = ["kind", "server", "tool", "round", "qps", "avg_us", "p50_us", "p99_us", "p99_all_us", "sent", "lost", "errors", "rcodes",
          "loadavg"]
with open(f"{out}/runs.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=fields)
    w.writeheader()
    w.writerows(runs)

order = {"shoal": 0, "knot": 1, "nsd": 2, "reflector": 3}
groups = {}
for r in runs:
    groups.setdefault((r["kind"], r["tool"], r["server"]), []).append(r)
summary = []
for (kind, tool, server), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "peak", kv[0][0], kv[0][1], order.get(kv[0][2], 9))):
    qs = [r["qps"] for r in rs]
    med = lambda key: statistics.median([r[key] for r in rs if r[key] != ""]) if any(r[key] != "" for r in rs) else ""
    summary.append(dict(kind=kind, tool=tool, server=server, runs=len(rs), qps_median=statistics.median(qs),
                        qps_min=min(qs), qps_max=max(qs), avg_us=med("avg_us"), p50_us=med("p50_us"), p99_us=med("p99_us"), p99_all_us=med("p99_all_us"),
                        lost=sum(r["lost"] for r in rs), sent=sum(r["sent"] for r in rs), errors=sum(r["errors"] for r in rs)))
with open(f"{out}/summary.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(summary[0].keys()) if summary else ["kind"])
    w.writeheader()
    w.writerows(summary)

fmt = lambda v, spec: ("-" if v == "" else "lost" if v == float("inf") else format(v, spec))
titles = {"peak": "Peak, closed loop, server pinned to 1 core", "open": "Latency at 80% of Shoal's peak (open loop)",
          "allcores": "All cores: 2 workers, nothing pinned (1 round)",
          "signed": "Signed (NSEC3) zone, every other query with DO, closed loop, server pinned to 1 core"}
for kind in ["peak", "open", "allcores", "signed"]:
    rows = [s for s in summary if s["kind"] == kind]
    if not rows:
        continue
    print(f"\n{titles[kind]}\n")
    print(f"{'tool':<22} {'server':<10} {'runs':>4} {'q/s median':>11} {'min-max':>19} {'avg us':>8} {'p50 us':>8} {'p99 us':>9} {'p99+loss':>9} {'lost %':>7} {'errors':>6}")
    for s in rows:
        rng = f"{s['qps_min']:.0f}-{s['qps_max']:.0f}"
        lost = 100 * s["lost"] / s["sent"] if s["sent"] else 0
        print(f"{s['tool']:<22} {s['server']:<10} {s['runs']:>4} {s['qps_median']:>11.0f} {rng:>19} {fmt(s['avg_us'], '8.1f'):>8} "
              f"{fmt(s['p50_us'], '8.1f'):>8} {fmt(s['p99_us'], '9.1f'):>9} {fmt(s['p99_all_us'], '9.1f'):>9} {lost:>7.2f} {s['errors']:>6}")
    by = {(s["tool"], s["server"]): s["qps_median"] for s in rows}
    print()
    for tool in sorted({s["tool"] for s in rows}):
        sh = by.get((tool, "shoal"))
        if not sh:
            continue
        parts = [f"Shoal/{peer} {sh / by[(tool, peer)]:.2f}" for peer in ("knot", "nsd", "reflector")
                 if by.get((tool, peer))]
        if kind == "peak" and by.get((tool, "reflector")):
            parts[-1] = f"Shoal = {100 * sh / by[(tool, 'reflector')]:.0f}% of the reflector"
        peers = [by[(tool, p)] for p in ("knot", "nsd") if by.get((tool, p))]
        if kind == "signed" and peers:
            parts.append(f"Shoal/faster peer {sh / max(peers):.2f}")
        print(f"  {tool:<22} " + ", ".join(parts))

if any(s["kind"] == "open" for s in summary):
    print("\n  p99+loss: the 99th percentile over every query sent, a lost or skipped one counting as never answered"
          " ('lost' when more than 1% went unanswered); p99 counts answers only.")
    lat = {s["server"]: s for s in summary if s["kind"] == "open"}
    if "shoal" in lat:
        for peer in ("knot", "nsd"):
            if peer in lat:
                a, b = lat["shoal"]["p99_all_us"], lat[peer]["p99_all_us"]
                verdict = "no worse" if a != "" and b != "" and a <= b else "WORSE"
                print(f"  p99+loss at the same rate: Shoal {fmt(a, '.0f')} us, {peer} {fmt(b, '.0f')} us: Shoal is {verdict}")
print("\nResponse codes (first run of shoal-loadtest/udp per server; they should agree):")
for server in ("shoal", "knot", "nsd"):
    r = next((r for r in runs if r["server"] == server and r["tool"] == "shoal-loadtest/udp"), None)
    if r:
        print(f"  {server:<6} {r['rcodes']}")
lg = {s["server"]: s["qps_median"] for s in summary if s["kind"] == "peak" and s["server"] == "reflector"}
d = next((s for s in summary if s["kind"] == "peak" and s["tool"] == "dnsperf" and s["server"] == "reflector"), None)
u = next((s for s in summary if s["kind"] == "peak" and s["tool"] == "shoal-loadtest/udp" and s["server"] == "reflector"), None)
if d and u:
    print(f"\nLoad generators against the reflector: shoal-loadtest {u['qps_median']:.0f} q/s, dnsperf {d['qps_median']:.0f} q/s")
busy = max((r["loadavg"] for r in runs), default=0)
if busy > 2.5:
    print(f"\nNote: the 1-minute load average reached {busy:.2f} before a run (a quiet machine shows about 2 here:"
          " the server and the load). Other jobs shared the cores; treat the figures as noisy and compare rounds.")
zone = {}
if os.path.exists(f"{out}/zone.csv"):
    for r in csv.DictReader(open(f"{out}/zone.csv")):
        zone.setdefault((r["server"], r["kind"]), []).append((float(r["seconds"]), int(r["pss"])))
if zone:
    print("\nThe zone itself: from its master file, and by AXFR from a Shoal primary on the other core"
          " (medians over the rounds; memory is PSS once serving)\n")
    print(f"{'server':<8} {'load s':>7} {'min-max':>12} {'PSS MiB':>8} {'AXFR in s':>10} {'min-max':>12} {'PSS MiB':>8}")
    med = {}
    for server in ("shoal", "knot", "nsd"):
        cols = []
        for kind in ("file", "secondary"):
            v = zone.get((server, kind), [])
            if not v:
                cols += ["-", "-", "-"]
                continue
            t = statistics.median(x[0] for x in v)
            m = statistics.median(x[1] for x in v) / 2**20
            med[(server, kind)] = (t, m)
            cols += [f"{t:.2f}", f"{min(x[0] for x in v):.2f}-{max(x[0] for x in v):.2f}", f"{m:.1f}"]
        print(f"{server:<8} {cols[0]:>7} {cols[1]:>12} {cols[2]:>8} {cols[3]:>10} {cols[4]:>12} {cols[5]:>8}")
    print()
    for peer in ("knot", "nsd"):
        parts = []
        for kind, what in (("file", "load time"), ("secondary", "AXFR in")):
            a, b = med.get(("shoal", kind)), med.get((peer, kind))
            if a and b:
                parts.append(f"{what} {a[0] / b[0]:.2f}, memory {a[1] / b[1]:.2f}")
        if parts:
            print(f"  Shoal/{peer}: " + "; ".join(parts))
if os.path.exists(f"{out}/signed.csv"):
    rows = list(csv.DictReader(open(f"{out}/signed.csv")))
    if rows:
        print(f"\nMemory serving the signed zone ({rows[0]['records']} records, PSS once loaded)\n")
        by = {r["server"]: int(r["pss"]) for r in rows}
        for server, pss in by.items():
            print(f"  {server:<6} {pss / 2**20:8.1f} MiB  {pss / int(rows[0]['records']):6.0f} bytes/record")
        for peer in ("knot", "nsd"):
            if by.get("shoal") and by.get(peer):
                print(f"  Shoal/{peer} memory {by['shoal'] / by[peer]:.2f}")
print(f"\nCSV: {out}/runs.csv (every run), {out}/summary.csv, {out}/zone.csv; raw outputs in {out}/logs/")
PY
