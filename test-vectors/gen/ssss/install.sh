#!/usr/bin/env bash
# Installs the pinned peers into test-vectors/gen/ssss/node_modules and .venv (both gitignored).
# Used by run.sh and ../../interop/ssss.sh; a no-op when already installed.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ requirements.txt -nt .venv/.installed ]; then
  # python-olm only as a binary wheel (its sdist needs cmake and libolm's C sources)
  .venv/bin/pip install --quiet --disable-pip-version-check --only-binary=python-olm -r requirements.txt
  touch .venv/.installed
fi
