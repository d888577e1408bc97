#!/usr/bin/env bash
# Installs the pinned peers into test-vectors/gen/account/node_modules and .venv (both gitignored).
# Used by run.sh; a no-op when already installed.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # --ignore-scripts: matrix-js-sdk's library files and the wasm package are used as shipped.
  # matrix-js-sdk 43 declares node >= 22; the modules used here run on Node 20 (EBADENGINE warning only).
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
if [ ! -f .venv/.installed ] || [ requirements.txt -nt .venv/.installed ]; then
  # python-olm only as a binary wheel (its sdist needs cmake and libolm's C sources)
  .venv/bin/pip install --quiet --disable-pip-version-check --only-binary=python-olm -r requirements.txt
  touch .venv/.installed
fi
