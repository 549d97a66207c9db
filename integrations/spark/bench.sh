#!/usr/bin/env bash
# The Spark job against plain `fanzha scan` on the same JSON Lines file (docs/SCALE.md).
#
#   integrations/spark/bench.sh            # 30 MB of SMS-like text, best of 3 runs each
#   BENCH_MB=5 BENCH_RUNS=1 integrations/spark/bench.sh
#
# The corpus is scripts/bench_corpus.py's (seed 7) as {"id","date","text"} lines. For each run it
# prints wall seconds and CPU seconds (user + sys of the whole process tree: the JVM, its Python
# workers and the fanzha processes); inside the job, a wrapper around fanzha adds up the CPU
# seconds fanzha itself used, and the rest is Spark's.
set -euo pipefail
cd "$(dirname "$0")/../.."
MB=${BENCH_MB:-30}
RUNS=${BENCH_RUNS:-3}
MASTER=${BENCH_MASTER:-local[2]}
FANZHA=$(pwd)/.build/release/fanzha
DIR=$(mktemp -d /tmp/fanzha-spark-bench.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

python3 scripts/bench_corpus.py 7 "$MB" | python3 -c '
import json, sys
for i, line in enumerate(sys.stdin):
    print(json.dumps({"id": f"s{i}", "date": f"2026-11-{i % 7 + 1:02d}", "text": line.rstrip("\n")}, ensure_ascii=False))
' > "$DIR/sms.jsonl"
head -n 100 "$DIR/sms.jsonl" > "$DIR/tiny.jsonl"
records=$(wc -l < "$DIR/sms.jsonl")
bytes=$(wc -c < "$DIR/sms.jsonl")
echo "corpus: $records records, $bytes bytes; master $MASTER; best of $RUNS"

# Wrapper: fanzha under GNU time, appending its CPU seconds to a log.
cat > "$DIR/fanzha-timed" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o "$DIR/fanzha-cpu.log" -f "%U %S" "$FANZHA" "\$@"
EOF
chmod +x "$DIR/fanzha-timed"

measure() {     # label, command…: prints "label wall cpu [fanzha-cpu]" for each run
    local label=$1; shift
    for _ in $(seq "$RUNS"); do
        rm -rf "$DIR/out" "$DIR/fanzha-cpu.log"
        /usr/bin/time -o "$DIR/time" -f "%e %U %S" "$@" > /dev/null 2> "$DIR/stderr" || { cat "$DIR/stderr" >&2; exit 1; }
        read -r wall user sys < "$DIR/time"
        inner=""
        if [ -f "$DIR/fanzha-cpu.log" ]; then
            inner=$(awk '{ s += $1 + $2 } END { printf "%.2f", s }' "$DIR/fanzha-cpu.log")
        fi
        if [ -d "$DIR/out/verdicts" ] && [ "$label" = spark-job ]; then
            du -sb "$DIR/out/verdicts" | cut -f1 > "$DIR/verdict-bytes"
        fi
        echo "$label $wall $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') $inner"
    done
}

{
    measure "fanzha-scan-2-threads" "$FANZHA" scan --input jsonl --format jsonl --threads 2 "$DIR/sms.jsonl"
    measure "fanzha-scan-1-thread" "$FANZHA" scan --input jsonl --format jsonl --threads 1 "$DIR/sms.jsonl"
    measure "spark-job" spark-submit --master "$MASTER" --driver-memory 2g \
        --conf spark.ui.showConsoleProgress=false \
        integrations/spark/fanzha_spark.py "$DIR/sms.jsonl" --output "$DIR/out" --fanzha "$DIR/fanzha-timed"
    # The fixed cost: starting Spark, shipping, planning and writing, on 100 records.
    measure "spark-job-100-records" spark-submit --master "$MASTER" --driver-memory 2g \
        --conf spark.ui.showConsoleProgress=false \
        integrations/spark/fanzha_spark.py "$DIR/tiny.jsonl" --output "$DIR/out" --fanzha "$DIR/fanzha-timed"
} | tee "$DIR/runs"

echo
printf '%-24s %8s %10s %9s %12s %14s\n' run wall_s records/s cpu_s fanzha_cpu_s records/cpu_s
sort -k1,1 -k2,2n "$DIR/runs" | awk -v n="$records" '
    !($1 in best) { best[$1] = $0; order[++k] = $1 }
    END { for (i = 1; i <= k; i++) { split(best[order[i]], f, " ");
          m = (f[1] ~ /100-records/) ? 100 : n;
          printf "%-24s %8.2f %10.0f %9.2f %12s %14.0f\n", f[1], f[2], m / f[2], f[3], (f[4] == "" ? "-" : f[4]), m / f[3] } }'
echo "verdicts/ (Parquet, every verdict): $(cat "$DIR/verdict-bytes") bytes for $records records ($bytes bytes of input)"
