"""Builds test-vectors/identity from what gen_wasm.mjs recorded (.build/wasm.json) and checks it.

  gen_identity.py vectors WASM.json OUTDIR        # writes keys-query/, qr/, sas/ files + .build/qr-list.json
  gen_identity.py manifest WASM.json OUTDIR QRCHECK.json   # reference checks, writes manifest.json

Reference code here is written from the spec with `cryptography` and `canonicaljson`; every expectation
it computes is compared with what a peer said (wasm's own trust view, signatures, SAS output, QR
parser) and the run fails on any disagreement that is not listed as a known divergence.
"""
import base64
import copy
import hashlib
import json
import os
import sys

import canonicaljson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.exceptions import InvalidSignature
import olm
from nio.api import Api as NioApi
from nio.crypto.sas import Sas as NioSas

A, B, C = "@alice:example.org", "@bob:example.org", "@carol:example.org"
WASM = "matrix-sdk-crypto-wasm 18.9.0 (matrix-sdk-crypto 0.19.1, vodozemac 0.11.0)"
EMOJI = list(NioSas.emoji)  # [(symbol, name)] x 64, matrix-nio 0.26.0 ...
# ... with the spec's English names (data-definitions/sas-emoji.json) where nio differs; wasm shows
# the spec's names (checked on every emoji it displays in a run)
NIO_NAME_FIXES = {34: ("Wrench", "Spanner"), 36: ("Thumbs up", "Thumbs Up"), 53: ("Airplane", "Aeroplane")}
for _i, (_nio, _spec) in NIO_NAME_FIXES.items():
    assert EMOJI[_i][1] == _nio
    EMOJI[_i] = (EMOJI[_i][0], _spec)


def b64d(s):
    return base64.b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.b64encode(b).decode().rstrip("=")


def canon(obj):
    return canonicaljson.encode_canonical_json(obj)


def verify_obj(pub_b64, obj, sig_b64):
    """Signed JSON: drop signatures + unsigned, canonical JSON, ed25519."""
    o = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    try:
        Ed25519PublicKey.from_public_bytes(b64d(pub_b64)).verify(b64d(sig_b64), canon(o))
        return True
    except (InvalidSignature, ValueError):
        return False


def sign_obj(seed_b64, obj):
    o = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return b64e(Ed25519PrivateKey.from_private_bytes(b64d(seed_b64)).sign(canon(o)))


def pub_of_seed(seed_b64):
    from cryptography.hazmat.primitives import serialization as s
    return b64e(Ed25519PrivateKey.from_private_bytes(b64d(seed_b64)).public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw))


def olm_pub_of_seed(seed_b64):
    return olm.PkSigning(b64d(seed_b64)).public_key


def only_key(o):
    (k, v), = o["keys"].items()
    return k, v


def flip_b64(s, pos=5):
    raw = bytearray(b64d(s))
    raw[pos] ^= 0x01
    return b64e(bytes(raw))


# ---------------------------------------------------------------- keys/query reference checker
def check_user(resp, user, viewer):
    """Reference verdict for one user of a /keys/query response, as seen by `viewer`."""
    problems = []
    mk = resp.get("master_keys", {}).get(user)
    res = {"master_key": None, "master_signed_by_own_device": [], "self_signing_valid": False,
           "user_signing_valid": None, "signed_by_viewer_user_signing": None, "devices": {}, "problems": problems}
    master_pub = None
    if mk is None:
        problems.append("no_master_key")
    else:
        mid, master_pub = only_key(mk)
        res["master_key"] = master_pub
        if mk.get("user_id") != user or "master" not in mk.get("usage", []):
            problems.append("master_key_malformed")
        for kid, sig in sorted(mk.get("signatures", {}).get(user, {}).items()):
            if kid == mid:
                if not verify_obj(master_pub, mk, sig):
                    problems.append("master_self_signature_invalid")
                continue
            dev = kid.split(":", 1)[1]
            dk = resp.get("device_keys", {}).get(user, {}).get(dev)
            if dk is None:
                continue  # signature by a device we do not have: cannot be checked
            if verify_obj(dk["keys"][f"ed25519:{dev}"], mk, sig):
                res["master_signed_by_own_device"].append(dev)
            else:
                problems.append(f"master_device_signature_invalid:{dev}")

    def check_sub(kind, usage):
        o = resp.get(kind, {}).get(user)
        if o is None:
            return None, None
        kid, pub = only_key(o)
        if o.get("user_id") != user or usage not in o.get("usage", []):
            problems.append(f"{usage}_key_malformed")
            return False, pub
        if master_pub is None:
            return False, pub
        sig = o.get("signatures", {}).get(user, {}).get(f"ed25519:{master_pub}")
        if sig is None:
            problems.append(f"{usage}_not_signed_by_master")
            return False, pub
        if not verify_obj(master_pub, o, sig):
            problems.append(f"{usage}_signature_invalid")
            return False, pub
        return True, pub

    ssk_ok, ssk_pub = check_sub("self_signing_keys", "self_signing")
    if ssk_ok is None:
        problems.append("no_self_signing_key")
        ssk_ok = False
    res["self_signing_valid"] = ssk_ok
    usk_ok, _ = check_sub("user_signing_keys", "user_signing")
    res["user_signing_valid"] = usk_ok

    for dev, dk in sorted(resp.get("device_keys", {}).get(user, {}).items()):
        sigs = dk.get("signatures", {}).get(user, {})
        own = sigs.get(f"ed25519:{dev}")
        dpub = dk.get("keys", {}).get(f"ed25519:{dev}")
        if dk.get("user_id") != user or dk.get("device_id") != dev or dpub is None:
            res["devices"][dev] = "bad_signature"
            problems.append(f"device_malformed:{dev}")
            continue
        if own is None or not verify_obj(dpub, dk, own):
            res["devices"][dev] = "bad_signature"
            problems.append(f"device_self_signature_invalid:{dev}")
            continue
        cross = sigs.get(f"ed25519:{ssk_pub}") if ssk_pub else None
        others = sorted(k for k in sigs if k not in (f"ed25519:{dev}", f"ed25519:{ssk_pub}"))
        for k in others:
            problems.append(f"device_signed_by_other_key:{dev}:{k}")
        if cross is None:
            res["devices"][dev] = "not_cross_signed"
            problems.append(f"device_not_cross_signed:{dev}")
        elif not verify_obj(ssk_pub, dk, cross):
            res["devices"][dev] = "bad_signature"
            problems.append(f"device_cross_signature_invalid:{dev}")
        elif not ssk_ok:
            res["devices"][dev] = "not_cross_signed"
            problems.append(f"device_self_signing_key_untrusted:{dev}")
        else:
            res["devices"][dev] = "cross_signed"

    if user != viewer and master_pub is not None:
        usk = resp.get("user_signing_keys", {}).get(viewer)
        vres = check_user_sub_viewer(resp, viewer)
        sig = None
        if usk is not None:
            _, usk_pub = only_key(usk)
            sig = mk.get("signatures", {}).get(viewer, {}).get(f"ed25519:{usk_pub}")
        if sig is None:
            res["signed_by_viewer_user_signing"] = False
        elif not verify_obj(usk_pub, mk, sig):
            res["signed_by_viewer_user_signing"] = False
            problems.append("master_viewer_user_signing_signature_invalid")
        else:
            res["signed_by_viewer_user_signing"] = bool(vres)
            if not vres:
                problems.append("viewer_user_signing_key_untrusted")
    res["master_signed_by_own_device"].sort()
    problems.sort()
    return res


