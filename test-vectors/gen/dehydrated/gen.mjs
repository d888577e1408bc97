// Makes test-vectors/dehydrated/ (MSC3814 dehydrated device, issue #26) with
// @matrix-org/matrix-sdk-crypto-wasm (devices, Olm/Megolm, dehydration, rehydration, bundles),
// matrix-js-sdk (secret storage holding the pickle key) and @matrix-org/olm (libolm, for the
// legacy org.matrix.msc3814.v1.olm device).
//
//   node gen.mjs OUTDIR     writes every vector and OUTDIR/manifest.json (README.md is kept)
//
// Not deterministic: every run makes new keys (the peers draw their own randomness), so every
// file changes; the manifest records what the proof run (a fresh wasm OlmMachine) got from them.
import fs from "node:fs";
import path from "node:path";

import { ServerSideSecretStorageImpl, SECRET_STORAGE_ALGORITHM_V1_AES } from "matrix-js-sdk/lib/secret-storage.js";
import { RustCrypto } from "matrix-js-sdk/lib/rust-crypto/rust-crypto.js";
import { decodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/index.js";
import { logger } from "matrix-js-sdk/lib/logger.js";

import {
  W, FakeHomeserver, Client, ALICE, BOB, WASM_VERSION, pkgVersion, writeJson, untrusted, shareSettings,
  roomKeyInfo, olmTypes, roomEvent, decryptAttachment, decryptAll,
} from "./common.mjs";
import { makeV1Device } from "./v1.mjs";

logger.setLevel?.("error");

const out = process.argv[2];
if (!out) {
  console.error("usage: node gen.mjs OUTDIR");
  process.exit(2);
}
fs.mkdirSync(path.join(out, "bundles"), { recursive: true });
const t0 = Date.now();

const ROOM_A = "!roomA:example.org";
const ROOM_B = "!roomB:example.org";
const ROOM_C = "!roomC:example.org";
const BUNDLE_URL = "mxc://example.org/bundleA";
const TS0 = 1765000000000;
const DEVICE_NAME = "Dehydrated device";

const hs = new FakeHomeserver();
const file = (name) => path.join(out, name);

// ---- 1. Alice: cross-signing, a dehydrated device, its key in secret storage -----------------
const alice = await new Client(hs, ALICE, "ALICEPHONE").init();
await alice.bootstrapCrossSigning(); // the dehydrated device's keys are signed by the self-signing key
const tablet = await new Client(hs, ALICE, "ALICETABLET").init();

const pickleKey = W.DehydratedDeviceKey.createRandomKey();
const pickleKeyB64 = pickleKey.toBase64();
const dehydrated = await alice.m.dehydratedDevices().create();
const put = JSON.parse((await dehydrated.keysForUpload(DEVICE_NAME, pickleKey)).body);
hs.putDehydratedDevice(ALICE, put);
const DD = put.device_id;
const ddCurve = put.device_keys.keys[`curve25519:${DD}`];

writeJson(file("put-request.json"), put);
writeJson(file("device.json"), { device_id: DD, device_data: put.device_data });
fs.writeFileSync(file("pickle-key.txt"), pickleKeyB64 + "\n");

// Secret storage as Element sets it up (matrix-js-sdk's ServerSideSecretStorageImpl): a Security
// Key made default, the cross-signing keys and the pickle key stored under it.
class AccountData {
  constructor() { this.data = new Map(); }
  async getAccountDataFromServer(type) { return this.data.has(type) ? structuredClone(this.data.get(type)) : null; }
  async setAccountData(type, content) { this.data.set(type, structuredClone(content)); return {}; }
  toObject() { return Object.fromEntries(this.data); }
}
const securityKey = await RustCrypto.prototype.createRecoveryKeyFromPassphrase.call({}, undefined);
const cs = await alice.m.exportCrossSigningKeys();
async function accountData(secretName) {
  const ad = new AccountData();
  const cache = {};
  const ss = new ServerSideSecretStorageImpl(ad, {
    getSecretStorageKey: async ({ keys }) => {
      const id = Object.keys(keys).find((k) => cache[k]);
      return id ? [id, cache[id]] : null;
    },
  });
  const { keyId } = await ss.addKey(SECRET_STORAGE_ALGORITHM_V1_AES, { key: securityKey.privateKey });
  await ss.setDefaultKeyId(keyId);
  cache[keyId] = securityKey.privateKey;
  await ss.store("m.cross_signing.master", cs.masterKey);
  await ss.store("m.cross_signing.self_signing", cs.self_signing_key);
  await ss.store("m.cross_signing.user_signing", cs.userSigningKey);
  await ss.store(secretName, pickleKeyB64);
  // read back with the Security Key as the user types it
  const typed = decodeRecoveryKey(securityKey.encodedPrivateKey);
  cache[keyId] = typed;
  if ((await ss.get(secretName)) !== pickleKeyB64) throw new Error("secret storage round trip failed");
  return { data: ad.toObject(), keyId };
}
const adUnstable = await accountData("org.matrix.msc3814");
const adStable = await accountData("m.dehydrated_device");
writeJson(file("account-data.json"), adUnstable.data);
writeJson(file("account-data-stable-name.json"), adStable.data);
fs.writeFileSync(file("security-key.txt"), securityKey.encodedPrivateKey + "\n");

// ---- 2./3. Bob shares room keys with all of Alice's devices, encrypts messages ---------------
const bob = await new Client(hs, BOB, "BOBLAPTOP").init();
await bob.bootstrapCrossSigning();
await bob.prepareSessions([ALICE]);
const bobClaim = hs.claimLog.find((c) => c.claimer === BOB && c.device === DD);

const labels = []; // what each event in the dehydrated device's inbox is
const inboxDD = () => hs.inbox[ALICE]?.[DD] ?? [];
const inboxTablet = () => hs.inbox[ALICE]?.ALICETABLET ?? [];
function label(from, what) {
  const evs = inboxDD();
  for (let i = from; i < evs.length; i++) labels[i] = what;
}

async function share(client, room, users, visibility) {
  const reqs = await client.m.shareRoomKey(new W.RoomId(room), users.map((u) => new W.UserId(u)), shareSettings(visibility));
  for (const r of reqs) await client.send(r);
}

const roomEvents = [];
let evCounter = 0;
async function say(client, room, body) {
  const content = JSON.parse(await client.m.encryptRoomEvent(new W.RoomId(room), "m.room.message", JSON.stringify({ msgtype: "m.text", body })));
  evCounter++;
  const tag = room.slice(1, room.indexOf(":"));
  roomEvents.push(roomEvent(room, client.userId, content, `$dehydrated-${tag}-${String(evCounter).padStart(2, "0")}`, TS0 + evCounter * 1000));
}

let n = inboxDD().length;
const nTablet0 = inboxTablet().length;
await share(bob, ROOM_A, [ALICE]);
label(n, { carries: "m.room_key", room_id: ROOM_A, session: "A1" });
const tabletEvent = inboxTablet()[nTablet0]; // the same room key, encrypted for ALICETABLET
await say(bob, ROOM_A, "A1 first message");
await say(bob, ROOM_A, "A1 second message");

n = inboxDD().length;
await share(bob, ROOM_B, [ALICE]);
label(n, { carries: "m.room_key", room_id: ROOM_B, session: "B1" });
await say(bob, ROOM_B, "B1 first message");
await say(bob, ROOM_B, "B1 second message");

await bob.m.invalidateGroupSession(new W.RoomId(ROOM_A)); // rotation: a second session in roomA
n = inboxDD().length;
await share(bob, ROOM_A, [ALICE]);
label(n, { carries: "m.room_key", room_id: ROOM_A, session: "A2" });
await say(bob, ROOM_A, "A2 first message after rotation");
await say(bob, ROOM_A, "A2 second message after rotation");
await say(bob, ROOM_A, "A2 third message after rotation");

// ---- 4. Bob's room key bundle for roomA, shared with Alice -----------------------------------
const attachment = await bob.m.buildRoomKeyBundle(new W.RoomId(ROOM_A));
if (!attachment) throw new Error("buildRoomKeyBundle gave nothing");
const bundleInfo = JSON.parse(attachment.mediaEncryptionInfo);
const bundleBlob = Buffer.from(attachment.encryptedData);
n = inboxDD().length;
{
  const reqs = await bob.m.shareRoomKeyBundleData(new W.UserId(ALICE), new W.RoomId(ROOM_A), BUNDLE_URL,
    attachment.mediaEncryptionInfo, W.CollectStrategy.allDevices());
  for (const r of reqs) await bob.send(r);
}
label(n, { carries: "m.room_key_bundle", room_id: ROOM_A, url: BUNDLE_URL });
fs.writeFileSync(file("bundles/bundleA"), bundleBlob);
writeJson(file("bundles/bundleA.info.json"), bundleInfo);
const bundlePlain = JSON.parse(decryptAttachment(bundleBlob, bundleInfo).toString("utf8"));
writeJson(file("bundles/bundleA.plaintext.json"), bundlePlain);

// ---- 5. OTK replay: a second Bob device is handed the one-time key BOBLAPTOP already used ----
const bob2 = await new Client(hs, BOB, "BOBDESKTOP").init();
hs.replayNextClaim = { user: ALICE, device: DD };
await bob2.prepareSessions([ALICE]);
const bob2Claim = hs.claimLog.find((c) => c.claimer === BOB && c.device === DD && c !== bobClaim && hs.claimLog.indexOf(c) > hs.claimLog.indexOf(bobClaim));
if (bob2Claim.keyId !== bobClaim.keyId) throw new Error("replay claim did not replay");
n = inboxDD().length;
await share(bob2, ROOM_C, [ALICE]);
label(n, { carries: "m.room_key", room_id: ROOM_C, session: "C1", note: "pre-key message on the already-used one-time key" });
await say(bob2, ROOM_C, "C1 message (its key only came in the OTK-replay event)");

// What the events carry, decrypted by Alice's live ALICEPHONE (which got the same messages, each
// encrypted for it): the shapes of the m.room_key and m.room_key_bundle plaintexts.
const phoneSync = await alice.sync();
const decryptedShapes = {};
for (const p of phoneSync.out) {
  if (p.type !== W.ProcessedToDeviceEventType.Decrypted) continue;
  const ev = JSON.parse(p.rawEvent);
  if (decryptedShapes[ev.type]) continue;
  const redact = (c) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, k === "session_key" ? "<redacted: base64 megolm session key>" : v]));
  decryptedShapes[ev.type] = { content: redact(ev.content), content_fields: Object.keys(ev.content).sort() };
}
if (!decryptedShapes["m.room_key_bundle"]) throw new Error("ALICEPHONE did not decrypt an m.room_key_bundle");

