#!/usr/bin/env bash
# Interoperability with the reference servers, with verbose output.
#
# For now: the differential test (Shoal vs Knot DNS vs NSD on the zones in
# engine/tests/zones), printing the Knot-vs-NSD report and Shoal's differences.
# Later: zone transfers between Shoal, Knot, NSD and BIND.
#
# SHOAL_DIFF_PEERS_ONLY=1 compares only Knot with NSD; SHOAL_DIFF_VERBOSE=1 lists every
# query of every difference group.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

cargo test -p shoal-engine --test differential -- --nocapture
