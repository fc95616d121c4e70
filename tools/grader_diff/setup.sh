#!/usr/bin/env bash
# Creates tools/grader_diff/.venv with Math-Verify from PyPI; does nothing when it is there.
# Only the differential tool and the speed comparison need it; CI does not.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$here/.venv/bin/python" ] && "$here/.venv/bin/python" -c "import math_verify" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet "math-verify==0.9.0"
