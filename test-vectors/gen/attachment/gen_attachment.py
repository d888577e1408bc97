"""Generates test-vectors/attachment/: encrypted attachments written by other implementations,
reference-made variants, malformed ones, and manifest.json.

  .venv/bin/python gen_attachment.py           (re)write every vector and the manifest
  .venv/bin/python gen_attachment.py --check   reference reader + all five peers decrypt every
                                               vector; writes .build/crosscheck.md

Run through run.sh, which installs the pinned peers first. The peers (see peers.mjs, peers.py)
make random keys and IVs, so a re-run changes every peer file; the `ref-*` files use keys and
IVs derived from their names and come out byte-identical each time.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from Crypto.Cipher import AES

import peers as PY_PEERS

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "attachment"
BUILD = HERE / ".build"
NODE_PEERS = ("mea-node", "mea-webcrypto", "wasm")
ALL_PEERS = NODE_PEERS + PY_PEERS.PEERS
MiB = 1024 * 1024


def pattern(n: int) -> bytes:
    """The deterministic plaintext: byte i = (i*7+3) % 256."""
    period = bytes((i * 7 + 3) % 256 for i in range(256))  # the pattern repeats every 256 bytes
    return (period * (n // 256 + 1))[:n]


def sha256hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def b64(b: bytes, pad: bool = False) -> str:
    s = base64.b64encode(b).decode()
    return s if pad else s.rstrip("=")


def b64url(b: bytes, pad: bool = False) -> str:
    s = base64.urlsafe_b64encode(b).decode()
    return s if pad else s.rstrip("=")


def unb64(s: str) -> bytes:
    s = s.replace("-", "+").replace("_", "/").rstrip("=")
    return base64.b64decode(s + "=" * (-len(s) % 4), validate=True)


# ------------------------------------------------------------------ reference AES-CTR
# Written out block by block (AES-ECB of each counter block) rather than with a library CTR
# mode, so that the counter arithmetic is visible and not subject to a library's wrap rules.


def ctr_keystream_xor(key: bytes, iv: bytes, data: bytes, counter_bits: int) -> bytes:
    """counter_bits=64: v1/v2, the low 64 bits of the block count up and wrap to 0, the high 64
    stay as they are. counter_bits=128: v0, the whole block is one big-endian 128-bit counter."""
    assert len(key) == 32 and len(iv) == 16 and counter_bits in (64, 128)
    ecb = AES.new(key, AES.MODE_ECB)
    hi, lo = iv[:8], int.from_bytes(iv[8:], "big")
    whole = int.from_bytes(iv, "big")
    blocks = []
    for j in range((len(data) + 15) // 16):
        if counter_bits == 64:
            cb = hi + ((lo + j) % (1 << 64)).to_bytes(8, "big")
        else:
            cb = ((whole + j) % (1 << 128)).to_bytes(16, "big")
        blocks.append(cb)
    ks = ecb.encrypt(b"".join(blocks))
    return bytes(a ^ b for a, b in zip(data, ks))


class InfoError(Exception):
    pass


class HashError(Exception):
    pass


def reference_decrypt(ciphertext: bytes, file: dict) -> bytes:
    """What the manifest expects of a reader. Raises InfoError / HashError."""
    try:
        key = file["key"]
        if key["kty"] != "oct":
            raise InfoError("kty is not oct")
        if key["alg"] != "A256CTR":
            raise InfoError("alg is not A256CTR")
        if "decrypt" not in key["key_ops"]:
            raise InfoError("key_ops lacks decrypt")
        k = unb64(key["k"])
        iv = unb64(file["iv"])
        want = unb64(file["hashes"]["sha256"])
    except (KeyError, TypeError, ValueError) as e:
        raise InfoError(f"malformed: {e!r}") from e
    if len(k) != 32:
        raise InfoError(f"key is {len(k)} bytes")
    if len(iv) != 16:
        raise InfoError(f"iv is {len(iv)} bytes")
    if len(want) != 32:
        raise InfoError("sha256 is not 32 bytes")
    v = file.get("v")
    if v is None:
        bits = 128
    elif v in ("v1", "v2"):
        bits = 64
    else:
        raise InfoError(f"unknown v {v!r}")
    if hashlib.sha256(ciphertext).digest() != want:
        raise HashError("sha256 mismatch")
    return ctr_keystream_xor(k, iv, ciphertext, bits)


def pick_file(info: dict, thumbnail: bool) -> dict:
    return PY_PEERS.pick_file(info, thumbnail)


# ------------------------------------------------------------------ peers


def peer_encrypt(peer: str, plaintext: bytes) -> tuple[bytes, dict]:
    if peer in PY_PEERS.PEERS:
        return PY_PEERS.encrypt(peer, plaintext)
    BUILD.mkdir(exist_ok=True)
    inp, out, info = BUILD / "in", BUILD / "out.bin", BUILD / "info.json"
    inp.write_bytes(plaintext)
    subprocess.run(["node", str(HERE / "peers.mjs"), "encrypt", peer, str(inp), str(out), str(info)], check=True)
    return out.read_bytes(), json.loads(info.read_text())


def node_versions() -> dict:
    r = subprocess.run(["node", str(HERE / "peers.mjs"), "versions"], check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


# ------------------------------------------------------------------ vector writing


class Writer:
    def __init__(self) -> None:
        self.vectors: list[dict] = []
        self.made_by = {**node_versions()["madeBy"], **PY_PEERS.MADE_BY}
        self.made_by["ref"] = (
            f"gen_attachment.py reference (pycryptodome {PY_PEERS.VERSIONS['pycryptodome']} AES-ECB, "
            "counter blocks built by hand); key and IV derived from the file name"
        )

    def write_json(self, name: str, obj: dict) -> None:
        (OUT / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")

    def add(self, stem: str, ciphertext: bytes, info: dict, *, shape: str, expect: str, made_by: str,
            comment: str, plaintext: bytes | None = None, thumbnail: bool = False,
            info_name: str | None = None, ct_name: str | None = None) -> None:
        ct_name = ct_name or f"{stem}.bin"
        info_name = info_name or f"{stem}.json"
        (OUT / ct_name).write_bytes(ciphertext)
        if not (OUT / info_name).exists():
            self.write_json(info_name, info)
        assert expect in ("ok", "hash", "info")
        assert (plaintext is not None) == (expect == "ok")
        self.vectors.append({
            "ciphertext": ct_name,
            "info": info_name,
            "info_shape": shape,
            "thumbnail": thumbnail,
            "expect": expect,
            "plaintext_sha256": sha256hex(plaintext) if plaintext is not None else None,
            "plaintext_len": len(plaintext) if plaintext is not None else None,
            "made_by": made_by,
            "comment": comment,
        })


def with_url(file: dict, stem: str) -> dict:
    """The peers return no url (the caller adds it after uploading); put one first."""
    return {"url": f"mxc://example.org/{stem.replace('-', '_')}", **file}


def derived(name: str, what: str, n: int) -> bytes:
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"mxkeys attachment vector {what} {name} {i}".encode()).digest()
        i += 1
    return out[:n]


def ref_file(key: bytes, iv: bytes, ct: bytes, v: str | None, stem: str) -> dict:
    f = {
        "url": f"mxc://example.org/{stem.replace('-', '_')}",
        "key": {"kty": "oct", "key_ops": ["encrypt", "decrypt"], "alg": "A256CTR", "k": b64url(key), "ext": True},
        "iv": b64(iv),
        "hashes": {"sha256": b64(hashlib.sha256(ct).digest())},
    }
    if v is not None:
        f["v"] = v
    return f


def event(content: dict, stem: str) -> dict:
    return {
        "type": "m.room.message",
        "content": content,
        "event_id": f"${stem.replace('-', '_')}",
        "sender": "@alice:example.org",
        "room_id": "!attachments:example.org",
        "origin_server_ts": 1700000000000,
        "unsigned": {},
    }


def generate() -> None:
    OUT.mkdir(exist_ok=True)
    for p in OUT.iterdir():
        if p.suffix in (".bin", ".json"):
            p.unlink()
    w = Writer()

    # ---- 1. plain EncryptedFile from every peer
    sizes = [0, 1, 15, 16, 17, 3000]
    big_peers = ("mea-webcrypto", "wasm", "nio")
    for peer in ALL_PEERS:
        for n in sizes + ([MiB] if peer in big_peers else []):
            label = "1MiB" if n == MiB else str(n)
            stem = f"{peer}-{label}"
            pt = pattern(n)
            ct, info = peer_encrypt(peer, pt)
            w.add(stem, ct, with_url(info, stem), shape="encrypted_file", expect="ok", plaintext=pt,
                  made_by=w.made_by[peer],
                  comment=f"{n} B of the pattern byte i = (i*7+3) % 256, the EncryptedFile exactly as the peer returned it plus a url")

    # ---- 2. wrapped: m.file content, whole events, m.image with thumbnail
    for peer, n in (("nio", 1000), ("mautrix", 300), ("mea-node", 64)):
        stem = f"{peer}-content-{n}"
        pt = pattern(n)
        ct, info = peer_encrypt(peer, pt)
        content = {"msgtype": "m.file", "body": "pattern.bin", "info": {"mimetype": "application/octet-stream", "size": n},
                   "file": with_url(info, stem)}
        w.add(stem, ct, content, shape="content", expect="ok", plaintext=pt, made_by=w.made_by[peer],
              comment="m.file message content; decrypt content.file")
    for peer, n in (("wasm", 2000), ("mea-webcrypto", 100)):
        stem = f"{peer}-event-{n}"
        pt = pattern(n)
        ct, info = peer_encrypt(peer, pt)
        content = {"msgtype": "m.file", "body": "pattern.bin", "info": {"mimetype": "application/octet-stream", "size": n},
                   "file": with_url(info, stem)}
        w.add(stem, ct, event(content, stem), shape="event", expect="ok", plaintext=pt, made_by=w.made_by[peer],
              comment="whole decrypted m.room.message event; decrypt content.file")
    for peer, shape, n_img, n_th in (("mea-webcrypto", "content", 4000, 500), ("wasm", "event", 2500, 300)):
        stem = f"{peer}-image"
        pt_img, pt_th = pattern(n_img), pattern(n_th)[::-1]
        ct_img, info_img = peer_encrypt(peer, pt_img)
        ct_th, info_th = peer_encrypt(peer, pt_th)
        content = {
            "msgtype": "m.image",
            "body": "pattern.png",
            "file": with_url(info_img, stem),
            "info": {
                "mimetype": "image/png", "size": n_img, "w": 40, "h": 25,
                "thumbnail_file": with_url(info_th, stem + "-thumb"),
                "thumbnail_info": {"mimetype": "image/png", "size": n_th, "w": 16, "h": 10},
            },
        }
        obj = content if shape == "content" else event(content, stem)
        note = "m.image content" if shape == "content" else "whole m.room.message event with m.image content"
        w.add(stem, ct_img, obj, shape=shape, expect="ok", plaintext=pt_img, made_by=w.made_by[peer],
              comment=f"{note} with file and info.thumbnail_file (separate key and IV; both encrypted by the peer); this is the main file. "
              "The plaintexts are the byte pattern, not real PNGs")
        w.add(stem + "-thumb", ct_th, obj, shape=shape, expect="ok", plaintext=pt_th, made_by=w.made_by[peer],
              thumbnail=True, info_name=f"{stem}.json",
              comment=f"the thumbnail of {stem}.json: decrypt content.info.thumbnail_file (plaintext: the pattern reversed, {n_th} B)")

    # ---- 3. reference-made variants
    def ref(stem: str, n: int, *, v: str | None, iv: bytes | None = None, bits: int = 64, comment: str) -> None:
        key = derived(stem, "key", 32)
        iv = iv if iv is not None else derived(stem, "iv", 8) + bytes(8)
        pt = pattern(n)
        ct = ctr_keystream_xor(key, iv, pt, bits)
        f = ref_file(key, iv, ct, v, stem)
        w.add(stem, ct, f, shape="encrypted_file", expect="ok", plaintext=pt, made_by=w.made_by["ref"], comment=comment)

    top = bytes.fromhex("fffffffffffffffe")
    ref("ref-v1-100", 100, v="v1", comment='"v": "v1": same format and 64-bit counter as v2')
    ref("ref-v2-wrap64-100", 100, v="v2", iv=derived("ref-v2-wrap64-100", "iv", 8) + top,
        comment="IV[8..16] = ff ff ff ff ff ff ff fe, 7 blocks: the low 64 bits count fe, ff, then wrap to 00..00, 01, ... "
        "while IV[0..8] stays (WebCrypto length 64). A reader using a 128-bit counter gets blocks 3..7 wrong")
    ref("ref-v1-wrap64-100", 100, v="v1", iv=derived("ref-v1-wrap64-100", "iv", 8) + top,
        comment="as ref-v2-wrap64-100 with v1: v1 also wraps within the low 64 bits")
    ref("ref-random-iv-1000", 1000, v="v2", iv=bytes.fromhex("3c9a61d2e07b4f18") + bytes.fromhex("9e24b7c1055af3d8"),
        comment="fully random 16-byte IV (FluffyChat style, IV[8..16] not zero): the counter starts from IV[8..16] (big-endian) "
        "and counts in the low 64 bits")
    ref("ref-random-iv-wrap-200", 200, v="v2", iv=bytes.fromhex("a7e35b0c9d2f6841") + bytes.fromhex("fffffffffffffff9"),
        comment="random-looking IV whose low half is 2^64-7: 13 blocks, the low 64 bits wrap after block 7, the high half stays")
    ref("ref-v0-100", 100, v=None, iv=derived("ref-v0-100", "iv", 8) + bytes(8), bits=128,
        comment="no v field (v0), IV[8..16] zero: a full 128-bit counter, which here gives the same bytes as v2")
    ref("ref-v0-carry-100", 100, v=None, iv=bytes.fromhex("5d0e8a3b7c14f2ff") + top, bits=128,
        comment="no v field (v0): full 128-bit counter. IV[8..16] = ff..fe so after 2 blocks the carry goes into the high half "
        "(5d0e8a3b7c14f2ff -> 5d0e8a3b7c14f300). A reader treating v0 like v2 (64-bit wrap) gets blocks 3..7 wrong")
    ref("ref-v0-wrap128-100", 100, v=None, iv=bytes.fromhex("ffffffffffffffff") + top, bits=128,
        comment="no v field (v0), IV = ff..fe: the 128-bit counter wraps to all zeros after 2 blocks")
    for stem, what, comment in (
        ("ref-padded-iv-100", "iv", "iv in padded standard base64 (22 chars + '=='); the spec says unpadded, a reader should accept both"),
        ("ref-padded-hash-100", "hash", "hashes.sha256 in padded standard base64 (43 chars + '='); the spec says unpadded, a reader should "
         "accept both (compare the decoded bytes, not the strings)"),
    ):
        key = derived(stem, "key", 32)
        iv = derived(stem, "iv", 8) + bytes(8)
        pt = pattern(100)
        ct = ctr_keystream_xor(key, iv, pt, 64)
        f = ref_file(key, iv, ct, "v2", stem)
        if what == "iv":
            f["iv"] = b64(iv, pad=True)
        else:
            f["hashes"]["sha256"] = b64(hashlib.sha256(ct).digest(), pad=True)
        w.add(stem, ct, f, shape="encrypted_file", expect="ok", plaintext=pt, made_by=w.made_by["ref"], comment=comment)

    stem = "ref-padded-k-100"
    key = derived(stem, "key", 32)
    iv = derived(stem, "iv", 8) + bytes(8)
    pt = pattern(100)
    ct = ctr_keystream_xor(key, iv, pt, 64)
    f = ref_file(key, iv, ct, "v2", stem)
    f["key"]["k"] = b64url(key, pad=True)
    w.add(stem, ct, f, shape="encrypted_file", expect="ok", plaintext=pt, made_by=w.made_by["ref"],
          comment="key.k in urlsafe base64 WITH its '=' padding (the spec says unpadded)")

    # ---- 4. failures and the undetectable wrong key, derived from fresh peer encryptions
    def fail(stem: str, peer: str, n: int, transform: str, expect: str, mutate_ct=None, mutate_info=None,
             comment: str = "") -> None:
        pt = pattern(n)
        ct, info = peer_encrypt(peer, pt)
        info = with_url(info, stem)
        if mutate_ct:
            ct = mutate_ct(ct)
        if mutate_info:
            info = copy.deepcopy(info)
            mutate_info(info, ct)
        plain = None
        if expect == "ok":
            plain = reference_decrypt(ct, info)
        w.add(stem, ct, info, shape="encrypted_file", expect=expect, plaintext=plain,
              made_by=f"{w.made_by[peer]}; then {transform} (gen_attachment.py)", comment=comment)

    def flip(i):
        def f(ct: bytes) -> bytes:
            b = bytearray(ct)
            b[i] ^= 0x01
            return bytes(b)
        return f

    def set_key(path, value):
        def f(info: dict, _ct: bytes) -> None:
            o = info
            for p in path[:-1]:
                o = o[p]
            if value is DELETE:
                del o[path[-1]]
            else:
                o[path[-1]] = value
        return f

    DELETE = object()
    fail("fail-flip-ct-500", "wasm", 1000, "bit 0 of ciphertext byte 500 flipped", "hash", mutate_ct=flip(500),
         comment="tampered ciphertext: the sha256 no longer matches; no plaintext may be released")
    fail("fail-flip-ct-last", "nio", 100, "bit 0 of the last ciphertext byte flipped", "hash", mutate_ct=flip(-1),
         comment="tampered last byte")
    fail("fail-wrong-hash", "mea-webcrypto", 100, "hashes.sha256 replaced by the sha256 of b'other'", "hash",
         mutate_info=set_key(["hashes", "sha256"], b64(hashlib.sha256(b"other").digest())),
         comment="the hash in the info is a valid 32-byte value for other data")
    fail("fail-truncated", "mautrix", 100, "last 5 ciphertext bytes cut", "hash", mutate_ct=lambda c: c[:-5],
         comment="truncated download: the hash catches it")
    fail("fail-truncated-empty", "mea-node", 100, "ciphertext cut to 0 bytes", "hash", mutate_ct=lambda c: b"",
         comment="empty download of a 100-byte file")
    fail("fail-extra-byte", "wasm", 100, "one 0x00 byte appended to the ciphertext", "hash", mutate_ct=lambda c: c + b"\x00",
         comment="trailing garbage after the ciphertext")
    fail("fail-key-16", "nio", 100, "key.k replaced by its first 16 bytes", "info",
         mutate_info=lambda i, c: i["key"].__setitem__("k", b64url(unb64(i["key"]["k"])[:16])),
         comment="a 16-byte k would be a valid AES-128 key: the reader must insist on 32 bytes for A256CTR")
    fail("fail-key-31", "mea-webcrypto", 100, "key.k replaced by its first 31 bytes", "info",
         mutate_info=lambda i, c: i["key"].__setitem__("k", b64url(unb64(i["key"]["k"])[:31])),
         comment="key one byte short")
    fail("fail-iv-12", "wasm", 100, "iv replaced by its first 12 bytes", "info",
         mutate_info=lambda i, c: i.__setitem__("iv", b64(unb64(i["iv"])[:12])),
         comment="12-byte IV (a GCM-style nonce); must be 16")
    fail("fail-iv-8", "mautrix", 100, "iv replaced by its first 8 bytes (the random half)", "info",
         mutate_info=lambda i, c: i.__setitem__("iv", b64(unb64(i["iv"])[:8])),
         comment="only the 8 random bytes, no counter half")
    fail("fail-alg-a128ctr", "nio", 100, 'key.alg set to "A128CTR"', "info", mutate_info=set_key(["key", "alg"], "A128CTR"),
         comment="alg must be A256CTR")
    fail("fail-kty-rsa", "mea-node", 100, 'key.kty set to "RSA"', "info", mutate_info=set_key(["key", "kty"], "RSA"),
         comment="kty must be oct")
    fail("fail-key-ops-encrypt-only", "wasm", 100, 'key.key_ops set to ["encrypt"]', "info",
         mutate_info=set_key(["key", "key_ops"], ["encrypt"]), comment="key_ops must contain decrypt")
    fail("fail-key-ops-missing", "mautrix", 100, "key.key_ops removed", "info",
         mutate_info=set_key(["key", "key_ops"], DELETE), comment="key_ops is required")
    fail("fail-no-sha256", "mea-webcrypto", 100, "hashes set to {}", "info", mutate_info=set_key(["hashes"], {}),
         comment="no sha256 hash: nothing to verify the ciphertext with")
    fail("fail-only-sha512", "nio", 100, 'hashes replaced by {"sha512": sha512 of the ciphertext}', "info",
         mutate_info=lambda i, c: i.__setitem__("hashes", {"sha512": b64(hashlib.sha512(c).digest())}),
         comment="a correct hash, but not sha256: a reader that only knows sha256 must refuse rather than skip the check")
    fail("fail-v3", "mea-node", 100, 'v set to "v3"', "info", mutate_info=set_key(["v"], "v3"),
         comment="unknown protocol version")
    fail("wrong-key-same-length", "wasm", 100, "key.k replaced by another 32-byte key", "ok",
         mutate_info=lambda i, c: i["key"].__setitem__("k", b64url(derived("wrong-key", "key", 32))),
         comment="NOT detectable: the sha256 covers the ciphertext, not the plaintext, so a wrong 32-byte key decrypts "
         "to garbage without error; plaintext_sha256 is that garbage (AES-CTR with the wrong key over the same IV)")

    (OUT / "manifest.json").write_text(json.dumps({"vectors": w.vectors}, indent=2, ensure_ascii=False) + "\n")
    listed = {v["ciphertext"] for v in w.vectors} | {v["info"] for v in w.vectors} | {"manifest.json", "README.md"}
    extra = {p.name for p in OUT.iterdir()} - listed
    assert not extra, extra
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(w.vectors)} vectors, {total} bytes in {OUT}")


# ------------------------------------------------------------------ check


def check() -> int:
    vectors = json.loads((OUT / "manifest.json").read_text())["vectors"]
    bad = 0
    ref_res = []
    for v in vectors:
        ct = (OUT / v["ciphertext"]).read_bytes()
        info = json.loads((OUT / v["info"]).read_text())
        try:
            got = reference_decrypt(ct, pick_file(info, v["thumbnail"]))
            r = "ok" if sha256hex(got) == v["plaintext_sha256"] and len(got) == v["plaintext_len"] else "WRONG PLAINTEXT"
        except InfoError:
            r = "info"
        except HashError:
            r = "hash"
        ref_res.append(r)
        if r != v["expect"]:
            bad += 1
            print(f"REFERENCE MISMATCH {v['ciphertext']}: expect {v['expect']}, got {r}")
    lines = subprocess.run(["node", str(HERE / "peers.mjs"), "check", str(OUT)], check=True, capture_output=True, text=True).stdout.splitlines()
    lines += subprocess.run([sys.executable, str(HERE / "peers.py"), "check", str(OUT)], check=True, capture_output=True, text=True).stdout.splitlines()
    res: dict[tuple[int, str], dict] = {}
    for line in lines:
        o = json.loads(line)
        res[(o["i"], o["peer"])] = o

    def cell(i: int, peer: str) -> str:
        o = res[(i, peer)]
        v = vectors[i]
        if "ok" in o:
            if v["expect"] == "ok":
                return "ok" if o["ok"] == v["plaintext_sha256"] else "**wrong plaintext**"
            return "**accepted**" if o["ok"] else "?"
        return "refused"

    out = ["| vector | expect | " + " | ".join(ALL_PEERS) + " |", "|---|---|" + "---|" * len(ALL_PEERS)]
    errors: dict[str, set[str]] = {}
    for i, v in enumerate(vectors):
        cells = [cell(i, p) for p in ALL_PEERS]
        name = v["ciphertext"].removesuffix(".bin")
        if v["expect"] != "ok" or any(c != "ok" for c in cells):
            out.append(f"| {name} | {v['expect']} | " + " | ".join(cells) + " |")
        for p in ALL_PEERS:
            if "error" in res[(i, p)]:
                errors.setdefault(p, set()).add(f"{name}: {res[(i, p)]['error'][:160]}")
    n_all_ok = sum(1 for i, v in enumerate(vectors) if v["expect"] == "ok" and all(cell(i, p) == "ok" for p in ALL_PEERS))
    out.append("")
    out.append(f"{n_all_ok} of {sum(v['expect'] == 'ok' for v in vectors)} ok vectors decrypt correctly with all five peers (not listed above).")
    out.append("")
    for p in ALL_PEERS:
        out.append(f"### {p} errors")
        out.extend(f"- {e}" for e in sorted(errors.get(p, ())))
        out.append("")
    BUILD.mkdir(exist_ok=True)
    (BUILD / "crosscheck.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))
    print(f"reference reader: {len(vectors) - bad} of {len(vectors)} as the manifest says")
    return 1 if bad else 0


if __name__ == "__main__":
    os.chdir(HERE)
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    elif sys.argv[1:]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    generate()
