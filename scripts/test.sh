#!/usr/bin/env bash
# Install raynb with its test extra into .venv and run the whole test suite on a real
# local Ray head that the suite starts and stops itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
export RAY_USAGE_STATS_ENABLED=0
# pytest exits 5 when it collected no test: that is a failure here too.
exec .venv/bin/python -m pytest "$@"
