// The three Node attachment peers, loaded from this folder's node_modules (nothing copied):
//   mea-node       matrix-encrypt-attachment lib/nodejs.js    (Node `crypto`, OpenSSL aes-256-ctr)
//   mea-webcrypto  matrix-encrypt-attachment lib/webcrypto.js (WebCrypto AES-CTR; the code the
//                  browser bundle is built from; given Node's globalThis.crypto as `window.crypto`)
//   wasm           @matrix-org/matrix-sdk-crypto-wasm Attachment.encrypt / Attachment.decrypt
//
// CLI (used by gen_attachment.py and ../../interop/attachment.sh):
//   node peers.mjs encrypt PEER IN OUT.bin INFO.json      INFO = the peer's EncryptedFile, as is
//   node peers.mjs decrypt PEER IN.bin INFO.json OUT [--thumbnail]
//       INFO may be an EncryptedFile, a message content ({"file": ...}) or an event ({"content": ...})
//   node peers.mjs versions
//   node peers.mjs check DIR     every peer decrypts every vector of DIR/manifest.json; one JSON
//                                line each: {"i", "peer", "ok": sha256 hex} or {"i", "peer", "error"}
// Exit 0 on success; 1 with "ERROR: message" on stderr when the peer refused.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "package.json"));

function pkgVersion(name) {
  return JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8")).version;
}

export const versions = {
  "matrix-encrypt-attachment": pkgVersion("matrix-encrypt-attachment"),
  "@matrix-org/matrix-sdk-crypto-wasm": pkgVersion("@matrix-org/matrix-sdk-crypto-wasm"),
  node: process.versions.node,
};

export const PEERS = ["mea-node", "mea-webcrypto", "wasm"];

export const madeBy = {
  "mea-node": `matrix-encrypt-attachment ${versions["matrix-encrypt-attachment"]} lib/nodejs.js encryptAttachment (Node ${versions.node} crypto)`,
  "mea-webcrypto": `matrix-encrypt-attachment ${versions["matrix-encrypt-attachment"]} lib/webcrypto.js encryptAttachment (Node ${versions.node} WebCrypto)`,
  wasm: `@matrix-org/matrix-sdk-crypto-wasm ${versions["@matrix-org/matrix-sdk-crypto-wasm"]} Attachment.encrypt (Node ${versions.node})`,
};

// lib/webcrypto.js reads `window.crypto.subtle`, `window.btoa` and `window.atob` at call time.
if (typeof globalThis.window === "undefined") {
  globalThis.window = { crypto: globalThis.crypto, btoa: globalThis.btoa, atob: globalThis.atob };
}
const meaNode = require("matrix-encrypt-attachment/lib/nodejs.js");
const meaWeb = require("matrix-encrypt-attachment/lib/webcrypto.js");

let W;
async function wasm() {
  if (W) return W;
  W = await import("@matrix-org/matrix-sdk-crypto-wasm");
  await W.initAsync();
  return W;
}

function toArrayBuffer(buf) {
  const u8 = new Uint8Array(buf);
  return u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);
}

/** Encrypt bytes; returns {data: Buffer, info: EncryptedFile-like object as the peer wrote it}. */
export async function encrypt(peer, plaintext) {
  switch (peer) {
    case "mea-node": {
      const r = await meaNode.encryptAttachment(Buffer.from(plaintext));
      return { data: Buffer.from(r.data), info: r.info };
    }
    case "mea-webcrypto": {
      const r = await meaWeb.encryptAttachment(toArrayBuffer(plaintext));
      return { data: Buffer.from(r.data), info: r.info };
    }
    case "wasm": {
      const w = await wasm();
      const enc = w.Attachment.encrypt(new Uint8Array(plaintext));
      // Read the info before the data: decrypt() would destroy it, and the getter copies.
      const info = JSON.parse(enc.mediaEncryptionInfo);
      const data = Buffer.from(enc.encryptedData);
      enc.free();
      return { data, info };
    }
    default:
      throw new Error(`unknown peer ${peer}`);
  }
}

/** Decrypt with an EncryptedFile object (passed to the peer as is); returns a Buffer. */
export async function decrypt(peer, ciphertext, file) {
  switch (peer) {
    case "mea-node":
      return Buffer.from(await meaNode.decryptAttachment(Buffer.from(ciphertext), file));
    case "mea-webcrypto":
      return Buffer.from(await meaWeb.decryptAttachment(toArrayBuffer(ciphertext), file));
    case "wasm": {
      const w = await wasm();
      const enc = new w.EncryptedAttachment(new Uint8Array(ciphertext), JSON.stringify(file));
      try {
        return Buffer.from(w.Attachment.decrypt(enc));
      } finally {
        enc.free();
      }
    }
    default:
      throw new Error(`unknown peer ${peer}`);
  }
}

/** EncryptedFile out of an EncryptedFile, a message content or a whole event. */
export function pickFile(info, thumbnail = false) {
  const content = info.content && typeof info.content === "object" ? info.content : info;
  if (thumbnail) return content.info.thumbnail_file;
  return content.file && typeof content.file === "object" ? content.file : content;
}

async function main(argv) {
  const [op, ...rest] = argv;
  if (op === "versions") {
    console.log(JSON.stringify({ ...versions, madeBy }));
    return 0;
  }
  if (op === "check" && rest.length === 1) {
    const dir = rest[0];
    const { vectors } = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    for (const [i, v] of vectors.entries()) {
      const ct = readFileSync(join(dir, v.ciphertext));
      const info = JSON.parse(readFileSync(join(dir, v.info), "utf8"));
      for (const peer of PEERS) {
        let r;
        try {
          const plain = await decrypt(peer, ct, pickFile(info, v.thumbnail));
          r = { ok: createHash("sha256").update(plain).digest("hex") };
        } catch (e) {
          r = { error: String(e?.message ?? e) };
        }
        console.log(JSON.stringify({ i, peer, ...r }));
      }
    }
    return 0;
  }
  if (op === "encrypt" && rest.length === 4) {
    const [peer, input, out, infoOut] = rest;
    const r = await encrypt(peer, readFileSync(input));
    writeFileSync(out, r.data);
    writeFileSync(infoOut, JSON.stringify(r.info) + "\n");
    return 0;
  }
  if (op === "decrypt" && (rest.length === 4 || (rest.length === 5 && rest[4] === "--thumbnail"))) {
    const [peer, input, infoFile, out] = rest;
    const file = pickFile(JSON.parse(readFileSync(infoFile, "utf8")), rest.length === 5);
    writeFileSync(out, await decrypt(peer, readFileSync(input), file));
    return 0;
  }
  console.error("usage: node peers.mjs encrypt PEER IN OUT.bin INFO.json | decrypt PEER IN.bin INFO.json OUT [--thumbnail] | versions");
  return 2;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (e) {
    console.error(`ERROR: ${e?.message ?? e}`);
    process.exitCode = 1;
  }
}
