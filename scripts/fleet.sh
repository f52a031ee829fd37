#!/usr/bin/env bash
# A fleet on one machine: a Knot primary, three Shoal secondaries and dnsdist in front,
# each host in its own network namespace on one bridge, with addresses from
# 198.18.0.0/15 that exist only inside those namespaces (scripts/lib/fleet.sh), removed
# on exit. It runs the scenarios of issue 19 and prints a table:
#
#   1. a change on the primary: time until every member serves the new serial;
#   2. ZONES zones changed at once: time until every member serves all of them;
#   3. a secondary killed (-9): queries through dnsdist fail only until its health checks
#      take it out; it restarts serving its copies (no transfer) and rejoins;
#   4. the primary cut off: members serve until the SOA expire (20 s), then answer
#      SERVFAIL, /ready turns 503 and dnsdist takes them out; they come back once the
#      primary is reachable;
#   5. the primary's link loses 10% of frames each way, is limited to 20 Mbit/s, and its
#      DNS goes through a relay adding 50 ms each way: changes still converge;
#   6. tiered: the primary -> 2 Shoal secondaries -> 4 Shoal secondaries, the second tier
#      taking IXFR from the diffs the first received.
# Then the same topology with Knot as the three secondaries for scenarios 1 and 2, in the
# same run. Checks that fail are marked in the table and make the exit status 1.
#
# The fleet zone fleet.test. (SOA refresh 10 s, retry 2 s, expire 20 s) is changed by
# rewriting its file and `knotc zone-reload` (NOTIFY, IXFR); the ZONES zones
# z0.test. .. (refresh 3600 s) are lib/change_stream.py's. Times run from just before
# the knotc call until the last member answers the new serial, polled from a control
# namespace by lib/fleet_probe.py (every 2 ms for one zone; the 1,000-zone sweep takes
# about 0.5 s). Every loop has a time limit; processes are stopped by PID.
#
# Usage: scripts/fleet.sh [--short]
#   --short: scenarios 1 (3 changes) and 3 only, one zone, no Knot comparison (for CI,
#   engine/tests/fleet.rs).
# Needs root, ip (iproute2), nft (nftables), tc, knotd/knotc (knot), dnsdist, python3.
# Missing any of them, or when namespaces cannot be made, it prints `SKIP: reason` and
# exits 77.
#
# Environment: SHOAL_BIN (default target/release/shoal), OUT (default target/fleet:
# logs, fleet.tsv, table.txt, changes.csv), ZONES=1000, CHANGES=10 (changes of
# fleet.test. in scenarios 1, 5 and 6), ROUNDS=3 (scenario 2 rounds),
# SCENARIOS="1 2 3 5 4 knot 6" (which to run, in this order; knot: Knot as the
# secondaries for 1 and 2), TIER2_CONCURRENCY=32 (refresh_concurrency of the four
# second-tier members in scenario 6).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
SHORT=0
case "${1:-}" in
    --short) SHORT=1 ;;
    "") ;;
    *) echo "usage: $0 [--short]" >&2; exit 2 ;;
esac
SHOAL="${SHOAL_BIN:-$ROOT/target/release/shoal}"
OUT="${OUT:-$ROOT/target/fleet}"
if [[ "$SHORT" == 1 ]]; then
    ZONES=0 CHANGES="${CHANGES:-3}" ROUNDS=0 SCENARIOS="1 3"
else
    ZONES="${ZONES:-1000}" CHANGES="${CHANGES:-10}" ROUNDS="${ROUNDS:-3}" SCENARIOS="${SCENARIOS:-1 2 3 5 4 knot 6}"
fi
TIER2_CONCURRENCY="${TIER2_CONCURRENCY:-32}"
# wanted SCENARIO: whether SCENARIOS lists it.
wanted() { [[ " $SCENARIOS " == *" $1 "* ]]; }
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"
# shellcheck source=lib/fleet.sh
source "$ROOT/scripts/lib/fleet.sh"

