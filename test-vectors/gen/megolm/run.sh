#!/usr/bin/env bash
# Regenerates test-vectors/megolm/ and test-vectors/events/ with the
# third-party peers, then re-checks every manifest verdict. See ../../megolm/README.md and ../../events/README.md.
#   ./run.sh            everything
#   ./run.sh megolm     only test-vectors/megolm
#   ./run.sh events     only test-vectors/events
set -euo pipefail
cd "$(dirname "$0")"
./install.sh
what="${1:-all}"
mkdir -p .build
echo "== wasm OlmMachine: real sessions + encrypted events -> .build/wasm-make.json"
node gen_wasm.mjs make
if [ "$what" = all ] || [ "$what" = megolm ]; then
  echo "== megolm: session files + manifest"
  .venv/bin/python gen_megolm.py
  echo "== megolm: reference + vodozemac + python-olm + wasm import"
  .venv/bin/python gen_megolm.py --check
fi
if { [ "$what" = all ] || [ "$what" = events ]; }; then
  echo "== events: encrypted events, key files + manifest"
  .venv/bin/python gen_events.py
  echo "== events: reference decryptor + vodozemac + python-olm + wasm decryptRoomEvent"
  .venv/bin/python gen_events.py --check
fi
