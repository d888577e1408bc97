// Account states for `mxkeys doctor` (test-vectors/account), made by matrix-js-sdk and
// @matrix-org/matrix-sdk-crypto-wasm, and the js-sdk/wasm half of their confirmation.
//
//   node gen_account.mjs generate OUTDIR META.json
//        every state into OUTDIR/<state>/ (account_data.json, backup_version.json, keys_query.json,
//        backup.json, the key files) and what the generator knows about each into META.json
//        (key ids, private keys, the verdicts each state was built to give) for gen_account.py
//   node gen_account.mjs confirm OUTDIR FACTS.json
//        reads every state of OUTDIR/manifest.json back with js-sdk and wasm only (no generator
//        knowledge except the published identity's private keys, which a trust check needs) and
//        writes the facts each doctor check depends on to FACTS.json; gen_account.py turns those
//        facts into verdicts with the same rules as its reference and compares
//
// What each library does here:
// - matrix-js-sdk: ServerSideSecretStorageImpl (addKey, setDefaultKeyId, store, get, getKey,
//   checkKey) over an in-memory account-data store; keys from RustCrypto.createRecoveryKeyFromPassphrase;
//   Security Key text from encodeRecoveryKey; decryptionKeyMatchesKeyBackupInfo. The order of the
//   store() calls follows RustCrypto.bootstrapSecretStorage / resetKeyBackup /
//   DehydratedDeviceManager.resetKey (matrix-js-sdk 43 src/rust-crypto/), which this script cannot
//   run whole: they need a homeserver.
// - matrix-sdk-crypto-wasm: OlmMachine per device on an in-memory homeserver (hs.mjs):
//   bootstrapCrossSigning, exportCrossSigningKeys, sign (the auth_data signatures, as
//   RustCrypto.signObject makes them), enableBackupV1 + backupRoomKeys (backup.json),
//   BackupDecryptionKey, DehydratedDeviceKey; for the confirmation, a fresh checker device that
//   receives keys_query.json, importCrossSigningKeys and verifyBackup, and decryptV1.
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";

import * as W from "@matrix-org/matrix-sdk-crypto-wasm";
import anotherjson from "another-json";
import { ServerSideSecretStorageImpl, SECRET_STORAGE_ALGORITHM_V1_AES } from "matrix-js-sdk/lib/secret-storage.js";
import { RustCrypto } from "matrix-js-sdk/lib/rust-crypto/rust-crypto.js";
import { decryptionKeyMatchesKeyBackupInfo } from "matrix-js-sdk/lib/rust-crypto/backup.js";
import { encodeRecoveryKey, decodeRecoveryKey, deriveRecoveryKeyFromPassphrase } from "matrix-js-sdk/lib/crypto-api/index.js";
import { logger } from "matrix-js-sdk/lib/logger.js";

import { FakeHomeserver, Client } from "./hs.mjs";

logger.setLevel?.("silent");
await W.initAsync();

const here = path.dirname(new URL(import.meta.url).pathname);
const ver = (name) => JSON.parse(fs.readFileSync(path.join(here, "node_modules", name, "package.json"), "utf8")).version;
export const JSSDK = `matrix-js-sdk ${ver("matrix-js-sdk")}`;
export const WASM = `@matrix-org/matrix-sdk-crypto-wasm ${ver("@matrix-org/matrix-sdk-crypto-wasm")}`;

const ALICE = "@alice:example.org";
const BOB = "@bob:example.org";
const PHRASE_ITERATIONS = 1000; // js-sdk's own value is 500000 (RECOVERY_KEY_DERIVATION_ITERATIONS)
const CHECK_IDS = ["default_key", "key_check", "secrets", "backup_key_in_storage", "backup_key_matches_backup",
    "cross_signing_in_storage", "cross_signing_matches_published", "backup_trusted", "dehydration_key", "backup_sessions"];
const CROSS_SIGNING = ["m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing"];
const DEHYDRATION = "org.matrix.msc3814";

const b64 = (u8) => Buffer.from(u8).toString("base64").replace(/=+$/, "");
const unb64 = (s) => new Uint8Array(Buffer.from(s, "base64"));
const clone = (o) => JSON.parse(JSON.stringify(o));
const writeJson = (file, value) => fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
const alnum = (n) => {
    const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    return Array.from(randomBytes(n), (b) => chars[b % chars.length]).join("");
};

/** The homeserver's global account data, in memory (what js-sdk's AccountDataClient reads and writes). */
class AccountData {
    constructor(initial = {}) {
        this.data = new Map(Object.entries(clone(initial)));
    }
    async getAccountDataFromServer(type) {
        return this.data.has(type) ? clone(this.data.get(type)) : null;
    }
    async setAccountData(type, content) {
        this.data.set(type, clone(content));
        return {};
    }
    toObject() {
        return Object.fromEntries(this.data);
    }
}

/** js-sdk secret storage whose getSecretStorageKey callback hands out the keys in `cache` (key id -> bytes). */
function secretStorage(accountData, cache) {
    return new ServerSideSecretStorageImpl(accountData, {
        getSecretStorageKey: async ({ keys }) => {
            for (const keyId of Object.keys(keys)) if (cache[keyId]) return [keyId, cache[keyId]];
            return null;
        },
    });
}

/** One account: a homeserver, its account data, the devices, the backup versions. */
class Account {
    constructor(userId = ALICE) {
        this.userId = userId;
        this.hs = new FakeHomeserver();
        this.ad = new AccountData();
        this.cache = {};
        this.ss = secretStorage(this.ad, this.cache);
        this.nextVersion = 1;
        this.backup = null; // the server's current version: {key, versionBody, body}
    }

