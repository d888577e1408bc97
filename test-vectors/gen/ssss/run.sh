#!/usr/bin/env bash
# Regenerates test-vectors/ssss/ (all vectors + manifest.json; README.md is kept) with the peers:
# matrix-js-sdk (+ matrix-sdk-crypto-wasm for the secrets), old matrix-js-sdk 6.0.0, mautrix-python.
# Installs into test-vectors/gen/ssss/node_modules and .venv (gitignored). Needs Node >= 20, npm,
# Python >= 3.10 with venv. Every run makes new keys, so every file changes.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh
out=../../ssss
mkdir -p .build "$out"
rm -f .build/*.json
find "$out" -maxdepth 1 -name '*.json' -delete

echo "== identity: cross-signing seeds + backup key (matrix-sdk-crypto-wasm)"
node gen_jssdk.mjs identity .build/identity.json
.venv/bin/python gen_ssss.py identity .build/identity.json
echo "== matrix-js-sdk vectors"
node gen_jssdk.mjs vectors .build/identity.json "$out" .build/jssdk-meta.json
if [ -f gen_jssdk6.cjs ]; then
  echo "== matrix-js-sdk 6.0.0 vectors (key description without iv/mac)"
  node gen_jssdk6.cjs .build/identity.json "$out" .build/jssdk6-meta.json
fi
echo "== mautrix-python vectors, derived and malformed files, manifest"
.venv/bin/python gen_ssss.py vectors .build/identity.json .build/jssdk-meta.json "$out"
echo "== check: reference reader, mautrix, matrix-js-sdk on every vector"
.venv/bin/python gen_ssss.py check "$out"
