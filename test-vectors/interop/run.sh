#!/usr/bin/env bash
# Interop check between the mxkeys binary and three other implementations of the Matrix
# room-key export format, in both directions:
#   (a) mxkeys encrypts, Element Web / matrix-sdk-crypto-wasm / matrix-nio decrypt;
#   (b) each peer encrypts a fresh file (random salt and IV), mxkeys decrypts.
# Every result is compared with the input JSON (same sessions, same values).
#
# Usage: test-vectors/interop/run.sh
#   MXKEYS_BIN=path/to/mxkeys   use this binary instead of `cargo build --release`
#
# Installs the peers pinned in test-vectors/gen/ (package-lock.json, requirements.txt) into
# test-vectors/gen/node_modules and test-vectors/gen/.venv, both gitignored; scratch files go
# to test-vectors/interop/.work (gitignored, emptied on each run). Prints one PASS/FAIL/SKIP
# line per check and ends with "N passed, M failed"; exits 1 when anything failed.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
GEN="$ROOT/test-vectors/gen"
VECTORS="$ROOT/test-vectors/export"
WORK="$HERE/.work"

echo "== installing peers"
bash "$GEN/install.sh"
NODE=(node)
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

rm -rf "$WORK"
mkdir -p "$WORK"

ASCII_PASS="interop check: correct horse battery staple"
UNICODE_PASS="pässwörd 🔑 日本語"
CAFE_PASS="café"

passed=0
failed=0
n=0

pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1"
  if [ -s "$2" ]; then sed 's/^/     | /' "$2" | tail -n 8; fi
}
skip() { echo "SKIP $*"; }

# The peers, by the name printed in PASS lines.
peer_decrypt() { # peer passphrase in out
  case "$1" in
    element-web) PEER_PASSPHRASE="$2" "${NODE[@]}" "$HERE/peer.mjs" element decrypt "$3" "$4" ;;
    matrix-sdk-crypto-wasm) PEER_PASSPHRASE="$2" "${NODE[@]}" "$HERE/peer.mjs" wasm decrypt "$3" "$4" ;;
    matrix-nio) PEER_PASSPHRASE="$2" "$PY" "$HERE/nio_peer.py" decrypt "$3" "$4" ;;
  esac
}
peer_encrypt() { # peer passphrase in out rounds ("" = the peer's default)
  case "$1" in
    element-web) PEER_PASSPHRASE="$2" "${NODE[@]}" "$HERE/peer.mjs" element encrypt "$3" "$4" $5 ;;
    matrix-sdk-crypto-wasm) PEER_PASSPHRASE="$2" "${NODE[@]}" "$HERE/peer.mjs" wasm encrypt "$3" "$4" "${5:-100000}" ;;
    matrix-nio) PEER_PASSPHRASE="$2" "$PY" "$HERE/nio_peer.py" encrypt "$3" "$4" "${5:-10000}" ;;
  esac
}
same() { "$PY" "$HERE/same_sessions.py" "$1" "$2"; }

# (a) mxkeys writes, the peer reads.
check_a() { # peer label passphrase plaintext
  local peer="$1" label="$2" pw="$3" plain="$4"
  n=$((n + 1))
  local d="$WORK/a$n" name="$peer decrypts mxkeys output ($label)"
  mkdir -p "$d"
  if ! MXKEYS_PASSPHRASE="$pw" "$MXKEYS_BIN" export encrypt "$plain" -o "$d/mxkeys.txt" --rounds 1000 >"$d/log" 2>&1; then
    fail "$name: mxkeys export encrypt failed" "$d/log"
  elif ! peer_decrypt "$peer" "$pw" "$d/mxkeys.txt" "$d/peer.json" >>"$d/log" 2>&1; then
    fail "$name" "$d/log"
  elif ! same "$plain" "$d/peer.json" >>"$d/log" 2>&1; then
    fail "$name: plaintext differs" "$d/log"
  else
    pass "$name"
  fi
}

# (b) the peer writes a fresh file, mxkeys reads.
check_b() { # peer label passphrase plaintext rounds
  local peer="$1" label="$2" pw="$3" plain="$4" rounds="$5"
  n=$((n + 1))
  local d="$WORK/b$n" name="mxkeys decrypts $peer output ($label)"
  mkdir -p "$d"
  if ! peer_encrypt "$peer" "$pw" "$plain" "$d/peer.txt" "$rounds" >"$d/log" 2>&1; then
    fail "$name: $peer encrypt failed" "$d/log"
  elif ! MXKEYS_PASSPHRASE="$pw" "$MXKEYS_BIN" export decrypt "$d/peer.txt" -o "$d/mxkeys.json" >>"$d/log" 2>&1; then
    fail "$name" "$d/log"
  elif ! same "$plain" "$d/mxkeys.json" >>"$d/log" 2>&1; then
    fail "$name: plaintext differs" "$d/log"
  else
    pass "$name"
  fi
}

BASIC="$VECTORS/sessions-basic.json"  # real sessions from a wasm OlmMachine
EXTRA="$VECTORS/sessions-extra.json"  # the same plus unknown fields, pretty-printed

