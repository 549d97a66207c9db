#!/bin/sh
# Rules only vs rules + model on the held-out halves of the research dev files (docs/MODEL.md).
# The dev-trained model is a temporary file: it is never committed (evaluation-only licences).
set -e
cd "$(dirname "$0")/.."
[ -x .build/release/fanzha ] || swift build -c release
exec python3 scripts/quality_model.py "$@"
