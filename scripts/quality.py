#!/usr/bin/env python3
"""Where the rules stand on every data set: one table, recall and false alarms at medium.

    make quality                       # all of ../shared/datasets/ and corpus/
    scripts/quality.py --half even     # only the records the tuning may read (md5(id) even)
    scripts/quality.py --half odd      # only the held-out half
    scripts/quality.py --json          # the figures as JSON (one object per data set)
    scripts/quality.py --check         # fail (exit 1) when a figure drops below its floor

It runs `fanzha eval --format json --group-by FIELD` on each file and prints, per data set: the
records, scam recall at medium, the false-alarm rate at medium (benign records flagged medium or
above), the weakest group (category or scene) and the target beside each. The targets are the ones
the detection issues set; tests/QualityTests enforce the floors that hold today.

Halves: a record belongs to the even half when int(md5(id), 16) is even (CSV rows without an id:
the row number), so a tuning change can be read on one half and checked on the other.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("FANZHA_DATASETS", os.path.join(ROOT, "..", "shared", "datasets"))

# name, path, group-by field, targets: (min recall, max false-alarm rate, min recall per group),
# Minimum precision at medium where a target sets one.
PRECISION = {"telecom-fraud-texts": 0.98, "corpus": 0.94}
# Labels that mean fraud of a kind the rules may name differently (eval's --fraud).
FRAUD_LABELS = {"teleantifraud-calls": "scam,绑架诈骗,银行诈骗,钓鱼诈骗,客服诈骗,投资诈骗,邮件诈骗,身份盗窃,彩票诈骗", "probes": "other"}
SETS = [
    ("telecom-fraud-texts", "telecom-fraud-texts/dev.csv", "label", (0.95, 0.02, None)),
    ("fbs-sms", "fbs-sms/dev.jsonl", "category", (0.90, 0.02, None)),
    ("real-texts", "real-texts/dev.jsonl", "kind", (0.85, 0.03, None)),
    ("fraud-news", "fraud-news/dev.jsonl", "category", (None, 0.03, None)),
    ("fraud-dialogues", "fraud-dialogues/dev.jsonl", "category", (0.90, None, 0.80)),
    ("teleantifraud-calls", "teleantifraud-calls/dev.jsonl", "scene", (0.92, 0.01, 0.85)),
    ("corpus", None, "label", (0.95, None, None)),
    # Texts written from general knowledge to see how the rules generalise (corpus/README.md, Probes).
    ("probes", "corpus:probes.jsonl", "label", (None, None, None)),
]


# Floors: what the bundled rules reach today, a little below, so a change that loses ground fails
# `make test` (scripts/quality.py --check). (min recall, max false alarms, min precision, min
# recall of the weakest group) at medium; None where not checked. Raise them as the rules improve;
# the targets above are where they should end.
FLOORS = {
    "telecom-fraud-texts": (0.95, 0.02, 0.98, None),
    "fbs-sms": (0.92, 0.019, None, None),
    "real-texts": (0.85, 0.01, None, None),
    "fraud-news": (None, 0.022, None, None),
    "fraud-dialogues": (0.90, None, None, 0.80),
    "teleantifraud-calls": (0.94, 0.01, None, 0.85),
    "corpus": (0.95, None, 0.94, None),
    "probes": (0.87, 0.04, None, None),
}


def check(rows):
    """Each figure against its floor: one line each, then `N passed, N failed`."""
    passed = failed = 0
    for r in rows:
        floor = FLOORS.get(r["data set"])
        if not floor:
            continue
        min_recall, max_fp, min_precision, min_group = floor
        checks = []
        if min_recall is not None:
            checks.append(("scam recall", r["recall"], ">=", min_recall))
        if max_fp is not None:
            checks.append(("false alarms", r["fp_rate"], "<=", max_fp))
        if min_precision is not None:
            checks.append(("precision", r["precision"], ">=", min_precision))
        if min_group is not None and r["weakest"]:
            checks.append(("weakest group " + r["weakest"][0], r["weakest"][1], ">=", min_group))
        for what, value, op, bound in checks:
            ok = value is not None and (value >= bound if op == ">=" else value <= bound)
            print(f"{'ok  ' if ok else 'FAIL'} {r['data set']}: {what} {pct(value)} {op} {bound}")
            passed += ok
            failed += not ok
    print(f"{passed} passed, {failed} failed")
    return failed == 0


def half_of(key, index):
    h = int(hashlib.md5(str(key if key is not None else index).encode()).hexdigest(), 16)
    return "even" if h % 2 == 0 else "odd"


def split_file(path, half, tmp):
    """A copy of `path` holding only the records of `half`."""
    out = os.path.join(tmp, os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path))
    with open(path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        if path.endswith(".csv"):
            import csv
            reader = csv.reader(src)
            writer = csv.writer(dst)
            writer.writerow(next(reader))
            for i, row in enumerate(reader):
                if half_of(None, i) == half:
                    writer.writerow(row)
        else:
            for i, line in enumerate(src):
                if not line.strip():
                    continue
                if half_of(json.loads(line).get("id"), i) == half:
                    dst.write(line)
    return out


def evaluate(fanzha, paths, group_by, extra):
    cmd = [fanzha, "eval", "--format", "json", "--group-by", group_by] + extra + paths
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"quality: {' '.join(cmd)} failed ({res.returncode}):\n{res.stderr}")
    return json.loads(res.stdout)


def figures(name, report, targets):
    med = report["thresholds"]["medium"]
    scam = med["tp"] + med["fn"]
    benign = med["fp"] + med["tn"]
    recall = med["tp"] / scam if scam else None
    fp_rate = med["fp"] / benign if benign else None
    groups = report.get("groups", {}).get("values", {})
    weakest = None
    for value, g in groups.items():
        if g["fraud"] >= 5 and g["recall"] is not None and (weakest is None or g["recall"] < weakest[1]):
            weakest = (value, g["recall"], g["fraud"])
    worst_fp = None
    for value, g in groups.items():
        if g["benign"] >= 5 and g["fp_rate"] is not None and (worst_fp is None or g["fp_rate"] > worst_fp[1]):
            worst_fp = (value, g["fp_rate"], g["benign"])
    min_recall, max_fp, min_group = targets
    ok = True
    if min_recall is not None and recall is not None and recall < min_recall:
        ok = False
    if max_fp is not None and fp_rate is not None and fp_rate > max_fp:
        ok = False
    if min_group is not None and weakest is not None and weakest[1] < min_group:
        ok = False
    if name in PRECISION and med["precision"] < PRECISION[name]:
        ok = False
    return {
        "data set": name, "records": report["records"], "scam": scam, "benign": benign,
        "recall": recall, "recall_target": min_recall, "fp_rate": fp_rate, "fp_target": max_fp,
        "precision": med["precision"], "weakest": weakest, "weakest_target": min_group,
        "worst_fp_group": worst_fp, "met": ok,
    }


def width(s):
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def pad(s, n):
    return s + " " * (n - width(s))


def pct(x):
    return "-" if x is None else f"{x:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fanzha", default=os.path.join(ROOT, ".build", "release", "fanzha"))
    ap.add_argument("--half", choices=["even", "odd"])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--only", help="comma-separated data set names")
    ap.add_argument("--check", action="store_true", help="compare with the floors; exit 1 when one fails")
    ap.add_argument("extra", nargs="*", help="passed to fanzha eval (e.g. --rules DIR)")
    args = ap.parse_args()
    if not os.path.exists(args.fanzha):
        sys.exit(f"quality: no binary at {args.fanzha} (run `swift build -c release`)")
    only = set(args.only.split(",")) if args.only else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, rel, group_by, targets in SETS:
            if only and name not in only:
                continue
            if rel is None:
                paths = [os.path.join(ROOT, "corpus", "messages.jsonl"), os.path.join(ROOT, "corpus", "calls.jsonl")]
            elif rel.startswith("corpus:"):
                paths = [os.path.join(ROOT, "corpus", rel[len("corpus:"):])]
            else:
                paths = [os.path.join(DATA, rel)]
                if not os.path.exists(paths[0]):
                    print(f"quality: {paths[0]} not found, skipped", file=sys.stderr)
                    continue
            if args.half and rel is not None and not rel.startswith("corpus:"):
                paths = [split_file(p, args.half, tmp) for p in paths]
            extra = args.extra + (["--fraud", FRAUD_LABELS[name]] if name in FRAUD_LABELS else [])
            report = evaluate(args.fanzha, paths, group_by, extra)
            rows.append(figures(name, report, targets))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if args.check:
        sys.exit(0 if check(rows) else 1)
    header = ["data set", "records", "scam recall", "target", "false alarms", "target", "weakest group (recall, n)", "target", "met"]
    table = []
    for r in rows:
        w = r["weakest"]
        table.append([
            r["data set"], str(r["records"]), pct(r["recall"]),
            "-" if r["recall_target"] is None else f"≥ {r['recall_target']:.2f}",
            pct(r["fp_rate"]), "-" if r["fp_target"] is None else f"≤ {r['fp_target']:.2f}",
            "-" if w is None else f"{w[0]} ({w[1]:.2f}, {w[2]})",
            "-" if r["weakest_target"] is None else f"≥ {r['weakest_target']:.2f}",
            "yes" if r["met"] else "no",
        ])
    title = "At medium" + (f", {args.half} half" if args.half else "")
    if args.markdown:
        print(f"**{title}**\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        for row in table:
            print("| " + " | ".join(row) + " |")
        print()
        return
    widths = [max(width(h), *(width(row[i]) for row in table)) for i, h in enumerate(header)]
    print(title)
    print("  ".join(pad(h, widths[i]) for i, h in enumerate(header)))
    for row in table:
        print("  ".join(pad(c, widths[i]) for i, c in enumerate(row)))


if __name__ == "__main__":
    main()
