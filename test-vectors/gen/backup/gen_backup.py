"""Python half of the backup / recovery-key vector generator (see ../../backup/README.md).

  python gen_backup.py          python-olm, vodozemac, mautrix and reference vectors, typo'd
                                recovery keys, failure cases, manifest.json
  python gen_backup.py --check  every manifest entry through the reference decoder/decryptor
                                (must reach exactly the manifest verdicts), python-olm and vodozemac

Needs .build/node.json from `node gen_backup.mjs` (generate mode).
"""
from __future__ import annotations

import base64
import copy
import json
import os
import platform
import sys
from importlib.metadata import version as pkg_version
from pathlib import Path

import base58
import olm.pk
import vodozemac as vz
from mautrix.crypto.ssss.util import decode_base58_recovery_key, encode_base58_recovery_key

import refbackup as ref

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "backup"
BUILD = HERE / ".build"
SESSIONS = HERE.parent.parent / "export" / "sessions-basic.json"

PY = f"Python {platform.python_version()}"
OLM = f"python-olm {pkg_version('python-olm')}"
VZ = f"vodozemac {pkg_version('vodozemac')} (Python binding)"
MAUTRIX = f"mautrix {pkg_version('mautrix')}"
REF = f"this generator's reference (refbackup.py: cryptography {pkg_version('cryptography')} X25519, pycryptodome {pkg_version('pycryptodome')} AES-CBC)"


# ------------------------------------------------------------------ peers
def olm_from_private(priv: bytes) -> olm.pk.PkDecryption:
    """python-olm has no constructor from a private key; call libolm's olm_pk_key_from_private
    through its cffi handle exactly as PkDecryption.__init__ does with random bytes."""
    ffi, lib = olm.pk.ffi, olm.pk.lib
    obj = olm.pk.PkDecryption.__new__(olm.pk.PkDecryption)
    n = lib.olm_pk_key_length()
    buf = ffi.new("char[]", n)
    obj._check_error(lib.olm_pk_key_from_private(obj._pk_decryption, buf, n, ffi.new("char[]", priv), len(priv)))
    obj.public_key = ffi.unpack(buf, n).decode()
    return obj


def olm_private(obj: olm.pk.PkDecryption) -> bytes:
    ffi, lib = olm.pk.ffi, olm.pk.lib
    n = lib.olm_pk_private_key_length()
    buf = ffi.new("char[]", n)
    obj._check_error(lib.olm_pk_get_private_key(obj._pk_decryption, buf, n))
    return ffi.unpack(buf, n)


def vz_public(priv: bytes) -> str:
    return vz.PkDecryption.from_key(vz.Curve25519SecretKey.from_bytes(priv)).public_key.to_base64()


def publics_agree(priv: bytes, expect: str | None = None) -> str:
    a = olm_from_private(priv).public_key
    b = vz_public(priv)
    c = ref.b64(ref.public_key(priv))
    if not a == b == c or (expect is not None and expect != a):
        raise SystemExit(f"public keys disagree: olm {a} vodozemac {b} ref {c} expected {expect}")
    return a


def olm_encrypt(pub: str, plaintext: str) -> dict:
    m = olm.pk.PkEncryption(pub).encrypt(plaintext)
    return {"ciphertext": m.ciphertext, "ephemeral": m.ephemeral_key, "mac": m.mac}


def vz_encrypt(pub: str, plaintext: bytes) -> dict:
    m = vz.PkEncryption.from_key(vz.Curve25519PublicKey.from_base64(pub)).encrypt(plaintext)
    # Message.to_base64() returns (ephemeral, mac, ciphertext), although Message.from_base64
    # takes (ciphertext, mac, ephemeral): use the raw byte fields to be safe.
    return {"ciphertext": ref.b64(m.ciphertext), "ephemeral": ref.b64(m.ephemeral_key), "mac": ref.b64(m.mac)}


def olm_decrypt(priv: bytes, sd: dict) -> str:
    d = olm_from_private(priv)
    return d.decrypt(olm.pk.PkMessage(sd["ephemeral"], sd["mac"], sd["ciphertext"]), unicode_errors="strict")


def vz_decrypt(priv: bytes, sd: dict) -> bytes:
    d = vz.PkDecryption.from_key(vz.Curve25519SecretKey.from_bytes(priv))
    return d.decrypt(vz.Message.from_base64(sd["ciphertext"], sd["mac"], sd["ephemeral"]))


