#!/usr/bin/env bash
# The engine's equivalences on the whole corpus, on the release binary (run by `make test` after
# the release build): the prefilter and the number of worker threads change no byte of the
# verdicts. The library's tests check the same on small inputs of their own (ScannerTests); the
# corpus-wide check lives here because in a debug build it took half a minute a run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${FANZHA_BIN:-.build/release/fanzha}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
files=(corpus/messages.jsonl corpus/calls.jsonl corpus/reports.jsonl corpus/warned_scams.jsonl corpus/demo.txt)

scan() {
    local name=$1; shift
    local status=0
    "$BIN" scan --format jsonl "$@" "${files[@]}" > "$out/$name" 2> "$out/$name.err" || status=$?
    # 0: something flagged, 1: nothing flagged; 2 is an error.
    [ "$status" -le 1 ] || { echo "equivalence: fanzha scan $* exited $status" >&2; cat "$out/$name.err" >&2; exit 1; }
}
scan default
scan no-prefilter --no-prefilter
scan threads-1 --threads 1
scan threads-5 --threads 5
scan threads-1-no-prefilter --threads 1 --no-prefilter

failed=0
for v in no-prefilter threads-1 threads-5 threads-1-no-prefilter; do
    if cmp -s "$out/default" "$out/$v"; then
        echo "ok   $v: $(wc -l < "$out/$v") verdicts identical to the default run"
    else
        echo "FAIL $v differs from the default run:" >&2
        diff "$out/default" "$out/$v" | head -n 6 >&2
        failed=1
    fi
done
# The corpus does exercise the rules: a check that compares empty verdicts proves nothing.
flagged=$(grep -c -E '"level":"(medium|high)"' "$out/default" || true)
if [ "$flagged" -gt 50 ]; then echo "ok   $flagged corpus records at medium or high"; else echo "FAIL only $flagged corpus records at medium or high" >&2; failed=1; fi
exit $failed
