#!/usr/bin/env bash
# Fuzz Shoal's parsers with cargo-fuzz (libFuzzer) and report what each run did.
#
# Usage: scripts/fuzz.sh [TARGET...]     (default: every target of fuzz/Cargo.toml)
#
# Each target runs for SECONDS seconds (default 300) under `nice -n 10`, one job, on a
# temporary copy of its committed corpus (fuzz/corpus/TARGET), so a run never changes
# the tree unless asked. Then, per target: executions, executions per second, libFuzzer's
# final `cov:` (code edges) and `ft:` (features), and crashes; the corpus columns count
# the committed corpus's entries, the working corpus's at the end, and those of
# fuzz/corpus/TARGET after the run (changed only by MERGE or MINIMIZE). An input that
# crashed is kept in fuzz/artifacts/TARGET/ (not committed); replay it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/<file>`.
#
# Environment:
#   SECONDS=N    seconds per target (default 300)
#   MERGE=1      add the inputs found that reach something new to fuzz/corpus/TARGET
#                (libFuzzer -merge=1: nothing already there is removed)
#   MINIMIZE=1   rewrite fuzz/corpus/TARGET as the smallest set of its files, and of the
#                inputs found, that reaches every code edge they reach together (edges,
#                not libFuzzer's finer features, which keep several times more files);
#                with SECONDS=0 only the committed corpus is minimised; files named
#                `crash-*` or `timeout-*` are kept whatever they reach, as the regression
#                inputs of what fuzzing found
#   COVERAGE=1   then measure line coverage of the corpus left in fuzz/corpus/TARGET
#                (`cargo fuzz coverage`, llvm-cov of the nightly toolchain: `rustup
#                component add llvm-tools-preview --toolchain nightly`): each of Shoal's
#                files the target reaches, and their total
#   TIMEOUT=N    seconds one input may take before it counts as a crash (default 10)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Exits
# non-zero if any target crashed. CI does not fuzz: it replays the committed corpora
# as an ordinary test (engine/tests/fuzz_corpora.rs).
set -euo pipefail

# One block, read whole before it runs: editing this file during a run changes nothing.
{
# Bash counts SECONDS up from its start; read the value given in the environment.
seconds="$(printenv SECONDS || echo 300)"
timeout="${TIMEOUT:-10}"
merge="${MERGE:-0}"
minimize="${MINIMIZE:-0}"
coverage="${COVERAGE:-0}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root/fuzz"

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^shoal-fuzz$')
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/shoal-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

fuzz() { nice -n 10 cargo +nightly fuzz "$@"; }

echo "==> cargo +nightly fuzz build"
fuzz build >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }

# count DIR: the files in DIR.
count() { find "$1" -maxdepth 1 -type f | wc -l; }

# failures DIR: the inputs libFuzzer saved in DIR as failing (not its slow-unit-* notes).
failures() { find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l; }

# final NAME LOG: the value of libFuzzer's final `stat::NAME:` line.
final() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

# status FIELD LOG: the value after `FIELD:` on libFuzzer's last status line.
status() { grep -E '^#[0-9]+' "$2" | tail -n 1 | sed -n "s/.* $1: \([0-9]*\).*/\1/p"; }

# minimize TARGET DIR...: fuzz/corpus/TARGET rewritten from the DIRs (and itself).
minimize() {
    local t="$1" out="$work/$1/min"
    shift
    mkdir -p "$out"
    fuzz run "$t" "$out" "corpus/$t" "$@" -- -merge=1 -use_counters=0 -timeout="$timeout" >"$work/$t/min.log" 2>&1 ||
        { tail -n 20 "$work/$t/min.log"; return 1; }
    find "corpus/$t" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' \) -exec cp {} "$out/" \;
    rm -rf "corpus/$t"
    mv "$out" "corpus/$t"
}

