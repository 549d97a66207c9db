#!/usr/bin/env bash
# The throughput benchmark (docs/BENCHMARKS.md): one run measures fanzha with all bundled rules,
# ripgrep over every literal of those rules on the same file, fanzha without the prefilter, the
# rules' compile time, and fanzha with 10x and 100x the rules. Not a test: numbers, not verdicts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MB=${BENCH_MB:-100}
OUT=bench/out
BIN=.build/release/fanzha
mkdir -p "$OUT"
swift build -c release >/dev/null
[ -s "$OUT/corpus-$MB.txt" ] || python3 scripts/bench_corpus.py 42 "$MB" > "$OUT/corpus-$MB.txt"
[ -s "$OUT/corpus-10.txt" ] || python3 scripts/bench_corpus.py 42 10 > "$OUT/corpus-10.txt"
[ -s "$OUT/benign-$MB.txt" ] || python3 scripts/bench_corpus.py 42 "$MB" benign > "$OUT/benign-$MB.txt"
"$BIN" lint --print-words > "$OUT/words.txt"
rules=$( "$BIN" lint 2>&1 >/dev/null | sed -n 's/.*(\([0-9]*\) rules.*/\1/p')
for k in 10 100; do
    n=$(( rules * (k - 1) ))
    mkdir -p "$OUT/rules-x$k"
    python3 scripts/bench_rules.py 7 "$n" "$OUT/words.txt" > "$OUT/rules-x$k/generated.fz"
done
CORPUS="$OUT/corpus-$MB.txt"
bytes=$(stat -c %s "$CORPUS")
lines=$(wc -l < "$CORPUS")

# run NAME INPUT CMD...: wall seconds and peak resident memory, best of $BENCH_RUNS (default 3);
# MB/s and records/s are for INPUT.
RUNS=${BENCH_RUNS:-3}
run() {
    local name=$1 input=$2; shift 2
    local bytes lines
    bytes=$(stat -c %s "$input")
    lines=$(wc -l < "$input")
    local best="" mem=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" > /dev/null 2>"$OUT/stderr.txt" || [ $? -eq 1 ]
        read -r secs kb < <(tail -n 1 "$OUT/time.txt")
        if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; mem=$kb; fi
    done
    awk -v n="$name" -v s="$best" -v m="$mem" -v b="$bytes" -v l="$lines" \
        'BEGIN{ s = (s < 0.01 ? 0.01 : s); printf "| %s | %.2f | %.1f | %.0f | %.0f |\n", n, s, b/s/1e6, l/s, m/1024 }'
    echo "$best" > "$OUT/last.txt"
}

echo "Corpus: $OUT/corpus-$MB.txt, $((bytes / 1000000)) MB, $lines lines; $rules bundled rules, $(wc -l < "$OUT/words.txt") literal words; $(nproc) cores."
echo
echo "| run | seconds | MB/s | records/s | peak MB |"
echo "|---|---:|---:|---:|---:|"
run "rg -c -F -f (every rule literal)" "$CORPUS" rg -c -F -f "$OUT/words.txt" "$CORPUS"; rg=$(cat "$OUT/last.txt")
run "fanzha scan --format jsonl (bundled rules)" "$CORPUS" "$BIN" scan --format jsonl "$CORPUS"; fz=$(cat "$OUT/last.txt")
run "fanzha scan --count (bundled rules)" "$CORPUS" "$BIN" scan --count "$CORPUS"; fzc=$(cat "$OUT/last.txt")
run "fanzha scan --format jsonl --threads 1" "$CORPUS" "$BIN" scan --format jsonl --threads 1 "$CORPUS"
run "fanzha scan --format jsonl, legitimate lines only" "$OUT/benign-$MB.txt" "$BIN" scan --format jsonl "$OUT/benign-$MB.txt"
run "rg -c -F -f, legitimate lines only" "$OUT/benign-$MB.txt" rg -c -F -f "$OUT/words.txt" "$OUT/benign-$MB.txt"
run "fanzha scan --format jsonl --no-prefilter" "$CORPUS" "$BIN" scan --format jsonl --no-prefilter "$CORPUS"; nopf=$(cat "$OUT/last.txt")
run "fanzha scan --format jsonl, 10 MB input" "$OUT/corpus-10.txt" "$BIN" scan --format jsonl "$OUT/corpus-10.txt"
run "fanzha scan, 10x rules" "$CORPUS" "$BIN" scan --format jsonl --rules rules --rules "$OUT/rules-x10" "$CORPUS"; x10=$(cat "$OUT/last.txt")
run "fanzha scan, 100x rules" "$CORPUS" "$BIN" scan --format jsonl --rules rules --rules "$OUT/rules-x100" "$CORPUS"; x100=$(cat "$OUT/last.txt")
echo
awk -v rg="$rg" -v fz="$fz" -v fzc="$fzc" -v n="$nopf" -v a="$x10" -v c="$x100" 'BEGIN{
  printf "fanzha / ripgrep throughput: %.3f (jsonl), %.3f (--count); prefilter speed-up: %.1fx; time with 10x rules: %.2fx; with 100x rules: %.2fx\n", rg/fz, rg/fzc, n/fz, a/fz, c/fz }'

# Start-up: load and compile the bundled rules and scan nothing, best of 10.
best=""
for _ in $(seq 10); do
    /usr/bin/time -f "%e" -o "$OUT/time.txt" "$BIN" scan /dev/null >/dev/null 2>&1 || true
    s=$(tail -n 1 "$OUT/time.txt")
    if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
done
echo "Start-up with the bundled rules (load, compile, scan an empty input): ${best}s"
# Compile time alone, as `fanzha lint` measures it (parse, check, compile, build the prefilter), best of 10.
compile=$(for _ in $(seq 10); do "$BIN" lint 2>&1 | sed -n 's/.*compiled in \([0-9.]*\) ms.*/\1/p'; done | sort -n | head -n 1)
echo "Compile time of the bundled rules (fanzha lint): ${compile} ms"

# Live calls: 10,000 calls open at once, turns interleaved.
[ -s "$OUT/events-10000.jsonl" ] || python3 scripts/bench_events.py 11 10000 > "$OUT/events-10000.jsonl"
events=$(wc -l < "$OUT/events-10000.jsonl")
/usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$BIN" scan --input events "$OUT/events-10000.jsonl" > /dev/null 2>&1 || true
read -r secs kb < <(tail -n 1 "$OUT/time.txt")
awk -v e="$events" -v s="$secs" -v m="$kb" 'BEGIN{ printf "Live calls: %d events of 10,000 open calls in %.2fs: %.0f events/s, peak %.0f MB\n", e, s, e/s, m/1024 }'
