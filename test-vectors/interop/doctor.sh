#!/usr/bin/env bash
# Do other implementations accept the repairs that `mxkeys doctor -o DIR` writes? mxkeys diagnoses
# two committed account states of test-vectors/account (made by matrix-js-sdk 43 and
# matrix-sdk-crypto-wasm 18.9, see its README.md); each repair body is then "uploaded" (PUT over
# the account-data event, or POSTed as a new backup version) in memory and the peers must accept it:
#
#   (1) backup-reset, --key-file recovery_key.txt --backup-key-file backup_key.txt:
#       m.megolm_backup.v1.json (the current backup's key stored under the default key):
#       - matrix-js-sdk ServerSideSecretStorageImpl.get decrypts it with the Security Key to exactly
#         backup_key.txt; RustCrypto.loadSessionBackupPrivateKeyFromSecretStorage accepts it for
#         the current version (it refused the state's stored key before); getSecretStorageStatus ready
#       - mautrix-python ssss.Machine (get_default_key_data, verify_recovery_key,
#         get_decrypted_account_data) decrypts it to backup_key.txt's 32 bytes
#   (2) the same run's new-backup-version.json (POST /room_keys/version for the stored key):
#       - matrix-sdk-crypto-wasm verifyBackup (js-sdk RustBackupManager.isKeyBackupTrusted), on a
#         fresh device of the user fed keys_query.json with the published identity imported:
#         trusted (and the same body without signatures: not trusted)
#       - js-sdk decryptionKeyMatchesKeyBackupInfo / backupInfoMatchesBackupDecryptionKey / wasm
#         megolmV1PublicKey: it fits the backup key js-sdk decrypts from the state's secret storage
#   (3) default-key-missing, --key-file recovery_key.txt: m.secret_storage.default_key.json:
#       - js-sdk getDefaultKeyId/getKey find an AES key description, checkKey accepts the Security
#         Key, every secret decrypts, getSecretStorageStatus ready
#       - mautrix get_default_key_data + verify_recovery_key, every secret decrypts
#   Before those, one line per doctor run: it wrote the expected repair files (and listed them in
#   --json "repairs").
#
# The checkers are test-vectors/gen/account/check_repairs.mjs (js-sdk, wasm) and check_repairs.py
# (mautrix), with the packages pinned there (installed by its install.sh into node_modules and
# .venv, gitignored).
#
#   test-vectors/interop/doctor.sh                         builds mxkeys (cargo build --release)
#   MXKEYS_BIN=/path/to/mxkeys test-vectors/interop/doctor.sh
#   KEEP_WORK=1                                            keep the scratch files
#
# Scratch files go to test-vectors/interop/.work/doctor (gitignored). One line per check
# ("PASS ..." / "FAIL ..."), then "N passed, M failed"; the exit status is non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
GEN="$ROOT/test-vectors/gen/account"
STATES="$ROOT/test-vectors/account"
WORK="$ROOT/test-vectors/interop/.work/doctor"

pass=0
fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
# why LOG: the last lines of a log, indented, after a FAIL line
why() { if [ -s "$1" ]; then tail -n 6 "$1" | sed 's/^/    /'; fi; }

"$GEN/install.sh" >&2
PY="$GEN/.venv/bin/python"

if [ -z "${MXKEYS_BIN:-}" ]; then
  if ! (cd "$ROOT" && cargo build --release --quiet) >&2; then
    ko "cargo build --release"
    finish
    exit 1
  fi
  MXKEYS_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/mxkeys"
fi
case "$MXKEYS_BIN" in /*) ;; *) MXKEYS_BIN="$PWD/$MXKEYS_BIN" ;; esac

rm -rf "$WORK"
mkdir -p "$WORK"
if [ -z "${KEEP_WORK:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi

# doctor LABEL STATE OUT [args...] FILES...: runs `mxkeys --json doctor` on STATE's files with its
# Security Key, -o OUT; expects exit 0 or 1 (1: checks failed, as in these states) and each of the
# FILES (after "--") written and listed in "repairs".
doctor() {
  local label="$1" state="$2" out="$3"
  shift 3
  local args=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  local s="$STATES/$state" rc=0
  "$MXKEYS_BIN" --json doctor --account-data "$s/account_data.json" --backup-version "$s/backup_version.json" \
    --keys-query "$s/keys_query.json" --key-file "$s/recovery_key.txt" "${args[@]}" -o "$out" \
    >"$out.json" 2>"$out.err" || rc=$?
  if [ "$rc" -gt 1 ]; then
    ko "$label: mxkeys doctor exited $rc"
    why "$out.err"
    return
  fi
  local missing=()
  for f in "$@"; do
    if [ ! -s "$out/$f" ] || ! "$PY" -c 'import json,sys; sys.exit(not any(r["file"].endswith("/" + sys.argv[2]) for r in json.load(open(sys.argv[1]))["repairs"]))' "$out.json" "$f" 2>/dev/null; then
      missing+=("$f")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    ok "$label: mxkeys doctor -o wrote $*"
  else
    ko "$label: mxkeys doctor -o did not write (or list) ${missing[*]}"
    why "$out.err"
  fi
}

# check LABEL STATE REPAIR CHECKER...: the checker's verdict on one repair body.
n=0
check() {
  local label="$1" state="$2" repair="$3"
  shift 3
  n=$((n + 1))
  if [ ! -s "$repair" ]; then
    ko "$label: no $(basename "$repair") to check"
    return
  fi
  if "$@" "$STATES/$state" "$repair" >"$WORK/check-$n.out" 2>"$WORK/check-$n.err"; then
    ok "$label: $(tail -n 1 "$WORK/check-$n.out")"
  else
    ko "$label"
    why "$WORK/check-$n.err"
  fi
}
JS=(node "$GEN/check_repairs.mjs")
MAU=("$PY" "$GEN/check_repairs.py")

R="$WORK/backup-reset"
doctor "backup-reset" backup-reset "$R" --backup-key-file "$STATES/backup-reset/backup_key.txt" -- \
  m.megolm_backup.v1.json new-backup-version.json
check "(1) backup-reset m.megolm_backup.v1.json, matrix-js-sdk" backup-reset "$R/m.megolm_backup.v1.json" "${JS[@]}" store-backup-key
check "(1) backup-reset m.megolm_backup.v1.json, mautrix" backup-reset "$R/m.megolm_backup.v1.json" "${MAU[@]}" store-backup-key
check "(2) backup-reset new-backup-version.json, matrix-sdk-crypto-wasm trust" backup-reset "$R/new-backup-version.json" "${JS[@]}" version-trusted
check "(2) backup-reset new-backup-version.json, matrix-js-sdk key match" backup-reset "$R/new-backup-version.json" "${JS[@]}" version-matches

D="$WORK/default-key-missing"
doctor "default-key-missing" default-key-missing "$D" -- m.secret_storage.default_key.json
check "(3) default-key-missing m.secret_storage.default_key.json, matrix-js-sdk" default-key-missing "$D/m.secret_storage.default_key.json" "${JS[@]}" default-key
check "(3) default-key-missing m.secret_storage.default_key.json, mautrix" default-key-missing "$D/m.secret_storage.default_key.json" "${MAU[@]}" default-key

finish
