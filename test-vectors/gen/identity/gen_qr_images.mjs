// QR code pictures of verification payloads, drawn by the encoders Matrix clients use:
//   node gen_qr_images.mjs IDENTITY_DIR OUT.json
// - Element Web (matrix-react-sdk VerificationQRCode): npm `qrcode` with
//   [{data: bytes, mode: "byte"}], errorCorrectionLevel "L", width 196, rendered to PNG by qrcode's
//   own PNG renderer (toDataURL in Element gives the same PNG as toBuffer here). Used on the
//   committed wasm payloads in IDENTITY_DIR/qr/, so each picture decodes to a committed .bin.
// - matrix-sdk-crypto (Element X, matrix-rust-sdk clients): @matrix-org/matrix-sdk-crypto-wasm
//   Qr.toQrCode().renderIntoBuffer() (the module matrix its `qrcode` crate encodes), from fresh
//   verifications on the in-memory homeserver (hs.mjs) in modes 0x00, 0x01 and 0x02; the payload
//   bytes (Qr.toBytes()) go with each matrix.
// - npm `qrcode` also encodes the non-Matrix codes: a matrix.to URL and a malformed MATRIX payload.
// gen_qr_images.py turns OUT.json into the pictures (scaling, JPEG, rotation, composites).
import { readFileSync, writeFileSync } from "node:fs";
import QRCode from "qrcode";
import { FakeHomeserver, Client, sdk } from "./hs.mjs";

const [dir, out] = process.argv.slice(2);
const A = "@alice:example.org", B = "@bob:example.org";
const U = (u) => new sdk.UserId(u);
const D = (d) => new sdk.DeviceId(d);
const ALL = [sdk.VerificationMethod.QrCodeScanV1, sdk.VerificationMethod.QrCodeShowV1, sdk.VerificationMethod.ReciprocateV1];
const b64 = (b) => Buffer.from(b).toString("base64");
const qrVersion = JSON.parse(readFileSync(new URL("./node_modules/qrcode/package.json", import.meta.url))).version;
const v = sdk.getVersions();
const wasmVersion = JSON.parse(readFileSync(new URL("./node_modules/@matrix-org/matrix-sdk-crypto-wasm/package.json", import.meta.url))).version;
const result = { versions: { qrcode: qrVersion, wasm: wasmVersion, matrix_sdk_crypto: v.matrix_sdk_crypto, vodozemac: v.vodozemac }, element: {}, wasm: {}, other: {} };

// Element Web's rendering of a byte payload.
async function element(bytes) {
  const segs = [{ data: Uint8Array.from(bytes), mode: "byte" }];
  const opts = { errorCorrectionLevel: "L", width: 196 };
  const png = await QRCode.toBuffer(segs, { ...opts, type: "png" });
  const q = QRCode.create(segs, opts);
  return { png: b64(png), size: q.modules.size, ec: "L", version: q.version };
}

for (const name of ["wasm-mode0-alice", "wasm-mode1-alice1", "wasm-mode2-alice2", "bad-mode-3"]) {
  const bytes = readFileSync(`${dir}/qr/${name}.bin`);
  result.element[name] = { payload_file: `qr/${name}.bin`, payload: b64(bytes), ...(await element(bytes)) };
}
const url = "https://matrix.to/#/@alice:example.org";
result.other.url = { payload: b64(Buffer.from(url)), ...(await element(Buffer.from(url))) };

// matrix-sdk-crypto's own codes, from fresh verification requests.
const hs = new FakeHomeserver();
const alice1 = await new Client(hs, A, "ALICEDEV1").init();
const bob1 = await new Client(hs, B, "BOBDEV1").init();
await alice1.bootstrapCrossSigning();
await bob1.bootstrapCrossSigning();
const alice2 = await new Client(hs, A, "ALICEDEV2").init();
for (const c of [alice1, alice2, bob1]) await c.track([A, B]);
for (const c of [alice1, alice2, bob1]) await c.sync([A, B]);

async function codes(requester, other, selfVerif) {
  let req, o;
  if (selfVerif) {
    const id = await requester.m.getIdentity(U(requester.userId));
    [req, o] = await id.requestVerification(ALL);
  } else {
    const dev = await requester.m.getDevice(U(other.userId), D(other.deviceId));
    [req, o] = dev.requestVerification(ALL);
  }
  await requester.send(o);
  await other.sync();
  const oreq = other.m.getVerificationRequest(U(requester.userId), req.flowId);
  await other.send(oreq.acceptWithMethods(ALL));
  await requester.sync();
  const got = [];
  for (const [who, r] of [[requester, req], [other, oreq]]) {
    const qr = await r.generateQrCode();
    if (!qr) continue;
    const bytes = Buffer.from(qr.toBytes());
    const buf = Array.from(qr.toQrCode().renderIntoBuffer());
    const size = Math.round(Math.sqrt(buf.length));
    if (size * size !== buf.length) throw new Error(`render buffer of ${buf.length} is not square`);
    got.push({ shown_by: `${who.userId}|${who.deviceId}`, mode: bytes[7], payload: b64(bytes), size, modules: buf.join("") });
  }
  return got;
}

for (const c of [...(await codes(alice1, bob1, false)), ...(await codes(alice2, alice1, true))]) {
  result.wasm[`mode${c.mode}`] ??= c;
}
for (const m of [0, 1, 2]) if (!result.wasm[`mode${m}`]) throw new Error(`wasm showed no mode ${m} code`);

writeFileSync(out, JSON.stringify(result, null, 1));
console.log("wrote", out, Object.keys(result.wasm), Object.keys(result.element));
