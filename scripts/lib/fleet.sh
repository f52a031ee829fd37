# shellcheck shell=bash
# The hosts of scripts/fleet.sh (source it after lib/peers.sh): network namespaces on
# one bridge, their addresses, the processes started in them, the link faults (loss,
# a slow link, delay through lib/relay.py, a cut), and the configurations of the
# fleet's Knot primary, Shoal and Knot secondaries and dnsdist.
#
# Every host is a namespace `sfl<PID>-<host>` with one veth, eth0, whose peer `v-<host>`
# sits on the bridge br0 of the namespace `sfl<PID>-br`. Addresses are from the
# benchmarking range 198.18.0.0/15 only, on 198.18.0.0/24: they exist only inside these
# namespaces, which have no other interface but loopback and no route anywhere else, so
# nothing the fleet runs can send past them. fleet_down (run on exit by fleet.sh's trap)
# stops the processes started in them and deletes them; fleet_sweep deletes those a
# killed run left behind (their PID no longer runs).
#
# The sourcing script sets OUT (logs in $OUT/logs) and uses PIDS (lib/peers.sh).

FLEET_PREFIX="sfl$$"
FLEET_HOSTS=()

# fleet_addr HOST: the host's address.
fleet_addr() {
    case "$1" in
        ctl) echo 198.18.0.1 ;;
        lb) echo 198.18.0.2 ;;
        p) echo 198.18.0.10 ;;
        s[1-9]) echo "198.18.0.$((10 + ${1#s}))" ;;
        *) die "fleet_addr: unknown host $1" ;;
    esac
}

fleet_ns() { echo "$FLEET_PREFIX-$1"; }

# fleet_exec HOST CMD...: run CMD in HOST's namespace.
fleet_exec() {
    local host="$1"
    shift
    ip netns exec "$(fleet_ns "$host")" "$@"
}

# fleet_up HOST...: the bridge and a namespace per HOST, each with its address and
# loopback up.
fleet_up() {
    local br host ns
    br="$(fleet_ns br)"
    ip netns add "$br"
    FLEET_HOSTS+=(br)
    ip -n "$br" link set lo up
    ip -n "$br" link add br0 type bridge
    ip -n "$br" link set br0 up
    for host in "$@"; do
        ns="$(fleet_ns "$host")"
        ip netns add "$ns"
        FLEET_HOSTS+=("$host")
        ip link add eth0 netns "$ns" type veth peer name "v-$host" netns "$br"
        ip -n "$br" link set "v-$host" master br0 up
        ip -n "$ns" addr add "$(fleet_addr "$host")/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
    done
}

# fleet_down: stop every process still running in the fleet's namespaces (started by
# this script), then delete them.
fleet_down() {
    local host ns pid
    for host in "${FLEET_HOSTS[@]}"; do
        ns="$(fleet_ns "$host")"
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    done
    for host in "${FLEET_HOSTS[@]}"; do
        ip netns delete "$(fleet_ns "$host")" 2>/dev/null || true
    done
    FLEET_HOSTS=()
}

# fleet_sweep: delete the namespaces of earlier runs whose script no longer runs.
fleet_sweep() {
    local ns owner pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^sfl[0-9]+-' || true); do
        owner="${ns#sfl}"
        owner="${owner%%-*}"
        kill -0 "$owner" 2>/dev/null && continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns delete "$ns" 2>/dev/null || true
    done
}

# fleet_start HOST NAME CMD...: start CMD in HOST's namespace in the background, output
# to $OUT/logs/NAME.log; sets PID and records it in PIDS.
fleet_start() {
    local host="$1" name="$2"
    shift 2
    ip netns exec "$(fleet_ns "$host")" "$@" >>"$OUT/logs/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
}

