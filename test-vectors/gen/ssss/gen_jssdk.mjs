// Secret-storage account data written by matrix-js-sdk (and the secrets themselves, made by
// @matrix-org/matrix-sdk-crypto-wasm).
//
//   node gen_jssdk.mjs identity OUT.json   fresh cross-signing seeds + backup key (wasm OlmMachine)
//   node gen_jssdk.mjs vectors  IDENTITY.json OUTDIR META.json
//                                          js-sdk vectors into OUTDIR, their manifest entries to META.json
//   node gen_jssdk.mjs account  IDENTITY.json OUT.json [--passphrase P --iterations N] [--two-keys]
//                                          one fresh account (interop); prints its keys as JSON
//   node gen_jssdk.mjs decrypt  ACCOUNT.json (--recovery-key K | --passphrase P) [--key-id ID]
//                                          js-sdk reads the account data; prints {name: plaintext} for
//                                          every account-data type with an `encrypted` map
//   node gen_jssdk.mjs encrypt  IN.json OUT.json --secret NAME --value-file F (--recovery-key K | --passphrase P)
//                                          js-sdk stores one more secret under the default key
//
// Everything secret-storage related goes through the installed matrix-js-sdk code:
// ServerSideSecretStorageImpl (addKey / setDefaultKeyId / store / get / checkKey) with an in-memory
// account-data adapter in place of the homeserver, RustCrypto.createRecoveryKeyFromPassphrase for
// the Security Phrase (its iteration count is an instance field; we call it with `this` carrying
// a different count for the low-iteration vectors), encodeRecoveryKey / decodeRecoveryKey and
// deriveRecoveryKeyFromPassphrase.
import fs from "node:fs";
import path from "node:path";

import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import { ServerSideSecretStorageImpl, SECRET_STORAGE_ALGORITHM_V1_AES } from "matrix-js-sdk/lib/secret-storage.js";
import { RustCrypto } from "matrix-js-sdk/lib/rust-crypto/rust-crypto.js";
import {
    encodeRecoveryKey,
    decodeRecoveryKey,
    deriveRecoveryKeyFromPassphrase,
} from "matrix-js-sdk/lib/crypto-api/index.js";
import { logger } from "matrix-js-sdk/lib/logger.js";

logger.setLevel?.("error");

const here = path.dirname(new URL(import.meta.url).pathname);
const pkgVersion = (name) =>
    JSON.parse(fs.readFileSync(path.join(here, "node_modules", name, "package.json"), "utf8")).version;
export const JSSDK_VERSION = pkgVersion("matrix-js-sdk");
export const WASM_VERSION = pkgVersion("@matrix-org/matrix-sdk-crypto-wasm");

export const SECRET_NAMES = [
    "m.cross_signing.master",
    "m.cross_signing.self_signing",
    "m.cross_signing.user_signing",
    "m.megolm_backup.v1",
];

/** The homeserver's account data, in memory. */
export class AccountData {
    constructor(initial = {}) {
        this.data = new Map(Object.entries(structuredClone(initial)));
    }
    async getAccountDataFromServer(type) {
        return this.data.has(type) ? structuredClone(this.data.get(type)) : null;
    }
    async setAccountData(type, content) {
        this.data.set(type, structuredClone(content));
        return {};
    }
    toObject() {
        return Object.fromEntries(this.data);
    }
}

/** A js-sdk ServerSideSecretStorageImpl whose app callback hands out the keys in `cache`. */
export function secretStorage(accountData, cache) {
    return new ServerSideSecretStorageImpl(accountData, {
        getSecretStorageKey: async ({ keys }) => {
            for (const keyId of Object.keys(keys)) {
                if (cache[keyId]) return [keyId, cache[keyId]];
            }
            return null;
        },
    });
}

/** js-sdk's own Security Key / Security Phrase generator (RustCrypto.createRecoveryKeyFromPassphrase). */
export async function createKey(passphrase, iterations = 500000) {
    return RustCrypto.prototype.createRecoveryKeyFromPassphrase.call(
        { RECOVERY_KEY_DERIVATION_ITERATIONS: iterations },
        passphrase,
    );
}

/** What RustCrypto.addSecretStorageKeyToSecretStorage does, minus the caching callback. */
export async function addKey(ss, generated, makeDefault = true) {
    const { keyId, keyInfo } = await ss.addKey(SECRET_STORAGE_ALGORITHM_V1_AES, {
        passphrase: generated.keyInfo?.passphrase,
        name: generated.keyInfo?.name,
        key: generated.privateKey,
    });
    if (makeDefault) await ss.setDefaultKeyId(keyId);
    return { keyId, keyInfo };
}

