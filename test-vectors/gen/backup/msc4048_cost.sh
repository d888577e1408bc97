#!/usr/bin/env bash
# What the MSC4048 (unstable) backup-MAC check costs `backup decrypt`: one body of N sessions
# without MACs and one with (both written by `mxkeys backup encrypt`, the second with --msc4048),
# each decrypted R times (interleaved) by the release binary under /usr/bin/time -v; prints user+sys CPU, wall
# and peak RSS per run. Inputs go to a temporary directory (N = 100000 is about 80 MB per body)
# that is removed at the end.
#
#   test-vectors/gen/backup/msc4048_cost.sh [N] [R]     (default 100000 sessions, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-100000}
runs=${2:-3}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time" >&2; exit 2; }
cargo build --release --quiet --bin mxkeys --example large_inputs
bin=$PWD/target/release/mxkeys
gen=$PWD/target/release/examples/large_inputs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$gen" sessions "$n" 1 sessions.json
# Only its key is used: the bodies are written by mxkeys with that key.
"$gen" backup 1 1 /dev/null key.txt
key=$(cat key.txt)
public=$(MXKEYS_RECOVERY_KEY="$key" "$bin" --json recovery-key check |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
"$bin" backup encrypt sessions.json --public-key "$public" -o plain.json 2>/dev/null
MXKEYS_RECOVERY_KEY="$key" "$bin" backup encrypt sessions.json --public-key "$public" \
  --msc4048 -o mac.json 2>/dev/null
ls -l plain.json mac.json >&2
measure() {
  local label=$1 i=$2; shift 2
  MXKEYS_RECOVERY_KEY="$key" /usr/bin/time -v "$@" -o out.json --force 2>time.txt >/dev/null || true
  awk -v l="$label" -v i="$i" '
      /User time/ {u=$NF} /System time/ {s=$NF} /Elapsed \(wall/ {w=$NF}
      /Maximum resident/ {r=$NF}
      END {printf "%-40s run %d: cpu %.2f s (user %.2f + sys %.2f), wall %s, peak RSS %.1f MB\n", l, i, u+s, u, s, w, r/1024}
  ' time.txt
}
# Interleaved, so that a change in the machine's load falls on every variant alike.
for i in $(seq "$runs"); do
  measure "no MACs ($n sessions)" "$i" "$bin" backup decrypt plain.json
  measure "MSC4048 MACs ($n sessions)" "$i" "$bin" backup decrypt mac.json
  measure "MSC4048 MACs, --require-authenticated" "$i" "$bin" backup decrypt mac.json --require-authenticated
done
