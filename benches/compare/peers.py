"""The Python peers of benches/compare/run.sh, each timed inside its own process.

Run with the interpreter of the test-vectors/gen folder that has the peer installed (run.sh
installs them with those folders' install.sh; nothing is installed here):

  gen/.venv             python peers.py gen-sessions N OUT.json
                        python peers.py export-decrypt nio FILE OUT REPS BUDGET
  any python3           python peers.py pbkdf2 ROUNDS REPS BUDGET
  gen/backup/.venv      python peers.py backup-decrypt olm|vodozemac PRIV_B64 BACKUP OUT REPS BUDGET
  gen/attachment/.venv  python peers.py attachment-decrypt nio CT INFO OUT REPS BUDGET
                        python peers.py attachment-encrypt nio IN OUT INFO_OUT REPS BUDGET

Secrets come from MXKEYS_PASSPHRASE. Each timed run goes from reading the input file to having
written the output file (no fsync), without interpreter start and imports. Runs repeat REPS
times, or until BUDGET seconds have been spent. Prints one JSON line: {"peer", "times": [...]
(wall seconds), "cpu": [...] (user + system seconds of the process), "count", "max_rss_kb"}
(max_rss_kb: the whole process, interpreter included).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import resource
import sys
import time
from importlib.metadata import version
from pathlib import Path

GEN = Path(__file__).resolve().parent.parent.parent / "test-vectors" / "gen"


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode().rstrip("=")


def unb64(s: str) -> bytes:
    return base64.b64decode(s + "=" * (-len(s) % 4))


CPU: list[float] = []  # user + system seconds of this process (all threads) per run


def repeat(fn, reps: int, budget: float) -> tuple[list[float], object]:
    times: list[float] = []
    result = None
    spent = 0.0
    while len(times) < reps and (not times or spent < budget):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        CPU.append(time.process_time() - c)
        times.append(time.perf_counter() - t)
        spent += times[-1]
    return times, result


def report(peer: str, times: list[float], count) -> None:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peer": peer, "times": times, "cpu": CPU, "count": count, "max_rss_kb": rss}))


# ------------------------------------------------------------------ inputs
def gen_sessions(n: int, out: str) -> None:
    """n sessions with real megolm keys: export format 0x01 | index 0 | random ratchet | a fresh
    Ed25519 public key, whose base64 is the session_id (every peer parses the key)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def ed25519() -> bytes:
        return Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    devices = [(os.urandom(32), ed25519()) for _ in range(50)]
    sessions = []
    for i in range(n):
        pub = ed25519()
        curve, device = devices[i % len(devices)]
        sessions.append({
            "algorithm": "m.megolm.v1.aes-sha2",
            "room_id": f"!room{i % 300}:example.org",
            "sender_key": b64(curve),
            "sender_claimed_keys": {"ed25519": b64(device)},
            "session_id": b64(pub),
            "session_key": b64(b"\x01" + bytes(4) + os.urandom(128) + pub),
            "forwarding_curve25519_key_chain": [],
        })
    Path(out).write_text(json.dumps(sessions, separators=(",", ":")))


# ------------------------------------------------------------------ export
def export_decrypt_nio(file: str, out: str, reps: int, budget: float) -> None:
    from nio.crypto import key_export

    passphrase = os.environ["MXKEYS_PASSPHRASE"]

    def run():
        plain = key_export.decrypt_and_read(file, passphrase)
        n = len(json.loads(plain))
        Path(out).write_bytes(plain)
        return n

    times, n = repeat(run, reps, budget)
    report(f"matrix-nio {version('matrix-nio')} key_export.decrypt_and_read (pycryptodome {version('pycryptodome')})", times, n)


def pbkdf2(rounds: int, reps: int, budget: float) -> None:
    import ssl

    times, _ = repeat(lambda: hashlib.pbkdf2_hmac("sha512", b"correct horse battery staple", b"\x07" * 16, rounds, 64), reps, budget)
    report(f"Python {sys.version.split()[0]} hashlib.pbkdf2_hmac ({ssl.OPENSSL_VERSION})", times, rounds)