    async device(deviceId) {
        return new Client(this.hs, this.userId, deviceId).init();
    }

    /**
     * RustCrypto.bootstrapSecretStorage's first step: createSecretStorageKey() (Element's
     * callback is createRecoveryKeyFromPassphrase) and addSecretStorageKeyToSecretStorage
     * (addKey + setDefaultKeyId). The new key is the only one the app has cached from now on.
     */
    async newSecretStorageKey(passphrase) {
        const generated = await RustCrypto.prototype.createRecoveryKeyFromPassphrase.call(
            { RECOVERY_KEY_DERIVATION_ITERATIONS: PHRASE_ITERATIONS }, passphrase);
        const { keyId } = await this.ss.addKey(SECRET_STORAGE_ALGORITHM_V1_AES, {
            passphrase: generated.keyInfo?.passphrase, name: generated.keyInfo?.name, key: generated.privateKey,
        });
        await this.ss.setDefaultKeyId(keyId);
        for (const k of Object.keys(this.cache)) delete this.cache[k];
        this.cache[keyId] = generated.privateKey;
        return { keyId, privateKey: generated.privateKey, securityKey: generated.encodedPrivateKey, passphrase: passphrase ?? null };
    }

    /** bootstrapSecretStorage's cross-signing step: exportCrossSigningKeys, then three store() calls. */
    async storeCrossSigning(client) {
        const x = await client.m.exportCrossSigningKeys();
        await this.ss.store("m.cross_signing.master", x.masterKey);
        await this.ss.store("m.cross_signing.user_signing", x.userSigningKey);
        await this.ss.store("m.cross_signing.self_signing", x.self_signing_key);
    }

    /**
     * RustBackupManager.setupKeyBackup: a new BackupDecryptionKey, auth_data signed by
     * RustCrypto.signObject (OlmMachine.sign: device key + master key), POST /room_keys/version
     * (replacing every older version). With `sessions`, the device also backs up that many new
     * megolm sessions (enableBackupV1 + backupRoomKeys), which become backup.json.
     */
    async setupKeyBackup(client, sessions = 0) {
        const key = W.BackupDecryptionKey.createRandomKey();
        const pub = key.megolmV1PublicKey;
        const authData = { public_key: pub.publicKeyBase64 };
        await signObject(client, authData);
        const version = String(this.nextVersion++);
        let body = null;
        let count = 0;
        if (sessions > 0) {
            await client.m.enableBackupV1(pub.publicKeyBase64, version);
            const rid = new W.RoomId("!kilo:example.org");
            for (let i = 0; i < sessions; i++) {
                const settings = new W.EncryptionSettings();
                await client.m.shareRoomKey(rid, [], settings);
                await client.m.encryptRoomEvent(rid, "m.room.message", JSON.stringify({ msgtype: "m.text", body: `msg ${i}` }));
                await client.m.invalidateGroupSession(rid);
            }
            body = { rooms: {} };
            for (;;) {
                const req = await client.m.backupRoomKeys();
                if (!req) break;
                for (const [room, r] of Object.entries(JSON.parse(req.body).rooms)) {
                    body.rooms[room] ??= { sessions: {} };
                    for (const [sid, kd] of Object.entries(r.sessions)) { body.rooms[room].sessions[sid] = kd; count++; }
                }
                await client.m.markRequestAsSent(req.id, req.type, JSON.stringify({ etag: String(count), count }));
            }
            await client.m.disableBackup();
        }
        // GET /room_keys/version: algorithm and auth_data as POSTed; version, count, etag are the server's.
        const versionBody = { algorithm: pub.algorithm, auth_data: authData, count, etag: String(count), version };
        this.backup = { key, versionBody, body };
        return this.backup;
    }

    /** RustCrypto.resetKeyBackup: setupKeyBackup, then store m.megolm_backup.v1 when 4S has an AES key. */
    async resetKeyBackup(client, sessions = 0) {
        const b = await this.setupKeyBackup(client, sessions);
        await this.ss.store("m.megolm_backup.v1", b.key.toBase64());
        return b;
    }

    /** DehydratedDeviceManager.resetKey: a DehydratedDeviceKey stored as org.matrix.msc3814. */
    async resetDehydrationKey() {
        const key = W.DehydratedDeviceKey.createRandomKey();
        await this.ss.store(DEHYDRATION, key.toBase64());
        return key.toBase64();
    }

    keysQuery(viewer = this.userId) {
        return this.hs.query(viewer, [this.userId]);
    }
}

/** matrix-js-sdk 43 RustCrypto.signObject, step for step. */
async function signObject(client, obj) {
    const sigs = new Map(Object.entries(obj.signatures || {}));
    const unsigned = obj.unsigned;
    delete obj.signatures;
    delete obj.unsigned;
    const userSignatures = sigs.get(client.userId) || {};
    const map = JSON.parse((await client.m.sign(anotherjson.stringify(obj))).asJSON());
    sigs.set(client.userId, { ...userSignatures, ...map[client.userId] });
    if (unsigned !== undefined) obj.unsigned = unsigned;
    obj.signatures = Object.fromEntries(sigs.entries());
}

/** A new account as Element Web sets it up: cross-signing, secret storage, key backup, all in sync. */
async function freshAccount({ passphrase, sessions = 0, dehydration = false } = {}) {
    const acc = new Account();
    const dev = await acc.device("ALICEDEVICE");
    await dev.bootstrapCrossSigning();
    const ssKey = await acc.newSecretStorageKey(passphrase);
    await acc.storeCrossSigning(dev);
    await acc.resetKeyBackup(dev, sessions);
    const dehydrationKey = dehydration ? await acc.resetDehydrationKey() : null;
    return { acc, dev, ssKey, dehydrationKey };
}