def check_user_sub_viewer(resp, viewer):
    """Is the viewer's user-signing key signed by the viewer's master key?"""
    mk = resp.get("master_keys", {}).get(viewer)
    usk = resp.get("user_signing_keys", {}).get(viewer)
    if mk is None or usk is None:
        return False
    _, mpub = only_key(mk)
    sig = usk.get("signatures", {}).get(viewer, {}).get(f"ed25519:{mpub}")
    return sig is not None and verify_obj(mpub, usk, sig)


# ---------------------------------------------------------------- SAS reference
def hkdf(secret, info, n):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=None, info=info.encode()).derive(secret)


def sas_info(s_user, s_dev, s_key, a_user, a_dev, a_key, txn):
    return f"MATRIX_KEY_VERIFICATION_SAS|{s_user}|{s_dev}|{s_key}|{a_user}|{a_dev}|{a_key}|{txn}"


def sas_from_bytes(b):
    n = int.from_bytes(b[:6], "big")
    emoji = [(n >> (42 - 6 * i)) & 0x3F for i in range(7)]
    b0, b1, b2, b3, b4 = b[:5]
    dec = [((b0 << 5) | (b1 >> 3)) + 1000, (((b1 & 0x7) << 10) | (b2 << 2) | (b3 >> 6)) + 1000, (((b3 & 0x3F) << 7) | (b4 >> 1)) + 1000]
    return emoji, dec


def x25519_pub(priv):
    from cryptography.hazmat.primitives import serialization as s
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)


def x25519(priv, pub):
    return X25519PrivateKey.from_private_bytes(priv).exchange(X25519PublicKey.from_public_bytes(pub))


