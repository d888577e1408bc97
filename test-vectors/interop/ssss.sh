#!/usr/bin/env bash
# Interop check between the mxkeys binary and other implementations of Matrix secret storage
# (m.secret_storage.v1.aes-hmac-sha2), in both directions, on fresh keys and account data:
#   (a) a peer sets up secret storage (Security Key, Security Phrase, two keys, old key description
#       without iv/mac) holding fresh cross-signing seeds and a backup key; then
#       `MXKEYS_RECOVERY_KEY=K mxkeys ssss decrypt ACCOUNT.json --json` (or MXKEYS_PASSPHRASE=P;
#       `--key-id ID` for a non-default key) must print {name: {"secret": plaintext, ...}} for all
#       four secrets; the same with the account data as a /sync events list; and a wrong Security
#       Key must make mxkeys exit non-zero with a message on stderr and no secret printed;
#   (b) `MXKEYS_RECOVERY_KEY=K mxkeys ssss encrypt ACCOUNT.json --secret NAME --value-file F -o OUT.json`
#       on peer-made account data: OUT.json is checked (NAME under the default key, 16-byte iv with
#       bit 63 clear, 32-byte mac, everything else unchanged), then every peer decrypts every
#       secret in OUT.json: NAME must give F's content, the others their old values.
#
# Peers (pinned in test-vectors/gen/ssss/package-lock.json and requirements.txt):
#   jssdk     matrix-js-sdk ServerSideSecretStorageImpl (the secrets come from matrix-sdk-crypto-wasm)
#   mautrix   mautrix-python mautrix.crypto.ssss
#   jssdk6    matrix-js-sdk 6.0.0 (writer only: key descriptions without iv/mac). mautrix cannot
#             read those (it crashes on the missing mac), so only jssdk reads mxkeys' output there.
#
# Usage: test-vectors/interop/ssss.sh
#   MXKEYS_BIN=path/to/mxkeys   use this binary instead of `cargo build --release`
#                               (test-vectors/interop/ssss/stand_in_mxkeys implements the contract in
#                               Python, to test this script itself)
#   KEEP_WORK=1                 keep the scratch files
#
# Installs the peers into test-vectors/gen/ssss/node_modules and .venv (gitignored); scratch files
# go to test-vectors/interop/ssss/.work (gitignored, emptied on each run).
# Prints one PASS/FAIL line per check and ends with "N passed, M failed"; exits 1 on a failure.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
GEN="$ROOT/test-vectors/gen/ssss"
HELP="$HERE/ssss"
WORK="$HELP/.work"

echo "== installing peers"
bash "$GEN/install.sh"
PY="$GEN/.venv/bin/python"
CHECK=("$PY" "$HELP/check.py")

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
if [ -z "${KEEP_WORK:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1"
  if [ -s "$2" ]; then sed 's/^/     | /' "$2" | tail -n 8; fi
}

# Runs mxkeys with the key in the environment; clears both key variables first.
mx() { # KIND(key|phrase) VALUE args...
  local kind="$1" value="$2"
  shift 2
  if [ "$kind" = key ]; then
    env -u MXKEYS_PASSPHRASE MXKEYS_RECOVERY_KEY="$value" "$MXKEYS_BIN" "$@"
  else
    env -u MXKEYS_RECOVERY_KEY MXKEYS_PASSPHRASE="$value" "$MXKEYS_BIN" "$@"
  fi
}

peer_account() { # peer out.json args... -> prints key info JSON
  local peer="$1" out="$2"
  shift 2
  case "$peer" in
    jssdk) node "$GEN/gen_jssdk.mjs" account "$WORK/identity.json" "$out" "$@" ;;
    mautrix) "$PY" "$GEN/gen_ssss.py" account "$WORK/identity.json" "$out" "$@" ;;
  esac
}

peer_decrypt() { # peer account.json args...
  local peer="$1"
  shift
  case "$peer" in
    jssdk) node "$GEN/gen_jssdk.mjs" decrypt "$@" ;;
    mautrix) "$PY" "$GEN/gen_ssss.py" decrypt "$@" ;;
  esac
}

