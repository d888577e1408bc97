"""Python half of the account-state generator (test-vectors/account, see its README.md).

  python gen_account.py manifest META.json OUTDIR
      reads every state OUTDIR/<state>/ back with this file's reference reader (written from the
      spec: cryptography, hashlib, ../backup/refbackup.py), applies the doctor rules below to get
      each run's verdicts, requires them to equal the verdicts the Node generator built the state
      to give, confirms them with mautrix (SSSS), python-olm and vodozemac, writes OUTDIR/manifest.json
  python gen_account.py confirm OUTDIR FACTS.json
      the js-sdk/wasm facts from `node gen_account.mjs confirm`: turned into verdicts with the same
      rules; every check they bear on must agree; their names are added to confirmed_by

A "fact" is what one implementation finds in the files (which key ids the key opens, what each
secret decrypts to, whether the stored seeds are the published keys, ...). The rules turn facts into
verdicts; an implementation confirms a check when it supplies at least one fact that check depends
on and the verdict from its facts (the rest from the reference) is the reference's verdict.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from importlib.metadata import version as pkg_version
from pathlib import Path

import olm
import olm.pk
import vodozemac as vz
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.exceptions import InvalidSignature
from mautrix.crypto.ssss import Key, KeyMetadata
from mautrix.crypto.ssss.types import EncryptedKeyData
from mautrix.crypto.ssss.util import decode_base58_recovery_key

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "backup"))
import refbackup as ref  # noqa: E402

CHECK_IDS = ["default_key", "key_check", "secrets", "backup_key_in_storage", "backup_key_matches_backup",
             "cross_signing_in_storage", "cross_signing_matches_published", "backup_trusted",
             "dehydration_key", "backup_sessions"]
AES = "m.secret_storage.v1.aes-hmac-sha2"
BACKUP_ALG = "m.megolm_backup.v1.curve25519-aes-sha2"
KEY_PREFIX = "m.secret_storage.key."
DEFAULT = "m.secret_storage.default_key"
BACKUP = "m.megolm_backup.v1"
CROSS = ["m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing"]
DEHYDRATION = ["org.matrix.msc3814", "m.dehydrated_device"]

# Short names in confirmed_by; the manifest's "confirmers" spells them out.
REF, MAUTRIX, OLM, VZ, JSSDK, WASM = "reference", "mautrix", "python-olm", "vodozemac", "matrix-js-sdk", "matrix-sdk-crypto-wasm"
CONFIRMERS = {
    REF: f"this generator's reference reader (gen_account.py from the spec: cryptography {pkg_version('cryptography')}, "
         "hashlib, ../backup/refbackup.py); every verdict is its",
    MAUTRIX: f"mautrix {pkg_version('mautrix')} mautrix.crypto.ssss: KeyMetadata.deserialize/verify_raw_key, "
             "PassphraseMetadata.get_key, decode_base58_recovery_key, Key.decrypt",
    OLM: f"python-olm {pkg_version('python-olm')} (libolm): PkSigning (seed -> public key), ed25519_verify "
         "(the trust chain), PkDecryption (backup public key, sessions)",
    VZ: f"vodozemac {pkg_version('vodozemac')} (Python binding): PkDecryption (backup public key, sessions)",
}

# The facts a peer must supply for its agreement to count as confirming a check (the structural
# facts, e.g. which secrets exist, come from the reference for everyone; see rules()).
DEPS = {
    "default_key": {"default_ok"},
    "key_check": {"opens"},
    "secrets": {"opens", "decrypted", "under_default"},
    "backup_key_in_storage": {"decrypted"},
    "backup_key_matches_backup": {"backup_match"},
    "cross_signing_in_storage": {"decrypted"},
    "cross_signing_matches_published": {"cross_signing_matches"},
    "backup_trusted": {"trusted"},
    "dehydration_key": {"decrypted", "dehydration_valid"},
    "backup_sessions": {"sessions"},
}


# ------------------------------------------------------------------ helpers
def unb64(s) -> bytes:
    return ref.unb64(s)


def b64(b: bytes) -> str:
    return ref.b64(b)


def b64len(s) -> int | None:
    try:
        return len(unb64(s))
    except (ValueError, TypeError):
        return None


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load_json(path: Path):
    return json.loads(path.read_text("utf-8"))


def is_obj(v) -> bool:
    return isinstance(v, dict)


# ------------------------------------------------------------------ reference secret storage
def derive(key: bytes, name: str) -> tuple[bytes, bytes]:
    """HKDF-SHA-256 (salt 32 zero bytes, info = secret name) -> AES key, HMAC key."""
    okm = ref.hkdf_sha256(key, 64, b"\0" * 32, name.encode("utf-8"))
    return okm[:32], okm[32:]


def ssss_decrypt(key: bytes, name: str, enc) -> str:
    """Raises ValueError on any malformed field or a MAC mismatch; returns the plaintext string."""
    if not is_obj(enc) or not all(isinstance(enc.get(f), str) for f in ("iv", "ciphertext", "mac")):
        raise ValueError("encrypted entry lacks string iv/ciphertext/mac")
    iv, ct, mac = unb64(enc["iv"]), unb64(enc["ciphertext"]), unb64(enc["mac"])
    if len(iv) != 16:
        raise ValueError("iv is not 16 bytes")
    aes_key, mac_key = derive(key, name)
    if not hmac.compare_digest(mac, hmac.new(mac_key, ct, hashlib.sha256).digest()):
        raise ValueError("MAC mismatch")
    d = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    return (d.update(ct) + d.finalize()).decode("utf-8")


def key_check_ok(key: bytes, desc) -> bool:
    """The key-check MAC of a description: AES-CTR of 32 zero bytes under the name "", HMAC-SHA-256."""
    iv = unb64(desc["iv"])
    aes_key, mac_key = derive(key, "")
    e = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    ct = e.update(b"\0" * 32) + e.finalize()
    return hmac.compare_digest(unb64(desc["mac"]), hmac.new(mac_key, ct, hashlib.sha256).digest())


def description_ok(desc) -> bool:
    """Well formed enough to be used: an object, algorithm aes-hmac-sha2, iv and mac both strings or both absent."""
    if not is_obj(desc) or desc.get("algorithm") != AES:
        return False
    has = [f in desc for f in ("iv", "mac")]
    if has == [True, True]:
        return isinstance(desc["iv"], str) and isinstance(desc["mac"], str)
    return has == [False, False]


def secret_types(ad: dict) -> dict[str, list[str]]:
    """Account-data types that hold a secret: content with an `encrypted` object -> its key ids."""
    return {t: list(c["encrypted"]) for t, c in ad.items()
            if is_obj(c) and is_obj(c.get("encrypted")) and not t.startswith(KEY_PREFIX)}


def key_bytes_for(held, desc) -> bytes | None:
    """The key a held Security Key / Phrase gives for one description (a phrase needs its passphrase info)."""
    if held["form"] == "security_key":
        verdict, raw = ref.check_recovery_key(held["text"])
        return raw if verdict == "ok" else None
    pp = desc.get("passphrase") if is_obj(desc) else None
    if not is_obj(pp) or pp.get("algorithm") != "m.pbkdf2":
        return None
    return hashlib.pbkdf2_hmac("sha512", held["text"].encode("utf-8"), str(pp["salt"]).encode("utf-8"),
                               int(pp["iterations"]), int(pp.get("bits", 256)) // 8)


# ------------------------------------------------------------------ reference facts
def reference_facts(state_dir: Path, state: dict, held) -> dict:
    f: dict = {"held_kind": held["kind"] if held else None}
    try:
        ad = load_json(state_dir / state["files"]["account_data"])
    except ValueError as e:
        return {"error": f"account data is not JSON: {e}"}
    if not is_obj(ad):
        return {"error": "account data is not a JSON object {type: content}"}
    pointer = ad.get(DEFAULT)
    default_id = pointer.get("key") if is_obj(pointer) and isinstance(pointer.get("key"), str) else None
    f["default_id"] = default_id
    f["default_ok"] = default_id is not None and description_ok(ad.get(KEY_PREFIX + default_id))
    secrets = secret_types(ad)
    f["secrets"] = secrets
    f["under_default"] = {t: default_id in under for t, under in secrets.items()}

    # which descriptions the held secret-storage key opens, the default first
    opens, keys = [], {}
    if held and held["kind"] == "secret_storage_key":
        ids = [t[len(KEY_PREFIX):] for t in ad if t.startswith(KEY_PREFIX)]
        ids.sort(key=lambda i: i != default_id)
        for kid in ids:
            desc = ad[KEY_PREFIX + kid]
            if not description_ok(desc):
                continue
            k = key_bytes_for(held, desc)
            if k is None:
                continue
            if "mac" in desc:
                ok = key_check_ok(k, desc)
            else:  # no key check (js-sdk 6): any secret's MAC under this key decides
                ok = False
                for t, under in secrets.items():
                    if kid in under:
                        try:
                            ssss_decrypt(k, t, ad[t]["encrypted"][kid])
                            ok = True
                            break
                        except ValueError:
                            pass
            if ok:
                opens.append(kid)
                keys[kid] = k
    f["opens"] = sorted(opens)
    decrypted = {}
    for t, under in secrets.items():
        for kid in opens:  # default first
            if kid in under:
                try:
                    v = ssss_decrypt(keys[kid], t, ad[t]["encrypted"][kid])
                    decrypted[t] = {"ok": True, "len": b64len(v), "value": v}
                except (ValueError, UnicodeDecodeError) as e:
                    decrypted[t] = {"ok": False, "error": str(e)}
                break
    f["decrypted"] = decrypted
    f["backup_present"] = BACKUP in secrets and len(secrets[BACKUP]) > 0
    f["cross_signing_present"] = all(t in secrets and secrets[t] for t in CROSS)
    f["dehydration_present"] = any(t in secrets for t in DEHYDRATION)
    f["dehydration_valid"] = None

    # backup version and the candidate backup key
    version = None
    if "backup_version" in state["files"]:
        vb = load_json(state_dir / state["files"]["backup_version"])
        ad_ = vb.get("auth_data") if is_obj(vb) else None
        alg_ok = is_obj(vb) and vb.get("algorithm") == BACKUP_ALG and is_obj(ad_) and isinstance(ad_.get("public_key"), str)
        version = {"algorithm_ok": bool(alg_ok), "body": vb}
    f["version"] = version
    candidate = None
    if held and held["kind"] == "backup_key":
        verdict, candidate = ref.check_recovery_key(held["text"])
    elif decrypted.get(BACKUP, {}).get("ok") and decrypted[BACKUP]["len"] == 32:
        candidate = unb64(decrypted[BACKUP]["value"])
    f["candidate"] = candidate
    f["backup_match"] = None
    if candidate is not None and version and version["algorithm_ok"]:
        f["backup_match"] = b64(ref.public_key(candidate)) == version["body"]["auth_data"]["public_key"]
    f["sessions"] = None
    if candidate is not None and "backup" in state["files"]:
        body = load_json(state_dir / state["files"]["backup"])
        ok = fail = 0
        for r in body["rooms"].values():
            for kd in r["sessions"].values():
                try:
                    ref.decrypt(candidate, kd["session_data"])
                    ok += 1
                except ref.Failure:
                    fail += 1
        f["sessions"] = {"ok": ok, "fail": fail}

    # published identity
    kq = None
    user = state["user_id"]
    if "keys_query" in state["files"]:
        body = load_json(state_dir / state["files"]["keys_query"])
        kq = {"has_user": is_obj(body.get("master_keys", {}).get(user)), "body": body}
    f["keys_query"] = kq
    f["cross_signing_matches"] = None
    if kq and kq["has_user"] and all(decrypted.get(t, {}).get("ok") and decrypted[t]["len"] == 32 for t in CROSS):
        pub = published(kq["body"], user)
        f["cross_signing_matches"] = all(
            ed25519_public(unb64(decrypted[t]["value"])) == pub.get(t) for t in CROSS)
    f["trusted"] = None
    if kq and kq["has_user"] and version and version["algorithm_ok"]:
        f["trusted"] = backup_trusted(version["body"]["auth_data"], kq["body"], user, verify_cryptography)
    return f


def ed25519_public(seed: bytes) -> str:
    return b64(Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def published(kq: dict, user: str) -> dict:
    def one(o):
        return next(iter(o["keys"].values())) if is_obj(o) and is_obj(o.get("keys")) and o["keys"] else None
    return {"m.cross_signing.master": one(kq.get("master_keys", {}).get(user)),
            "m.cross_signing.self_signing": one(kq.get("self_signing_keys", {}).get(user)),
            "m.cross_signing.user_signing": one(kq.get("user_signing_keys", {}).get(user))}


def verify_cryptography(pub_b64: str, message: bytes, sig_b64: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(unb64(pub_b64)).verify(unb64(sig_b64), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def verify_olm(pub_b64: str, message: bytes, sig_b64: str) -> bool:
    try:
        olm.ed25519_verify(pub_b64, message, sig_b64)
        return True
    except olm.OlmVerifyError:
        return False


def signed_by(obj: dict, user: str, key_id: str, pub: str, verify) -> bool:
    """The Matrix signing-JSON check: `signatures`/`unsigned` removed, canonical JSON, ed25519."""
    sig = obj.get("signatures", {}).get(user, {}).get(key_id) if is_obj(obj.get("signatures")) else None
    if not isinstance(sig, str) or not isinstance(pub, str):
        return False
    body = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return verify(pub, canonical(body), sig)


def backup_trusted(auth_data: dict, kq: dict, user: str, verify) -> bool:
    """Trusted = a valid signature by the published master key, or by a device of the user whose
    device keys are signed by the published self-signing key, itself signed by the master key."""
    master = published(kq, user)["m.cross_signing.master"]
    if master and signed_by(auth_data, user, f"ed25519:{master}", master, verify):
        return True
    ssk_obj = kq.get("self_signing_keys", {}).get(user)
    ssk = published(kq, user)["m.cross_signing.self_signing"]
    if not (master and ssk and signed_by(ssk_obj, user, f"ed25519:{master}", master, verify)):
        return False
    for dev_id, dk in kq.get("device_keys", {}).get(user, {}).items():
        dev_key = dk.get("keys", {}).get(f"ed25519:{dev_id}")
        if (signed_by(dk, user, f"ed25519:{ssk}", ssk, verify)
                and signed_by(auth_data, user, f"ed25519:{dev_id}", dev_key, verify)):
            return True
    return False


# ------------------------------------------------------------------ the rules
def rules(f: dict) -> dict:
    """Facts -> {check id: verdict}. The same function for every implementation's facts."""
    ssss = f["held_kind"] == "secret_storage_key"
    did, opens, dec, S = f["default_id"], f["opens"], f["decrypted"], f["secrets"]
    v = {}
    v["default_key"] = "ok" if f["default_ok"] else "fail"

    if not ssss:
        v["key_check"] = "skipped"
    elif f["default_ok"]:
        v["key_check"] = "ok" if did in opens else "fail"
    else:
        v["key_check"] = "warn" if opens else "fail"

    if not S:
        v["secrets"] = "warn"
    elif not f["default_ok"]:
        v["secrets"] = "fail"
    elif ssss and did in opens and any(did in under and not dec.get(t, {}).get("ok") for t, under in S.items()):
        v["secrets"] = "fail"
    elif not all(f["under_default"].get(t) for t in S):
        v["secrets"] = "warn"
    else:
        v["secrets"] = "ok"

    if not f["backup_present"]:
        v["backup_key_in_storage"] = "fail"
    elif not ssss:
        v["backup_key_in_storage"] = "skipped"
    else:
        d = dec.get(BACKUP)
        v["backup_key_in_storage"] = "ok" if d and d["ok"] and d["len"] == 32 else "fail"

    if f["version"] is None:
        v["backup_key_matches_backup"] = "skipped"
    elif not f["version"]["algorithm_ok"]:
        v["backup_key_matches_backup"] = "fail"
    elif f["backup_match"] is None:
        v["backup_key_matches_backup"] = "skipped"
    else:
        v["backup_key_matches_backup"] = "ok" if f["backup_match"] else "fail"

    if not f["cross_signing_present"]:
        v["cross_signing_in_storage"] = "fail"
    elif not ssss:
        v["cross_signing_in_storage"] = "skipped"
    else:
        ok = all(dec.get(t, {}).get("ok") and dec[t]["len"] == 32 for t in CROSS)
        v["cross_signing_in_storage"] = "ok" if ok else "fail"

    kq = f["keys_query"]
    if kq is None:
        v["cross_signing_matches_published"] = "skipped"
    elif not kq["has_user"]:
        v["cross_signing_matches_published"] = "fail"
    elif f["cross_signing_matches"] is None:
        v["cross_signing_matches_published"] = "skipped"
    else:
        v["cross_signing_matches_published"] = "ok" if f["cross_signing_matches"] else "fail"

    if f["version"] is None or kq is None:
        v["backup_trusted"] = "skipped"
    elif not f["version"]["algorithm_ok"] or not kq["has_user"]:
        v["backup_trusted"] = "fail"
    else:
        v["backup_trusted"] = "ok" if f["trusted"] else "fail"

    if not f["dehydration_present"] or not ssss:
        v["dehydration_key"] = "skipped"
    else:
        d = next((dec[t] for t in DEHYDRATION if t in dec), None)
        good = d is not None and d["ok"] and d["len"] == 32 and f.get("dehydration_valid") is not False
        v["dehydration_key"] = "ok" if good else "warn"

    s = f["sessions"]
    if s is None:
        v["backup_sessions"] = "skipped"
    elif s["fail"] == 0 and s["ok"] > 0:
        v["backup_sessions"] = "ok"
    elif s["ok"] == 0:
        v["backup_sessions"] = "fail"
    else:
        v["backup_sessions"] = "warn"
    return v


