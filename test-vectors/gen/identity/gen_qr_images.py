"""Pictures of verification QR codes for test-vectors/identity/qr-images/ (Pillow).

    python gen_qr_images.py BUILD/qr-images.json IDENTITY_DIR

Reads what gen_qr_images.mjs collected (Element Web's PNGs from npm `qrcode`, matrix-sdk-crypto-wasm's
module matrices with their payloads) and writes the pictures plus qr-images/manifest.json. The
photo-like and broken pictures are made here from those; every random choice is seeded, so a run on
the same OUT.json writes the same files.
"""

import base64
import hashlib
import io
import json
import os
import random
import struct
import sys
import zlib

import PIL
from PIL import Image, ImageDraw, ImageFilter

made = json.load(open(sys.argv[1]))
ident = sys.argv[2]
out = os.path.join(ident, "qr-images")
os.makedirs(out, exist_ok=True)
for f in os.listdir(out):
    os.remove(os.path.join(out, f))
V = made["versions"]
ELEMENT = f"npm qrcode {V['qrcode']} as Element Web's VerificationQRCode calls it (byte segment, errorCorrectionLevel L, width 196), its own PNG renderer"
WASM = f"@matrix-org/matrix-sdk-crypto-wasm {V['wasm']} (matrix-sdk-crypto {V['matrix_sdk_crypto']}): Qr.toQrCode().renderIntoBuffer() of a fresh verification, drawn by Pillow {PIL.__version__} at 6 px per module with a 4-module quiet zone"
entries = []


def png_of(img):
    b = io.BytesIO()
    img.save(b, "PNG", optimize=True)
    return b.getvalue()


def jpeg_of(img, quality):
    b = io.BytesIO()
    img.convert("L").save(b, "JPEG", quality=quality)
    return b.getvalue()


