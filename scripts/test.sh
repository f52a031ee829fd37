#!/usr/bin/env bash
# The one test command: reference servers, layout, format, lints, every test, interop.
#
# Runnable from any directory on a fresh Debian machine as root. Installs Knot, NSD,
# BIND and dnsperf with apt-get when they are missing (the differential tests compare
# Shoal against Knot and NSD and fail loudly without them).
#
# Environment: CARGO_TARGET_DIR is honoured; SHOAL_ALLOW_NO_PEERS=1 skips the apt step
# and lets the tests skip (loudly) when knotd/nsd are missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

step() { printf '\n==> %s\n' "$*"; }

# Debian puts knotd and nsd in /usr/sbin, which a non-login shell may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

install_reference_servers() {
    local missing=()
    command -v knotd >/dev/null || missing+=(knot)
    command -v kdig >/dev/null || missing+=(knot-dnsutils)
    command -v nsd >/dev/null || missing+=(nsd)
    command -v named >/dev/null || missing+=(bind9)
    command -v dig >/dev/null || missing+=(bind9-dnsutils)
    command -v dnsperf >/dev/null || missing+=(dnsperf)
    command -v python3 >/dev/null || missing+=(python3)
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "knot, nsd, bind9 and dnsperf already installed"
        return
    fi
    if [ "${SHOAL_ALLOW_NO_PEERS:-}" = 1 ]; then
        echo "missing ${missing[*]}; SHOAL_ALLOW_NO_PEERS=1, not installing"
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing ${missing[*]} and not root: install them or run as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
    # The packages start system daemons on the standard ports; the tests start their own
    # instances on free loopback ports, so the system ones are not needed.
}

step "reference servers"
install_reference_servers

step "scripts/check-layout.py (no import circles, module docs, file sizes)"
python3 "$repo_root/scripts/check-layout.py"

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
# --no-fail-fast: one failing test binary must not hide the others' results
cargo test --workspace --no-fail-fast

step "scripts/interop.sh"
"$repo_root/scripts/interop.sh"

step "all tests passed"