// ---- 6. The events endpoint pages ------------------------------------------------------------
const ddEvents = inboxDD().map((e, i) => ({ ...e, _label: labels[i] }));
const pick = (pred) => {
  const e = ddEvents.find(pred);
  if (!e) throw new Error("missing event");
  return e;
};
const eA1 = pick((e) => e._label.session === "A1");
const eB1 = pick((e) => e._label.session === "B1");
const eA2 = pick((e) => e._label.session === "A2");
const eBundle = pick((e) => e._label.carries === "m.room_key_bundle");
const eC1 = pick((e) => e._label.session === "C1");
const strip = ({ _label, ...e }) => e;
const NB1 = "s72595_4483_1934";
const NB2 = "s72603_4491_1934";

const page1 = [eA1, eB1, tabletEvent].map((e) => (e._label ? strip(e) : e));
const page2 = [eB1, eA2, eBundle].map(strip);
writeJson(file("events-page1.json"), { events: page1, next_batch: NB1 });
writeJson(file("events-page2.json"), { events: page2, next_batch: NB2 });
writeJson(file("events-page3.json"), { events: [], next_batch: NB2 });
writeJson(file("events-otk-replay.json"), { events: [strip(eA1), strip(eC1)], next_batch: "s1_otk_replay" });
const mainRoomEvents = roomEvents.filter((e) => e.room_id !== ROOM_C);
writeJson(file("room-events.json"), mainRoomEvents);
writeJson(file("room-events-otk-replay.json"), roomEvents.filter((e) => e.room_id === ROOM_C));