# ------------------------------------------------------------------ peers (Python)
def mautrix_facts(state_dir: Path, state: dict, held, reff: dict) -> dict:
    """mautrix.crypto.ssss: KeyMetadata (deserialize, verify_raw_key, PassphraseMetadata.get_key),
    decode_base58_recovery_key, Key.decrypt (MAC check; returns the base64-decoded secret bytes)."""
    if not held or held["kind"] != "secret_storage_key":
        return {}
    ad = load_json(state_dir / state["files"]["account_data"])
    S = secret_types(ad)
    opens, keys = [], {}
    for t, desc in ad.items():
        if not t.startswith(KEY_PREFIX):
            continue
        kid = t[len(KEY_PREFIX):]
        try:
            meta = KeyMetadata.deserialize(desc)
        except Exception:  # unknown algorithm, wrong shapes: mautrix cannot use it
            continue
        if held["form"] == "security_key":
            raw = decode_base58_recovery_key(held["text"])
        elif meta.passphrase:
            raw = meta.passphrase.get_key(held["text"])
        else:
            continue
        if meta.mac is not None:
            try:
                keys[kid] = meta.verify_raw_key(kid, raw)
                opens.append(kid)
            except ValueError:
                pass
        else:  # verify_raw_key needs a mac (it crashes on None): use a secret's MAC via Key.decrypt
            k = Key(id=kid, key=raw, metadata=meta)
            for st, under in S.items():
                if kid in under:
                    try:
                        k.decrypt(st, EncryptedKeyData.deserialize(ad[st]["encrypted"][kid]))
                        keys[kid] = k
                        opens.append(kid)
                        break
                    except Exception:
                        pass
    did = reff["default_id"]
    order = sorted(opens, key=lambda i: i != did)
    decrypted = {}
    for st, under in S.items():
        for kid in order:
            if kid in under:
                try:
                    raw = keys[kid].decrypt(st, EncryptedKeyData.deserialize(ad[st]["encrypted"][kid]))
                    decrypted[st] = {"ok": True, "len": len(raw), "value": b64(raw)}
                except Exception as e:
                    decrypted[st] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                break
    return {"opens": sorted(opens), "decrypted": decrypted}


