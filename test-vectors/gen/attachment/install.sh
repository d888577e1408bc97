#!/usr/bin/env bash
# Installs the pinned attachment peers into test-vectors/gen/attachment/node_modules and .venv
# (both gitignored). Used by run.sh and ../../interop/attachment.sh; a no-op when installed.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/matrix-encrypt-attachment ] || [ ! -d node_modules/@matrix-org/matrix-sdk-crypto-wasm ]; then
  npm ci --ignore-scripts --no-audit --no-fund
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import nio.crypto.attachments, mautrix.crypto.attachments' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