const typeOf = (e) => olmTypes(e)[ddCurve];
const eventTable = [
  { page: 1, index: 0, what: "pre-key", olm_type: typeOf(eA1), ...eA1._label },
  { page: 1, index: 1, what: "pre-key", olm_type: typeOf(eB1), ...eB1._label },
  { page: 1, index: 2, what: "for another device", olm_type: null, for_device: "ALICETABLET",
    recipient_keys: Object.keys(olmTypes(tabletEvent)), carries: "m.room_key", room_id: ROOM_A, session: "A1",
    note: "its ciphertext map has only ALICETABLET's curve25519 key: nothing for the dehydrated device" },
  { page: 2, index: 0, what: "duplicate", olm_type: typeOf(eB1), ...eB1._label, note: "the same event as page 1 index 1, delivered again" },
  { page: 2, index: 1, what: "pre-key", olm_type: typeOf(eA2), ...eA2._label },
  { page: 2, index: 2, what: "bundle", olm_type: typeOf(eBundle), ...eBundle._label },
];

// ---- 7. The proof: a fresh Alice machine rehydrates and receives the pages -------------------
async function rehydrateAndReceive(deviceData, pages, keyB64 = pickleKeyB64, deviceId = DD) {
  const m = await W.OlmMachine.initialize(new W.UserId(ALICE), new W.DeviceId("ALICENEW"));
  const key = W.DehydratedDeviceKey.createKeyFromArray(Uint8Array.from(Buffer.from(keyB64, "base64")));
  const rehydrated = await m.dehydratedDevices().rehydrate(key, new W.DeviceId(deviceId), JSON.stringify(deviceData));
  const perPage = [];
  for (const p of pages) perPage.push((await rehydrated.receiveEvents(JSON.stringify(p.events), untrusted())).map(roomKeyInfo));
  return { m, perPage };
}
const proof = await rehydrateAndReceive(put.device_data, [{ events: page1 }, { events: page2 }, { events: [] }]);
const received = proof.perPage.flat();
const exported = JSON.parse(await proof.m.exportRoomKeys(() => true));
writeJson(file("expected-sessions.json"), exported);
const dec = await decryptAll(proof.m, mainRoomEvents);
if (dec.ok !== dec.total) throw new Error(`proof: only ${dec.ok}/${dec.total} room events decrypt: ${JSON.stringify(dec.lines)}`);
// session names (A1, A2, B1, C1) by order of first use in the timeline
const sessionsInOrder = (room) => [...new Set(roomEvents.filter((e) => e.room_id === room).map((e) => e.content.session_id))];
const names = { A1: sessionsInOrder(ROOM_A)[0], A2: sessionsInOrder(ROOM_A)[1], B1: sessionsInOrder(ROOM_B)[0], C1: sessionsInOrder(ROOM_C)[0] };

