#!/usr/bin/env bash
# Regenerates test-vectors/identity/ (all vectors + manifest.json; README.md is kept) with the peers:
# @matrix-org/matrix-sdk-crypto-wasm (OlmMachines on an in-memory homeserver), another-json,
# canonicaljson, matrix-nio, python-olm; npm qrcode (Element Web's QR encoder) and Pillow for the
# QR pictures; matrix-js-sdk (from ../ssss, installed by its install.sh) for stored cross-signing
# keys. Installs into test-vectors/gen/identity/node_modules and .venv (gitignored). Needs Node >= 20, npm, Python >= 3.10 with venv. Every run makes new keys, so
# almost every file changes (canonical JSON, spec-built QR payloads and the libolm SAS vectors do not).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
if [ ! -f .venv/.installed ] || [ requirements.txt -nt .venv/.installed ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check --only-binary=python-olm -r requirements.txt
  touch .venv/.installed
fi
out=../../identity
mkdir -p .build "$out"
rm -f .build/*.json
rm -rf "$out/keys-query" "$out/qr" "$out/sas" "$out/manifest.json"
echo "== matrix-sdk-crypto-wasm: cross-signing, verifications, QR codes, canonical JSON probes"
node gen_wasm.mjs .build/wasm.json
echo "== vectors (keys/query, QR, SAS)"
.venv/bin/python gen_identity.py vectors .build/wasm.json "$out"
echo "== wasm QR parser on every QR vector"
node check_qr.mjs .build/qr-list.json "$out" .build/qr-wasm.json
echo "== reference checks against the peers, manifest"
.venv/bin/python gen_identity.py manifest .build/wasm.json "$out" .build/qr-wasm.json
echo "== QR pictures: Element Web's encoder (npm qrcode), matrix-sdk-crypto-wasm's renderer, Pillow"
node gen_qr_images.mjs "$out" .build/qr-images.json
.venv/bin/python gen_qr_images.py .build/qr-images.json "$out"
echo "== stored cross-signing keys: wasm identities, matrix-js-sdk secret storage"
../ssss/install.sh
node gen_stored_keys.mjs "$out"
