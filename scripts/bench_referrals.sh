#!/usr/bin/env bash
# The referral store benchmark (docs/BENCHMARKS.md, docs/REFERRALS.md): cases opened per second by
# `scan --refer` on the bench corpus, then `list`, `overdue` and `report` at 1 million cases.
# Not a test: numbers, not verdicts. BENCH_MB (default 10) sizes the corpus, BENCH_CASES (default
# 1000000) the database, BENCH_RUNS (default 3) the runs per command (best kept).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MB=${BENCH_MB:-10}
CASES=${BENCH_CASES:-1000000}
RUNS=${BENCH_RUNS:-3}
OUT=bench/out
BIN=.build/release/fanzha
mkdir -p "$OUT"
swift build -c release >/dev/null
CORPUS="$OUT/corpus-$MB.txt"
[ -s "$CORPUS" ] || python3 scripts/bench_corpus.py 42 "$MB" > "$CORPUS"
lines=$(wc -l < "$CORPUS")

# best SECONDS of RUNS runs of CMD (exit 0 or 1 both fine)
best() {
    local best=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e" -o "$OUT/time.txt" "$@" > /dev/null 2>"$OUT/stderr.txt" || [ $? -eq 1 ]
        local s; s=$(tail -n 1 "$OUT/time.txt")
        if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
    done
    echo "$best"
}

echo "Corpus: $CORPUS, $lines lines; $(nproc) cores."
echo
echo "| run | seconds | cases opened | cases/s | records/s |"
echo "|---|---:|---:|---:|---:|"
plain=$(best "$BIN" scan --count "$CORPUS")
awk -v s="$plain" -v l="$lines" 'BEGIN{ printf "| scan --count (no referrals) | %.2f | - | - | %.0f |\n", s, l/s }'
for level in medium low; do
    db="$OUT/referrals-$level.db"
    rm -f "$db" "$db-wal" "$db-shm"
    /usr/bin/time -f "%e" -o "$OUT/time.txt" "$BIN" scan --count --refer "$db" --refer-level "$level" "$CORPUS" > /dev/null 2>"$OUT/stderr.txt" || [ $? -eq 1 ]
    s=$(tail -n 1 "$OUT/time.txt")
    opened=$(sed -n 's/.*referrals: \([0-9]*\) opened.*/\1/p' "$OUT/stderr.txt")
    awk -v s="$s" -v o="$opened" -v l="$lines" -v lv="$level" \
        'BEGIN{ printf "| scan --count --refer (new db, --refer-level %s) | %.2f | %d | %.0f | %.0f |\n", lv, s, o, o/s, l/s }'
    /usr/bin/time -f "%e" -o "$OUT/time.txt" "$BIN" scan --count --refer "$db" --refer-level "$level" "$CORPUS" > /dev/null 2>"$OUT/stderr.txt" || [ $? -eq 1 ]
    s=$(tail -n 1 "$OUT/time.txt")
    awk -v s="$s" -v l="$lines" -v lv="$level" \
        'BEGIN{ printf "| the same again (every record already referred) | %.2f | 0 | - | %.0f |\n", s, l/s }'
done

db="$OUT/referrals-1m.db"
rm -f "$db" "$db-wal" "$db-shm"
cp "$OUT/referrals-medium.db" "$db"
"$BIN" referrals list "$db" --limit 1 > /dev/null   # checkpoints the copied WAL
python3 scripts/bench_referrals_fill.py "$db" "$CASES" > /dev/null
n=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM referral_case').fetchone()[0])" "$db")
echo
echo "At $n cases ($(du -m "$db" | cut -f1) MB):"
echo
echo "| command | seconds |"
echo "|---|---:|"
t() { local name=$1; shift; echo "| $name | $(best "$@") |"; }
t "referrals list --limit 100" "$BIN" referrals list "$db" --limit 100
t "referrals list --tier high --state new --limit 100" "$BIN" referrals list "$db" --tier high --state new --limit 100
t "referrals list --open --format tsv (every open case)" "$BIN" referrals list "$db" --open --format tsv
t "referrals list --overdue --limit 100" "$BIN" referrals list "$db" --overdue --limit 100
t "referrals overdue -q" "$BIN" referrals overdue "$db" -q
t "referrals show (one case)" "$BIN" referrals show "$db" 500000
t "referrals report" "$BIN" referrals report "$db"
