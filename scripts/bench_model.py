#!/usr/bin/env python3
"""The learned model's cost (docs/MODEL.md, Speed; docs/BENCHMARKS.md): issue 24's targets are at
most +20% on scan's time per record and under a minute to train on 30,000 texts (2 cores).

  bench_model.py scan BIN SLICE        callgrind instructions per record of `scan --format jsonl
                                       --threads 1` and `scan --count` on SLICE, with the bundled
                                       model and with --no-model (each minus a run on an empty input)
  bench_model.py train BIN DATASETS [TRAIN OPTION ...]
                                       wall and CPU seconds and peak memory of `fanzha train` on
                                       every research dev file and corpus/ (the weights of
                                       scripts/quality_model.py; more options for `train`, such as
                                       --folds 5, after them); the model goes to a temporary file
"""
import os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_startup import without_debug_info, callgrind, warm_cache  # noqa: E402
from quality_model import SETS, CORPUS, WEIGHTS  # noqa: E402


def scan(binary, slice_path):
    binary = without_debug_info(binary)
    env = dict(os.environ, XDG_CACHE_HOME=tempfile.mkdtemp(prefix="fanzha-bench-cache-"))
    records = sum(1 for _ in open(slice_path, "rb"))
    empty = tempfile.NamedTemporaryFile(suffix=".txt")
    # The compiled rule cache written, then stamped: otherwise the first run measured (JSON with
    # the model) alone checks the whole cache file (about 12 million instructions, 4,000 a record).
    warm_cache([binary, "scan", "-q", "-"], env)
    for form in (["--format", "jsonl"], ["--count"]):
        per = {}
        for model in ("bundled model", "--no-model"):
            cmd = [binary, "scan", *form, "--threads", "1"] + (["--no-model"] if model == "--no-model" else [])
            per[model] = (callgrind(cmd, slice_path, env) - callgrind(cmd, empty.name, env)) / records
        print(f"Model cost, scan {' '.join(form)}: {per['--no-model']:,.0f} instructions per record with --no-model, "
              f"{per['bundled model']:,.0f} with the bundled model: {100 * (per['bundled model'] / per['--no-model'] - 1):+.1f}% "
              f"({records} records)")


def train(binary, datasets, *options):
    files, weights = [], []
    for name, rel in SETS:
        path = os.path.join(datasets, rel)
        if os.path.exists(path):
            files.append(path)
            if name in WEIGHTS:
                weights += ["--weight", f"{path}={WEIGHTS[name]}"]
    for c in CORPUS:
        path = os.path.join(HERE, "..", "corpus", c)
        files.append(path)
        weights += ["--weight", f"{path}={WEIGHTS[c]}"]
    with tempfile.TemporaryDirectory(prefix="fanzha-bench-model-") as d:
        start = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M", "-o", os.path.join(d, "time"), binary, "train", *files, *weights, *options,
                              "-o", os.path.join(d, "m.fzm")], stderr=subprocess.PIPE, text=True)
        _, err = p.communicate()
        wall = time.perf_counter() - start
        if p.returncode != 0:
            sys.exit(f"fanzha train failed: {err}")
        user, system, kb = open(os.path.join(d, "time")).read().split()[-3:]
        records = err.split(": lr, ")[1].split(" records (")[0] if ": lr, " in err else "?"
        print(f"Model training{' (' + ' '.join(options) + ')' if options else ''}: {records} records ({len(files)} files) in {wall:.1f} s wall, "
              f"{float(user) + float(system):.1f} s CPU, peak {int(kb) / 1024:.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in ("scan", "train") or (sys.argv[1] == "scan" and len(sys.argv) != 4):
        sys.exit(__doc__)
    {"scan": scan, "train": train}[sys.argv[1]](*sys.argv[2:])