// ------------------------------------------------------------------ writing a state

class StateWriter {
    constructor(outDir) {
        this.outDir = outDir;
        this.states = [];
    }

    /**
     * s: {name, title, description, made_by, derived, acc, accountData?, versionBody?, keysQuery?,
     *     backupBody?, keys: {file: {...}}, runs: [[keyFile|null, "verdicts"]], expected, published}
     */
    async write(s) {
        const dir = path.join(this.outDir, s.name);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        const files = {};
        const put = (role, file, value, raw = false) => {
            if (value === undefined || value === null) return;
            if (raw) fs.writeFileSync(path.join(dir, file), value);
            else writeJson(path.join(dir, file), value);
            files[role] = file;
        };
        const acc = s.acc;
        put("account_data", "account_data.json", s.accountData ?? acc.ad.toObject(), typeof s.accountData === "string");
        put("backup_version", "backup_version.json", s.versionBody ?? acc.backup?.versionBody);
        put("keys_query", "keys_query.json", s.keysQuery ?? acc.keysQuery());
        if (s.backupBody !== false) put("backup", "backup.json", s.backupBody ?? acc.backup?.body);
        const keys = {};
        for (const [file, k] of Object.entries(s.keys ?? {})) {
            fs.writeFileSync(path.join(dir, file), k.text + "\n");
            keys[file] = k;
        }
        const runs = s.runs.map(([key, verdicts, comment]) => {
            const v = verdicts === "error" ? null : verdicts.split(/\s+/);
            if (v && v.length !== CHECK_IDS.length) throw new Error(`${s.name}: ${v.length} verdicts`);
            return { key, intended: v ? Object.fromEntries(CHECK_IDS.map((id, i) => [id, v[i]])) : null, error: v === null, comment };
        });
        this.states.push({
            name: s.name, title: s.title, description: s.description, user_id: s.userId ?? ALICE,
            made_by: s.made_by, derived: s.derived ?? null, files, keys, runs,
            expected: { ...(s.expected ?? {}), published_private_keys: s.published ?? null },
        });
    }
}

const ssKeyFile = (k, comment) => ({
    kind: "secret_storage_key", form: "security_key", text: k.securityKey, key_id: k.keyId,
    private_key: b64(k.privateKey), comment,
});
const phraseFile = (k, comment) => ({
    kind: "secret_storage_key", form: "passphrase", text: k.passphrase, key_id: k.keyId,
    private_key: b64(k.privateKey), iterations: PHRASE_ITERATIONS, comment,
});
const backupKeyFile = (key, comment) => ({
    kind: "backup_key", form: "recovery_key", text: encodeRecoveryKey(unb64(key.toBase64())),
    private_key: key.toBase64(), public_key: key.megolmV1PublicKey.publicKeyBase64, comment,
});

async function crossSigningExport(client) {
    const x = await client.m.exportCrossSigningKeys();
    return { "m.cross_signing.master": x.masterKey, "m.cross_signing.self_signing": x.self_signing_key, "m.cross_signing.user_signing": x.userSigningKey };
}

function publishedPublic(kq, user = ALICE) {
    const one = (o) => (o ? Object.values(o.keys)[0] : null);
    return {
        "m.cross_signing.master": one(kq.master_keys[user]),
        "m.cross_signing.self_signing": one(kq.self_signing_keys[user]),
        "m.cross_signing.user_signing": one(kq.user_signing_keys[user]),
    };
}

/** The expected section: what the generator put where. */
async function expectedOf(acc, { storedBackupKey, storedCrossSigning, dehydrationKey, extra = {} }) {
    const ad = acc.ad.toObject();
    const secrets = {};
    for (const [type, content] of Object.entries(ad)) {
        if (content && typeof content.encrypted === "object") secrets[type] = Object.keys(content.encrypted);
    }
    const kq = acc.keysQuery();
    return {
        default_key_id: ad["m.secret_storage.default_key"]?.key ?? null,
        key_ids: Object.keys(ad).filter((t) => t.startsWith("m.secret_storage.key.")).map((t) => t.slice(21)),
        secrets_encrypted_under: secrets,
        secret_values: {
            ...(storedCrossSigning ?? {}),
            ...(storedBackupKey ? { "m.megolm_backup.v1": storedBackupKey.toBase64() } : {}),
            ...(dehydrationKey ? { [DEHYDRATION]: dehydrationKey } : {}),
        },
        stored_backup_public_key: storedBackupKey?.megolmV1PublicKey.publicKeyBase64 ?? null,
        backup_version: acc.backup?.versionBody.version ?? null,
        backup_public_key: acc.backup?.versionBody.auth_data.public_key ?? null,
        backup_private_key: acc.backup?.key.toBase64() ?? null,
        backup_session_count: acc.backup?.body ? acc.backup.versionBody.count : null,
        published_cross_signing: publishedPublic(kq),
        ...extra,
    };
}

// ------------------------------------------------------------------ the states