# (a) check: mxkeys decrypts ACCOUNT with KIND/VALUE (+ extra args) to the identity's secrets.
check_decrypt() { # label account kind value [mxkeys args...]
  local label="$1" acc="$2" kind="$3" value="$4"
  shift 4
  local n=$((passed + failed))
  local out="$WORK/dec-$n.out" err="$WORK/dec-$n.err"
  if ! mx "$kind" "$value" ssss decrypt "$acc" --json "$@" >"$out" 2>"$err"; then
    fail "$label: mxkeys ssss decrypt exited non-zero" "$err"
  elif ! "${CHECK[@]}" mxkeys-decrypt "$out" "$WORK/expected.json" 2>"$err"; then
    fail "$label: wrong output" "$err"
  else
    pass "$label"
  fi
}

check_wrong_key() { # label account wrong-key
  local label="$1" acc="$2" key="$3"
  local n=$((passed + failed))
  local out="$WORK/dec-$n.out" err="$WORK/dec-$n.err"
  if mx key "$key" ssss decrypt "$acc" --json >"$out" 2>"$err"; then
    fail "$label: mxkeys accepted a wrong Security Key" "$out"
  elif grep -qF -f <("$PY" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["secrets"].values()))' "$WORK/identity.json") "$out" "$err"; then
    fail "$label: mxkeys printed a secret with a wrong Security Key" "$out"
  elif [ ! -s "$err" ]; then
    fail "$label: mxkeys refused the wrong Security Key without saying why (empty stderr)" /dev/null
  else
    pass "$label"
  fi
}

# (b) check: mxkeys encrypts a fresh value as NAME into peer-made ACCOUNT; READERS decrypt it.
check_encrypt() { # label account key_id security_key name readers...
  local label="$1" acc="$2" key_id="$3" key="$4" name="$5"
  shift 5
  local n=$((passed + failed))
  local value="$WORK/value-$n" out="$WORK/enc-$n.json" err="$WORK/enc-$n.err" exp="$WORK/exp-$n.json"
  "${CHECK[@]}" value "$value"
  "${CHECK[@]}" expect "$WORK/identity.json" "$exp" "$name" "$value"
  if ! mx key "$key" ssss encrypt "$acc" --secret "$name" --value-file "$value" -o "$out" >"$err" 2>&1; then
    fail "$label: mxkeys ssss encrypt exited non-zero" "$err"
    for r in "$@"; do fail "$label: $r decrypts mxkeys' output (nothing written)" /dev/null; done
    return
  fi
  if "${CHECK[@]}" written "$acc" "$out" "$name" "$key_id" 2>"$err"; then
    pass "$label: output has $name under the default key, iv bit 63 clear, rest unchanged"
  else
    fail "$label: output" "$err"
  fi
  for r in "$@"; do
    local pout="$WORK/enc-$n-$r.out"
    if ! peer_decrypt "$r" "$out" --recovery-key "$key" >"$pout" 2>"$err"; then
      fail "$label: $r cannot read mxkeys' output" "$err"
    elif ! "${CHECK[@]}" peer-decrypt "$pout" "$exp" 2>"$err"; then
      fail "$label: $r decrypts mxkeys' output to other values" "$err"
    else
      pass "$label: $r decrypts mxkeys' output ($name and the other secrets)"
    fi
  done
}

echo "== fresh identity (matrix-sdk-crypto-wasm): cross-signing seeds, backup key"
node "$GEN/gen_jssdk.mjs" identity "$WORK/identity.json"
"$PY" "$GEN/gen_ssss.py" identity "$WORK/identity.json"
"${CHECK[@]}" expect "$WORK/identity.json" "$WORK/expected.json"

field() { "${CHECK[@]}" field "$@"; }

