"""The Spark job against plain `fanzha scan` on the same input, on a local Spark."""
import csv
import json
import os
import shutil
import subprocess
from collections import Counter

import pytest

import fanzha_spark

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "rules")
FIXTURES = os.path.join(HERE, "fixtures")

# Records fanzha cannot read, each for its own reason, and lines that are not records at all.
MALFORMED = [
    '{"id":"x01","date":"2026-11-02","text":"话费充值成功',            # cut off
    '["这不是一个对象"]',
    '{"id":"x02","date":"2026-11-02","content_typo":"没有正文字段"}',
    '{"id":"x03","text":12345}',
    '{"id":"x04","turns":"不是数组"}',
    '不是JSON的一行文字',
]
BLANK = ["", "   ", "\t"]


def cli_lines(fanzha, *paths, args=()):
    """`fanzha scan` on the files, as the job runs it: verdict lines and error lines apart."""
    out = subprocess.run([fanzha, "scan", "--input", "jsonl", "--format", "jsonl", "--skip-bad",
                          "--rules", RULES, *args, *paths],
                         capture_output=True, check=False)
    assert out.returncode in (0, 1), out.stderr.decode()
    lines = out.stdout.decode().splitlines()
    verdicts = [l for l in lines if '"level"' in l]
    errors = [json.loads(l) for l in lines if '"level"' not in l]
    return verdicts, errors


def job_verdicts(spark, out):
    return spark.read.parquet(os.path.join(out, "verdicts"))


def summary(spark, out):
    return {(r["section"], r["key"]): r["records"] for r in spark.read.parquet(os.path.join(out, "summary")).collect()}


def run_job(spark, fanzha, inputs, out, *args):
    return fanzha_spark.run(spark, [*inputs, "--output", str(out), "--fanzha", fanzha, *args])


@pytest.fixture(scope="module")
def jsonl_run(spark, fanzha, tmp_path_factory):
    """Messages, calls and malformed lines in one input folder, screened in 3 partitions."""
    root = tmp_path_factory.mktemp("jsonl")
    data = root / "in"
    data.mkdir()
    shutil.copy(os.path.join(FIXTURES, "messages.jsonl"), data / "messages.jsonl")
    shutil.copy(os.path.join(FIXTURES, "calls.jsonl"), data / "calls.jsonl")
    with open(os.path.join(FIXTURES, "messages.jsonl"), encoding="utf-8") as f:
        good = f.read().splitlines()
    # Malformed lines between good ones (with new ids), and blank lines, which are not records.
    mixed = []
    for i, bad in enumerate(MALFORMED):
        mixed.append(good[i].replace('"id":"m', '"id":"b'))
        mixed.append(bad)
        mixed.append(BLANK[i % len(BLANK)])
    (data / "mixed.jsonl").write_text("\n".join(mixed) + "\n", encoding="utf-8")
    out = root / "out"
    result = run_job(spark, fanzha, [str(data)], out, "--input", "jsonl", "--partitions", "3")
    return {"data": data, "out": str(out), "summary": result}


def test_message_verdicts_equal_cli(spark, fanzha, jsonl_run):
    expected, _ = cli_lines(fanzha, str(jsonl_run["data"] / "messages.jsonl"))
    got = [r["verdict"] for r in job_verdicts(spark, jsonl_run["out"]).filter("id LIKE 'm%'").collect()]
    assert len(expected) == 16
    assert Counter(got) == Counter(expected)


def test_call_verdicts_equal_cli(spark, fanzha, jsonl_run):
    expected, _ = cli_lines(fanzha, str(jsonl_run["data"] / "calls.jsonl"))
    got = job_verdicts(spark, jsonl_run["out"]).filter("id LIKE 'c%'").collect()
    assert len(expected) == 5
    assert Counter(r["verdict"] for r in got) == Counter(expected)
    # The typed columns say what the verdict says.
    for r in got:
        v = json.loads(r["verdict"])
        assert (r["level"], r["score"], r["category"], r["first_warning_turn"]) == \
               (v["level"], v["score"], v["category"], v["first_warning_turn"])
        assert r["rules"] == sorted({h["rule"] for h in v["hits"]})


def test_malformed_records_go_to_errors(spark, fanzha, jsonl_run):
    _, expected = cli_lines(fanzha, str(jsonl_run["data"] / "mixed.jsonl"))
    errors = spark.read.parquet(os.path.join(jsonl_run["out"], "errors")).collect()
    assert len(expected) == len(MALFORMED)
    assert Counter(e["error"] for e in errors) == Counter(e["error"] for e in expected)
    assert sorted(e["record"] for e in errors) == sorted(MALFORMED)
    assert all(e["file"].endswith("mixed.jsonl") for e in errors)
    # The good records around them were all screened.
    assert job_verdicts(spark, jsonl_run["out"]).filter("id LIKE 'b%'").count() == len(MALFORMED)