async function makeIdentity(out) {
    const machine = await wasm.OlmMachine.initialize(
        new wasm.UserId("@alice:example.org"),
        new wasm.DeviceId("ALICEDEVICE"),
    );
    const requests = await machine.bootstrapCrossSigning(true);
    const upload = JSON.parse(requests.uploadSigningKeysRequest.body);
    const exported = await machine.exportCrossSigningKeys();
    const onlyKey = (k) => Object.values(k.keys)[0];
    const backup = wasm.BackupDecryptionKey.createRandomKey();
    const identity = {
        made_by: `@matrix-org/matrix-sdk-crypto-wasm ${WASM_VERSION}: OlmMachine.bootstrapCrossSigning + exportCrossSigningKeys, BackupDecryptionKey.createRandomKey`,
        user_id: "@alice:example.org",
        secrets: {
            "m.cross_signing.master": exported.masterKey,
            "m.cross_signing.self_signing": exported.self_signing_key,
            "m.cross_signing.user_signing": exported.userSigningKey,
            "m.megolm_backup.v1": backup.toBase64(),
        },
        public_keys: {
            "m.cross_signing.master": onlyKey(upload.master_key),
            "m.cross_signing.self_signing": onlyKey(upload.self_signing_key),
            "m.cross_signing.user_signing": onlyKey(upload.user_signing_key),
            "m.megolm_backup.v1": backup.megolmV1PublicKey.publicKeyBase64,
        },
    };
    for (const n of SECRET_NAMES) {
        if (typeof identity.secrets[n] !== "string") throw new Error(`no ${n} from wasm`);
    }
    fs.writeFileSync(out, JSON.stringify(identity, null, 2) + "\n");
    machine.close();
}

function writeJson(file, value) {
    fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
}

async function makeVectors(identityFile, outDir, metaFile) {
    const identity = JSON.parse(fs.readFileSync(identityFile, "utf8"));
    const entries = [];
    const by = (what) => `matrix-js-sdk ${JSSDK_VERSION} (${what})`;

    // One account per (key kind): a fresh key, made default, all four secrets stored under it
    // (what RustCrypto.bootstrapSecretStorage + CrossSigningIdentity + the backup code store).
    async function oneKeyAccount(file, passphrase, iterations, comment) {
        const ad = new AccountData();
        const cache = {};
        const ss = secretStorage(ad, cache);
        const generated = await createKey(passphrase, iterations);
        const { keyId } = await addKey(ss, generated);
        cache[keyId] = generated.privateKey;
        for (const n of SECRET_NAMES) await ss.store(n, identity.secrets[n]);
        writeJson(path.join(outDir, file), ad.toObject());
        entries.push({
            file,
            shape: "object",
            security_key: passphrase ? null : generated.encodedPrivateKey,
            passphrase: passphrase ?? null,
            key_id: null,
            expect: "ok",
            made_by: by(
                passphrase
                    ? `createRecoveryKeyFromPassphrase with ${iterations} iterations, ServerSideSecretStorageImpl.addKey/setDefaultKeyId/store`
                    : "createRecoveryKeyFromPassphrase(), ServerSideSecretStorageImpl.addKey/setDefaultKeyId/store",
            ),
            comment,
            // for the derived files (not part of the manifest)
            _encoded_key: generated.encodedPrivateKey,
            _key_id: keyId,
        });
        return { keyId, generated };
    }

    await oneKeyAccount("jssdk-security-key.json", undefined, undefined,
        "Security Key (random 32-byte key), as Element Web sets it up; js-sdk writes padded base64");
    await oneKeyAccount("jssdk-phrase-i1000.json", "correct horse battery staple", 1000,
        "Security Phrase, 1000 PBKDF2 iterations (js-sdk writes no `bits`); the Security Key of the derived key also opens it");
    await oneKeyAccount("jssdk-phrase-i500000.json", "Wörter mit Umlaut und 🔑", 500000,
        "Security Phrase with the iteration count js-sdk really uses (500000); non-ASCII phrase, UTF-8");
    await oneKeyAccount("jssdk-phrase-i1000-alt.json", "a different phrase", 1000,
        "second Security Phrase account; used as the source of the wrong-phrase vector");

    // Two keys: an old Security Key and a new Security Phrase key that is now the default;
    // every secret stored under both (ServerSideSecretStorageImpl.store with both key ids).
    {
        const ad = new AccountData();
        const cache = {};
        const ss = secretStorage(ad, cache);
        const oldKey = await createKey(undefined);
        const { keyId: oldId } = await addKey(ss, oldKey);
        cache[oldId] = oldKey.privateKey;
        const newKey = await createKey("new phrase after reset", 1000);
        const { keyId: newId } = await addKey(ss, newKey);
        cache[newId] = newKey.privateKey;
        for (const n of SECRET_NAMES) await ss.store(n, identity.secrets[n], [oldId, newId]);
        writeJson(path.join(outDir, "jssdk-two-keys.json"), ad.toObject());
        const common = { file: "jssdk-two-keys.json", shape: "object", _key_id: newId, _old_key_id: oldId };
        const madeBy = by("two createRecoveryKeyFromPassphrase keys via addKey, the second made default; store(name, secret, [old, new])");
        entries.push({ ...common, security_key: null, passphrase: "new phrase after reset", key_id: null, expect: "ok", made_by: madeBy,
            comment: "default key (the new Security Phrase key) chosen by m.secret_storage.default_key", _encoded_key: newKey.encodedPrivateKey });
        entries.push({ ...common, security_key: oldKey.encodedPrivateKey, passphrase: null, key_id: oldId, expect: "ok", made_by: madeBy,
            comment: "old, non-default Security Key selected with --key-id; every secret is encrypted under both keys", _encoded_key: oldKey.encodedPrivateKey });
        entries.push({ ...common, security_key: oldKey.encodedPrivateKey, passphrase: null, key_id: null, expect: "wrong_key", made_by: madeBy,
            comment: "old Security Key without --key-id: it is checked against the default (new) key description and fails the key check", _encoded_key: oldKey.encodedPrivateKey });
    }

    writeJson(metaFile, { jssdk_version: JSSDK_VERSION, wasm_version: WASM_VERSION, entries });
}

