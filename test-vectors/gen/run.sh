#!/usr/bin/env bash
# Regenerates test-vectors/export/ with the third-party peers.
#   test-vectors/gen/run.sh                    reuse sessions-basic.json if present
#   test-vectors/gen/run.sh --fresh-sessions   make new megolm sessions too
#   test-vectors/gen/run.sh account            test-vectors/account/ instead (account/run.sh:
#                                              matrix-js-sdk + matrix-sdk-crypto-wasm account states)
#   test-vectors/gen/run.sh dehydrated         test-vectors/dehydrated/ instead (dehydrated/run.sh:
#                                              MSC3814 dehydrated device, matrix-sdk-crypto-wasm)
#   test-vectors/gen/run.sh bundle             test-vectors/bundle/ instead (bundle/run.sh: MSC4268
#                                              room key bundles, matrix-sdk-crypto-wasm)
#   test-vectors/gen/run.sh diagnose           test-vectors/diagnose/ instead (diagnose/run.sh: why
#                                              events cannot be read, matrix-sdk-crypto-wasm)
# Installs into test-vectors/gen/node_modules and test-vectors/gen/.venv (both gitignored).
# Needs Node >= 20 (WebCrypto), npm, Python >= 3.9 with venv.
set -euo pipefail
cd "$(dirname "$0")"

fresh=()
for a in "$@"; do
  case "$a" in
    --fresh-sessions) fresh=(--fresh-sessions) ;;
    account) exec ./account/run.sh ;;
    dehydrated) exec ./dehydrated/run.sh ;;
    bundle) exec ./bundle/run.sh ;;
    diagnose) exec ./diagnose/run.sh ;;
    *) echo "usage: $0 [--fresh-sessions | account | dehydrated | bundle | diagnose]" >&2; exit 2 ;;
  esac
done

./install.sh

mkdir -p .build
# Export files are re-made from scratch (plaintexts kept unless --fresh-sessions).
find ../export -maxdepth 1 -name '*.txt' -delete
rm -f ../export/manifest.json ../export/sessions-extra-wasm.json .build/*.json
if [ ${#fresh[@]} -gt 0 ]; then rm -f ../export/sessions-basic.json ../export/sessions-extra.json; fi

echo "== Element Web + matrix-sdk-crypto-wasm vectors"
node gen_export.mjs "${fresh[@]}"
echo "== matrix-nio vectors, armor variants, malformed files, manifest"
.venv/bin/python gen_export.py
.venv/bin/python nio_layout.py
echo "== cross-check: Element Web + wasm"
node gen_export.mjs --check
echo "== cross-check: matrix-nio + reference reader"
.venv/bin/python gen_export.py --check
