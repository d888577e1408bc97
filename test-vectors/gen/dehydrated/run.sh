#!/usr/bin/env bash
# Regenerates test-vectors/dehydrated/ (every vector + manifest.json; README.md is kept) with the
# peers pinned in package-lock.json: @matrix-org/matrix-sdk-crypto-wasm (devices, dehydration,
# rehydration, bundles), matrix-js-sdk (secret storage), @matrix-org/olm (the legacy v1 device).
# Installs into test-vectors/gen/dehydrated/node_modules (gitignored). Needs Node >= 20, npm.
# Every run makes new keys, so every file changes.
set -euo pipefail
cd "$(dirname "$0")"
./install.sh
out=../../dehydrated
mkdir -p "$out"
find "$out" -mindepth 1 -not -name README.md -not -path "$out/bundles" -delete
echo "== matrix-sdk-crypto-wasm + matrix-js-sdk + libolm: the dehydrated device, its events, the proof"
node gen.mjs "$out"
