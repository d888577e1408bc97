"""Python side of test-vectors/interop/backup.sh: python-olm, vodozemac, mautrix and the
reference (test-vectors/gen/backup/refbackup.py), run with test-vectors/gen/backup/.venv.

  peer.py make-keys OUT.json               recovery keys made by mautrix (python-olm / vodozemac keys)
  peer.py public KEY                       {"olm": pub, "vodozemac": pub, "mautrix_decodes": bool}
  peer.py decrypt PEER BACKUP.json KEY OUT.json
                                           PEER = python-olm | vodozemac | reference; every session of a
                                           PUT/GET /room_keys/keys body -> {room: {sid: plaintext}}
  peer.py compare GOT.json WANT.json       GOT: {room: {sid: obj}} or an export-format array;
                                           WANT: the same, or an export-format array (room_id/session_id dropped)
  peer.py shape BACKUP.json SESSIONS.json  is BACKUP a well-formed PUT /room_keys/keys body for SESSIONS?
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "gen" / "backup"))

import refbackup as ref  # noqa: E402


def load_key(text: str) -> bytes:
    verdict, priv = ref.check_recovery_key(text)
    if verdict != "ok":
        raise SystemExit(f"recovery key: {verdict}")
    return priv


def as_map(doc) -> dict:
    """{room: {sid: plaintext}} from that map itself or from an export-format array."""
    if isinstance(doc, list):
        m: dict = {}
        for s in doc:
            m.setdefault(s["room_id"], {})[s["session_id"]] = {k: v for k, v in s.items()
                                                                 if k not in ("room_id", "session_id")}
        return m
    return doc


def decrypt(peer: str, priv: bytes, sd: dict) -> dict:
    if peer == "python-olm":
        import olm.pk
        from gen_backup import olm_from_private
        d = olm_from_private(priv)
        pt = d.decrypt(olm.pk.PkMessage(sd["ephemeral"], sd["mac"], sd["ciphertext"]), unicode_errors="strict")
        return json.loads(pt)
    if peer == "vodozemac":
        import vodozemac as vz
        d = vz.PkDecryption.from_key(vz.Curve25519SecretKey.from_bytes(priv))
        return json.loads(d.decrypt(vz.Message.from_base64(sd["ciphertext"], sd["mac"], sd["ephemeral"])))
    if peer == "reference":
        return ref.decrypt(priv, sd)[1]
    raise SystemExit(f"unknown peer {peer}")


def main(argv: list[str]) -> int:
    cmd, *args = argv
    if cmd == "make-keys":
        import olm.pk
        import vodozemac as vz
        from gen_backup import MAUTRIX, OLM, VZ, olm_private
        from mautrix.crypto.ssss.util import encode_base58_recovery_key
        d = olm.pk.PkDecryption()
        sk = vz.Curve25519SecretKey()
        priv3 = os.urandom(32)
        keys = [
            {"made_by": f"{OLM} PkDecryption() + {MAUTRIX} encode", "public_key": d.public_key,
             "recovery_key": encode_base58_recovery_key(olm_private(d))},
            {"made_by": f"{VZ} Curve25519SecretKey() + {MAUTRIX} encode", "public_key": sk.public_key().to_base64(),
             "recovery_key": encode_base58_recovery_key(sk.to_bytes())},
            {"made_by": f"{MAUTRIX} encode (random bytes; public key from the reference)",
             "public_key": ref.b64(ref.public_key(priv3)), "recovery_key": encode_base58_recovery_key(priv3)},
        ]
        Path(args[0]).write_text(json.dumps(keys, indent=2))
        return 0
    if cmd == "public":
        from gen_backup import olm_from_private, vz_public
        from mautrix.crypto.ssss.util import decode_base58_recovery_key
        try:
            m = decode_base58_recovery_key(args[0])
        except ValueError:
            m = None
        verdict, priv = ref.check_recovery_key(args[0])
        res = {"mautrix_decodes": m is not None, "reference": verdict}
        if priv is not None:
            res |= {"olm": olm_from_private(priv).public_key, "vodozemac": vz_public(priv),
                    "mautrix_same_bytes": m == priv}
        print(json.dumps(res))
        return 0
    if cmd == "decrypt":
        peer, file, key, out = args
        priv = load_key(key)
        body = json.loads(Path(file).read_text())
        res, errors = {}, []
        for room, r in body.get("rooms", {}).items():
            for sid, kd in r.get("sessions", {}).items():
                try:
                    res.setdefault(room, {})[sid] = decrypt(peer, priv, kd["session_data"])
                except Exception as e:  # any peer error is a failed session
                    errors.append(f"{room} {sid}: {type(e).__name__}: {e}")
        Path(out).write_text(json.dumps(res, indent=2, ensure_ascii=False))
        for e in errors:
            print(f"{peer}: {e}", file=sys.stderr)
        return 1 if errors else 0
    if cmd == "compare":
        got = as_map(json.loads(Path(args[0]).read_text()))
        want = as_map(json.loads(Path(args[1]).read_text()))
        if got == want:
            return 0
        gk = {(r, s) for r in got for s in got[r]}
        wk = {(r, s) for r in want for s in want[r]}
        if gk != wk:
            print(f"sessions differ: missing {sorted(wk - gk)[:3]}, extra {sorted(gk - wk)[:3]}", file=sys.stderr)
        for r, s in sorted(gk & wk):
            if got[r][s] != want[r][s]:
                a, b = got[r][s], want[r][s]
                keys = sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))
                print(f"{r} {s}: fields differ: {keys}", file=sys.stderr)
                break
        return 1
    if cmd == "shape":
        body = json.loads(Path(args[0]).read_text())
        sessions = json.loads(Path(args[1]).read_text())
        problems = []
        if set(body) != {"rooms"}:
            problems.append(f"top-level keys {sorted(body)}")
        for s in sessions:
            kd = body.get("rooms", {}).get(s["room_id"], {}).get("sessions", {}).get(s["session_id"])
            if kd is None:
                problems.append(f"{s['room_id']} {s['session_id']} missing")
                continue
            index = int.from_bytes(ref.unb64(s["session_key"])[1:5], "big")
            if not isinstance(kd.get("is_verified"), bool) or kd.get("first_message_index") != index \
                    or kd.get("forwarded_count") != len(s.get("forwarding_curve25519_key_chain", [])):
                problems.append(f"{s['session_id']}: KeyBackupData {({k: v for k, v in kd.items() if k != 'session_data'})}")
            sd = kd.get("session_data", {})
            if set(sd) != {"ephemeral", "ciphertext", "mac"} or any(not isinstance(v, str) or "=" in v for v in sd.values()):
                problems.append(f"{s['session_id']}: session_data {sorted(sd)} (three unpadded base64 strings expected)")
        for p in problems[:5]:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
