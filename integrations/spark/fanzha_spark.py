#!/usr/bin/env python3
"""Screens messages or calls with fanzha on Apache Spark.

Each partition streams through ONE `fanzha scan --input jsonl --format jsonl` process on its
executor: records go to the process's stdin from a thread while the task reads verdicts from its
stdout (so neither side can block the other), one output line per input record, in order.
Verdicts are written as Parquet partitioned by level (and by date where the records carry one),
records fanzha could not read go to an errors output with the reason, and a summary table counts
records, flagged records by level and category, and the rules that fire most. The job fails unless
input records = verdicts + errors.

    spark-submit integrations/spark/fanzha_spark.py sms/*.jsonl --output out/ --text-field content
    spark-submit integrations/spark/fanzha_spark.py calls.parquet --output out/ --min-level medium

integrations/spark/README.md describes the options, the outputs and how to run it on a cluster.
"""
import argparse
import collections
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading

LEVELS = ("none", "low", "medium", "high")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ERROR_RECORD_CHARS = 65536          # at most this much of a record is kept beside its error
# A JSON Lines line that fanzha skips (it is not a record): spaces and tabs only, before an
# optional "\r". \z, not $: Java's $ also matches before a final line terminator such as U+2028.
BLANK_LINE = r"^[ \t]*\r?\z"


class JobError(Exception):
    """The job ran but its output cannot be trusted (the counts do not add up)."""


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="fanzha_spark.py",
        description="Screen messages or calls with fanzha on Spark: verdicts as Parquet partitioned "
                    "by level (and date), an errors output and a summary table.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (any path Spark reads)")
    p.add_argument("--output", "-o", required=True, help="output folder: verdicts/, errors/, summary/")
    p.add_argument("--input", choices=("jsonl", "csv", "parquet"),
                   help="input format (default: from the first input's extension)")
    p.add_argument("--text-field", help="field holding the message text (fanzha's default: text, then content)")
    p.add_argument("--id-field", help="field holding the record id (fanzha's default: id)")
    p.add_argument("--date-field", default="date",
                   help="field whose YYYY-MM-DD prefix partitions the verdicts, when records have it (default: date)")
    p.add_argument("--min-level", choices=LEVELS[1:], default="low",
                   help="the level that counts as flagged (default: low)")
    p.add_argument("--flagged-only", action="store_true", help="write only verdicts at or above --min-level")
    p.add_argument("--rules", action="append", default=[],
                   help="rule file or folder, shipped to every executor (repeatable; default: the bundled rules/)")
    p.add_argument("--no-model", action="store_true", help="load no model (fanzha --no-model)")
    p.add_argument("--speakers", help="which speaker names are which side (fanzha --speakers)")
    p.add_argument("--fanzha", help="the fanzha binary to ship (default: .build/release/fanzha, else fanzha on PATH)")
    p.add_argument("--fanzha-threads", type=int,
                   help="fanzha --threads per task (default: spark.task.cpus, which is 1 unless set)")
    p.add_argument("--partitions", type=int, help="repartition the input into N partitions first")
    p.add_argument("--top-rules", type=int, default=20, help="how many rules the summary lists (default: 20)")
    p.add_argument("--mode", choices=("error", "overwrite"), default="error",
                   help="when the output folder exists: fail (default) or overwrite")
    return p.parse_args(argv)


def input_format(args):
    if args.input:
        return args.input
    first = args.inputs[0].rstrip("/")
    for ext, fmt in ((".jsonl", "jsonl"), (".json", "jsonl"), (".ndjson", "jsonl"),
                     (".csv", "csv"), (".parquet", "parquet")):
        if first.endswith(ext):
            return fmt
    raise SystemExit(f"fanzha_spark: cannot tell the format of {first}; pass --input jsonl|csv|parquet")


def fanzha_binary(args):
    if args.fanzha:
        path = args.fanzha
    else:
        built = os.path.join(REPO, ".build", "release", "fanzha")
        path = built if os.path.exists(built) else shutil.which("fanzha")
    if not path or not os.path.isfile(path):
        raise SystemExit("fanzha_spark: no fanzha binary (build it with `swift build -c release` or pass --fanzha)")
    return os.path.abspath(path)


