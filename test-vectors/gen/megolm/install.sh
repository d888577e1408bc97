#!/usr/bin/env bash
# Installs the pinned peers into test-vectors/gen/megolm/node_modules and .venv (gitignored).
# A no-op when already installed. Needs Node >= 20 + npm, Python >= 3.9 with venv.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/@matrix-org/matrix-sdk-crypto-wasm ]; then
  npm ci --ignore-scripts --no-audit --no-fund
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import olm, vodozemac, cryptography' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
