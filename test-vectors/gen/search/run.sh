#!/usr/bin/env bash
# Regenerates test-vectors/search/ (installs the export and ssss peers first).
set -euo pipefail
cd "$(dirname "$0")"
bash ../install.sh
bash ../ssss/install.sh
node make.mjs
