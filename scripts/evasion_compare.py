#!/usr/bin/env python3
"""The evasion table for several builds side by side (docs/EVASION.md).

    FANZHA_EVASION_DUMP=/tmp/evasion swift test --filter EvasionSuite   # writes the rewritten records
    scripts/evasion_compare.py /tmp/evasion OLD_BINARY .build/release/fanzha [--rules rules]

For each transformation: of the rewritten scams (corpus examples the current rules flag high), how
many each build still flags at medium or above; of the rewritten benign texts, how many it keeps
below medium.
"""
import argparse
import glob
import json
import os
import subprocess
import sys


def scan(binary, rules, path):
    out = subprocess.run([binary, "scan", "--rules", rules, "--input", "jsonl", "--format", "jsonl", path],
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"{binary} failed: {out.stderr}")
    return {json.loads(l)["id"]: json.loads(l)["level"] for l in out.stdout.splitlines()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump")
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--rules", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rules"))
    args = ap.parse_args()
    rows, order = {}, []
    for path in sorted(glob.glob(os.path.join(args.dump, "*.jsonl"))):
        recs = [json.loads(l) for l in open(path, encoding="utf-8")]
        name = recs[0]["evasion"]
        if name not in rows:
            rows[name] = [[0, 0, 0, 0] for _ in args.binaries]
            order.append(name)
        for b, binary in enumerate(args.binaries):
            levels = scan(binary, args.rules, path)
            for r in recs:
                flagged = levels[r["id"]] in ("medium", "high")
                cell = rows[name][b]
                if r["label"] == "benign":
                    cell[2] += not flagged
                    cell[3] += 1
                else:
                    cell[0] += flagged
                    cell[1] += 1
    names = [os.path.basename(b) for b in args.binaries]
    print("| transformation | " + " | ".join(f"scams ≥ medium ({n}) | benign < medium ({n})" for n in names) + " |")
    print("|---|" + "---:|---:|" * len(names))
    total = [[0, 0, 0, 0] for _ in args.binaries]
    for name in order:
        cells = []
        for b in range(len(args.binaries)):
            k, n, q, m = rows[name][b]
            total[b] = [x + y for x, y in zip(total[b], rows[name][b])]
            cells.append(f"{k}/{n} ({k / n:.3f}) | {q}/{m} ({q / m:.3f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"**{k}/{n} ({k / n:.3f})** | {q}/{m} ({q / m:.3f})" for k, n, q, m in total]
    print("| **all** | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