# ------------------------------------------------------------------ helpers
def dump(name: str, obj) -> None:
    (OUT / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def load_sessions() -> list[dict]:
    return json.loads(SESSIONS.read_text())


def plaintext_of(s: dict) -> dict:
    return {k: v for k, v in s.items() if k not in ("room_id", "session_id")}


def key_backup_data(session_key: str, chain: list, sd: dict) -> dict:
    index = int.from_bytes(ref.unb64(session_key)[1:5], "big")
    return {"first_message_index": index, "forwarded_count": len(chain), "is_verified": False, "session_data": sd}


def build_backup(sessions: list[dict], encrypt) -> tuple[dict, dict]:
    """-> (GET /room_keys/keys body, expected {room: {sid: plaintext object}})."""
    body, expected = {"rooms": {}}, {}
    for s in sessions:
        pt = plaintext_of(s)
        sd = encrypt(pt)
        body["rooms"].setdefault(s["room_id"], {"sessions": {}})["sessions"][s["session_id"]] = key_backup_data(
            s["session_key"], s["forwarding_curve25519_key_chain"], sd)
        expected.setdefault(s["room_id"], {})[s["session_id"]] = pt
    return body, expected


def version_body(pub: str, version: str, count: int, signatures: dict | None = None) -> dict:
    auth = {"public_key": pub}
    if signatures is not None:
        auth["signatures"] = signatures
    return {"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": auth,
            "count": count, "etag": str(count), "version": version}


def flip_b64(s: str, byte_index: int, mask: int = 0x01) -> str:
    raw = bytearray(ref.unb64(s))
    raw[byte_index] ^= mask
    return ref.b64(bytes(raw))


# ------------------------------------------------------------------ recovery keys
def make_recovery_keys(node: dict) -> tuple[list[dict], dict]:
    """-> (manifest entries, {tag: entry}) for the ok keys, then typo'd ones."""
    ok = []
    for k in node["keys"]:
        priv = ref.unb64(k["private_key"])
        publics_agree(priv, k["public_key"])
        # three encoders must write the same string
        if encode_base58_recovery_key(priv) != k["recovery_key"] or ref.encode_recovery_key(priv) != k["recovery_key"]:
            raise SystemExit(f"encoders disagree for {k['tag']}")
        ok.append(dict(k))
    # python-olm PkDecryption() random key (as an old libolm client makes it), mautrix encodes it.
    for i in range(2):
        d = olm.pk.PkDecryption()
        priv = olm_private(d)
        ok.append({"tag": f"olm-{i}", "recovery_key": encode_base58_recovery_key(priv), "private_key": ref.b64(priv),
                   "public_key": publics_agree(priv, d.public_key),
                   "made_by": f"{OLM} PkDecryption() (olm_pk_get_private_key) + {MAUTRIX} encode_base58_recovery_key",
                   "comment": ["the key of olm-keys.json and its room/key_backup_data/session_data pieces",
                               "the key of fail-damaged-keys.json"][i]})
    # vodozemac random secret key, mautrix encodes it.
    sk = vz.Curve25519SecretKey()
    priv = sk.to_bytes()
    ok.append({"tag": "vodozemac-0", "recovery_key": encode_base58_recovery_key(priv), "private_key": ref.b64(priv),
               "public_key": publics_agree(priv, sk.public_key().to_base64()),
               "made_by": f"{VZ} Curve25519SecretKey() + {MAUTRIX} encode_base58_recovery_key",
               "comment": "the key of vodozemac-keys.json"})
    # mautrix alone (its own random bytes, as mautrix Key.generate does for SSSS keys).
    priv = os.urandom(32)
    ok.append({"tag": "mautrix-0", "recovery_key": encode_base58_recovery_key(priv), "private_key": ref.b64(priv),
               "public_key": publics_agree(priv),
               "made_by": f"{MAUTRIX} encode_base58_recovery_key (random 32 bytes; public key from {OLM} and {VZ})",
               "comment": "mautrix-encoded random key"})
    for k in ok:
        v, p = ref.check_recovery_key(k["recovery_key"])
        if v != "ok" or ref.b64(p) != k["private_key"] or decode_base58_recovery_key(k["recovery_key"]) != p:
            raise SystemExit(f"{k['tag']} does not decode")
        if len(k["recovery_key"]) != 59 or k["recovery_key"].count(" ") != 11:
            raise SystemExit(f"{k['tag']}: unexpected layout {k['recovery_key']!r}")
    by_tag = {k["tag"]: k for k in ok}
    entries = [{"recovery_key": k["recovery_key"], "expect": "ok", "private_key": k["private_key"],
                "public_key": k["public_key"], "correct": None, "made_by": k["made_by"], "comment": k["comment"]}
               for k in ok]

    # Whitespace variants: the spec says readers disregard whitespace.
    def ws(tag, text, comment):
        k = by_tag[tag]
        entries.append({"recovery_key": text, "expect": "ok", "private_key": k["private_key"],
                        "public_key": k["public_key"], "correct": None,
                        "made_by": f"whitespace transform of the {tag} key ({k['made_by'].split(' + ')[0]})",
                        "comment": comment})
    ws("jssdk-1", by_tag["jssdk-1"]["recovery_key"].replace(" ", ""), "no spaces at all")
    s = by_tag["olm-0"]["recovery_key"].replace(" ", "")
    ws("olm-0", "  " + " ".join(s[i:i + 6] for i in range(0, 24, 6)) + "\n\t" + s[24:] + " \n",
       "irregular whitespace: leading spaces, groups of 6, newline and tab, trailing space and newline")

    typos = []

    def typo(tag, text, expect, what):
        k = by_tag[tag]
        verdict, _ = ref.check_recovery_key(text)
        if verdict != expect:
            return False
        typos.append({"recovery_key": text, "expect": expect, "private_key": None, "public_key": None,
                      "correct": k["recovery_key"], "made_by": f"typo made by this generator from the {tag} key",
                      "comment": what})
        return True

    def spaced(chars: str) -> str:
        return " ".join(chars[i:i + 4] for i in range(0, len(chars), 4))

    # a character outside the alphabet, one key and one position each
    for (tag, pos), bad in zip([("jssdk-0", 5), ("wasm-1", 17), ("olm-1", 30), ("mautrix-0", 44)], "0OIl"):
        c = list(by_tag[tag]["recovery_key"].replace(" ", ""))
        was = c[pos]
        c[pos] = bad
        assert typo(tag, spaced("".join(c)), "bad_char", f"character {pos + 1} {was!r} typed as {bad!r} (not in the base58 alphabet)")
    # one character deleted / one extra
    c = by_tag["jssdk-2"]["recovery_key"].replace(" ", "")
    assert typo("jssdk-2", spaced(c[:20] + c[21:]), "bad_length",
                f"character 21 ({c[20]!r}) deleted: 47 characters (still decodes to 35 bytes, with a wrong prefix)")
    c = by_tag["wasm-2"]["recovery_key"].replace(" ", "")
    assert typo("wasm-2", spaced(c[:33] + c[32] + c[33:]), "bad_length",
                f"character 33 ({c[32]!r}) typed twice: 49 characters")
    c = by_tag["vodozemac-0"]["recovery_key"].replace(" ", "")
    assert typo("vodozemac-0", spaced(c[:47]), "bad_length", "last character missing")
    # wrong prefix: re-encoded with a different prefix and a correct parity byte
    k = by_tag["wasm-0"]
    priv = ref.unb64(k["private_key"])
    assert typo("wasm-0", ref.encode_recovery_key(priv, b"\x8c\x01"), "bad_prefix",
                "same key re-encoded with prefix 8C 01 and a correct parity byte")
    k = by_tag["olm-0"]
    assert typo("olm-0", ref.encode_recovery_key(ref.unb64(k["private_key"]), b"\x8b\x02"), "bad_prefix",
                "same key re-encoded with prefix 8B 02 (a 'version 2') and a correct parity byte")
    # a 31-byte key with prefix and parity right: only the length is wrong
    raw = b"\x8b\x01" + ref.unb64(by_tag["mautrix-0"]["private_key"])[:31]
    assert typo("mautrix-0", spaced(base58.b58encode(raw + bytes([ref.parity(raw)])).decode()), "bad_length",
                "prefix 8B 01 + the first 31 key bytes + correct parity: 34 bytes, 47 characters")
    # single substitution that breaks parity
    for tag in ("jssdk-1", "olm-1"):
        c = list(by_tag[tag]["recovery_key"].replace(" ", ""))
        for pos in range(24, 48):
            was = c[pos]
            c2 = c.copy()
            c2[pos] = ref.ALPHABET[(ref.ALPHABET.index(was) + 1) % 58]
            if typo(tag, spaced("".join(c2)), "bad_parity",
                    f"character {pos + 1} {was!r} typed as {c2[pos]!r}: still 48 characters / 35 bytes, prefix intact, parity wrong"):
                break
    # two adjacent characters transposed
    for tag in ("wasm-1", "mautrix-0"):
        c = list(by_tag[tag]["recovery_key"].replace(" ", ""))
        for pos in range(12, 47):
            if c[pos] == c[pos + 1]:
                continue
            c2 = c.copy()
            c2[pos], c2[pos + 1] = c2[pos + 1], c2[pos]
            if typo(tag, spaced("".join(c2)), "bad_parity",
                    f"characters {pos + 1} and {pos + 2} ({c[pos]}{c[pos + 1]}) transposed: parity wrong"):
                break
    return entries + typos, by_tag


# ------------------------------------------------------------------ backups
def make_backups(node: dict, keys: dict) -> list[dict]:
    sessions = load_sessions()
    entries = []

    def entry(file, shape, rk_tag, expect, sessions_file, made_by, comment, mac_kind="empty",
              room_id=None, session_id=None, auth_data=None, failures=(), recovery_key=None):
        entries.append({"file": file, "shape": shape, "room_id": room_id, "session_id": session_id,
                        "recovery_key": recovery_key or keys[rk_tag]["recovery_key"], "auth_data": auth_data,
                        "expect": expect, "sessions": sessions_file, "failures": list(failures),
                        "mac_kind": mac_kind, "made_by": made_by, "comment": comment})

    # 1. the real wasm OlmMachine backup (written by gen_backup.mjs)
    machine = node["machine"]
    entry("wasm-machine-keys.json", "keys", "wasm-0", "ok", "wasm-machine-keys.expected.json", machine["made_by"],
          f"{machine['count']} outbound sessions of a real OlmMachine (@bob:example.org BOBDEVICE) in 3 rooms, "
          "one room with Joined history visibility (m.shared_history false); the PUT body as backupRoomKeys() made it",
          auth_data="wasm-machine-version.json")

    # 2. python-olm over sessions-basic.json
    olm_key = keys["olm-0"]
    olm_body, olm_expected = build_backup(sessions, lambda pt: olm_encrypt(olm_key["public_key"], compact(pt)))
    dump("olm-keys.json", olm_body)
    dump("olm-keys.expected.json", olm_expected)
    dump("olm-version.json", version_body(olm_key["public_key"], "7", len(sessions)))
    entry("olm-keys.json", "keys", "olm-0", "ok", "olm-keys.expected.json", f"{OLM} PkEncryption.encrypt ({PY})",
          "the 7 sessions of test-vectors/export/sessions-basic.json (3 rooms), each plaintext the session minus "
          "room_id/session_id as compact JSON; auth_data without signatures (as a server returns an unsigned backup)",
          auth_data="olm-version.json")

    # 2b. the other shapes, cut from the python-olm backup
    room = "!beta:example.org"
    dump("olm-room.json", olm_body["rooms"][room])
    dump("olm-room.expected.json", {room: olm_expected[room]})
    entry("olm-room.json", "room", "olm-0", "ok", "olm-room.expected.json", f"{OLM} PkEncryption.encrypt ({PY})",
          "GET /room_keys/keys/{roomId} body: {\"sessions\": {...}} for one room", room_id=room)
    room, sid = "!gamma:example.org", sessions[5]["session_id"]
    dump("olm-key-backup-data.json", olm_body["rooms"][room]["sessions"][sid])
    dump("olm-key-backup-data.expected.json", {room: {sid: olm_expected[room][sid]}})
    entry("olm-key-backup-data.json", "key_backup_data", "olm-0", "ok", "olm-key-backup-data.expected.json",
          f"{OLM} PkEncryption.encrypt ({PY})", "GET /room_keys/keys/{roomId}/{sessionId} body: one KeyBackupData",
          room_id=room, session_id=sid)
    room, sid = "!alpha:example.org", sessions[1]["session_id"]
    dump("olm-session-data.json", olm_body["rooms"][room]["sessions"][sid]["session_data"])
    dump("olm-session-data.expected.json", {room: {sid: olm_expected[room][sid]}})
    entry("olm-session-data.json", "session_data", "olm-0", "ok", "olm-session-data.expected.json",
          f"{OLM} PkEncryption.encrypt ({PY})", "a bare session_data object {ephemeral, ciphertext, mac}",
          room_id=room, session_id=sid)

    # 2c. padded base64 transform of the python-olm backup
    def pad(s):
        return s + "=" * (-len(s) % 4)
    padded = copy.deepcopy(olm_body)
    for r in padded["rooms"].values():
        for kd in r["sessions"].values():
            kd["session_data"] = {k: pad(v) for k, v in kd["session_data"].items()}
    dump("olm-keys-padded.json", padded)
    entry("olm-keys-padded.json", "keys", "olm-0", "ok", "olm-keys.expected.json",
          f"{OLM} PkEncryption.encrypt, then ephemeral/ciphertext/mac re-written as padded base64 by this generator",
          "padded base64 in session_data: wasm and vodozemac accept it, python-olm (libolm) refuses it with "
          "INVALID_BASE64; a reader should accept both")

    # 3. vodozemac, plus one session whose session_key is in the signed 0x02 sharing format
    vz_key = keys["vodozemac-0"]
    extra = []
    acct, gs = vz.Account(), vz.GroupSession()
    gs.encrypt(b"advance the ratchet once")
    sk02 = gs.session_key.to_base64()
    assert len(ref.unb64(sk02)) == 229 and ref.unb64(sk02)[0] == 2
    extra.append({"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!delta:example.org",
                  "sender_key": acct.curve25519_key.to_base64(), "session_id": gs.session_id, "session_key": sk02,
                  "sender_claimed_keys": {"ed25519": acct.ed25519_key.to_base64()},
                  "forwarding_curve25519_key_chain": [], "m.shared_history": False})
    vz_body, vz_expected = build_backup(sessions + extra,
                                        lambda pt: vz_encrypt(vz_key["public_key"], compact(pt).encode()))
    dump("vodozemac-keys.json", vz_body)
    dump("vodozemac-keys.expected.json", vz_expected)
    entry("vodozemac-keys.json", "keys", "vodozemac-0", "ok", "vodozemac-keys.expected.json",
          f"{VZ} PkEncryption.encrypt ({PY})",
          "sessions-basic.json's 7 sessions, plus in !delta:example.org a vodozemac GroupSession whose session_key is "
          "the spec's signed session-sharing format (0x02, 229 bytes, first_message_index 1)")

    # 4. MSC4048: MAC over the ciphertext (reference writer)
    ref_key = keys["jssdk-0"]
    ref_pub = ref.unb64(ref_key["public_key"])
    m_body, m_expected = build_backup(sessions, lambda pt: ref.encrypt(ref_pub, compact(pt).encode(), "ciphertext"))
    dump("ref-msc4048-keys.json", m_body)
    dump("ref-msc4048-keys.expected.json", m_expected)
    entry("ref-msc4048-keys.json", "keys", "jssdk-0", "ok", "ref-msc4048-keys.expected.json", f"{REF}, MSC4048 MAC",
          "mac = first 8 bytes of HMAC-SHA256 over the raw ciphertext (the spec's text / MSC4048), not over the "
          "empty message: libolm, vodozemac and wasm reject every session of it (MAC mismatch)", mac_kind="ciphertext")
    # ... and one of its sessions with a ciphertext byte flipped: with this MAC, the MAC catches it
    dmg = copy.deepcopy(m_body)
    room, sid = "!alpha:example.org", sessions[0]["session_id"]
    sd = dmg["rooms"][room]["sessions"][sid]["session_data"]
    sd["ciphertext"] = flip_b64(sd["ciphertext"], len(ref.unb64(sd["ciphertext"])) - 1)
    dump("fail-msc4048-flipped-keys.json", dmg)
    exp = copy.deepcopy(m_expected)
    del exp[room][sid]
    dump("fail-msc4048-flipped-keys.expected.json", exp)
    entry("fail-msc4048-flipped-keys.json", "keys", "jssdk-0", "partial", "fail-msc4048-flipped-keys.expected.json",
          f"{REF}, MSC4048 MAC; last ciphertext byte of one session flipped by this generator",
          "with a ciphertext MAC a changed ciphertext byte is a MAC failure (compare fail-damaged-keys.json, where the "
          "empty-message MAC lets it through to the padding check)", mac_kind="ciphertext",
          failures=[{"room_id": room, "session_id": sid, "kind": "mac"}])

    # 5. wrong key / wrong auth_data
    wasm_expected = json.loads((OUT / "wasm-machine-keys.expected.json").read_text())
    wasm_body = json.loads((OUT / "wasm-machine-keys.json").read_text())
    dump("empty.expected.json", {})
    entry("wasm-machine-keys.json", "keys", "jssdk-1", "partial", "empty.expected.json",
          machine["made_by"], "wrong recovery key and no auth_data to compare with: every session fails its MAC",
          failures=[{"room_id": r, "session_id": s, "kind": "mac"}
                    for r, ss in wasm_body["rooms"].items() for s in ss["sessions"]])
    entry("wasm-machine-keys.json", "keys", "olm-0", "wrong_key", None, machine["made_by"],
          "recovery key of another backup (olm-keys.json): its public key differs from auth_data.public_key",
          auth_data="wasm-machine-version.json")
    entry("olm-keys.json", "keys", "olm-0", "wrong_key", None, f"{OLM} PkEncryption.encrypt ({PY})",
          "right recovery key for the data, but auth_data of another backup version (wasm-machine-version.json): "
          "refuse before decrypting and say the key belongs to another backup",
          auth_data="wasm-machine-version.json")

    # 6. one backup, one damaged session of each kind (python-olm, empty-message MAC)
    dk = keys["olm-1"]
    dpriv, dpub = ref.unb64(dk["private_key"]), dk["public_key"]
    body, expected = build_backup(sessions, lambda pt: olm_encrypt(dpub, compact(pt)))
    failures = []
    S = lambda i: (sessions[i]["room_id"], sessions[i]["session_id"])  # noqa: E731

    def damage(i, kind, *fns):
        """Apply the first damage (of several candidates) that the reference labels `kind`."""
        room, sid = S(i)
        kd = body["rooms"][room]["sessions"][sid]
        for fn in fns:
            sd = copy.deepcopy(kd["session_data"])
            fn(sd)
            try:
                ref.decrypt(dpriv, sd)
            except ref.Failure as f:
                if f.kind == kind:
                    kd["session_data"] = sd
                    break
        else:
            raise SystemExit(f"no damage of session {i} gives {kind}")
        del expected[room][sid]
        failures.append({"room_id": room, "session_id": sid, "kind": kind})

    def flip_ct(pos_fn):
        def f(sd):
            ct = ref.unb64(sd["ciphertext"])
            sd["ciphertext"] = flip_b64(sd["ciphertext"], pos_fn(len(ct)))
        return f

    # last block: its plaintext is garbage (valid padding by chance ~1/256: then the next byte)
    damage(1, "padding", *[flip_ct(lambda n, k=k: n - 16 + k) for k in (11, 3, 7, 13)])
    # first block: 16 garbage bytes at the start (and one flipped byte in the second block)
    damage(2, "json", *[flip_ct(lambda n, k=k: k) for k in (3, 5, 9)])
    damage(3, "mac", lambda sd: sd.update(mac=flip_b64(sd["mac"], 7, 0x80)))
    damage(5, "key", lambda sd: sd.update(ephemeral=ref.b64(ref.unb64(sd["ephemeral"])[:31])))
    damage(6, "key", lambda sd: sd.update(ephemeral=ref.b64(b"\0" * 32)))
    # !delta: a session whose plaintext is valid JSON with a session_key that is not a megolm key,
    # and a session_data with a number where a string belongs.
    bad_pt = plaintext_of(sessions[4]) | {"session_key": ref.b64(b"\x01" + b"\x00" * 99)}
    sk_sid, fmt_sid = "c2Vzc2lvbl9rZXkgdGhhdCBpcyBub3QgbWVnb2xt", "Zm9ybWF0OiBhIG51bWJlciBmb3IgYSBzdHJpbmc"
    body["rooms"]["!delta:example.org"] = {"sessions": {
        sk_sid: {"first_message_index": 0, "forwarded_count": 0, "is_verified": False,
                 "session_data": ref.encrypt(ref.unb64(dpub), compact(bad_pt).encode(), "empty")},
        fmt_sid: {"first_message_index": 0, "forwarded_count": 0, "is_verified": False,
                  "session_data": olm_encrypt(dpub, compact(plaintext_of(sessions[4]))) | {"mac": 12345678}},
    }}
    failures += [{"room_id": "!delta:example.org", "session_id": sk_sid, "kind": "session_key"},
                 {"room_id": "!delta:example.org", "session_id": fmt_sid, "kind": "format"}]
    expected = {r: ss for r, ss in expected.items() if ss}
    dump("fail-damaged-keys.json", body)
    dump("fail-damaged-keys.expected.json", expected)
    entry("fail-damaged-keys.json", "keys", "olm-1", "partial", "fail-damaged-keys.expected.json",
          f"{OLM} PkEncryption.encrypt ({PY}); damage and the two !delta sessions by this generator "
          "(the session_key one encrypted with the reference writer, empty-message MAC)",
          "sessions-basic.json's 7 sessions, 5 of them damaged (last-block byte -> padding, first-block byte -> json, "
          "MAC byte -> mac, 31-byte ephemeral -> key, all-zero (low-order) ephemeral -> key), 2 of them intact; "
          "!delta: valid JSON whose session_key is 100 bytes -> session_key, and \"mac\": 12345678 -> format",
          failures=failures)
    return entries


# ------------------------------------------------------------------ manifest
def generate() -> None:
    node = json.loads((BUILD / "node.json").read_text())
    rks, by_tag = make_recovery_keys(node)
    backups = make_backups(node, by_tag)
    manifest = {"recovery_keys": rks, "backups": backups}
    # Label every backup with the reference: it must reach exactly what the entry says.
    problems = check_reference(manifest)
    if problems:
        raise SystemExit("\n".join(problems))
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"manifest: {len(rks)} recovery keys, {len(backups)} backups")


