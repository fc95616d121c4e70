#!/usr/bin/env bash
# Remake tests/fixtures/ from scratch: creates tools/golden/.venv, installs the pinned
# requirements and runs make_fixtures.py. CPU only; takes a minute once the venv exists.
# Usage: tools/golden/make_fixtures.sh            (PYTHON=python3.11 to pick the interpreter)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -r "$here/requirements.txt"
"$venv/bin/python" "$here/make_fixtures.py" "$@"
# the fixtures must not change when remade with the same versions: show what moved
git -C "$here/../.." status --short -- tests/fixtures || true
