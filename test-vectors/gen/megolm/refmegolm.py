"""Independent reference for megolm session keys and m.megolm.v1.aes-sha2 messages.

Written from the megolm spec (docs/megolm.md in libolm / the Matrix spec), using only
hashlib/hmac and `cryptography` (AES-CBC, HKDF, Ed25519). No vodozemac, no libolm.

Session keys:  0x02 | u32 BE index | R 128 | ed25519 pub 32 | sig 64   (signed "session sharing")
               0x01 | u32 BE index | R 128 | ed25519 pub 32            (export)
Messages:      0x03 | protobuf{1: index varint, 2: ciphertext bytes} | HMAC-SHA256[:8] | ed25519 sig 64
"""
import base64
import binascii
import hashlib
import hmac
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


class B64Error(ValueError):
    pass


def b64d(s):
    """Standard alphabet, padded or unpadded (what Matrix writes is unpadded)."""
    if not isinstance(s, str) or not _B64.match(s):
        raise B64Error("not base64")
    t = s.rstrip("=")
    if len(t) % 4 == 1:
        raise B64Error("impossible base64 length")
    try:
        return base64.b64decode(t + "=" * (-len(t) % 4), validate=True)
    except binascii.Error as e:
        raise B64Error(str(e))


def b64e(b):
    return base64.b64encode(b).decode().rstrip("=")


# ---------------------------------------------------------------- ratchet
def _h(part, j):
    return hmac.new(part, bytes([j]), hashlib.sha256).digest()


class Ratchet:
    def __init__(self, index, data):
        assert len(data) == 128
        self.i = index
        self.r = [data[k * 32:(k + 1) * 32] for k in range(4)]

    def data(self):
        return b"".join(self.r)

    def copy(self):
        return Ratchet(self.i, self.data())

    def advance_to(self, target):
        """Jump to `target` (>= current), rehashing each part the minimal number of times."""
        assert target >= self.i, (target, self.i)
        for j in range(4):
            shift = (3 - j) * 8
            steps = ((target >> shift) - (self.i >> shift)) & 0xFF
            if steps == 0:
                continue
            for _ in range(steps - 1):
                self.r[j] = _h(self.r[j], j)
            # last step: R(j) seeds R(j)..R(3)
            base = self.r[j]
            for k in range(3, j - 1, -1):
                self.r[k] = _h(base, k)
            self.i = target & ~((1 << shift) - 1) & 0xFFFFFFFF
        self.i = target
        return self

    def step(self):
        """One plain step (megolm_advance), used to cross-check advance_to."""
        self.i = (self.i + 1) & 0xFFFFFFFF
        mask = 0x00FFFFFF
        h = 0
        while h < 4:
            if not (self.i & mask):
                break
            h += 1
            mask >>= 8
        base = self.r[h] if h < 4 else None
        for k in range(3, h - 1, -1):
            self.r[k] = _h(self.r[h], k)
        return self

    def keys(self):
        okm = HKDF(hashes.SHA256(), 80, salt=None, info=b"MEGOLM_KEYS").derive(self.data())
        return okm[:32], okm[32:64], okm[64:80]


# ---------------------------------------------------------------- session keys
class KeyError_(ValueError):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


def parse_session_key(s):
    """-> dict(version, index, ratchet bytes, pub bytes, signed, sig_ok). Raises KeyError_."""
    try:
        raw = b64d(s)
    except B64Error as e:
        raise KeyError_("bad_base64", str(e))
    if not raw:
        raise KeyError_("bad_key", "empty key")
    v = raw[0]
    if v == 1:
        if len(raw) != 165:
            raise KeyError_("bad_key", f"export key of {len(raw)} bytes, need 165")
    elif v == 2:
        if len(raw) != 229:
            raise KeyError_("bad_key", f"signed key of {len(raw)} bytes, need 229")
    else:
        raise KeyError_("bad_key", f"unknown session key version {v}")
    index = int.from_bytes(raw[1:5], "big")
    ratchet = raw[5:133]
    pub = raw[133:165]
    out = dict(version=v, index=index, ratchet=ratchet, pub=pub, sig_ok=None)
    if v == 2:
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(raw[165:229], raw[:165])
            out["sig_ok"] = True
        except (InvalidSignature, ValueError):
            out["sig_ok"] = False
    return out


def export_key(index, ratchet, pub):
    return b64e(b"\x01" + index.to_bytes(4, "big") + ratchet + pub)


