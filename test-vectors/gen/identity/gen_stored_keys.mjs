// Cross-signing private keys in secret storage next to the published public keys, for
// `mxkeys cross-signing check --account-data`:
//   node gen_stored_keys.mjs IDENTITY_DIR
// writes IDENTITY_DIR/stored-keys/ (+ manifest.json there).
// - The keys: @matrix-org/matrix-sdk-crypto-wasm OlmMachines (alice, bob) bootstrap cross-signing
//   against the in-memory homeserver (hs.mjs); the /keys/query response is the homeserver's answer
//   to alice's own query; exportCrossSigningKeys() gives the private seeds.
// - Secret storage: matrix-js-sdk's ServerSideSecretStorageImpl (addKey, setDefaultKeyId, store) with
//   a Security Key or Security Phrase from RustCrypto.createRecoveryKeyFromPassphrase, through the
//   helpers of ../ssss/gen_jssdk.mjs (which load matrix-js-sdk from gen/ssss/node_modules: run
//   gen/ssss/install.sh first).
// - The expected verdicts are computed here independently: Node's crypto derives each Ed25519
//   public key from the stored seed (as read back by js-sdk's ServerSideSecretStorageImpl.get)
//   and compares it with the published one.
import { mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import crypto from "node:crypto";
import { FakeHomeserver, Client, sdk } from "./hs.mjs";
import { AccountData, secretStorage, createKey, addKey, JSSDK_VERSION } from "../ssss/gen_jssdk.mjs";

const dir = `${process.argv[2]}/stored-keys`;
mkdirSync(dir, { recursive: true });
for (const f of readdirSync(dir)) rmSync(`${dir}/${f}`);
const A = "@alice:example.org", B = "@bob:example.org";
const NAMES = ["m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing"];
const wasmVersion = JSON.parse(readFileSync(new URL("./node_modules/@matrix-org/matrix-sdk-crypto-wasm/package.json", import.meta.url))).version;
const WASM = `@matrix-org/matrix-sdk-crypto-wasm ${wasmVersion}: OlmMachine.bootstrapCrossSigning on the in-memory homeserver (gen/identity/hs.mjs), exportCrossSigningKeys`;
const JS = (what) => `matrix-js-sdk ${JSSDK_VERSION}: ${what}, ServerSideSecretStorageImpl.addKey/setDefaultKeyId/store`;
const json = (f, v) => writeFileSync(`${dir}/${f}`, JSON.stringify(v, null, 2) + "\n");
const text = (f, v) => writeFileSync(`${dir}/${f}`, v + "\n");

const hs = new FakeHomeserver();
const alice = await new Client(hs, A, "ALICEDEV1").init();
const bob = await new Client(hs, B, "BOBDEV1").init();
await alice.bootstrapCrossSigning();
await bob.bootstrapCrossSigning();
const seeds = async (c) => {
  const ex = await c.m.exportCrossSigningKeys();
  return { "m.cross_signing.master": ex.masterKey, "m.cross_signing.self_signing": ex.self_signing_key, "m.cross_signing.user_signing": ex.userSigningKey };
};
const aliceSeeds = await seeds(alice);
const bobSeeds = await seeds(bob);
const before = hs.query(A, [A]);
json("alice.keys-query.json", before);

// Ed25519 public key of a 32-byte seed (unpadded base64), by Node's crypto.
function publicOf(seedB64) {
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seedB64, "base64")]);
  const pub = crypto.createPublicKey(crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
  return pub.export({ format: "der", type: "spki" }).subarray(12).toString("base64").replace(/=+$/, "");
}
const published = (resp, kind) => Object.values(resp[`${kind}_keys`]?.[A]?.keys ?? {})[0] ?? null;
for (const n of NAMES) {
  const kind = n.slice("m.cross_signing.".length);
  if (publicOf(aliceSeeds[n]) !== published(before, kind)) throw new Error(`wasm's ${n} seed does not give the published key`);
}

// One secret-storage account: a fresh key (Security Key, or Phrase with `iterations`), the given
// secrets stored under it; the key is written as a file; what js-sdk reads back is returned.
async function account(file, secrets, passphrase, iterations) {
  const ad = new AccountData();
  const cache = {};
  const ss = secretStorage(ad, cache);
  const generated = await createKey(passphrase, iterations);
  const { keyId } = await addKey(ss, generated);
  cache[keyId] = generated.privateKey;
  for (const [n, v] of Object.entries(secrets)) await ss.store(n, v);
  json(file, ad.toObject());
  const back = {};
  for (const n of NAMES) back[n] = await ss.get(n);
  return { keyId, securityKey: generated.encodedPrivateKey, back };
}

