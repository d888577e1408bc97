#!/usr/bin/env bash
# Interop check between the mxkeys binary and five other implementations of Matrix encrypted
# attachments, in both directions, on fresh random data of 0 B, 1 B, 17 B, 1 MiB and 50 MiB:
#   (a) `mxkeys attachment encrypt IN -o OUT.bin --info-out INFO.json`; the info is checked
#       against what the spec asks a sender to write, then every peer decrypts OUT.bin with it;
#   (b) every peer encrypts IN, `mxkeys attachment decrypt IN.bin --info INFO.json -o OUT`
#       (INFO as the peer's EncryptedFile; and once per peer wrapped in a whole m.room.message
#       event).
# Every result is compared byte for byte with the input.
#
# Peers (pinned in test-vectors/gen/attachment/package-lock.json and requirements.txt):
#   mea-node       matrix-encrypt-attachment, Node `crypto` code path
#   mea-webcrypto  matrix-encrypt-attachment, WebCrypto code path (the browser's)
#   wasm           @matrix-org/matrix-sdk-crypto-wasm Attachment
#   nio            matrix-nio nio.crypto.attachments
#   mautrix        mautrix mautrix.crypto.attachments
#
# Usage: test-vectors/interop/attachment.sh
#   MXKEYS_BIN=path/to/mxkeys   use this binary instead of `cargo build --release`
#   KEEP_WORK=1                 keep the scratch files (about 0.9 GB with the 50 MiB case)
#
# Installs the peers into test-vectors/gen/attachment/node_modules and .venv (gitignored);
# scratch files go to test-vectors/interop/attachment/.work (gitignored, emptied on each run).
# Prints one PASS/FAIL line per check and ends with "N passed, M failed"; exits 1 on a failure.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
GEN="$ROOT/test-vectors/gen/attachment"
HELP="$HERE/attachment"
WORK="$HELP/.work"

echo "== installing peers"
bash "$GEN/install.sh"
PY="$GEN/.venv/bin/python"

if [ -z "${MXKEYS_BIN:-}" ]; then
  echo "== cargo build --release"
  (cd "$ROOT" && cargo build --release --quiet)
  MXKEYS_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/mxkeys"
fi
if [ ! -x "$MXKEYS_BIN" ]; then
  echo "mxkeys binary not found at $MXKEYS_BIN" >&2
  exit 2
fi
echo "== using $MXKEYS_BIN"
node "$GEN/peers.mjs" versions
"$PY" "$GEN/peers.py" versions

rm -rf "$WORK"
mkdir -p "$WORK"
if [ -z "${KEEP_WORK:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi

PEERS=(mea-node mea-webcrypto wasm nio mautrix)
passed=0
failed=0
n=0

pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1"
  if [ -s "$2" ]; then sed 's/^/     | /' "$2" | tail -n 8; fi
}

peer_run() { # op peer args...
  local op="$1" peer="$2"
  shift 2
  case "$peer" in
    mea-node | mea-webcrypto | wasm) node "$GEN/peers.mjs" "$op" "$peer" "$@" ;;
    nio | mautrix) "$PY" "$GEN/peers.py" "$op" "$peer" "$@" ;;
    *) echo "unknown peer $peer" >&2; return 2 ;;
  esac
}

make_input() { # size out
  head -c "$1" /dev/urandom >"$2"
}

# (a) mxkeys encrypts once per size; the info is checked, then each peer decrypts.
run_a() { # label size
  local label="$1" size="$2"
  local d="$WORK/a-$label"
  mkdir -p "$d"
  make_input "$size" "$d/in"
  n=$((n + 1))
  local name="mxkeys encrypts $label, info is a spec EncryptedFile"
  if ! "$MXKEYS_BIN" attachment encrypt "$d/in" -o "$d/mxkeys.bin" --info-out "$d/info.json" >"$d/log" 2>&1; then
    fail "$name: mxkeys attachment encrypt failed" "$d/log"
    for peer in "${PEERS[@]}"; do
      n=$((n + 1))
      fail "$peer decrypts mxkeys output ($label): nothing to decrypt" /dev/null
    done
    rm -rf "$d"
    return
  fi
  if python3 "$HELP/check_info.py" "$d/info.json" "$d/mxkeys.bin" >>"$d/log" 2>&1; then
    pass "$name"
  else
    fail "$name" "$d/log"
  fi
  for peer in "${PEERS[@]}"; do
    n=$((n + 1))
    name="$peer decrypts mxkeys output ($label)"
    if ! peer_run decrypt "$peer" "$d/mxkeys.bin" "$d/info.json" "$d/$peer.out" >"$d/$peer.log" 2>&1; then
      fail "$name" "$d/$peer.log"
    elif ! cmp -s "$d/in" "$d/$peer.out"; then
      fail "$name: plaintext differs" /dev/null
    else
      pass "$name"
    fi
    rm -f "$d/$peer.out"
  done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$d"
}

# (b) each peer encrypts, mxkeys decrypts (as an EncryptedFile, or as a whole event).
run_b() { # label size [event]
  local label="$1" size="$2" as_event="${3:-}"
  local d="$WORK/b-$label${as_event:+-event}"
  mkdir -p "$d"
  make_input "$size" "$d/in"
  for peer in "${PEERS[@]}"; do
    n=$((n + 1))
    local name="mxkeys decrypts $peer output ($label${as_event:+, info as a whole event})"
    local info="$d/$peer.json"
    if ! peer_run encrypt "$peer" "$d/in" "$d/$peer.bin" "$d/$peer.json" >"$d/$peer.log" 2>&1; then
      fail "$name: $peer encrypt failed" "$d/$peer.log"
      continue
    fi
    if [ -n "$as_event" ]; then
      info="$d/$peer.event.json"
      python3 "$HELP/wrap_event.py" "$d/$peer.json" "$info" "$peer-$label" >>"$d/$peer.log" 2>&1
    fi
    if ! "$MXKEYS_BIN" attachment decrypt "$d/$peer.bin" --info "$info" -o "$d/$peer.out" >>"$d/$peer.log" 2>&1; then
      fail "$name" "$d/$peer.log"
    elif ! cmp -s "$d/in" "$d/$peer.out"; then
      fail "$name: plaintext differs" /dev/null
    else
      pass "$name"
    fi
    rm -f "$d/$peer.out" "$d/$peer.bin"
  done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$d"
}

SIZES=("0B:0" "1B:1" "17B:17" "1MiB:1048576" "50MiB:52428800")

echo "== (a) mxkeys encrypts, peers decrypt"
for s in "${SIZES[@]}"; do run_a "${s%%:*}" "${s#*:}"; done

echo "== (b) peers encrypt, mxkeys decrypts"
for s in "${SIZES[@]}"; do run_b "${s%%:*}" "${s#*:}"; done
run_b "17B" 17 event
run_b "1MiB" 1048576 event

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
