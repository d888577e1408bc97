#!/usr/bin/env bash
# Peak memory and time of `mxkeys export merge` on two large JSON inputs: generates two files of
# N sessions each (valid megolm v1 keys; the second file holds the last half of the first one's
# sessions again, plus new ones), merges them and prints wall time and peak RSS
# (/usr/bin/time -v); then encrypts the first file into an export (1000 rounds, kept with
# MERGE_WORK) and times `export split` of it into parts of N/10 sessions.
# Usage: benches/large-merge.sh [N] (default 100000).
#   MXKEYS_BIN=target/debug/mxkeys   time that binary instead of building a release one
#   MERGE_WORK=DIR                   keep the generated inputs in DIR and reuse them next time
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
if [ -n "${MXKEYS_BIN:-}" ]; then
  bin=$(realpath "$MXKEYS_BIN")
else
  cargo build --release --quiet
  bin=$PWD/target/release/mxkeys
fi
if [ -n "${MERGE_WORK:-}" ]; then
  work=$MERGE_WORK
  mkdir -p "$work"
  rm -f "$work/out.json"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
[ -f "$work/b.json" ] && [ "$(cat "$work/n" 2>/dev/null)" = "$n" ] || python3 - "$work" "$n" <<'PY'
import base64, json, os, random, sys
# A session key (export form): 0x01, u32 index, 128 ratchet bytes, an Ed25519 public key (which
# must decompress: y on the curve), and the session id is that key. Pure Python, seeded.
P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
rng = random.Random(7)
def point():
    while True:
        y = rng.getrandbits(255) % P
        u, v = (y * y - 1) % P, (D * y * y + 1) % P
        x2 = u * pow(v, P - 2, P) % P
        if x2 == 0 or pow(x2, (P - 1) // 2, P) == 1:
            return (y | (rng.getrandbits(1) << 255) if x2 else y).to_bytes(32, "little")
def b64(b):
    return base64.b64encode(b).decode().rstrip("=")
def session(pub):
    key = b"\x01" + (0).to_bytes(4, "big") + rng.randbytes(128) + pub
    return {"algorithm": "m.megolm.v1.aes-sha2", "room_id": f"!room{rng.randrange(5000)}:example.org",
            "sender_key": b64(rng.randbytes(32)), "sender_claimed_keys": {"ed25519": b64(rng.randbytes(32))},
            "session_id": b64(pub), "session_key": b64(key), "forwarding_curve25519_key_chain": []}
work, n = sys.argv[1], int(sys.argv[2])
a = [session(point()) for _ in range(n)]
b = a[n // 2:] + [session(point()) for _ in range(n - n // 2)]
for name, s in (("a.json", a), ("b.json", b)):
    with open(os.path.join(work, name), "w") as f:
        json.dump(s, f, separators=(",", ":"))
with open(os.path.join(work, "n"), "w") as f:
    f.write(str(n))
print(f"generated 2 x {n} sessions ({n // 2} shared), "
      f"{os.path.getsize(os.path.join(work, 'a.json')) >> 20} MiB each", file=sys.stderr)
PY
/usr/bin/time -v "$bin" export merge "$work/a.json" "$work/b.json" -o "$work/out.json" --plaintext \
  2>"$work/time" >/dev/null || { cat "$work/time"; exit 1; }
grep -v '^\s' "$work/time" | tail -1 >&2 || true
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")
printf 'merge 2 x %s: wall %s, peak RSS %.1f MB\n' "$n" "$wall" "$(awk "BEGIN {print $rss/1024}")"
user=$(awk -F': ' '/User time/ {print $2}' "$work/time")
sys=$(awk -F': ' '/System time/ {print $2}' "$work/time")
printf '  (user %s s, system %s s)\n' "$user" "$sys"
[ "${SPLIT:-1}" = 0 ] && exit 0
export MXKEYS_PASSPHRASE=bench MXKEYS_NEW_PASSPHRASE=bench
[ -f "$work/a.txt" ] && [ "$work/a.txt" -nt "$work/a.json" ] ||
  "$bin" export encrypt "$work/a.json" -o "$work/a.txt" --rounds 1000 --force 2>/dev/null
rm -rf "$work/parts"
/usr/bin/time -v "$bin" export split "$work/a.txt" -o "$work/parts" --max-sessions $((n / 10)) \
  2>"$work/time" >/dev/null || { cat "$work/time"; exit 1; }
grep -v '^\s' "$work/time" | tail -1 >&2 || true
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")
user=$(awk -F': ' '/User time/ {print $2}' "$work/time")
sys=$(awk -F': ' '/System time/ {print $2}' "$work/time")
printf 'split of a %s-session export into %s parts: wall %s, peak RSS %.1f MB (user %s s, system %s s)\n' \
  "$n" "$(ls "$work/parts" | wc -l)" "$wall" "$(awk "BEGIN {print $rss/1024}")" "$user" "$sys"
rm -rf "$work/parts"
