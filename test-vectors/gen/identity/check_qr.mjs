// Feeds every QR payload in the list to matrix-sdk-crypto-wasm's parser (QrCodeScan.fromBytes) and
// records whether it accepts it:  node check_qr.mjs LIST.json VECTOR_DIR OUT.json
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as sdk from "@matrix-org/matrix-sdk-crypto-wasm";
const [list, dir, out] = process.argv.slice(2);
const res = {};
for (const f of JSON.parse(readFileSync(list, "utf8"))) {
  const bytes = readFileSync(path.join(dir, f));
  try {
    sdk.QrCodeScan.fromBytes(new Uint8ClampedArray(bytes));
    res[f] = { accepted: true };
  } catch (e) {
    res[f] = { accepted: false, error: String(e?.message ?? e) };
  }
}
writeFileSync(out, JSON.stringify(res, null, 1));