# coverage TARGET: line coverage of Shoal's files by fuzz/corpus/TARGET.
coverage() {
    local t="$1" bin llvm_cov
    fuzz coverage "$t" "corpus/$t" >"$work/$t/coverage.log" 2>&1 || { tail -n 20 "$work/$t/coverage.log"; return 1; }
    bin="target/$(rustc +nightly -vV | sed -n 's/^host: //p')"
    bin="$(find "$bin/coverage" -type f -path "*/release/$t" | head -n 1)"
    llvm_cov="$(rustc +nightly --print sysroot)/lib/rustlib/$(rustc +nightly -vV | sed -n 's/^host: //p')/bin/llvm-cov"
    "$llvm_cov" export -summary-only -instr-profile="coverage/$t/coverage.profdata" "$bin" |
        python3 -c '
import json, sys
root = sys.argv[1] + "/"
files = []
for f in json.load(sys.stdin)["data"][0]["files"]:
    name, lines = f["filename"], f["summary"]["lines"]
    rel = name[len(root):] if name.startswith(root) else None
    if rel and rel.split("/")[0] in ("wire", "zonedb", "engine") and lines["covered"]:
        files.append((rel, lines["covered"], lines["count"]))
for rel, covered, count in sorted(files):
    print(f"    {rel:44} {covered:6}/{count:<6} {100 * covered / count:5.1f}%")
covered, count = sum(f[1] for f in files), sum(f[2] for f in files)
label = "total of the files reached"
print(f"    {label:44} {covered:6}/{count:<6} {100 * covered / max(count, 1):5.1f}%")
' "$repo_root"
}

rows=()
crashed=0
for t in "${targets[@]}"; do
    [ -d "corpus/$t" ] || { echo "no corpus/$t: unknown target $t" >&2; exit 2; }
    mkdir -p "$work/$t/artifacts" "artifacts/$t"
    cp -r "corpus/$t" "$work/$t/corpus"
    before="$(count "$work/$t/corpus")"
    log="$work/$t/run.log"
    execs=0 rate=0 cov=- ft=- crashes=0
    if [ "$seconds" -gt 0 ]; then
        echo "==> $t: ${seconds} s on $before inputs"
        code=0
        fuzz run "$t" "$work/$t/corpus" -- -max_total_time="$seconds" -timeout="$timeout" \
            -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" >"$log" 2>&1 || code=$?
        execs="$(final number_of_executed_units "$log")"
        rate="$(final average_exec_per_sec "$log")"
        cov="$(status cov "$log")"
        ft="$(status ft "$log")"
        crashes="$(failures "$work/$t/artifacts")"
        if [ "$crashes" -gt 0 ] || [ "$code" -ne 0 ]; then
            crashed=1
            crashes=$((crashes > 0 ? crashes : 1))
            cp "$work/$t/artifacts/"* "artifacts/$t/" 2>/dev/null || true
            grep -A 30 -m 1 -E '^==[0-9]+==|panicked at|SUMMARY' "$log" || tail -n 30 "$log"
            echo "$t: crashed (exit $code); inputs kept in fuzz/artifacts/$t/" >&2
        fi
    fi
    after="$(count "$work/$t/corpus")"
    if [ "$merge" = 1 ] && [ "$crashes" -eq 0 ]; then
        fuzz run "$t" "corpus/$t" "$work/$t/corpus" -- -merge=1 -timeout="$timeout" >"$work/$t/merge.log" 2>&1
        echo "==> $t: merged into fuzz/corpus/$t ($(count "corpus/$t") files)"
    fi
    if [ "$minimize" = 1 ] && [ "$crashes" -eq 0 ]; then
        minimize "$t" "$work/$t/corpus"
        echo "==> $t: fuzz/corpus/$t minimised to $(count "corpus/$t") files ($(du -sh --apparent-size "corpus/$t" | cut -f1))"
    fi
    if [ "$coverage" = 1 ] && [ "$crashes" -eq 0 ]; then
        echo "==> $t: line coverage of fuzz/corpus/$t"
        coverage "$t"
    fi
    rows+=("$(printf '%-10s %8s %12s %8s %7s %8s %8s %8s %8s %7s' "$t" "$seconds" "$execs" "$rate" "$cov" "$ft" \
        "$before" "$after" "$(count "corpus/$t")" "$crashes")")
done

echo
printf '%-10s %8s %12s %8s %7s %8s %8s %8s %8s %7s\n' target seconds executions exec/s cov ft corpus found kept crashes
printf '%s\n' "${rows[@]}"
exit "$crashed"
}