# ---------------------------------------------------------------- vectors
def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def keys_query_vectors(w, out):
    """Returns [(file, viewer, users, made_by, comment)] and writes the files."""
    snaps = w["snapshots"]
    ids = w["identities"]
    entries = []

    def put(name, resp, viewer, made_by, comment, users=(A, B)):
        write_json(os.path.join(out, "keys-query", name), resp)
        entries.append(dict(file=f"keys-query/{name}", viewer=viewer, users=list(users), made_by=made_by, comment=comment))

    run = f"{WASM}: OlmMachine.bootstrapCrossSigning for both users, uploads relayed by an in-memory homeserver (gen/identity/hs.mjs); the response as"
    put("wasm-alice-before.json", snaps["before-verification-alice"]["response"], A,
        f"{run} alice sees it before any verification",
        "alice: ALICEDEV1 signed by her self-signing key, ALICEDEV2 logged in after the bootstrap (not cross-signed); bob cross-signed his own device; nobody has signed the other's master key")
    base = snaps["after-qr-alice"]["response"]
    put("wasm-alice-verified.json", base, A,
        f"{run} alice sees it after verifying bob by QR (her user-signing key signs his master key) and ALICEDEV2 by QR (her self-signing key signs it)",
        "everything cross-signed; bob's master key carries alice's user-signing signature")
    put("wasm-bob-verified.json", snaps["after-sas-bob"]["response"], B,
        f"{run} bob sees it after verifying alice by SAS (his user-signing key signs her master key)",
        "bob's view: alice's master key carries bob's user-signing signature; bob's user-signing key is listed, alice's is not")

    t = "transform of wasm-alice-verified.json by gen_identity.py"
    ad = "ALICEDEV1"
    ssk_a = only_key(base["self_signing_keys"][A])[1]
    msk_a = only_key(base["master_keys"][A])[1]
    usk_a = only_key(base["user_signing_keys"][A])[1]
    assert pub_of_seed(ids[A]["self_signing_seed"]) == ssk_a == olm_pub_of_seed(ids[A]["self_signing_seed"])
    assert pub_of_seed(ids[A]["master_seed"]) == msk_a
    assert pub_of_seed(ids[A]["user_signing_seed"]) == usk_a

    r = copy.deepcopy(base)
    s = r["device_keys"][A][ad]["signatures"][A]
    s[f"ed25519:{ssk_a}"] = flip_b64(s[f"ed25519:{ssk_a}"])
    put("flip-device-cross-signature.json", r, A, f"{t}: one bit of ALICEDEV1's self-signing-key signature flipped", "device cross-signature does not verify")

    r = copy.deepcopy(base)
    s = r["device_keys"][A][ad]["signatures"][A]
    s[f"ed25519:{ad}"] = flip_b64(s[f"ed25519:{ad}"], 40)
    put("flip-device-self-signature.json", r, A, f"{t}: one bit of ALICEDEV1's own signature flipped", "device self-signature does not verify: the device is not usable at all")

    r = copy.deepcopy(base)
    r["device_keys"][A][ad]["keys"][f"curve25519:{ad}"] = b64e(bytes(32))
    put("tampered-device-key.json", r, A, f"{t}: ALICEDEV1's curve25519 key replaced after signing", "signed content changed after signing: the self-signature fails first (the cross-signature fails too)")

    r = copy.deepcopy(base)
    del r["self_signing_keys"][A]["signatures"][A][f"ed25519:{msk_a}"]
    put("missing-master-signature-on-self-signing.json", r, A, f"{t}: the master key's signature on alice's self-signing key removed",
        "self-signing key not signed by the master key: alice's devices are not cross-signed (their signatures still verify)")

    r = copy.deepcopy(base)
    del r["user_signing_keys"][A]["signatures"][A][f"ed25519:{msk_a}"]
    put("missing-master-signature-on-user-signing.json", r, A, f"{t}: the master key's signature on alice's user-signing key removed",
        "user-signing key not signed by the master key: its signature on bob's master key proves nothing")

    r = copy.deepcopy(base)
    o = r["self_signing_keys"][A]
    o["signatures"][A][f"ed25519:{msk_a}"] = flip_b64(o["signatures"][A][f"ed25519:{msk_a}"])
    put("flip-master-signature-on-self-signing.json", r, A, f"{t}: one bit of the master key's signature on the self-signing key flipped", "self-signing key signature invalid")

    r = copy.deepcopy(base)
    dk = r["device_keys"][A][ad]
    dk["signatures"][A][f"ed25519:{ssk_a}"] = sign_obj(ids[A]["user_signing_seed"], dk)
    put("device-signed-by-user-signing-key.json", r, A,
        f"{t}: ALICEDEV1's cross-signature re-made with alice's user-signing private key (exportCrossSigningKeys), listed under the self-signing key id",
        "a device signed by the wrong key: the signature does not verify under the self-signing key")

    r = copy.deepcopy(base)
    dk = r["device_keys"][A][ad]
    del dk["signatures"][A][f"ed25519:{ssk_a}"]
    dk["signatures"][A][f"ed25519:{msk_a}"] = sign_obj(ids[A]["master_seed"], dk)
    put("device-signed-by-master-key.json", r, A,
        f"{t}: ALICEDEV1's self-signing signature replaced by a valid signature of alice's master key (its own key id)",
        "the master key does not sign devices: a valid signature by it does not make the device cross-signed")

    r = copy.deepcopy(base)
    mk = r["master_keys"][B]
    mk["signatures"][A][f"ed25519:{usk_a}"] = flip_b64(mk["signatures"][A][f"ed25519:{usk_a}"])
    put("flip-user-signing-signature-on-bob.json", r, A, f"{t}: one bit of alice's user-signing signature on bob's master key flipped", "bob is not verified by alice")

    r = copy.deepcopy(base)
    mk = r["master_keys"][A]
    mk["signatures"][A][f"ed25519:{ad}"] = flip_b64(mk["signatures"][A][f"ed25519:{ad}"])
    put("flip-device-signature-on-master.json", r, A, f"{t}: one bit of ALICEDEV1's signature on alice's master key flipped", "the device's signature on the master key does not verify")

    r = copy.deepcopy(base)
    r["master_keys"][B] = copy.deepcopy(snaps["before-verification-alice"]["response"]["master_keys"][B])
    bm = r["master_keys"][B]
    bm["signatures"].setdefault(A, {})[f"ed25519:{usk_a}"] = sign_obj(ids[A]["user_signing_seed"], bm)
    r["device_keys"][A]["ALICEDEV2"] = copy.deepcopy(snaps["before-verification-alice"]["response"]["device_keys"][A]["ALICEDEV2"])
    put("mixed-alice2-not-cross-signed.json", r, A,
        f"{t}: ALICEDEV2 as it was before its QR verification (no self-signing signature); alice's user-signing signature on bob's master key re-made with her exported private key",
        "one device not cross-signed next to a cross-signed one; the re-made user-signing signature verifies")
    return entries


# ---------------------------------------------------------------- QR
def qr_build(mode, txn, k1, k2, secret, version=2, header=b"MATRIX", txn_len=None):
    t = txn.encode()
    n = len(t) if txn_len is None else txn_len
    return header + bytes([version, mode]) + n.to_bytes(2, "big") + t + k1 + k2 + secret


