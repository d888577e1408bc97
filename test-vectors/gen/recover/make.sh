#!/usr/bin/env bash
# End-to-end vector for `mxkeys recover`: matrix-js-sdk secret storage (Security Phrase and
# Security Key) holding, as m.megolm_backup.v1, the backup key of the real
# matrix-sdk-crypto-wasm OlmMachine backup in test-vectors/backup/wasm-machine-keys.json.
# Uses the peers installed by test-vectors/gen/ssss (run its install.sh first).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
SSSS="$ROOT/test-vectors/gen/ssss"
OUT="$ROOT/test-vectors/recover"
[ -d "$SSSS/node_modules" ] || bash "$SSSS/install.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
node "$SSSS/gen_jssdk.mjs" identity "$work/identity.json"
python3 - "$work/identity.json" "$ROOT/test-vectors/backup/manifest.json" <<'PY'
import json, sys
ident_path, manifest = sys.argv[1], sys.argv[2]
m = json.load(open(manifest))
key = next(k for k in m["recovery_keys"] if k["expect"] == "ok" and "wasm-machine-keys.json" in k["comment"])
ident = json.load(open(ident_path))
ident["secrets"]["m.megolm_backup.v1"] = key["private_key"]
ident["public_keys"]["m.megolm_backup.v1"] = key["public_key"]
json.dump(ident, open(ident_path, "w"), indent=2)
PY
phrase="recover me at 2 a.m."
(cd "$SSSS" && node gen_jssdk.mjs account "$work/identity.json" "$OUT/jssdk-account.json" --passphrase "$phrase" --iterations 1000) > "$work/keys.json"
python3 - "$work/keys.json" "$OUT" "$phrase" <<'PY'
import json, sys
keys, out, phrase = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
k = keys["keys"][0]
manifest = {"vectors": [
  {"account_data": "jssdk-account.json", "backup": "../backup/wasm-machine-keys.json",
   "backup_version": "../backup/wasm-machine-version.json", "security_key": None, "passphrase": phrase,
   "sessions": "../backup/wasm-machine-keys.expected.json",
   "made_by": keys["made_by"] + " secret storage (Security Phrase, 1000 iterations) holding the backup key of a matrix-sdk-crypto-wasm OlmMachine backup",
   "comment": "recover with the Security Phrase"},
  {"account_data": "jssdk-account.json", "backup": "../backup/wasm-machine-keys.json",
   "backup_version": "../backup/wasm-machine-version.json", "security_key": k["security_key"], "passphrase": None,
   "sessions": "../backup/wasm-machine-keys.expected.json",
   "made_by": keys["made_by"], "comment": "recover with the Security Key of the same secret-storage key"},
]}
json.dump(manifest, open(out + "/manifest.json", "w"), indent=2)
open(out + "/manifest.json", "a").write("\n")
PY
echo "wrote $OUT"
