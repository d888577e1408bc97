"""A matrix-nio export as nio's client writes it: `Olm.export_keys_static` serialises the
sessions with `json.dumps(session_list).encode()` (Python's default separators ", " and ": ")
and hands them to `nio.crypto.key_export.encrypt_and_save`. The sessions are those of
sessions-basic.json, the rounds 100000 (not nio's default 10000), so only the plaintext's layout
tells this file from one by matrix-rust-sdk. Writes test-vectors/export/nio-layout-r100000.txt,
its plaintext sessions-basic-nio-layout.json, and their manifest entry (replaced if present).

Run with the venv of gen/install.sh: test-vectors/gen/.venv/bin/python nio_layout.py
"""

import hashlib
import json
from pathlib import Path

from nio.crypto import key_export

OUT = Path(__file__).resolve().parent.parent / "export"
PASS = "correct horse battery staple"
ROUNDS = 100_000
FILE = "nio-layout-r100000.txt"
PLAIN = "sessions-basic-nio-layout.json"


def main() -> None:
    sessions = json.loads((OUT / "sessions-basic.json").read_bytes())
    data = json.dumps(sessions).encode()  # exactly what Olm.export_keys_static does
    (OUT / PLAIN).write_bytes(data)
    path = OUT / FILE
    path.unlink(missing_ok=True)  # nio's atomic_write refuses to overwrite
    key_export.encrypt_and_save(data, str(path), PASS, count=ROUNDS)
    from importlib.metadata import version
    manifest_path = OUT / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    vectors = [v for v in manifest["vectors"] if v["file"] != FILE]
    vectors.append({
        "file": FILE,
        "made_by": f"matrix-nio {version('matrix-nio')} Olm.export_keys_static's json.dumps + "
                   "nio.crypto.key_export.encrypt_and_save (gen/nio_layout.py)",
        "passphrase": PASS,
        "expect": "ok",
        "plaintext": PLAIN,
        "plaintext_sha256": hashlib.sha256(data).hexdigest(),
        "passphrase_encoding": "utf-8",
        "rounds": ROUNDS,
        "comment": "nio's client layout of the plaintext (json.dumps: ', ' and ': '); at 100000 rounds "
                   "the armor alone cannot tell nio from matrix-rust-sdk, the plaintext can",
    })
    manifest["vectors"] = vectors
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {FILE} and {PLAIN}")


if __name__ == "__main__":
    main()
