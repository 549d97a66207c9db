#!/usr/bin/env bash
# `fanzha serve` under load on loopback (docs/BENCHMARKS.md, "The service"). Not a test: numbers.
#
#   1. POST /v1/scan, one message per request, rotating over a few messages (scam and ordinary);
#   2. live calls: $CALLS calls open at once, each fed turns over POST /v1/calls/{id}/turns;
#   the server's resident memory sampled every 10 s during the live-call run.
#
# BENCH_SECONDS (default 30) per run, BENCH_CALL_SECONDS (default 120) for the live calls,
# BENCH_CONNECTIONS (default 64), CALLS (default 1000). wrk and the server share the machine's cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=.build/release/fanzha
OUT=bench/out/serve
SECONDS_SCAN=${BENCH_SECONDS:-30}
SECONDS_CALLS=${BENCH_CALL_SECONDS:-120}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
CALLS=${CALLS:-1000}
mkdir -p "$OUT"
swift build -c release >/dev/null
command -v wrk >/dev/null || { echo "bench_serve: wrk is missing (make setup)" >&2; exit 1; }

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
local threads = 0
local n = 0
-- setup runs in the main state; thread:set makes \`tid\` a global of that thread's state
setup = function(thread) thread:set("tid", threads); threads = threads + 1 end
request = function()
  n = n + 1
  -- calls spread over the 2 threads: thread t owns the calls t, t + 2, t + 4, …
  local call = (n % (calls / 2)) * 2 + (tid or 0)
  local turn = math.floor(n / (calls / 2)) % #turns + 1
  return wrk.format("POST", "/v1/calls/bench-" .. call .. "/turns", {["Content-Type"] = "application/json"}, turns[turn])
end
LUA

rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }

echo "warm-up"
wrk -t2 -c"$CONNECTIONS" -d5s -s "$OUT/scan.lua" "$url" > /dev/null
echo "rss after warm-up: $(rss) kB"

echo "== POST /v1/scan, one message per request: ${SECONDS_SCAN}s, $CONNECTIONS connections, 2 threads"
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_SCAN}s" --latency -s "$OUT/scan.lua" "$url" | tee "$OUT/scan.txt"
echo "rss: $(rss) kB"

echo "== POST /v1/calls/{id}/turns: $CALLS calls at once, ${SECONDS_CALLS}s, $CONNECTIONS connections"
( for _ in $(seq $(( SECONDS_CALLS / 10 ))); do sleep 10; echo "$(date +%s) $(rss)"; done ) > "$OUT/rss.txt" &
sampler=$!
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_CALLS}s" --latency -s "$OUT/calls.lua" "$url" | tee "$OUT/calls.txt"
wait $sampler || true
echo "open calls at the end: $(curl -s "$url/metrics" | awk '/^fanzha_open_calls / {print $2}')"
echo "rss every 10 s (kB):"
awk '{print $2}' "$OUT/rss.txt" | tr '\n' ' '; echo
