#!/usr/bin/env python3
"""Generates the benchmark corpus: SMS-like lines built from the project's own corpus with a fixed
seed, so every run measures the same bytes. Usage: bench_corpus.py SEED MEGABYTES [benign] > corpus.txt
With `benign`, only the corpus's legitimate records are used, the way most of a carrier's traffic is
legitimate (they are hard cases that quote scam words, and call turns out of their call, so some
still reach low)."""
import json, random, sys

seed, megabytes = int(sys.argv[1]), float(sys.argv[2])
benign_only = len(sys.argv) > 3 and sys.argv[3] == "benign"
rng = random.Random(seed)
texts = []
for path in ("corpus/messages.jsonl", "corpus/calls.jsonl"):
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            if benign_only and o.get("label") != "benign":
                continue
            if "text" in o:
                texts.append(o["text"])
            else:
                texts.extend(t["text"] for t in o["turns"])
texts = [t.replace("\n", " ") for t in texts if t.strip()]
fillers = ["您好", "请回复", "谢谢", "退订回T", "【通知】", "详询", "今天", "明天下午", "收到请回复"]
target = int(megabytes * 1_000_000)
out, size = [], 0
while size < target:
    t = rng.choice(texts)
    # Vary the lines a little so that they are not byte-identical repeats.
    if rng.random() < 0.3:
        t = rng.choice(fillers) + t
    if rng.random() < 0.3:
        t = t + rng.choice(fillers) + str(rng.randint(1000, 999999))
    out.append(t)
    size += len(t.encode("utf-8")) + 1
sys.stdout.write("\n".join(out) + "\n")
