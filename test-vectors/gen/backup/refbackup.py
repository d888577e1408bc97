"""Independent reference for recovery keys and m.megolm_backup.v1.curve25519-aes-sha2.

Written from the spec text (not from any peer's code): base58 by hand, X25519 from
`cryptography`, HKDF/HMAC from the standard library, AES-256-CBC from pycryptodome.
Used by gen_backup.py to label every vector and by ../../interop/backup.sh as a helper.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from Crypto.Cipher import AES
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives import serialization

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
PREFIX = b"\x8b\x01"
RK_CHARS = 48  # 35 bytes starting 0x8B always encode to exactly 48 base58 characters


# ------------------------------------------------------------------ base64 / base58
def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def unb64(s: str) -> bytes:
    """Standard alphabet, padded or unpadded; raises ValueError otherwise."""
    if not isinstance(s, str):
        raise ValueError("not a string")
    core = s.rstrip("=")
    if len(s) - len(core) > 2 or len(core) % 4 == 1:
        raise ValueError("bad base64 length")
    return base64.b64decode(core + "=" * (-len(core) % 4), validate=True)


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = ALPHABET[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(s: str) -> bytes:
    n = 0
    for c in s:
        n = n * 58 + ALPHABET.index(c)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(s) - len(s.lstrip("1"))) + body


# ------------------------------------------------------------------ recovery keys
def parity(data: bytes) -> int:
    p = 0
    for b in data:
        p ^= b
    return p


def encode_recovery_key(key: bytes, prefix: bytes = PREFIX) -> str:
    raw = prefix + key
    s = b58encode(raw + bytes([parity(raw)]))
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def check_recovery_key(text: str) -> tuple[str, bytes | None]:
    """-> (verdict, private key). Verdict order: bad_char, bad_length, bad_prefix, bad_parity.

    bad_length is judged on the character count first (a real key is always 48 base58
    characters), then on the decoded byte count (35): a deleted character otherwise still
    decodes to 35 bytes whose prefix is wrong, which would be a misleading diagnosis.
    """
    s = "".join(text.split())
    if any(c not in ALPHABET for c in s):
        return "bad_char", None
    raw = b58decode(s)
    if len(s) != RK_CHARS or len(raw) != 35:
        return "bad_length", None
    if raw[:2] != PREFIX:
        return "bad_prefix", None
    if parity(raw) != 0:
        return "bad_parity", None
    return "ok", raw[2:34]


def public_key(private: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# ------------------------------------------------------------------ backup crypto
def hkdf_sha256(ikm: bytes, length: int = 80, salt: bytes = b"\0" * 32, info: bytes = b"") -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def _keys(shared: bytes) -> tuple[bytes, bytes, bytes]:
    k = hkdf_sha256(shared)
    return k[:32], k[32:64], k[64:80]


def encrypt(public: bytes, plaintext: bytes, mac_kind: str = "empty",
            ephemeral_private: bytes | None = None) -> dict:
    eph = X25519PrivateKey.from_private_bytes(ephemeral_private) if ephemeral_private else X25519PrivateKey.generate()
    shared = eph.exchange(X25519PublicKey.from_public_bytes(public))
    aes_key, mac_key, iv = _keys(shared)
    pad = 16 - len(plaintext) % 16
    ct = AES.new(aes_key, AES.MODE_CBC, iv).encrypt(plaintext + bytes([pad]) * pad)
    mac = hmac.new(mac_key, b"" if mac_kind == "empty" else ct, hashlib.sha256).digest()[:8]
    eph_pub = eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"ciphertext": b64(ct), "ephemeral": b64(eph_pub), "mac": b64(mac)}


class Failure(Exception):
    def __init__(self, kind: str, why: str):
        super().__init__(f"{kind}: {why}")
        self.kind = kind
        self.why = why


def valid_session_key(sk) -> bool:
    try:
        raw = unb64(sk)
    except (ValueError, TypeError):
        return False
    return (len(raw) == 165 and raw[0] == 1) or (len(raw) == 229 and raw[0] == 2)


def decrypt(private: bytes, sd) -> tuple[bytes, dict, str]:
    """-> (plaintext bytes, parsed object, mac kind). Raises Failure in the manifest's order:
    format, key, mac (empty-message MAC or ciphertext MAC), padding, json, session_key."""
    if not isinstance(sd, dict) or any(not isinstance(sd.get(f), str) for f in ("ephemeral", "ciphertext", "mac")):
        raise Failure("format", "session_data is not an object with string ephemeral/ciphertext/mac")
    try:
        eph, ct, mac = unb64(sd["ephemeral"]), unb64(sd["ciphertext"]), unb64(sd["mac"])
    except ValueError as e:
        raise Failure("format", f"base64: {e}")
    if len(eph) != 32:
        raise Failure("key", f"ephemeral key is {len(eph)} bytes")
    try:
        shared = X25519PrivateKey.from_private_bytes(private).exchange(X25519PublicKey.from_public_bytes(eph))
    except ValueError as e:  # cryptography refuses an all-zero shared secret (low-order point)
        raise Failure("key", f"X25519: {e}")
    if shared == b"\0" * 32:
        raise Failure("key", "all-zero shared secret")
    aes_key, mac_key, iv = _keys(shared)
    if hmac.compare_digest(mac, hmac.new(mac_key, b"", hashlib.sha256).digest()[:8]):
        mac_kind = "empty"
    elif hmac.compare_digest(mac, hmac.new(mac_key, ct, hashlib.sha256).digest()[:8]):
        mac_kind = "ciphertext"
    else:
        raise Failure("mac", "neither the empty-message nor the ciphertext MAC matches")
    if not ct or len(ct) % 16:
        raise Failure("padding", f"ciphertext length {len(ct)}")
    padded = AES.new(aes_key, AES.MODE_CBC, iv).decrypt(ct)
    n = padded[-1]
    if not 1 <= n <= 16 or padded[-n:] != bytes([n]) * n:
        raise Failure("padding", "bad PKCS#7 padding")
    pt = padded[:-n]
    try:
        obj = json.loads(pt.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise Failure("json", f"not UTF-8: {e}")
    except ValueError as e:
        raise Failure("json", f"not JSON: {e}")
    if not isinstance(obj, dict):
        raise Failure("json", "not a JSON object")
    if not valid_session_key(obj.get("session_key")):
        raise Failure("session_key", "session_key is not a 165-byte 0x01 or 229-byte 0x02 megolm key")
    return pt, obj, mac_kind


def rooms_of(shape: str, doc, room_id=None, session_id=None) -> dict:
    """Any of the four shapes -> {room: {"sessions": {sid: KeyBackupData}}}."""
    if shape == "keys":
        return doc["rooms"]
    if shape == "room":
        return {room_id: doc}
    if shape == "key_backup_data":
        return {room_id: {"sessions": {session_id: doc}}}
    if shape == "session_data":
        return {room_id: {"sessions": {session_id: {"session_data": doc}}}}
    raise ValueError(shape)
