#!/usr/bin/env bash
# Regenerates test-vectors/bundle/ (every vector + manifest.json; README.md is kept) with
# @matrix-org/matrix-sdk-crypto-wasm, pinned in ../dehydrated/package-lock.json (this generator
# shares ../dehydrated/'s node_modules, fake homeserver and helpers). Needs Node >= 20, npm.
# Every run makes new keys, so every file changes.
set -euo pipefail
cd "$(dirname "$0")"
../dehydrated/install.sh
out=../../bundle
mkdir -p "$out"
find "$out" -mindepth 1 -maxdepth 1 -type f -not -name README.md -delete
echo "== matrix-sdk-crypto-wasm: Bob's room key bundle, Alice's import, the proof"
node gen.mjs "$out"
