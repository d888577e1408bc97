// Which IV bits do Element Web and matrix-sdk-crypto-wasm never set? (README: "IV")
//   node survey_iv.mjs [N]     (nio: ../gen/.venv/bin/python survey_iv.py [N])
// Prints, per IV byte, the mask of bits that stayed 0 in all N fresh files.
import * as P from "./peers.mjs";

const N = Number(process.argv[2] ?? 400);
for (const [name, enc] of [["element-web", P.elementEncrypt], ["matrix-sdk-crypto-wasm", P.wasmEncrypt]]) {
  const seen = new Uint8Array(16);
  for (let i = 0; i < N; i++) {
    const text = (await enc("[]", "x", 1)).toString();
    const b64 = text.replace(/-----[A-Z ]+-----/g, "").replace(/\s/g, "");
    const iv = Buffer.from(b64, "base64").subarray(17, 33);
    iv.forEach((b, k) => { seen[k] |= b; });
  }
  console.log(`${name.padEnd(24)} never-set IV bits over ${N} files: ${[...seen].map((x) => (255 - x).toString(16).padStart(2, "0")).join(" ")}`);
}
