#!/usr/bin/env bash
# Installs the system packages Fanzha needs (Debian/Ubuntu). Idempotent: when everything
# is already installed it only checks, and it runs `apt-get update` only when something
# is missing.
#
#   libpcre2-dev    PCRE2 (regular expressions, JIT)           -> CPCRE2
#   libopencc-dev   OpenCC (Traditional -> Simplified Chinese) -> COpenCC
#                   (pulls in libopencc-data: /usr/share/opencc/t2s.json)
#   libsqlite3-dev  SQLite, for the referral case store (GRDB)        -> FanzhaReferrals
#   pkg-config      SwiftPM finds both libraries through it
#   ripgrep         used by the benchmark (docs/BENCHMARKS.md)
set -euo pipefail

packages=(libpcre2-dev libopencc-dev libsqlite3-dev pkg-config ripgrep chromium fonts-noto-cjk)

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

if [ ! -f /usr/share/opencc/t2s.json ]; then
    echo "setup: warning: /usr/share/opencc/t2s.json not found (package libopencc-data)" >&2
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "setup: warning: no 'swift' on PATH; install a Swift 6 toolchain from swift.org" >&2
fi
