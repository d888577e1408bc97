"""The two Python attachment peers, imported from this folder's .venv (nothing copied):

  nio      matrix-nio  nio.crypto.attachments.encrypt_attachment / decrypt_attachment
  mautrix  mautrix     mautrix.crypto.attachments.encrypt_attachment / decrypt_attachment

Both take the key, hash and IV as separate strings; this wrapper hands them
file["key"]["k"], file["hashes"]["sha256"] and file["iv"] exactly as found, so any
other field of the EncryptedFile (v, alg, kty, key_ops, ext) is never looked at by them.

CLI (used by gen_attachment.py and ../../interop/attachment.sh):
  python peers.py encrypt PEER IN OUT.bin INFO.json
  python peers.py decrypt PEER IN.bin INFO.json OUT [--thumbnail]
      INFO may be an EncryptedFile, a message content ({"file": ...}) or an event.
  python peers.py versions
  python peers.py check DIR     every peer decrypts every vector of DIR/manifest.json; one JSON
                                line each: {"i", "peer", "ok": sha256 hex} or {"i", "peer", "error"}
Exit 0 on success; 1 with "ERROR: message" on stderr when the peer refused.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import version

PEERS = ("nio", "mautrix")

VERSIONS = {
    "matrix-nio": version("matrix-nio"),
    "mautrix": version("mautrix"),
    "pycryptodome": version("pycryptodome"),
    "python": platform.python_version(),
}

MADE_BY = {
    "nio": f"matrix-nio {VERSIONS['matrix-nio']} nio.crypto.attachments.encrypt_attachment "
    f"(Python {VERSIONS['python']}, pycryptodome {VERSIONS['pycryptodome']})",
    "mautrix": f"mautrix {VERSIONS['mautrix']} mautrix.crypto.attachments.encrypt_attachment "
    f"(Python {VERSIONS['python']}, pycryptodome {VERSIONS['pycryptodome']})",
}


def encrypt(peer: str, plaintext: bytes) -> tuple[bytes, dict]:
    if peer == "nio":
        from nio.crypto.attachments import encrypt_attachment

        data, info = encrypt_attachment(plaintext)
        return data, info
    if peer == "mautrix":
        from mautrix.crypto.attachments import encrypt_attachment

        data, info = encrypt_attachment(plaintext)
        # An EncryptedFile (mautrix.types) object; serialize() gives the event JSON.
        return data, info.serialize()
    raise ValueError(f"unknown peer {peer}")


def decrypt(peer: str, ciphertext: bytes, file: dict) -> bytes:
    k = file["key"]["k"]
    h = file["hashes"]["sha256"]
    iv = file["iv"]
    if peer == "nio":
        from nio.crypto.attachments import decrypt_attachment

        return decrypt_attachment(ciphertext, k, h, iv)
    if peer == "mautrix":
        from mautrix.crypto.attachments import decrypt_attachment

        return bytes(decrypt_attachment(ciphertext, k, h, iv))
    raise ValueError(f"unknown peer {peer}")


def pick_file(info: dict, thumbnail: bool = False) -> dict:
    content = info["content"] if isinstance(info.get("content"), dict) else info
    if thumbnail:
        return content["info"]["thumbnail_file"]
    return content["file"] if isinstance(content.get("file"), dict) else content


def main(argv: list[str]) -> int:
    if argv[:1] == ["versions"]:
        print(json.dumps({**VERSIONS, "madeBy": MADE_BY}))
        return 0
    if len(argv) == 2 and argv[0] == "check":
        import hashlib
        import os

        d = argv[1]
        with open(os.path.join(d, "manifest.json")) as f:
            vectors = json.load(f)["vectors"]
        for i, v in enumerate(vectors):
            with open(os.path.join(d, v["ciphertext"]), "rb") as f:
                ct = f.read()
            with open(os.path.join(d, v["info"])) as f:
                info = json.load(f)
            for peer in PEERS:
                try:
                    r = {"ok": hashlib.sha256(decrypt(peer, ct, pick_file(info, v["thumbnail"]))).hexdigest()}
                except Exception as e:  # noqa: BLE001
                    r = {"error": f"{type(e).__name__}: {e}"}
                print(json.dumps({"i": i, "peer": peer, **r}))
        return 0
    if len(argv) == 5 and argv[0] == "encrypt":
        _, peer, inp, out, info_out = argv
        with open(inp, "rb") as f:
            data, info = encrypt(peer, f.read())
        with open(out, "wb") as f:
            f.write(data)
        with open(info_out, "w") as f:
            f.write(json.dumps(info) + "\n")
        return 0
    if argv[:1] == ["decrypt"] and (len(argv) == 5 or (len(argv) == 6 and argv[5] == "--thumbnail")):
        _, peer, inp, info_file, out = argv[:5]
        with open(info_file) as f:
            file = pick_file(json.load(f), len(argv) == 6)
        with open(inp, "rb") as f:
            plain = decrypt(peer, f.read(), file)
        with open(out, "wb") as f:
            f.write(plain)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as e:  # noqa: BLE001 - report any refusal as one line
        print(f"ERROR: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
