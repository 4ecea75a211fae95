#!/usr/bin/env bash
# Install raynb into .venv and run the demo against a local Ray head (started if none runs).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
export RAY_USAGE_STATS_ENABLED=0
exec .venv/bin/raynb demo "$@"