def rule_paths(args):
    paths = args.rules or [os.path.join(REPO, "rules")]
    for path in paths:
        if not os.path.exists(path):
            raise SystemExit(f"fanzha_spark: {path}: no such rule file or folder")
    return [os.path.abspath(p) for p in paths]


# ---------------------------------------------------------------------------------------------
# On the executors

def _shipped_executable(name):
    """The shipped binary's path on this executor, made executable if the copy lost its x bit."""
    from pyspark import SparkFiles
    path = SparkFiles.get(name)
    if os.access(path, os.X_OK):
        return path
    try:
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path
    except OSError:
        copy = os.path.join(tempfile.mkdtemp(prefix="fanzha-"), name)
        shutil.copy(path, copy)
        os.chmod(copy, 0o755)
        return copy


def _answer(raw, record, source):
    """One output row: fanzha's line, and beside an error line the record it could not read.
    A verdict always has a "level" member; an error line ({"id", "error"}) never has one, and the
    text `"level":` cannot occur inside a JSON string, where quotes are escaped."""
    line = raw.decode("utf-8").rstrip("\n")
    if '"level":' in line:
        return (line, None, None)
    return (line, record[:ERROR_RECORD_CHARS], source)


def screen_partition(rows, command, binary_name, rules_names):
    """Streams one partition through one fanzha process. `rows` yields (record JSON text, source
    file). Yields (fanzha's line, record, file) per record, the last two only beside errors.
    Raises, so that Spark retries the task, when the process fails, is killed, or answers a
    different number of records than it was given."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return      # an empty partition starts no process
    from pyspark import SparkFiles
    argv = [_shipped_executable(binary_name)] + list(command)
    for name in rules_names:
        argv += ["--rules", SparkFiles.get(name)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pending = collections.deque()       # records written and not yet answered, oldest first
    fed = [0]
    feed_error = []
    stderr_tail = collections.deque(maxlen=40)

    def feed():
        try:
            for record, source in _chain(first, rows):
                pending.append((record, source))
                proc.stdin.write(record.encode("utf-8", "replace") + b"\n")
                fed[0] += 1
        except BrokenPipeError:
            pass        # the process died; its exit status says why
        except BaseException as e:     # reading the input failed: fail the task with it
            feed_error.append(e)
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def drain_stderr():
        # fanzha names every unreadable record on stderr; a full pipe would stop it.
        for line in proc.stderr:
            stderr_tail.append(line.decode("utf-8", "replace").rstrip("\n"))

    feeder = threading.Thread(target=feed, daemon=True)
    drainer = threading.Thread(target=drain_stderr, daemon=True)
    feeder.start()
    drainer.start()
    answered = 0
    try:
        for line in proc.stdout:
            if not pending:
                raise RuntimeError(f"fanzha wrote more lines than it was given records: {line[:200]!r}")
            record, source = pending.popleft()
            answered += 1
            yield _answer(line, record, source)
        status = proc.wait()
        feeder.join()
        drainer.join()
        if feed_error:
            raise feed_error[0]
        if status not in (0, 1):
            how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
            raise RuntimeError(f"fanzha {how} after answering {answered} of {fed[0]} records; "
                               f"stderr: {' | '.join(stderr_tail)}")
        if answered != fed[0] or pending:
            raise RuntimeError(f"fanzha answered {answered} of {fed[0]} records; stderr: {' | '.join(stderr_tail)}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _chain(first, rest):
    yield first
    yield from rest


# ---------------------------------------------------------------------------------------------
# On the driver

def verdict_schema(date_field):
    """The members of fanzha's output lines that the outputs and the summary use."""
    from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType
    s = StringType()
    fields = [StructField("id", s), StructField("level", s), StructField("score", IntegerType()),
              StructField("category", s), StructField("categories", ArrayType(s)),
              StructField("hits", ArrayType(StructType([StructField("rule", s)]))),
              StructField("first_warning_turn", IntegerType()), StructField("first_money_request_turn", IntegerType()),
              StructField("errors", ArrayType(s)), StructField("error", s)]
    if date_field and date_field not in {f.name for f in fields}:
        fields.append(StructField(date_field, s))
    return StructType(fields)