def olm_from_private(priv: bytes) -> olm.pk.PkDecryption:
    """python-olm has no constructor from a private key: libolm's olm_pk_key_from_private through
    its cffi handle, as PkDecryption.__init__ does with random bytes (same as ../backup/gen_backup.py)."""
    ffi, lib = olm.pk.ffi, olm.pk.lib
    obj = olm.pk.PkDecryption.__new__(olm.pk.PkDecryption)
    n = lib.olm_pk_key_length()
    buf = ffi.new("char[]", n)
    obj._check_error(lib.olm_pk_key_from_private(obj._pk_decryption, buf, n, ffi.new("char[]", priv), len(priv)))
    obj.public_key = ffi.unpack(buf, n).decode()
    return obj


def olm_facts(state_dir: Path, state: dict, held, reff: dict) -> dict:
    """python-olm (libolm): PkSigning seed -> public key, ed25519_verify for the trust chain,
    PkDecryption for the backup's public key and sessions."""
    out = {}
    user = state["user_id"]
    dec = reff["decrypted"]
    kq = reff["keys_query"]
    if kq and kq["has_user"] and all(dec.get(t, {}).get("ok") and dec[t]["len"] == 32 for t in CROSS):
        pub = published(kq["body"], user)
        out["cross_signing_matches"] = all(
            olm.pk.PkSigning(unb64(dec[t]["value"])).public_key == pub.get(t) for t in CROSS)
    v = reff["version"]
    if kq and kq["has_user"] and v and v["algorithm_ok"]:
        out["trusted"] = backup_trusted(v["body"]["auth_data"], kq["body"], user, verify_olm)
    cand = reff["candidate"]
    if cand is not None:
        d = olm_from_private(cand)
        if v and v["algorithm_ok"]:
            out["backup_match"] = d.public_key == v["body"]["auth_data"]["public_key"]
        if "backup" in state["files"]:
            ok = fail = 0
            for r in load_json(state_dir / state["files"]["backup"])["rooms"].values():
                for kd in r["sessions"].values():
                    sd = kd["session_data"]
                    try:
                        json.loads(d.decrypt(olm.pk.PkMessage(sd["ephemeral"], sd["mac"], sd["ciphertext"])))
                        ok += 1
                    except (olm.pk.PkDecryptionError, ValueError):
                        fail += 1
            out["sessions"] = {"ok": ok, "fail": fail}
    return out