# fleet_loss HOST PERCENT: drop PERCENT% (a multiple of 10) of the frames to and from
# HOST at the bridge, each direction drawn apart (nftables, bridge family, in the bridge's
# namespace: senders see no error, as on a lossy link). fleet_loss HOST 0 removes it.
fleet_loss() {
    local host="$1" percent="$2" br
    br="$(fleet_ns br)"
    ip netns exec "$br" nft delete table bridge "loss_$host" 2>/dev/null || true
    [[ "$percent" == 0 ]] && return
    ip netns exec "$br" nft -f - <<EOF
table bridge loss_$host {
    chain forward {
        type filter hook forward priority 0; policy accept;
        iifname "v-$host" numgen random mod 10 < $((percent / 10)) drop
        oifname "v-$host" numgen random mod 10 < $((percent / 10)) drop
    }
}
EOF
}

# fleet_slow HOST RATE: HOST's own sending limited to RATE (tc tbf, e.g. 20mbit);
# RATE "off" removes it.
fleet_slow() {
    local host="$1" rate="$2"
    fleet_exec "$host" tc qdisc del dev eth0 root 2>/dev/null || true
    [[ "$rate" == off ]] && return
    fleet_exec "$host" tc qdisc add dev eth0 root tbf rate "$rate" burst 64kb latency 100ms
}

# fleet_delay HOST DELAY_MS SECONDS: DNS to HOST's port 53 (UDP and TCP) from the other
# hosts goes through lib/relay.py, which holds each message DELAY_MS in each direction,
# for at most SECONDS; the server on HOST must also listen on 127.0.0.1:53, where the
# relay sends. Sets RELAY_PID. fleet_delay_off HOST removes it.
fleet_delay() {
    local host="$1" delay="$2" seconds="$3" addr
    addr="$(fleet_addr "$host")"
    fleet_start "$host" "relay-$host" python3 "$ROOT/scripts/lib/relay.py" 5300 127.0.0.1 53 "$delay" "$seconds"
    RELAY_PID=$PID
    sleep 0.5
    fleet_exec "$host" nft -f - <<EOF
table ip delay {
    chain prerouting {
        type nat hook prerouting priority -100; policy accept;
        ip daddr $addr meta l4proto { tcp, udp } th dport 53 redirect to :5300
    }
}
EOF
}

fleet_delay_off() {
    fleet_exec "$1" nft delete table ip delay 2>/dev/null || true
    [[ -n "${RELAY_PID:-}" ]] && stop "$RELAY_PID" 10
    RELAY_PID=""
}

# fleet_cut HOST / fleet_mend HOST: take HOST's bridge port down (nothing in or out) and
# up again.
fleet_cut() { ip -n "$(fleet_ns br)" link set "v-$1" down; }
fleet_mend() { ip -n "$(fleet_ns br)" link set "v-$1" up; }

# knot_primary_conf DIR NOTIFY_HOSTS DOMAIN...: DIR/knot.conf, the fleet's primary on
# p's address and 127.0.0.1 (the relay's upstream), port 53: zones from DIR/zones, their
# changes in the journal (not fsynced) for IXFR, NOTIFY to each host in NOTIFY_HOSTS
# (a space-separated list), transfers allowed to the fleet's network and loopback. It
# sends NOTIFYs on its background workers, one zone each at a time: 8 of them, so that
# 1,000 zones changed at once reach the secondaries in about a second.
knot_primary_conf() {
    local dir="$1" notify_hosts="$2" domain host ids=()
    shift 2
    mkdir -p "$dir/run" "$dir/db" "$dir/zones"
    {
        cat <<EOF
server:
    rundir: "$dir/run"
    listen: [ $(fleet_addr p)@53, 127.0.0.1@53 ]
    user: root:root
    background-workers: 8
log:
  - target: stderr
    any: warning
database:
    storage: "$dir/db"
    journal-db-mode: asynchronous
remote:
EOF
        for host in $notify_hosts; do
            printf '  - id: %s\n    address: %s@53\n' "$host" "$(fleet_addr "$host")"
            ids+=("$host")
        done
        cat <<EOF
acl:
  - id: fleet
    address: [ 198.18.0.0/24, 127.0.0.0/8 ]
    action: transfer
template:
  - id: default
    storage: "$dir/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
    notify: [ $(IFS=,; echo "${ids[*]}") ]
    acl: fleet
zone:
EOF
        for domain in "$@"; do printf '  - domain: %s\n' "$domain"; done
    } >"$dir/knot.conf"
}

