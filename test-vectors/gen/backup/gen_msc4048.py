"""MSC4048 (unstable) backup-MAC vectors: test-vectors/backup/msc4048/.

MSC4048 ("Authenticated key backup", matrix-org/matrix-spec-proposals PR #4048, latest text at
commit 20b767f5, 2023-11-23) adds to a session_data of a m.megolm_backup.v1.curve25519-aes-sha2
backup:

    backup_mac_key = HKDF-SHA-256(salt = none, IKM = backup private key, info = "MATRIX_BACKUP_MAC_KEY", 32)
    session_data.unsigned["org.matrix.msc4048.backup_mac"] =
        unpadded base64 of HMAC-SHA-256(backup_mac_key, canonical JSON of session_data without
        "unsigned" and "signatures")

No released peer writes it (matrix-rust-sdk main, matrix-sdk-crypto-wasm 18.9.0, matrix-js-sdk);
matrix-rust-sdk's unmerged PR #2659 does, and its one test vector (test_mac2_check, made by the
MSC's author with Python `canonicaljson` + `cryptography`) is copied here as
msc4048-rust-sdk-pr2659.json and checked by this independent implementation.

This script is that independent implementation, written from the MSC's text: `cryptography`'s HKDF
and HMAC, canonical JSON as json.dumps(sort_keys, compact, ensure_ascii=False); the v1 encryption
(X25519, HKDF, AES-CBC, empty-message mac) is refbackup.py's. It writes the vectors, then checks
every one of them again (statuses, plaintexts) and fails if anything disagrees.

Usage: test-vectors/gen/.venv/bin/python test-vectors/gen/backup/gen_msc4048.py
(the venv needs cryptography and pycryptodome, as for gen_backup.py). Keys are fixed; ephemeral
keys are random, so the body changes on each run, the check values do not.
"""
from __future__ import annotations

import base64
import copy
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, hmac as chmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import refbackup as ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "test-vectors", "backup", "msc4048")
FIELD = "org.matrix.msc4048.backup_mac"
MADE_BY = "test-vectors/gen/backup/gen_msc4048.py (Python cryptography HKDF/HMAC, written from MSC4048 at 20b767f5; v1 encryption by refbackup.py)"


def mac_key(private: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"MATRIX_BACKUP_MAC_KEY").derive(private)


