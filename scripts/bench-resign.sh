#!/usr/bin/env bash
# A partial re-signing, end to end: how long from the primary's commit to the new serial
# being served by a secondary that takes it by IXFR, for a signed 100k-name zone of
# which CHANGES RRSIGs (and the SOA's) change, as a signer's daily re-signing does.
#
# The zone is bench.test. (scripts/lib/benchzone.py) signed with NSEC3 by ldns-signzone.
# A Shoal primary (CPU 1) serves it with an IXFR journal and NOTIFYs two secondaries on
# CPU 0: Shoal, and Knot beside it. Each round writes a new version of the file (serial
# + 1, CHANGES RRSIGs with new signature bytes: Shoal does not check signatures) and
# reloads the primary; the time is from the reload until the primary, then each
# secondary, answers the new serial (one poller asks all three, every millisecond). The secondaries' logs say whether they took IXFR.
#
# Environment: NAMES=100000, CHANGES=500, ROUNDS=5, OUT=target/bench-resign, SKIP_INSTALL=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAMES="${NAMES:-100000}"
CHANGES="${CHANGES:-500}"
ROUNDS="${ROUNDS:-5}"
OUT="${OUT:-$ROOT/target/bench-resign}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# log, die, PIDS/WORK with cleanup on exit, stop, free_port, knot_conf, start_server,
# serving_after.
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"
install_peers knot ldnsutils
for tool in knotd ldns-signzone ldns-keygen taskset python3 cargo; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
build_release "$TARGET" shoal-engine
SHOAL="$TARGET/release/shoal"
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*.log "$OUT/resign.csv"
WORK="$(mktemp -d /tmp/bench-resign.XXXXXX)"

log "generating and signing bench.test. ($NAMES names)"
python3 "$ROOT/scripts/lib/benchzone.py" "$WORK" "$NAMES" 10
sign_zone "$WORK/bench.test.zone" "$WORK/signed.zone" "$WORK/keys"
cp "$WORK/signed.zone" "$WORK/primary.zone"

# resign SERIAL: rewrite primary.zone with SERIAL and CHANGES RRSIGs (spread over the
# file, plus the SOA's) carrying new signature bytes.
resign() {
    python3 - "$WORK/primary.zone" "$1" "$CHANGES" <<'PY'
import sys
path, serial, changes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = open(path).read().split("\n")
sigs = [i for i, l in enumerate(lines) if "\tRRSIG\t" in l]
step = max(1, len(sigs) // changes)
pick = set(sigs[::step][:changes])
for i, l in enumerate(lines):
    f = l.split("\t")
    if len(f) > 4 and f[3] == "SOA":
        soa = f[4].split()
        soa[2] = str(serial)
        f[4] = " ".join(soa)
        lines[i] = "\t".join(f)
    elif len(f) > 4 and f[3] == "RRSIG" and (i in pick or f[4].startswith("SOA ")):
        rd = f[4].split()
        sig = rd[-1]
        # Another base64 digit in the middle: a new signature of the same length.
        rd[-1] = sig[:10] + ("B" if sig[10] != "B" else "C") + sig[11:]
        f[4] = " ".join(rd)
        lines[i] = "\t".join(f)
open(path, "w").write("\n".join(lines))
PY
}

SPORT=$(free_port)
KPORT=$(free_port)
PPORT=$(free_port)
mkdir -p "$WORK/primary"
cat >"$WORK/primary/shoal.toml" <<EOF
[server]
listen = ["127.0.0.1:$PPORT"]
workers = 1
state_dir = "$WORK/primary/state"
[control]
socket = "$WORK/primary/control.sock"
[[zone]]
name = "bench.test."
file = "$WORK/primary.zone"
allow_transfer = ["127.0.0.1"]
notify = ["127.0.0.1:$SPORT", "127.0.0.1:$KPORT"]
ixfr_journal = 100
EOF
PIN=1 start_server shoal "$WORK/primary"
PRIMARY_PID=$PID
SERIAL=$(awk '$4 == "SOA" {print $7; exit}' "$WORK/signed.zone")
[[ "$(serving_after "$PPORT" bench.test "$SERIAL" 120 "$START")" != -1 ]] || die "the primary did not load"

start_secondaries "$WORK" "$PPORT" "$SPORT" "$KPORT" "$SERIAL"
sleep 2
log "both secondaries serve serial $SERIAL; $ROUNDS re-signings of $CHANGES RRSIGs each"
echo "round,server,seconds" >"$OUT/resign.csv"
for round in $(seq "$ROUNDS"); do
    SERIAL=$((SERIAL + 1))
    resign "$SERIAL"
    time_to_serve "$SERIAL" "$PPORT" "$SPORT" "$KPORT" "$SHOAL" ctl --config "$WORK/primary/shoal.toml" reload |
        sed "s/^/$round,/" | tee -a "$OUT/resign.csv"
    sleep 1
done
grep -ci "ixfr" "$OUT"/logs/shoal-shoal.log >/dev/null && log "Shoal secondary log mentions IXFR $(grep -ci ixfr "$OUT"/logs/shoal-shoal.log) times"
for p in "$SHOAL_PID" "$KNOT_PID" "$PRIMARY_PID"; do stop "$p"; done
python3 - "$OUT/resign.csv" "$CHANGES" "$NAMES" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f"\nRe-signing {sys.argv[2]} RRSIGs of a signed {sys.argv[3]}-name zone: primary reload to serial served (s)\n")
med = {}
for server in ("primary", "shoal", "knot"):
    v = [float(r["seconds"]) for r in rows if r["server"] == server and float(r["seconds"]) >= 0]
    if v:
        med[server] = statistics.median(v)
        print(f"  {server:<6} median {med[server]:.3f}  min {min(v):.3f}  max {max(v):.3f}  ({len(v)} rounds)")
if "shoal" in med and "knot" in med:
    print(f"\n  Shoal/Knot {med['shoal'] / med['knot']:.2f} (the primary itself: reading the file again)")
PY