for peer in jssdk mautrix; do
  echo "== $peer"
  # Security Key
  peer_account "$peer" "$WORK/$peer-sk.json" >"$WORK/$peer-sk.keys"
  sk=$(field "$WORK/$peer-sk.keys" default security_key)
  check_decrypt "(a) $peer Security Key" "$WORK/$peer-sk.json" key "$sk"
  "${CHECK[@]}" events "$WORK/$peer-sk.json" "$WORK/$peer-sk-events.json"
  check_decrypt "(a) $peer Security Key, events shape" "$WORK/$peer-sk-events.json" key "$sk"
  check_decrypt "(a) $peer Security Key, spaces removed" "$WORK/$peer-sk.json" key "${sk// /}"
  # Security Phrase, realistic iteration count (both peers use 500000)
  phrase="interop phrase $peer ünïcödé"
  peer_account "$peer" "$WORK/$peer-pp.json" --passphrase "$phrase" --iterations 500000 >"$WORK/$peer-pp.keys"
  check_decrypt "(a) $peer Security Phrase, 500000 iterations" "$WORK/$peer-pp.json" phrase "$phrase"
  check_decrypt "(a) $peer Security Key of a phrase-derived key" "$WORK/$peer-pp.json" key "$(field "$WORK/$peer-pp.keys" default security_key)"
  # two keys: old Security Key + new default phrase key; secrets under both
  peer_account "$peer" "$WORK/$peer-two.json" --two-keys --passphrase "new $phrase" --iterations 1000 >"$WORK/$peer-two.keys"
  check_decrypt "(a) $peer two keys, default (phrase)" "$WORK/$peer-two.json" phrase "new $phrase"
  check_decrypt "(a) $peer two keys, old key with --key-id" "$WORK/$peer-two.json" key \
    "$(field "$WORK/$peer-two.keys" keys 0 security_key)" --key-id "$(field "$WORK/$peer-two.keys" keys 0 key_id)"
done
check_wrong_key "(a) jssdk account, mautrix account's Security Key" "$WORK/jssdk-sk.json" "$(field "$WORK/mautrix-sk.keys" default security_key)"
check_wrong_key "(a) mautrix account, jssdk account's Security Key" "$WORK/mautrix-sk.json" "$(field "$WORK/jssdk-sk.keys" default security_key)"

echo "== jssdk6 (matrix-js-sdk 6.0.0, key descriptions without iv/mac)"
mkdir -p "$WORK/jssdk6"
node "$GEN/gen_jssdk6.cjs" "$WORK/identity.json" "$WORK/jssdk6" "$WORK/jssdk6.keys"
check_decrypt "(a) jssdk6 no key check, Security Phrase" "$WORK/jssdk6/jssdk6-no-keycheck-phrase.json" phrase \
  "$(field "$WORK/jssdk6.keys" entries 0 passphrase)"
j6key=$(field "$WORK/jssdk6.keys" entries 2 security_key)
check_decrypt "(a) jssdk6 no key check, Security Key" "$WORK/jssdk6/jssdk6-no-keycheck-key.json" key "$j6key"

echo "== (b) mxkeys encrypts, peers decrypt"
for peer in jssdk mautrix; do
  check_encrypt "(b) $peer account, replace m.megolm_backup.v1" "$WORK/$peer-sk.json" \
    "$(field "$WORK/$peer-sk.keys" default key_id)" "$(field "$WORK/$peer-sk.keys" default security_key)" \
    m.megolm_backup.v1 jssdk mautrix
  check_encrypt "(b) $peer account, new secret org.example.interop" "$WORK/$peer-sk.json" \
    "$(field "$WORK/$peer-sk.keys" default key_id)" "$(field "$WORK/$peer-sk.keys" default security_key)" \
    org.example.interop jssdk mautrix
  check_encrypt "(b) $peer phrase-key account (given its Security Key), replace m.cross_signing.master" "$WORK/$peer-pp.json" \
    "$(field "$WORK/$peer-pp.keys" default key_id)" "$(field "$WORK/$peer-pp.keys" default security_key)" \
    m.cross_signing.master jssdk mautrix
done
"${CHECK[@]}" events "$WORK/mautrix-sk.json" "$WORK/mautrix-sk-events.json" # (re-made: same content)
check_encrypt "(b) mautrix account as events list, replace m.cross_signing.user_signing" "$WORK/mautrix-sk-events.json" \
  "$(field "$WORK/mautrix-sk.keys" default key_id)" "$(field "$WORK/mautrix-sk.keys" default security_key)" \
  m.cross_signing.user_signing jssdk mautrix
check_encrypt "(b) jssdk6 account without key check, replace m.megolm_backup.v1" "$WORK/jssdk6/jssdk6-no-keycheck-key.json" \
  "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["m.secret_storage.default_key"]["key"])' "$WORK/jssdk6/jssdk6-no-keycheck-key.json")" \
  "$j6key" m.megolm_backup.v1 jssdk

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
