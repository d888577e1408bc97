#!/usr/bin/env bash
# Peak memory and time of mxkeys on a large export: generates SIZE_MB of session JSON, then
# encrypts, inspects, decrypts and re-encrypts it, printing wall time and peak RSS
# (/usr/bin/time -v) for each. Usage: benches/large-export.sh [SIZE_MB] (default 500).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-500}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet
bin=target/release/mxkeys
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/sessions.json" "$size_mb" <<'PY'
import base64, json, os, sys
path, size = sys.argv[1], int(sys.argv[2]) << 20
with open(path, "w") as f:
    f.write("[")
    n, written = 0, 1
    while written < size:
        s = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "room_id": f"!room{n % 5000}:example.org",
            "sender_key": base64.b64encode(os.urandom(32)).decode().rstrip("="),
            "sender_claimed_keys": {"ed25519": base64.b64encode(os.urandom(32)).decode().rstrip("=")},
            "session_id": base64.b64encode(os.urandom(32)).decode().rstrip("="),
            "session_key": base64.b64encode(os.urandom(165)).decode().rstrip("="),
            "forwarding_curve25519_key_chain": [],
            "org.matrix.msc3061.shared_history": n % 2 == 0,
        }
        text = ("," if n else "") + json.dumps(s, separators=(",", ":"))
        f.write(text)
        written += len(text)
        n += 1
    f.write("]")
print(f"generated {n} sessions, {written >> 20} MiB", file=sys.stderr)
PY
export MXKEYS_PASSPHRASE=bench MXKEYS_NEW_PASSPHRASE=bench2
measure() {
  local label=$1; shift
  /usr/bin/time -v "$@" 2>"$work/time" >/dev/null || { cat "$work/time"; exit 1; }
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")
  printf '%-10s wall %-9s peak RSS %6.1f MB\n' "$label" "$wall" "$(awk "BEGIN {print $rss/1024}")"
}
measure encrypt "$bin" export encrypt "$work/sessions.json" -o "$work/export.txt" --rounds 100000
ls -l "$work/export.txt" | awk '{printf "export file: %d MiB\n", $5/1048576}'
measure inspect "$bin" export inspect "$work/export.txt"
measure decrypt "$bin" export decrypt "$work/export.txt" -o "$work/out.json"
cmp "$work/sessions.json" "$work/out.json" && echo "decrypt output identical to the input"
measure reencrypt "$bin" export reencrypt "$work/export.txt" -o "$work/export2.txt" --rounds 100000
