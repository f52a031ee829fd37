#!/usr/bin/env bash
# Interop against the reference servers, with their reports printed:
#   - differential: the same queries to Shoal, Knot and NSD serving the same zones;
#   - transfer_interop: Shoal as primary of BIND, Knot and NSD secondaries and as their
#     secondary (AXFR, NOTIFY + IXFR, TSIG, refusals, refresh, serial wrap, expiry,
#     restart from the state directory);
#   - transfer_faults: a misbehaving fake primary, and a three-tier chain of Shoals.
# Run by scripts/test.sh; needs knotd, nsd and named (scripts/test.sh installs them).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

cargo test -p shoal-engine --test differential -- --nocapture
# The transfer tests print their servers' logs; keep the lines that tell the story.
# pipefail makes the exit status cargo's.
cargo test -p shoal-engine --test transfer_interop --test transfer_faults -- --nocapture 2>&1 \
    | awk '/^(test |running|test result|failures)|panicked|transfer (in|out) done|refused|expired/'
