#!/usr/bin/env bash
# What the server's end-to-end tests need beyond cargo: a venv with the official `openai`
# client and `websocket-client` (to drive Chromium over CDP), and Debian's headless `chromium`.
# Idempotent; a few seconds when everything is already there. Called by .ci/run before the tests.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
VENV=${REASONER_TEST_VENV:-$ROOT/target/server-test-venv}
need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >/dev/null
fi
if ! "$VENV/bin/python" -c 'import openai, httpx, websocket' >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'openai>=1.50' 'httpx>=0.27' 'websocket-client>=1.8'
fi
echo "server test deps ready: $VENV, $(command -v chromium)"
