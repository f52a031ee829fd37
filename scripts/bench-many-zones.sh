#!/usr/bin/env bash
# Many zones in one instance, Shoal beside Knot DNS and NSD on the same machine:
#
#   1. ZONES small zones (10 records each) loaded from master files: time from start
#      until the last configured zone and a random sample of 200 others answer, and
#      memory per zone (PSS of every process, minus the same server with one zone);
#   2. Shoal as a secondary of all of them (a Shoal primary): time until every zone is
#      transferred (at most refresh_concurrency checks at once); then restarted: time to
#      serve every zone from state_dir, and the SOA queries its primary gets in the 10 s
#      after (none are due: the copies were just confirmed);
#   3. refresh timers: a fresh secondary with refresh 60 s; over the WINDOW seconds
#      after its first transfers (every zone is checked at least once more), sampled
#      each second: SOA queries at the primary, and the secondary's checks started, SOA
#      queries sent and unanswered; the busiest second's share of the zones (a
#      secondary that checked every zone on one tick would put them all in one second;
#      refresh_rate bounds it at twice what the zones need).
#
# Environment: ZONES=100000, WINDOW=90 (seconds of part 3), OUT=dir (default
# target/bench-many-zones), SKIP_INSTALL=1,
# CARGO_TARGET_DIR. Prints a table; summary.txt and logs/ in OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ZONES="${ZONES:-100000}"
WINDOW="${WINDOW:-90}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$ROOT/target/bench-many-zones}"

# log, die, PIDS/WORK with cleanup on exit, stop, free_port, start_server, pss.
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"

