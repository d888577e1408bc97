#!/usr/bin/env python3
"""Python half of the key-export vector generator (see ../export/README.md).

    python gen_export.py            nio vectors, armor variants, malformed files, manifest.json
    python gen_export.py --check    cross-check with matrix-nio and an independent reference
                                    reader, merge in the Node peers' results
                                    (.build/node-check.json) and fail unless every "ok"
                                    vector was read by a peer other than its maker

Run after `node gen_export.mjs` (which writes the plaintexts, the Element/wasm files and
.build/node-vectors.json); run.sh does the whole sequence.

Derived files (armor variants, byte flips) are deterministic functions of the peer file
they start from. The self-made files ("gen script") use a salt and IV derived from the
file name, so re-running gives the same bytes for them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
from importlib.metadata import version as dist_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "export"
BUILD = HERE / ".build"

BEGIN = "-----BEGIN MEGOLM SESSION DATA-----"
END = "-----END MEGOLM SESSION DATA-----"
HEADER_LEN = 1 + 16 + 16 + 4
MIN_LEN = HEADER_LEN + 32  # 69: empty ciphertext

PASS_ASCII = "correct horse battery staple"
PASS_UNICODE = "pässwörd 🔑 日本語"
PASS_CAFE = "café"
PASS_WRONG = "correct horse battery stapler"

NIO_VERSION = dist_version("matrix-nio")
PYCRYPTODOME_VERSION = dist_version("pycryptodome")
NIO_MADE_BY = (
    f"matrix-nio {NIO_VERSION} nio.crypto.key_export.encrypt_and_save "
    f"(pycryptodome {PYCRYPTODOME_VERSION}, Python {sys.version.split()[0]})"
)
GEN_MADE_BY = f"gen script (pycryptodome {PYCRYPTODOME_VERSION})"


def sha256_hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# --------------------------------------------------------------------------- armor helpers
def body_of(text: str) -> bytes:
    """Decoded body of a well-formed file (any layout the peers write)."""
    lines = text.replace("\r", "").split("\n")
    i = next(n for n, l in enumerate(lines) if l.strip() == BEGIN)
    j = next(n for n, l in enumerate(lines) if l.strip() == END and n > i)
    b64 = "".join("".join(lines[i + 1 : j]).split())
    return base64.b64decode(b64 + "=" * (-len(b64) % 4))


def armor_element(body: bytes) -> str:
    """Element Web's layout: each 96-byte chunk base64'd on its own line, final newline."""
    lines = [base64.b64encode(body[o : o + 96]).decode() for o in range(0, len(body), 96)]
    return "\n".join([BEGIN, *lines, END, ""])


def armor_one_line(body: bytes, final_newline: bool = False) -> str:
    return BEGIN + "\n" + base64.b64encode(body).decode() + "\n" + END + ("\n" if final_newline else "")


def rewrap(text: str, width: int) -> str:
    """Re-wrap the base64 body of a file to `width` chars per line, keep everything else."""
    lines = text.split("\n")
    i = next(n for n, l in enumerate(lines) if l.strip() == BEGIN)
    j = next(n for n, l in enumerate(lines) if l.strip() == END and n > i)
    b64 = "".join("".join(lines[i + 1 : j]).split())
    wrapped = [b64[o : o + width] for o in range(0, len(b64), width)]
    return "\n".join(lines[: i + 1] + wrapped + lines[j:])


def map_body_lines(text: str, fn) -> str:
    lines = text.split("\n")
    i = next(n for n, l in enumerate(lines) if l.strip() == BEGIN)
    j = next(n for n, l in enumerate(lines) if l.strip() == END and n > i)
    return "\n".join(lines[: i + 1] + fn(lines[i + 1 : j]) + lines[j:])


# ------------------------------------------------------------ self-made files (pycryptodome)
def derive(passphrase: bytes, salt: bytes, rounds: int) -> tuple[bytes, bytes]:
    from Crypto.Hash import SHA512
    from Crypto.Protocol.KDF import PBKDF2

    k = PBKDF2(passphrase, salt, 64, rounds, hmac_hash_module=SHA512)
    return k[:32], k[32:]


def gen_encrypt(plaintext: bytes, passphrase: bytes, rounds: int, name: str, iv_bit63: bool = False) -> bytes:
    """The export format written by hand: 0x01|salt|iv|rounds BE|AES-256-CTR(full 16-byte IV
    as the initial counter block)|HMAC-SHA256 over all of that. Salt/IV come from the name."""
    from Crypto.Cipher import AES
    from Crypto.Hash import HMAC, SHA256

    seed = hashlib.sha256(b"mxkeys test vector " + name.encode()).digest()
    salt, iv = bytearray(seed[:16]), bytearray(seed[16:32])
    if iv_bit63:
        iv[8] |= 0x80
    else:
        iv[8] &= 0x7F
    aes_key, mac_key = derive(passphrase, bytes(salt), rounds)
    ct = AES.new(aes_key, AES.MODE_CTR, nonce=b"", initial_value=bytes(iv)).encrypt(plaintext)
    head = bytes([1]) + bytes(salt) + bytes(iv) + rounds.to_bytes(4, "big") + ct
    return head + HMAC.new(mac_key, head, SHA256).digest()


# ------------------------------------------------ reference reader (hashlib + cryptography)
class Refusal(Exception):
    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


MAX_ROUNDS = 1_000_000  # mirrors a reader's default cap; the vectors stay far below it


def ref_decode_armor(data: bytes) -> bytes:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refusal("armor", f"not UTF-8 text: {e}")
    lines = text.split("\n")
    try:
        i = next(n for n, l in enumerate(lines) if l.strip() == BEGIN)
    except StopIteration:
        raise Refusal("armor", "no BEGIN line")
    try:
        j = next(n for n, l in enumerate(lines) if l.strip() == END and n > i)
    except StopIteration:
        raise Refusal("armor", "no END line")
    b64 = "".join("".join(lines[i + 1 : j]).split())
    if not b64:
        raise Refusal("armor", "empty body")
    m = re.search(r"[^A-Za-z0-9+/=]", b64)
    if m:
        raise Refusal("armor", f"bad character {m.group()!r}")
    stripped = b64.rstrip("=")
    if "=" in stripped or len(b64) - len(stripped) > 2 or len(stripped) % 4 == 1:
        raise Refusal("armor", "bad base64 length/padding")
    return base64.b64decode(stripped + "=" * (-len(stripped) % 4))


def ref_decrypt(data: bytes, passphrase: str, encoding: str | None = None) -> tuple[bytes, str]:
    """Independent reader: returns (plaintext, passphrase encoding used) or raises Refusal."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    body = ref_decode_armor(data)
    if len(body) < MIN_LEN:
        raise Refusal("too_short", f"{len(body)} bytes")
    if body[0] != 1:
        raise Refusal("version", f"version {body[0]}")
    salt, iv, rounds = body[1:17], body[17:33], int.from_bytes(body[33:37], "big")
    if rounds == 0 or rounds > MAX_ROUNDS:
        raise Refusal("rounds", f"{rounds}")
    tries = [encoding] if encoding else ["utf-8", "latin1"]
    for enc in tries:
        try:
            pw = passphrase.encode(enc)
        except UnicodeEncodeError:
            continue
        k = hashlib.pbkdf2_hmac("sha512", pw, salt, rounds, 64)
        tag = hmac.new(k[32:], body[:-32], "sha256").digest()
        if hmac.compare_digest(tag, body[-32:]):
            d = Cipher(algorithms.AES(k[:32]), modes.CTR(iv)).decryptor()
            plain = d.update(body[HEADER_LEN:-32]) + d.finalize()
            try:
                value = json.loads(plain.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise Refusal("json", str(e))
            if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
                raise Refusal("json", "not an array of objects")
            return plain, enc
    raise Refusal("mac", "MAC mismatch")


# ------------------------------------------------------------------------------ generate
def nio_encrypt(plaintext: bytes, passphrase: str, rounds: int, path: Path) -> None:
    from nio.crypto import key_export

    path.unlink(missing_ok=True)  # nio's atomic_write refuses to overwrite
    key_export.encrypt_and_save(plaintext, str(path), passphrase, count=rounds)


def generate() -> None:
    vectors: list[dict] = json.loads((BUILD / "node-vectors.json").read_text("utf-8"))
    by_file = {v["file"]: v for v in vectors}
    basic = (OUT / "sessions-basic.json").read_bytes()
    extra = (OUT / "sessions-extra.json").read_bytes()

    def ok(file, made_by, passphrase, pt_name, pt_bytes, rounds, comment, encoding="utf-8"):
        v = {
            "file": file, "made_by": made_by, "passphrase": passphrase, "expect": "ok",
            "plaintext": pt_name, "plaintext_sha256": sha256_hex(pt_bytes),
            "passphrase_encoding": encoding, "rounds": rounds, "comment": comment,
        }
        vectors.append(v)
        by_file[file] = v

    # -- matrix-nio
    nio_plan = [
        ("nio-r10000.txt", PASS_ASCII, "sessions-basic.json", basic, "utf-8",
         "matrix-nio's client default rounds; nio layout: one line of UNPADDED base64, no final newline"),
        ("nio-r10000-cafe-latin1.txt", PASS_CAFE, "sessions-basic.json", basic, "latin1",
         "nio bug: the str passphrase reaches PyCryptodome, which encodes it as Latin-1 (63 61 66 e9), "
         "not UTF-8; a reader must fall back to Latin-1 after the UTF-8 MAC fails"),
        ("nio-r10000-extra.txt", PASS_ASCII, "sessions-extra.json", extra, "utf-8",
         "sessions with unknown/extra fields, encrypted as given"),
    ]
    for file, pw, pt_name, pt, enc, comment in nio_plan:
        nio_encrypt(pt, pw, 10000, OUT / file)
        ok(file, NIO_MADE_BY, pw, pt_name, pt, 10000, comment, enc)
        print(f"wrote {file}")
    try:
        nio_encrypt(b"[]", PASS_UNICODE, 1, BUILD / "nio-unicode.txt")
        print("nio accepted a non-Latin-1 passphrase (unexpected)")
    except UnicodeEncodeError as e:
        print(f"as expected, nio cannot use {PASS_UNICODE!r}: UnicodeEncodeError: {e.reason}")

    # -- self-made valid file: IV with bit 63 set
    name = "gen-iv-bit63-set.txt"
    (OUT / name).write_text(armor_element(gen_encrypt(basic, PASS_ASCII.encode(), 1000, name, iv_bit63=True)))
    ok(name, GEN_MADE_BY, PASS_ASCII, "sessions-basic.json", basic, 1000,
       "IV with bit 63 SET (byte 8 top bit), no counter overflow within the file; readers must accept any IV")

    # -- armor variants of peer files (still "ok")
    def variant(file, src, transform, text, comment):
        s = by_file[src]
        v = dict(s)
        v["file"] = file
        v["made_by"] = f"{s['made_by']}; then gen_export.py: {transform}"
        v["comment"] = f"{comment} (from {src})"
        (OUT / file).write_bytes(text.encode("utf-8"))
        vectors.append(v)
        by_file[file] = v

    el = (OUT / "element-web-r1000.txt").read_text("utf-8")
    el_uni = (OUT / "element-web-r1000-unicode.txt").read_text("utf-8")
    wasm1 = (OUT / "wasm-r1.txt").read_text("utf-8")
    nio = (OUT / "nio-r10000.txt").read_text("utf-8")
    # Layouts this relies on: Element pads and ends with a newline; wasm and nio write one
    # unpadded line and no final newline.
    assert el.endswith("\n") and "=" in el and not wasm1.endswith("\n") and "=" not in wasm1 + nio

    variant("armor-crlf.txt", "element-web-r1000.txt", "LF -> CRLF line endings",
            el.replace("\n", "\r\n"), "CRLF line endings throughout")
    variant("armor-wrap64.txt", "wasm-r1.txt", "body re-wrapped to 64 chars", rewrap(wasm1, 64),
            "body wrapped at 64 chars (PEM style)")
    variant("armor-wrap76.txt", "element-web-r1000-unicode.txt", "body re-wrapped to 76 chars",
            rewrap(el_uni, 76), "body wrapped at 76 chars (mautrix-go style)")

    def blanks(body_lines):
        return [body_lines[0], "", *body_lines[1:3], "   ", *body_lines[3:], ""]

    variant("armor-blank-lines.txt", "element-web-r1000.txt",
            "empty line after body line 1, whitespace-only line after line 3, empty line before END",
            map_body_lines(el, blanks), "blank and whitespace-only lines inside the body")
    variant("armor-indented.txt", "wasm-r1.txt", "body re-wrapped to 64, lines indented (4 spaces, or a tab on every 3rd line), trailing space on some",
            map_body_lines(rewrap(wasm1, 64), lambda ls: [("\t" if n % 3 == 2 else "    ") + l + (" " if n % 2 else "") for n, l in enumerate(ls)]),
            "indented body lines and trailing spaces")
    variant("armor-unpadded.txt", "element-web-r1000.txt", "trailing '=' padding removed from the last body line",
            re.sub(r"=+\n", "\n", el), "Element's multi-line layout without its '=' padding")
    variant("armor-text-around.txt", "wasm-r1.txt", "text added before BEGIN and after END",
            "Key export, 2024-05-01\nKeep this file safe.\n\n" + wasm1 + "\n\n-- \nsaved by a mail client\n",
            "prose before the BEGIN line and after the END line")
    variant("armor-no-final-newline.txt", "element-web-r1000.txt", "final newline removed", el[:-1],
            "Element layout but the file ends right after END, no newline")
    variant("armor-mixed.txt", "nio-r10000.txt",
            "body re-wrapped to 64, lines indented by 2 spaces, CRLF, text before BEGIN and after END",
            ("note\r\n\r\n" + map_body_lines(rewrap(nio, 64), lambda ls: ["  " + l for l in ls]).replace("\n", "\r\n") + "\r\nbye\r\n"),
            "several armor variations at once on an unpadded nio file")

    # -- malformed files derived from element-web-r1000.txt
    base_file = "element-web-r1000.txt"
    base = by_file[base_file]
    body = body_of(el)
    ct_len = len(body) - MIN_LEN

    def bad(file, expect, transform, content, comment, rounds="base", made_by=None):
        v = {"file": file,
             "made_by": made_by or f"{base['made_by']}; then gen_export.py: {transform}",
             "passphrase": PASS_ASCII, "expect": expect}
        if rounds == "base":
            rounds = base["rounds"]
        if rounds is not None:
            v["rounds"] = rounds
        v["comment"] = comment if made_by else f"{comment} (from {base_file})"
        (OUT / file).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        vectors.append(v)
        by_file[file] = v

    def flipped(offset: int, mask: int = 0x01) -> str:
        b = bytearray(body)
        b[offset] ^= mask
        return armor_element(bytes(b))

    def with_byte(offset: int, value: int) -> str:
        b = bytearray(body)
        b[offset] = value
        return armor_element(bytes(b))

    v = dict(base)
    for k in ("plaintext", "plaintext_sha256", "passphrase_encoding"):
        v.pop(k)
    v.update(file="fail-wrong-passphrase.txt", passphrase=PASS_WRONG, expect="mac",
             made_by=base["made_by"] + "; then copied unchanged",
             comment=f"an intact file and the wrong passphrase (copy of {base_file}, real one: {PASS_ASCII!r})")
    (OUT / v["file"]).write_text(el)
    vectors.append(v)

    bad("fail-version-0.txt", "version", "version byte 0x01 -> 0x00 (bit flip)", with_byte(0, 0),
        "version byte 0; refused before any key derivation")
    bad("fail-version-2.txt", "version", "version byte 0x01 -> 0x02", with_byte(0, 2),
        "version byte 2 (an unknown future version)")
    bad("fail-flip-salt.txt", "mac", "salt byte 0 (offset 1) xor 0x01", flipped(1), "one bit flipped in the salt")
    bad("fail-flip-iv.txt", "mac", "IV byte 0 (offset 17) xor 0x01", flipped(17), "one bit flipped in the IV")
    bad("fail-flip-rounds-low.txt", "mac", "rounds low byte (offset 36) xor 0x01: 1000 -> 1001",
        flipped(36), "rounds field changed 1000 -> 1001: a different key, so the MAC fails",
        rounds=base["rounds"] ^ 1)
    bad("fail-flip-ct-first.txt", "mac", f"ciphertext byte 0 (offset {HEADER_LEN}) xor 0x01",
        flipped(HEADER_LEN), "first ciphertext byte flipped")
    mid = HEADER_LEN + ct_len // 2
    bad("fail-flip-ct-middle.txt", "mac", f"ciphertext byte {ct_len // 2} (offset {mid}) xor 0x01",
        flipped(mid), "middle ciphertext byte flipped")
    last = len(body) - 33
    bad("fail-flip-ct-last.txt", "mac", f"last ciphertext byte (offset {last}) xor 0x01", flipped(last),
        "last ciphertext byte flipped")
    bad("fail-flip-mac.txt", "mac", f"HMAC byte 31 (offset {len(body) - 1}) xor 0x01", flipped(len(body) - 1),
        "last byte of the HMAC flipped")
    bad("fail-truncated.txt", "mac", f"last 100 decoded bytes dropped ({len(body)} -> {len(body) - 100})",
        armor_element(body[:-100]), "body cut short but still longer than 69 bytes: the 'HMAC' is now ciphertext")
    bad("fail-too-short-60.txt", "too_short", "only the first 60 decoded bytes kept",
        armor_element(body[:60]), "60 bytes: shorter than header + HMAC (69)", rounds=None)
    bad("fail-too-short-68.txt", "too_short", "only the first 68 decoded bytes kept",
        armor_element(body[:68]), "68 bytes: one short of the 69-byte minimum", rounds=None)
    bad("fail-no-begin.txt", "armor", "BEGIN line removed", el.split("\n", 1)[1], "no BEGIN line", rounds=None)
    bad("fail-no-end.txt", "armor", "END line removed", el.replace(END + "\n", ""), "no END line", rounds=None)
    lines = el.split("\n")
    lines[2] = lines[2][:40] + "*" + lines[2][41:]
    bad("fail-bad-char.txt", "armor", "character 41 of body line 2 replaced by '*'", "\n".join(lines),
        "'*' inside the base64 body (line 3 of the file, column 41)", rounds=None)
    bad("fail-empty-body.txt", "armor", "all body lines removed", BEGIN + "\n" + END + "\n",
        "BEGIN and END with nothing between", rounds=None)
    b64 = base64.b64encode(body).decode().rstrip("=")
    b64 = b64[: len(b64) - (len(b64) % 4) - 3]  # 4k+1 chars: no byte count decodes to this
    bad("fail-bad-length.txt", "armor", "base64 cut to 4k+1 characters",
        BEGIN + "\n" + b64 + "\n" + END + "\n", "base64 text of impossible length (4k+1 characters)", rounds=None)
    bad("fail-rounds-0.txt", "rounds", "rounds field set to 0 (MAC not updated)",
        armor_element(body[:33] + (0).to_bytes(4, "big") + body[37:]),
        "rounds 0: must be refused before any key derivation", rounds=0)
    bad("fail-rounds-max.txt", "rounds", "rounds field set to 4294967295 (MAC not updated)",
        armor_element(body[:33] + (0xFFFFFFFF).to_bytes(4, "big") + body[37:]),
        "rounds 2^32-1: must be refused (above the limit) before any key derivation", rounds=0xFFFFFFFF)

    # -- self-made, correctly encrypted and MACed, bad plaintext
    json_cases = [
        ("fail-json-not-utf8.txt", b'[{"room_id": "\xff\xfe\xc3("}]', "plaintext is not UTF-8 (bytes ff fe c3 28)"),
        ("fail-json-object.txt", b'{"a":1}', "plaintext is valid JSON but an object, not an array"),
        ("fail-json-array-of-numbers.txt", b"[1, 2]", "plaintext is a JSON array of numbers, not of objects"),
        ("fail-json-invalid.txt", b'[{"room_id": "!alpha:example.org", ', "plaintext is truncated JSON"),
        ("fail-json-empty.txt", b"", "empty plaintext: exactly 69 bytes, MAC valid"),
    ]
    for file, pt, comment in json_cases:
        bad(file, "json", "", armor_element(gen_encrypt(pt, PASS_ASCII.encode(), 1000, file)),
            comment + f"; plaintext bytes (hex) {pt.hex() or '(none)'}", rounds=1000, made_by=GEN_MADE_BY)

    order = {"ok": 0}
    vectors.sort(key=lambda v: (order.get(v["expect"], 1) if not v["file"].startswith("armor-") else 0.5,))
    # Entries this script does not write (element-test-*: Element's own unit-test vectors, copied
    # as they are; nio-layout-*: gen/nio_layout.py) are carried over from the manifest on disk, at the end, in their order.
    made = {v["file"] for v in vectors}
    old_manifest = OUT / "manifest.json"
    if old_manifest.exists():
        for v in json.loads(old_manifest.read_text("utf-8"))["vectors"]:
            if v["file"] not in made and (
                v["file"].startswith("element-test-") or v["file"].startswith("nio-layout-")
            ):
                vectors.append(v)
    manifest = {"vectors": vectors}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote manifest.json with {len(vectors)} vectors")


# ---------------------------------------------------------------------------------- check
KEYS_ALWAYS = {"file", "made_by", "passphrase", "expect", "comment"}
KEYS_OK = {"plaintext", "plaintext_sha256", "passphrase_encoding"}
EXPECTS = {"ok", "armor", "version", "too_short", "rounds", "mac", "json"}


def maker_of(v: dict) -> str:
    m = v["made_by"]
    return ("element" if m.startswith("matrix-react-sdk") else "wasm" if m.startswith("@matrix-org/")
            else "nio" if m.startswith("matrix-nio") else "gen")


def same_sessions(a: bytes, b: bytes) -> str | None:
    try:
        x, y = json.loads(a), json.loads(b)
    except ValueError as e:
        return f"not JSON: {e}"
    key = lambda s: (s.get("room_id"), s.get("session_id"))
    if sorted(map(key, x)) != sorted(map(key, y)):
        return "different sessions"
    ym = {key(s): s for s in y}
    for s in x:
        if s != ym[key(s)]:
            return f"session {s.get('session_id')} differs"
    return None


def check() -> int:
    from nio.crypto import key_export

    manifest = json.loads((OUT / "manifest.json").read_text("utf-8"))
    vectors = manifest["vectors"]
    problems: list[str] = []

    # schema and directory listing
    listed = {v["file"] for v in vectors}
    plaintexts = {v["plaintext"] for v in vectors if "plaintext" in v}
    on_disk = {p.name for p in OUT.iterdir()} - {"manifest.json", "README.md"}
    for f in sorted(on_disk - listed - plaintexts):
        problems.append(f"{f}: on disk but not in the manifest")
    for v in vectors:
        keys = set(v)
        allowed = KEYS_ALWAYS | {"rounds"} | (KEYS_OK if v["expect"] == "ok" else set())
        if v["expect"] not in EXPECTS:
            problems.append(f"{v['file']}: bad expect {v['expect']}")
        if keys - allowed or (KEYS_ALWAYS - keys) or (v["expect"] == "ok" and KEYS_OK - keys):
            problems.append(f"{v['file']}: keys {sorted(keys)}")
        if not v["file"].endswith(".txt") or not (OUT / v["file"]).is_file():
            problems.append(f"{v['file']}: missing or not .txt")
        if "plaintext" in v and sha256_hex((OUT / v["plaintext"]).read_bytes()) != v["plaintext_sha256"]:
            problems.append(f"{v['file']}: plaintext_sha256 does not match {v['plaintext']}")
    if len(listed) != len(vectors):
        problems.append("duplicate file names in the manifest")

    results = []
    for v in vectors:
        data = (OUT / v["file"]).read_bytes()
        want = (OUT / v["plaintext"]).read_bytes() if v["expect"] == "ok" else None
        # reference reader: must reach exactly the manifest's verdict
        try:
            plain, enc = ref_decrypt(data, v["passphrase"])
            got = "ok"
            if plain != want:
                problems.append(f"{v['file']}: reference plaintext differs from {v['plaintext']}")
            if enc != v.get("passphrase_encoding"):
                problems.append(f"{v['file']}: reference needed passphrase encoding {enc}")
        except Refusal as e:
            got, enc = e.kind, str(e)
        if got != v["expect"]:
            problems.append(f"{v['file']}: reference reader says {got}, manifest says {v['expect']}")
        hdr_rounds = None
        try:
            b = ref_decode_armor(data)
            if len(b) >= MIN_LEN:
                hdr_rounds = int.from_bytes(b[33:37], "big")
        except Refusal:
            pass
        if hdr_rounds != v.get("rounds"):
            problems.append(f"{v['file']}: header rounds {hdr_rounds}, manifest {v.get('rounds')}")
        results.append({"file": v["file"], "peer": "reference", "expect": v["expect"],
                        "status": "ok" if got == "ok" else "rejected", "detail": enc if got == "ok" else enc})
        print(f"{'ok-vector ' if v['expect'] == 'ok' else 'bad-vector'} reference {got:<9} {v['file']}")

        # matrix-nio (does not cap the rounds: skip the 2^32-1 file)
        if maker_of(v) != "nio" and v.get("rounds", 0) <= MAX_ROUNDS:
            try:
                out = key_export.decrypt_and_read(str(OUT / v["file"]), v["passphrase"])
                if want is not None:
                    d = same_sessions(want, out)
                    status, detail = ("ok", "plaintext matches") if d is None else ("differs", d)
                else:
                    status, detail = "accepted", f"returned {len(out)} bytes"
            except Exception as e:  # nio raises ValueError, binascii.Error, UnicodeEncodeError, ...
                status, detail = "rejected", f"{type(e).__name__}: {e}"
            results.append({"file": v["file"], "peer": "nio", "expect": v["expect"], "status": status, "detail": detail})
            print(f"{'ok-vector ' if v['expect'] == 'ok' else 'bad-vector'} nio       {status:<9} {v['file']}: {detail}")

    node = json.loads((BUILD / "node-check.json").read_text("utf-8")) if (BUILD / "node-check.json").exists() else []
    if not node:
        problems.append("no Node cross-check results (.build/node-check.json); run `node gen_export.mjs --check` first")
    results += node
    (BUILD / "py-check.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    print("\n== cross-check summary: which peers other than the maker read each ok vector ==")
    for v in vectors:
        if v["expect"] != "ok":
            continue
        readers = sorted({r["peer"] for r in results if r["file"] == v["file"] and r["status"] == "ok" and r["peer"] != "reference"})
        others = ", ".join(readers) or "NONE"
        note = ""
        if not readers and v["passphrase_encoding"] == "latin1":
            # Element and wasm take the passphrase as a string and encode it as UTF-8: they
            # cannot express these bytes. The reference reader (hashlib/OpenSSL + cryptography,
            # not nio's pycryptodome) stands in.
            note = " (only the reference reader: other peers cannot send Latin-1 bytes)"
        elif not readers:
            problems.append(f"{v['file']}: no peer other than its maker read it")
        print(f"  {v['file']:<34} maker {maker_of(v):<8} read by: {others}{note}")

    print("\n== failure vectors: peers that ACCEPTED a file expected to fail (informational) ==")
    for r in results:
        if r["expect"] != "ok" and r["status"] == "accepted":
            print(f"  {r['peer']:<8} accepted {r['file']}: {r['detail']}")

    if problems:
        print("\nPROBLEMS:")
        for p in problems:
            print("  " + p)
        return 1
    print(f"\nall {len(vectors)} vectors consistent")
    return 0


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        sys.exit(check())
    BUILD.mkdir(exist_ok=True)
    generate()
