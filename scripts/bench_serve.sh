#!/usr/bin/env bash
# `fanzha serve` under load on loopback (docs/BENCHMARKS.md, "The service"). Not a test: numbers.
#
#   1. POST /v1/scan, one message per request, rotating over four messages (two scams, two
#      ordinary), at each connection count of BENCH_CONNECTIONS ("16 64 256"): requests/s and the
#      latency percentiles;
#   2. live calls: CALLS (1000) calls open at once, each fed turns over POST /v1/calls/{id}/turns,
#      for BENCH_CALL_SECONDS (600: the 10-minute memory run), the server's resident memory
#      sampled every RSS_EVERY (30) seconds.
#
# BENCH_SECONDS (default 30) per scan run, BENCH_THREADS (default 2) wrk threads. wrk and the
# server share the machine's cores; each run also reports the CPU time one request costs the
# server and wrk (from /proc and time(1)), which holds on a busy machine where requests/s do not.
# Installs wrk (Debian) when it is missing: only this needs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${FANZHA_BIN:-.build/release/fanzha}   # FANZHA_BIN: another build to compare
OUT=bench/out/serve
SECONDS_SCAN=${BENCH_SECONDS:-30}
SECONDS_CALLS=${BENCH_CALL_SECONDS:-600}
CONNECTIONS=${BENCH_CONNECTIONS:-16 64 256}
CALL_CONNECTIONS=${BENCH_CALL_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
CALLS=${CALLS:-1000}
RSS_EVERY=${RSS_EVERY:-30}
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
    echo "bench_serve: installing wrk"
    sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get install -y wrk >/dev/null 2>&1 || { "${sudo[@]}" apt-get update >/dev/null && "${sudo[@]}" apt-get install -y wrk >/dev/null; }
fi
[ "${BENCH_NO_BUILD:-0}" = 1 ] || swift build -c release --product fanzha >/dev/null   # BENCH_NO_BUILD=1: the binary as it is

# Calls are closed after 200 turns (the next turn starts the call anew), so a call's memory is
# bounded and the run measures a steady state rather than ever-growing calls.
"$BIN" serve --port 0 --max-call-turns 200 > "$OUT/finals.jsonl" 2> "$OUT/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 600); do
    port=$(sed -n 's/.*on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$OUT/server.log" | head -n 1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "bench_serve: the server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }
url="http://127.0.0.1:$port"

cat > "$OUT/scan.lua" <<'LUA'
local bodies = {
  '{"id":"b1","text":"我是市公安局刑警，你名下的银行卡涉嫌洗钱，请把钱转到安全账户配合调查"}',
  '{"id":"b2","text":"妈，我周末回家吃饭，帮我留两个菜"}',
  '{"id":"b3","text":"【某某银行】您的信用卡积分即将清零，请点击 http://x.example/jf 兑换礼品"}',
  '{"id":"b4","text":"明天上午十点在三楼会议室开项目例会，请准时参加"}',
}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/scan", {["Content-Type"] = "application/json"}, bodies[(n % #bodies) + 1])
end
LUA

cat > "$OUT/calls.lua" <<LUA
local turns = {
  '{"speaker":"caller","text":"喂，你好，这里是市公安局刑侦大队"}',
  '{"speaker":"callee","text":"啊？什么事"}',
  '{"speaker":"caller","text":"你名下的银行卡涉嫌洗钱，需要你配合调查"}',
  '{"speaker":"callee","text":"我没有啊，我怎么证明"}',
  '{"speaker":"caller","text":"为了证明你的清白，你需要把资金转到安全账户"}',
  '{"speaker":"callee","text":"好的我想一想"}',
}
local calls = $CALLS
local nthreads = $THREADS
local threads = 0
local n = 0
-- setup runs in the main state; thread:set makes \`tid\` a global of that thread's state
setup = function(thread) thread:set("tid", threads); threads = threads + 1 end
request = function()
  n = n + 1
  -- calls spread over the threads: thread t owns the calls t, t + nthreads, t + 2 nthreads, …
  local per = math.floor(calls / nthreads)
  local call = (n % per) * nthreads + (tid or 0)
  local turn = math.floor(n / per) % #turns + 1
  return wrk.format("POST", "/v1/calls/bench-" .. call .. "/turns", {["Content-Type"] = "application/json"}, turns[turn])
end
LUA

rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
# The server's CPU time so far, in seconds (user + system): with the requests a run made, the CPU
# one request costs, which does not depend on what else the machine is running.
hz=$(getconf CLK_TCK)
cpu() { awk -v hz="$hz" '{print ($14 + $15) / hz}' "/proc/$server/stat"; }
# A wrk run: its report in $1, its own CPU seconds in $1.cpu, the server's in $1.server.
load() {
    local out=$1; shift
    local before; before=$(cpu)
    /usr/bin/time -f "%U %S" -o "$out.cpu" wrk "$@" > "$out"
    awk -v a="$before" -v b="$(cpu)" 'BEGIN {print b - a}' > "$out.server"
}
# µs of server CPU and of wrk CPU per request, and what 2 otherwise idle cores would then serve.
cost() {
    local n; n=$(awk '/requests in/ {print $1}' "$1")
    awk -v n="$n" -v s="$(cat "$1.server")" -v w="$(awk '{print $1 + $2}' "$1.cpu")" -v cores="$(nproc)" 'BEGIN {
        printf "CPU per request: server %.0f us, wrk %.0f us; %d idle cores would serve about %.0f req/s (%.0f with wrk elsewhere)\n",
               s / n * 1e6, w / n * 1e6, cores, cores / ((s + w) / n), cores / (s / n) }'
}
summary() {   # requests/s and the latency percentiles of a wrk --latency report
    awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +90%/ {p90=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
         END {printf "%s req/s  p50 %s  p90 %s  p99 %s%s\n", rps, p50, p90, p99, bad ? "  non-2xx " bad : ""}' "$1"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
echo "warm-up"
wrk -t"$THREADS" -c64 -d5s -s "$OUT/scan.lua" "$url" > /dev/null
echo "rss after warm-up: $(rss) kB"

for c in $CONNECTIONS; do
    echo "== POST /v1/scan, one message per request: ${SECONDS_SCAN}s, $c connections, $THREADS wrk threads"
    load "$OUT/scan-c$c.txt" -t"$THREADS" -c"$c" -d"${SECONDS_SCAN}s" --latency -s "$OUT/scan.lua" "$url"
    echo "   $(summary "$OUT/scan-c$c.txt")   (load $(cut -d' ' -f1 /proc/loadavg), rss $(rss) kB)"
    echo "   $(cost "$OUT/scan-c$c.txt")"
done

[ "$SECONDS_CALLS" -gt 0 ] || exit 0   # BENCH_CALL_SECONDS=0: the scan runs only
echo "== POST /v1/calls/{id}/turns: $CALLS calls open at once, ${SECONDS_CALLS}s, $CALL_CONNECTIONS connections"
( for _ in $(seq $(( SECONDS_CALLS / RSS_EVERY ))); do sleep "$RSS_EVERY"; echo "$(date +%s) $(rss) $(cut -d' ' -f1 /proc/loadavg)"; done ) > "$OUT/rss.txt" &
sampler=$!
load "$OUT/calls.txt" -t"$THREADS" -c"$CALL_CONNECTIONS" -d"${SECONDS_CALLS}s" --latency -s "$OUT/calls.lua" "$url"
wait $sampler || true
echo "   $(summary "$OUT/calls.txt")"
echo "   $(cost "$OUT/calls.txt")"
echo "open calls at the end: $(curl -s "$url/metrics" | awk '/^fanzha_open_calls / {print $2}')"
echo "rss every ${RSS_EVERY} s (kB):"
awk '{print $2}' "$OUT/rss.txt" | tr '\n' ' '; echo
