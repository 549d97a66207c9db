#!/usr/bin/env python3
"""Validate the Fanzha corpus files and print per-label counts as a Markdown table.

Also validates reports.jsonl (benign reports, PSAs, lectures: ids rep-NNN, a `kind`),
warned_scams.jsonl (scams carrying warning-like phrases: warn-<label>-NNN messages and
warncall-<label>-NNN calls) and lines.jsonl (one line of scam speech each: line-<label>-NNN, no
benign, no turns), and prints one line of counts for them after the table.

Usage: python3 corpus/count_labels.py   (from the repo root or from corpus/)
Exits non-zero if a line is not valid JSON, an id repeats, a label is unknown,
or a call has fewer than 2 / more than 16 turns (short calls are real: a service call of three
or four turns is as much a call as a scam of twelve).
"""
import collections, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = ["police", "brushing", "investment", "shopping", "customer_service", "loan",
          "credit", "boss", "romance", "game", "deepfake", "phishing", "prize",
          "relative", "school", "subsidy", "malware", "kidnap", "crypto", "gambling", "mlm", "wechat_agent", "secondhand", "overseas_job", "mule", "extortion", "charity", "other", "benign"]
SPEAKER_PAIRS = [("caller", "callee"), ("来电", "本人"), ("A", "B")]

REPORT_KINDS = {"news", "psa", "lecture", "notice", "chat"}

def load(name, report=False):
    rows, ids = [], set()
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                o = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{name}:{n}: invalid JSON: {e}")
            if o["id"] in ids:
                sys.exit(f"{name}:{n}: duplicate id {o['id']}")
            ids.add(o["id"])
            if o["label"] not in LABELS:
                sys.exit(f"{name}:{n}: unknown label {o['label']}")
            if report:
                if o["label"] != "benign" or o.get("kind") not in REPORT_KINDS \
                        or not (o["id"].startswith("rep-") and o["id"][4:].isdigit()):
                    sys.exit(f"{name}:{n}: a report needs id rep-NNN, label benign and a kind in {sorted(REPORT_KINDS)}")
            elif not o["id"].endswith(tuple("0123456789")) or f"-{o['label']}-" not in o["id"]:
                sys.exit(f"{name}:{n}: id {o['id']} does not match label {o['label']}")
            if "turns" in o:
                if not 2 <= len(o["turns"]) <= 16:
                    sys.exit(f"{name}:{n}: {len(o['turns'])} turns")
                sp = {t["speaker"] for t in o["turns"]}
                if not any(sp <= set(p) for p in SPEAKER_PAIRS):
                    sys.exit(f"{name}:{n}: unexpected speakers {sp}")
            rows.append(o)
    return rows

msgs, calls = load("messages.jsonl"), load("calls.jsonl")
with open(os.path.join(HERE, "demo.txt"), encoding="utf-8") as f:
    demo = [l for l in f.read().split("\n") if l.strip()]
cm = collections.Counter(o["label"] for o in msgs)
cc = collections.Counter(o["label"] for o in calls)
print("| label | messages.jsonl | calls.jsonl |")
print("|---|---:|---:|")
for lab in LABELS:
    print(f"| {lab} | {cm[lab]} | {cc[lab]} |")
print(f"| **total** | **{len(msgs)}** | **{len(calls)}** |")
turns = [len(o["turns"]) for o in calls]
print()
print(f"calls: {min(turns)}-{max(turns)} turns, {sum(turns)} turns in all; demo.txt: {len(demo)} lines")

reports, warned = load("reports.jsonl", report=True), load("warned_scams.jsonl")
kinds = collections.Counter(o["kind"] for o in reports)
wm = [o for o in warned if "turns" not in o]
if any(o["label"] == "benign" for o in warned):
    sys.exit("warned_scams.jsonl: holds scams only")
print(f"reports.jsonl: {len(reports)} benign (" + ", ".join(f"{k} {kinds[k]}" for k in sorted(REPORT_KINDS)) + "); "
      f"warned_scams.jsonl: {len(wm)} messages, {len(warned) - len(wm)} calls, "
      f"{len({o['label'] for o in warned})} labels")

lines = load("lines.jsonl")
if any(o["label"] == "benign" or "turns" in o or not o["id"].startswith("line-") for o in lines):
    sys.exit("lines.jsonl: holds one-line scams only, ids line-<label>-NNN")
print(f"lines.jsonl: {len(lines)} one-line scams, {len({o['label'] for o in lines})} labels")

probes = load("probes.jsonl")
if any(o.get("set") not in ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r") for o in probes):
    sys.exit("probes.jsonl: every probe names its set, a to n")
pc = collections.Counter("benign" if o["label"] == "benign" else "scam" for o in probes)
print(f"probes.jsonl: {len(probes)} probes ({pc['scam']} scams, {pc['benign']} benign; "
      f"{sum('turns' in o for o in probes)} of them calls)")