def read_records(spark, fmt, inputs):
    """The input as (record: one JSON object per row, file, reader_error, raw): reader_error and
    raw (the row as written) are set where Spark itself could not parse a CSV row."""
    from pyspark.sql import functions as F
    if fmt == "jsonl":
        # Lines as they are, so fanzha reads exactly what `fanzha scan` would (fields pass through
        # as written, bad JSON is fanzha's to report). lineSep "\n": fanzha splits lines only there.
        df = spark.read.option("lineSep", "\n").text(inputs)
        df = df.filter(~F.col("value").rlike(BLANK_LINE))
        return df.select(F.col("value").alias("record"), F.col("_metadata.file_path").alias("file"),
                         F.lit(None).cast("string").alias("reader_error"), F.lit(None).cast("string").alias("raw"))
    if fmt == "csv":
        header = spark.read.option("header", True).option("multiLine", True).csv(inputs).schema
        from pyspark.sql.types import StringType, StructField, StructType
        schema = StructType([StructField(f.name, StringType()) for f in header] +
                            [StructField("_corrupt_record", StringType())])
        df = (spark.read.schema(schema).option("header", True).option("multiLine", True)
              .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", "_corrupt_record").csv(inputs))
        fields = [F.col(f"`{f.name}`") for f in header]
        return df.select(F.to_json(F.struct(*fields)).alias("record"), F.col("_metadata.file_path").alias("file"),
                         F.when(F.col("_corrupt_record").isNotNull(),
                                F.lit("a malformed CSV row (more fields than the header, or bad quoting)"))
                         .alias("reader_error"),
                         F.col("_corrupt_record").alias("raw"))
    df = spark.read.parquet(*inputs)
    return df.select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])).alias("record"),
                     F.col("_metadata.file_path").alias("file"), F.lit(None).cast("string").alias("reader_error"),
                     F.lit(None).cast("string").alias("raw"))


def fanzha_command(args, threads):
    cmd = ["scan", "--input", "jsonl", "--format", "jsonl", "--skip-bad", "--threads", str(threads),
           "--min-level", args.min_level]
    if args.text_field:
        cmd += ["--text-field", args.text_field]
    if args.id_field:
        cmd += ["--id-field", args.id_field]
    if args.speakers:
        cmd += ["--speakers", args.speakers]
    if args.no_model:
        cmd += ["--no-model"]
    return cmd


