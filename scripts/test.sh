#!/usr/bin/env bash
# Install raynb with its test extra into .venv (the install builds js/ with npm), Debian's
# Chromium for the browser tests, then run the JS unit tests and the whole pytest suite on
# a real local Ray head and a real JupyterLab that the suite starts and stops itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2
        exit 1
    fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
# The install also put the JupyterLab side panel and its server extension into .venv.
.venv/bin/jupyter labextension list 2>&1 | grep "raynb v.*enabled.*OK" >/dev/null \
    || { echo "the raynb JupyterLab extension is not active in .venv" >&2; exit 1; }
.venv/bin/jupyter server extension list 2>&1 | grep "raynb.server.*enabled" >/dev/null \
    || { echo "the raynb.server Jupyter server extension is not enabled in .venv" >&2; exit 1; }
(cd js && npm test)
export RAY_USAGE_STATS_ENABLED=0
# pytest exits 5 when it collected no test: that is a failure here too.
exec .venv/bin/python -m pytest "$@"