def vz_facts(state_dir: Path, state: dict, held, reff: dict) -> dict:
    """vodozemac: PkDecryption.from_key for the backup's public key and sessions."""
    out = {}
    cand = reff["candidate"]
    if cand is None:
        return out
    d = vz.PkDecryption.from_key(vz.Curve25519SecretKey.from_bytes(cand))
    v = reff["version"]
    if v and v["algorithm_ok"]:
        out["backup_match"] = d.public_key.to_base64() == v["body"]["auth_data"]["public_key"]
    if "backup" in state["files"]:
        ok = fail = 0
        for r in load_json(state_dir / state["files"]["backup"])["rooms"].values():
            for kd in r["sessions"].values():
                sd = kd["session_data"]
                try:
                    json.loads(d.decrypt(vz.Message.from_base64(sd["ciphertext"], sd["mac"], sd["ephemeral"])))
                    ok += 1
                except Exception:
                    fail += 1
        out["sessions"] = {"ok": ok, "fail": fail}
    return out


def confirmations(name: str, reff: dict, peer: dict, want: dict, where: str) -> list[str]:
    """Check ids this peer's facts bear on, after requiring each to give the reference verdict."""
    merged = {**reff, **peer}
    got = rules(merged)
    out = []
    for cid in CHECK_IDS:
        if not (DEPS[cid] & set(peer)) or want[cid] == "skipped":  # no credit for a check that did not run
            continue
        if got[cid] != want[cid]:
            raise SystemExit(f"{where}: {name} gives {cid}={got[cid]}, reference {want[cid]} (facts {json.dumps({k: peer[k] for k in DEPS[cid] & set(peer)}, default=str)[:400]})")
        out.append(cid)
    return out


