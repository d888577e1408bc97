// Do matrix-js-sdk 43 and @matrix-org/matrix-sdk-crypto-wasm 18.9 accept the repair bodies that
// `mxkeys doctor -o DIR` writes? The js-sdk/wasm half of test-vectors/interop/doctor.sh (the
// mautrix half is check_repairs.py). Each command reads one state of test-vectors/account (its
// files, its Security Key, and from ../manifest.json the user id and, for trust, the published
// identity's private keys, as gen_account.mjs's confirm does) plus one repair body, "uploads" it to
// an in-memory account-data store or backup-version list, and asks the libraries what a client
// would ask. On success: one line on stdout, exit 0. On a refusal: the reasons on stderr, exit 1.
//
//   node check_repairs.mjs store-backup-key STATE_DIR m.megolm_backup.v1.json
//        PUT /user/{user}/account_data/m.megolm_backup.v1 with the body; then js-sdk
//        ServerSideSecretStorageImpl.get("m.megolm_backup.v1"), with the Security Key accepted by
//        checkKey for the default key, must give exactly the key in STATE_DIR/backup_key.txt
//        (unpadded base64, as js-sdk stores it); RustCrypto.loadSessionBackupPrivateKeyFromSecretStorage
//        must accept it for the current backup version (backup_version.json), and
//        RustCrypto.getSecretStorageStatus must say ready (every secret under the default key).
//   node check_repairs.mjs version-trusted STATE_DIR new-backup-version.json
//        POST /room_keys/version with the body (the server adds version, count, etag); a fresh
//        OlmMachine of the user fed keys_query.json, with the published identity imported, runs
//        verifyBackup on it (through js-sdk's RustBackupManager.isKeyBackupTrusted): trusted.
//        Control: the same body with its signatures removed must not be trusted.
//   node check_repairs.mjs version-matches STATE_DIR new-backup-version.json
//        the backup key that js-sdk decrypts from the state's secret storage with the Security Key
//        must fit the new version: decryptionKeyMatchesKeyBackupInfo, RustBackupManager's
//        backupInfoMatchesBackupDecryptionKey (algorithm too), the wasm BackupDecryptionKey's
//        megolmV1PublicKey, and isKeyBackupTrusted(...).matchesDecryptionKey once the key is saved.
//   node check_repairs.mjs default-key STATE_DIR m.secret_storage.default_key.json
//        PUT m.secret_storage.default_key with the body; then js-sdk getDefaultKeyId and getKey find
//        a key description of the AES algorithm (RustCrypto.secretStorageHasAESKey), checkKey
//        accepts the Security Key for it, every secret decrypts with it (get), and
//        getSecretStorageStatus says ready.
import fs from "node:fs";
import path from "node:path";

