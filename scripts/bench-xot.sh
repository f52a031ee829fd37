#!/usr/bin/env bash
# XFR over TLS (RFC 9103) against plain TCP: a 1-million-record zone by AXFR, Shoal
# beside BIND 9.18 and NSD 4.6 in the same run, each serving both transports (NSD's
# TLS port does not negotiate ALPN "dot"; it is measured anyway).
#
#   1. AXFR out: lib/axfr_pull.py (pinned to CPU 1; it counts answers, decodes no record)
#      pulls big.test. from each primary (pinned to CPU 0) over TCP and over TLS, RUNS
#      times each; median wall seconds, and the TLS/TCP ratio per server.
#   2. AXFR in: a fresh Shoal secondary (CPU 1) takes the zone from the Shoal primary
#      over TCP and over TLS, RUNS times each; median of its own "transfer in done" ms
#      (receive and build), and of start to serving.
#
# Environment: RECORDS=1000000, RUNS=3, OUT=target/bench-xot, SKIP_INSTALL=1.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$repo"
cd "$repo"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
RECORDS="${RECORDS:-1000000}"
RUNS="${RUNS:-3}"
OUT="${OUT:-$repo/target/bench-xot}"
source scripts/lib/peers.sh
install_peers bind9 nsd
target="${CARGO_TARGET_DIR:-$repo/target}"
build_release "$target" shoal-engine
SHOAL="$target/release/shoal"
WORK="$(mktemp -d /tmp/shoal-bench-xot.XXXXXX)"
mkdir -p "$OUT/logs"
TLS="$repo/engine/tests/tls"
CA="$TLS/ca.pem"
NAME=primary.shoal.test
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

log "generating big.test. (about $RECORDS records)"
python3 scripts/lib/bigzone.py "$WORK" "$RECORDS"
# The answer records of an AXFR: the zone's, and the SOA again at the end.
AXFR_RECORDS=$(($(cat "$WORK/count") + 1))

# Shoal primary: DNS on SP, XoT on ST.
SP=$(free_port) ST=$(free_port)
mkdir -p "$WORK/shoal/zones"
cp "$WORK/v1.zone" "$WORK/shoal/zones/big.test.zone"
cat >"$WORK/shoal/shoal.toml" <<TOML
[server]
listen = ["127.0.0.1:$SP"]
workers = 1
state_dir = "state"
[tls]
listen = ["127.0.0.1:$ST"]
certificate = "$TLS/server.pem"
key = "$TLS/server.key"
[[zone]]
name = "big.test."
file = "zones/big.test.zone"
allow_transfer = ["127.0.0.1"]
TOML
PIN=0 start_server shoal "$WORK/shoal"
SHOAL_PRIMARY=$PID

# BIND primary: DNS on BP, DoT/XoT on BT.
BP=$(free_port) BT=$(free_port)
mkdir -p "$WORK/bind"
cp "$WORK/v1.zone" "$WORK/bind/big.test.zone"
cat >"$WORK/bind/named.conf" <<CONF
tls local-tls { key-file "$TLS/server.key"; cert-file "$TLS/server.pem"; };
options {
    directory "$WORK/bind"; pid-file "$WORK/bind/named.pid"; session-keyfile "$WORK/bind/session.key";
    listen-on port $BP { 127.0.0.1; }; listen-on port $BT tls local-tls { 127.0.0.1; }; listen-on-v6 { none; };
    recursion no; dnssec-validation no; notify no;
};
controls { };
zone "big.test" { type primary; file "big.test.zone"; allow-transfer { 127.0.0.1; }; };
CONF
taskset -c 0 named -g -4 -n 1 -c "$WORK/bind/named.conf" >>"$OUT/logs/bind.log" 2>&1 &
PIDS+=($!)

# NSD primary: DNS on NP, TLS on NT (tls-service-*).
NP=$(free_port) NT=$(free_port)
nsd_conf "$WORK/nsd" "$NP" 1 big.test
cp "$WORK/v1.zone" "$WORK/nsd/zones/big.test.zone"
sed -i "s|^server:|server:\n    tls-service-key: \"$TLS/server.key\"\n    tls-service-pem: \"$TLS/server.pem\"\n    tls-port: $NT\n    ip-address: 127.0.0.1@$NT|" "$WORK/nsd/nsd.conf"
printf '    provide-xfr: 127.0.0.1 NOKEY\n' >>"$WORK/nsd/nsd.conf"
PIN=0 start_server nsd "$WORK/nsd"

