#!/usr/bin/env bash
# Run every fuzz target (or the ones named) for SECONDS each, one at a time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]       default 60 s, every target
#
# Needs a nightly toolchain (`cargo +nightly`) and cargo-fuzz (installed here if missing). Without
# nightly it says so and exits 0, so CI can call it unconditionally; FUZZ_TOOLCHAIN=stable uses
# RUSTC_BOOTSTRAP=1 instead. FUZZ_JOBS (default 1) is libFuzzer's -jobs/-workers; FUZZ_ARGS adds
# libFuzzer flags.
#
# Corpora live in fuzz/corpus/TARGET (committed, minimized with `cargo fuzz cmin`) and are seeded
# from test-vectors/ on each run; crashes land in fuzz/artifacts/TARGET: copy each into
# fuzz/regressions/TARGET/ so that `cargo test --test fuzz_corpus` (for kdf_lanes: `cargo test
# --lib kdf::check`) replays it forever. Each run's executions and coverage are appended to
# fuzz/logs/run-*.log (not committed).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
toolchain=${FUZZ_TOOLCHAIN:-nightly}
jobs=${FUZZ_JOBS:-1}
if [ "$toolchain" = nightly ] && ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: no nightly toolchain (rustup toolchain install nightly); skipping the fuzz run" >&2
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
run() {
  if [ "$toolchain" = nightly ]; then cargo +nightly fuzz "$@"; else RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; fi
}
tv=../test-vectors
seed() {  # seed TARGET FILES...: copy test vectors (and regressions) into the corpus
  local t=$1; shift
  mkdir -p "corpus/$t"
  for f in "$@"; do [ -f "$f" ] && cp "$f" "corpus/$t/seed-$(basename "$f")"; done
  # Open bugs (known-bug-*) would stop the run at once; FUZZ_ARGS="-fork=1 -ignore_crashes=1"
  # fuzzes past them.
  if [ -d "regressions/$t" ]; then
    find "regressions/$t" -type f ! -name 'known-bug-*' -exec cp {} "corpus/$t/" \;
  fi
}
seed armor $tv/export/*.txt
seed export_decrypt $tv/export/*.txt
seed export_plaintext $tv/export/*.json
seed session_json $tv/export/*.json
seed recovery_key $tv/malformed/rk-*.txt
seed backup_entries $tv/backup/*.json $tv/malformed/backup-*.json
seed backup_session_data $tv/backup/*.json $tv/malformed/backup-*.json
seed ssss_account_data $tv/ssss/*.json $tv/malformed/ssss-*.json
seed attachment_info $tv/attachment/*.json $tv/malformed/att-*.json
seed attachment_stream
seed megolm_session_key
seed export_roundtrip $tv/export/sessions-*.json
seed attachment_roundtrip $tv/attachment/*-17.json
seed backup_roundtrip $tv/backup/olm-session-data.json
seed ssss_roundtrip $tv/ssss/jssdk-security-key.json
seed identity_qr $tv/identity/qr/*.bin
seed identity_qr_image $tv/identity/qr-images/*.png $tv/identity/qr-images/*.jpg
seed canonical_json $tv/identity/*.json $tv/identity/*/*.json
seed megolm_message
seed kdf_lanes
seed merge $tv/megolm/*.json
seed events
seed cross_signing $tv/identity/keys-query/*.json
seed dehydrated_device $tv/dehydrated/device*.json
seed dehydrated_events $tv/dehydrated/events-*.json
# merge and events: files joined with 0xFF bytes (never in JSON text), as the targets cut them.
joined() {  # joined TARGET NAME FILES...
  local t=$1 name=$2; shift 2
  local first=1
  for f in "$@"; do [ -f "$f" ] || return 0; done
  for f in "$@"; do
    [ $first = 1 ] || printf '\377'
    first=0
    cat "$f"
  done > "corpus/$t/seed-$name"
}
m=$tv/megolm
joined merge devices $m/valid-laptop.json $m/valid-phone.json $m/valid-old-backup.json
joined merge ratchets $m/merge-fake-ratchet.json $m/valid-old-backup.json $m/merge-ratchet-flip.json
joined merge forwarded $m/merge-forwarded-long.json $m/merge-forwarded-short.json $m/merge-untrusted.json
joined merge mixed $m/valid-signed.json $m/warn-duplicate.json $m/invalid-mixed.json
joined merge history $m/valid-shared-history.json $m/valid-olm.json $m/valid-laptop.json
e=$tv/events
joined events wasm $e/wasm-keys.json $e/wasm-events.json
joined events wasm-messages $e/wasm-keys.json $e/wasm-messages.json
joined events vodozemac $e/vodozemac-keys.json $e/vodozemac-events.json
joined events vodozemac-jsonl $e/vodozemac-keys.json $e/vodozemac-events.jsonl
joined events gen $e/gen-keys.json $e/gen-events.json
# attachment_stream: a mode byte and a chunk-size byte, then a download whose hash matches.
for f in $tv/attachment/wasm-17.bin $tv/attachment/nio-3000.bin; do
  [ -f "$f" ] && { printf '\000\007'; cat "$f"; } > "corpus/attachment_stream/seed-$(basename "$f")"
done
# megolm_session_key: raw bytes of session keys found in the vectors (0x01 and 0x02).
if command -v python3 >/dev/null; then
  python3 - "$tv" <<'EOF'
import base64, json, pathlib, re, sys
tv = pathlib.Path(sys.argv[1])
keys = set()
for p in sorted(tv.glob("*/*.json")):
    for m in re.finditer(r'"session_key"\s*:\s*"([A-Za-z0-9+/=]{200,})"', p.read_text(errors="replace")):
        keys.add(m.group(1))