async function generate(outDir, metaFile) {
    fs.mkdirSync(outDir, { recursive: true });
    const w = new StateWriter(outDir);
    const common = `${JSSDK} ServerSideSecretStorageImpl + ${WASM} OlmMachine (hs.mjs in-memory homeserver)`;
    const fresh = "bootstrapCrossSigning, then bootstrapSecretStorage's steps (createRecoveryKeyFromPassphrase, addKey, setDefaultKeyId, store the three cross-signing keys), then resetKeyBackup's (setupKeyBackup: BackupDecryptionKey.createRandomKey, auth_data signed by OlmMachine.sign as RustCrypto.signObject does; store m.megolm_backup.v1)";

    // 1. In sync, Security Key; dehydration key stored too; three sessions in the backup.
    const s1 = await freshAccount({ sessions: 3, dehydration: true });
    {
        const { acc, dev, ssKey, dehydrationKey } = s1;
        const cs = await crossSigningExport(dev);
        await w.write({
            name: "in-sync-security-key", acc,
            title: "in sync, Security Key",
            description: "A new account as Element Web sets it up with a Security Key: cross-signing, secret storage holding the three cross-signing keys, the backup key and a dehydrated-device key (DehydratedDeviceManager.resetKey), and a backup of three sessions whose public key matches the stored backup key.",
            made_by: `${common}: ${fresh}; DehydratedDeviceKey.createRandomKey stored as ${DEHYDRATION}; enableBackupV1 + backupRoomKeys for backup.json`,
            keys: {
                "recovery_key.txt": ssKeyFile(ssKey, "the Security Key"),
                "backup_key.txt": backupKeyFile(acc.backup.key, "the backup's own decryption key (what m.megolm_backup.v1 holds), recovery-key encoded"),
            },
            runs: [
                ["recovery_key.txt", "ok ok ok ok ok ok ok ok ok ok"],
                ["backup_key.txt", "ok skipped ok skipped ok skipped skipped ok skipped ok", "a backup key opens no secret storage: only the backup checks run"],
                [null, "ok skipped ok skipped skipped skipped skipped ok skipped skipped", "no key: only what can be seen without one"],
            ],
            expected: await expectedOf(acc, { storedBackupKey: acc.backup.key, storedCrossSigning: cs, dehydrationKey }),
            published: cs,
        });

        // Bad input derived from state 1's files.
        const ad = acc.ad.toObject();
        const base = { derived_from: "in-sync-security-key", default_key_id: ssKey.keyId };
        const bad = (name, title, description, derived, fields, runs, expected = {}) =>
            w.write({ name, acc, title, description, derived, made_by: `state in-sync-security-key (${common}), then edited`,
                backupBody: false, keys: { "recovery_key.txt": ssKeyFile(ssKey, "the Security Key") }, runs,
                expected: { ...base, ...expected }, published: cs, ...fields });

        await bad("bad-account-data-not-object", "malformed account data: not a JSON object",
            "account_data.json is a JSON string, neither {type: content} nor a list of events.",
            "account_data.json replaced by a JSON string",
            { accountData: JSON.stringify("m.secret_storage.default_key") + "\n" },
            [["recovery_key.txt", "error", "a one-line error naming the file; no checklist"]]);

        const shapes = clone(ad);
        shapes["m.megolm_backup.v1"] = { encrypted: "not an object" };
        shapes["m.cross_signing.master"] = { encrypted: { [ssKey.keyId]: { iv: 5, mac: null } } };
        await bad("bad-account-data-wrong-shapes", "malformed account data: wrong shapes",
            "State 1's account data with m.megolm_backup.v1's `encrypted` a string and m.cross_signing.master's encrypted entry holding a number iv, a null mac and no ciphertext.",
            "m.megolm_backup.v1 and m.cross_signing.master contents edited",
            { accountData: shapes },
            [["recovery_key.txt", "ok ok fail fail skipped fail skipped ok ok skipped"]],
            { malformed: ["m.megolm_backup.v1", "m.cross_signing.master"] });

        const unknown = clone(ad);
        unknown[`m.secret_storage.key.${ssKey.keyId}`].algorithm = "org.example.secret_storage.v9";
        await bad("bad-key-unknown-algorithm", "key description of an unknown algorithm",
            "The default key's description says algorithm org.example.secret_storage.v9 (iv, mac and the secrets unchanged).",
            "the default key description's algorithm replaced",
            { accountData: unknown },
            [["recovery_key.txt", "fail fail fail fail skipped fail skipped ok warn skipped", "the key opens nothing: the only description is of an unknown algorithm"]]);

        const vbody = clone(acc.backup.versionBody);
        vbody.algorithm = "org.example.megolm_backup.v9";
        await bad("bad-backup-version-algorithm", "backup version of an unknown algorithm",
            "backup_version.json says algorithm org.example.megolm_backup.v9; auth_data and its signatures unchanged.",
            "backup_version.json's algorithm replaced",
            { versionBody: vbody },
            [["recovery_key.txt", "ok ok ok ok fail ok ok fail ok skipped"]]);

        // keys_query.json for another user: Bob's own /keys/query answer.
        const bob = new Account(BOB);
        const bobDev = await bob.device("BOBDEVICE");
        await bobDev.bootstrapCrossSigning();
        await bad("bad-keys-query-other-user", "keys-query body for another user",
            "keys_query.json is @bob:example.org's /keys/query answer for himself (real wasm cross-signing keys), given for @alice:example.org.",
            "keys_query.json taken from another account (@bob:example.org, bootstrapped by its own OlmMachine)",
            { keysQuery: bob.keysQuery() },
            [["recovery_key.txt", "ok ok ok ok ok ok fail fail ok skipped"]],
            { keys_query_user: BOB });

        // Backup secret of the wrong length, encrypted properly by js-sdk's store() under the same key.
        const short = new Account();
        short.ad = new AccountData(ad);
        short.cache[ssKey.keyId] = ssKey.privateKey;
        short.ss = secretStorage(short.ad, short.cache);
        const b31 = b64(randomBytes(31));
        await short.ss.store("m.megolm_backup.v1", b31);
        await bad("bad-backup-secret-length", "backup key secret of 31 bytes",
            "m.megolm_backup.v1 holds 31 random bytes (42 characters of unpadded base64), encrypted by js-sdk's store() under the default key with a valid MAC; only the length is wrong.",
            "m.megolm_backup.v1 re-stored by ServerSideSecretStorageImpl.store with a 31-byte value",
            { accountData: short.ad.toObject() },
            [["recovery_key.txt", "ok ok ok fail skipped ok ok ok ok skipped"]],
            { short_backup_secret: b31 });
    }

    // 2. In sync, Security Phrase.
    {
        const { acc, dev, ssKey } = await freshAccount({ passphrase: "a bee stung the horse at 3 a.m." });
        const cs = await crossSigningExport(dev);
        await w.write({
            name: "in-sync-passphrase", acc, title: "in sync, Security Phrase",
            description: `Like in-sync-security-key but set up with a Security Phrase: the key description carries m.pbkdf2 passphrase info with ${PHRASE_ITERATIONS} iterations (js-sdk uses 500000; this generator sets the count so that tests stay fast) and no \`bits\`. No dehydration key, no backup.json.`,
            made_by: `${common}: ${fresh}; createRecoveryKeyFromPassphrase(phrase) called with RECOVERY_KEY_DERIVATION_ITERATIONS = ${PHRASE_ITERATIONS}`,
            keys: {
                "passphrase.txt": phraseFile(ssKey, "the Security Phrase"),
                "recovery_key.txt": ssKeyFile(ssKey, "the Security Key of the key derived from the phrase (encodedPrivateKey)"),
            },
            runs: [
                ["passphrase.txt", "ok ok ok ok ok ok ok ok skipped skipped"],
                ["recovery_key.txt", "ok ok ok ok ok ok ok ok skipped skipped"],
            ],
            expected: await expectedOf(acc, { storedBackupKey: acc.backup.key, storedCrossSigning: cs }),
            published: cs,
        });
    }

    // 3. Backup reset after secret storage was set up: the stored backup key is version 1's.
    {
        const { acc, dev, ssKey } = await freshAccount();
        const cs = await crossSigningExport(dev);
        const oldKey = acc.backup.key;
        // resetKeyBackup on the same device, whose last step (store) did not happen: the app could
        // not supply the secret-storage key (the user dismissed the prompt), after the new version
        // was already created. setupKeyBackup deleted version 1 first.
        await acc.setupKeyBackup(dev, 2);
        await w.write({
            name: "backup-reset", acc, title: "backup reset after secret storage (out of sync)",
            description: "Secret storage set up with backup version 1; then the backup was reset (version 2, new key, two sessions backed up) without updating secret storage, so m.megolm_backup.v1 still decrypts to version 1's key, whose public key differs from version 2's auth_data.public_key: Element's \"Your key storage is out of sync\".",
            made_by: `${common}: ${fresh}; then RustBackupManager.setupKeyBackup again (version 2, two sessions via enableBackupV1 + backupRoomKeys) without resetKeyBackup's final store()`,
            keys: {
                "recovery_key.txt": ssKeyFile(ssKey, "the Security Key"),
                "backup_key.txt": backupKeyFile(acc.backup.key, "the current (version 2) backup key, which secret storage does not hold"),
            },
            runs: [
                ["recovery_key.txt", "ok ok ok ok fail ok ok ok skipped fail", "the stored backup key opens no session of version 2"],
                ["backup_key.txt", "ok skipped ok skipped ok skipped skipped ok skipped ok"],
            ],
            expected: await expectedOf(acc, { storedBackupKey: oldKey, storedCrossSigning: cs }),
            published: cs,
        });
    }

    // 4. Secret storage reset; the backup is kept, and so is the old key description.
    {
        const { acc, dev, ssKey: oldSs } = await freshAccount();
        const cs = await crossSigningExport(dev);
        // bootstrapSecretStorage({setupNewSecretStorage: true}) on a device that has the cross-signing
        // keys and the current backup key cached: new key + default; the cross-signing keys are
        // stored again (isNewSecretStorageKeyNeeded); saveBackupKeyToStorage stores the backup key,
        // which matches the server's version. store() writes {encrypted: {newId: ...}}, replacing
        // the old encryption; the old key description is never deleted.
        const newSs = await acc.newSecretStorageKey();
        await acc.storeCrossSigning(dev);
        if (!decryptionKeyMatchesKeyBackupInfo(acc.backup.key, acc.backup.versionBody)) throw new Error("backup key mismatch");
        await acc.ss.store("m.megolm_backup.v1", acc.backup.key.toBase64());
        await w.write({
            name: "ssss-reset", acc, title: "secret storage reset, old backup kept",
            description: "Secret storage was reset (new Security Key, now the default) on a device that had the cross-signing keys and the backup key cached: js-sdk stores all four secrets again under the new key only, replacing the old encryptions; the old key description stays in account data. The backup version is unchanged.",
            made_by: `${common}: ${fresh}; then bootstrapSecretStorage({setupNewSecretStorage: true})'s steps: a second addKey + setDefaultKeyId, the three cross-signing store() calls, saveBackupKeyToStorage (decryptionKeyMatchesKeyBackupInfo, store m.megolm_backup.v1)`,
            keys: {
                "recovery_key.txt": ssKeyFile(newSs, "the new Security Key"),
                "old_recovery_key.txt": ssKeyFile(oldSs, "the Security Key from before the reset: its key description is still there, but nothing is encrypted under it"),
            },
            runs: [
                ["recovery_key.txt", "ok ok ok ok ok ok ok ok skipped skipped"],
                ["old_recovery_key.txt", "ok fail ok fail skipped fail skipped ok skipped skipped", "the old key opens its own (non-default) description and no secret"],
            ],
            expected: await expectedOf(acc, { storedBackupKey: acc.backup.key, storedCrossSigning: cs, extra: { old_key_id: oldSs.keyId } }),
            published: cs,
        });
    }

    // 5. Cross-signing reset from another device that did not update secret storage.
    {
        const { acc, dev, ssKey } = await freshAccount();
        const stored = await crossSigningExport(dev);
        const phone = await acc.device("ALICEPHONE");
        await phone.bootstrapCrossSigning();
        const published = await crossSigningExport(phone);
        await w.write({
            name: "cross-signing-reset", acc, title: "cross-signing reset (stored ≠ published)",
            description: "A second device (ALICEPHONE) reset cross-signing and published new keys without writing them to secret storage. Secret storage still holds the old private keys; keys_query.json shows the new ones. The backup's auth_data is signed by the old master key and by ALICEDEVICE, whose device keys carry only the old self-signing key's signature, so the backup is no longer trusted either.",
            made_by: `${common}: ${fresh}; then a second OlmMachine's bootstrapCrossSigning(true) with its upload requests sent, secret storage untouched (js-sdk's own resetCrossSigning would store the new keys first, or fail before publishing)`,
            keys: { "recovery_key.txt": ssKeyFile(ssKey, "the Security Key") },
            runs: [["recovery_key.txt", "ok ok ok ok ok ok fail fail skipped skipped"]],
            expected: await expectedOf(acc, { storedBackupKey: acc.backup.key, storedCrossSigning: stored }),
            published,
        });
    }

    // 6. Default key pointing to a missing key description.
    {
        const { acc, dev, ssKey } = await freshAccount();
        const cs = await crossSigningExport(dev);
        const missing = alnum(32);
        await acc.ss.setDefaultKeyId(missing);
        await w.write({
            name: "default-key-missing", acc, title: "default key points to a missing description",
            description: "m.secret_storage.default_key names a key id (js-sdk style, 32 alphanumerics) with no m.secret_storage.key.* event, as after a description was deleted by hand. The real key description and every secret under it are intact.",
            made_by: `${common}: ${fresh}; then ServerSideSecretStorageImpl.setDefaultKeyId(an id that was never added)`,
            keys: { "recovery_key.txt": ssKeyFile(ssKey, "the Security Key of the (non-default) key that holds every secret") },
            runs: [["recovery_key.txt", "fail warn fail ok ok ok ok ok skipped skipped", "the key opens a description, but not the default one (there is none)"]],
            expected: await expectedOf(acc, { storedBackupKey: acc.backup.key, storedCrossSigning: cs, extra: { missing_key_id: missing, real_key_id: ssKey.keyId } }),
            published: cs,
        });
    }

    // 7. Two keys, the backup key only under the old one.
    {
        const { acc, dev, ssKey: oldSs } = await freshAccount();
        const cs = await crossSigningExport(dev);
        // bootstrapSecretStorage({setupNewSecretStorage: true}) on a device that has the cross-signing
        // keys but not the backup key: saveBackupKeyToStorage returns early ("no backup key"), so
        // m.megolm_backup.v1 keeps its encryption under the old key only.
        const newSs = await acc.newSecretStorageKey();
        await acc.storeCrossSigning(dev);
        await w.write({
            name: "two-keys-split", acc, title: "two keys, some secrets only under the old one",
            description: "Secret storage reset on a device that had the cross-signing keys cached but not the backup key: the cross-signing keys are stored under the new default key only, m.megolm_backup.v1 stays encrypted under the old key only (js-sdk's saveBackupKeyToStorage skips it).",
            made_by: `${common}: ${fresh}; then bootstrapSecretStorage({setupNewSecretStorage: true})'s steps on a device with no cached backup key: addKey + setDefaultKeyId, the three cross-signing store() calls, no backup store()`,
            keys: {
                "recovery_key.txt": ssKeyFile(newSs, "the new (default) Security Key"),
                "old_recovery_key.txt": ssKeyFile(oldSs, "the old Security Key, under which only m.megolm_backup.v1 is left"),
            },
            runs: [
                ["recovery_key.txt", "ok ok warn fail skipped ok ok ok skipped skipped", "the backup key is not under the default key"],
                ["old_recovery_key.txt", "ok fail warn ok ok fail skipped ok skipped skipped", "the old key is not the default, yet it opens the backup key"],
            ],
            expected: await expectedOf(acc, { storedBackupKey: acc.backup.key, storedCrossSigning: cs, extra: { old_key_id: oldSs.keyId } }),
            published: cs,
        });
    }

    // 8. Key description without iv/mac (matrix-js-sdk 6 style), derived.
    {
        const { acc, dev, ssKey } = await freshAccount();
        const cs = await crossSigningExport(dev);
        const ad = acc.ad.toObject();
        delete ad[`m.secret_storage.key.${ssKey.keyId}`].iv;
        delete ad[`m.secret_storage.key.${ssKey.keyId}`].mac;
        const wrong = await RustCrypto.prototype.createRecoveryKeyFromPassphrase.call({});
        await w.write({
            name: "no-keycheck", acc, accountData: ad, title: "key description without iv/mac (js-sdk 6 style)",
            description: "A js-sdk 43 account whose key description had `iv` and `mac` deleted, as matrix-js-sdk 6 wrote them (its SecretStorage.addKey without a key); the key can only be checked by a secret's MAC. A random Security Key that fits nothing is given as the wrong key.",
            made_by: `${common}: ${fresh}`,
            derived: "iv and mac deleted from the js-sdk 43 key description (test-vectors/ssss/jssdk6-* has real js-sdk 6.0.0 output)",
            keys: {
                "recovery_key.txt": ssKeyFile(ssKey, "the Security Key"),
                "wrong_recovery_key.txt": { kind: "secret_storage_key", form: "security_key", text: wrong.encodedPrivateKey, key_id: null, private_key: b64(wrong.privateKey), comment: "a valid Security Key of another key (createRecoveryKeyFromPassphrase())" },
            },
            runs: [
                ["recovery_key.txt", "ok ok ok ok ok ok ok ok skipped skipped", "no key check in the description: a secret's MAC decides"],
                ["wrong_recovery_key.txt", "ok fail ok fail skipped fail skipped ok skipped skipped", "no secret's MAC verifies under the wrong key"],
            ],
            expected: await expectedOf(acc, { storedBackupKey: acc.backup.key, storedCrossSigning: cs }),
            published: cs,
        });
    }

    // 9. Backup signed by the master key only (trusted), and signed by nothing (untrusted); derived.
    for (const [name, edit, title, description, derived, verdicts] of [
        ["backup-signed-master", (ad) => { for (const k of Object.keys(ad.signatures[ALICE])) if (k === "ed25519:ALICEDEVICE") delete ad.signatures[ALICE][k]; },
            "backup signed by the master key only (trusted)",
            "auth_data carries only the master key's signature (js-sdk's signObject also adds the device's; it was removed), so trust rests on the published, matching master key.",
            "the ed25519:ALICEDEVICE signature deleted from auth_data.signatures", "ok ok ok ok ok ok ok ok skipped skipped"],
        ["backup-unsigned", (ad) => { delete ad.signatures; },
            "backup signed by nothing (untrusted)",
            "auth_data has no signatures at all; everything else is in sync, so the key still opens the backup, but no client trusts it.",
            "auth_data.signatures deleted", "ok ok ok ok ok ok ok fail skipped skipped"],
    ]) {
        const { acc, dev, ssKey } = await freshAccount();
        const cs = await crossSigningExport(dev);
        const vbody = clone(acc.backup.versionBody);
        edit(vbody.auth_data);
        await w.write({
            name, acc, versionBody: vbody, title, description, derived,
            made_by: `${common}: ${fresh}`,
            keys: { "recovery_key.txt": ssKeyFile(ssKey, "the Security Key") },
            runs: [["recovery_key.txt", verdicts]],
            expected: await expectedOf(acc, { storedBackupKey: acc.backup.key, storedCrossSigning: cs }),
            published: cs,
        });
    }

    // The account states first, in the order of issue #22, then the bad-input variants.
    const states = [...w.states.filter((s) => !s.name.startsWith("bad-")), ...w.states.filter((s) => s.name.startsWith("bad-"))];
    writeJson(metaFile, { jssdk: JSSDK, wasm: WASM, node: `Node ${process.versions.node}`, check_ids: CHECK_IDS, states });
    console.log(`${w.states.length} states written to ${outDir}`);
}

