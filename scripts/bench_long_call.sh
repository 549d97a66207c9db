#!/usr/bin/env bash
# One long live call (docs/BENCHMARKS.md, "One long live call"): one call id, events alternating
# caller and callee over seven ordinary customer-service lines (one with 安全账户), `t` rising by
# one second, fed to `fanzha scan --input events --max-call-turns 1000000` with the bundled rules.
# Prints, per call length, wall and CPU seconds, CPU per event and peak RSS (/usr/bin/time), and
# that peak less the peak of the same run on a call of one event (start-up: the rules, the model):
# what the call itself holds, which must not grow with its length (docs/RELIABILITY.md).
#
#   scripts/bench_long_call.sh [EVENTS…]      default: 10000 20000 50000 100000; FANZHA=binary
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fanzha=${FANZHA:-.build/release/fanzha}
[ -x "$fanzha" ] || { echo "bench_long_call: build first (swift build -c release)" >&2; exit 2; }
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10000 20000 50000 100000)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '| events in the call | wall s | CPU s | CPU per event | peak MB | over one event |\n|---:|---:|---:|---:|---:|---:|\n'
base_kb=""
for n in 1 "${sizes[@]}"; do
    python3 - "$n" > "$tmp/events.jsonl" <<'PY'
import json, sys
lines = ["您好，这里是客服中心，请问有什么可以帮您", "我想查一下我的订单到哪里了", "好的，请您提供一下订单号",
         "订单号是二零二六一二零四", "您的包裹已经到达本市转运中心", "为了安全，请不要把钱转到所谓的安全账户", "好的谢谢"]
for i in range(int(sys.argv[1])):
    print(json.dumps({"call": "long", "speaker": "caller" if i % 2 == 0 else "callee", "text": lines[i % 7], "t": i}, ensure_ascii=False))
print(json.dumps({"call": "long", "end": True}))
PY
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$fanzha" scan --input events --max-call-turns 1000000 "$tmp/events.jsonl" > "$tmp/out" || [ $? -le 1 ]
    read -r wall user sys kb < <(tail -n 1 "$tmp/time")   # after "Command exited with non-zero status 1"
    # The first run (one event) also fills the compiled rule cache, so every later run loads it.
    if [ -z "$base_kb" ]; then "$fanzha" scan --input events --max-call-turns 1000000 "$tmp/events.jsonl" > /dev/null || [ $? -le 1 ]
        /usr/bin/time -f "%M" -o "$tmp/time" "$fanzha" scan --input events --max-call-turns 1000000 "$tmp/events.jsonl" > /dev/null || [ $? -le 1 ]
        base_kb=$(tail -n 1 "$tmp/time"); continue; fi
    python3 -c "
n, wall, cpu, kb, base = $n, $wall, $user + $sys, $kb, $base_kb
print(f'| {n:,} | {wall:.1f} | {cpu:.1f} | {cpu / n * 1000:.2f} ms | {kb / 1024:.0f} | {(kb - base) / 1024:.1f} |')"
done
