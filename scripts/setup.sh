#!/usr/bin/env bash
# Installs the system packages Fanzha needs (Debian/Ubuntu). Idempotent: when everything
# is already installed it only checks, and it runs `apt-get update` only when something
# is missing.
#
#   libpcre2-dev    PCRE2 (regular expressions, JIT)           -> CPCRE2
#   libopencc-dev   OpenCC (Traditional -> Simplified Chinese) -> COpenCC
#                   (pulls in libopencc-data: /usr/share/opencc/t2s.json)
#   libsqlite3-dev  SQLite, for the referral case store (GRDB)        -> FanzhaReferrals
#   libmimalloc-dev mimalloc, the executables' allocator (Package.swift; docs/BENCHMARKS.md)
#   pkg-config      SwiftPM finds both libraries through it
#   ripgrep         used by the benchmark (docs/BENCHMARKS.md)
#   chromium        the web console's test in a headless browser (scripts/service_test.py)
#   fonts-noto-cjk  Chinese text in that browser and in the console's screenshot
#   openjdk-17-jre-headless, only when there is no Java 17 or later: Spark runs on it
#   python3-pip, only when pip is missing; then from PyPI: pyspark (pinned) and pytest, for the
#                   Spark job's tests (integrations/spark); pyspark is a 300 MB download that
#                   takes about 3 minutes, so it is installed only when that version is missing;
#                   playwright (drives Debian's chromium; no browser download) and schemathesis
#                   (the OpenAPI run), pinned, for the service's tests (scripts/service_test.py)
set -euo pipefail

PYSPARK_VERSION=4.0.1
PLAYWRIGHT_VERSION=1.65.2
SCHEMATHESIS_VERSION=4.32.5

# (wrk, for the service's load benchmark only, is installed by scripts/bench_serve.sh itself.)
packages=(libpcre2-dev libopencc-dev libsqlite3-dev libmimalloc-dev pkg-config ripgrep chromium fonts-noto-cjk)

# Spark 4 needs Java 17 or later.
java_major=0
if command -v java >/dev/null 2>&1; then
    java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
fi
if [ "${java_major:-0}" -lt 17 ]; then
    packages+=(openjdk-17-jre-headless)
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
    packages+=(python3-pip)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup: all system packages present (${packages[*]})"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: missing ${missing[*]}, and apt-get is not available; install them by hand" >&2
        exit 1
    fi
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "setup: missing ${missing[*]}; run as root or install sudo" >&2
            exit 1
        fi
    fi
    echo "setup: installing ${missing[*]}"
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Python packages for the Spark job's tests. PIP_BREAK_SYSTEM_PACKAGES: Debian's own Python refuses
# pip installs without it (PEP 668); other Pythons ignore it.
python_missing=()
if ! python3 -c "import sys, pyspark; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
    python_missing+=("pyspark==$PYSPARK_VERSION")
fi
if ! python3 -c "import pytest" 2>/dev/null; then
    python_missing+=(pytest)
fi
if ! python3 -c "import sys; from importlib.metadata import version; sys.exit(version('playwright') != '$PLAYWRIGHT_VERSION')" 2>/dev/null; then
    python_missing+=("playwright==$PLAYWRIGHT_VERSION")
fi
if ! python3 -c "import sys; from importlib.metadata import version; sys.exit(version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
    python_missing+=("schemathesis==$SCHEMATHESIS_VERSION")
fi
if [ "${#python_missing[@]}" -eq 0 ]; then
    echo "setup: Python packages present (pyspark $PYSPARK_VERSION, pytest, playwright $PLAYWRIGHT_VERSION, schemathesis $SCHEMATHESIS_VERSION)"
else
    echo "setup: pip installing ${python_missing[*]}"
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check "${python_missing[@]}"
fi

if [ ! -f /usr/share/opencc/t2s.json ]; then
    echo "setup: warning: /usr/share/opencc/t2s.json not found (package libopencc-data)" >&2
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "setup: warning: no 'swift' on PATH; install a Swift 6 toolchain from swift.org" >&2
fi
