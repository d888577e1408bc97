"""A stand-in for the `mxkeys ssss` commands, to test ssss.sh itself before (or apart from) mxkeys.

    MXKEYS_BIN=test-vectors/interop/ssss/stand_in_mxkeys test-vectors/interop/ssss.sh

Implements only the contract ssss.sh relies on, with the reference reader of
test-vectors/gen/ssss/gen_ssss.py (pure `cryptography`) and the spec's writing rules:
    ssss decrypt ACCOUNT.json --json [--key-id ID]
    ssss encrypt ACCOUNT.json --secret NAME --value-file FILE -o OUT.json [--key-id ID]
key from MXKEYS_RECOVERY_KEY or MXKEYS_PASSPHRASE. Not part of any test of mxkeys.
"""
import hashlib
import hmac
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gen", "ssss"))
from gen_ssss import Outcome, aes_ctr, b64e, hkdf, load_account, reference_decrypt  # noqa: E402


def main(a):
    if a[:1] != ["ssss"] or len(a) < 3:
        sys.exit("usage: ssss decrypt|encrypt ACCOUNT.json ...")
    op, path = a[1], a[2]
    opt = lambda f: a[a.index(f) + 1] if f in a else None  # noqa: E731
    acc = load_account(path)
    kw = dict(security_key=os.environ.get("MXKEYS_RECOVERY_KEY"), passphrase=os.environ.get("MXKEYS_PASSPHRASE"),
              key_id=opt("--key-id"))
    try:
        secrets = reference_decrypt(acc, **kw)
    except Outcome as e:
        sys.exit(f"error: {e}")
    if op == "decrypt":
        print(json.dumps({n: {"secret": s} for n, s in secrets.items()}))
        return
    key_id = kw["key_id"] or acc["m.secret_storage.default_key"]["key"]
    # reference_decrypt has checked the key; derive it again
    from gen_ssss import decode_recovery_key
    if kw["security_key"]:
        key = decode_recovery_key(kw["security_key"])
    else:
        pp = acc[f"m.secret_storage.key.{key_id}"]["passphrase"]
        key = hashlib.pbkdf2_hmac("sha512", kw["passphrase"].encode(), pp["salt"].encode(), pp["iterations"],
                                  pp.get("bits", 256) // 8)
    name = opt("--secret")
    with open(opt("--value-file"), encoding="utf-8") as f:
        value = f.read()
    iv = bytearray(os.urandom(16))
    iv[8] &= 0x7F
    aes, mk = hkdf(key, name)
    ct = aes_ctr(aes, bytes(iv), value.encode())
    acc[name] = {"encrypted": {key_id: {"iv": b64e(bytes(iv)), "ciphertext": b64e(ct),
                                        "mac": b64e(hmac.new(mk, ct, hashlib.sha256).digest())}}}
    with open(opt("-o"), "w", encoding="utf-8") as f:
        json.dump(acc, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
