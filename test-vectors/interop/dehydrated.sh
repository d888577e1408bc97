#!/usr/bin/env bash
# Interop check of `mxkeys dehydrated-device decrypt` and `mxkeys bundle decrypt` (#26): the
# sessions mxkeys takes out of peer-made inputs must let matrix-sdk-crypto-wasm 18.9.0 decrypt
# the scenario's room events (dehydrated.mjs: importExportedRoomKeys into a fresh OlmMachine,
# then decryptRoomEvent on every event). Inputs are the committed vectors:
#   test-vectors/dehydrated   a v2 device made by wasm, its event pages, its bundle; a v1 (libolm)
#                             device; a page whose second pre-key message replays a one-time key
#   test-vectors/bundle       an MSC4268 bundle made by wasm (buildRoomKeyBundle)
# Controls that must fail: the room event whose key only the replayed pre-key message carried,
# the bundle's withheld session, and the v1 event whose key came in an undecryptable message.
#
# Usage: test-vectors/interop/dehydrated.sh   (MXKEYS_BIN=path to use a built binary)
# Prints PASS/FAIL per check and "N passed, M failed"; exits 1 on a failure. About 10 s.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
V="$ROOT/test-vectors/dehydrated"
B="$ROOT/test-vectors/bundle"
echo "== installing peers"
bash "$ROOT/test-vectors/gen/dehydrated/install.sh" >/dev/null
if [ -z "${MXKEYS_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  MXKEYS_BIN="$ROOT/target/release/mxkeys"
fi
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
passed=0 failed=0
check() { # NAME EXPECT(pass|fail) COMMAND...
  local name=$1 want=$2; shift 2
  if "$@" >"$W/log" 2>&1; then got=pass; else got=fail; fi
  if [ "$got" = "$want" ]; then echo "PASS $name"; passed=$((passed + 1))
  else echo "FAIL $name (wanted the peer to $want)"; sed 's/^/    /' "$W/log" | tail -5; failed=$((failed + 1)); fi
}
dd() { "$MXKEYS_BIN" dehydrated-device decrypt --plaintext --allow-partial --force "$@" >/dev/null 2>&1; }

dd --device "$V/device.json" --events "$V/events-page1.json" "$V/events-page2.json" "$V/events-page3.json" \
   --pickle-key-file "$V/pickle-key.txt" --bundle-dir "$V/bundles" -o "$W/v2.json"
check "wasm decrypts the v2 device's room events with mxkeys' sessions" pass node "$HERE/dehydrated.mjs" "$W/v2.json" "$V/room-events.json"
MXKEYS_RECOVERY_KEY="$(cat "$V/security-key.txt")" dd --device "$V/device.json" --events "$V/events-page2.json" "$V/events-page1.json" \
   --account-data "$V/account-data.json" -o "$W/ad.json"
check "the same through secret storage and the Security Key" pass node "$HERE/dehydrated.mjs" "$W/ad.json" "$V/room-events.json"
dd --device "$V/device-v1.json" --events "$V/events-v1.json" --pickle-key-file "$V/pickle-key-v1.txt" -o "$W/v1.json"
check "wasm decrypts the v1 (libolm) device's room event" pass node "$HERE/dehydrated.mjs" "$W/v1.json" "$V/room-events-v1.json"
check "control: the v1 event whose key came in an undecryptable message stays undecryptable" fail node "$HERE/dehydrated.mjs" "$W/v1.json" "$V/room-events-v1-undecryptable.json"
dd --device "$V/device.json" --events "$V/events-otk-replay.json" --pickle-key-file "$V/pickle-key.txt" -o "$W/otk.json"
check "control: the room event of the replayed one-time key stays undecryptable" fail node "$HERE/dehydrated.mjs" "$W/otk.json" "$V/room-events-otk-replay.json"

"$MXKEYS_BIN" bundle decrypt "$B/bundle.bin" --info "$B/info.json" --plaintext -o "$W/bundle.json" --force >/dev/null 2>&1
check "wasm decrypts the bundle's room events with mxkeys' sessions" pass node "$HERE/bundle.mjs" "$W/bundle.json" "$B/room-events.json"
check "control: the withheld session's event stays undecryptable" fail node "$HERE/bundle.mjs" "$W/bundle.json" "$B/room-events-not-in-bundle.json"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
