#!/usr/bin/env bash
# The one test command: reference servers, layout, format, lints, every test, interop.
#
# Runnable from any directory on a fresh Debian machine as root. Installs Knot, NSD,
# BIND (with delv), the ldns tools, Unbound and dnsperf with apt-get when they are missing
# (the differential tests compare Shoal against Knot and NSD, the DNSSEC tests validate
# its answers with Unbound and delv; they fail loudly without them), and iproute2,
# nftables, dnsdist and prometheus (for promtool) for the fleet and dist/ tests.
#
# Environment: CARGO_TARGET_DIR is honoured; SHOAL_ALLOW_NO_PEERS=1 skips the apt step
# and lets the tests skip (loudly) when knotd/nsd are missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

step() { printf '\n==> %s\n' "$*"; }

# Debian puts knotd and nsd in /usr/sbin, which a non-login shell may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# need COMMAND PACKAGE: add PACKAGE to `missing` unless COMMAND exists or it is listed.
need() {
    command -v "$1" >/dev/null && return
    case " ${missing[*]} " in *" $2 "*) ;; *) missing+=("$2") ;; esac
}

install_reference_servers() {
    missing=()
    need knotd knot
    need kdig knot-dnsutils
    need nsd nsd
    need named bind9
    need dig bind9-dnsutils
    need delv bind9-dnsutils
    need ldns-signzone ldnsutils
    need unbound unbound
    need dnsperf dnsperf
    need python3 python3
    # The fleet test (engine/tests/fleet.rs, scripts/fleet.sh): namespaces, loss, a
    # load balancer; promtool checks dist/prometheus (engine/tests/dist.rs).
    need ip iproute2
    need tc iproute2
    need nft nftables
    need dnsdist dnsdist
    need promtool prometheus
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "knot, nsd, bind9, ldnsutils, unbound, dnsperf, dnsdist, nftables and promtool already installed"
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
    # The packages would start their system daemons on the standard ports; the tests start
    # their own instances on free loopback ports with their own configurations, so none is
    # started (policy-rc.d 101: "action forbidden"). A system Unbound would also make
    # itself the machine's resolver (unbound-resolvconf) and fetch the root trust anchor.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    local status=0
    apt-get install -y --no-install-recommends "${missing[@]}" || status=$?
    if [ "$made_policy" = 1 ]; then
        rm -f "$policy"
    fi
    [ "$status" -eq 0 ] || exit "$status"
    # Where systemd runs, keep the Unbound just installed from starting at boot (a system
    # that had Unbound before keeps its own set-up).
    case " ${missing[*]} " in
        *" unbound "*)
            if command -v systemctl >/dev/null; then
                systemctl disable --now unbound.service unbound-resolvconf.service >/dev/null 2>&1 || true
            fi
            ;;
    esac
    # Nor the dnsdist (port 53) and Prometheus (port 9090, scraping) the fleet tests use
    # only as programs.
    if command -v systemctl >/dev/null; then
        case " ${missing[*]} " in *" dnsdist "*) systemctl disable --now dnsdist.service >/dev/null 2>&1 || true ;; esac
        case " ${missing[*]} " in *" prometheus "*) systemctl disable --now prometheus.service >/dev/null 2>&1 || true ;; esac
    fi
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
