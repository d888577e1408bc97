#!/usr/bin/env bash
# Installs the pinned peers into test-vectors/gen/backup/node_modules and .venv (gitignored).
# Used by run.sh and ../../interop/backup.sh; a no-op when already installed.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/matrix-js-sdk ] || [ ! -d node_modules/@matrix-org/matrix-sdk-crypto-wasm ]; then
  # --ignore-scripts: only the recovery-key module of matrix-js-sdk and the wasm package are used.
  # matrix-js-sdk 43 declares node >= 22; the two files used here run on Node 20 (EBADENGINE warning only).
  npm ci --ignore-scripts --no-audit --no-fund
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import olm.pk, vodozemac, mautrix.crypto.ssss.util, cryptography, Crypto' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