def b64(t):
    return base64.b64decode(t + "=" * (-len(t) % 4))
out = pathlib.Path("corpus/megolm_session_key")
for k in sorted(keys):
    raw = b64(k)
    (out / f"seed-{raw[0]:02x}-{k[6:22].replace('/', '_').replace('+', '-')}").write_bytes(raw)
# megolm_message: the decoded ciphertexts of real m.room.encrypted events
cts = set()
for p in sorted(tv.glob("events/*.json")):
    cts.update(re.findall(r'"ciphertext"\s*:\s*"(Aw[A-Za-z0-9+/=]+)"', p.read_text(errors="replace")))
out = pathlib.Path("corpus/megolm_message")
for i, c in enumerate(sorted(cts)[:60]):
    (out / f"seed-{i:02d}").write_bytes(b64(c))
EOF
fi
dict_for() {
  case $1 in
    armor|export_decrypt) echo armor ;;
    export_plaintext|session_json|backup_entries|backup_session_data|ssss_account_data|attachment_info|merge|events|cross_signing|dehydrated_device|dehydrated_events) echo json ;;
    recovery_key) echo recovery_key ;;
  esac
}
mkdir -p logs
log=$PWD/logs/run-$(date +%Y%m%d-%H%M%S).log
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then mapfile -t targets < <(run list); fi
for t in "${targets[@]}"; do
  echo "== $t: ${secs}s (log: $log)"
  mkdir -p "corpus/$t"
  args=(-max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
  d=$(dict_for "$t")
  if [ -n "$d" ]; then args+=(-dict="$PWD/dict/$d.dict"); fi
  # -jobs=1 would move the output into fuzz-0.log; one job runs in the foreground instead.
  if [ "$jobs" -gt 1 ]; then args+=(-jobs="$jobs" -workers="$jobs"); fi
  # shellcheck disable=SC2206 # FUZZ_ARGS is a list of libFuzzer flags
  args+=(${FUZZ_ARGS:-})
  echo "== $t" >>"$log"
  set +e
  run run "$t" "corpus/$t" -- "${args[@]}" >>"$log" 2>&1
  rc=$?
  set -e
  sed -n "/^== $t\$/,\$p" "$log" | grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|SUMMARY|Test unit written' || true
  if [ $rc -ne 0 ]; then
    echo "fuzz/run.sh: $t failed (exit $rc): see fuzz/artifacts/$t and $log" >&2
    exit 1
  fi
done
