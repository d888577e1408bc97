#!/usr/bin/env bash
# Regenerates test-vectors/attachment/ with the third-party peers, then cross-checks every
# vector with the reference reader and all five peers (table in .build/crosscheck.md).
# Installs into test-vectors/gen/attachment/node_modules and .venv (both gitignored).
# Needs Node >= 20 (WebCrypto), npm, Python >= 3.9 with venv.
#   test-vectors/gen/attachment/run.sh           regenerate + check
#   test-vectors/gen/attachment/run.sh --check   only check the committed vectors
set -euo pipefail
cd "$(dirname "$0")"
./install.sh
case "${1:-}" in
  "") .venv/bin/python gen_attachment.py ;;
  --check) ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
.venv/bin/python gen_attachment.py --check
