#!/usr/bin/env python3
"""Generates live-call events for the call benchmark: CALLS calls open at once, their turns
interleaved round-robin (so every call stays open until its last turn), from the project's corpus
calls with a fixed seed. Usage: bench_events.py SEED CALLS > events.jsonl"""
import json, random, sys

seed, calls = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
source = [json.loads(l) for l in open("corpus/calls.jsonl", encoding="utf-8")]
chosen = [rng.choice(source) for _ in range(calls)]
longest = max(len(c["turns"]) for c in chosen)
out = []
for i in range(longest):
    for n, c in enumerate(chosen):
        if i < len(c["turns"]):
            t = c["turns"][i]
            out.append(json.dumps({"call": f"c{n}", "speaker": t["speaker"], "text": t["text"], "t": i}, ensure_ascii=False))
for n in range(calls):
    out.append(json.dumps({"call": f"c{n}", "end": True}))
sys.stdout.write("\n".join(out) + "\n")
