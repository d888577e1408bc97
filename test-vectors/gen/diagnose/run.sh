#!/usr/bin/env bash
# Regenerates test-vectors/diagnose/ (events.json, keys.json, to-device.json, keys-query.json,
# manifest.json; README.md is kept) with @matrix-org/matrix-sdk-crypto-wasm, pinned in
# ../dehydrated/package-lock.json (this generator shares ../dehydrated/'s node_modules, fake
# homeserver and helpers), then checks the files against the rules of src/explain.rs (check.mjs).
# Needs Node >= 20, npm. Every run makes new keys, so every file but the room state events changes.
set -euo pipefail
cd "$(dirname "$0")"
../dehydrated/install.sh
out=../../diagnose
mkdir -p "$out"
find "$out" -mindepth 1 -maxdepth 1 -type f -not -name README.md -delete
echo "== matrix-sdk-crypto-wasm: withheld notices, an unsigned sender device, history before a join"
node gen.mjs "$out"
node check.mjs "$out"
