#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer and AddressSanitizer (docs/RELIABILITY.md):
#
#   scripts/fuzz.sh [SECONDS] [TARGET…]     TARGET: rules jsonl events config (default: all)
#
# Builds the targets of Tests/Fuzz/Targets in their own scratch path (.build/fuzz; the normal
# build is untouched), then runs each for SECONDS (default 60, or $FUZZ_SECONDS) on its seed
# corpus, Tests/Fuzz/<target>/ (never written to), and on the inputs earlier runs found
# (.build/fuzz/corpus/<target>/). An input that crashes a target, trips AddressSanitizer, fails one
# of its checks or takes longer than 20 s is saved in .build/fuzz/findings/<target>/, and the
# script exits 1 once every target has run; replay one with `.build/fuzz/release/Fuzz<Target> FILE`.
#
# FUZZ_SEED=N makes a run reproducible, as CI's step is: libFuzzer's seed is N and each target stops
# after the number of inputs in `runs` below (or the time budget, whichever comes first), so CI
# explores the same inputs as a local run with the same seed, and whether a change lands never
# depends on the luck of a random seed. Without it, each run explores new inputs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-${FUZZ_SECONDS:-60}}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(rules jsonl events config)

declare -A product=([rules]=FuzzRules [jsonl]=FuzzJSONL [events]=FuzzEvents [config]=FuzzConfig)
# Inputs per target with FUZZ_SEED (40–50 s each on an idle 2-core machine; checked
# clean with FUZZ_SEED=1 on 2026-12-04).
declare -A runs=([rules]=10000 [jsonl]=90000 [events]=15000 [config]=300000)
for t in "${targets[@]}"; do
    [ -n "${product[$t]:-}" ] || { echo "fuzz: unknown target $t (rules jsonl events config)" >&2; exit 2; }
done

# `-sanitize=fuzzer` would link libFuzzer's own `main`, which clashes with the one SwiftPM gives
# every executable; so: the coverage instrumentation it implies, and the driver without `main`.
swift_bin=$(dirname "$(readlink -f "$(command -v swift)")")
driver=$("$swift_bin/clang" -print-file-name=libclang_rt.fuzzer_no_main-x86_64.a)
[ -f "$driver" ] || { echo "fuzz: this toolchain has no libFuzzer ($driver)" >&2; exit 2; }
flags=(-Xswiftc -sanitize=address
       -Xswiftc -sanitize-coverage=edge,indirect-calls,trace-cmp,inline-8bit-counters,pc-table
       -Xlinker "$driver" -Xlinker -lstdc++)

for t in "${targets[@]}"; do
    echo "fuzz: building ${product[$t]}"
    FANZHA_FUZZ=1 swift build -c release --scratch-path .build/fuzz --product "${product[$t]}" "${flags[@]}" 2>&1 \
        | grep -v "Cannot export local symbol" || true
    [ -x ".build/fuzz/release/${product[$t]}" ] || { echo "fuzz: ${product[$t]} did not build" >&2; exit 2; }
done

failed=()
for t in "${targets[@]}"; do
    mkdir -p ".build/fuzz/corpus/$t" ".build/fuzz/findings/$t"
    extra=()
    [ -f "Tests/Fuzz/$t.dict" ] && extra+=(-dict="Tests/Fuzz/$t.dict")
    [ -n "${FUZZ_SEED:-}" ] && extra+=(-seed="$FUZZ_SEED" -runs="${runs[$t]}")
    echo "fuzz: $t for ${seconds}s"
    # Leaks are not what these targets look for (caches built once are kept on purpose).
    # Swift's own backtracer would catch the crash before AddressSanitizer and libFuzzer do.
    if ! SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 ".build/fuzz/release/${product[$t]}" \
            -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
            -artifact_prefix=".build/fuzz/findings/$t/" "${extra[@]}" \
            ".build/fuzz/corpus/$t" "Tests/Fuzz/$t" > ".build/fuzz/$t.log" 2>&1; then
        failed+=("$t")
        echo "fuzz: $t FAILED — .build/fuzz/$t.log; inputs in .build/fuzz/findings/$t/" >&2
        grep -E "^(==|SUMMARY|Fatal error|.*Precondition failed|.*error:)" ".build/fuzz/$t.log" | head -20 >&2 || true
    fi
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE)" ".build/fuzz/$t.log" | tr '\n' ' ' || true
    echo
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: findings in ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${targets[*]}: no findings in ${seconds}s each"