skip() {
    echo "SKIP: $*"
    trap - EXIT # nothing started yet (peers.sh's cleanup would make the status 1)
    exit 77
}
[[ "$(id -u)" == 0 ]] || skip "not root (network namespaces need it)"
for tool in ip nft tc knotd knotc dnsdist python3; do
    command -v "$tool" >/dev/null || skip "$tool not found (packages iproute2, nftables, knot, dnsdist, python3)"
done
[[ -x "$SHOAL" ]] || skip "no Shoal binary at $SHOAL (set SHOAL_BIN)"
fleet_sweep
probe_ns="sfl$$-probe"
ip netns add "$probe_ns" 2>/dev/null || skip "ip netns add fails (no permission to make network namespaces)"
ip netns delete "$probe_ns"

on_exit() {
    cleanup
    fleet_down
}
trap on_exit EXIT
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*.log "$OUT"/*.csv "$OUT/fleet.tsv" "$OUT/table.txt"
WORK="$(mktemp -d /tmp/fleet.XXXXXX)"
FAILED=0
MEMBERS_HOSTS=(s1 s2 s3)
declare -A MEMBER_PID=()

probe() { fleet_exec ctl python3 "$ROOT/scripts/lib/fleet_probe.py" "$@"; }
addrs() {
    local h a=()
    for h in "$@"; do a+=("$(fleet_addr "$h")"); done
    (IFS=,; echo "${a[*]}")
}
now() { date +%s.%N; }
# calc EXPR [FORMAT]: EXPR (awk syntax) evaluated, printed with FORMAT (default %g:
# six digits).
calc() { awk "BEGIN { printf \"${2:-%g}\\n\", $1 }"; }
# row SCENARIO SECONDARIES RESULT CHECK: a line of the table (CHECK: ok, FAIL or note).
row() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$OUT/fleet.tsv"
    log "$1 [$2]: $3 ($4)"
    [[ "$4" != FAIL ]] || FAILED=1
}
verdict() { if "$@"; then echo ok; else echo FAIL; fi; }
fleet_serial() { awk '/ SOA / {print $5}' "$PRIMARY_DIR/zones/fleet.test.zone"; }
bulk_serial() { awk '/ SOA / {print $5}' "$PRIMARY_DIR/zones/z0.test.zone"; }
API="http://$(fleet_addr lb):8083/api/v1/servers/localhost"

# --- hosts and zones -------------------------------------------------------------------
hosts=(ctl lb p s1 s2 s3)
! wanted 6 || hosts+=(s4 s5 s6 s7)
log "namespaces $FLEET_PREFIX-{br,${hosts[*]}} on 198.18.0.0/24"
fleet_up "${hosts[@]}"
ZONE_NAMES=(fleet.test)
for ((i = 0; i < ZONES; i++)); do ZONE_NAMES+=("z$i.test"); done
ALL_ZONES="fleet.test"
[[ "$ZONES" == 0 ]] || ALL_ZONES="fleet.test,$(seq -s, -f 'z%.0f.test' 0 $((ZONES - 1)))"
PRIMARY_DIR="$WORK/primary"
knot_primary_conf "$PRIMARY_DIR" "s1 s2 s3" "${ZONE_NAMES[@]}"
python3 "$ROOT/scripts/lib/fleet_probe.py" write-zone "$PRIMARY_DIR/zones" fleet.test 1
[[ "$ZONES" == 0 ]] || python3 "$ROOT/scripts/lib/change_stream.py" --write "$PRIMARY_DIR/zones" "$ZONES"
KNOT_SOCK="$PRIMARY_DIR/run/knot.sock"
fleet_start p knot-primary knotd -c "$PRIMARY_DIR/knot.conf"
[[ "$(probe serving 60 "$ALL_ZONES" 1 "$(addrs p)")" != -1 ]] || die "the Knot primary did not load its zones"
log "primary serves $((ZONES + 1)) zones"

# start_member KIND HOST [CONF_ARGS...]: a Shoal or Knot secondary on HOST, its folder
# $WORK/$MEMBER_TAG-KIND-HOST (kept across restarts); CONF_ARGS as shoal_member_conf's
# after HOST.
start_member() {
    local kind="$1" host="$2" dir="$WORK/${MEMBER_TAG:-}$1-$2"
    shift 2
    case "$kind" in
        shoal)
            [[ -f "$dir/shoal.toml" ]] || shoal_member_conf "$dir" "$host" "$@"
            fleet_start "$host" "shoal-$host" "$SHOAL" serve --config "$dir/shoal.toml"
            ;;
        knot)
            [[ -f "$dir/knot.conf" ]] || knot_member_conf "$dir" "$host"
            fleet_start "$host" "knot-$host" knotd -c "$dir/knot.conf"
            ;;
    esac
    MEMBER_PID[$host]=$PID
}

stop_members() {
    local host
    for host in "$@"; do
        stop "${MEMBER_PID[$host]}"
        unset "MEMBER_PID[$host]"
    done
}

# wait_members LIMIT HOST...: until every HOST serves every zone at the primary's serial
# (the ZONES zones all change together: z0.test.'s serial is theirs).
wait_members() {
    local limit="$1" t
    shift
    t=$(probe serving "$limit" fleet.test "$(fleet_serial)" "$(addrs "$@")")
    [[ "$t" != -1 ]] || die "members $* did not take fleet.test. within $limit s"
    [[ "$ZONES" == 0 ]] || t=$(probe serving "$limit" "zN:$ZONES" "$(bulk_serial)" "$(addrs "$@")")
    [[ "$t" != -1 ]] || die "members $* did not take every zone within $limit s"
}

# scenario_changes KIND: scenario 1, CHANGES changes of fleet.test.
scenario_changes() {
    local kind="$1" i line all=() members
    members="$(addrs "${MEMBERS_HOSTS[@]}")"
    for ((i = 0; i < CHANGES; i++)); do
        line=$(probe change "$KNOT_SOCK" "$PRIMARY_DIR/zones" 60 fleet.test "$members")
        echo "1,$kind,$i,$line" >>"$OUT/changes.csv"
        all+=("${line%%,*}")
        sleep 0.5
    done
    read -r p50 max < <(probe stats "${all[@]}")
    row "1 one change ($CHANGES times)" "$kind" "every member serves it after p50 $p50 ms, max $max ms" \
        "$(verdict test "$max" != -1)"
}

# scenario_bulk KIND [LABEL]: scenario 2, ROUNDS rounds of all ZONES zones changed at once.
scenario_bulk() {
    local kind="$1" label="${2:-2 $ZONES zones at once ($ROUNDS times)}" i line all=() members
    members="$(addrs "${MEMBERS_HOSTS[@]}")"
    for ((i = 0; i < ROUNDS; i++)); do
        line=$(probe change "$KNOT_SOCK" "$PRIMARY_DIR/zones" 180 "zN:$ZONES" "$members")
        echo "2,$kind,$i,$line" >>"$OUT/changes.csv"
        all+=("${line%%,*}")
        sleep 2
    done
    read -r p50 max < <(probe stats "${all[@]}")
    row "$label" "$kind" "every member serves all after p50 $p50 ms, max $max ms" "$(verdict test "$max" != -1)"
}

# scenario_kill: scenario 3 on s2.
scenario_kill() {
    local stopfile="$WORK/load.stop" csv="$OUT/kill-load.csv" load_pid t_kill t_down t_restart t_end
    local down served up xfr before window after s2
    s2="$(fleet_addr s2)"
    rm -f "$stopfile"
    fleet_start ctl load python3 "$ROOT/scripts/lib/fleet_probe.py" load "$(fleet_addr lb)" www.fleet.test 100 "$stopfile" 120 "$csv"
    load_pid=$PID
    sleep 3
    t_kill=$(now)
    # Reaped inside the group, so that bash's "Killed" notice goes nowhere.
    { kill -9 "${MEMBER_PID[s2]}" && wait "${MEMBER_PID[s2]}"; } 2>/dev/null || true
    stop "${MEMBER_PID[s2]}" 1
    down=$(probe wait-lb "$API" s2 down 30 "$t_kill")
    t_down=$(calc "$t_kill + $down" %.3f)
    sleep 2
    t_restart=$(now)
    start_member shoal s2
    served=$(probe serving 30 fleet.test "$(fleet_serial)" "$s2")
    [[ "$served" == -1 ]] || served=$(calc "$(now) - $t_restart" %.2f)
    [[ "$ZONES" == 0 ]] || probe serving 30 "zN:$ZONES" "$(bulk_serial)" "$s2" >/dev/null
    up=$(probe wait-lb "$API" s2 up 30 "$t_restart")
    sleep 3
    touch "$stopfile"
    wait "$load_pid" || true
    t_end=$(now)
    xfr=$(probe metric "$s2" shoal_xfr_in_total)
    # Queries sent in the last 0.1 s before the kill may be in flight at s2 when it dies:
    # they belong to the window.
    before=$(probe failures "$csv" 0 "$(calc "$t_kill - 0.1" %.3f)")
    window=$(probe failures "$csv" "$(calc "$t_kill - 0.1" %.3f)" "$(calc "$t_down + 0.5" %.3f)")
    after=$(probe failures "$csv" "$(calc "$t_down + 0.5" %.3f)" "$t_end")
    row "3 secondary s2 killed (-9)" shoal \
        "dnsdist took it out after ${down}s; queries failed: ${before%,*}/${before#*,} before, ${window%,*}/${window#*,} until then, ${after%,*}/${after#*,} after (restart and rejoin included)" \
        "$(verdict test "$down" != -1 -a "${before%,*}" == 0 -a "${after%,*}" == 0)"
    row "3 s2 restarted" shoal \
        "served its copy ${served}s after start (at most), transfers in since: ${xfr}; back in dnsdist ${up}s after start" \
        "$(verdict test "$served" != -1 -a "$up" != -1 -a "$xfr" == 0)"
}

# scenario_cut: scenario 4.
scenario_cut() {
    local t0 lines s r l min_s=99 max_s=0 max_r=0 max_l=0 ok=1
    t0=$(now)
    fleet_cut p
    lines=$(probe expiry "$t0" 60 "$API" fleet.test "$(addrs "${MEMBERS_HOSTS[@]}")")
    fleet_mend p
    echo "$lines" >"$OUT/cut.csv"
    while IFS=, read -r _ s r l; do
        for v in "$s" "$r" "$l"; do [[ "$v" != -1.0 ]] || ok=0; done
        min_s=$(calc "($s < $min_s ? $s : $min_s)")
        max_s=$(calc "($s > $max_s ? $s : $max_s)")
        max_r=$(calc "($r > $max_r ? $r : $max_r)")
        max_l=$(calc "($l > $max_l ? $l : $max_l)")
    done <<<"$lines"
    # The last successful check was at most one refresh (10 s) before the cut: each
    # member serves at least expire - refresh = 10 s after it, and at most 20 s + 1 s.
    row "4 primary cut off (SOA expire 20 s)" shoal \
        "members served for ${min_s}-${max_s}s, then SERVFAIL; /ready 503 by ${max_r}s; dnsdist had all out by ${max_l}s" \
        "$(verdict test "$ok" == 1 -a "$(calc "($min_s >= 9.5 && $max_s <= 22)")" == 1)"
    t0=$(now)
    lines=$(probe recovery "$t0" 60 "$API" fleet.test "$(addrs "${MEMBERS_HOSTS[@]}")")
    ok=1 max_s=0 max_l=0
    while IFS=, read -r _ s r l; do
        for v in "$s" "$r" "$l"; do [[ "$v" != -1.0 ]] || ok=0; done
        max_s=$(calc "($s > $max_s ? $s : $max_s)")
        max_l=$(calc "($l > $max_l ? $l : $max_l)")
    done <<<"$lines"
    row "4 primary reachable again" shoal "all serve again after ${max_s}s, back in dnsdist by ${max_l}s" "$(verdict test "$ok" == 1)"
}

# scenario_lossy: scenario 5, one zone changed. (Not the ZONES zones: Knot as the
# primary sends each zone's NOTIFYs in turn on a few threads, and waits seconds for each
# one lost, so 1,000 zones take it minutes.)
scenario_lossy() {
    local i line all=() members timeouts0 timeouts1 h
    members="$(addrs "${MEMBERS_HOSTS[@]}")"
    timeouts0=0
    for h in "${MEMBERS_HOSTS[@]}"; do
        timeouts0=$(calc "$timeouts0 + $(probe metric "$(fleet_addr "$h")" shoal_refresh_soa_timeouts_total)")
    done
    fleet_loss p 10
    fleet_slow p 20mbit
    fleet_delay p 50 600
    for ((i = 0; i < CHANGES; i++)); do
        line=$(probe change "$KNOT_SOCK" "$PRIMARY_DIR/zones" 60 fleet.test "$members")
        echo "5,shoal,$i,$line" >>"$OUT/changes.csv"
        all+=("${line%%,*}")
        sleep 0.5
    done
    read -r p50 max < <(probe stats "${all[@]}")
    row "5 lossy primary link: one change ($CHANGES times)" shoal "every member serves it after p50 $p50 ms, max $max ms" \
        "$(verdict test "$max" != -1)"
    timeouts1=0
    for h in "${MEMBERS_HOSTS[@]}"; do
        timeouts1=$(calc "$timeouts1 + $(probe metric "$(fleet_addr "$h")" shoal_refresh_soa_timeouts_total)")
    done
    row "5 lossy primary link: SOA queries lost" shoal "$(calc "$timeouts1 - $timeouts0") SOA tries unanswered (shoal_refresh_soa_timeouts_total), retried" note
    fleet_delay_off p
    fleet_slow p off
    fleet_loss p 0
}

# scenario_tiers: scenario 6 on s1, s2 (first tier) and s4..s7 (second tier).
scenario_tiers() {
    local i line all=() members h ixfr0=0 ixfr1=0 axfr0=0 axfr1=0 tier2=(s4 s5 s6 s7)
    MEMBER_TAG=tier-
    start_member shoal s1 "p" "s4 s5 s6 s7"
    start_member shoal s2 "p" "s4 s5 s6 s7"
    wait_members 120 s1 s2
    # A Shoal serves max_transfer_connections (128) transfer connections at once and
    # refuses more: four second-tier members checking TIER2_CONCURRENCY (32, Shoal's
    # default) zones each stay within it when every zone changes at once.
    REFRESH_CONCURRENCY=$TIER2_CONCURRENCY start_member shoal s4 "s1 s2"
    REFRESH_CONCURRENCY=$TIER2_CONCURRENCY start_member shoal s5 "s1 s2"
    REFRESH_CONCURRENCY=$TIER2_CONCURRENCY start_member shoal s6 "s2 s1"
    REFRESH_CONCURRENCY=$TIER2_CONCURRENCY start_member shoal s7 "s2 s1"
    wait_members 120 s1 s2 "${tier2[@]}"
    sleep 2
    for h in "${tier2[@]}"; do
        ixfr0=$((ixfr0 + $(probe metric "$(fleet_addr "$h")" shoal_xfr_in_total kind=ixfr)))
        axfr0=$((axfr0 + $(probe metric "$(fleet_addr "$h")" shoal_xfr_in_total kind=axfr)))
    done
    members="$(addrs s1 s2 "${tier2[@]}")"
    for ((i = 0; i < CHANGES; i++)); do
        line=$(probe change "$KNOT_SOCK" "$PRIMARY_DIR/zones" 60 fleet.test "$members")
        echo "6,shoal,$i,$line" >>"$OUT/changes.csv"
        all+=("${line%%,*}")
        sleep 0.5
    done
    read -r p50 max < <(probe stats "${all[@]}")
    row "6 tiered 1+2+4: one change ($CHANGES times)" shoal "all 6 serve it after p50 $p50 ms, max $max ms" "$(verdict test "$max" != -1)"
    if [[ "$ZONES" != 0 ]]; then
        line=$(probe change "$KNOT_SOCK" "$PRIMARY_DIR/zones" 180 "zN:$ZONES" "$members")
        echo "6,shoal,bulk,$line" >>"$OUT/changes.csv"
        row "6 tiered 1+2+4: $ZONES zones at once" shoal "all 6 serve all after $(printf '%.1f' "${line%%,*}")s" \
            "$(verdict test "${line%%,*}" != -1.000)"
    fi
    for h in "${tier2[@]}"; do
        ixfr1=$((ixfr1 + $(probe metric "$(fleet_addr "$h")" shoal_xfr_in_total kind=ixfr)))
        axfr1=$((axfr1 + $(probe metric "$(fleet_addr "$h")" shoal_xfr_in_total kind=axfr)))
    done
    local want=$((4 * (CHANGES + (ZONES > 0 ? ZONES : 0))))
    row "6 second tier's transfers" shoal "$((ixfr1 - ixfr0)) IXFR, $((axfr1 - axfr0)) AXFR for $want zone changes" \
        "$(verdict test $((axfr1 - axfr0)) == 0 -a $((ixfr1 - ixfr0)) -ge $((4 * CHANGES)))"
    stop_members s1 s2 "${tier2[@]}"
}

# --- Shoal as the secondaries ----------------------------------------------------------
for h in "${MEMBERS_HOSTS[@]}"; do start_member shoal "$h" p; done
wait_members 180 "${MEMBERS_HOSTS[@]}"
log "Shoal members serve every zone"
dnsdist_conf "$WORK/dnsdist" fleet.test "${MEMBERS_HOSTS[@]}"
fleet_start lb dnsdist dnsdist --supervised --disable-syslog -C "$WORK/dnsdist/dnsdist.conf"
for h in "${MEMBERS_HOSTS[@]}"; do
    [[ "$(probe wait-lb "$API" "$h" up 30 "$(now)")" != -1 ]] || die "dnsdist does not see $h up"
done
log "dnsdist health-checks ${MEMBERS_HOSTS[*]}"
if command -v promtool >/dev/null; then
    if fleet_exec ctl python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
        "http://$(fleet_addr s1):9153/metrics" >"$OUT/metrics-s1.txt"; then
        if check=$(promtool check metrics <"$OUT/metrics-s1.txt" 2>&1); then
            row "metrics page" shoal "promtool check metrics: ok" note
        else
            row "metrics page" shoal "promtool check metrics: $(echo "$check" | grep -m1 -i error)" note
        fi
    fi
fi

for s in $SCENARIOS; do
    case "$s" in
        1) scenario_changes shoal ;;
        2) [[ "$ROUNDS" == 0 || "$ZONES" == 0 ]] || scenario_bulk shoal ;;
        3) scenario_kill ;;
        4) scenario_cut ;;
        5) scenario_lossy ;;
    esac
done
stop_members "${MEMBERS_HOSTS[@]}"

# --- Knot as the secondaries, scenarios 1 and 2 ----------------------------------------
if wanted knot; then
    for h in "${MEMBERS_HOSTS[@]}"; do start_member knot "$h"; done
    wait_members 180 "${MEMBERS_HOSTS[@]}"
    log "Knot members serve every zone"
    sleep 2
    scenario_changes knot
    [[ "$ROUNDS" == 0 || "$ZONES" == 0 ]] || scenario_bulk knot
    stop_members "${MEMBERS_HOSTS[@]}"
fi

! wanted 6 || scenario_tiers

python3 - "$OUT/fleet.tsv" <<'PY' | tee "$OUT/table.txt"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
w = [max(len(r[i]) for r in rows + [["scenario", "secondaries", "result", "check"]]) for i in range(4)]
line = lambda r: "  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip()
print()
print(line(["scenario", "secondaries", "result", "check"]))
print(line(["-" * x for x in w]))
for r in rows:
    print(line(r))
PY
[[ "$FAILED" == 0 ]] || die "some checks failed (logs in $OUT/logs)"
log "all checks passed"