for p in $SP $BP $NP; do
    serving_after "$p" big.test 1 300 "$(date +%s.%N)" >/dev/null || true
done
log "primaries serving: shoal $SP/$ST, bind $BP/$BT, nsd $NP/$NT"

pull() { # PORT [tls [no-alpn-check]]
    if [[ "${2:-}" == tls ]]; then
        taskset -c 1 python3 scripts/lib/axfr_pull.py 127.0.0.1 "$1" big.test. "$AXFR_RECORDS" "$CA" "$NAME" ${3:-}
    else
        taskset -c 1 python3 scripts/lib/axfr_pull.py 127.0.0.1 "$1" big.test. "$AXFR_RECORDS"
    fi
}

results="$OUT/axfr-out.csv"
echo "server,transport,run,seconds,messages,bytes,records" >"$results"
for server in shoal:$SP:$ST bind:$BP:$BT nsd:$NP:$NT; do
    IFS=: read -r name plain tls <<<"$server"
    for run in $(seq "$RUNS"); do
        for t in tcp tls; do
            port=$plain
            [[ $t == tls ]] && port=$tls
            # NSD 4.6 serves TLS without agreeing to ALPN "dot" (RFC 9103 asks for it).
            check=""
            [[ $name == nsd ]] && check=no-alpn-check
            if r=$(pull "$port" "$t" $check 2>>"$OUT/logs/pull.log"); then
                echo "$name,$t,$run,${r// /,}" >>"$results"
            else
                log "$name over $t: failed (see $OUT/logs/pull.log)"
                echo "$name,$t,$run,fail,,," >>"$results"
            fi
        done
    done
done

# AXFR in: fresh Shoal secondaries of the Shoal primary.
in_results="$OUT/axfr-in.csv"
echo "transport,run,transfer_ms,serving_seconds" >"$in_results"
for run in $(seq "$RUNS"); do
    for t in tcp tls; do
        d="$WORK/sec-$t-$run"
        mkdir -p "$d"
        port=$(free_port)
        if [[ $t == tls ]]; then
            via=$'transfer_tls = "p"\n'
            primary="127.0.0.1:$ST"
            remote=$'[[tls_remote]]\nname = "p"\n'"ca_file = \"$CA\""$'\n'"hostname = \"$NAME\""$'\n'
        else
            via="" primary="127.0.0.1:$SP" remote=""
        fi
        printf '[server]\nlisten = ["127.0.0.1:%s"]\nworkers = 1\nstate_dir = "state"\n%s[[zone]]\nname = "big.test."\nprimaries = ["%s"]\n%s' \
            "$port" "$remote" "$primary" "$via" >"$d/shoal.toml"
        PIN=1 start_server shoal "$d"
        sec=$PID
        serving=$(serving_after "$port" big.test 1 300 "$START")
        ms=$(grep "transfer in done" "$OUT/logs/shoal-$(basename "$d").log" | tail -1 | sed -E 's/.* ms=([0-9]+).*/\1/')
        echo "$t,$run,$ms,$serving" >>"$in_results"
        stop "$sec"
    done
done

log "AXFR out of a $AXFR_RECORDS-record zone, median of $RUNS (seconds):"
for name in shoal bind nsd; do
    tcp=$(awk -F, -v n=$name '$1 == n && $2 == "tcp" && $4 != "fail" {print $4}' "$results" | median)
    tls=$(awk -F, -v n=$name '$1 == n && $2 == "tls" && $4 != "fail" {print $4}' "$results" | median)
    ratio=$(python3 -c "print(f'{$tls / $tcp:.2f}' if '$tcp' and '$tls' else 'n/a')" 2>/dev/null || echo n/a)
    printf '  %-6s tcp %-8s tls %-8s tls/tcp %s\n' "$name" "${tcp:-fail}" "${tls:-fail}" "$ratio"
done
log "AXFR in (Shoal secondary), median of $RUNS:"
for t in tcp tls; do
    ms=$(awk -F, -v t=$t '$1 == t {print $3}' "$in_results" | median)
    s=$(awk -F, -v t=$t '$1 == t {print $4}' "$in_results" | median)
    printf '  %-4s transfer in %s ms, start to serving %s s\n' "$t" "$ms" "$s"
done
log "raw figures: $results, $in_results"
