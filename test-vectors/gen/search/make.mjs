// Passphrase-search targets made by the peers, and candidate lists that hide each passphrase at a
// seeded random position (test-vectors/search/).
//
//   node make.mjs        (after ../install.sh and ../ssss/install.sh)
//
// Targets: an Element Web export (matrix-react-sdk MegolmExportEncryption) whose passphrase is a
// --mutate variation of a list word; a legacy passphrase-protected backup version whose key comes
// from matrix-js-sdk 6.0.0 key_passphrase.keyFromAuthData (PBKDF2) and whose public key from
// @matrix-org/matrix-sdk-crypto-wasm BackupDecryptionKey. The existing peer vectors in
// test-vectors/export and test-vectors/ssss are targets too.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, "../../..");
const out = path.join(root, "test-vectors/search");
const { elementEncrypt, elementMadeBy } = await import(path.join(root, "test-vectors/gen/peers.mjs"));
const requireSsss = createRequire(path.join(root, "test-vectors/gen/ssss/package.json"));
// keyFromAuthData only checks that libolm is loaded (it derives with WebCrypto PBKDF2).
globalThis.Olm = requireSsss("@matrix-org/olm");
await globalThis.Olm.init();
const kp = requireSsss("matrix-js-sdk-6/lib/crypto/key_passphrase.js");
const wasm = requireSsss("@matrix-org/matrix-sdk-crypto-wasm");
const version = (_req, name) =>
    JSON.parse(fs.readFileSync(path.join(root, "test-vectors/gen/ssss/node_modules", name, "package.json"), "utf8")).version;

// Deterministic positions and decoys (mulberry32).
let seed = 20261123;
const rand = () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const decoys = (n) => Array.from({ length: n }, (_, i) => `decoy-${i}-${Math.floor(rand() * 1e6).toString(36)}`);
function list(name, word, n = 60) {
    const words = decoys(n);
    const at = Math.floor(rand() * (n + 1));
    words.splice(at, 0, word);
    fs.writeFileSync(path.join(out, name), words.join("\n") + "\n");
    return at + 1; // 1-based line
}

const vectors = [];
const add = (v) => vectors.push({ key_id: null, ...v });

// 1. Existing peer targets, plain lists.
const exportsDir = "../export";
const exportPass = "correct horse battery staple";
let line = list("element-r1000.list", exportPass);
add({ target: `${exportsDir}/element-web-r1000.txt`, candidates: "element-r1000.list", mutate: false, expect: "found", line, passphrase: exportPass,
      made_by: "target: matrix-react-sdk export (test-vectors/export); list: this script", comment: "Element Web export, passphrase hidden in a plain list" });
line = list("nio-r10000.list", exportPass);
add({ target: `${exportsDir}/nio-r10000.txt`, candidates: "nio-r10000.list", mutate: false, expect: "found", line, passphrase: exportPass,
      made_by: "target: matrix-nio export (test-vectors/export); list: this script", comment: "matrix-nio export" });
line = list("nio-cafe.list", "café");
add({ target: `${exportsDir}/nio-r10000-cafe-latin1.txt`, candidates: "nio-cafe.list", mutate: false, expect: "found", line, passphrase: "café",
      made_by: "target: matrix-nio export keyed with Latin-1 bytes; list: this script", comment: "the search must also try the Latin-1 bytes nio used" });
const ssssManifest = JSON.parse(fs.readFileSync(path.join(root, "test-vectors/ssss/manifest.json"), "utf8"));
for (const file of ["jssdk-phrase-i1000.json", "mautrix-phrase-i1000.json"]) {
    const v = ssssManifest.vectors.find((x) => x.file === file && x.expect === "ok" && x.passphrase);
    line = list(`${file.replace(".json", "")}.list`, v.passphrase);
    add({ target: `../ssss/${file}`, candidates: `${file.replace(".json", "")}.list`, mutate: false, expect: "found", line, passphrase: v.passphrase,
          made_by: `target: ${v.made_by} (test-vectors/ssss); list: this script`, comment: "Security Phrase of the default secret-storage key" });
}
fs.writeFileSync(path.join(out, "none.list"), decoys(40).join("\n") + "\n");
add({ target: `${exportsDir}/element-web-r1000.txt`, candidates: "none.list", mutate: false, expect: "not_found", line: null, passphrase: null,
      made_by: "this script", comment: "nothing matches: exit 1 with the count tried" });

// 2. Element export whose passphrase is only reachable with --mutate.
const sessions = fs.readFileSync(path.join(root, "test-vectors/export/sessions-basic.json"), "utf8");
const mutated = "Summer2019";
fs.writeFileSync(path.join(out, "element-summer2019.txt"), await elementEncrypt(sessions, mutated, 1000));
line = list("summer.list", "summer");
add({ target: "element-summer2019.txt", candidates: "summer.list", mutate: true, expect: "found", line, passphrase: mutated,
      made_by: elementMadeBy, comment: "the list has 'summer'; --mutate tries Capitalised + year" });
add({ target: "element-summer2019.txt", candidates: "summer.list", mutate: false, expect: "not_found", line: null, passphrase: null,
      made_by: elementMadeBy, comment: "without --mutate the same list does not find it" });

// 3. Legacy passphrase-protected backup (auth_data.private_key_salt / private_key_iterations).
const backupPass = "my old backup passphrase";
const salt = "ayNsxJdDwHY2RqBUnbyVsuScMeNH6cQX";
const iterations = 1000;
const key = await kp.keyFromAuthData({ private_key_salt: salt, private_key_iterations: iterations }, backupPass);
const b64 = Buffer.from(key).toString("base64");
const bdk = wasm.BackupDecryptionKey.fromBase64(b64);
fs.writeFileSync(path.join(out, "legacy-backup-version.json"), JSON.stringify({
    algorithm: "m.megolm_backup.v1.curve25519-aes-sha2",
    auth_data: { public_key: bdk.megolmV1PublicKey.publicKeyBase64, private_key_salt: salt, private_key_iterations: iterations, signatures: {} },
    count: 0, etag: "0", version: "1",
}, null, 2) + "\n");
line = list("legacy-backup.list", backupPass);
add({ target: "legacy-backup-version.json", candidates: "legacy-backup.list", mutate: false, expect: "found", line, passphrase: backupPass,
      made_by: `matrix-js-sdk ${version(requireSsss, "matrix-js-sdk-6")} key_passphrase.keyFromAuthData + @matrix-org/matrix-sdk-crypto-wasm ${version(requireSsss, "@matrix-org/matrix-sdk-crypto-wasm")} BackupDecryptionKey public key`,
      comment: "legacy backup passphrase (private_key_salt), 1000 iterations" });
add({ target: "legacy-backup-version.json", candidates: "none.list", mutate: false, expect: "not_found", line: null, passphrase: null,
      made_by: vectors[vectors.length - 1].made_by, comment: "nothing matches a backup: exit 1, and no talk of a damaged file (only an export's MAC covers a file)" });

fs.writeFileSync(path.join(out, "manifest.json"), JSON.stringify({ vectors }, null, 2) + "\n");
console.log(`wrote ${vectors.length} vectors to ${out}`);
