#!/usr/bin/env bash
# Time and peak memory of every mxkeys command that reads sessions, on inputs of N sessions
# (default 1,000,000), plus the hostile inputs at size: a 1 GB single-line file for each command
# that reads JSON, a backup whose every session fails, and a value nested deep inside a valid body.
#
#   benches/large.sh [N]            all rows
#   LARGE_WORK=DIR benches/large.sh keep the generated inputs in DIR and reuse them next time
#   LARGE_ONLY=REGEX                run only the rows whose label matches
#
# Inputs are made by examples/large_inputs.rs (real megolm v1 keys, deterministic) and, for
# events, examples/gen_events (N events of N/1000 sessions, newest first, and their keys; and N
# events of N sessions with all N keys, about 700 MB + 540 MB at a million). Each command runs once;
# /usr/bin/time -v gives wall time, CPU time (user + system) and peak RSS. Prints a Markdown
# table (the README's "Limits" table comes from it) and exits 1 if a command that should succeed
# failed, or a hostile input was not refused with exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet --bin mxkeys --example large_inputs --example gen_events
bin=$PWD/target/release/mxkeys
gen=$PWD/target/release/examples/large_inputs
gen_events=$PWD/target/release/examples/gen_events
if [ -n "${LARGE_WORK:-}" ]; then
  work=$LARGE_WORK; mkdir -p "$work"
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi
only=${LARGE_ONLY:-.}
cd "$work"
if [ "$(cat n 2>/dev/null)" != "$n" ]; then
  rm -f ./*.json ./*.txt
  echo "generating $n sessions (JSON, backup body, export)..." >&2
  "$gen" sessions "$n" 1 sessions.json
  "$gen" backup "$n" 1 backup.json backup-key.txt
  # A second backup key, whose public key is not the backup's: every session fails its MAC.
  "$gen" backup 1 2 /dev/null other-key.txt
  # N events of N/1000 sessions, newest first, and their keys (examples/gen_events).
  "$gen_events" "$n" events.json events-keys.json
  MXKEYS_NEW_PASSPHRASE=bench MXKEYS_PASSPHRASE=bench "$bin" export encrypt sessions.json \
    -o export.txt --rounds 1000 --force 2>/dev/null
  # Two halves that share a quarter, for merge.
  python3 - "$n" <<'PY'
import json, sys
n = int(sys.argv[1])
# Split the big array by its elements without holding it as objects: one session per line.
with open("sessions.json") as f:
    text = f.read()
items = text.strip()[1:-1].split("},{")
items = [("{" if i else "") + s + ("}" if i < len(items) - 1 else "") for i, s in enumerate(items)]
a, b = items[: n // 2 + n // 4], items[n // 2 - n // 4 + 1 :] if n > 4 else items
for name, part in (("merge-a.json", a), ("merge-b.json", b)):
    with open(name, "w") as f:
        f.write("[" + ",".join(part) + "]")
PY
  # Hostile: a valid body with one entry nested 100000 arrays deep.
  python3 - <<'PY'
deep = b"[" * 100000 + b"]" * 100000
with open("deep-backup.json", "wb") as f:
    f.write(b'{"rooms":{"!a:x":{"sessions":{"s":{"session_data":{"ephemeral":"x","x":' + deep + b'}}}}}}')
with open("deep-sessions.json", "wb") as f:
    f.write(b'[{"room_id":"!a:x","x":' + deep + b'}]')
PY
  echo "$n" > n
fi
export MXKEYS_PASSPHRASE=bench MXKEYS_NEW_PASSPHRASE=bench2
key=$(cat backup-key.txt)
other=$(cat other-key.txt)
status=0
echo "| command | input | exit | wall | CPU (user+sys) | peak RSS |"
echo "|---|---|---|---|---|---|"
# row LABEL INPUT-DESCRIPTION EXPECTED-EXIT ENV... -- COMMAND...
row() {
  local label=$1 what=$2 want=$3; shift 3
  [[ $label =~ $only ]] || { while [ "$1" != "--" ]; do shift; done; return 0; }
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local code=0
  env "${envs[@]}" /usr/bin/time -v "$@" >/dev/null 2>time.txt || code=$?
  local wall cpu rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' time.txt)
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f s", u + s}' time.txt)
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f MB", $2 / 1024}' time.txt)
  printf '| `%s` | %s | %s | %s | %s | %s |\n' "$label" "$what" "$code" "$wall" "$cpu" "$rss"
  if [ "$code" != "$want" ]; then
    echo "  ^ expected exit $want; stderr:" >&2
    grep -v '^\s' time.txt | grep -v 'Command being timed' | head -5 >&2
    status=1
  fi
}
# line FILE HEAD TAIL: one line of 1 GiB, a JSON string value between HEAD and TAIL (made for
# its rows and removed after them, to spare the disk).
line() {
  python3 - "$@" <<'PY'
import sys
name, head, tail = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
chunk = b"A" * (1 << 20)
with open(name, "wb") as f:
    f.write(head)
    for _ in range(1024):
        f.write(chunk)
    f.write(tail)
PY
}
S="$n sessions"
row "export encrypt" "$S, JSON" 0 -- "$bin" export encrypt sessions.json -o x.txt --rounds 1000 --force
row "export decrypt" "$S" 0 -- "$bin" export decrypt export.txt -o x.json --force
row "export reencrypt" "$S" 0 -- "$bin" export reencrypt export.txt -o x.txt --rounds 1000 --force
row "export validate" "$S" 0 -- "$bin" export validate export.txt
row "export list" "$S" 0 -- "$bin" export list export.txt
row "export filter" "$S, one room" 0 -- "$bin" export filter export.txt --room '!room7:example.org' -o x.txt --rounds 1000 --force
row "export normalize" "$S" 0 -- "$bin" export normalize export.txt -o x.txt --rounds 1000 --force
row "export merge" "2 x $((n * 3 / 4)) sessions, $((n / 2)) shared" 0 -- "$bin" export merge merge-a.json merge-b.json -o x.json --plaintext --force
if "$bin" export split --help >/dev/null 2>&1; then
  rm -rf parts
  row "export split" "$S, 100k per part" 0 -- "$bin" export split export.txt -o parts --max-sessions 100000 --force
fi
row "backup decrypt" "$S" 0 MXKEYS_RECOVERY_KEY="$key" -- "$bin" backup decrypt backup.json -o x.json --force
row "backup to-export" "$S" 0 MXKEYS_RECOVERY_KEY="$key" -- "$bin" backup to-export backup.json -o x.txt --rounds 1000 --force
row "recover" "$S, the backup's own key" 0 MXKEYS_RECOVERY_KEY="$key" -- "$bin" recover --backup backup.json -o x.txt --rounds 1000 --force
row "backup encrypt" "$S" 0 -- "$bin" backup encrypt sessions.json --public-key "$(MXKEYS_RECOVERY_KEY="$key" "$bin" --json recovery-key check | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')" -o x.json --force
row "backup decrypt" "$S, every one fails its MAC (another key)" 1 MXKEYS_RECOVERY_KEY="$other" -- "$bin" backup decrypt backup.json -o x.json --force
row "backup decrypt --json" "$S, every one fails, --allow-partial: full list" 1 MXKEYS_RECOVERY_KEY="$other" -- "$bin" --json backup decrypt backup.json -o x.json --force --allow-partial
line line.json '{"rooms":{"!a:x":{"sessions":{"s":{"session_data":{"ciphertext":"' '"}}}}}}'
row "backup decrypt" "1 GiB single line" 1 MXKEYS_RECOVERY_KEY="$key" -- "$bin" backup decrypt line.json -o x.json --force
row "backup decrypt" "a value nested 100000 deep in a session" 1 MXKEYS_RECOVERY_KEY="$key" -- "$bin" backup decrypt deep-backup.json -o x.json --force
line line.json '[{"room_id":"' '"}]'
row "export encrypt" "1 GiB single line" 1 -- "$bin" export encrypt line.json -o x.txt --rounds 1000 --force
row "export merge" "1 GiB single line" 1 -- "$bin" export merge line.json merge-b.json -o x.json --plaintext --force
row "export validate" "a value nested 100000 deep" 1 -- "$bin" export validate deep-sessions.json
[ -f events.json ] || "$gen_events" "$n" events.json events-keys.json
row "events decrypt" "$n events, $((n / 1000)) sessions" 0 -- "$bin" events decrypt events.json --keys events-keys.json -o x.json --force
row "events diagnose" "$n events, $((n / 1000)) sessions" 0 -- "$bin" events diagnose events.json --keys events-keys.json
# N events of N sessions, every key given: more keys than the in-memory budget, joined on disk.
[ -f events-keyed.json ] || "$gen_events" "$n" events-keyed.json events-keyed-keys.json --sessions "$n"
row "events decrypt" "$n events, $n sessions, all keyed" 0 -- "$bin" events decrypt events-keyed.json --keys events-keyed-keys.json -o x.json --force
row "events diagnose" "$n events, $n sessions, all keyed" 0 -- "$bin" events diagnose events-keyed.json --keys events-keyed-keys.json
line line.json '[{"type":"m.room.encrypted","content":{"ciphertext":"' '"}}]'
row "events decrypt" "1 GiB single line" 1 -- "$bin" events decrypt line.json --keys merge-b.json -o x.json --force
rm -f x.json x.txt time.txt line.json; rm -rf parts
echo
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