async function makeAccount([identityFile, out, ...args]) {
    const identity = JSON.parse(fs.readFileSync(identityFile, "utf8"));
    const ad = new AccountData();
    const cache = {};
    const ss = secretStorage(ad, cache);
    const keys = [];
    const kinds = args.includes("--two-keys") ? [undefined, arg(args, "--passphrase")] : [arg(args, "--passphrase")];
    for (const passphrase of kinds) {
        const generated = await createKey(passphrase, Number(arg(args, "--iterations") ?? 500000));
        const { keyId } = await addKey(ss, generated);
        cache[keyId] = generated.privateKey;
        keys.push({ key_id: keyId, security_key: generated.encodedPrivateKey, passphrase: passphrase ?? null });
    }
    for (const n of SECRET_NAMES) await ss.store(n, identity.secrets[n], keys.map((k) => k.key_id));
    writeJson(out, ad.toObject());
    process.stdout.write(JSON.stringify({ made_by: `matrix-js-sdk ${JSSDK_VERSION}`, default: keys.at(-1), keys }) + "\n");
}

function arg(args, name) {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
}

/** Loads {type: content} or [{type, content}] account data. */
export function loadAccountData(file) {
    const v = JSON.parse(fs.readFileSync(file, "utf8"));
    if (Array.isArray(v)) return Object.fromEntries(v.map((e) => [e.type, e.content]));
    return v;
}

/** Key from --recovery-key / --passphrase for key id `keyId`, checked with js-sdk's checkKey. */
async function openKey(ss, args) {
    const requested = arg(args, "--key-id");
    const got = await ss.getKey(requested);
    if (!got) throw new Error(`no key description for ${requested ?? "the default key"}`);
    const [keyId, keyInfo] = got;
    let key;
    const rk = arg(args, "--recovery-key");
    const pp = arg(args, "--passphrase");
    if (rk !== undefined) key = decodeRecoveryKey(rk);
    else if (pp !== undefined) {
        if (!keyInfo.passphrase) throw new Error("key has no passphrase info");
        key = await deriveRecoveryKeyFromPassphrase(pp, keyInfo.passphrase.salt, keyInfo.passphrase.iterations, keyInfo.passphrase.bits);
    } else throw new Error("need --recovery-key or --passphrase");
    if (!(await ss.checkKey(key, keyInfo))) throw new Error("wrong key: key check failed");
    return [keyId, key];
}

async function decrypt(args) {
    const ad = new AccountData(loadAccountData(args[0]));
    const cache = {};
    const ss = secretStorage(ad, cache);
    const [keyId, key] = await openKey(ss, args);
    cache[keyId] = key;
    const out = {};
    for (const [type, content] of ad.data) {
        if (content && typeof content.encrypted === "object") out[type] = await ss.get(type);
    }
    process.stdout.write(JSON.stringify(out) + "\n");
}

async function encrypt(args) {
    const ad = new AccountData(loadAccountData(args[0]));
    const cache = {};
    const ss = secretStorage(ad, cache);
    const [keyId, key] = await openKey(ss, args);
    cache[keyId] = key;
    const value = fs.readFileSync(arg(args, "--value-file"), "utf8").replace(/\n$/, "");
    await ss.store(arg(args, "--secret"), value, [keyId]);
    writeJson(args[1], ad.toObject());
}

const [cmd, ...rest] = process.argv.slice(2);
if (import.meta.url === `file://${process.argv[1]}`) {
    const run = { identity: () => makeIdentity(rest[0]), vectors: () => makeVectors(...rest), account: () => makeAccount(rest), decrypt: () => decrypt(rest), encrypt: () => encrypt(rest) }[cmd];
    if (!run) {
        console.error("usage: see the header of gen_jssdk.mjs");
        process.exit(2);
    }
    run().catch((e) => {
        console.error(`error: ${e.message ?? e}`);
        process.exit(1);
    });
}