def write(name, data, expect, made_by, comment, payload=None, payload_file=None, error=None):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    e = {"file": f"qr-images/{name}", "expect": expect}
    if payload_file:
        e["payload_file"] = payload_file
    if payload is not None:
        e["payload_len"] = len(payload)
        e["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    if error:
        e["error_contains"] = error
    e["made_by"] = made_by
    e["comment"] = comment
    entries.append(e)


def from_modules(size, bits, scale=6, quiet=4):
    n = size + 2 * quiet
    img = Image.new("L", (n, n), 255)
    px = img.load()
    for y in range(size):
        for x in range(size):
            if bits[y * size + x] == "1":
                px[x + quiet, y + quiet] = 0
    return img.resize((n * scale, n * scale), Image.NEAREST)


def element_img(name):
    return Image.open(io.BytesIO(base64.b64decode(made["element"][name]["png"])))


MODES = {0: "wasm-mode0-alice", 1: "wasm-mode1-alice1", 2: "wasm-mode2-alice2"}

# Element Web's own PNGs of the committed wasm payloads, one per mode.
for mode, name in MODES.items():
    e = made["element"][name]
    payload = base64.b64decode(e["payload"])
    write(f"element-web-mode{mode}.png", base64.b64decode(e["png"]), "ok", ELEMENT,
          f"mode {mode}: Element Web's picture of qr/{name}.bin (QR version {e['version']}, {e['size']}x{e['size']} modules)",
          payload, e["payload_file"])

# matrix-sdk-crypto's module matrices, one per mode; the payload is committed next to the picture.
for mode in (0, 1, 2):
    w = made["wasm"][f"mode{mode}"]
    payload = base64.b64decode(w["payload"])
    pf = f"qr-images/wasm-render-mode{mode}.payload.bin"
    with open(os.path.join(ident, pf), "wb") as f:
        f.write(payload)
    write(f"wasm-render-mode{mode}.png", png_of(from_modules(w["size"], w["modules"])), "ok", WASM,
          f"mode {mode} shown by {w['shown_by']} ({w['size']}x{w['size']} modules); the payload (Qr.toBytes()) is {os.path.basename(pf)}",
          payload, pf)

# A plain JPEG of Element's mode 0 picture.
mode0 = base64.b64decode(made["element"][MODES[0]]["payload"])
write("element-web-mode0.jpg", jpeg_of(element_img(MODES[0]), 75), "ok", ELEMENT + f"; re-saved as greyscale JPEG quality 75 by Pillow {PIL.__version__}",
      "mode 0 as a greyscale JPEG", mode0, f"qr/{MODES[0]}.bin")

# Photo-like: Element's mode 2 picture scaled up 1.3x onto a grey, noisy, unevenly lit background,
# rotated 10 degrees, slightly blurred, JPEG quality 60.
rng = random.Random(12)
mode2 = base64.b64decode(made["element"][MODES[2]]["payload"])
code = element_img(MODES[2]).convert("L")
code = code.resize((int(code.width * 1.3), int(code.height * 1.3)), Image.BILINEAR)
bg = Image.new("L", (360, 350), 0)
px = bg.load()
for y in range(bg.height):
    for x in range(bg.width):
        px[x, y] = max(0, min(255, 150 + x // 8 - y // 10 + rng.randint(-6, 6)))
bg.paste(code, (52, 48))
photo = bg.rotate(10, resample=Image.BICUBIC, expand=False, fillcolor=140).filter(ImageFilter.GaussianBlur(0.8))
write("photo-rotated-10deg.jpg", jpeg_of(photo, 60), "ok",
      ELEMENT + f"; made photo-like by Pillow {PIL.__version__}: scaled 1.3x, on a noisy unevenly lit background, rotated 10 degrees, Gaussian blur 0.8, JPEG quality 60",
      "mode 2, as a phone photo of a screen might look", mode2, f"qr/{MODES[2]}.bin")

# Black modules on a transparent background (RGBA): a viewer shows it on white.
w1 = made["wasm"]["mode1"]
rgba = Image.new("RGBA", from_modules(w1["size"], w1["modules"]).size, (0, 0, 0, 0))
rgba.putalpha(Image.eval(from_modules(w1["size"], w1["modules"]), lambda v: 255 - v))
write("transparent-background.png", png_of(rgba), "ok", WASM + "; then as black pixels on a fully transparent background (RGBA, every pixel's colour is black)",
      "transparent pixels must count as white, as any viewer shows them", base64.b64decode(w1["payload"]), "qr-images/wasm-render-mode1.payload.bin")

# Two codes in one picture: the Matrix mode 0 code and a URL.
url = made["other"]["url"]
left = element_img(MODES[0]).convert("L")
right = Image.open(io.BytesIO(base64.b64decode(url["png"]))).convert("L")
two = Image.new("L", (left.width + right.width + 40, max(left.height, right.height)), 255)
two.paste(left, (0, 0))
two.paste(right, (left.width + 40, 0))
write("two-codes.png", png_of(two), "several", ELEMENT + "; two pictures side by side (Pillow)",
      "mode 0 code on the left, a matrix.to URL on the right: which one to crop to must be said",
      error="2 QR codes")

# A non-Matrix code.
write("url-matrix-to.png", base64.b64decode(url["png"]), "not_matrix", ELEMENT,
      "a QR code holding https://matrix.to/#/@alice:example.org (not a verification payload)",
      base64.b64decode(url["payload"]), error='starting "https://matrix.to/#/@ali"...')

# A code that starts with MATRIX but has mode 3.
bad = made["element"]["bad-mode-3"]
write("element-web-bad-mode-3.png", base64.b64decode(bad["png"]), "payload", ELEMENT,
      "qr/bad-mode-3.bin in a picture: the payload parser's error comes through", base64.b64decode(bad["payload"]),
      "qr/bad-mode-3.bin", error="mode 3 is unknown")

# No code: a smooth gradient with noise and a few shapes.
rng = random.Random(7)
noqr = Image.new("L", (240, 180), 255)
d = ImageDraw.Draw(noqr)
for i in range(12):
    x, y = rng.randint(0, 220), rng.randint(0, 160)
    d.rectangle([x, y, x + rng.randint(5, 30), y + rng.randint(5, 30)], fill=rng.randint(0, 200))
write("no-code.png", png_of(noqr), "no_qr_code", f"Pillow {PIL.__version__}: rectangles on white, no QR code",
      "no QR code in the picture", error="no QR code found")

# Broken files.
full = base64.b64decode(made["element"][MODES[1]]["png"])
write("truncated.png", full[: len(full) // 2], "undecodable", ELEMENT + "; cut to its first half",
      "the first half of Element's mode 1 PNG", error="PNG image cannot be decoded")


def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


huge = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
write("huge-declared-size.png", huge, "too_large", "this script: a valid PNG header (IHDR with a correct CRC) declaring 100000x100000 grey pixels, then a tiny IDAT and IEND",
      "10 gigapixels declared: refused from the header, before any pixel is decoded", error="100000x100000")

jpeg_head = jpeg_of(element_img(MODES[0]), 75)[:400]
write("truncated.jpg", jpeg_head, "undecodable", ELEMENT + "; as a greyscale JPEG quality 75, cut after 400 bytes",
      "a JPEG that ends inside its headers", error="JPEG image cannot be decoded")

manifest = {"versions": {"qrcode": V["qrcode"], "matrix-sdk-crypto-wasm": V["wasm"], "matrix_sdk_crypto": V["matrix_sdk_crypto"], "pillow": PIL.__version__},
            "images": entries}
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")
print("qr-images:", len(entries), "pictures,", sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)), "bytes")