import * as W from "@matrix-org/matrix-sdk-crypto-wasm";
import { ServerSideSecretStorageImpl, SECRET_STORAGE_ALGORITHM_V1_AES } from "matrix-js-sdk/lib/secret-storage.js";
import { RustCrypto } from "matrix-js-sdk/lib/rust-crypto/rust-crypto.js";
import { RustBackupManager, decryptionKeyMatchesKeyBackupInfo } from "matrix-js-sdk/lib/rust-crypto/backup.js";
import { decodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/index.js";
import { logger } from "matrix-js-sdk/lib/logger.js";

import { FakeHomeserver, Client } from "./hs.mjs";

logger.setLevel?.("silent");
await W.initAsync();

const BACKUP = "m.megolm_backup.v1";
const SECRETS = ["m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing", BACKUP];

const b64 = (u8) => Buffer.from(u8).toString("base64").replace(/=+$/, "");
const clone = (o) => JSON.parse(JSON.stringify(o));
const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
const readLine = (file) => fs.readFileSync(file, "utf8").trim();

/** The failures collected by one command; reported together. */
class Refusals {
    constructor() { this.list = []; }
    need(cond, why) { if (!cond) this.list.push(why); return !!cond; }
}

/** The homeserver's global account data in memory (js-sdk's AccountDataClient), as in gen_account.mjs. */
class AccountData {
    constructor(initial = {}) { this.data = new Map(Object.entries(clone(initial))); }
    async getAccountDataFromServer(type) { return this.data.has(type) ? clone(this.data.get(type)) : null; }
    async setAccountData(type, content) { this.data.set(type, clone(content)); return {}; }
    /** PUT /user/{userId}/account_data/{type}: the body replaces the event's content. */
    put(type, content) { this.data.set(type, clone(content)); }
}

/**
 * js-sdk secret storage whose getSecretStorageKey callback behaves like Element's: it offers the
 * held key for a key id only after checkKey accepts it against that id's description.
 */
function secretStorage(ad, keyBytes) {
    const ss = new ServerSideSecretStorageImpl(ad, {
        getSecretStorageKey: async ({ keys }) => {
            for (const [keyId, info] of Object.entries(keys)) {
                if (await ss.checkKey(keyBytes, info).catch(() => false)) return [keyId, keyBytes];
            }
            return null;
        },
    });
    return ss;
}

function loadState(stateDir) {
    const dir = path.resolve(stateDir);
    const manifest = readJson(path.join(dir, "..", "manifest.json"));
    const state = manifest.states.find((s) => s.dir === path.basename(dir));
    if (!state) throw new Error(`${dir}: not a state of ${path.join(dir, "..", "manifest.json")}`);
    const file = (role) => (state.files[role] ? path.join(dir, state.files[role]) : null);
    return {
        dir, state, userId: state.user_id,
        accountData: readJson(file("account_data")),
        backupVersion: file("backup_version") ? readJson(file("backup_version")) : null,
        keysQuery: file("keys_query") ? readJson(file("keys_query")) : null,
        securityKey: decodeRecoveryKey(readLine(path.join(dir, "recovery_key.txt"))),
        backupKeyFile: fs.existsSync(path.join(dir, "backup_key.txt")) ? readLine(path.join(dir, "backup_key.txt")) : null,
    };
}

/** RustCrypto.getSecretStorageStatus, run on `ss` with a backup active (so m.megolm_backup.v1 counts). */
async function secretStorageStatus(ss, activeVersion) {
    return RustCrypto.prototype.getSecretStorageStatus.call({
        secretStorage: ss,
        backupManager: { getActiveBackupVersion: async () => activeVersion },
    });
}

/** RustCrypto.loadSessionBackupPrivateKeyFromSecretStorage against `serverInfo`; returns the saved key's public key. */
async function loadBackupKeyFromSecretStorage(ss, serverInfo) {
    let saved = null;
    await RustCrypto.prototype.loadSessionBackupPrivateKeyFromSecretStorage.call({
        secretStorage: ss,
        backupManager: {
            getServerBackupInfo: async () => clone(serverInfo),
            saveBackupDecryptionKey: async (key, version) => { saved = { pub: key.megolmV1PublicKey.publicKeyBase64, version }; },
        },
    });
    return saved;
}

const errText = (e) => String(e?.message ?? e);

// ------------------------------------------------------------------ the commands

async function storeBackupKey(stateDir, repairFile) {
    const r = new Refusals();
    const st = loadState(stateDir);
    const body = readJson(repairFile);
    if (!st.backupKeyFile) throw new Error(`${st.dir}: no backup_key.txt`);
    const want = b64(decodeRecoveryKey(st.backupKeyFile));

    // Before: the state is out of sync (js-sdk refuses the stored key for the current version).
    const before = secretStorage(new AccountData(st.accountData), st.securityKey);
    const beforeLoad = await loadBackupKeyFromSecretStorage(before, st.backupVersion).then(() => "accepted", (e) => e.constructor.name);
    r.need(beforeLoad === "DecryptionKeyDoesNotMatchError",
        `control: before the repair loadSessionBackupPrivateKeyFromSecretStorage should refuse the stored key (DecryptionKeyDoesNotMatchError), got ${beforeLoad}`);

    const ad = new AccountData(st.accountData);
    ad.put(BACKUP, body);
    const ss = secretStorage(ad, st.securityKey);
    const dflt = await ss.getKey();
    r.need(dflt && await ss.checkKey(st.securityKey, dflt[1]), "checkKey refuses the Security Key for the default key");
    let got = null;
    try {
        got = await ss.get(BACKUP);
    } catch (e) {
        r.need(false, `ServerSideSecretStorageImpl.get("${BACKUP}") throws: ${errText(e)}`);
    }
    if (got !== null) {
        r.need(got === want, `get("${BACKUP}") gives ${JSON.stringify(got)}, backup_key.txt is ${want}`);
    }
    try {
        const saved = await loadBackupKeyFromSecretStorage(ss, st.backupVersion);
        r.need(saved?.version === st.backupVersion.version && saved.pub === st.backupVersion.auth_data.public_key,
            `loadSessionBackupPrivateKeyFromSecretStorage saved ${JSON.stringify(saved)}`);
    } catch (e) {
        r.need(false, `loadSessionBackupPrivateKeyFromSecretStorage refuses it for backup version ${st.backupVersion.version}: ${e.constructor.name}: ${errText(e)}`);
    }
    const status = await secretStorageStatus(ss, st.backupVersion.version);
    r.need(status.ready, `getSecretStorageStatus not ready: ${JSON.stringify(status)}`);
    return [r, `js-sdk get("${BACKUP}") with the Security Key = backup_key.txt; loadSessionBackupPrivateKeyFromSecretStorage accepts it for version ${st.backupVersion.version}; getSecretStorageStatus ready`];
}

/** A fresh OlmMachine of the user that trusts the published identity (keys_query.json + its private keys). */
async function checkerDevice(st, label) {
    const hs = new FakeHomeserver();
    hs.fixedQuery = st.keysQuery;
    const c = await new Client(hs, st.userId, label).init();
    const p = st.state.expected.published_private_keys;
    await c.m.importCrossSigningKeys(p["m.cross_signing.master"], p["m.cross_signing.self_signing"], p["m.cross_signing.user_signing"]);
    const status = await c.m.crossSigningStatus();
    if (!(status.hasMaster && status.hasSelfSigning && status.hasUserSigning)) throw new Error("the checker device did not take the published identity's keys");
    return c;
}

/** The GET /room_keys/version answer after POSTing `body`: the server adds version, count, etag. */
function posted(st, body) {
    const version = String(Number(st.backupVersion?.version ?? 0) + 1);
    return { ...clone(body), count: 0, etag: "0", version };
}

async function versionTrusted(stateDir, repairFile) {
    const r = new Refusals();
    const st = loadState(stateDir);
    const body = readJson(repairFile);
    const info = posted(st, body);
    const c = await checkerDevice(st, "CHECKREPAIR");
    const mgr = new RustBackupManager(logger, c.m, null, null);
    const v = await mgr.isKeyBackupTrusted(info);
    r.need(v.trusted, "OlmMachine.verifyBackup: not trusted");
    // Control: trust must come from the signatures, not from the checker.
    const unsigned = clone(info);
    delete unsigned.auth_data.signatures;
    r.need(!(await mgr.isKeyBackupTrusted(unsigned)).trusted, "control: verifyBackup also trusts the body without signatures");
    const master = Object.keys(st.keysQuery.master_keys[st.userId].keys)[0];
    const sigs = Object.keys(body.auth_data?.signatures?.[st.userId] ?? {});
    return [r, `wasm verifyBackup (RustBackupManager.isKeyBackupTrusted) on version ${info.version}: trusted, signed by ${sigs.join(", ")} (published master ${master}); unsigned control: untrusted`];
}

async function versionMatches(stateDir, repairFile) {
    const r = new Refusals();
    const st = loadState(stateDir);
    const body = readJson(repairFile);
    const info = posted(st, body);
    // The backup key currently in secret storage, as js-sdk reads it with the Security Key.
    const ss = secretStorage(new AccountData(st.accountData), st.securityKey);
    const stored = await ss.get(BACKUP);
    const expected = st.state.expected.secret_values?.[BACKUP];
    if (stored !== expected) throw new Error(`js-sdk reads ${stored} from secret storage, the manifest says ${expected}`);
    const key = W.BackupDecryptionKey.fromBase64(stored);
    r.need(body.algorithm === "m.megolm_backup.v1.curve25519-aes-sha2", `algorithm ${JSON.stringify(body.algorithm)}`);
    r.need(decryptionKeyMatchesKeyBackupInfo(key, info), `decryptionKeyMatchesKeyBackupInfo: false (auth_data.public_key ${info.auth_data?.public_key}, stored key's ${key.megolmV1PublicKey.publicKeyBase64})`);
    const c = await checkerDevice(st, "CHECKMATCH");
    const mgr = new RustBackupManager(logger, c.m, null, null);
    r.need(mgr.backupInfoMatchesBackupDecryptionKey(info, key), "RustBackupManager.backupInfoMatchesBackupDecryptionKey: false");
    await mgr.saveBackupDecryptionKey(key, info.version);
    r.need((await mgr.isKeyBackupTrusted(info)).matchesDecryptionKey, "isKeyBackupTrusted(...).matchesDecryptionKey: false");
    r.need(!(await mgr.isKeyBackupTrusted(st.backupVersion)).matchesDecryptionKey,
        `control: the stored key also matches the old version ${st.backupVersion.version} (the state is not out of sync)`);
    return [r, `the backup key js-sdk decrypts from secret storage (public ${key.megolmV1PublicKey.publicKeyBase64}) fits: decryptionKeyMatchesKeyBackupInfo, backupInfoMatchesBackupDecryptionKey, isKeyBackupTrusted.matchesDecryptionKey (control: not version ${st.backupVersion.version})`];
}

async function defaultKey(stateDir, repairFile) {
    const r = new Refusals();
    const st = loadState(stateDir);
    const body = readJson(repairFile);
    const beforeKey = await new ServerSideSecretStorageImpl(new AccountData(st.accountData), {}).getKey();
    r.need(beforeKey === null, `control: before the repair getKey() already finds ${JSON.stringify(beforeKey?.[0])}`);

    const ad = new AccountData(st.accountData);
    ad.put("m.secret_storage.default_key", body);
    const ss = secretStorage(ad, st.securityKey);
    const id = await ss.getDefaultKeyId();
    const k = await ss.getKey();
    if (!r.need(typeof id === "string" && k && k[0] === id, `getDefaultKeyId() = ${JSON.stringify(id)}, getKey() = ${JSON.stringify(k?.[0] ?? null)}`)) return [r, ""];
    const hasAES = await RustCrypto.prototype.secretStorageHasAESKey.call({ secretStorage: ss });
    r.need(hasAES && k[1].algorithm === SECRET_STORAGE_ALGORITHM_V1_AES, `secretStorageHasAESKey: ${hasAES} (algorithm ${k[1].algorithm})`);
    r.need(await ss.checkKey(st.securityKey, k[1]).catch(() => false), `checkKey refuses the Security Key for key ${id}`);
    const got = [];
    for (const name of SECRETS) {
        try {
            const v = await ss.get(name);
            if (r.need(v === st.state.expected.secret_values[name], `get("${name}") = ${v}, not the stored value`)) got.push(name);
        } catch (e) {
            r.need(false, `get("${name}") throws: ${errText(e)}`);
        }
    }
    const status = await secretStorageStatus(ss, st.backupVersion?.version ?? "1");
    r.need(status.ready, `getSecretStorageStatus not ready: ${JSON.stringify(status)}`);
    return [r, `js-sdk getDefaultKeyId/getKey -> ${id} (AES), checkKey accepts the Security Key, get() opens ${got.length} secrets, getSecretStorageStatus ready`];
}

const commands = { "store-backup-key": storeBackupKey, "version-trusted": versionTrusted, "version-matches": versionMatches, "default-key": defaultKey };
const [cmd, ...args] = process.argv.slice(2);
if (!commands[cmd] || args.length !== 2) {
    console.error("usage: node check_repairs.mjs store-backup-key|version-trusted|version-matches|default-key STATE_DIR REPAIR.json");
    process.exit(2);
}
try {
    const [r, summary] = await commands[cmd](...args);
    if (r.list.length) {
        for (const why of r.list) console.error(why);
        process.exit(1);
    }
    console.log(summary);
} catch (e) {
    console.error(`error: ${e.stack ?? e}`);
    process.exit(1);
}