def canonical(sd: dict) -> bytes:
    body = {k: v for k, v in sd.items() if k not in ("unsigned", "signatures")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def backup_mac(key: bytes, sd: dict) -> str:
    h = chmac.HMAC(key, hashes.SHA256())
    h.update(canonical(sd))
    return ref.b64(h.finalize())


def status(private: bytes, sd: dict) -> str:
    """authenticated | unauthenticated | mismatch, as MSC4048 reads a session_data."""
    u = sd.get("unsigned")
    if u is None or (isinstance(u, dict) and FIELD not in u):
        return "unauthenticated"
    if not isinstance(u, dict) or not isinstance(u[FIELD], str):
        return "mismatch"
    try:
        tag = ref.unb64(u[FIELD])
    except ValueError:
        return "mismatch"
    if len(tag) != 32:
        return "mismatch"
    h = chmac.HMAC(mac_key(private), hashes.SHA256())
    h.update(canonical(sd))
    try:
        h.verify(tag)
        return "authenticated"
    except Exception:  # cryptography.exceptions.InvalidSignature
        return "mismatch"


def session_id_of(session_key: str) -> str:
    raw = ref.unb64(session_key)
    # 0x01 (export) and 0x02 (sharing): version | index (4) | ratchet (128) | Ed25519 key (32) ...
    return ref.b64(raw[133:165])


def dump(name: str, value) -> None:
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
        f.write("\n")


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    private = bytes(range(1, 33))
    other = bytes(range(101, 133))
    public = ref.public_key(private)
    k, k_other = mac_key(private), mac_key(other)
    with open(os.path.join(ROOT, "test-vectors", "export", "sessions-basic.json")) as f:
        sessions = json.load(f)

    # Seven sessions of sessions-basic.json, one case each.
    cases = [
        ("authenticated", "authenticated", None),
        ("authenticated", "authenticated, unsigned also holds another property", "unsigned_extra"),
        ("authenticated", "authenticated, session_data has an extra property (covered by the MAC, sorted first) and a signatures property (not covered)", "extra_props"),
        ("authenticated", "authenticated, padded base64 MAC", "padded"),
        ("unauthenticated", "no unsigned: what every released client writes", "absent"),
        ("mismatch", "MAC of this key, one byte of the tag flipped", "flipped"),
        ("mismatch", "MAC made with another backup key's MAC key (HKDF of bytes 101..132)", "other_key"),
    ]
    assert len(cases) == len(sessions)
    rooms: dict = {}
    expected: dict = {}
    for s, (want, comment, how) in zip(sessions, cases):
        room, sid = s["room_id"], s["session_id"]
        plain = {kk: vv for kk, vv in s.items() if kk not in ("room_id", "session_id")}
        sd = ref.encrypt(public, json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode())
        if how == "extra_props":
            sd["a.example.first"] = {"n": 1, "list": [1, "é"]}
            sd["signatures"] = {"@bob:example.org": {"ed25519:BOBDEVICE": "not covered by the MAC"}}
        if how != "absent":
            key = k_other if how == "other_key" else k
            tag = backup_mac(key, sd)
            if how == "flipped":
                raw = bytearray(ref.unb64(tag))
                raw[7] ^= 0x01
                tag = ref.b64(bytes(raw))
            if how == "padded":
                tag = base64.b64encode(ref.unb64(tag)).decode()
                assert tag.endswith("=")
            sd["unsigned"] = {FIELD: tag}
            if how == "unsigned_extra":
                sd["unsigned"] = {"age": 5, FIELD: tag}
        got = status(private, sd)
        assert got == want, (comment, got)
        rooms.setdefault(room, {"sessions": {}})["sessions"][sid] = {
            "first_message_index": 0, "forwarded_count": 0, "is_verified": False, "session_data": sd}
        expected.setdefault(room, {})[sid] = {
            "status": want,
            "kind": None if want != "mismatch" else "backup_mac",
            "plaintext": plain if want != "mismatch" else None,
            "comment": comment,
        }
    body = {"rooms": rooms}
    # Check again, through the reference decryption: every session decrypts under the v1 rules
    # (its mac is the empty-message MAC), whatever its MSC4048 status.
    for room, r in body["rooms"].items():
        for sid, kbd in r["sessions"].items():
            _, obj, mac_kind = ref.decrypt(private, kbd["session_data"])
            assert mac_kind == "empty"
            assert session_id_of(obj["session_key"]) == sid
            e = expected[room][sid]
            assert status(private, kbd["session_data"]) == e["status"]
            if e["plaintext"] is not None:
                assert obj == e["plaintext"]
    dump("msc4048-keys.json", body)

    # matrix-rust-sdk PR #2659's test vector (test_mac2_check): the good KeyBackupData and the
    # bad one (two characters of the MAC swapped), filed under the session id of their key.
    pr = json.load(open(os.path.join(HERE, "msc4048-pr2659-test.json")))
    pr_key = ref.unb64(pr["key"])
    pr_body: dict = {"rooms": {}}
    pr_expected: dict = {}
    _, pr_plain, pr_mac_kind = ref.decrypt(pr_key, pr["good"]["session_data"])
    pr_sid = session_id_of(pr_plain["session_key"])
    for room, kbd in (("!good:example.org", pr["good"]), ("!bad:example.org", pr["bad"])):
        want = status(pr_key, kbd["session_data"])
        pr_body["rooms"][room] = {"sessions": {pr_sid: kbd}}
        pr_expected[room] = {pr_sid: {
            "status": want,
            "kind": None if want != "mismatch" else "backup_mac",
            "plaintext": pr_plain if want == "authenticated" else None,
            "comment": "matrix-rust-sdk PR #2659 test_mac2_check: " + ("the MAC its test accepts" if room.startswith("!good") else "the MAC its test refuses (two characters swapped)"),
        }}
    assert [v[pr_sid]["status"] for v in pr_expected.values()] == ["authenticated", "mismatch"], pr_expected
    dump("msc4048-rust-sdk-pr2659.json", pr_body)

    # Check values for `backup encrypt --msc4048` and the library's MAC: fixed session_data
    # objects (canonical-JSON corner cases included) and their MACs under the key of bytes 1..32.
    fixed = [
        {"ephemeral": "AAAA", "ciphertext": "BBBB", "mac": "CCCC"},
        {"mac": "m", "ciphertext": "c", "ephemeral": "e", "unsigned": {FIELD: "ignored", "x": 1},
         "signatures": {"@a:b": {"ed25519:D": "s"}}},
        {"ephemeral": "e", "ciphertext": "c", "mac": "m", "z": [1, -2, 9007199254740991, None, True],
         "é": "ü \u2028 \" \\ \n", "B": {"y": {}, "x": []}},
    ]
    checks = [{"session_data": sd, "canonical": canonical(sd).decode("utf-8"), "backup_mac": backup_mac(k, sd)}
              for sd in fixed]
    manifest = {
        "comment": "MSC4048 (unstable) backup-MAC vectors; see README.md beside this file",
        "made_by": MADE_BY,
        "msc": "matrix-org/matrix-spec-proposals PR #4048, proposals/4048-signed-key-backup.md at 20b767f5f4ac616b10237c2fb23a1b4bfc8baa3f",
        "construction": "backup_mac_key = HKDF-SHA-256(salt none, IKM = 32-byte backup private key, info 'MATRIX_BACKUP_MAC_KEY', 32 bytes); session_data.unsigned['org.matrix.msc4048.backup_mac'] = unpadded base64(HMAC-SHA-256(backup_mac_key, canonical JSON of session_data without 'unsigned' and 'signatures'))",
        "field": FIELD,
        "backups": [
            {"file": "msc4048-keys.json", "private_key": ref.b64(private),
             "recovery_key": ref.encode_recovery_key(private), "public_key": ref.b64(public),
             "mac_key_hex": k.hex(), "sessions": expected, "made_by": MADE_BY,
             "comment": "sessions-basic.json (7 sessions, 3 rooms), one case each"},
            {"file": "msc4048-rust-sdk-pr2659.json", "private_key": ref.b64(pr_key),
             "recovery_key": ref.encode_recovery_key(pr_key), "public_key": ref.b64(ref.public_key(pr_key)),
             "mac_key_hex": mac_key(pr_key).hex(), "sessions": pr_expected,
             "made_by": "matrix-rust-sdk PR #2659 (branch signed_backup, cdc025eb58b988f20b849e08a812c7e27ac721b3), crates/matrix-sdk-crypto/src/backups/keys/decryption.rs test_mac2_check; statuses by " + MADE_BY,
             "comment": "the one peer-made MSC4048 MAC found; a KeyBackupData of its own test, filed in two rooms under the session id of its key"},
        ],
        "check_values": {"private_key": ref.b64(private), "recovery_key": ref.encode_recovery_key(private),
                         "mac_key_hex": k.hex(), "other_private_key": ref.b64(other),
                         "other_mac_key_hex": k_other.hex(), "macs": checks},
    }
    dump("manifest.json", manifest)
    print(f"wrote {OUT}: {sum(len(v) for v in expected.values())} + 2 sessions, {len(checks)} check values")


if __name__ == "__main__":
    main()