// OTK replay proof: the first pre-key message opens A1; the second (same OTK, other base key) fails.
const replay = await rehydrateAndReceive(put.device_data, [readJsonFile("events-otk-replay.json")]);
const replayGot = replay.perPage.flat().map((k) => k.session_id);
if (!replayGot.includes(names.A1) || replayGot.includes(names.C1)) throw new Error(`OTK replay proof unexpected: ${replayGot}`);
// alone, the BOBDESKTOP event does open C1 (the key was still there): shows the failure is the replay
const replayAlone = await rehydrateAndReceive(put.device_data, [{ events: [strip(eC1)] }]);
if (!replayAlone.perPage.flat().some((k) => k.session_id === names.C1)) throw new Error("C1 alone should open");

function readJsonFile(name) { return JSON.parse(fs.readFileSync(file(name), "utf8")); }

// ---- 8. Bad inputs ---------------------------------------------------------------------------
const wrongKey = W.DehydratedDeviceKey.createRandomKey().toBase64();
fs.writeFileSync(file("device-wrong-key.txt"), wrongKey + "\n");
writeJson(file("device-unknown-version.json"), { device_id: DD, device_data: { ...put.device_data, algorithm: "org.matrix.msc3814.v9" } });
const pickle = put.device_data.device_pickle;
writeJson(file("device-truncated.json"), { device_id: DD, device_data: { ...put.device_data, device_pickle: pickle.slice(0, Math.floor(pickle.length / 8) * 4) } });
async function failure(deviceData, keyB64) {
  try {
    await rehydrateAndReceive(deviceData, [], keyB64);
    return null;
  } catch (e) {
    return String(e?.message ?? e);
  }
}
const bad = {
  "device-wrong-key.txt": await failure(put.device_data, wrongKey),
  "device-unknown-version.json": await failure(readJsonFile("device-unknown-version.json").device_data),
  "device-truncated.json": await failure(readJsonFile("device-truncated.json").device_data),
};
for (const [f, err] of Object.entries(bad)) if (!err) throw new Error(`${f}: wasm rehydrated it`);

