// Key descriptions WITHOUT iv/mac, written by matrix-js-sdk 6.0.0 (May 2020, the first release with
// m.secret_storage.v1.aes-hmac-sha2; installed as the npm alias matrix-js-sdk-6).
//
//   node gen_jssdk6.cjs IDENTITY.json OUTDIR META.json
//
// In 6.0.0, SecretStorage.addKey(AES, opts) computes the key check (iv + mac) only when it is given
// opts.key. bootstrapSecretStorage's "Asymmetric SSSS found. Switching SSSS to symmetric" branch calls
// createSSSS(opts, oldKey) with oldKey = null when the old key was not cached, optionally with the
// old key's passphrase info: the new key description then has no iv/mac, and the secrets are stored
// under it with a key the app's getSecretStorageKey callback supplies (from the phrase or the
// Security Key the user types). That is what we drive here, through 6.0.0's own SecretStorage
// (addKey, setDefaultKeyId, store), its Node AES code (aes.js encryptNode), its key_passphrase.deriveKey
// and recoverykey.encodeRecoveryKey. addKey also signs the key description with the cross-signing
// master key (crossSigningInfo.signObject -> olmlib.pkSign, libolm PkSigning from @matrix-org/olm),
// so the description carries a `signatures` field, as real accounts from that time do.
"use strict";
const fs = require("fs");
const path = require("path");
const nodeCrypto = require("crypto");

global.Olm = require("@matrix-org/olm");

const sdkDir = path.join(__dirname, "node_modules", "matrix-js-sdk-6");
const { SecretStorage, SECRET_STORAGE_ALGORITHM_V1_AES } = require(path.join(sdkDir, "lib/crypto/SecretStorage.js"));
const utils = require(path.join(sdkDir, "lib/utils.js"));
const olmlib = require(path.join(sdkDir, "lib/crypto/olmlib.js"));
const { deriveKey } = require(path.join(sdkDir, "lib/crypto/key_passphrase.js"));
const { encodeRecoveryKey } = require(path.join(sdkDir, "lib/crypto/recoverykey.js"));
const { randomString } = require(path.join(sdkDir, "lib/randomstring.js"));
const VERSION = JSON.parse(fs.readFileSync(path.join(sdkDir, "package.json"), "utf8")).version;

utils.setCrypto(nodeCrypto); // what 6.0.0's index.js does under Node

const SECRET_NAMES = ["m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing", "m.megolm_backup.v1"];

/** 6.0.0's baseApis: account data calls plus the 'accountData' event setDefaultKeyId waits for. */
class BaseApis extends require("events").EventEmitter {
    constructor() {
        super();
        this.data = new Map();
    }
    async getAccountDataFromServer(type) {
        return this.data.has(type) ? JSON.parse(JSON.stringify(this.data.get(type))) : null;
    }
    async setAccountData(type, content) {
        this.data.set(type, JSON.parse(JSON.stringify(content)));
        const ev = { getType: () => type, getContent: () => content };
        setImmediate(() => this.emit("accountData", ev));
        return {};
    }
}

async function account(identity, { passphrase, iterations }) {
    const api = new BaseApis();
    let privateKey;
    let passphraseInfo;
    if (passphrase) {
        const salt = randomString(32); // as keyFromPassphrase does, with fewer iterations
        privateKey = await deriveKey(passphrase, salt, iterations);
        passphraseInfo = { algorithm: "m.pbkdf2", iterations, salt };
    } else {
        privateKey = new Uint8Array(nodeCrypto.randomBytes(32));
    }
    const crossSigningInfo = {
        signObject: async (data, type) => {
            if (type !== "master") throw new Error("unexpected signing key " + type);
            olmlib.pkSign(data, new Uint8Array(Buffer.from(identity.secrets["m.cross_signing.master"], "base64")), identity.user_id);
            return data;
        },
    };
    const ss = new SecretStorage(api, {
        getSecretStorageKey: async ({ keys }) => [Object.keys(keys)[0], privateKey],
    }, crossSigningInfo);
    // createSSSS(opts, null): no opts.key, so no key check
    const keyId = await ss.addKey(SECRET_STORAGE_ALGORITHM_V1_AES, passphraseInfo ? { passphrase: passphraseInfo } : {});
    await ss.setDefaultKeyId(keyId);
    for (const n of SECRET_NAMES) await ss.store(n, identity.secrets[n], [keyId]);
    const desc = api.data.get(`m.secret_storage.key.${keyId}`);
    if ("iv" in desc || "mac" in desc) throw new Error("6.0.0 wrote a key check after all");
    return { data: Object.fromEntries(api.data), keyId, encoded: encodeRecoveryKey(privateKey) };
}

async function main([identityFile, outDir, metaFile]) {
    await global.Olm.init();
    const identity = JSON.parse(fs.readFileSync(identityFile, "utf8"));
    const by = `matrix-js-sdk ${VERSION} SecretStorage.addKey without opts.key (bootstrapSecretStorage's asymmetric-to-symmetric migration), setDefaultKeyId, store; Node aes.js`;
    const entries = [];
    const write = (file, data) => fs.writeFileSync(path.join(outDir, file), JSON.stringify(data, null, 2) + "\n");

    const p = await account(identity, { passphrase: "old element phrase", iterations: 1000 });
    write("jssdk6-no-keycheck-phrase.json", p.data);
    entries.push({ file: "jssdk6-no-keycheck-phrase.json", shape: "object", security_key: null, passphrase: "old element phrase", key_id: null,
        expect: "ok", made_by: by, comment: "key description with passphrase info and a cross-signing signature but no iv/mac: the key check cannot run; the right phrase opens every secret" });
    entries.push({ file: "jssdk6-no-keycheck-phrase.json", shape: "object", security_key: null, passphrase: "not the old element phrase", key_id: null,
        expect: "mac", made_by: by, comment: "wrong phrase and no key check to catch it: every secret (m.cross_signing.master, m.cross_signing.self_signing, m.cross_signing.user_signing, m.megolm_backup.v1) fails its MAC; a reader may word this as a probable wrong key" });
    const k = await account(identity, {});
    write("jssdk6-no-keycheck-key.json", k.data);
    entries.push({ file: "jssdk6-no-keycheck-key.json", shape: "object", security_key: k.encoded, passphrase: null, key_id: null,
        expect: "ok", made_by: by, comment: "key description with only algorithm and signatures (no iv/mac, no passphrase): opened with the Security Key" });
    fs.writeFileSync(metaFile, JSON.stringify({ jssdk6_version: VERSION, entries }, null, 2) + "\n");
}

main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
});
