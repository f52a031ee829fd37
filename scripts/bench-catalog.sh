#!/usr/bin/env bash
# Catalog zones (RFC 9432) at scale: a Shoal producer lists MEMBERS small zones in one
# catalog; a Shoal consumer, then a Knot consumer (catalog-role: interpret), each
# alone on CPU 0 with the producer and the poller on CPU 1, are timed:
#
#   1. first sync: from the consumer's start until every member answers its SOA;
#   2. a zone added to the producer's configuration: from its reload (SIGHUP) until
#      the consumer serves it (catalog serial, NOTIFY, catalog IXFR, member AXFR);
#   3. a zone removed: from the reload until the consumer refuses it;
#   4. restart with the producer down: from the consumer's start until every member
#      answers again, from the consumer's own copies;
#   5. restart with the producer up: transfers the consumer makes in the 10 s after
#      (members are not transferred again: their copies were just confirmed).
#
# Environment: MEMBERS=10000, OUT=dir (default target/bench-catalog), SKIP_INSTALL=1,
# CARGO_TARGET_DIR. Prints a table; summary.txt and logs/ in OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MEMBERS="${MEMBERS:-10000}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$ROOT/target/bench-catalog}"
LIMIT=600

# log, die, PIDS/WORK with cleanup on exit, stop, free_port, build_release.
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"

