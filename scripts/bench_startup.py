#!/usr/bin/env python3
"""Start-up and instruction counts for scripts/bench.sh (docs/BENCHMARKS.md).

  bench_startup.py startup BIN RUNS          median, min and max wall milliseconds of RUNS whole
                                             `BIN scan -q` processes on one message, with the
                                             compiled rule cache (after one warming run) and
                                             without it (FANZHA_NO_CACHE=1)
  bench_startup.py instructions BIN SLICE    callgrind instructions per record of
                                             `BIN scan --format jsonl --threads 1` (and --count) on
                                             SLICE, minus a run on an empty input; the same warm
                                             (SLICE twice, minus SLICE once); and at start-up
"""
import os, re, shutil, statistics, subprocess, sys, tempfile, time

MESSAGE = "【平安银行】您的账户存在异常，请立即转账到安全账户配合调查，验证码切勿告诉他人。\n"


def warm_cache(cmd, env):
    """Writes the compiled rule cache, then (2 s later, once the file is old enough to be stamped:
    README, *Compiled rule cache*) checks it in full once, as the second run of a day would."""
    for _ in range(2):
        subprocess.run(cmd, input=MESSAGE.encode(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(2.1)


def wall(cmd, env, runs):
    """Median, min and max wall milliseconds of `runs` whole processes, their median CPU (user + system)
    and median minor page faults."""
    times, cpu, faults = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            p.stdin.write(MESSAGE.encode()); p.stdin.close()
        except BrokenPipeError:   # `--version` may be done before it is fed
            pass
        _, _, usage = os.wait4(p.pid, 0)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((usage.ru_utime + usage.ru_stime) * 1000)
        faults.append(usage.ru_minflt)
    return statistics.median(times), min(times), max(times), statistics.median(cpu), statistics.median(faults)


def conformance_records(binary):
    """Protocol conformance records in the executable (its swift5_protocol_conformances section, 4
    bytes each): the Swift runtime walks all of them on every first dynamic cast of a (type,
    protocol) pair, so start-up grows with them (docs/BENCHMARKS.md)."""
    if not shutil.which("readelf"):
        return None
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True).stdout
    m = re.search(r"swift5_protocol_conformances\s+PROGBITS\s+\S+\s+\S+\s+([0-9a-f]+)", out)
    return int(m.group(1), 16) // 4 if m else None


def startup(binary, runs):
    env = dict(os.environ)
    cache = tempfile.mkdtemp(prefix="fanzha-bench-cache-")
    env["XDG_CACHE_HOME"] = cache
    cmd = [binary, "scan", "-q", "-"]
    warm_cache(cmd, env)
    load_before = os.getloadavg()[0]
    warm = wall(cmd, env, runs)
    cold_env = dict(env, FANZHA_NO_CACHE="1")
    cold = wall(cmd, cold_env, runs)
    version = wall([binary, "--version"], env, runs)
    # The machine is shared: wall figures mean little without the load they were taken under.
    print(f"Load average (1 min) before / after the start-up runs: {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    records = conformance_records(binary)
    if records is not None:
        print(f"Protocol conformance records in {os.path.basename(binary)}: {records:,}")
    for name, (med, lo, hi, cpu, faults) in [("with the compiled rule cache", warm), ("compiling the rules (FANZHA_NO_CACHE=1)", cold),
                                     ("fanzha --version (the process alone)", version)]:
        print(f"Start-up, {name}: median {med:.1f} ms of {runs} runs (min {lo:.1f}, max {hi:.1f}), CPU median {cpu:.1f} ms, "
              f"{faults:,.0f} minor page faults")


def without_debug_info(binary):
    """A copy of `binary` without its DWARF sections: valgrind 3.19 gives up on the release build's
    ("Possibly corrupted debuginfo file"). Symbols are kept, so profiles still name functions."""
    if not shutil.which("objcopy"):
        return binary
    # Beside the original, so that it finds the same bundled rules.
    copy = os.path.realpath(binary) + "-nodebug"
    subprocess.run(["objcopy", "--strip-debug", binary, copy], check=True)
    return copy


def callgrind(cmd, stdin_path, env):
    with tempfile.NamedTemporaryFile(suffix=".cg") as out, open(stdin_path, "rb") as f:
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}"] + cmd + ["-"],
                           stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        m = re.search(rb"refs:\s+([\d,]+)", r.stderr)
        return int(m.group(1).replace(b",", b""))


def instructions(binary, slice_path):
    binary = without_debug_info(binary)
    env = dict(os.environ, XDG_CACHE_HOME=tempfile.mkdtemp(prefix="fanzha-bench-cache-"))
    records = sum(1 for _ in open(slice_path, "rb"))
    empty = tempfile.NamedTemporaryFile(suffix=".txt")
    one = tempfile.NamedTemporaryFile(suffix=".txt")
    one.write(MESSAGE.encode()); one.flush()
    warm_cache([binary, "scan", "-q", one.name], env)
    base = callgrind([binary, "scan", "--format", "jsonl", "--threads", "1"], empty.name, env)
    full = callgrind([binary, "scan", "--format", "jsonl", "--threads", "1"], slice_path, env)
    count = callgrind([binary, "scan", "--count", "--threads", "1"], slice_path, env)
    # Warm: what a record costs once the run's one-time work is done. The figure above includes
    # what the first records pay for the whole run (each regex deserialised and JIT-compiled at
    # its first use, OpenCC opened at the first Traditional line: about 5,000 a record on a
    # 10,000-line slice), which a 100 MB run spreads over a million records.
    twice = tempfile.NamedTemporaryFile(suffix=".txt")
    with open(slice_path, "rb") as f:
        body = f.read()
    twice.write(body + body if body.endswith(b"\n") or not body else body + b"\n" + body); twice.flush()
    full_twice = callgrind([binary, "scan", "--format", "jsonl", "--threads", "1"], twice.name, env)
    count_twice = callgrind([binary, "scan", "--count", "--threads", "1"], twice.name, env)
    start_cached = callgrind([binary, "scan", "-q"], one.name, env)
    start_cold = callgrind([binary, "scan", "-q"], one.name, dict(env, FANZHA_NO_CACHE="1"))
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", binary, "--version"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    version = int(re.search(rb"refs:\s+([\d,]+)", r.stderr).group(1).replace(b",", b""))
    print(f"Instructions per record ({records} lines, --threads 1, callgrind): {(full - base) / records:,.0f} (JSON verdicts), "
          f"{(count - base) / records:,.0f} (--count); warm (the slice again, after a first pass): "
          f"{(full_twice - full) / records:,.0f} (JSON verdicts), {(count_twice - count) / records:,.0f} (--count)")
    print(f"Instructions at start-up (scan -q, one message): {start_cached / 1e6:,.0f}M with the compiled rule cache, "
          f"{start_cold / 1e6:,.0f}M compiling the rules; fanzha --version {version / 1e6:,.1f}M")


if __name__ == "__main__":
    if sys.argv[1] == "startup":
        startup(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "instructions":
        instructions(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