def qr_parse(b):
    """Reference reader: returns (expect, fields)."""
    if len(b) < 6 and b == b"MATRIX"[:len(b)]:
        return "truncated", None
    if b[:6] != b"MATRIX":
        return "header", None
    if len(b) < 8:
        return "truncated", None
    if b[6] != 2:
        return "version", None
    if b[7] not in (0, 1, 2):
        return "mode", None
    if len(b) < 10:
        return "truncated", None
    n = int.from_bytes(b[8:10], "big")
    if len(b) < 10 + n + 64:
        return "truncated", None
    try:
        txn = b[10:10 + n].decode("utf-8")
    except UnicodeDecodeError:
        return "transaction_id", None
    k1, k2, sec = b[10 + n:42 + n], b[42 + n:74 + n], b[74 + n:]
    if not (ed25519_point_ok(k1) and ed25519_point_ok(k2)):
        return "key", None
    if len(sec) < 8:
        # the spec only suggests "about 8 bytes"; matrix-sdk-crypto refuses anything shorter
        return "secret", None
    return "ok", dict(version=2, mode=b[7], transaction_id=txn, key1=b64e(k1), key2=b64e(k2), secret_len=len(sec))


P25519 = 2**255 - 19
D25519 = (-121665 * pow(121666, P25519 - 2, P25519)) % P25519


