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
# Load times are the median of ROUNDS (default 3) starts of each server, interleaved
# (A B C A B C ...); this machine's timings vary by a third from run to run.
#
# Environment: RECORDS=1000000, ROUNDS=3, OUT=dir (default target/bench-zones),
# SKIP_INSTALL=1, CARGO_TARGET_DIR. Prints a table; summary.txt and logs/ in OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS="${RECORDS:-1000000}"
ROUNDS="${ROUNDS:-3}"
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

declare -A LOAD MEM BASE RANGE
# --- 1: load from the master file, memory ------------------------------------------------
for server in shoal knot nsd; do
    port=$(free_port)
    "start_$server" "$WORK/$server-tiny" "$WORK/tiny.zone" "$port"
    t=$(serving_after "$port" big.test 1 60 "$START")
    [[ "$t" != -1 ]] || die "$server did not serve the tiny zone"
    sleep 1
    BASE[$server]=$(pss "$PID")
    stop "$PID" 100
    port=$(free_port)
    "start_$server" "$WORK/$server" "$WORK/v1.zone" "$port"
    LOAD[$server]=$(serving_after "$port" big.test 1 300 "$START")
    [[ "${LOAD[$server]}" != -1 ]] || die "$server did not serve big.test. within 300 s"
    sleep 2
    MEM[$server]=$(pss "$PID")
    log "$server: serving after ${LOAD[$server]} s; PSS $((MEM[$server] >> 20)) MiB (one-record zone: $((BASE[$server] >> 20)) MiB)"
    stop "$PID" 100
done
# More starts for the load time, interleaved; each server's times, space-separated.
declare -A TIMES
for server in shoal knot nsd; do TIMES[$server]="${LOAD[$server]}"; done
for ((round = 2; round <= ROUNDS; round++)); do
    for server in shoal knot nsd; do
        rm -rf "${WORK:?}/$server-r"
        port=$(free_port)
        "start_$server" "$WORK/$server-r" "$WORK/v1.zone" "$port"
        t=$(serving_after "$port" big.test 1 300 "$START")
        [[ "$t" != -1 ]] || die "$server did not serve big.test. within 300 s"
        stop "$PID" 100
        TIMES[$server]+=" $t"
        log "$server: round $round, serving after $t s"
    done
done
for server in shoal knot nsd; do
    LOAD[$server]=$(printf '%s\n' ${TIMES[$server]} | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    RANGE[$server]=$(printf '%s\n' ${TIMES[$server]} | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}')
done

# --- 2 and 3: Shoal as a secondary: state_dir restart, AXFR peaks -------------------------
pport=$(free_port)
sport=$(free_port)
cp "$WORK/v1.zone" "$WORK/primary.zone"
start_shoal "$WORK/primary" "$WORK/primary.zone" "$pport"
PPID_SHOAL=$PID
[[ "$(serving_after "$pport" big.test 1 300 "$START")" != -1 ]] || die "primary did not start"
start_shoal "$WORK/secondary" "" "$sport" secondary "$pport"
[[ "$(serving_after "$sport" big.test 1 300 "$START")" != -1 ]] || die "secondary did not transfer v1"
stop "$PID" 100
start_shoal "$WORK/secondary" "" "$sport" secondary "$pport"
SPID=$PID
STATE_LOAD=$(serving_after "$sport" big.test 1 300 "$START")
log "secondary: serving from state_dir after $STATE_LOAD s"
sleep 3
declare -A PEAK
for v in 2 3; do
    steady_kb=$(status_kb "$SPID" VmRSS)
    echo 5 >"/proc/$SPID/clear_refs"
    cp "$WORK/v$v.zone" "$WORK/primary.zone"
    kill -HUP "$PPID_SHOAL"
    [[ "$(serving_after "$pport" big.test "$v" 300 "$(date +%s.%N)")" != -1 ]] || die "primary did not load v$v"
    # The primary's reload peak is not the secondary's: reset again, then transfer.
    echo 5 >"/proc/$SPID/clear_refs"
    steady_kb=$(status_kb "$SPID" VmRSS)
    "$SHOAL" ctl --socket "$WORK/secondary/ctl.sock" zone-retransfer big.test. >/dev/null
    [[ "$(serving_after "$sport" big.test "$v" 300 "$(date +%s.%N)")" != -1 ]] || die "secondary did not take v$v"
    sleep 2
    hwm_kb=$(status_kb "$SPID" VmHWM)
    after_kb=$(status_kb "$SPID" VmRSS)
    PEAK[$v]="$steady_kb $hwm_kb $after_kb"
    log "AXFR of v$v: steady $((steady_kb >> 10)) MiB, peak $((hwm_kb >> 10)) MiB, after $((after_kb >> 10)) MiB"
done

python3 - "$COUNT" "${LOAD[shoal]}" "${LOAD[knot]}" "${LOAD[nsd]}" "${MEM[shoal]}" "${MEM[knot]}" "${MEM[nsd]}" \
    "${BASE[shoal]}" "${BASE[knot]}" "${BASE[nsd]}" "$STATE_LOAD" ${PEAK[2]} ${PEAK[3]} \
    "${RANGE[shoal]}" "${RANGE[knot]}" "${RANGE[nsd]}" "$ROUNDS" <<'PY' | tee "$OUT/summary.txt"
import sys
a = sys.argv[1:]
n = int(a[0]); load = dict(zip(["shoal", "knot", "nsd"], map(float, a[1:4])))
mem = dict(zip(["shoal", "knot", "nsd"], map(int, a[4:7]))); base = dict(zip(["shoal", "knot", "nsd"], map(int, a[7:10])))
state = float(a[10]); p2 = list(map(int, a[11:14])); p3 = list(map(int, a[14:17]))
ranges = dict(zip(["shoal", "knot", "nsd"], a[17:20])); rounds = a[20]
print(f"\nZone of {n} records (A/AAAA/TXT), loaded from its master file (load: median of {rounds} starts)\n")
print(f"{'server':<8} {'load s':>8} {'range s':>12} {'PSS MiB':>9} {'bytes/record':>13}")
for s in ["shoal", "knot", "nsd"]:
    print(f"{s:<8} {load[s]:>8.2f} {ranges[s]:>12} {mem[s] / 2**20:>9.1f} {(mem[s] - base[s]) / n:>13.0f}")
bpr = {s: (mem[s] - base[s]) / n for s in mem}
print(f"\nShoal/Knot: load time {load['shoal'] / load['knot']:.2f}, bytes/record {bpr['shoal'] / bpr['knot']:.2f}")
print(f"Shoal/NSD:  load time {load['shoal'] / load['nsd']:.2f}, bytes/record {bpr['shoal'] / bpr['nsd']:.2f}")
print(f"\nShoal from its state_dir copy: serving after {state:.2f} s")
for label, (steady, hwm, after) in [("1% of records changed", p2), ("every record changed", p3)]:
    print(f"AXFR in, {label}: steady {steady / 1024:.0f} MiB, peak {hwm / 1024:.0f} MiB ({hwm / steady:.2f}x), after {after / 1024:.0f} MiB")
PY