install_peers knot
for tool in knotd knotc python3 cargo taskset; do command -v "$tool" >/dev/null || die "$tool not found"; done
build_release "$TARGET" shoal-engine
SHOAL="$TARGET/release/shoal"
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/* "$OUT/summary.txt"
WORK="$(mktemp -d /tmp/bench-catalog.XXXXXX)"
ALL="$WORK/members.txt"

log "generating $MEMBERS member zones (+2 to add) in $WORK/zones"
mkdir -p "$WORK/zones"
python3 - "$WORK/zones" "$MEMBERS" "$ALL" <<'PY'
import os, sys
d, n, listing = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(listing, "w") as out:
    for i in range(n + 2):
        name = f"m{i}.member-bench"
        with open(os.path.join(d, f"{name}.zone"), "w") as f:
            f.write(f"$ORIGIN {name}.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 1209600 300\n"
                    f"@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\n")
        if i < n:
            out.write(name + "\n")
PY
PRODUCER_PORT=$(free_port)
SHOAL_PORT=$(free_port)
KNOT_PORT=$(free_port)

# producer_conf LISTED...: the producer's configuration listing members 0..MEMBERS-1
# and the extra names given.
producer_conf() {
    local dir="$WORK/producer"
    mkdir -p "$dir"
    ln -sfn "$WORK/zones" "$dir/zones"
    {
        printf '[server]\nlisten = ["127.0.0.1:%s"]\nworkers = 1\nstate_dir = "%s/state"\n' "$PRODUCER_PORT" "$dir"
        printf '[control]\nsocket = "%s/ctl.sock"\n' "$dir"
        printf '[[zone]]\nname = "cat-bench."\ncatalog_role = "producer"\nallow_transfer = ["127.0.0.1"]\n'
        printf 'notify = ["127.0.0.1:%s", "127.0.0.1:%s"]\n' "$SHOAL_PORT" "$KNOT_PORT"
        for name in $(cat "$ALL") "$@"; do
            printf '[[zone]]\nname = "%s."\nfile = "zones/%s.zone"\ncatalog = "cat-bench."\nallow_transfer = ["127.0.0.1"]\n' "$name" "$name"
        done
    } >"$dir/shoal.toml"
}

shoal_consumer_conf() {
    local dir="$WORK/shoal"
    mkdir -p "$dir"
    cat >"$dir/shoal.toml" <<EOF
[server]
listen = ["127.0.0.1:$SHOAL_PORT"]
workers = 1
state_dir = "$dir/state"
[control]
socket = "$dir/ctl.sock"
[[zone]]
name = "cat-bench."
primaries = ["127.0.0.1:$PRODUCER_PORT"]
catalog_role = "consumer"
EOF
}

knot_consumer_conf() {
    local dir="$WORK/knot"
    mkdir -p "$dir/run" "$dir/db" "$dir/zones"
    cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir/run"
    listen: 127.0.0.1@$KNOT_PORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    user: root:root
log:
  - target: stderr
    any: info
database:
    storage: "$dir/db"
remote:
  - id: producer
    address: 127.0.0.1@$PRODUCER_PORT
acl:
  - id: notify
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "$dir/zones"
    zonefile-sync: 0
    semantic-checks: off
  - id: member
    storage: "$dir/zones"
    master: producer
    acl: notify
    zonefile-sync: 0
    semantic-checks: off
zone:
  - domain: cat-bench.
    master: producer
    acl: notify
    catalog-role: interpret
    catalog-template: member
EOF
}

start_producer() {
    taskset -c 1 "$SHOAL" serve --config "$WORK/producer/shoal.toml" >>"$OUT/logs/producer.log" 2>&1 &
    PRODUCER_PID=$!
    PIDS+=("$PRODUCER_PID")
    python3 "$ROOT/scripts/lib/all_serving.py" "$PRODUCER_PORT" "$ALL" serve 120 >/dev/null
}

# start_consumer KIND: start it on CPU 0; sets CONSUMER_PID and T0.
start_consumer() {
    T0=$(date +%s.%N)
    case "$1" in
        shoal) taskset -c 0 "$SHOAL" serve --config "$WORK/shoal/shoal.toml" >>"$OUT/logs/shoal.log" 2>&1 & ;;
        knot) taskset -c 0 knotd -c "$WORK/knot/knot.conf" >>"$OUT/logs/knot.log" 2>&1 & ;;
    esac
    CONSUMER_PID=$!
    PIDS+=("$CONSUMER_PID")
}

port_of() { if [[ "$1" == shoal ]]; then echo "$SHOAL_PORT"; else echo "$KNOT_PORT"; fi; }

# transfers KIND: member transfers the consumer has logged so far.
transfers() {
    if [[ "$1" == shoal ]]; then
        grep -c 'transfer in done.*m[0-9]*\.member-bench' "$OUT/logs/shoal.log" || true
    else
        grep -c 'm[0-9]*\.member-bench.*XFR, incoming.*finished' "$OUT/logs/knot.log" || true
    fi
}

declare -A R
producer_conf
start_producer
log "producer serving $MEMBERS members"
n=0
for kind in shoal knot; do
    if [[ "$kind" == shoal ]]; then shoal_consumer_conf; else knot_consumer_conf; fi
    port=$(port_of "$kind")
    extra="m$((MEMBERS + n)).member-bench"
    echo "$extra" >"$WORK/extra.txt"
    log "$kind: first sync of $MEMBERS members"
    start_consumer "$kind"
    R[$kind,sync]=$(taskset -c 1 python3 "$ROOT/scripts/lib/all_serving.py" "$port" "$ALL" serve "$LIMIT" "$T0")
    log "$kind: ${R[$kind,sync]} s; adding $extra"
    producer_conf "$extra"
    t=$(date +%s.%N)
    kill -HUP "$PRODUCER_PID"
    R[$kind,add]=$(taskset -c 1 python3 "$ROOT/scripts/lib/all_serving.py" "$port" "$WORK/extra.txt" serve 120 "$t")
    log "$kind: added in ${R[$kind,add]} s; removing it"
    producer_conf
    t=$(date +%s.%N)
    kill -HUP "$PRODUCER_PID"
    R[$kind,remove]=$(taskset -c 1 python3 "$ROOT/scripts/lib/all_serving.py" "$port" "$WORK/extra.txt" gone 120 "$t")
    log "$kind: removed in ${R[$kind,remove]} s; restart with the producer down"
    stop "$CONSUMER_PID"
    stop "$PRODUCER_PID"
    start_consumer "$kind"
    R[$kind,restart]=$(taskset -c 1 python3 "$ROOT/scripts/lib/all_serving.py" "$port" "$ALL" serve 120 "$T0")
    log "$kind: serving again in ${R[$kind,restart]} s; restart with the producer up"
    start_producer
    stop "$CONSUMER_PID"
    before=$(transfers "$kind")
    start_consumer "$kind"
    taskset -c 1 python3 "$ROOT/scripts/lib/all_serving.py" "$port" "$ALL" serve 120 "$T0" >/dev/null
    sleep 10
    R[$kind,again]=$(($(transfers "$kind") - before))
    log "$kind: ${R[$kind,again]} member transfers in the 10 s after"
    stop "$CONSUMER_PID"
    n=$((n + 1))
done

{
    echo "Catalog of $MEMBERS members from a Shoal producer: consumer on CPU 0, producer and poller on CPU 1 ($(date -u +%F), $(git -C "$ROOT" rev-parse --short HEAD))"
    echo
    printf '%-34s %12s %12s\n' "" "Shoal" "Knot $(knotd --version | awk '{print $NF}')"
    printf '%-34s %12s %12s\n' "first sync, all members (s)" "${R[shoal,sync]}" "${R[knot,sync]}"
    printf '%-34s %12s %12s\n' "zone added, served after (s)" "${R[shoal,add]}" "${R[knot,add]}"
    printf '%-34s %12s %12s\n' "zone removed, refused after (s)" "${R[shoal,remove]}" "${R[knot,remove]}"
    printf '%-34s %12s %12s\n' "restart, producer down (s)" "${R[shoal,restart]}" "${R[knot,restart]}"
    printf '%-34s %12s %12s\n' "restart, transfers in 10 s" "${R[shoal,again]}" "${R[knot,again]}"
} | tee "$OUT/summary.txt"