def run(spark, argv):
    """Runs the job on `spark`; returns the summary as a list of (section, key, records)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    args = parse_args(argv)
    fmt = input_format(args)
    binary = fanzha_binary(args)
    rules = rule_paths(args)
    sc = spark.sparkContext
    # Ship the binary, the rules and this module to every executor.
    sc.addFile(binary)
    for path in rules:
        sc.addFile(path, recursive=os.path.isdir(path))
    sc.addPyFile(os.path.abspath(__file__))
    threads = args.fanzha_threads or int(sc.getConf().get("spark.task.cpus", "1"))
    command = fanzha_command(args, threads)
    binary_name = os.path.basename(binary)
    rules_names = [os.path.basename(p.rstrip("/")) for p in rules]

    date_field = args.date_field
    records = read_records(spark, fmt, args.inputs)
    if args.partitions:
        records = records.repartition(args.partitions)
    good = records.filter(F.col("reader_error").isNull()).select("record", "file")
    # Python only pairs fanzha's lines with the records; the JVM parses the verdicts.
    answers = spark.createDataFrame(good.rdd.mapPartitions(
        lambda rows: screen_partition(((r[0], r[1]) for r in rows), command, binary_name, rules_names)),
        "line string, record string, file string")
    v = answers.select(F.from_json("line", verdict_schema(date_field), {"mode": "FAILFAST"}).alias("v"),
                       "line", "record", "file")
    is_verdict = F.col("v.level").isNotNull()
    date = F.col(f"v.`{date_field}`") if date_field else F.lit(None).cast("string")
    screened = v.select(
        F.when(is_verdict, "verdict").otherwise("error").alias("kind"),
        F.col("v.id").alias("id"), F.col("v.level").alias("level"), F.col("v.score").alias("score"),
        F.col("v.category").alias("category"), F.col("v.categories").alias("categories"),
        F.array_sort(F.array_distinct(F.transform("v.hits", lambda h: h["rule"]))).alias("rules"),
        F.col("v.first_warning_turn").alias("first_warning_turn"),
        F.col("v.first_money_request_turn").alias("first_money_request_turn"),
        F.col("v.errors").alias("rule_errors"),
        F.when(is_verdict, F.col("line")).alias("verdict"),
        F.when(~is_verdict, F.col("v.error")).alias("error"),
        "record", "file",
        F.when(is_verdict & date.rlike(r"^\d{4}-\d{2}-\d{2}"), F.substring(date, 1, 10)).alias("date"))
    reader_errors = records.filter(F.col("reader_error").isNotNull()).select(
        F.lit("error").alias("kind"), F.col("reader_error").alias("error"),
        F.substring(F.coalesce("raw", "record"), 1, ERROR_RECORD_CHARS).alias("record"), "file")
    screened = screened.unionByName(reader_errors, allowMissingColumns=True).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return _write_outputs(spark, args, records, screened)
    finally:
        screened.unpersist()


def _write_outputs(spark, args, records, screened):
    from pyspark.sql import functions as F
    min_rank = LEVELS.index(args.min_level)
    flagged_levels = list(LEVELS[min_rank:])
    verdicts = screened.filter(F.col("kind") == "verdict")
    errors = screened.filter(F.col("kind") == "error")
    flagged = verdicts.filter(F.col("level").isin(flagged_levels))

    # The counts first: this screens every partition once, and the outputs are written from the
    # persisted result.
    totals = screened.agg(
        F.sum((F.col("kind") == "verdict").cast("long")).alias("verdicts"),
        F.sum((F.col("kind") == "error").cast("long")).alias("errors"),
        F.sum(F.col("level").isin(flagged_levels).cast("long")).alias("flagged"),
        F.sum(F.col("date").isNotNull().cast("long")).alias("dated"),
        *[F.sum((F.col("level") == level).cast("long")).alias(level) for level in LEVELS]).first()
    n_verdicts, n_errors = totals["verdicts"] or 0, totals["errors"] or 0
    n_flagged, n_dated = totals["flagged"] or 0, totals["dated"] or 0
    n_input = records.count()
    # Nothing is written unless every input record has a verdict or an error.
    if n_input != n_verdicts + n_errors:
        raise JobError(f"{n_input} input records but {n_verdicts} verdicts + {n_errors} errors = "
                       f"{n_verdicts + n_errors}: records were lost, nothing written")

    summary = [("records", "input", n_input), ("records", "verdicts", n_verdicts),
               ("records", "errors", n_errors), ("records", f"flagged (>= {args.min_level})", n_flagged)]
    summary += [("level", level, totals[level] or 0) for level in LEVELS]
    # Flagged records per main category and per rule, in one pass; there are at most a few hundred
    # of each, so the ordering is done here.
    counts = (flagged.select(F.lit("category").alias("section"), F.coalesce("category", F.lit("(none)")).alias("key"))
              .unionByName(flagged.select(F.lit("rule").alias("section"), F.explode("rules").alias("key")))
              .groupBy("section", "key").count().collect())
    for section, limit in (("category", None), ("rule", args.top_rules)):
        rows = sorted(((r["key"], r["count"]) for r in counts if r["section"] == section), key=lambda kv: (-kv[1], kv[0]))
        summary += [(section, key, n) for key, n in rows[:limit]]

    out = args.output.rstrip("/")
    written = flagged if args.flagged_only else verdicts
    partition_by = ["level"] + (["date"] if n_dated else [])
    columns = ["id", "score", "category", "categories", "rules", "first_warning_turn",
               "first_money_request_turn", "rule_errors", "verdict"] + partition_by
    written.select(*columns).write.mode(args.mode).partitionBy(*partition_by).parquet(out + "/verdicts")
    errors.select("id", "error", "record", "file").write.mode(args.mode).parquet(out + "/errors")
    spark.createDataFrame(summary, "section string, key string, records long") \
        .coalesce(1).write.mode(args.mode).parquet(out + "/summary")

    return summary


def format_summary(summary):
    width = max(len(k) for _, k, _ in summary)
    return "\n".join(f"{s:8}  {k:{width}}  {n:>14,}" for s, k, n in summary)


def main(argv=None):
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.appName("fanzha").getOrCreate()
    try:
        summary = run(spark, sys.argv[1:] if argv is None else argv)
    except JobError as e:
        print(f"fanzha_spark: {e}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
