#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 60).
#
# Needs cargo-fuzz (installed here if missing) and a nightly toolchain (`cargo +nightly`); with
# only stable, set FUZZ_TOOLCHAIN=stable and RUSTC_BOOTSTRAP=1 is used instead. Corpora live in
# fuzz/corpus/TARGET and are seeded from test-vectors/ on each run; crashes land in
# fuzz/artifacts/TARGET: copy each into fuzz/regressions/TARGET/ with the fix, so that
# `cargo test --test fuzz_corpus` replays it forever.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
if [ "$toolchain" = nightly ] && ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: no nightly toolchain; set FUZZ_TOOLCHAIN=stable to use RUSTC_BOOTSTRAP=1" >&2
  exit 3
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
run() {
  if [ "$toolchain" = nightly ]; then cargo +nightly fuzz "$@"; else RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; fi
}
seed() {  # seed TARGET FILES...
  local t=$1; shift
  mkdir -p "corpus/$t"
  for f in "$@"; do [ -f "$f" ] && cp "$f" "corpus/$t/seed-$(basename "$f")"; done
  [ -d "regressions/$t" ] && cp regressions/"$t"/* "corpus/$t/" 2>/dev/null || true
}
seed armor ../test-vectors/export/*.txt
seed export_decrypt ../test-vectors/export/*.txt
seed export_plaintext ../test-vectors/export/*.json
seed session_json ../test-vectors/export/*.json
for t in $(run list); do
  echo "== $t: ${secs}s"
  run run "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10
done
