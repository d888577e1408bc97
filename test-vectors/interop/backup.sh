#!/usr/bin/env bash
# Recovery keys and server-side key backups between mxkeys and other implementations:
# matrix-js-sdk (recovery-key codec), @matrix-org/matrix-sdk-crypto-wasm (BackupDecryptionKey,
# a real OlmMachine), python-olm (libolm PkDecryption), vodozemac (Python binding), mautrix-python.
#
#   test-vectors/interop/backup.sh                         builds mxkeys (cargo build --release)
#   MXKEYS_BIN=/path/to/mxkeys test-vectors/interop/backup.sh
#   MXKEYS_BIN=test-vectors/interop/backup/stand_in_mxkeys.sh test-vectors/interop/backup.sh
#                                                          (the reference behind the same CLI: tests the peer halves)
#
# Peers are installed by test-vectors/gen/backup/install.sh into test-vectors/gen/backup/node_modules
# and .venv (gitignored); scratch files go to test-vectors/interop/.work/backup. One line per check
# ("PASS ..." / "FAIL ..."), then "N passed, M failed"; the exit status is non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
GEN="$ROOT/test-vectors/gen/backup"
HELP="$ROOT/test-vectors/interop/backup"
WORK="$ROOT/test-vectors/interop/.work/backup"
SESSION_FILES=("$ROOT/test-vectors/export/sessions-basic.json" "$ROOT/test-vectors/export/sessions-extra.json")

pass=0
fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
# why LOG: the last lines of a log, indented, after a FAIL line
why() { if [ -s "$1" ]; then tail -n 5 "$1" | sed 's/^/    /'; fi; }

