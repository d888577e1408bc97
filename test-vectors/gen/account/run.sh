#!/usr/bin/env bash
# Regenerates test-vectors/account/ (every state directory + manifest.json; README.md is kept) with
# the peers: matrix-js-sdk 43 and @matrix-org/matrix-sdk-crypto-wasm 18.9 make the states; the
# reference reader in gen_account.py gives the verdicts; mautrix, python-olm, vodozemac, js-sdk and
# wasm confirm them. Installs into test-vectors/gen/account/node_modules and .venv (gitignored).
# Needs Node >= 20, npm, Python >= 3.10 with venv. Every run makes new keys, so every file changes.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh
out=../../account
mkdir -p .build "$out"
rm -f .build/*.json
find "$out" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
rm -f "$out/manifest.json"

echo "== matrix-js-sdk + matrix-sdk-crypto-wasm: the account states"
node gen_account.mjs generate "$out" .build/meta.json
echo "== reference verdicts (must be the intended ones), mautrix / python-olm / vodozemac confirmation, manifest"
.venv/bin/python gen_account.py manifest .build/meta.json "$out"
echo "== js-sdk / wasm facts, confirmation"
node gen_account.mjs confirm "$out" .build/facts.json
.venv/bin/python gen_account.py confirm "$out" .build/facts.json
