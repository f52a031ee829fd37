#!/usr/bin/env bash
# Make the signed fixtures of the DNSSEC tests (engine/tests/dnssec.rs and
# engine/tests/dnssec_validation.rs) from engine/tests/zones/signed/source.zone.
#
# Output, committed, in engine/tests/zones/signed/:
#   <apex>zone        the signed zone, one record per line, absolute names
#   <apex>ds          the DS of its key-signing key (SHA-256): the validators' trust anchor
#   nsec3.test.resigned.zone   nsec3.test. again: same data, serial + 1, signatures with
#                              a later inception (the IXFR case of dnssec_validation.rs)
#   keys/             the keys (made once, kept: re-running signs with the same keys)
#
# The four variants, one apex each so that one server loads them all:
#   nsec.test.    NSEC,                                 dnssec-signzone, KSK + ZSK
#   nsec3.test.   NSEC3, 0 iterations, no salt, no opt-out, ldns-signzone, one CSK
#   optout.test.  NSEC3 opt-out, 0 iterations, no salt, dnssec-signzone (-3 - -A), KSK + ZSK
#   salted.test.  NSEC3, 5 iterations, salt cafe0123,   ldns-signzone, KSK + ZSK
# Every key is ECDSAP256SHA256 (algorithm 13). Every signature is valid from
# 2026-01-01 to 2090-12-31 (the re-signed zone's from 2026-01-02). Not later: RRSIG times
# are 32-bit serial numbers (RFC 4034 3.1.5, RFC 1982), so an expiration more than 68
# years after the inception or after the present reads as the past (dnssec-signzone
# refuses 2099 with "No self-signed KSK DNSKEY found"). dnssec-verify, Unbound and delv
# accept 2090; ldns-verify-zone 1.8.3 does not ("expiration date earlier than inception
# date": it compares the times as signed 32-bit numbers), so it is not used here.
#
# The inputs are fixed (source, keys, times, salt, iterations); the signatures are not
# byte-identical from run to run, because ECDSA signing draws a random nonce. Both
# signers check nothing about the time of day, so the output does not depend on when
# the script runs.
#
# Needs bind9-dnsutils (dnssec-keygen, dnssec-signzone, dnssec-dsfromkey) and ldnsutils
# (ldns-keygen, ldns-signzone, ldns-key2ds). Run from anywhere:
#   scripts/make-signed-zones.sh
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo_root/engine/tests/zones/signed"
keys="$out/keys"
source_zone="$out/source.zone"

inception=20260101000000
expiration=20901231000000
resign_inception=20260102000000
serial=2026010100

for tool in dnssec-keygen dnssec-signzone dnssec-dsfromkey ldns-keygen ldns-signzone ldns-key2ds; do
    command -v "$tool" >/dev/null || { echo "$tool not installed (bind9-dnsutils, ldnsutils)" >&2; exit 1; }
done
mkdir -p "$keys"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# unsigned APEX SERIAL: the source with $ORIGIN, $TTL and SERIAL.
unsigned() {
    printf '$ORIGIN %s\n$TTL 3600\n' "$1"
    sed "s/ 2026010100 / $2 /" "$source_zone"
}

# key TOOL APEX FLAGS: the base name (no extension) of the key of APEX with DNSKEY
# flags FLAGS (257: KSK or CSK, 256: ZSK), made by TOOL (bind or ldns) if missing. Each
# apex is signed by one tool only, so its keys are that tool's.
key() {
    local tool="$1" apex="$2" flags="$3" f
    for f in "$keys"/K"$apex"+013+*.key; do
        [ -e "$f" ] || continue
        if awk -v flags="$flags" '!/^;/ { for (i = 1; i < NF; i++) if ($i == "DNSKEY" && $(i + 1) == flags) found = 1 }
                                  END { exit !found }' "$f"; then
            echo "${f%.key}"
            return
        fi
    done
    local name ksk=()
    if [ "$tool" = bind ]; then
        [ "$flags" = 257 ] && ksk=(-f KSK)
        name="$(cd "$keys" && dnssec-keygen -q -a ECDSAP256SHA256 "${ksk[@]}" "$apex")"
    else
        [ "$flags" = 257 ] && ksk=(-k)
        name="$(cd "$keys" && ldns-keygen -a ECDSAP256SHA256 "${ksk[@]}" "$apex")"
        rm -f "$keys/$name.ds"
    fi
    echo "$keys/$name"
}

# One record per line, comments and blank lines dropped, sorted: stable diffs.
tidy() {
    grep -v -e '^;' -e '^[[:space:]]*$' | sort
}

# bind_sign APEX OUT SERIAL INCEPTION [NSEC3 options...]
bind_sign() {
    local apex="$1" dest="$2" ser="$3" start="$4"
    shift 4
    local ksk zsk
    ksk="$(key bind "$apex" 257)"
    zsk="$(key bind "$apex" 256)"
    { unsigned "$apex" "$ser"; grep -hv '^;' "$ksk.key" "$zsk.key"; } >"$work/$apex.in"
    dnssec-signzone -q -x -O full -N keep -d "$work" -o "$apex" -s "$start" -e "$expiration" \
        -f "$work/$apex.signed" "$@" "$work/$apex.in" "$ksk" "$zsk" >/dev/null
    tidy <"$work/$apex.signed" >"$dest"
    dnssec-dsfromkey -2 "$ksk.key" >"$out/${apex}ds"
}

# ldns_sign APEX OUT SERIAL INCEPTION KEYS [options...]: KEYS is csk or ksk+zsk.
ldns_sign() {
    local apex="$1" dest="$2" ser="$3" start="$4" kinds="$5"
    shift 5
    local ksk signing
    ksk="$(key ldns "$apex" 257)"
    signing=("$ksk")
    [ "$kinds" = ksk+zsk ] && signing+=("$(key ldns "$apex" 256)")
    unsigned "$apex" "$ser" >"$work/$apex.in"
    ldns-signzone -n -o "$apex" -i "$start" -e "$expiration" -f "$work/$apex.signed" "$@" \
        "$work/$apex.in" "${signing[@]}"
    tidy <"$work/$apex.signed" >"$dest"
    ldns-key2ds -n -2 "$ksk.key" >"$out/${apex}ds"
}

bind_sign nsec.test. "$out/nsec.test.zone" "$serial" "$inception"
bind_sign optout.test. "$out/optout.test.zone" "$serial" "$inception" -3 - -H 0 -A
ldns_sign nsec3.test. "$out/nsec3.test.zone" "$serial" "$inception" csk -t 0
ldns_sign salted.test. "$out/salted.test.zone" "$serial" "$inception" ksk+zsk -t 5 -s cafe0123
ldns_sign nsec3.test. "$out/nsec3.test.resigned.zone" "$((serial + 1))" "$resign_inception" csk -t 0

# Every output checked by BIND's verifier (-z: nsec3.test.'s one key has the KSK flag and
# signs everything). dnssec-verify 9.18 warns "addnode: NSEC node already exists" on
# salted.test. and still passes it (exit status 0).
for f in nsec.test.zone optout.test.zone salted.test.zone; do
    dnssec-verify -q -o "${f%zone}" "$out/$f"
done
for f in nsec3.test.zone nsec3.test.resigned.zone; do
    dnssec-verify -q -z -o nsec3.test. "$out/$f"
done

ls -l "$out"
