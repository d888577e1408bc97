#!/usr/bin/env bash
# The hashcat modules against the real engine (run by .ci/run after the interop checks).
#
#   hashcat/test.sh
#
# 1. Installs Debian's hashcat and pocl-opencl-icd (the CPU OpenCL runtime) when they are missing.
# 2. Builds the modules (hashcat/build.sh) into hashcat/build.
# 3. For every target in test-vectors/search/manifest.json that has a hash line and a plain
#    wordlist holding its passphrase (Element Web and matrix-nio exports, matrix-js-sdk and
#    mautrix Security Phrases, all written by those implementations), runs hashcat/crack.sh:
#    it must find the manifest's passphrase, confirmed by `mxkeys passphrase confirm`; with
#    none.list (no passphrase in it) it must find nothing and exit 1.
# 4. A known-plaintext hit that fails the HMAC (an Element export whose MAC was changed) is
#    reported as a false positive, not as found; lines of another version or kind are refused
#    by the modules' hash_decode with a message naming the version or the right mode.
#
# Time on the 2-core AMD EPYC dev machine, from nothing (2026-12-07): 101 s, of which the apt
# install and the source download take about 15 s and POCL compiles the two kernels once (41 s
# and 22 s; hashcat caches them in hashcat/build/hashcat/kernels). The exports use 1,000 and
# 10,000 PBKDF2 rounds and the phrases 1,000 iterations, as the peers wrote them.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS

if ! command -v hashcat >/dev/null || ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1; then
  echo "installing hashcat and pocl-opencl-icd (Debian)..."
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq hashcat pocl-opencl-icd >/dev/null
fi
echo "hashcat $(hashcat --version), OpenCL: $(ls /etc/OpenCL/vendors/ | tr '\n' ' ')"

hashcat/build.sh >/dev/null
echo "built the modules in $((SECONDS - t0)) s"

export MXKEYS="${MXKEYS:-$PWD/target/release/mxkeys}"
[ -x "$MXKEYS" ] || cargo build --release --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# crack TARGET LIST WANT_RC [EXPECTED_PASSPHRASE_HEX] [HASHCAT_OPTION...]
crack() {
  local target=$1 list=$2 want=$3 expect_hex=$4
  shift 4
  local name rc=0 t=$SECONDS
  name="$(basename "$target") with $(basename "$list")"
  rm -f "$work/found"
  hashcat/crack.sh -o "$work/found" "$target" "$list" --quiet "$@" </dev/null >"$work/log" 2>&1 || rc=$?
  if [ "$rc" -ne "$want" ]; then
    bad "$name: crack.sh exited $rc, expected $want"; tail -5 "$work/log"; return
  fi
  if [ -n "$expect_hex" ]; then
    local got
    got="$(od -An -tx1 "$work/found" | tr -d ' \n')"
    # confirm writes the passphrase and a newline
    if [ "$got" != "${expect_hex}0a" ]; then
      bad "$name: confirmed passphrase bytes $got, expected ${expect_hex}0a"; return
    fi
    ok "$name: found and confirmed ($((SECONDS - t)) s)"
  else
    [ ! -e "$work/found" ] || { bad "$name: wrote a passphrase file"; return; }
    ok "$name: nothing found, exit 1 ($((SECONDS - t)) s)"
  fi
}

# The manifest's targets that have a hash line, with their plain lists.
python3 - > "$work/targets" <<'EOF'
import json
m = json.load(open("test-vectors/search/manifest.json"))
for v in m["vectors"]:
    if v["expect"] != "found" or v["mutate"] or "legacy-backup" in v["target"]:
        continue
    print("\t".join(["test-vectors/search/" + v["target"], "test-vectors/search/" + v["candidates"],
                     v["passphrase"].encode().hex()]))
EOF
[ -s "$work/targets" ] || { echo "no targets in the manifest"; exit 1; }

while IFS=$'\t' read -r target list hex; do
  case "$target" in
    *latin1*)
      # matrix-nio keyed this file with the passphrase's Latin-1 bytes: hashcat converts the
      # UTF-8 wordlist (the UTF-8 bytes alone do not open it), and confirm, given the Latin-1
      # hit, writes the passphrase as the person types it (UTF-8).
      crack "$target" "$list" 1 ""
      crack "$target" "$list" 0 "$hex" --encoding-from=utf-8 --encoding-to=iso-8859-1 ;;
    *)
      crack "$target" "$list" 0 "$hex"
      crack "$target" test-vectors/search/none.list 1 "" ;;
  esac
done < "$work/targets"

# A false positive: the Element export with its HMAC changed still decrypts to JSON under the
# right passphrase, so the line's check passes and hashcat reports a hit; the HMAC does not.
python3 - test-vectors/export/element-web-r1000.txt "$work/fp.txt" <<'EOF'
import base64, re, sys
text = open(sys.argv[1]).read()
body = re.search(r"-----BEGIN MEGOLM SESSION DATA-----(.*)-----END MEGOLM SESSION DATA-----", text, re.S).group(1)
raw = bytearray(base64.b64decode("".join(body.split())))
raw[-1] ^= 1
b64 = base64.b64encode(bytes(raw)).decode()
lines = [b64[i:i + 96] for i in range(0, len(b64), 96)]
open(sys.argv[2], "w").write("-----BEGIN MEGOLM SESSION DATA-----\n" + "\n".join(lines) + "\n-----END MEGOLM SESSION DATA-----\n")
EOF
rc=0
hashcat/crack.sh -o "$work/found" "$work/fp.txt" test-vectors/search/element-r1000.list --quiet >"$work/log" 2>&1 || rc=$?
if [ "$rc" -eq 1 ] && grep -q "false positive" "$work/log" && [ ! -e "$work/found" ]; then
  ok "a hit that fails the HMAC: reported as a false positive, exit 1, nothing written"
else
  bad "false positive: exit $rc"; tail -5 "$work/log"
fi

# Lines the modules must refuse, with the reason on stderr.
e_line="$("$MXKEYS" passphrase hashline test-vectors/export/element-web-r1000.txt)"
s_line="$("$MXKEYS" passphrase hashline test-vectors/ssss/jssdk-phrase-i1000.json)"
refuse() {
  local mode=$1 line=$2 want=$3 what=$4
  printf '%s\n' "$line" > "$work/refuse.hash"
  hashcat/build/hashcat/hashcat -m "$mode" -a 0 --potfile-disable "$work/refuse.hash" test-vectors/search/none.list >"$work/log" 2>&1 || true
  if grep -q -- "$want" "$work/log" && grep -q "No hashes loaded" "$work/log"; then
    ok "module $mode refuses $what"
  else
    bad "module $mode on $what"; tail -5 "$work/log"
  fi
}
refuse 94100 "${e_line/\$mxkeys\$1\$/\$mxkeys\$2\$}" "hash line version 2 is not supported" "a version-2 export line"
refuse 94110 "${s_line/\$mxkeys\$1\$/\$mxkeys\$2\$}" "hash line version 2 is not supported" "a version-2 phrase line"
refuse 94100 "$s_line" "use -m 94110" "a Security Phrase line"
refuse 94110 "$e_line" "use -m 94100" "an export line"
refuse 94100 "${e_line:0:-2}" "No hashes loaded" "a line cut short"

echo "hashcat: $pass passed, $fail failed in $((SECONDS - t0)) s"
[ "$fail" -eq 0 ]