def check_reference(manifest: dict) -> list[str]:
    problems = []
    listed = {"manifest.json", "README.md"}
    for e in manifest["recovery_keys"]:
        v, p = ref.check_recovery_key(e["recovery_key"])
        if v != e["expect"]:
            problems.append(f"recovery key {e['recovery_key']!r}: reference says {v}, manifest {e['expect']}")
        elif v == "ok" and (ref.b64(p) != e["private_key"] or ref.b64(ref.public_key(p)) != e["public_key"]):
            problems.append(f"recovery key {e['recovery_key']!r}: private/public key differ")
        if e["expect"] == "ok" and (e["correct"] is not None):
            problems.append(f"recovery key {e['recovery_key']!r}: ok keys carry no 'correct'")
        if e["expect"] != "ok" and (e["correct"] is None or ref.check_recovery_key(e["correct"])[0] != "ok"
                                    or e["private_key"] is not None or e["public_key"] is not None):
            problems.append(f"recovery key {e['recovery_key']!r}: typo entry needs a decodable 'correct' and null keys")
    for e in manifest["backups"]:
        tag = f"{e['file']} [{e['recovery_key'][:9]}…]"
        listed.update(x for x in (e["file"], e["auth_data"], e["sessions"]) if x)
        verdict, priv = ref.check_recovery_key(e["recovery_key"])
        if verdict != "ok":
            problems.append(f"{tag}: recovery key does not decode")
            continue
        doc = json.loads((OUT / e["file"]).read_text())
        if e["auth_data"]:
            ad = json.loads((OUT / e["auth_data"]).read_text())
            match = ad["auth_data"]["public_key"] == ref.b64(ref.public_key(priv))
            if match != (e["expect"] != "wrong_key"):
                problems.append(f"{tag}: auth_data public key match = {match}, expect {e['expect']}")
        if e["expect"] == "wrong_key":
            if e["sessions"] is not None or e["failures"]:
                problems.append(f"{tag}: wrong_key entries carry no sessions/failures")
            continue
        expected = json.loads((OUT / e["sessions"]).read_text())
        want_fail = {(f["room_id"], f["session_id"]): f["kind"] for f in e["failures"]}
        got_ok, got_fail, kinds = {}, {}, set()
        for room, r in ref.rooms_of(e["shape"], doc, e["room_id"], e["session_id"]).items():
            for sid, kd in r["sessions"].items():
                try:
                    _, obj, mk = ref.decrypt(priv, kd.get("session_data"))
                    got_ok.setdefault(room, {})[sid] = obj
                    kinds.add(mk)
                except ref.Failure as f:
                    got_fail[(room, sid)] = f.kind
        if got_ok != expected:
            problems.append(f"{tag}: decrypted sessions differ from {e['sessions']}: got {sorted((r, s) for r in got_ok for s in got_ok[r])} failures {got_fail}")
        if got_fail != want_fail:
            problems.append(f"{tag}: failures {got_fail} != manifest {want_fail}")
        if got_ok and kinds != {e["mac_kind"]}:
            problems.append(f"{tag}: MAC kinds {kinds} != {e['mac_kind']}")
        if (e["expect"] == "ok") != (not want_fail):
            problems.append(f"{tag}: expect {e['expect']} with {len(want_fail)} failures")
    on_disk = {p.name for p in OUT.iterdir()}
    if on_disk - listed:
        problems.append(f"files not referenced: {sorted(on_disk - listed)}")
    if listed - on_disk - {"README.md", "manifest.json"}:
        problems.append(f"files missing: {sorted(listed - on_disk)}")
    return problems


