#!/usr/bin/env bash
# Regenerates test-vectors/backup/ with the third-party peers (see ../../backup/README.md).
# Installs into test-vectors/gen/backup/node_modules and .venv (gitignored).
# Needs Node >= 20, npm, Python >= 3.9 with venv.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh
mkdir -p .build
# Every vector is re-made from scratch (keys and ephemeral keys are random); README.md stays.
find ../../backup -maxdepth 1 -name '*.json' -delete
rm -f .build/*.json

echo "== matrix-js-sdk + matrix-sdk-crypto-wasm: recovery keys, OlmMachine backup"
node gen_backup.mjs
echo "== python-olm, vodozemac, mautrix, reference: keys, backups, typos, failures, manifest"
.venv/bin/python gen_backup.py
echo "== cross-check: js-sdk decoder + wasm decryptV1"
node gen_backup.mjs --check
echo "== cross-check: reference, python-olm, vodozemac, mautrix"
.venv/bin/python gen_backup.py --check
echo "== MSC4048 (unstable) backup MACs: reference writer + rust-sdk PR #2659 vector -> ../../backup/msc4048/"
.venv/bin/python gen_msc4048.py