def ed25519_point_ok(k):
    """Does the 32-byte string decompress to a point on edwards25519 (RFC 8032 5.1.3)?"""
    y = int.from_bytes(k, "little") & ((1 << 255) - 1)
    sign = k[31] >> 7
    if y >= P25519:
        return False
    u, v = (y * y - 1) % P25519, (D25519 * y * y + 1) % P25519
    x = (u * pow(v, 3, P25519) * pow(u * pow(v, 7, P25519), (P25519 - 5) // 8, P25519)) % P25519
    if (v * x * x) % P25519 == u % P25519:
        pass
    elif (v * x * x) % P25519 == (-u) % P25519:
        x = (x * pow(2, (P25519 - 1) // 4, P25519)) % P25519
    else:
        return False
    if x == 0 and sign == 1:
        return False
    return True


def qr_vectors(w, out):
    qd = os.path.join(out, "qr")
    os.makedirs(qd, exist_ok=True)
    ents = []
    devs = w["devices"]
    snap = w["snapshots"]["after-qr-alice"]["response"]
    am = only_key(snap["master_keys"][A])[1]
    bm = only_key(snap["master_keys"][B])[1]
    a1 = devs[f"{A}|ALICEDEV1"]["ed25519"]
    a2 = devs[f"{A}|ALICEDEV2"]["ed25519"]

    def put(name, data, expect_mode, keys, made_by, comment, secret_b64=None):
        with open(os.path.join(qd, name), "wb") as f:
            f.write(data)
        exp, fields = qr_parse(data)
        e = {"file": f"qr/{name}", "expect": exp}
        e.update(fields or dict(version=None, mode=None, transaction_id=None, key1=None, key2=None, secret_len=None))
        if expect_mode is not None:
            assert exp == "ok" and fields["mode"] == expect_mode and (fields["key1"], fields["key2"]) == keys, (name, exp, fields)
        if secret_b64 is not None:
            assert b64e(data[-fields["secret_len"]:]) == secret_b64
        e.update(made_by=made_by, comment=comment)
        ents.append(e)
        return data

    ab, aa = w["qr"]["alice-bob"], w["qr"]["alice2-alice1"]
    recip = lambda flow: next(m["content"]["secret"] for m in flow["messages"] if m["type"] == "m.key.verification.start")
    how = f"{WASM}: VerificationRequest.generateQrCode() + Qr.toBytes() after a to-device request/ready between two OlmMachines"
    put("wasm-mode0-alice.bin", b64d(ab["requester_qr"]), 0, (am, bm), f"{how} (alice shows, verifying bob)",
        "mode 0x00: key1 = alice's master key, key2 = bob's master key as alice has it; 32-character transaction id")
    put("wasm-mode0-bob.bin", b64d(ab["other_qr"]), 0, (bm, am), f"{how} (bob shows, verifying alice); alice scanned it and sent m.reciprocate.v1 with this secret",
        "mode 0x00 from the other side of the same request", secret_b64=recip(ab))
    put("wasm-mode1-alice1.bin", b64d(aa["other_qr"]), 1, (am, a2), f"{how} (self-verification: ALICEDEV1, which trusts the master key, shows); ALICEDEV2 scanned it and sent m.reciprocate.v1 with this secret",
        "mode 0x01: key1 = own master key, key2 = the other device's (ALICEDEV2) ed25519 key", secret_b64=recip(aa))
    put("wasm-mode2-alice2.bin", b64d(aa["requester_qr"]), 2, (a2, am), f"{how} (self-verification: ALICEDEV2, which does not trust the master key yet, shows)",
        "mode 0x02: key1 = this device's ed25519 key, key2 = the master key as this device has it")

    good = b64d(ab["requester_qr"])
    spec = qr_build(0, "$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr", bytes(range(0, 32)), bytes(range(0x10, 0x30)), bytes(range(0x20, 0x28)))
    assert spec[:10].hex() == "4d41545249580200002d"
    put("spec-example.bin", spec, None, None, "gen_identity.py from the spec's example (QR code format): event id of 45 bytes ($ + 44), keys 00 01 .. 1f and 10 11 .. 2f, secret 2021222324252627",
        "the spec's example byte for byte: the layout is right but 000102..1f is not an ed25519 point (key1 AAECAwQFBg..., key2 EBESExQVFh..., secret ICEiIyQlJic)")
    spec_built = "gen_identity.py (spec layout)"
    put("spec-txid-event-id.bin", qr_build(1, "$wwvD9hkRt5AbiE8a1ZY2DLjVC7HRbXxQJHcv6DdAkbw", b64d(am), b64d(a2), b"\x00\xff" * 4), 1, (am, a2),
        f"{spec_built} with alice's real keys", "a room event id as the transaction id (in-room verification); secret bytes 00 ff ..")
    put("spec-long-secret.bin", qr_build(2, "t", b64d(a2), b64d(am), bytes(range(256)) ), 2, (a2, am), f"{spec_built} with alice's real keys",
        "1-byte transaction id, 256-byte secret: the secret is the rest of the payload")
    bad = f"transform of wasm-mode0-alice.bin by gen_identity.py"
    put("bad-header.bin", b"MATRIY" + good[6:], None, None, f"{bad}: 'MATRIX' -> 'MATRIY'", "wrong magic")
    put("bad-header-lowercase.bin", b"matrix" + good[6:], None, None, f"{bad}: lowercase magic", "wrong magic (case matters)")
    put("bad-version-1.bin", good[:6] + b"\x01" + good[7:], None, None, f"{bad}: version byte 0x01", "version 1 (only 0x02 is defined)")
    put("bad-version-3.bin", good[:6] + b"\x03" + good[7:], None, None, f"{bad}: version byte 0x03", "unknown future version")
    put("bad-mode-3.bin", good[:7] + b"\x03" + good[8:], None, None, f"{bad}: mode byte 0x03", "mode 3 is not defined")
    n = int.from_bytes(good[8:10], "big")
    put("truncated-key2.bin", good[:10 + n + 32 + 16], None, None, f"{bad}: cut in the middle of key2", "truncated keys")
    put("truncated-key1.bin", good[:10 + n + 5], None, None, f"{bad}: cut in key1", "truncated keys")
    put("truncated-header.bin", good[:7], None, None, f"{bad}: first 7 bytes", "ends after the version byte")
    put("truncated-txid.bin", good[:10 + n // 2], None, None, f"{bad}: cut inside the transaction id", "transaction id shorter than its length says")
    put("empty.bin", b"", None, None, "gen_identity.py", "zero bytes")
    put("zero-length-secret.bin", good[:10 + n + 64], None, None, f"{bad}: shared secret removed", "keys complete but no shared secret at all")
    put("short-secret-1.bin", good[:10 + n + 64 + 1], None, None, f"{bad}: shared secret cut to 1 byte", "a 1-byte shared secret: the spec only suggests about 8 bytes, matrix-sdk-crypto refuses fewer than 8, so do we")
    put("short-secret-7.bin", good[:10 + n + 64 + 7], None, None, f"{bad}: shared secret cut to 7 bytes", "a 7-byte shared secret: one short of the 8 that matrix-sdk-crypto requires")
    put("overlong-txid-length.bin", good[:8] + (0xFFFF).to_bytes(2, "big") + good[10:], None, None, f"{bad}: transaction id length 0xFFFF", "declared length runs past the end of the payload")
    put("txid-length-too-long-by-one.bin", good[:8] + (n + 1).to_bytes(2, "big") + good[10:], None, None, f"{bad}: transaction id length +1",
        "length one too big: the keys shift by one byte; if the shifted bytes are still ed25519 points it parses (transaction id 1 byte longer, secret 1 byte shorter) and only comparing the transaction id and keys with the expected ones catches it; `expect` says which case this file is")
    put("zero-length-txid.bin", qr_build(0, "", b64d(am), b64d(bm), b"12345678"), None, None, f"{spec_built} with alice's real keys",
        "transaction id of length 0: the layout allows it (wasm accepts it); no request can match it")
    put("txid-not-utf8.bin", qr_build(0, "", b64d(am), b64d(bm), b"12345678", txn_len=None)[:8] + (2).to_bytes(2, "big") + b"\xff\xfe" + b64d(am) + b64d(bm) + b"12345678",
        None, None, f"{spec_built} with alice's real keys", "transaction id bytes are not UTF-8")
    json.dump([e["file"] for e in ents], open(".build/qr-list.json", "w"), indent=1)
    json.dump(ents, open(".build/qr-entries.json", "w"), ensure_ascii=False, indent=1)


def qr_entries(out, qr_check):
    ents = json.load(open(".build/qr-entries.json", encoding="utf-8"))
    chk = json.load(open(qr_check)) if qr_check else {}
    for e in ents:
        c = chk.get(e["file"])
        if c is None:
            continue
        if c["accepted"]:
            e["made_by"] += f"; {WASM} QrCodeScan.fromBytes accepts it"
        else:
            e["made_by"] += f"; {WASM} QrCodeScan.fromBytes rejects it: {c['error']}"
        if (e["expect"] == "ok") != c["accepted"]:
            e["comment"] += f" [wasm {'accepts' if c['accepted'] else 'rejects'} it; the reference reader says {e['expect']}]"
            print("QR divergence:", e["file"], e["expect"], c)
    return ents


# ---------------------------------------------------------------- SAS
def olm_sas_with_key(priv):
    """python-olm Sas whose ephemeral private key is `priv` (libolm takes the random bytes as the key)."""
    import olm.sas as osas
    orig = osas.URANDOM
    osas.URANDOM = lambda n: priv if n == 32 else orig(n)
    try:
        return olm.Sas()
    finally:
        osas.URANDOM = orig


def mac_check(secret, msg, txn, keys_of):
    """Check an m.key.verification.mac (hkdf-hmac-sha256.v2) with the reference HKDF/HMAC."""
    import hmac
    c = msg["content"]
    base = f"MATRIX_KEY_VERIFICATION_MAC{msg['sender']}{msg['sender_device']}{msg['recipient']}{msg['recipient_device']}{txn}"
    for kid, mac in c["mac"].items():
        key = hkdf(secret, base + kid, 32)
        assert b64e(hmac.new(key, keys_of[kid].encode(), "sha256").digest()) == mac, kid
    ids = ",".join(sorted(c["mac"]))
    assert b64e(hmac.new(hkdf(secret, base + "KEY_IDS", 32), ids.encode(), "sha256").digest()) == c["keys"]


def sas_vectors(w, out):
    sd = os.path.join(out, "sas")
    os.makedirs(sd, exist_ok=True)
    ents = []
    nio_names = [n for _, n in EMOJI]
    # public keys a MAC may cover
    keys_of = {}
    for k, v in w["devices"].items():
        u, d = k.split("|")
        keys_of[(u, f"ed25519:{d}")] = v["ed25519"]
    for u in (A, B):
        mpub = only_key(w["snapshots"]["after-qr-alice"]["response"]["master_keys"][u])[1]
        keys_of[(u, f"ed25519:{mpub}")] = mpub

    for name, flow in w["sas"].items():
        msgs = flow["messages"]
        by = lambda t: [m for m in msgs if m["type"] == f"m.key.verification.{t}"]
        start, = by("start")
        txn = start["content"]["transaction_id"]
        cancel = by("cancel")
        accept = by("accept")[0]
        keys = {(m["sender"], m["sender_device"]): m["content"]["key"] for m in by("key")}
        s_id = (start["sender"], start["sender_device"])
        a_id = (accept["sender"], accept["sender_device"])
        s_key, a_key = keys.get(s_id), keys.get(a_id)
        ac = accept["content"]
        info = sas_info(*s_id, s_key, *a_id, a_key, txn) if s_key and a_key else None
        # the commitment: unpadded base64 of sha256(acceptor key || canonical JSON of the start content)
        commit_ok = a_key is not None and b64e(hashlib.sha256((a_key + canon(start["content"]).decode()).encode()).digest()) == ac["commitment"]
        priv = {"start": None, "accept": None}
        secret = None
        if "carol_private" in flow:
            who = "start" if s_id[0] == C else "accept"
            priv[who] = flow["carol_private"]
            assert b64e(x25519_pub(b64d(flow["carol_private"]))) == flow["carol_public"]
            if flow.get("shared_secret") and s_key and a_key:
                sec = x25519(b64d(flow["carol_private"]), b64d(flow["wasm_public"]))
                assert b64e(sec) == flow["shared_secret"]
                secret = sec
        tr = {
            "transaction_id": txn,
            "key_agreement_protocol": ac["key_agreement_protocol"], "hash": ac["hash"],
            "message_authentication_code": ac["message_authentication_code"], "short_authentication_string": ac["short_authentication_string"],
            "start": {"user_id": s_id[0], "device_id": s_id[1], "ephemeral_public_key": s_key},
            "accept": {"user_id": a_id[0], "device_id": a_id[1], "ephemeral_public_key": a_key},
            "commitment": ac["commitment"], "start_content": start["content"],
            "ephemeral_private_keys": priv, "shared_secret": b64e(secret) if secret else None,
            "sas_info": info, "sas_bytes": None, "messages": msgs,
        }
        if cancel:
            assert not commit_ok and name.endswith("bad-commitment")
            tr["cancel"] = cancel[0]["content"]
            write_json(os.path.join(sd, f"{name}.json"), tr)
            ents.append({"transcript": f"sas/{name}.json", "expect": "mismatched_commitment", "emoji": None, "emoji_names": None, "decimals": None,
                         "made_by": f"{WASM} (bob's OlmMachine starts SAS) against a peer played by gen_wasm.mjs that sends a wrong commitment",
                         "comment": f"the acceptor's commitment does not match its key: wasm cancels with code {cancel[0]['content']['code']!r} ({cancel[0]['content'].get('reason')!r}) right after the keys, no SAS is shown"})
            continue
        assert commit_ok, name
        res = flow.get("starter") or flow.get("wasm")
        emoji, dec = res["emoji_index"], res["decimals"]
        if "acceptor" in flow:
            assert flow["acceptor"]["emoji_index"] == emoji and flow["acceptor"]["decimals"] == dec
        names = [d for _, d in res["emoji"]]
        assert names == [nio_names[i] for i in emoji], (names, [nio_names[i] for i in emoji])
        made = f"{WASM}: Sas.emojiIndex(), Sas.emoji() descriptions, Sas.decimals()"
        if secret:
            b = hkdf(secret, info, 6)
            tr["sas_bytes"] = b.hex()
            assert sas_from_bytes(b) == (emoji, dec), (name, sas_from_bytes(b), emoji, dec, info)
            o = olm_sas_with_key(b64d(flow["carol_private"]))
            assert o.pubkey == flow["carol_public"]
            o.set_their_pubkey(flow["wasm_public"])
            assert o.generate_bytes(info, 6) == b
            for m in by("mac"):
                if m["sender"] != C:
                    mac_check(secret, m, txn, {kid: keys_of[(m["sender"], kid)] for kid in m["content"]["mac"]})
            made += "; shared secret known (carol's side played by gen_wasm.mjs with a fixed X25519 key); reference HKDF and python-olm 3.2.16 (libolm) Sas.generate_bytes give the same 6 bytes; wasm's m.key.verification.mac checked with the reference HMAC"
            comment = f"wasm is the {'acceptor' if s_id[0] == C else 'starter'}; carol's ephemeral private key is in the transcript, so the shared secret is known: the Rust side can recompute bytes, emoji, decimals and the MACs"
        else:
            made += " on both machines (identical)"
            comment = "two wasm machines; their ephemeral private keys are not exposed, so the shared secret is unknown (null): check the info string, the commitment and the transcript; emoji/decimals are what both machines showed"
        write_json(os.path.join(sd, f"{name}.json"), tr)
        ents.append({"transcript": f"sas/{name}.json", "expect": "ok", "emoji": emoji, "emoji_names": names, "decimals": dec, "made_by": made, "comment": comment})

    # known keys, libolm only (python-olm), with unusual identifiers
    cases = [
        ("libolm-fixed-keys", A, "ALICEDEV1", B, "BOBDEV1", "txn-with-fixed-keys-1", "plain identifiers"),
        ("libolm-room-event-id", "@älice:example.org", "DÉVICE/1|x", "@bob:ex.org:8448", "B", "$143273582443PhrSn:example.org", "an event id as the transaction id, non-ASCII user and device ids and a '|' inside a device id: the info string is plain concatenation with '|' separators, nothing is escaped"),
    ]
    for n, (name, su, sdv, au, adv, txn, comment) in enumerate(cases):
        ps = hashlib.sha256(f"mxkeys identity vectors: {name} start".encode()).digest()
        pa = hashlib.sha256(f"mxkeys identity vectors: {name} accept".encode()).digest()
        os_, oa = olm_sas_with_key(ps), olm_sas_with_key(pa)
        assert os_.pubkey == b64e(x25519_pub(ps)) and oa.pubkey == b64e(x25519_pub(pa))
        os_.set_their_pubkey(oa.pubkey)
        oa.set_their_pubkey(os_.pubkey)
        info = sas_info(su, sdv, os_.pubkey, au, adv, oa.pubkey, txn)
        b = os_.generate_bytes(info, 6)
        assert b == oa.generate_bytes(info, 6) == hkdf(x25519(ps, x25519_pub(pa)), info, 6)
        emoji, dec = sas_from_bytes(b)
        start_content = {"from_device": sdv, "method": "m.sas.v1", "key_agreement_protocols": ["curve25519-hkdf-sha256"], "hashes": ["sha256"],
                         "message_authentication_codes": ["hkdf-hmac-sha256.v2"], "short_authentication_string": ["decimal", "emoji"], "transaction_id": txn}
        commitment = b64e(hashlib.sha256((oa.pubkey + canon(start_content).decode()).encode()).digest())
        tr = {
            "transaction_id": txn, "key_agreement_protocol": "curve25519-hkdf-sha256", "hash": "sha256",
            "message_authentication_code": "hkdf-hmac-sha256.v2", "short_authentication_string": ["decimal", "emoji"],
            "start": {"user_id": su, "device_id": sdv, "ephemeral_public_key": os_.pubkey},
            "accept": {"user_id": au, "device_id": adv, "ephemeral_public_key": oa.pubkey},
            "commitment": commitment, "start_content": start_content,
            "ephemeral_private_keys": {"start": b64e(ps), "accept": b64e(pa)}, "shared_secret": b64e(x25519(ps, x25519_pub(pa))),
            "sas_info": info, "sas_bytes": b.hex(), "messages": [],
        }
        write_json(os.path.join(sd, f"{name}.json"), tr)
        ents.append({"transcript": f"sas/{name}.json", "expect": "ok", "emoji": emoji, "emoji_names": [nio_names[i] for i in emoji], "decimals": dec,
                     "made_by": "python-olm 3.2.16 (libolm) Sas with fixed private keys (sha256 of a label), generate_bytes(info, 6) on both sides; reference X25519+HKDF (cryptography) agrees; names from matrix-nio 0.26.0's table with the spec's spelling for indexes 34, 36, 53; commitment computed by gen_identity.py (no messages were exchanged)",
                     "comment": comment})
    json.dump(ents, open(".build/sas-list.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)


def build_vectors(wasm_path, out):
    w = json.load(open(wasm_path))
    entries = keys_query_vectors(w, out)
    qr_vectors(w, out)
    sas_vectors(w, out)
    json.dump(entries, open(".build/keys-query-list.json", "w"), indent=1)


# ---------------------------------------------------------------- canonical JSON
MAX_INT = 2**53 - 1


def parse_strict(text):
    """json.loads, but report duplicate keys, floats and out-of-range integers."""
    issues = []

    def pairs(ps):
        keys = [k for k, _ in ps]
        if len(set(keys)) != len(keys):
            issues.append("duplicate_key")
        return dict(ps)

    def pfloat(x):
        issues.append("float")
        return float(x)

    def pint(x):
        v = int(x)
        if abs(v) > MAX_INT:
            issues.append("int_range")
        return v

    v = json.loads(text, object_pairs_hook=pairs, parse_float=pfloat, parse_int=pint)
    return v, issues


def canonical_entries(w):
    inputs = json.load(open("canon_inputs.json", encoding="utf-8"))
    wasm = {c["name"]: c for c in w["canonical"]}
    wasm_canon = {c["name"]: c["wasm_canonical"] for c in w.get("canonical_backup", []) if c.get("wasm_canonical") is not None}
    dev_pub = w["devices"][f"{A}|ALICEDEV1"]["ed25519"]
    vk = Ed25519PublicKey.from_public_bytes(b64d(dev_pub))
    entries = []
    for inp in inputs:
        name, text = inp["name"], inp["input"]
        value, issues = parse_strict(text)
        py = canonicaljson.encode_canonical_json(value).decode()
        nio = NioApi.to_canonical_json(value)
        wj = wasm[name]
        aj = wj.get("another_json")
        cands = [py, aj, nio]
        if isinstance(value, dict) and "a" in value and isinstance(value["a"], (int, float)):
            for lit in ("1.5", "1.0", "1", "100.0", "100", "1e2", "9007199254740992", "-9007199254740992"):
                cands.append('{"a":%s}' % lit)
        if name == "duplicate-key":
            cands += ['{"a":1}', '{"a":2}']
        # OlmMachine.sign() signs the message string as given (checked below), so it says nothing about
        # canonical JSON; wasm's canonical form is checked through verifyBackup (wasm_canon).
        wasm_form = wasm_canon.get(name)
        ok = not issues
        canonical = py if ok else None
        notes = []
        if ok:
            assert nio == py, (name, nio, py)
            made = "canonicaljson 2.0.0 encode_canonical_json; matrix-nio 0.26.0 Api.to_canonical_json gives the same"
            if name in wasm_canon:
                assert wasm_form == py, (name, wasm_form, py)
                made += f"; {WASM} agrees (OlmMachine.verifyBackup accepts a master-key signature over these bytes)"
            if aj == py:
                made += "; another-json 0.2.0 gives the same"
            else:
                made += f"; another-json 0.2.0 (matrix-js-sdk) DIFFERS: {json.dumps(aj, ensure_ascii=False)}"
        else:
            made = (f"refused by the spec's rules ({', '.join(sorted(set(issues)))}); peers do not refuse: "
                    f"canonicaljson 2.0.0 gives {json.dumps(py, ensure_ascii=False)}, "
                    f"matrix-nio 0.26.0 {json.dumps(nio, ensure_ascii=False)}, "
                    f"another-json 0.2.0 {json.dumps(aj, ensure_ascii=False)}"
                    + (f", {WASM} verifyBackup canonicalises it as {json.dumps(wasm_form, ensure_ascii=False)}" if wasm_form else ""))
        entries.append({"input": text, "canonical": canonical, "made_by": made, "comment": inp["comment"]})
    # sign() signs the raw message string, not its canonical JSON
    for inp in inputs:
        vk.verify(b64d(wasm[inp["name"]]["wasm_device_signature"]), inp["input"].encode())
    return entries


def keys_query_entries(w, out):
    lst = json.load(open(".build/keys-query-list.json"))
    snaps = w["snapshots"]
    real = {"keys-query/wasm-alice-before.json": "before-verification-alice", "keys-query/wasm-alice-verified.json": "after-qr-alice",
            "keys-query/wasm-bob-verified.json": "after-sas-bob"}
    entries = []
    for e in lst:
        resp = json.load(open(os.path.join(out, e["file"])))
        for user in e["users"]:
            exp = check_user(resp, user, e["viewer"])
            if e["file"] in real:
                # the reference verdict must agree with the machine that saw this response
                tv = snaps[real[e["file"]]]["trust"]
                for dev, st in exp["devices"].items():
                    wv = tv["devices"][f"{user}|{dev}"]
                    assert wv["isCrossSignedByOwner"] == (st == "cross_signed"), (e["file"], user, dev, st, wv)
                if user != e["viewer"]:
                    assert tv["identities"][user]["isVerified"] == exp["signed_by_viewer_user_signing"], (e["file"], user, exp)
            entries.append({"file": e["file"], "user": user, "viewer": e["viewer"], "expect": exp, "made_by": e["made_by"], "comment": e["comment"]})
    return entries


def write_manifest(wasm_path, out, qr_check=None):
    w = json.load(open(wasm_path))
    m = {"canonical_json": canonical_entries(w), "keys_query": keys_query_entries(w, out), "qr": [], "sas": []}
    if os.path.exists(".build/qr-list.json"):
        m["qr"] = qr_entries(out, qr_check)
    if os.path.exists(".build/sas-list.json"):
        m["sas"] = json.load(open(".build/sas-list.json", encoding="utf-8"))
    listed = {e["file"] for e in m["keys_query"]} | {e["file"] for e in m["qr"]} | {e["transcript"] for e in m["sas"]}
    listed |= {e["secret_storage"]["file"] for e in m["keys_query"] if e.get("secret_storage")}
    on_disk = set()
    for root, _, files in os.walk(out):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), out)
            # qr-images/ and stored-keys/ have their own manifests (gen_qr_images.*, gen_stored_keys.mjs)
            if rel not in ("manifest.json", "README.md") and rel.split(os.sep)[0] not in ("qr-images", "stored-keys"):
                on_disk.add(rel)
    assert on_disk == listed, (on_disk - listed, listed - on_disk)
    write_json(os.path.join(out, "manifest.json"), m)
    print("manifest:", {k: len(v) for k, v in m.items()})


def main():
    cmd = sys.argv[1]
    if cmd == "vectors":
        build_vectors(sys.argv[2], sys.argv[3])
    elif cmd == "manifest":
        write_manifest(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