# shoal_member_conf DIR HOST PRIMARY_HOSTS [NOTIFY_HOSTS]: DIR/shoal.toml, a Shoal
# secondary on HOST's address port 53 with metrics (and /ready) on port 9153, of every
# zone in ZONE_NAMES from the hosts PRIMARY_HOSTS (space-separated, tried in order).
# With NOTIFY_HOSTS it serves transfers to the fleet's network and NOTIFYs them. With
# REFRESH_CONCURRENCY set, that many checks run at once (Shoal's default: 32).
shoal_member_conf() {
    local dir="$1" host="$2" primaries="$3" notify="${4:-}" addr zone list=() targets=() h
    addr="$(fleet_addr "$host")"
    for h in $primaries; do list+=("\"$(fleet_addr "$h"):53\""); done
    for h in $notify; do targets+=("\"$(fleet_addr "$h"):53\""); done
    mkdir -p "$dir"
    {
        printf '[server]\nlisten = ["%s:53"]\nworkers = 1\nstate_dir = "%s/state"\n' "$addr" "$dir"
        [[ -z "${REFRESH_CONCURRENCY:-}" ]] || printf 'refresh_concurrency = %s\n' "$REFRESH_CONCURRENCY"
        printf '[control]\nsocket = "%s/control.sock"\n' "$dir"
        printf '[metrics]\nlisten = "%s:9153"\n' "$addr"
        for zone in "${ZONE_NAMES[@]}"; do
            printf '[[zone]]\nname = "%s."\nprimaries = [%s]\n' "$zone" "$(IFS=,; echo "${list[*]}")"
            if [[ -n "$notify" ]]; then
                printf 'allow_transfer = ["198.18.0.0/24"]\nnotify = [%s]\n' "$(IFS=,; echo "${targets[*]}")"
            fi
        done
    } >"$dir/shoal.toml"
}

# knot_member_conf DIR HOST: DIR/knot.conf, a Knot secondary on HOST's address of every
# zone in ZONE_NAMES from p (lib/peers.sh's knot_conf, moved to the fleet's addresses),
# keeping each zone in its journal as Shoal keeps its copies.
knot_member_conf() {
    local dir="$1" host="$2"
    PRIMARY="$(fleet_addr p)@53" knot_conf "$dir" 53 1 "${ZONE_NAMES[@]}"
    sed -i -e "s/listen: 127.0.0.1@53/listen: $(fleet_addr "$host")@53/" \
        -e "s/address: 127.0.0.1$/address: $(fleet_addr p)/" \
        -e 's/journal-content: none/journal-content: all/' "$dir/knot.conf"
}

# dnsdist_conf DIR CHECK_ZONE HOST...: DIR/dnsdist.conf, dnsdist on lb's address port
# 53, round robin over the HOSTs (named after them), each health-checked every second
# with an SOA query for CHECK_ZONE that must be answered NOERROR (mustResolve: SERVFAIL
# counts as down), down after 2 failed checks, up after 1 good one; its API on port
# 8083; queries taken from the fleet's network only. No security polling and no other
# outgoing query.
dnsdist_conf() {
    local dir="$1" zone="$2" host
    shift 2
    mkdir -p "$dir"
    {
        cat <<EOF
setLocal("$(fleet_addr lb):53")
setACL({"198.18.0.0/24"})
setSecurityPollSuffix("")
setServerPolicy(roundrobin)
setServFailWhenNoServer(true)
webserver("$(fleet_addr lb):8083")
setWebserverConfig({apiKey="fleet", password="fleet", acl="198.18.0.0/24"})
EOF
        for host in "$@"; do
            printf 'newServer{address="%s:53", name="%s", checkName="%s.", checkType="SOA", checkInterval=1, checkTimeout=500, maxCheckFailures=2, rise=1, mustResolve=true}\n' \
                "$(fleet_addr "$host")" "$host" "$zone"
        done
    } >"$dir/dnsdist.conf"
}