install_peers knot nsd
for tool in knotd nsd python3 cargo curl; do command -v "$tool" >/dev/null || die "$tool not found"; done
build_release "$TARGET" shoal-engine
SHOAL="$TARGET/release/shoal"
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/* "$OUT/summary.txt"
WORK="$(mktemp -d /tmp/bench-many-zones.XXXXXX)"

# --- zones and configurations ------------------------------------------------------------
# write_configs DIR N PORT: DIR/{shoal.toml,knot.conf,nsd.conf} serving zones 0..N-1
# (DIR/zones is $WORK/zones) on 127.0.0.1:PORT.
write_configs() {
    local dir="$1" n="$2" port="$3" domains=()
    mkdir -p "$dir"
    ln -sfn "$WORK/zones" "$dir/zones"
    mapfile -t domains < <(seq -f 'z%.0f.test' 0 $((n - 1)))
    knot_conf "$dir" "$port" 1 "${domains[@]}"
    nsd_conf "$dir" "$port" 1 "${domains[@]}"
    {
        printf '[server]\nlisten = ["127.0.0.1:%s"]\nworkers = 1\nstate_dir = "%s/state"\n' "$port" "$dir"
        printf '[control]\nsocket = "%s/ctl.sock"\n' "$dir"
        for d in "${domains[@]}"; do
            printf '[[zone]]\nname = "%s."\nfile = "zones/%s.zone"\nallow_transfer = ["127.0.0.1"]\n' "$d" "$d"
        done
    } >"$dir/shoal.toml"
}

log "generating $ZONES zones in $WORK/zones"
python3 - "$WORK" "$ZONES" <<'PY'
import os, random, sys
work, n = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{work}/zones")
for i in range(n):
    z = f"z{i}.test."
    open(f"{work}/zones/{z}zone", "w").write(
        f"$ORIGIN {z}\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\n@ NS ns2\n"
        f"ns1 A 192.0.2.1\nns2 A 192.0.2.2\n@ A 192.0.2.10\n@ MX 10 mail\nmail A 192.0.2.20\n"
        f"www CNAME @\n@ TXT \"v=spf1 mx -all\"\n")
random.seed(1)
sample = sorted(set(random.randrange(n) for _ in range(200)) | {n - 1})
open(f"{work}/sample", "w").write("\n".join(f"z{i}.test." for i in sample) + "\n")
PY

# Seconds from $3 (epoch, float) until every zone in file $2 answers its SOA on port $1
# (at most $4 seconds); -1 if they never all do.
all_serving_after() {
    python3 - "$1" "$2" "$3" "$4" <<'PY'
import socket, struct, sys, time
port, names, start, limit = int(sys.argv[1]), open(sys.argv[2]).read().split(), float(sys.argv[3]), float(sys.argv[4])
def q(name, i):
    w = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    return struct.pack(">HHHHHH", i, 0, 1, 0, 0, 0) + w + b"\x00\x06\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.05)
pending = list(names)
while pending and time.time() - start < limit:
    still = []
    for i, name in enumerate(pending):
        try:
            s.sendto(q(name, i), ("127.0.0.1", port))
            m = s.recv(4096)
            if len(m) > 12 and m[3] & 15 == 0 and struct.unpack(">H", m[6:8])[0] >= 1:
                continue
        except OSError:
            pass
        still.append(name)
    pending = still
    if pending:
        time.sleep(0.02)
print(f"{time.time() - start:.3f}" if not pending else "-1")
PY
}

echo "z0.test." >"$WORK/first"
declare -A LOAD MEM BASE
# --- 1: load from master files, memory per zone -----------------------------------------
for server in shoal knot nsd; do
    port=$(free_port)
    write_configs "$WORK/$server-one" 1 "$port"
    start_server "$server" "$WORK/$server-one"
    [[ "$(all_serving_after "$port" "$WORK/first" "$START" 60)" != -1 ]] || die "$server did not serve one zone"
    sleep 1
    BASE[$server]=$(pss "$PID")
    stop "$PID" 100
    port=$(free_port)
    write_configs "$WORK/$server" "$ZONES" "$port"
    start_server "$server" "$WORK/$server"
    LOAD[$server]=$(all_serving_after "$port" "$WORK/sample" "$START" 600)
    [[ "${LOAD[$server]}" != -1 ]] || die "$server did not serve every sampled zone within 600 s"
    sleep 3
    MEM[$server]=$(pss "$PID")
    log "$server: $ZONES zones serving after ${LOAD[$server]} s; PSS $((MEM[$server] >> 20)) MiB (one zone: $((BASE[$server] >> 20)) MiB)"
    stop "$PID" 300
done

# --- 2: Shoal as a secondary of every zone ------------------------------------------------
metric() { # port name: the value of an unlabelled or fully given server-wide series, 0 if absent
    curl -s "127.0.0.1:$1/metrics?zones=no" | awk -v m="$2" '$1 == m {print $2; found=1} END {if (!found) print 0}'
}
pport=$(free_port)
pmetrics=$(free_port)
write_configs "$WORK/primary" "$ZONES" "$pport"
printf '[metrics]\nlisten = "127.0.0.1:%s"\n' "$pmetrics" >>"$WORK/primary/shoal.toml"
start_server shoal "$WORK/primary"
PRIMARY=$PID
[[ "$(all_serving_after "$pport" "$WORK/sample" "$START" 600)" != -1 ]] || die "primary did not start"

# secondary_config REFRESH: every zone a secondary of the primary, refresh fixed at REFRESH s.
sport=$(free_port)
smetrics=$(free_port)
secondary_config() {
    python3 - "$WORK/secondary" "$ZONES" "$sport" "$pport" "$smetrics" "$1" <<'PY'
import os, sys
d, n, port, pport, metrics, refresh = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
os.makedirs(d, exist_ok=True)
out = [f'[server]\nlisten = ["127.0.0.1:{port}"]\nworkers = 1\nstate_dir = "{d}/state"\n'
       f'[control]\nsocket = "{d}/ctl.sock"\n[metrics]\nlisten = "127.0.0.1:{metrics}"\n']
for i in range(n):
    out.append(f'[[zone]]\nname = "z{i}.test."\nprimaries = ["127.0.0.1:{pport}"]\n'
               f'refresh_min = {refresh}\nrefresh_max = {refresh}\n')
open(f"{d}/shoal.toml", "w").write("".join(out))
PY
}
served_after() { # seconds from START until the secondary serves every zone; -1 after $1 s
    local t
    for _ in $(seq $(($1 * 5))); do
        if [[ "$(metric "$smetrics" 'shoal_zones{state="served"}')" == "$ZONES" ]]; then
            t=$(python3 -c "import time; print(f'{time.time() - $START:.3f}')")
            echo "$t"
            return
        fi
        sleep 0.2
    done
    echo -1
}
soa_at_primary() { metric "$pmetrics" 'shoal_queries_by_qtype_total{qtype="SOA"}'; }

secondary_config 3600
start_server shoal "$WORK/secondary"
FIRST=$(served_after 900)
[[ "$FIRST" != -1 ]] || die "the secondary did not transfer every zone within 900 s"
log "secondary: every zone transferred after $FIRST s"
stop "$PID" 300
soa_before=$(soa_at_primary)
start_server shoal "$WORK/secondary"
RESTART=$(served_after 600)
[[ "$RESTART" != -1 ]] || die "the restarted secondary did not serve every zone"
sleep 10
RESTART_SOA=$(($(soa_at_primary) - soa_before))
log "secondary restarted: serving every zone after $RESTART s; $RESTART_SOA SOA queries at the primary in the next 10 s"
sleep 2
SEC_MEM=$(pss "$PID")
stop "$PID" 300

# --- 3: refresh spread ----------------------------------------------------------------------
secondary_config 60
rm -rf "$WORK/secondary/state"
start_server shoal "$WORK/secondary"
[[ "$(served_after 600)" != -1 ]] || die "the secondary with refresh 60 did not start"
# One sample a second on a fixed grid, with its time: the server-wide series of both
# sides (/metrics?zones=no, a few kB; the full page of 100,000 zones takes longer than
# a second to render).
python3 - "$pmetrics" "$smetrics" "$WINDOW" >"$OUT/refresh-samples.txt" <<'PY'
import sys, time, urllib.request
pm, sm, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def scrape(port, names):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics?zones=no", timeout=10).read().decode()
    vals = dict(l.rsplit(" ", 1) for l in text.splitlines() if l and not l.startswith("#"))
    return [int(float(vals.get(x, 0))) for x in names]
print("# seconds primary_soa_queries checks soa_sent soa_timeouts running queued")
t0 = time.time()
for i in range(n + 1):
    time.sleep(max(0.0, t0 + i - time.time()))
    t = time.time() - t0
    p = scrape(pm, ['shoal_queries_by_qtype_total{qtype="SOA"}'])
    s = scrape(sm, ["shoal_refresh_checks_total", "shoal_refresh_soa_queries_total",
                    "shoal_refresh_soa_timeouts_total", "shoal_refresh_running", "shoal_refresh_queued"])
    print(f"{t:.3f}", *p, *s, flush=True)
PY
stop "$PID" 300

python3 - "$ZONES" "${LOAD[shoal]}" "${LOAD[knot]}" "${LOAD[nsd]}" "${MEM[shoal]}" "${MEM[knot]}" "${MEM[nsd]}" \
    "${BASE[shoal]}" "${BASE[knot]}" "${BASE[nsd]}" "$FIRST" "$RESTART" "$RESTART_SOA" "$SEC_MEM" \
    "$OUT/refresh-samples.txt" <<'PY' | tee "$OUT/summary.txt"
import sys
a = sys.argv[1:]
n = int(a[0]); names = ["shoal", "knot", "nsd"]
load = dict(zip(names, map(float, a[1:4]))); mem = dict(zip(names, map(int, a[4:7])))
base = dict(zip(names, map(int, a[7:10])))
first, restart, restart_soa, sec_mem = float(a[10]), float(a[11]), int(a[12]), int(a[13])
rows = [[float(x) for x in l.split()] for l in open(a[14]) if not l.startswith("#")]
per_zone = {s: (mem[s] - base[s]) / n for s in names}
print(f"\n{n} zones of 10 records each, loaded from master files\n")
print(f"{'server':<8} {'start s':>8} {'PSS MiB':>9} {'bytes/zone':>11}")
for s in names:
    print(f"{s:<8} {load[s]:>8.2f} {mem[s] / 2**20:>9.1f} {per_zone[s]:>11.0f}")
print(f"\nShoal/Knot: start-up {load['shoal'] / load['knot']:.2f}, bytes/zone {per_zone['shoal'] / per_zone['knot']:.2f}")
print(f"Shoal/NSD:  start-up {load['shoal'] / load['nsd']:.2f}, bytes/zone {per_zone['shoal'] / per_zone['nsd']:.2f}")
print(f"\nShoal secondary of {n} zones: all transferred after {first:.1f} s; restarted: serving all from state_dir after {restart:.2f} s,")
print(f"  {restart_soa} SOA queries at the primary in the 10 s after the restart; PSS {sec_mem / 2**20:.0f} MiB ({sec_mem / n:.0f} bytes/zone)")
# Per second of the window: (seconds, SOA queries at the primary, checks started, SOA
# queries sent and unanswered by the secondary, checks queued at the end).
secs = [(b[0] - a[0], b[1] - a[1], b[2] - a[2], b[3] - a[3], b[4] - a[4], b[6]) for a, b in zip(rows, rows[1:])]
span = rows[-1][0] - rows[0][0]
at_primary, checks, sent, lost = (sum(s[i] for s in secs) for i in (1, 2, 3, 4))
peak = max(s[1] / s[0] for s in secs)
queued = [s for s in secs if s[5] > 0]
print(f"Refresh 60 s, the {span:.0f} s after the first transfers: {at_primary:.0f} SOA queries at the primary; "
      f"the secondary started {checks:.0f} checks and sent {sent:.0f} SOA queries ({sent / max(checks, 1):.3f} a check), "
      f"{lost:.0f} unanswered")
print(f"  busiest second: {peak:.0f} SOA queries a second at the primary ({100 * peak / n:.1f}% of the zones); "
      f"checks waited for refresh_rate or a slot in {len(queued)} of {len(secs)} seconds")
PY