echo "== (a) mxkeys encrypts, peers decrypt"
for peer in element-web matrix-sdk-crypto-wasm matrix-nio; do
  check_a "$peer" "ascii passphrase" "$ASCII_PASS" "$BASIC"
done
check_a element-web "unicode passphrase" "$UNICODE_PASS" "$BASIC"
check_a matrix-sdk-crypto-wasm "unicode passphrase" "$UNICODE_PASS" "$BASIC"
skip "matrix-nio decrypts mxkeys output (unicode passphrase): nio can only encode Latin-1 passphrases"
check_a element-web "unknown fields kept" "$ASCII_PASS" "$EXTRA"
check_a matrix-nio "unknown fields kept" "$ASCII_PASS" "$EXTRA"
skip "matrix-sdk-crypto-wasm decrypts mxkeys output (unknown fields kept): wasm drops unknown fields by design"

echo "== (b) peers encrypt, mxkeys decrypts"
for peer in element-web matrix-sdk-crypto-wasm matrix-nio; do
  check_b "$peer" "ascii passphrase, 1000 rounds" "$ASCII_PASS" "$BASIC" 1000
done
check_b element-web "unicode passphrase, 1000 rounds" "$UNICODE_PASS" "$BASIC" 1000
check_b matrix-sdk-crypto-wasm "unicode passphrase, 1000 rounds" "$UNICODE_PASS" "$BASIC" 1000
skip "mxkeys decrypts matrix-nio output (unicode passphrase): nio can only encode Latin-1 passphrases"
check_b matrix-nio "Latin-1 'café' passphrase bug, 1000 rounds" "$CAFE_PASS" "$BASIC" 1000
check_b element-web "unknown fields kept, 1000 rounds" "$ASCII_PASS" "$EXTRA" 1000
check_b matrix-nio "unknown fields kept, 1000 rounds" "$ASCII_PASS" "$EXTRA" 1000
check_b element-web "its default rounds, 500000" "$ASCII_PASS" "$BASIC" ""
check_b matrix-sdk-crypto-wasm "100000 rounds" "$ASCII_PASS" "$BASIC" 100000
check_b matrix-nio "its client default, 10000 rounds" "$ASCII_PASS" "$BASIC" 10000

echo "== (c) mxkeys export normalize: files the picky readers refuse become files they read"
MIXED="$VECTORS/armor-mixed.txt"  # a nio file with CRLF, indentation and text around the armor
MIXED_PASS="correct horse battery staple"
for peer in matrix-sdk-crypto-wasm matrix-nio; do
  n=$((n + 1)); d="$WORK/c$n"; mkdir -p "$d"
  if peer_decrypt "$peer" "$MIXED_PASS" "$MIXED" "$d/orig.json" >"$d/log" 2>&1; then
    fail "$peer refuses armor-mixed.txt as it is (it read it: the normalize check below proves nothing)" "$d/log"
  else
    pass "$peer refuses armor-mixed.txt as it is"
  fi
done
for peer in element-web matrix-sdk-crypto-wasm matrix-nio; do
  n=$((n + 1)); d="$WORK/c$n"; mkdir -p "$d"
  name="$peer decrypts mxkeys export normalize output of armor-mixed.txt"
  if ! MXKEYS_PASSPHRASE="$MIXED_PASS" "$MXKEYS_BIN" export normalize "$MIXED" -o "$d/n.txt" >"$d/log" 2>&1; then
    fail "$name: normalize failed" "$d/log"
  elif ! peer_decrypt "$peer" "$MIXED_PASS" "$d/n.txt" "$d/peer.json" >>"$d/log" 2>&1; then
    fail "$name" "$d/log"
  elif ! same "$BASIC" "$d/peer.json" >>"$d/log" 2>&1; then
    fail "$name: plaintext differs" "$d/log"
  else
    pass "$name"
  fi
done
# Signed 0x02 session keys: matrix-rust-sdk refuses the whole file; normalize converts them.
SIGNED="$ROOT/test-vectors/megolm/valid-signed.json"
n=$((n + 1)); d="$WORK/c$n"; mkdir -p "$d"
name="matrix-sdk-crypto-wasm reads normalize output of an export with signed 0x02 keys"
if ! MXKEYS_PASSPHRASE="$ASCII_PASS" "$MXKEYS_BIN" export encrypt "$SIGNED" -o "$d/signed.txt" --rounds 1000 >"$d/log" 2>&1 ||
   ! MXKEYS_PASSPHRASE="$ASCII_PASS" "$MXKEYS_BIN" export normalize "$d/signed.txt" -o "$d/n.txt" >>"$d/log" 2>&1; then
  fail "$name: mxkeys failed" "$d/log"
elif peer_decrypt matrix-sdk-crypto-wasm "$ASCII_PASS" "$d/signed.txt" "$d/orig.json" >>"$d/log" 2>&1; then
  fail "$name: wasm read the 0x02 original, so this proves nothing" "$d/log"
elif ! peer_decrypt matrix-sdk-crypto-wasm "$ASCII_PASS" "$d/n.txt" "$d/peer.json" >>"$d/log" 2>&1; then
  fail "$name" "$d/log"
else
  pass "$name"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