// ---- 9. Legacy v1 device (libolm pickle) -----------------------------------------------------
const v1 = await makeV1Device({ hs, W, file, alice, bob, rehydrateAndReceive, ROOM: "!roomV1:example.org", TS0 });

// ---- manifest --------------------------------------------------------------------------------
const expectedByRoom = {};
for (const k of received) (expectedByRoom[k.room_id] ??= []).push(k.session_id);
const manifest = {
  issue: 26,
  scenario:
    "MSC3814 dehydrated device (v2, org.matrix.msc3814.v2). Alice (ALICEPHONE, cross-signing bootstrapped) creates a dehydrated device " +
    "with a random DehydratedDeviceKey (pickle-key.txt) kept in secret storage (account-data.json under org.matrix.msc3814, opened by " +
    "security-key.txt). Bob (BOBLAPTOP, cross-signed) queries Alice's keys (the dehydrated device is cross-signed by her self-signing key), " +
    "claims one of its one-time keys, shares room keys for !roomA (twice: rotated) and !roomB with all of Alice's devices (CollectStrategy.allDevices), " +
    "encrypts messages (room-events.json), then builds an MSC4268 room key bundle for !roomA (bundles/bundleA) and sends its m.room_key_bundle to Alice. " +
    "The dehydrated device's to-device events are split into events-page1..3.json as POST /dehydrated_device/{id}/events returns them. " +
    "A fresh wasm OlmMachine (ALICENEW) rehydrated the device and received the pages: it got exactly `expected_sessions` and then decrypted every event of room-events.json.",
  made_by: {
    "@matrix-org/matrix-sdk-crypto-wasm": WASM_VERSION,
    "matrix-js-sdk": pkgVersion("matrix-js-sdk"),
    "@matrix-org/olm": pkgVersion("@matrix-org/olm"),
    generator: "test-vectors/gen/dehydrated/gen.mjs (run.sh)",
  },
  user_id: ALICE,
  device_id: DD,
  dehydrated_device_curve25519: ddCurve,
  device_data_algorithm: put.device_data.algorithm,
  device_data_fields: Object.keys(put.device_data).sort(),
  pickle_key_b64: pickleKeyB64,
  secret_storage: {
    security_key_file: "security-key.txt",
    default_key_id: adUnstable.keyId,
    files: {
      "account-data.json": { secret_name: "org.matrix.msc3814", key_id: adUnstable.keyId, also_stored: ["m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing"] },
      "account-data-stable-name.json": { secret_name: "m.dehydrated_device", key_id: adStable.keyId, note: "same Security Key, same pickle key, stored under the stable (MSC) name; Element/js-sdk 43 uses org.matrix.msc3814" },
    },
    secret_value: "the pickle key as DehydratedDeviceKey.toBase64() gives it (unpadded base64 of 32 bytes), exactly pickle-key.txt's line",
  },
  files: {
    "device.json": "GET /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device response: {device_id, device_data} (device_data as uploaded)",
    "put-request.json": "the PUT /dehydrated_device body from DehydratedDevice.keysForUpload: device_id, device_data, device_keys, one_time_keys (50), fallback_keys, initial_device_display_name",
    "pickle-key.txt": "the DehydratedDeviceKey, unpadded base64 (one line)",
    "account-data.json": "Alice's global account data {type: content}: m.secret_storage.default_key, m.secret_storage.key.ID, the 3 cross-signing secrets, org.matrix.msc3814",
    "account-data-stable-name.json": "the same with the pickle key under m.dehydrated_device instead of org.matrix.msc3814",
    "security-key.txt": "the Security Key opening both account-data files",
    "events-page1.json": "first events page, next_batch = NB1",
    "events-page2.json": "second page (requested with NB1), next_batch = NB2",
    "events-page3.json": "third page (requested with NB2): no events, the end (MSC3814: an empty events array signals that everything was received); next_batch repeats NB2",
    "room-events.json": "the m.room.encrypted timeline events of !roomA and !roomB (as /messages returns them)",
    "expected-sessions.json": "room keys of the proof machine after rehydration (OlmMachine.exportRoomKeys, the key-export JSON array)",
    "bundles/bundleA": "the MSC4268 bundle blob Bob uploaded (file named by the mxc media id of its url)",
    "bundles/bundleA.info.json": "its encryption info (EncryptedAttachment.mediaEncryptionInfo; what shareRoomKeyBundleData got), also inside the m.room_key_bundle event's `file`",
    "bundles/bundleA.plaintext.json": "the decrypted bundle (our own AES-CTR check of the blob): {room_keys, withheld}",
    "events-otk-replay.json": "bad input: an events page [A1 pre-key from BOBLAPTOP, C1 pre-key from BOBDESKTOP on the same one-time key]",
    "room-events-otk-replay.json": "the !roomC event whose key only the replayed pre-key message carries (must stay undecryptable)",
    "device-wrong-key.txt": "bad input: another random pickle key for device.json",
    "device-unknown-version.json": "bad input: device.json with algorithm org.matrix.msc3814.v9",
    "device-truncated.json": "bad input: device.json with device_pickle cut to a multiple of 4 characters near half its length (still valid base64)",
    ...v1.files,
  },
  events: eventTable,
  session_names: names,
  expected_sessions: received,
  expected_session_ids_by_room: expectedByRoom,
  room_events: { count: mainRoomEvents.length, decrypted_by_proof: dec.ok },
  bundle: {
    url: BUNDLE_URL,
    media_id: "bundleA",
    room_id: ROOM_A,
    room_keys: bundlePlain.room_keys.map((k) => k.session_id),
    withheld: bundlePlain.withheld.map((w) => ({ session_id: w.session_id, code: w.code })),
    note: "the rehydrated wasm device keeps m.room_key_bundle to itself (receiveEvents returns only m.room_key sessions); the bundle holds the same A1/A2 keys as Bob's own exports",
  },
  decrypted_to_device_shapes: {
    note: "the plaintext content of each to-device type as Alice's live ALICEPHONE decrypted it (the dehydrated device's copies carry the same content, encrypted for its key)",
    ...decryptedShapes,
  },
  bad_inputs: [
    { file: "device-wrong-key.txt", with: "device.json", expect: "error: the pickle key does not open the device (wrong key)", wasm_error: bad["device-wrong-key.txt"] },
    { file: "device-unknown-version.json", with: "pickle-key.txt", expect: "error: unsupported device_data algorithm org.matrix.msc3814.v9", wasm_error: bad["device-unknown-version.json"] },
    { file: "device-truncated.json", with: "pickle-key.txt", expect: "error: device_pickle does not decrypt (truncated)", wasm_error: bad["device-truncated.json"] },
    {
      file: "events-otk-replay.json",
      with: "device.json + pickle-key.txt",
      expect: `the first event gives A1 (${names.A1}); the second (BOBDESKTOP, pre-key on one-time key ${bobClaim.keyId} which A1's message already used) must not decrypt: C1 (${names.C1}) is not imported, room-events-otk-replay.json stays undecryptable. Not a fatal error: the other events still count`,
      wasm_got: replayGot,
      wasm_got_from_the_second_event_alone: replayAlone.perPage.flat().map((k) => k.session_id),
      replayed_one_time_key: bobClaim.keyId,
    },
  ],
  v1: v1.manifest,
  generator_seconds: null,
};
manifest.generator_seconds = Math.round((Date.now() - t0) / 100) / 10;
writeJson(file("manifest.json"), manifest);
console.log(`dehydrated: ${received.length} sessions via rehydration, ${dec.ok}/${dec.total} room events decrypt, ${manifest.generator_seconds} s`);