# ------------------------------------------------------------------ backup
def olm_key(priv: bytes):
    """python-olm has no constructor from a private key: libolm's olm_pk_key_from_private through
    its cffi handle, as test-vectors/gen/backup/gen_backup.py does."""
    import olm.pk

    ffi, lib = olm.pk.ffi, olm.pk.lib
    obj = olm.pk.PkDecryption.__new__(olm.pk.PkDecryption)
    n = lib.olm_pk_key_length()
    buf = ffi.new("char[]", n)
    obj._check_error(lib.olm_pk_key_from_private(obj._pk_decryption, buf, n, ffi.new("char[]", priv), len(priv)))
    obj.public_key = ffi.unpack(buf, n).decode()
    return obj


def backup_decrypt(peer: str, priv_b64: str, backup: str, out: str, reps: int, budget: float) -> None:
    priv = unb64(priv_b64)
    if peer == "olm":
        import olm.pk

        def decryptor():
            key = olm_key(priv)
            return lambda sd: key.decrypt(olm.pk.PkMessage(sd["ephemeral"], sd["mac"], sd["ciphertext"]), unicode_errors="strict")

        name = f"python-olm {version('python-olm')} PkDecryption.decrypt"
    elif peer == "vodozemac":
        import vodozemac as vz

        def decryptor():
            key = vz.PkDecryption.from_key(vz.Curve25519SecretKey.from_bytes(priv))
            return lambda sd: key.decrypt(vz.Message.from_base64(sd["ciphertext"], sd["mac"], sd["ephemeral"]))

        name = f"vodozemac {version('vodozemac')} (Python) PkDecryption.decrypt"
    else:
        raise SystemExit(f"unknown peer {peer}")

    def run():
        dec = decryptor()
        doc = json.loads(Path(backup).read_text())
        sessions = []
        for room, body in doc["rooms"].items():
            for sid, kbd in body["sessions"].items():
                s = json.loads(dec(kbd["session_data"]))
                s["room_id"], s["session_id"] = room, sid
                sessions.append(s)
        Path(out).write_text(json.dumps(sessions))
        return len(sessions)

    times, n = repeat(run, reps, budget)
    report(name, times, n)


# ------------------------------------------------------------------ attachments
def attachment(op: str, args: list[str], reps: int, budget: float) -> None:
    sys.path.insert(0, str(GEN / "attachment"))
    import peers as att  # test-vectors/gen/attachment/peers.py

    if op == "decrypt":
        ct, info, out = args

        def run():
            file = att.pick_file(json.loads(Path(info).read_text()))
            data = Path(ct).read_bytes()
            plain = att.decrypt("nio", data, file)
            Path(out).write_bytes(plain)
            return len(plain)
    else:
        inp, out, info_out = args

        def run():
            data, info = att.encrypt("nio", Path(inp).read_bytes())
            Path(out).write_bytes(data)
            Path(info_out).write_text(json.dumps(info))
            return len(data)

    times, n = repeat(run, reps, budget)
    report(f"matrix-nio {version('matrix-nio')} attachments.{op}_attachment (pycryptodome {version('pycryptodome')})", times, n)


def main(argv: list[str]) -> int:
    op, *rest = argv
    if op == "gen-sessions":
        gen_sessions(int(rest[0]), rest[1])
    elif op == "export-decrypt" and rest[0] == "nio":
        export_decrypt_nio(rest[1], rest[2], int(rest[3]), float(rest[4]))
    elif op == "pbkdf2":
        pbkdf2(int(rest[0]), int(rest[1]), float(rest[2]))
    elif op == "backup-decrypt":
        backup_decrypt(rest[0], rest[1], rest[2], rest[3], int(rest[4]), float(rest[5]))
    elif op in ("attachment-decrypt", "attachment-encrypt") and rest[0] == "nio":
        attachment(op.split("-")[1], rest[1:4], int(rest[4]), float(rest[5]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