def same_session(a, b):
    """a, b: parsed keys with the same pub. True when the lower-index ratchet, advanced,
    equals the higher-index one."""
    if a["pub"] != b["pub"]:
        return False
    lo, hi = (a, b) if a["index"] <= b["index"] else (b, a)
    r = Ratchet(lo["index"], lo["ratchet"]).advance_to(hi["index"])
    return hmac.compare_digest(r.data(), hi["ratchet"])


# ---------------------------------------------------------------- messages
class MsgError(ValueError):
    def __init__(self, code, msg, index=None):
        super().__init__(msg)
        self.code = code
        self.index = index


def _varint(buf, pos):
    shift = 0
    val = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise MsgError("format", "truncated varint")
        b = buf[pos]
        pos += 1
        val |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return val, pos


def enc_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def parse_message(raw):
    """-> (index, ciphertext, body_end). body = raw[:body_end], mac = raw[body_end:body_end+8], sig = last 64."""
    if len(raw) < 1 + 8 + 64:
        raise MsgError("format", "message too short")
    if raw[0] != 3:
        raise MsgError("format", f"message version {raw[0]}")
    end = len(raw) - 8 - 64
    pos = 1
    index = None
    ct = None
    while pos < end:
        tag, pos = _varint(raw, pos)
        field, wt = tag >> 3, tag & 7
        if wt == 0:
            val, pos = _varint(raw, pos)
            if field == 1:
                index = val
        elif wt == 2:
            ln, pos = _varint(raw, pos)
            if pos + ln > end:
                raise MsgError("format", "field past end")
            if field == 2:
                ct = raw[pos:pos + ln]
            pos += ln
        else:
            raise MsgError("format", f"wire type {wt}")
    if index is None or ct is None:
        raise MsgError("format", "missing index or ciphertext", index)
    return index, ct, end


def build_message(ratchet, index, ciphertext_override=None, plaintext=None, signer=None):
    """Encrypt `plaintext` at ratchet state `ratchet` (already at `index`); sign with `signer`
    (an Ed25519PrivateKey). Used only by tests of this module."""
    aes, mk, iv = ratchet.keys()
    p = padding.PKCS7(128).padder()
    data = p.update(plaintext) + p.finalize()
    e = Cipher(algorithms.AES(aes), modes.CBC(iv)).encryptor()
    ct = e.update(data) + e.finalize()
    body = b"\x03\x08" + enc_varint(index) + b"\x12" + enc_varint(len(ct)) + ct
    body += hmac.new(mk, body, hashlib.sha256).digest()[:8]
    return body + signer.sign(body)


def decrypt_message(session, raw):
    """session: parsed key (index, ratchet, pub). Returns (index, plaintext bytes).
    Raises MsgError with code format | too_late | mac | signature | padding."""
    index, ct, end = parse_message(raw)
    if index < session["index"]:
        raise MsgError("too_late", f"message {index} before first known {session['index']}", index)
    r = Ratchet(session["index"], session["ratchet"]).advance_to(index)
    aes, mk, iv = r.keys()
    mac = hmac.new(mk, raw[:end], hashlib.sha256).digest()[:8]
    if not hmac.compare_digest(mac, raw[end:end + 8]):
        raise MsgError("mac", "MAC mismatch", index)
    try:
        Ed25519PublicKey.from_public_bytes(session["pub"]).verify(raw[end + 8:], raw[:end + 8])
    except InvalidSignature:
        raise MsgError("signature", "bad signature", index)
    if len(ct) == 0 or len(ct) % 16:
        raise MsgError("format", "ciphertext not a multiple of 16", index)
    d = Cipher(algorithms.AES(aes), modes.CBC(iv)).decryptor()
    pt = d.update(ct) + d.finalize()
    u = padding.PKCS7(128).unpadder()
    try:
        pt = u.update(pt) + u.finalize()
    except ValueError:
        raise MsgError("format", "bad padding", index)
    return index, pt


def _selftest():
    import os
    r0 = Ratchet(0, os.urandom(128))
    # advance_to agrees with single steps across the 2^8 and 2^16 boundaries
    for start, target in [(0, 1), (0, 255), (0, 256), (3, 700), (250, 65536 + 3), (0, 70000)]:
        a = r0.copy().advance_to(start).advance_to(target)
        b = r0.copy()
        for _ in range(target):
            b.step()
        assert a.data() == b.data(), (start, target)
        c = r0.copy().advance_to(target)
        assert c.data() == b.data()


if __name__ == "__main__":
    _selftest()
    print("refmegolm self-test ok")
