#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the pinned requirements; a no-op when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "bootstrap: Python 3.11 is required (found $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt constraints.txt | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "bootstrap: creating .venv and installing pinned requirements (a few minutes the first time)"
# mysqlclient (the MySQL provider's driver) has no Linux wheel: pip compiles it against these.
scripts/system-deps.sh libmariadb-dev
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
log=.venv/pip-install.log
if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
       .venv/bin/python -m pip install --disable-pip-version-check \
           -r requirements.txt -c constraints.txt; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "bootstrap: pip install failed; full log in $log" >&2
    exit 1
fi
echo "$want" > "$stamp"
