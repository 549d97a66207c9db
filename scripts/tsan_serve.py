#!/usr/bin/env python3
"""The service's live calls under ThreadSanitizer (scripts/tsan.sh): starts FANZHA serve (the
binary given as the argument) on a free loopback port, sends the turns of 400 calls over HTTP from
8 threads at once (each call's turns in order from one thread, calls of a thread interleaved),
ends them, reloads the rules twice while calls are open, and screens messages in between; then
stops the server with SIGTERM. Exits 3 if a request failed or the server did not stop cleanly,
66 if ThreadSanitizer reported (its report is on stderr)."""
import json, re, signal, subprocess, sys, threading, urllib.request

fanzha = sys.argv[1]
proc = subprocess.Popen([fanzha, "serve", "--port", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
port = None
for line in proc.stderr:
    sys.stderr.write(line)
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if m:
        port = int(m.group(1))
        break
if port is None:
    sys.exit("tsan_serve: the server did not start")
# Keep draining stderr so the server never blocks on it; everything goes to ours.
threading.Thread(target=lambda: [sys.stderr.write(l) for l in proc.stderr], daemon=True).start()
base = f"http://127.0.0.1:{port}"

def post(path, body=None):
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    req = urllib.request.Request(base + path, data=data, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, r.read()

calls = [json.loads(l) for l in open("corpus/calls.jsonl", encoding="utf-8")]
failures = []

def worker(w):
    try:
        mine = [(f"w{w}c{k}", calls[(w * 50 + k) % len(calls)]) for k in range(50)]
        longest = max(len(c["turns"]) for _, c in mine)
        for i in range(longest):
            for cid, c in mine:
                if i < len(c["turns"]):
                    t = c["turns"][i]
                    post(f"/v1/calls/{cid}/turns", {"speaker": t["speaker"], "text": t["text"], "t": i})
            if i == 2 and w == 0:
                post("/v1/rules/reload")
            if i % 3 == 0:
                post("/v1/scan", {"id": f"m{w}-{i}", "text": "您的账户涉嫌洗钱，请转入安全账户"})
        for cid, _ in mine:
            post(f"/v1/calls/{cid}/end")
        if w == 1:
            post("/v1/rules/reload")
    except Exception as e:
        failures.append(f"worker {w}: {e}")

threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
for t in threads: t.start()
for t in threads: t.join()
proc.send_signal(signal.SIGTERM)
status = proc.wait(timeout=120)
for f in failures: print("tsan_serve:", f, file=sys.stderr)
if status != 0:
    print(f"tsan_serve: the server exited with {status}", file=sys.stderr)
sys.exit(66 if status == 66 else 3 if failures or status != 0 else 0)