def check() -> None:
    manifest = json.loads((OUT / "manifest.json").read_text())
    problems = check_reference(manifest)
    for p in problems:
        print(f"FAIL reference: {p}")
    # python-olm / vodozemac / mautrix verdicts, recorded for the README (and checked where they
    # must agree: every session the reference opens with an empty-message MAC must open in both).
    report = {"recovery_keys": [], "backups": []}
    for e in manifest["recovery_keys"]:
        try:
            got = decode_base58_recovery_key(e["recovery_key"])
            m = "ok" if got is not None else "None"
        except Exception as ex:  # base58 raises on characters outside its alphabet
            got, m = None, f"{type(ex).__name__}: {ex}"
        report["recovery_keys"].append({"recovery_key": e["recovery_key"], "expect": e["expect"], "mautrix": m})
        if got is None and e["expect"] == "ok" and any(c.isspace() and c != " " for c in e["recovery_key"]):
            report["recovery_keys"][-1]["mautrix"] += " (known: mautrix strips only spaces)"
        elif (e["expect"] == "ok") != (got is not None) or (got is not None and ref.b64(got) != e["private_key"]):
            problems.append(f"mautrix: {e['recovery_key']!r} -> {m}, expected {e['expect']}")
            print(f"FAIL mautrix: {e['recovery_key']!r} -> {m}, expected {e['expect']}")
    for e in manifest["backups"]:
        if e["expect"] == "wrong_key":
            continue
        _, priv = ref.check_recovery_key(e["recovery_key"])
        doc = json.loads((OUT / e["file"]).read_text())
        expected = json.loads((OUT / e["sessions"]).read_text())
        kinds = {(f["room_id"], f["session_id"]): f["kind"] for f in e["failures"]}
        rows = []
        for room, r in ref.rooms_of(e["shape"], doc, e["room_id"], e["session_id"]).items():
            for sid, kd in r["sessions"].items():
                sd = kd["session_data"]
                row = {"room_id": room, "session_id": sid, "manifest": kinds.get((room, sid), "ok")}
                for name, fn in (("python-olm", olm_decrypt), ("vodozemac", vz_decrypt)):
                    try:
                        pt = fn(priv, sd)
                        pt = pt.decode("utf-8", "replace") if isinstance(pt, bytes) else pt
                        try:
                            val = json.loads(pt)
                            row[name] = "ok" if val == expected.get(room, {}).get(sid) else "decrypts (other plaintext)"
                        except ValueError:
                            row[name] = "decrypts (not JSON)"
                    except Exception as ex:
                        row[name] = f"{type(ex).__name__}: {ex}"
                    want_ok = room in expected and sid in expected[room] and e["mac_kind"] == "empty"
                    padded = e["file"] == "olm-keys-padded.json" and name == "python-olm"
                    if want_ok and not padded and row[name] != "ok":
                        msg = f"{name}: {e['file']} {room} {sid}: {row[name]}"
                        problems.append(msg)
                        print(f"FAIL {msg}")
                rows.append(row)
        report["backups"].append({"file": e["file"], "recovery_key": e["recovery_key"], "sessions": rows})
    (BUILD / "py-check.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"python check (reference, {OLM}, {VZ}, {MAUTRIX}): {len(manifest['recovery_keys'])} recovery keys, "
          f"{len(manifest['backups'])} backups, {len(problems)} problems")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    check() if "--check" in sys.argv else generate()
