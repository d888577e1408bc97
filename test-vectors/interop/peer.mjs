// One Node peer operation for interop/run.sh; the passphrase comes from PEER_PASSPHRASE.
//   node peer.mjs element|wasm encrypt IN.json OUT.txt ROUNDS
//   node peer.mjs element|wasm decrypt IN.txt OUT.json
// Element is matrix-react-sdk's MegolmExportEncryption, wasm is
// @matrix-org/matrix-sdk-crypto-wasm, both loaded from test-vectors/gen/node_modules.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as P from "../gen/peers.mjs";

const [peer, op, input, output, rounds] = process.argv.slice(2);
const pass = process.env.PEER_PASSPHRASE;
if (!["element", "wasm"].includes(peer) || !["encrypt", "decrypt"].includes(op) || !input || !output || pass === undefined) {
  console.error("usage: PEER_PASSPHRASE=... node peer.mjs element|wasm encrypt|decrypt IN OUT [ROUNDS]");
  process.exit(2);
}
if (existsSync(output)) {
  console.error(`${output} exists`);
  process.exit(2);
}
try {
  if (op === "encrypt") {
    const text = readFileSync(input, "utf8");
    const n = Number(rounds);
    if (peer === "element") {
      // Without a rounds argument, Element's own default (500000) applies.
      writeFileSync(output, await P.elementEncrypt(text, pass, rounds ? n : undefined));
    } else {
      writeFileSync(output, await P.wasmEncrypt(text, pass, n));
    }
  } else {
    const data = readFileSync(input);
    const plain = peer === "element" ? await P.elementDecrypt(data, pass) : await P.wasmDecrypt(data, pass);
    writeFileSync(output, plain);
  }
} catch (e) {
  console.error(`${peer} ${op} failed: ${e?.message ?? e}`);
  process.exit(1);
}
