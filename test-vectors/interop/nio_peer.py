"""One matrix-nio operation for interop/run.sh; the passphrase comes from PEER_PASSPHRASE.

    python nio_peer.py encrypt IN.json OUT.txt ROUNDS
    python nio_peer.py decrypt IN.txt OUT.json

Uses nio.crypto.key_export from test-vectors/gen/.venv. nio encodes the passphrase as
Latin-1 (its PyCryptodome bug), so only ASCII passphrases interoperate with UTF-8 writers.
"""
import os
import sys
from pathlib import Path

from nio.crypto import key_export


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[1] not in ("encrypt", "decrypt") or "PEER_PASSPHRASE" not in os.environ:
        print(__doc__, file=sys.stderr)
        return 2
    op, src, dst = sys.argv[1:4]
    passphrase = os.environ["PEER_PASSPHRASE"]
    if Path(dst).exists():
        print(f"{dst} exists", file=sys.stderr)
        return 2
    try:
        if op == "encrypt":
            key_export.encrypt_and_save(Path(src).read_bytes(), dst, passphrase, count=int(sys.argv[4]))
        else:
            Path(dst).write_bytes(key_export.decrypt_and_read(src, passphrase))
    except Exception as e:  # ValueError, UnicodeEncodeError, binascii.Error, ...
        print(f"nio {op} failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