"$GEN/install.sh" >&2
PY="$GEN/.venv/bin/python"
peer_js() { node "$HELP/peer.mjs" "$@"; }
peer_py() { "$PY" "$HELP/peer.py" "$@"; }
field() { "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }

if [ -z "${MXKEYS_BIN:-}" ]; then
  if ! (cd "$ROOT" && cargo build --release --quiet) >&2; then
    ko "cargo build --release"
    finish
    exit 1
  fi
  MXKEYS_BIN="$ROOT/target/release/mxkeys"
fi
case "$MXKEYS_BIN" in /*) ;; *) MXKEYS_BIN="$PWD/$MXKEYS_BIN" ;; esac

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

# ---------------------------------------------------------------- (a) mxkeys generates a key
if "$MXKEYS_BIN" recovery-key generate --json >gen.json 2>gen.err; then
  KEY="$(field gen.json recovery_key)"
  PUB="$(field gen.json public_key)"
  if [[ "$KEY" =~ ^([1-9A-HJ-NP-Za-km-z]{4}\ ){11}[1-9A-HJ-NP-Za-km-z]{4}$ ]]; then
    ok "(a) mxkeys recovery-key generate: 48 base58 characters in 12 groups of 4, as js-sdk and mautrix write them"
  else
    ko "(a) mxkeys recovery-key generate: layout $(printf %q "$KEY") (js-sdk/mautrix write 12 groups of 4)"
  fi
  if peer_js decode "$KEY" >a-js.json 2>a-js.err && [ "$(field a-js.json public_key)" = "$PUB" ] && [ -n "$PUB" ]; then
    ok "(a) mxkeys recovery-key generate: matrix-js-sdk decodes it, matrix-sdk-crypto-wasm derives the same public key"
  else
    ko "(a) mxkeys recovery-key generate: js-sdk/wasm: $(cat a-js.json 2>/dev/null) vs public_key $PUB"
    why a-js.err
  fi
  if peer_py public "$KEY" >a-py.json 2>a-py.err \
    && [ "$(field a-py.json olm)" = "$PUB" ] && [ "$(field a-py.json vodozemac)" = "$PUB" ] \
    && [ "$(field a-py.json mautrix_decodes)" = "True" ] && [ "$(field a-py.json mautrix_same_bytes)" = "True" ]; then
    ok "(a) mxkeys recovery-key generate: mautrix decodes it, python-olm and vodozemac derive the same public key"
  else
    ko "(a) mxkeys recovery-key generate: python peers: $(cat a-py.json 2>/dev/null) vs public_key $PUB"
    why a-py.err
  fi
else
  ko "(a) mxkeys recovery-key generate --json failed"
  why gen.err
fi

# ---------------------------------------------------- (b) peer-made keys, checked by mxkeys
peer_js make-keys keys-js.json
peer_py make-keys keys-py.json
"$PY" -c '
import json, sys
for f in sys.argv[1:]:
    for k in json.load(open(f)):
        print("\t".join((k["recovery_key"], k["public_key"], k["made_by"])))' keys-js.json keys-py.json >keys.tsv
i=0
while IFS=$'\t' read -r KEY PUB MADE_BY; do
  i=$((i + 1))
  if MXKEYS_RECOVERY_KEY="$KEY" "$MXKEYS_BIN" recovery-key check --json >"b$i.json" 2>"b$i.err" \
    && [ "$(field "b$i.json" public_key)" = "$PUB" ]; then
    ok "(b) mxkeys recovery-key check: key by $MADE_BY -> the peer's public key"
  else
    ko "(b) mxkeys recovery-key check: key by $MADE_BY: $(cat "b$i.json" 2>/dev/null) (want $PUB)"
    why "b$i.err"
  fi
done <keys.tsv

# ------------------------------------------------- (c) mxkeys encrypts, the peers decrypt
# A wasm-made key (the second of keys-js.json).
KEY="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[1]["recovery_key"])' keys-js.json)"
PUB="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[1]["public_key"])' keys-js.json)"
for S in "${SESSION_FILES[@]}"; do
  name="$(basename "$S" .json)"
  if ! "$MXKEYS_BIN" backup encrypt "$S" --public-key "$PUB" -o "c-$name.json" >"c-$name.log" 2>&1; then
    ko "(c) mxkeys backup encrypt $name.json failed"
    why "c-$name.log"
    continue
  fi
  if peer_py shape "c-$name.json" "$S" 2>"c-$name-shape.err"; then
    ok "(c) mxkeys backup encrypt $name.json: PUT /room_keys/keys body with KeyBackupData for every session"
  else
    ko "(c) mxkeys backup encrypt $name.json: body shape"
    why "c-$name-shape.err"
  fi
  for P in python-olm vodozemac wasm; do
    if [ "$P" = wasm ]; then
      peer_js decrypt "c-$name.json" "$KEY" "c-$name-$P.json" 2>"c-$name-$P.err" || true
    else
      peer_py decrypt "$P" "c-$name.json" "$KEY" "c-$name-$P.json" 2>"c-$name-$P.err" || true
    fi
    if [ -s "c-$name-$P.err" ]; then
      ko "(c) $P cannot decrypt mxkeys backup encrypt $name.json"
      why "c-$name-$P.err"
    elif peer_py compare "c-$name-$P.json" "$S" 2>"c-$name-$P.cmp"; then
      ok "(c) $P decrypts mxkeys backup encrypt $name.json: every plaintext equals the input session"
    else
      ko "(c) $P decrypts mxkeys backup encrypt $name.json, but the plaintexts differ"
      why "c-$name-$P.cmp"
    fi
  done
done

# ------------------------------------------- (d) a fresh OlmMachine backup, decrypted by mxkeys
if peer_js machine machine 2>d-machine.err; then
  if MXKEYS_RECOVERY_KEY="$(cat machine/key.txt)" "$MXKEYS_BIN" backup decrypt machine/keys.json -o d-out.json >d.log 2>&1; then
    if peer_py compare d-out.json machine/expected.json 2>d.cmp; then
      ok "(d) mxkeys backup decrypt: a fresh matrix-sdk-crypto-wasm OlmMachine backup gives its $("$PY" -c 'import json,sys; print(sum(len(v) for v in json.load(open(sys.argv[1])).values()))' machine/expected.json) sessions"
    else
      ko "(d) mxkeys backup decrypt: sessions differ from the OlmMachine's"
      why d.cmp
    fi
  else
    ko "(d) mxkeys backup decrypt of a fresh OlmMachine backup failed"
    why d.log
  fi
else
  ko "(d) could not make an OlmMachine backup"
  why d-machine.err
fi

finish
