// Loads the two Node peers used to make and check key-export test vectors:
//  - Element Web's MegolmExportEncryption (from the matrix-react-sdk npm package,
//    loaded from node_modules at run time with its three UI imports stubbed), and
//  - @matrix-org/matrix-sdk-crypto-wasm (matrix-rust-sdk's crypto crate).
// Nothing from either package is copied into this repository.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "package.json"));

function pkgVersion(name) {
  return JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8")).version;
}

// ---------------------------------------------------------------- Element Web
export const elementVersion = pkgVersion("matrix-react-sdk");
export const elementMadeBy =
  `matrix-react-sdk ${elementVersion} MegolmExportEncryption.encryptMegolmKeyFile (Node ${process.versions.node} WebCrypto)`;

let elementModule;
/** @returns {{encryptMegolmKeyFile: Function, decryptMegolmKeyFile: Function}} */
export function element() {
  if (elementModule) return elementModule;
  const file = require.resolve("matrix-react-sdk/lib/utils/MegolmExportEncryption.js");
  const src = readFileSync(file, "utf8");
  const realRequire = createRequire(file);
  // The file imports a logger, the i18n helper and the app config only for
  // log lines and translated error text; stub those three.
  const stubs = {
    "matrix-js-sdk/src/logger": { logger: { log() {}, info() {}, warn() {}, error() {}, debug() {} } },
    "../languageHandler": { _t: (key) => key },
    "../SdkConfig": { __esModule: true, default: { get: () => ({ brand: "Element" }) } },
  };
  const req = (name) => (name in stubs ? stubs[name] : realRequire(name));
  const window = { crypto: globalThis.crypto, btoa: globalThis.btoa, atob: globalThis.atob };
  const module = { exports: {} };
  new Function("exports", "require", "module", "window", src)(module.exports, req, module, window);
  elementModule = module.exports;
  return elementModule;
}

/** Element: encrypt a string, returns the file bytes (Buffer). */
export async function elementEncrypt(plaintext, passphrase, rounds) {
  const ab = await element().encryptMegolmKeyFile(plaintext, passphrase, { kdf_rounds: rounds });
  return Buffer.from(ab);
}

/** Element: decrypt file bytes, returns the plaintext string. Throws {message} on failure. */
export async function elementDecrypt(fileBytes, passphrase) {
  const u8 = new Uint8Array(fileBytes);
  const ab = u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);
  return element().decryptMegolmKeyFile(ab, passphrase);
}

// ------------------------------------------------- matrix-sdk-crypto-wasm
export const wasmVersion = pkgVersion("@matrix-org/matrix-sdk-crypto-wasm");
export const wasmMadeBy =
  `@matrix-org/matrix-sdk-crypto-wasm ${wasmVersion} OlmMachine.encryptExportedRoomKeys (Node ${process.versions.node})`;

let W;
export async function wasm() {
  if (W) return W;
  W = await import("@matrix-org/matrix-sdk-crypto-wasm");
  await W.initAsync();
  return W;
}

/** wasm: encrypt a JSON string (must be a valid export JSON array), returns file bytes. */
export async function wasmEncrypt(plaintext, passphrase, rounds) {
  const w = await wasm();
  return Buffer.from(w.OlmMachine.encryptExportedRoomKeys(plaintext, passphrase, rounds), "utf8");
}

/** wasm: decrypt file bytes, returns the JSON string it re-serialises. */
export async function wasmDecrypt(fileBytes, passphrase) {
  const w = await wasm();
  return w.OlmMachine.decryptExportedRoomKeys(Buffer.from(fileBytes).toString("utf8"), passphrase);
}

// ------------------------------------------------------------- comparison
/** Compare two export JSON texts as values; arrays of sessions compared by session_id. */
export function sameSessions(aText, bText) {
  let a, b;
  try { a = JSON.parse(aText); b = JSON.parse(bText); } catch (e) { return `not JSON: ${e.message}`; }
  if (!Array.isArray(a) || !Array.isArray(b)) return "not an array";
  if (a.length !== b.length) return `session count ${a.length} vs ${b.length}`;
  const key = (s) => `${s.room_id}|${s.session_id}`;
  const bm = new Map(b.map((s) => [key(s), s]));
  for (const s of a) {
    const t = bm.get(key(s));
    if (!t) return `session ${s.session_id} missing`;
    const diff = deepDiff(s, t);
    if (diff) return `session ${s.session_id}: ${diff}`;
  }
  return null;
}

function deepDiff(x, y, path = "") {
  if (typeof x !== typeof y || Array.isArray(x) !== Array.isArray(y) || (x === null) !== (y === null))
    return `${path || "."} type differs`;
  if (x === null || typeof x !== "object") return x === y ? null : `${path || "."}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`;
  if (Array.isArray(x)) {
    if (x.length !== y.length) return `${path} length differs`;
    for (let i = 0; i < x.length; i++) { const d = deepDiff(x[i], y[i], `${path}[${i}]`); if (d) return d; }
    return null;
  }
  const kx = Object.keys(x).sort(), ky = Object.keys(y).sort();
  if (kx.join("\u0000") !== ky.join("\u0000")) {
    const miss = kx.filter((k) => !ky.includes(k)), extra = ky.filter((k) => !kx.includes(k));
    return `${path || "."} keys differ (missing ${JSON.stringify(miss)}, extra ${JSON.stringify(extra)})`;
  }
  for (const k of kx) { const d = deepDiff(x[k], y[k], `${path}.${k}`); if (d) return d; }
  return null;
}
