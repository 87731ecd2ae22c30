#!/usr/bin/env bash
# Makes a Python with the test-only packages (pycocotools, numpy) available
# and prints its path: the system python3 when it has them, else a venv under
# build/ filled from PyPI. Used by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if python3 -c 'import pycocotools, numpy' >/dev/null 2>&1; then
  command -v python3
  exit 0
fi
venv=build/pyvenv
if [ ! -x "$venv/bin/python3" ]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/python3" -m pip install -q --disable-pip-version-check -r tests/fixtures/requirements.txt >&2
echo "$(pwd)/$venv/bin/python3"
