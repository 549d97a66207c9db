#!/usr/bin/env bash
# ThreadSanitizer on the parts of Fanzha that run on several threads (docs/RELIABILITY.md):
#
#   scripts/tsan.sh
#
# Builds the whole package with `--sanitize=thread` in its own scratch path (.build/tsan; the
# normal build is untouched) and runs:
#   1. `scan --threads 4` over corpus/ and, when present, two dev data sets (../shared/datasets):
#      the parallel scanner, the reading/scanning pipeline, rule compilation on every core;
#   2. `scan --input events --threads 4`: 2,000 live calls open at once (scripts/bench_events.py);
#   3. `fanzha serve` with HTTP live calls sent from 8 threads at once, and the rules reloaded
#      while they run (scripts/tsan_serve.py): the sharded live-call screeners and their locks.
# Any data race ThreadSanitizer reports makes the script fail (halt_on_error); the reports are in
# .build/tsan/*.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "tsan: building (debug, --sanitize=thread, .build/tsan)"
swift build --sanitize=thread --scratch-path .build/tsan 2>&1 | grep -E "error|Compiling|Build complete" | grep -v "^\[" || true
bin=.build/tsan/debug/fanzha
[ -x "$bin" ] || { echo "tsan: the build failed" >&2; exit 2; }
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
failed=0

run() {   # name, then the command; status 0 or 1 (no hit) is a pass, 66 a race
    local name=$1; shift
    local status=0
    "$@" > /dev/null 2> ".build/tsan/$name.log" || status=$?
    if grep -q "ThreadSanitizer" ".build/tsan/$name.log" || [ "$status" -gt 1 ]; then
        echo "tsan: $name FAILED (status $status): .build/tsan/$name.log" >&2
        grep -A12 "WARNING: ThreadSanitizer" ".build/tsan/$name.log" | head -40 >&2 || true
        failed=1
    else
        echo "tsan: $name: no race ($(grep -c . ".build/tsan/$name.log" || true) lines on stderr)"
    fi
}

inputs=(corpus/messages.jsonl corpus/calls.jsonl corpus/reports.jsonl corpus/warned_scams.jsonl)
# Two dev sets of short texts (an instrumented debug build is slow; the calls are corpus/'s).
for f in ../shared/datasets/telecom-fraud-texts/dev.csv ../shared/datasets/fbs-sms/dev.jsonl; do
    [ -f "$f" ] && inputs+=("$f")
done
run scan "$bin" scan --threads 4 --format jsonl "${inputs[@]}"

python3 scripts/bench_events.py 7 2000 > .build/tsan/events.jsonl
run events "$bin" scan --input events --threads 4 .build/tsan/events.jsonl

run serve python3 scripts/tsan_serve.py "$bin"

[ "$failed" -eq 0 ] || exit 1
echo "tsan: no data race found"
