#!/usr/bin/env bash
# Peak memory and time of `mxkeys events decrypt` and `events diagnose` on a large events file:
# generates N m.room.encrypted events (N/1000 megolm sessions, newest first as /messages returns
# them, about 700 bytes each) and their keys with the `gen_events` example, then prints wall
# time, CPU time and peak RSS (/usr/bin/time -v) of each command, and of the bad inputs:
# a 1 GB single-line events file (one event per line removed: the whole list on one line), a
# 1 GB string inside one event (refused at the 1 MiB cap), N events of unknown sessions.
# Usage: benches/large-events.sh [N] (default 1000000).
#   MXKEYS_BIN=target/release/mxkeys   time that binary instead of building a release one
#   EVENTS_WORK=DIR                    keep the generated inputs in DIR and reuse them next time
#   EVENTS_BAD=0                       skip the bad inputs
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet --example gen_events
gen=$PWD/target/release/examples/gen_events
if [ -n "${MXKEYS_BIN:-}" ]; then
  bin=$(realpath "$MXKEYS_BIN")
else
  cargo build --release --quiet
  bin=$PWD/target/release/mxkeys
fi
if [ -n "${EVENTS_WORK:-}" ]; then
  work=$EVENTS_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
if ! [ -f "$work/events.json" ] || [ "$(cat "$work/n" 2>/dev/null)" != "$n" ]; then
  "$gen" "$n" "$work/events.json" "$work/keys.json"
  echo "$n" >"$work/n"
fi
ls -l "$work/events.json" | awk '{printf "events file: %.0f MB\n", $5/1e6}'
measure() {
  local label=$1 want=$2; shift 2
  local rc=0
  /usr/bin/time -v "$@" 2>"$work/time" >/dev/null || rc=$?
  if [ "$rc" != "$want" ]; then cat "$work/time"; echo "$label: exit $rc, expected $want" >&2; exit 1; fi
  awk -F': ' -v l="$label" '
    /Maximum resident set size/ {rss=$2} /Elapsed \(wall clock\)/ {wall=$2}
    /User time/ {u=$2} /System time/ {s=$2}
    END {printf "%-24s wall %-8s cpu %6.1f s  peak RSS %6.1f MB\n", l, wall, u+s, rss/1024}' "$work/time"
  grep '^error:' "$work/time" | cut -c1-160 || true
}
measure "decrypt" 0 "$bin" events decrypt "$work/events.json" --keys "$work/keys.json" -o "$work/out.json" --force
rm -f "$work/out.json"
measure "diagnose" 0 "$bin" events diagnose "$work/events.json" --keys "$work/keys.json"
measure "diagnose --json" 0 "$bin" events diagnose "$work/events.json" --keys "$work/keys.json" --json
[ "${EVENTS_BAD:-1}" = 0 ] && exit 0
# The same events on one line, repeated to 1 GB.
python3 - "$work/events.json" "$work/one-line.json" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
with open(src) as f:
    lines = [l.rstrip(",\n") for l in f if l.startswith("{")]
with open(dst, "w") as out:
    out.write("[")
    size, first = 0, True
    while size < 1_000_000_000:
        for l in lines:
            out.write(l if first else "," + l)
            first = False
            size += len(l) + 1
            if size >= 1_000_000_000:
                break
    out.write("]\n")
PY
measure "1 GB one line: diagnose" 0 "$bin" events diagnose "$work/one-line.json" --keys "$work/keys.json"
rm -f "$work/one-line.json"
# One event whose body is a 1 GB string.
python3 - "$work/big-string.json" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    out.write('[{"type": "m.room.encrypted", "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "')
    chunk = "A" * (1 << 20)
    for _ in range(1000):
        out.write(chunk)
    out.write('"}}]\n')
PY
measure "1 GB string: decrypt" 1 "$bin" events decrypt "$work/big-string.json" --keys "$work/keys.json"
rm -f "$work/big-string.json"
# N events of N sessions that no key opens.
"$gen" "$n" "$work/unknown.json" "$work/no-keys.json" --sessions "$n" --no-keys
measure "unknown sessions: diagnose" 1 "$bin" events diagnose "$work/unknown.json" --keys "$work/no-keys.json"
rm -f "$work/unknown.json" "$work/no-keys.json"
