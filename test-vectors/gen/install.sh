#!/usr/bin/env bash
# Installs the pinned peers into test-vectors/gen/node_modules and test-vectors/gen/.venv.
# Used by gen/run.sh and interop/run.sh; a no-op when already installed.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/matrix-react-sdk ] || [ ! -d node_modules/@matrix-org/matrix-sdk-crypto-wasm ]; then
  # --ignore-scripts: only two plain JS/wasm files are used, none of the app's build steps.
  npm ci --ignore-scripts --no-audit --no-fund
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import nio.crypto.key_export, cryptography' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
