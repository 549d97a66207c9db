#!/usr/bin/env bash
# The throughput benchmark (docs/BENCHMARKS.md): one run measures fanzha with all bundled rules,
# ripgrep over every literal of those rules on the same file, fanzha without the prefilter, the
# rules' compile time, and fanzha with 10x and 100x the rules. Not a test: numbers, not verdicts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MB=${BENCH_MB:-100}
OUT=bench/out
# FANZHA_BIN: measure another build (say, the previous commit's) on the same corpus.
BIN=${FANZHA_BIN:-.build/release/fanzha}
mkdir -p "$OUT"
# The compiled rule cache of these runs lives with the other bench files.
export XDG_CACHE_HOME="$PWD/$OUT/cache"
[ -n "${FANZHA_BIN:-}" ] || swift build -c release >/dev/null
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

# run NAME INPUT CMD...: wall seconds and peak resident memory, best of $BENCH_RUNS (default 3),
# and how much slower the slowest run was (the run-to-run spread); MB/s and records/s are for INPUT.
RUNS=${BENCH_RUNS:-3}
run() {
    local name=$1 input=$2; shift 2
    local bytes lines
    bytes=$(stat -c %s "$input")
    lines=$(wc -l < "$input")
    local best="" worst="" mem=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" > /dev/null 2>"$OUT/stderr.txt" || [ $? -eq 1 ]
        read -r secs kb < <(tail -n 1 "$OUT/time.txt")
        if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; mem=$kb; fi
        if [ -z "$worst" ] || awk "BEGIN{exit !($secs > $worst)}"; then worst=$secs; fi
    done
    awk -v n="$name" -v s="$best" -v w="$worst" -v m="$mem" -v b="$bytes" -v l="$lines" \
        'BEGIN{ s = (s < 0.01 ? 0.01 : s); printf "| %s | %.2f | %.1f | %.0f | %.0f | +%.0f%% |\n", n, s, b/s/1e6, l/s, m/1024, (w-s)/s*100 }'
    echo "$best" > "$OUT/last.txt"
}

echo "Corpus: $OUT/corpus-$MB.txt, $((bytes / 1000000)) MB, $lines lines; $rules bundled rules, $(wc -l < "$OUT/words.txt") literal words; $(nproc) cores."
echo
echo "| run | seconds | MB/s | records/s | peak MB | slowest run |"
echo "|---|---:|---:|---:|---:|---:|"
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

# Start-up: whole `fanzha scan -q` processes on one message, median of 20, with the compiled rule
# cache and without it; and the compile time alone, as `fanzha lint` measures it, best of 10.
python3 scripts/bench_startup.py startup "$BIN" 20
compile=$(for _ in $(seq 10); do "$BIN" lint 2>&1 | sed -n 's/.*compiled in \([0-9.]*\) ms.*/\1/p'; done | sort -n | head -n 1)
echo "Compile time of the bundled rules (fanzha lint): ${compile} ms"
# Instructions (callgrind; steady on a busy machine, unlike seconds): per record on the first
# 10,000 lines of the corpus, and at start-up.
if command -v valgrind >/dev/null; then
    head -n 10000 "$CORPUS" > "$OUT/slice-10000.txt"
    python3 scripts/bench_startup.py instructions "$BIN" "$OUT/slice-10000.txt"
    # The learned model's share of a record's instructions (issue 24: at most +20%).
    head -n 3000 "$CORPUS" > "$OUT/slice-3000.txt"
    python3 scripts/bench_model.py scan "$BIN" "$OUT/slice-3000.txt"
else
    echo "Instructions: valgrind is not installed (apt-get install valgrind), skipped"
fi

# Training the model on every research dev file and corpus/ (issue 24: under a minute for 30,000 texts).
[ -d ../shared/datasets ] && python3 scripts/bench_model.py train "$BIN" ../shared/datasets

# Live calls: 10,000 calls open at once, turns interleaved.
[ -s "$OUT/events-10000.jsonl" ] || python3 scripts/bench_events.py 11 10000 > "$OUT/events-10000.jsonl"
events=$(wc -l < "$OUT/events-10000.jsonl")
# On every core (the default: calls spread over the workers by id), then on one.
for threads in "" 1; do
    all=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$BIN" scan --input events ${threads:+--threads $threads} "$OUT/events-10000.jsonl" > /dev/null 2>&1 || true
        read -r secs kb < <(tail -n 1 "$OUT/time.txt")
        all="$all $secs"
    done
    best=$(echo $all | tr ' ' '\n' | sort -n | head -n 1); worst=$(echo $all | tr ' ' '\n' | sort -n | tail -n 1)
    awk -v e="$events" -v s="$best" -v w="$worst" -v m="$kb" -v t="${threads:-all cores}" 'BEGIN{ printf "Live calls (%s): %d events of 10,000 open calls in %.2fs: %.0f events/s (slowest run %.0f), peak %.0f MB\n", t == "1" ? "one thread" : t, e, s, e/s, e/w, m/1024 }'
done
