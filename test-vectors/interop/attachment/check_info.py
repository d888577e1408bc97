"""Checks that an EncryptedFile written by mxkeys is what the spec asks senders to write:
v "v2"; key {kty oct, alg A256CTR, ext true, key_ops with encrypt and decrypt, k = 32 bytes in
urlsafe unpadded base64}; iv = 16 bytes in standard unpadded base64 with IV[8..16] zero (the
64-bit counter starts at 0); hashes.sha256 = sha256 of the ciphertext, standard unpadded base64.

  python3 check_info.py INFO.json CIPHERTEXT.bin      prints the problems, exit 1 if any
"""

import base64
import hashlib
import json
import re
import sys

info_path, ct_path = sys.argv[1:]
with open(info_path) as f:
    info = json.load(f)
problems = []
STD = re.compile(r"^[A-Za-z0-9+/]*$")
URL = re.compile(r"^[A-Za-z0-9_-]*$")


def dec(s, alphabet):
    if not isinstance(s, str) or not alphabet.match(s):
        raise ValueError(f"not unpadded {'urlsafe' if alphabet is URL else 'standard'} base64: {s!r}")
    return base64.b64decode(s.replace("-", "+").replace("_", "/") + "=" * (-len(s) % 4), validate=True)


try:
    if info.get("v") != "v2":
        problems.append(f"v is {info.get('v')!r}, not 'v2'")
    key = info["key"]
    for field, want in (("kty", "oct"), ("alg", "A256CTR"), ("ext", True)):
        if key.get(field) != want:
            problems.append(f"key.{field} is {key.get(field)!r}, not {want!r}")
    if not {"encrypt", "decrypt"} <= set(key.get("key_ops", [])):
        problems.append(f"key.key_ops {key.get('key_ops')!r} lacks encrypt or decrypt")
    if len(dec(key["k"], URL)) != 32:
        problems.append("key.k is not 32 bytes")
    iv = dec(info["iv"], STD)
    if len(iv) != 16:
        problems.append(f"iv is {len(iv)} bytes")
    elif iv[8:] != bytes(8):
        problems.append(f"iv[8..16] is {iv[8:].hex()}, not zero")
    with open(ct_path, "rb") as f:
        if dec(info["hashes"]["sha256"], STD) != hashlib.sha256(f.read()).digest():
            problems.append("hashes.sha256 does not match the ciphertext")
except (KeyError, TypeError, ValueError) as e:
    problems.append(f"malformed: {e!r}")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