function verdicts(back, resp) {
  const out = {};
  for (const n of NAMES) {
    const pub = published(resp, n.slice("m.cross_signing.".length));
    if (back[n] == null) out[n] = "missing";
    else out[n] = pub === null ? "not_published" : publicOf(back[n]) === pub ? "match" : "mismatch";
  }
  return out;
}

const cases = [];
function add(c) {
  const allMatch = c.expect && Object.values(c.expect).every((v) => v === "match");
  cases.push({ ...c, exit_code: c.error ? 1 : allMatch ? 0 : 1 });
}

const match = await account("match.account-data.json", aliceSeeds);
text("match.security-key.txt", match.securityKey);
add({ name: "match", keys: "stored-keys/alice.keys-query.json", account_data: "stored-keys/match.account-data.json", key_file: "stored-keys/match.security-key.txt",
  expect: verdicts(match.back, before), made_by: `${WASM}; ${JS("createRecoveryKeyFromPassphrase() (a Security Key)")}`,
  comment: "the three private keys Element stores at bootstrap, all matching what alice publishes" });

const phrase = "cross-signing phrase for mxkeys";
const mp = await account("match-phrase.account-data.json", aliceSeeds, phrase, 1000);
text("match-phrase.passphrase.txt", phrase);
add({ name: "match-phrase", keys: "stored-keys/alice.keys-query.json", account_data: "stored-keys/match-phrase.account-data.json", passphrase_file: "stored-keys/match-phrase.passphrase.txt",
  expect: verdicts(mp.back, before), made_by: `${WASM}; ${JS("createRecoveryKeyFromPassphrase(phrase) with 1000 iterations (a Security Phrase)")}`,
  comment: "same keys under a Security Phrase" });

const other = await account("master-from-other-identity.account-data.json", { ...aliceSeeds, "m.cross_signing.master": bobSeeds["m.cross_signing.master"] });
text("master-from-other-identity.security-key.txt", other.securityKey);
add({ name: "master-from-other-identity", keys: "stored-keys/alice.keys-query.json", account_data: "stored-keys/master-from-other-identity.account-data.json", key_file: "stored-keys/master-from-other-identity.security-key.txt",
  expect: verdicts(other.back, before), made_by: `${WASM}; ${JS("a Security Key")}`,
  comment: "m.cross_signing.master holds bob's master seed (another wasm identity); self-signing and user-signing are alice's: only the master key differs" });

const missing = await account("user-signing-missing.account-data.json", { "m.cross_signing.master": aliceSeeds["m.cross_signing.master"], "m.cross_signing.self_signing": aliceSeeds["m.cross_signing.self_signing"] });
text("user-signing-missing.security-key.txt", missing.securityKey);
add({ name: "user-signing-missing", keys: "stored-keys/alice.keys-query.json", account_data: "stored-keys/user-signing-missing.account-data.json", key_file: "stored-keys/user-signing-missing.security-key.txt",
  expect: verdicts(missing.back, before), made_by: `${WASM}; ${JS("a Security Key")}, only two secrets stored`,
  comment: "m.cross_signing.user_signing was never stored: the other two still match" });

// Cross-signing reset on the device (bootstrapCrossSigning(true) again): three new keys published,
// secret storage still holds the old ones.
await alice.bootstrapCrossSigning();
const after = hs.query(A, [A]);
json("alice-after-reset.keys-query.json", after);
add({ name: "reset-after-store", keys: "stored-keys/alice-after-reset.keys-query.json", account_data: "stored-keys/match.account-data.json", key_file: "stored-keys/match.security-key.txt",
  expect: verdicts(match.back, after), made_by: `${WASM} (a second bootstrapCrossSigning(true) on ALICEDEV1 after the secrets were stored); ${JS("a Security Key")}`,
  comment: "cross-signing was reset after the keys were stored: all three published keys are new, every stored key is old" });

const wrong = await createKey(undefined);
text("wrong.security-key.txt", wrong.encodedPrivateKey);
add({ name: "wrong-security-key", keys: "stored-keys/alice.keys-query.json", account_data: "stored-keys/match.account-data.json", key_file: "stored-keys/wrong.security-key.txt",
  expect: null, error: "wrong", made_by: JS("createRecoveryKeyFromPassphrase() for an unrelated Security Key"),
  comment: "a Security Key of another account: the key check fails, nothing is compared" });

json("manifest.json", { versions: { "matrix-sdk-crypto-wasm": wasmVersion, "matrix-js-sdk": JSSDK_VERSION }, user: A, cases });
console.log("stored-keys:", cases.map((c) => `${c.name} -> ${c.exit_code}`).join(", "));
