#!/usr/bin/env bash
# mxkeys against other implementations, in one run: export decrypt (matrix-nio, Element Web's
# MegolmExportEncryption, matrix-sdk-crypto-wasm), PBKDF2 (OpenSSL through Python's hashlib, Node's
# crypto.pbkdf2Sync), backup decrypt (wasm BackupDecryptionKey.decryptV1, vodozemac, python-olm),
# attachments (matrix-encrypt-attachment, wasm, matrix-nio, openssl enc + sha256sum), the
# machine's limits (openssl speed) and the peak RSS of every mxkeys command.
#
# Prints a markdown table and writes it to benches/compare/last-run.md. Not part of CI: it
# installs the peers (with the install.sh of test-vectors/gen, gen/backup, gen/attachment: npm
# and PyPI), needs about 6 GiB of scratch space (tmpfs when /dev/shm has room) and 5-20 minutes.
#
# Environment: MXKEYS_BIN (skip the build and use this binary; MXKEYS_BIN_LABEL says what it is),
# SESSIONS (10000), ATTACHMENT_MIB (1024), REPS (3), WORK_BASE (where the scratch folder goes:
# /dev/shm when it has 7 GiB free, else benches/compare/.work), OUT (report path).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (for peak RSS)" >&2
  as_root apt-get update -qq && as_root apt-get install -y -qq time
fi
for tool in node python3 openssl sha256sum cargo; do
  command -v "$tool" >/dev/null || { echo "run.sh needs $tool" >&2; exit 2; }
done

echo "installing the peers (no-op when installed)" >&2
bash "$ROOT/test-vectors/gen/install.sh"
bash "$ROOT/test-vectors/gen/backup/install.sh"
bash "$ROOT/test-vectors/gen/attachment/install.sh"

if [ -z "${MXKEYS_BIN:-}" ]; then
  echo "building mxkeys (release)" >&2
  (cd "$ROOT" && cargo build --release --quiet)
  export MXKEYS_BIN="$ROOT/target/release/mxkeys"
fi

# A fresh folder for the inputs and outputs (about 6 GiB at 1 GiB), removed at the end; tmpfs
# keeps the disk out of the figures.
base=${WORK_BASE:-}
if [ -z "$base" ]; then
  if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt $((7 * 1024 * 1024)) ]; then
    base=/dev/shm
  else
    base="$HERE/.work"
  fi
fi
mkdir -p "$base"
WORK=$(mktemp -d "$base/mxkeys-compare.XXXXXX")
export WORK
trap 'rm -rf "$WORK"' EXIT
python3 "$HERE/compare.py"
