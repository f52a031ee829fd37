# Shared by the benchmark scripts (source it): logging, processes started by PID and
# always stopped, free ports, and the one-zone Knot DNS and NSD configurations every
# comparison runs the peers with.
#
# The sourcing script sets WORK (a scratch folder, removed on exit) and records each
# process it starts in PIDS.

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

PIDS=()
WORK=""
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # Bounded: a process that ignores SIGTERM for 5 s gets SIGKILL.
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    if [[ -n "$WORK" && -d "$WORK" ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop PID [TENTHS]: SIGTERM, at most TENTHS tenths of a second (default 50), then
# SIGKILL; the PID is forgotten.
stop() {
    local pid="$1" tenths="${2:-50}" keep=() p
    kill "$pid" 2>/dev/null || true
    for _ in $(seq "$tenths"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [[ "$p" != "$pid" ]] && keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# install_peers PACKAGE...: apt-get install the packages (knot, nsd, dnsperf) unless
# SKIP_INSTALL=1 or the commands they bring (knotd, nsd, dnsperf) are already there.
install_peers() {
    local missing=0 package
    for package in "$@"; do
        [[ "$package" == knot ]] && package=knotd
        [[ "$package" == ldnsutils ]] && package=ldns-signzone
        command -v "$package" >/dev/null || missing=1
    done
    [[ "${SKIP_INSTALL:-0}" != 1 && "$missing" == 1 ]] || return 0
    log "installing $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "$@"
}

# build_release TARGET CRATE...: cargo build --release of the crates into TARGET.
build_release() {
    local target="$1"
    shift
    log "building $* (release) into $target"
    (cd "$ROOT" && CARGO_TARGET_DIR="$target" cargo build --release -q "${@/#/--package=}")
}

# Proportional set size of a process and its children, bytes (shared pages split).
pss() {
    local root="$1" total=0 p kb
    for p in $root $(pgrep -P "$root" || true); do
        kb=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo $((total * 1024))
}

# status_kb PID FIELD: a field of /proc/PID/status (VmRSS, VmHWM), kB.
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# start_server shoal|knot|nsd DIR: start $SHOAL (DIR/shoal.toml), knotd (DIR/knot.conf)
# or nsd (DIR/nsd.conf) in the background, output appended to
# $OUT/logs/SERVER-$(basename DIR).log, pinned to the CPUs in PIN when it is set; sets
# START (epoch seconds) and PID, and records PID.
start_server() {
    local pin=()
    [[ -n "${PIN:-}" ]] && pin=(taskset -c "$PIN")
    START=$(date +%s.%N)
    case "$1" in
        shoal) "${pin[@]}" "$SHOAL" serve --config "$2/shoal.toml" >>"$OUT/logs/shoal-$(basename "$2").log" 2>&1 & ;;
        knot) "${pin[@]}" knotd -c "$2/knot.conf" >>"$OUT/logs/knot-$(basename "$2").log" 2>&1 & ;;
        nsd) "${pin[@]}" nsd -d -c "$2/nsd.conf" >>"$OUT/logs/nsd-$(basename "$2").log" 2>&1 & ;;
        *) die "start_server: unknown server $1" ;;
    esac
    PID=$!
    PIDS+=("$PID")
}

# serving_after PORT ZONE SERIAL LIMIT START: seconds from START (epoch seconds, float)
# until the server on 127.0.0.1 PORT answers the SOA of ZONE (no trailing dot) with
# SERIAL, polling every 5 ms for at most LIMIT seconds; -1 if it never does.
serving_after() {
    python3 - "$ROOT/scripts/lib" "$@" <<'PY'
import socket, sys, time
sys.path.insert(0, sys.argv[1])
from dnsmsg import soa_query, soa_serial
port, zone, serial, limit, start = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
q = soa_query(zone, 0x1234)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.01)
while time.time() - start < limit:
    try:
        s.sendto(q, ("127.0.0.1", port))
        got = soa_serial(s.recv(4096))
        if got and got[1] == serial:
            print(f"{time.time() - start:.3f}")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.005)
print("-1")
PY
}

# knot_conf DIR PORT WORKERS DOMAIN...: DIR/knot.conf serving each DOMAIN (no trailing
# dot) from DIR/zones/DOMAIN.zone on 127.0.0.1@PORT; nothing written back, no journal,
# no semantic checks. With PRIMARY=ADDR@PORT set, the zones are secondaries of it
# (transferred at start, NOTIFY accepted from 127.0.0.1).
knot_conf() {
    local dir="$1" port="$2" workers="$3" domain
    shift 3
    mkdir -p "$dir/run" "$dir/db" "$dir/zones"
    {
        cat <<EOF
server:
    rundir: "$dir/run"
    listen: 127.0.0.1@$port
    udp-workers: $workers
    tcp-workers: $workers
    background-workers: 1
    user: root:root
log:
  - target: stderr
    any: warning
database:
    storage: "$dir/db"
EOF
        if [[ -n "${PRIMARY:-}" ]]; then
            cat <<EOF
remote:
  - id: primary
    address: $PRIMARY
acl:
  - id: notify
    address: 127.0.0.1
    action: notify
EOF
        fi
        cat <<EOF
template:
  - id: default
    storage: "$dir/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
EOF
        [[ -z "${PRIMARY:-}" ]] || printf '    master: primary\n    acl: notify\n'
        echo "zone:"
        for domain in "$@"; do printf '  - domain: %s\n' "$domain"; done
    } >"$dir/knot.conf"
}