// ------------------------------------------------------------------ confirm (js-sdk + wasm facts)

/** What js-sdk and wasm find in one state for one held key; gen_account.py applies the verdict rules. */
async function factsFor(dir, state, run, held) {
    const f = { jssdk: {}, wasm: {} };
    let adObj;
    try {
        adObj = readJson(path.join(dir, state.files.account_data));
    } catch (e) {
        return { error: `account_data: ${e.message}` };
    }
    if (typeof adObj !== "object" || adObj === null || Array.isArray(adObj)) return { error: "account_data is not a JSON object" };
    const ad = new AccountData(adObj);
    const cache = {};
    const ss = secretStorage(ad, cache);

    // default_key: js-sdk getKey() (default id -> description) and secretStorageHasAESKey's test.
    const dflt = await ss.getKey().catch(() => null);
    f.jssdk.default_key_usable = !!dflt && typeof dflt[0] === "string" && dflt[1]?.algorithm === SECRET_STORAGE_ALGORITHM_V1_AES;
    f.jssdk.default_key_id = (await ss.getDefaultKeyId().catch(() => null)) ?? null;

    // The key bytes: decodeRecoveryKey or deriveRecoveryKeyFromPassphrase (with the default key's, or
    // the only description's, passphrase info).
    let keyBytes = null;
    if (held?.kind === "secret_storage_key") {
        if (held.form === "security_key") keyBytes = decodeRecoveryKey(held.text);
        else {
            const info = Object.entries(adObj).find(([t, c]) => t.startsWith("m.secret_storage.key.") && c?.passphrase)?.[1];
            keyBytes = await deriveRecoveryKeyFromPassphrase(held.text, info.passphrase.salt, info.passphrase.iterations, info.passphrase.bits);
        }
    }
    // key_check: checkKey on every AES description with a mac; for those without, get() of a secret
    // encrypted under it (js-sdk's checkKey says true for them whatever the key).
    const secretTypes = Object.entries(adObj).filter(([, c]) => c && typeof c === "object" && c.encrypted && typeof c.encrypted === "object" && !Array.isArray(c.encrypted)).map(([t]) => t);
    const opens = [];
    const decrypted = {};
    if (keyBytes) {
        for (const [type, info] of Object.entries(adObj)) {
            if (!type.startsWith("m.secret_storage.key.")) continue;
            const id = type.slice(21);
            if (info?.algorithm !== SECRET_STORAGE_ALGORITHM_V1_AES) continue;
            let ok;
            if (info.mac) ok = await ss.checkKey(keyBytes, info).catch(() => false);
            else {
                ok = false;
                for (const t of secretTypes.filter((t) => id in adObj[t].encrypted)) {
                    const only = secretStorage(new AccountData({ [type]: info, [t]: { encrypted: { [id]: adObj[t].encrypted[id] } } }), { [id]: keyBytes });
                    if (await only.get(t).then(() => true, () => false)) { ok = true; break; }
                }
            }
            if (ok) opens.push(id);
        }
        // secrets: get() each secret with only the opened keys available.
        for (const id of opens) cache[id] = keyBytes;
        for (const t of secretTypes) {
            const under = Object.keys(adObj[t].encrypted).filter((id) => opens.includes(id));
            if (under.length === 0) continue;
            try {
                decrypted[t] = { ok: true, value: await ss.get(t) };
            } catch (e) {
                decrypted[t] = { ok: false, error: String(e.message ?? e) };
            }
        }
    }
    f.jssdk.opens = opens.sort();
    // RustCrypto.getSecretStorageStatus's test: is the secret stored under the default key (isStored)?
    f.jssdk.under_default = {};
    for (const t of secretTypes) f.jssdk.under_default[t] = !!f.jssdk.default_key_id && f.jssdk.default_key_id in ((await ss.isStored(t).catch(() => null)) ?? {});
    f.jssdk.decrypted = decrypted;
    const len = (v) => (typeof v === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(v) ? Buffer.from(v, "base64").length : null);
    f.jssdk.secret_lengths = Object.fromEntries(Object.entries(decrypted).filter(([, d]) => d.ok).map(([t, d]) => [t, len(d.value)]));

    // The backup key: stored (if it decrypted) or held.
    let vbody = null;
    if (state.files.backup_version) vbody = readJson(path.join(dir, state.files.backup_version));
    let candidate = null;
    if (held?.kind === "backup_key") candidate = b64(decodeRecoveryKey(held.text));
    else if (decrypted["m.megolm_backup.v1"]?.ok && len(decrypted["m.megolm_backup.v1"].value) === 32) candidate = decrypted["m.megolm_backup.v1"].value;
    if (candidate) {
        const key = W.BackupDecryptionKey.fromBase64(candidate);
        f.wasm.candidate_public_key = key.megolmV1PublicKey.publicKeyBase64;
        if (vbody) f.jssdk.backup_key_matches = decryptionKeyMatchesKeyBackupInfo(key, vbody);
        if (state.files.backup) {
            const body = readJson(path.join(dir, state.files.backup));
            let ok = 0, bad = 0;
            for (const r of Object.values(body.rooms)) {
                for (const kd of Object.values(r.sessions)) {
                    const sd = kd.session_data;
                    try { JSON.parse(key.decryptV1(sd.ephemeral, sd.mac, sd.ciphertext)); ok++; } catch { bad++; }
                }
            }
            f.wasm.sessions = { ok, fail: bad };
        }
    }
    if (decrypted[DEHYDRATION]?.ok) {
        try { W.DehydratedDeviceKey.createKeyFromArray(unb64(decrypted[DEHYDRATION].value)); f.wasm.dehydration_key_valid = true; } catch { f.wasm.dehydration_key_valid = false; }
    }

    // Published identity: a fresh checker device of the user receives keys_query.json; importing
    // the stored private keys succeeds only if they are the published ones.
    if (state.files.keys_query) {
        const kq = readJson(path.join(dir, state.files.keys_query));
        const checker = async (label) => {
            const hs = new FakeHomeserver();
            hs.fixedQuery = kq;
            return new Client(hs, state.user_id, label).init();
        };
        const cs = CROSS_SIGNING.map((n) => decrypted[n]);
        if (cs.every((d) => d?.ok)) {
            const c = await checker("CHECKSTORED");
            try {
                const st = await c.m.importCrossSigningKeys(cs[0].value, cs[1].value, cs[2].value);
                f.wasm.stored_cross_signing_import = st.hasMaster && st.hasSelfSigning && st.hasUserSigning ? "ok" : "partial";
            } catch (e) {
                f.wasm.stored_cross_signing_import = `error: ${e.message ?? e}`;
            }
        }
        // backup trust relative to the published identity: the checker imports the private keys
        // that belong to it (generator knowledge) and runs verifyBackup.
        if (vbody && state.expected.published_private_keys) {
            const p = state.expected.published_private_keys;
            const c = await checker("CHECKTRUST");
            try {
                await c.m.importCrossSigningKeys(p["m.cross_signing.master"], p["m.cross_signing.self_signing"], p["m.cross_signing.user_signing"]);
                f.wasm.checker_identity = "imported";
            } catch (e) {
                f.wasm.checker_identity = `error: ${e.message ?? e}`;
            }
            const v = await c.m.verifyBackup(vbody);
            f.wasm.backup_trusted = v.trusted();
        }
    }
    return f;
}

async function confirm(outDir, factsFile) {
    const manifest = readJson(path.join(outDir, "manifest.json"));
    const out = { jssdk: JSSDK, wasm: WASM, states: {} };
    for (const state of manifest.states) {
        const dir = path.join(outDir, state.dir);
        const runs = [];
        for (const run of state.runs) {
            const held = run.key ? { ...state.keys[run.key], text: fs.readFileSync(path.join(dir, run.key), "utf8").trim() } : null;
            runs.push(await factsFor(dir, state, run, held));
        }
        out.states[state.name] = runs;
    }
    writeJson(factsFile, out);
    console.log(`js-sdk/wasm facts for ${manifest.states.length} states written to ${factsFile}`);
}

const [cmd, ...rest] = process.argv.slice(2);
const run = { generate: () => generate(...rest), confirm: () => confirm(...rest) }[cmd];
if (!run) {
    console.error("usage: see the header of gen_account.mjs");
    process.exit(2);
}
run().catch((e) => {
    console.error(`error: ${e.stack ?? e}`);
    process.exit(1);
});
