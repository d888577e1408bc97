#!/usr/bin/env bash
# Every interop check, one area after another, against one release build of mxkeys:
# export files (run.sh), recovery keys and backups (backup.sh), secret storage (ssss.sh),
# attachments (attachment.sh), `mxkeys doctor`'s repair bodies (doctor.sh) and dehydrated
# devices and room-key bundles (dehydrated.sh). Each installs its own
# pinned peers into gitignored folders.
# Ends with the total "N passed, M failed"; exits 1 if any area failed.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
if [ -z "${MXKEYS_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet) || exit 1
  export MXKEYS_BIN="$ROOT/target/release/mxkeys"
fi
passed=0 failed=0 broken=()
for area in run backup ssss attachment doctor dehydrated; do
  echo "==== interop: $area"
  log=$(mktemp)
  bash "$HERE/$area.sh" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  tally=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  rm -f "$log"
  if [ -z "$tally" ]; then
    broken+=("$area (exit $rc, no tally)")
    failed=$((failed + 1))
    continue
  fi
  p=${tally%% passed*}; f=${tally#*, }; f=${f%% failed*}
  passed=$((passed + p)); failed=$((failed + f))
  [ "$rc" -eq 0 ] || broken+=("$area (exit $rc)")
done
[ ${#broken[@]} -eq 0 ] || echo "interop areas that failed: ${broken[*]}"
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#broken[@]} -eq 0 ]