# nsd_conf DIR PORT WORKERS DOMAIN...: DIR/nsd.conf serving each DOMAIN (no trailing
# dot) from DIR/zones/DOMAIN.zone on 127.0.0.1 PORT; no database file, no rate
# limiting, no remote control. With PRIMARY=ADDR@PORT set, the zones are secondaries
# of it (transferred at start, NOTIFY accepted from 127.0.0.1).
nsd_conf() {
    local dir="$1" port="$2" workers="$3" domain
    shift 3
    mkdir -p "$dir/zones"
    {
        cat <<EOF
server:
    ip-address: 127.0.0.1
    port: $port
    server-count: $workers
    zonesdir: "$dir/zones"
    pidfile: "$dir/nsd.pid"
    xfrdfile: "$dir/xfrd.state"
    zonelistfile: "$dir/zone.list"
    database: ""
    username: ""
    verbosity: 0
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
EOF
        for domain in "$@"; do
            printf 'zone:\n    name: %s\n    zonefile: %s.zone\n' "$domain" "$domain"
            if [[ -n "${PRIMARY:-}" ]]; then
                printf '    request-xfr: %s NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n' "$PRIMARY"
            fi
        done
    } >"$dir/nsd.conf"
}

# sign_zone IN OUT DIR: sign the bench.test. master file IN with NSEC3 (ldns-signzone,
# ECDSA P-256 keys made in DIR, no salt, 0 iterations as RFC 9276 asks, valid
# 2026-01-01 to 2090-12-31: RRSIG times are 32-bit serial numbers) into OUT.
sign_zone() {
    local in="$1" out="$2" dir="$3"
    mkdir -p "$dir"
    (
        cd "$dir"
        ksk=$(ldns-keygen -a ECDSAP256SHA256 -k bench.test)
        zsk=$(ldns-keygen -a ECDSAP256SHA256 bench.test)
        ldns-signzone -n -t 0 -i 20260101000000 -e 20901231000000 -f "$out" "$in" "$ksk" "$zsk"
    )
}

# start_secondaries DIR PPORT SPORT KPORT SERIAL: a Shoal secondary (DIR/shoal, port
# SPORT) and a Knot secondary (DIR/knot, port KPORT, keeping its changes in its journal)
# of bench.test. from the primary at 127.0.0.1 PPORT, both pinned to CPU 0; waits until
# both serve SERIAL. Sets SHOAL_PID and KNOT_PID.
start_secondaries() {
    local dir="$1" pport="$2" sport="$3" kport="$4" serial="$5" port
    mkdir -p "$dir/shoal"
    printf '[server]\nlisten = ["127.0.0.1:%s"]\nworkers = 1\nstate_dir = "%s/state"\n[[zone]]\nname = "bench.test."\nprimaries = ["127.0.0.1:%s"]\n' \
        "$sport" "$dir/shoal" "$pport" >"$dir/shoal/shoal.toml"
    PIN=0 start_server shoal "$dir/shoal"
    SHOAL_PID=$PID
    PRIMARY="127.0.0.1@$pport" knot_conf "$dir/knot" "$kport" 1 bench.test
    sed -i 's/journal-content: none/journal-content: changes/' "$dir/knot/knot.conf"
    PIN=0 start_server knot "$dir/knot"
    KNOT_PID=$PID
    for port in "$sport" "$kport"; do
        [[ "$(serving_after "$port" bench.test "$serial" 300 "$(date +%s.%N)")" != -1 ]] ||
            die "a secondary on port $port did not take bench.test."
    done
}

# time_to_serve SERIAL PPORT SPORT KPORT CMD...: run CMD (a change on the primary) and
# print, for the primary and the Shoal and Knot secondaries of bench.test., `NAME,SECONDS`
# from CMD's start until it serves SERIAL (-1 if not within 60 s). The poller
# (lib/first_serving.py) starts first, so that its own start-up is not in the times.
time_to_serve() {
    local serial="$1" pport="$2" sport="$3" kport="$4" times poller t0
    shift 4
    times=$(mktemp)
    python3 "$ROOT/scripts/lib/first_serving.py" - "$serial" "primary:$pport" "shoal:$sport" "knot:$kport" >"$times" &
    poller=$!
    sleep 0.5
    t0=$(date +%s.%N)
    "$@" >/dev/null
    wait "$poller"
    awk -F, -v t0="$t0" '{ printf "%s,%.4f\n", $1, ($2 < 0 ? -1 : $2 - t0) }' "$times"
    rm -f "$times"
}
