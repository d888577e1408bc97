#!/usr/bin/env bash
# Search a forgotten export passphrase or Security Phrase with hashcat, end to end:
#
#   hashcat/crack.sh [-o FILE] TARGET WORDLIST [HASHCAT_OPTION...]
#
#   TARGET    an export file (-----BEGIN MEGOLM SESSION DATA-----) or account data holding a
#             Security Phrase key (the default key)
#   WORDLIST  candidates, one per line (hashcat's straight mode; add -r RULES and the like after it)
#   -o FILE   write the confirmed passphrase to FILE (mode 0600) instead of the terminal
#
# Steps: `mxkeys passphrase hashline TARGET`; the hashcat that hashcat/build.sh made, on the best
# OpenCL device present (hashcat's default: the GPUs, or the CPU when there is none), in mode
# 94100 (export) or 94110 (Security Phrase), with a potfile of its own; then
# `mxkeys passphrase confirm`, which checks a hit against the whole target. An export hit that
# fails its HMAC (a false positive of the line's known-plaintext check, at most 2^-65.8 per
# candidate) makes it search the rest of the list with --keep-guessing.
#
# Exit: 0 a passphrase is confirmed (and shown, or written to FILE); 1 none in the list;
# 2 anything else (no hashcat build, bad target, hashcat error).
#
# Environment: MXKEYS (the mxkeys binary; default: mxkeys on PATH, else target/release/mxkeys),
# HASHCAT (default hashcat/build/hashcat/hashcat), HASHCAT_WORKDIR (default: a temporary folder).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "crack.sh: $*" >&2; exit 2; }

out=()
if [ "${1:-}" = "-o" ]; then
  [ $# -ge 2 ] || die "-o needs a file"
  out=(-o "$2")
  shift 2
fi
[ $# -ge 2 ] || die "usage: hashcat/crack.sh [-o FILE] TARGET WORDLIST [HASHCAT_OPTION...]"
target="$1" wordlist="$2"
shift 2
[ -r "$target" ] || die "cannot read TARGET $target"
[ -r "$wordlist" ] || die "cannot read WORDLIST $wordlist"

if [ -n "${MXKEYS:-}" ]; then mxkeys="$MXKEYS"
elif command -v mxkeys >/dev/null; then mxkeys="$(command -v mxkeys)"
else mxkeys="$here/../target/release/mxkeys"; fi
[ -x "$mxkeys" ] || die "no mxkeys binary: cargo build --release, or set MXKEYS"

hashcat="${HASHCAT:-$here/build/hashcat/hashcat}"
[ -x "$hashcat" ] || die "no hashcat with the mxkeys modules at $hashcat: run hashcat/build.sh first"

work="${HASHCAT_WORKDIR:-}"
if [ -z "$work" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi

# 1. The hash line (nothing secret in it). Its errors are mxkeys' own one-line errors.
"$mxkeys" passphrase hashline "$target" > "$work/target.hash" || exit 2
case "$(head -c 12 "$work/target.hash")" in
  '$mxkeys$1$e$') mode=94100 ;;
  '$mxkeys$1$s$') mode=94110 ;;
  *) die "mxkeys printed a line this script does not know: $(head -c 20 "$work/target.hash")" ;;
esac

# 2. hashcat. Its own potfile, so an earlier run's hits do not stop this one; exit 0 cracked,
# 1 exhausted, anything else an error.
run_hashcat() {
  local rc=0
  "$hashcat" -m "$mode" -a 0 --potfile-path "$work/hashcat.potfile" "$@" "$work/target.hash" "$wordlist" "${extra[@]}" >&2 || rc=$?
  case $rc in
    0|1) ;;
    *) die "hashcat failed (exit $rc); its messages are above" ;;
  esac
}
extra=("$@")
run_hashcat

# 3. Confirm against the whole target.
confirm() { "$mxkeys" passphrase confirm "$target" --potfile "$work/hashcat.potfile" "${out[@]}"; }
rc=0
confirm || rc=$?
if [ "$rc" -eq 1 ] && [ "$mode" = 94100 ] && [ -s "$work/hashcat.potfile" ]; then
  echo "crack.sh: the hit was a false positive; searching the rest of the list with --keep-guessing" >&2
  run_hashcat --keep-guessing
  rc=0
  confirm || rc=$?
fi
exit "$rc"