def test_counts_add_up(jsonl_run):
    s = dict(((sec, key), n) for sec, key, n in jsonl_run["summary"])
    records = 16 + 5 + 2 * len(MALFORMED)     # blank lines are not records, as in fanzha
    assert s[("records", "input")] == records
    assert s[("records", "errors")] == len(MALFORMED)
    assert s[("records", "verdicts")] == records - len(MALFORMED)
    assert sum(n for (sec, _), n in s.items() if sec == "level") == s[("records", "verdicts")]


def test_partitioned_by_level_and_date(spark, fanzha, jsonl_run):
    out = jsonl_run["out"]
    levels = {d.split("=", 1)[1] for d in os.listdir(os.path.join(out, "verdicts")) if "=" in d}
    rows = job_verdicts(spark, out).collect()
    assert levels == {r["level"] for r in rows}
    for r in rows:
        v = json.loads(r["verdict"])
        assert r["level"] == v["level"]
        assert (r["date"] and r["date"].isoformat()) == (v["date"][:10] if "date" in v else None)   # read back as a date
    s = summary(spark, out)
    assert s[("records", "flagged (>= low)")] == sum(1 for r in rows if r["level"] != "none")
    top_rule = max((key for (sec, key) in s if sec == "rule"), key=lambda k: s[("rule", k)])
    assert s[("rule", top_rule)] == sum(1 for r in rows if r["level"] != "none" and top_rule in r["rules"])


def wrapper(tmp_path, name, body, fanzha):
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\nREAL='{fanzha}'\nMARKER='{tmp_path}/marker'\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_killed_fanzha_is_retried(spark, fanzha, tmp_path):
    # The first fanzha process started is killed (SIGKILL, as by the OOM killer) after reading a
    # little of its input; mkdir is atomic, so exactly one attempt dies.
    binary = wrapper(tmp_path, "fanzha-killed-once", (
        'if mkdir "$MARKER" 2>/dev/null; then head -c 300 >/dev/null; kill -9 $$; fi\n'
        'exec "$REAL" "$@"'), fanzha)
    messages = os.path.join(FIXTURES, "messages.jsonl")
    run_job(spark, fanzha, [messages], tmp_path / "out", "--partitions", "3", "--fanzha", binary)
    assert (tmp_path / "marker").is_dir()
    expected, _ = cli_lines(fanzha, messages)
    got = [r["verdict"] for r in job_verdicts(spark, str(tmp_path / "out")).collect()]
    assert Counter(got) == Counter(expected)


def test_lost_verdict_fails_the_job(spark, fanzha, tmp_path):
    # A fanzha that exits 0 but answers one record fewer than it was given.
    binary = wrapper(tmp_path, "fanzha-loses-one", '"$REAL" "$@" | sed "\\$d"', fanzha)
    with pytest.raises(Exception, match="answered 15 of 16 records"):
        run_job(spark, fanzha, [os.path.join(FIXTURES, "messages.jsonl")], tmp_path / "out", "--fanzha", binary)


def test_csv_equals_cli(spark, fanzha, tmp_path):
    rows = [json.loads(l) for l in open(os.path.join(FIXTURES, "messages.jsonl"), encoding="utf-8")]
    path = tmp_path / "sms.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["msg_id", "date", "content"])
        for r in rows:
            w.writerow([r["id"], r.get("date", ""), r["text"]])
        f.write('m99,2026-11-07,"多了一列",多余\n')     # more fields than the header: Spark's own error
    run_job(spark, fanzha, [str(path)], tmp_path / "out", "--text-field", "content", "--id-field", "msg_id",
            "--min-level", "medium", "--flagged-only")
    expected, _ = cli_lines(fanzha, os.path.join(FIXTURES, "messages.jsonl"), args=("--min-level", "medium"))
    expected = [json.loads(l) for l in expected if json.loads(l)["level"] in ("medium", "high")]
    got = [json.loads(r["verdict"]) for r in job_verdicts(spark, str(tmp_path / "out")).collect()]
    key = lambda v: v["id"]
    assert sorted(got, key=key) == sorted(expected, key=key)
    errors = spark.read.parquet(str(tmp_path / "out" / "errors")).collect()
    assert [e["record"] for e in errors] == ['m99,2026-11-07,"多了一列",多余']
    s = summary(spark, str(tmp_path / "out"))
    assert s[("records", "input")] == 17 and s[("records", "verdicts")] == 16 and s[("records", "errors")] == 1


def test_parquet_calls_equal_cli(spark, fanzha, tmp_path):
    calls = os.path.join(FIXTURES, "calls.jsonl")
    path = str(tmp_path / "calls.parquet")
    spark.read.json(calls).write.parquet(path)
    run_job(spark, fanzha, [path], tmp_path / "out")
    expected, _ = cli_lines(fanzha, calls)
    got = [json.loads(r["verdict"]) for r in job_verdicts(spark, str(tmp_path / "out")).collect()]
    key = lambda v: v["id"]
    assert sorted(got, key=key) == sorted((json.loads(l) for l in expected), key=key)