def dumps(v, indent=0) -> str:
    """JSON, one line for anything short (so a check is one line), indented otherwise."""
    flat = json.dumps(v, ensure_ascii=False)
    if len(flat) + indent <= 150 or not isinstance(v, (dict, list)) or not v:
        return flat
    pad = " " * (indent + 2)
    if isinstance(v, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {dumps(x, indent + 2)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return "[\n" + ",\n".join(pad + dumps(x, indent + 2) for x in v) + "\n" + " " * indent + "]"


def write_manifest(out: Path, manifest: dict) -> None:
    (out / "manifest.json").write_text(dumps(manifest) + "\n")


def held_of(state_dir: Path, state: dict, run: dict):
    if not run["key"]:
        return None
    k = state["keys"][run["key"]]
    return {**k, "text": (state_dir / run["key"]).read_text("utf-8").strip()}


def sanity(where: str, f: dict, expected: dict) -> None:
    """What the reference decrypts must be what the Node generator stored."""
    for t, d in f["decrypted"].items():
        want = expected.get("secret_values", {}).get(t)
        if d["ok"] and want is not None and d["value"] != want:
            raise SystemExit(f"{where}: {t} decrypts to {d['value']}, generator stored {want}")
    if expected.get("stored_backup_public_key") and expected.get("secret_values", {}).get(BACKUP):
        if b64(ref.public_key(unb64(expected["secret_values"][BACKUP]))) != expected["stored_backup_public_key"]:
            raise SystemExit(f"{where}: stored backup key's public key")
    if f["version"] and expected.get("backup_public_key"):
        if f["version"]["body"]["auth_data"]["public_key"] != expected["backup_public_key"]:
            raise SystemExit(f"{where}: backup_version.json public key")


def opens_of(f: dict) -> dict:
    return {"key_ids": f["opens"], "secrets": sorted(t for t, d in f["decrypted"].items() if d["ok"])}


# ------------------------------------------------------------------ manifest
def make_manifest(meta_path: str, outdir: str) -> None:
    meta = load_json(Path(meta_path))
    out = Path(outdir)
    states = []
    problems = 0
    for st in meta["states"]:
        d = out / st["name"]
        runs = []
        for run in st["runs"]:
            held = held_of(d, st, run)
            where = f"{st['name']} [{run['key']}]"
            f = reference_facts(d, st, held)
            if "error" in f:
                if not run["error"]:
                    raise SystemExit(f"{where}: reference error {f['error']}")
                runs.append({"key": run["key"], "error": f["error"], "checks": None, "opens": None,
                             **({"comment": run["comment"]} if run.get("comment") else {})})
                continue
            v = rules(f)
            sanity(where, f, st["expected"])
            if run["error"] or v != run["intended"]:
                problems += 1
                diff = {k: (run["intended"] or {}).get(k) for k in CHECK_IDS if v[k] != (run["intended"] or {}).get(k)}
                print(f"MISMATCH {where}: reference {[(k, v[k]) for k in diff]} intended {diff}", flush=True)
            confirmed = {cid: [REF] for cid in CHECK_IDS}
            for pname, fn in ((MAUTRIX, mautrix_facts), (OLM, olm_facts), (VZ, vz_facts)):
                for cid in confirmations(pname, f, fn(d, st, held, f), v, where):
                    confirmed[cid].append(pname)
            checks = []
            for cid in CHECK_IDS:
                c = {"id": cid, "status": v[cid], "confirmed_by": confirmed[cid]}
                if cid == "key_check":
                    c["opens"] = opens_of(f)
                checks.append(c)
            runs.append({"key": run["key"], "error": None, "checks": checks,
                         **({"comment": run["comment"]} if run.get("comment") else {})})
        keys = {fn: {k: v for k, v in kd.items() if k not in ("text",)} for fn, kd in st["keys"].items()}
        states.append({
            "name": st["name"], "dir": st["name"], "title": st["title"], "description": st["description"],
            "user_id": st["user_id"], "made_by": st["made_by"], "derived": st["derived"],
            "files": st["files"], "keys": keys, "runs": runs, "expected": st["expected"],
        })
    if problems:
        raise SystemExit(f"{problems} runs where the reference verdicts differ from the intended ones")
    manifest = {
        "comment": "Account states for `mxkeys doctor`; see README.md. Each run: the key file the user holds "
                   "(null: no key), and the expected status of every check, in doctor's order.",
        "check_ids": CHECK_IDS,
        "confirmers": {**CONFIRMERS,
                       JSSDK: f"{meta['jssdk']}: ServerSideSecretStorageImpl getKey/checkKey/get/isStored, "
                              "decodeRecoveryKey, deriveRecoveryKeyFromPassphrase, decryptionKeyMatchesKeyBackupInfo",
                       WASM: f"{meta['wasm']}: BackupDecryptionKey (megolmV1PublicKey, decryptV1), "
                             "DehydratedDeviceKey.createKeyFromArray, a checker OlmMachine fed keys_query.json: "
                             "importCrossSigningKeys, verifyBackup(...).trusted()"},
        "made_with": [meta["jssdk"], meta["wasm"], meta["node"], f"mautrix {pkg_version('mautrix')}",
                      f"python-olm {pkg_version('python-olm')}", f"vodozemac {pkg_version('vodozemac')}",
                      f"cryptography {pkg_version('cryptography')}", f"Python {sys.version.split()[0]}"],
        "states": states,
    }
    write_manifest(out, manifest)
    n = sum(len(s["runs"]) for s in states)
    print(f"manifest: {len(states)} states, {n} runs; reference = intended; mautrix, python-olm, vodozemac agree")


# ------------------------------------------------------------------ js-sdk / wasm facts
def confirm(outdir: str, facts_path: str) -> None:
    out = Path(outdir)
    manifest = load_json(out / "manifest.json")
    facts = load_json(Path(facts_path))
    jssdk, wasm = JSSDK, WASM
    for st in manifest["states"]:
        d = out / st["dir"]
        for run, jf in zip(st["runs"], facts["states"][st["name"]]):
            where = f"{st['name']} [{run['key']}]"
            if run["error"]:
                if "error" not in jf:
                    raise SystemExit(f"{where}: js-sdk read account data the reference refuses")
                continue
            held = held_of(d, st, run)
            f = reference_facts(d, st, held)
            want = {c["id"]: c["status"] for c in run["checks"]}
            js, wa = jf["jssdk"], jf["wasm"]
            p_js = {"default_ok": js["default_key_usable"]}
            if held and held["kind"] == "secret_storage_key":
                p_js["opens"] = js["opens"]
                p_js["decrypted"] = {t: ({"ok": True, "len": js["secret_lengths"].get(t), "value": x["value"]} if x["ok"] else x)
                                     for t, x in js["decrypted"].items()}
            p_js["under_default"] = js["under_default"]
            if "backup_key_matches" in js and f["version"] and f["version"]["algorithm_ok"]:
                p_js["backup_match"] = js["backup_key_matches"]
            p_wasm = {}
            if "candidate_public_key" in wa and f["version"] and f["version"]["algorithm_ok"]:
                p_wasm["backup_match"] = wa["candidate_public_key"] == f["version"]["body"]["auth_data"]["public_key"]
            if "sessions" in wa:
                p_wasm["sessions"] = wa["sessions"]
            # (for a keys-query body without the user, or a backup of an unknown algorithm, the rules
            # fail these checks whatever the facts; wasm's import and verifyBackup must then fail too)
            if "stored_cross_signing_import" in wa:
                p_wasm["cross_signing_matches"] = wa["stored_cross_signing_import"] == "ok"
            if "backup_trusted" in wa:
                p_wasm["trusted"] = wa["backup_trusted"]
            if p_wasm.get("cross_signing_matches") and want["cross_signing_matches_published"] == "fail":
                raise SystemExit(f"{where}: wasm imports the stored keys, the rules fail them")
            if p_wasm.get("trusted") and want["backup_trusted"] == "fail":
                raise SystemExit(f"{where}: wasm trusts a backup the rules fail")
            if "dehydration_key_valid" in wa:
                p_wasm["dehydration_valid"] = wa["dehydration_key_valid"]
            added = {}
            for pname, peer in ((jssdk, p_js), (wasm, p_wasm)):
                for cid in confirmations(pname, f, peer, want, where):
                    added.setdefault(cid, []).append(pname)
            for c in run["checks"]:
                c["confirmed_by"] = [x for x in c["confirmed_by"] if x not in (jssdk, wasm)] + added.get(c["id"], [])
    write_manifest(out, manifest)
    print("confirm: js-sdk and wasm facts agree with every manifest verdict they bear on")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:] or [""]
    if cmd == "manifest":
        make_manifest(*args)
    elif cmd == "confirm":
        confirm(*args)
    else:
        raise SystemExit(__doc__)
