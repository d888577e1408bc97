// Makes test-vectors/bundle/ (MSC4268 room key bundles, issue #26) with
// @matrix-org/matrix-sdk-crypto-wasm; shares the fake homeserver and helpers of ../dehydrated/.
//
//   node gen.mjs OUTDIR     writes every vector and OUTDIR/manifest.json (README.md is kept)
//
// Bob has four sessions in !history:example.org: two of his own made while the room's history
// was shared (their keys go into the bundle), one of his own made while it was `joined` (withheld:
// m.history_not_shared), and one Carol shared with him. He builds the bundle
// (OlmMachine.buildRoomKeyBundle), "uploads" it and sends Alice the m.room_key_bundle to-device
// message (shareRoomKeyBundleData). The proof: Alice's machine receives that message, accepts
// the blob (getReceivedRoomKeyBundleData + receiveRoomKeyBundle) and decrypts room-events.json;
// another of her devices rejects bundle-tampered.bin. Not deterministic (new keys every run).
import fs from "node:fs";
import path from "node:path";

import {
  W, FakeHomeserver, Client, ALICE, BOB, WASM_VERSION, writeJson, shareSettings, roomEvent, decryptAttachment, decryptAll,
} from "../dehydrated/common.mjs";

const out = process.argv[2];
if (!out) {
  console.error("usage: node gen.mjs OUTDIR");
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });
const t0 = Date.now();
const file = (name) => path.join(out, name);

const CAROL = "@carol:example.org";
const ROOM = "!history:example.org";
const URL = "mxc://example.org/bundleHistory";
const TS0 = 1766000000000;

const hs = new FakeHomeserver();
const bob = await new Client(hs, BOB, "BOBLAPTOP").init();
await bob.bootstrapCrossSigning(); // Alice checks that the bundle's sender device is cross-signed
const carol = await new Client(hs, CAROL, "CAROLPHONE").init();
const alice = await new Client(hs, ALICE, "ALICEPHONE").init();
await alice.bootstrapCrossSigning();
const tablet = await new Client(hs, ALICE, "ALICETABLET").init();
// ALICETABLET cross-signed by Alice (Device.verify on her own device): wasm sends bundle data only
// to devices their owner has cross-signed.
await alice.m.markAllTrackedUsersAsDirty();
await alice.processOutgoing();
await alice.send(await (await alice.m.getDevice(new W.UserId(ALICE), new W.DeviceId("ALICETABLET"))).verify());

const roomEvents = [];
const sessionOf = {}; // name -> session id
async function share(client, users, visibility) {
  const reqs = await client.m.shareRoomKey(new W.RoomId(ROOM), users.map((u) => new W.UserId(u)), shareSettings(visibility));
  for (const r of reqs) await client.send(r);
}
async function say(client, name, body) {
  const content = JSON.parse(await client.m.encryptRoomEvent(new W.RoomId(ROOM), "m.room.message", JSON.stringify({ msgtype: "m.text", body })));
  sessionOf[name] = content.session_id;
  roomEvents.push({ name, ev: roomEvent(ROOM, client.userId, content, `$bundle-${String(roomEvents.length + 1).padStart(2, "0")}`, TS0 + roomEvents.length * 1000) });
}
const rotate = (client) => client.m.invalidateGroupSession(new W.RoomId(ROOM));

// Bob's own sessions; he is alone in the room (Alice is invited later), so no to-device messages.
await share(bob, [BOB], W.HistoryVisibility.Shared);
await say(bob, "S1", "S1: history shared, first");
await say(bob, "S1", "S1: history shared, second");
await rotate(bob);
await share(bob, [BOB], W.HistoryVisibility.Joined);
await say(bob, "S2", "S2: sent while history_visibility was joined");
await rotate(bob);
await share(bob, [BOB], W.HistoryVisibility.Shared);
await say(bob, "S3", "S3: history shared again, first");
await say(bob, "S3", "S3: history shared again, second");

// Carol's session, shared with Bob over Olm (history shared).
await carol.prepareSessions([BOB]);
await share(carol, [BOB], W.HistoryVisibility.Shared);
await say(carol, "C1", "C1: Carol's message (her session, passed on in Bob's bundle)");
await bob.sync();

// The bundle.
const attachment = await bob.m.buildRoomKeyBundle(new W.RoomId(ROOM));
if (!attachment) throw new Error("no bundle");
const infoJson = attachment.mediaEncryptionInfo;
const info = JSON.parse(infoJson);
const blob = Buffer.from(attachment.encryptedData);
const plain = JSON.parse(decryptAttachment(blob, info).toString("utf8"));
fs.writeFileSync(file("bundle.bin"), blob);
writeJson(file("info.json"), info);
writeJson(file("plaintext.json"), plain);
const tampered = Buffer.from(blob);
const flipAt = Math.floor(tampered.length / 2);
tampered[flipAt] ^= 0x01;
fs.writeFileSync(file("bundle-tampered.bin"), tampered);
let ourTamperedCheck = null;
try {
  decryptAttachment(tampered, info);
} catch (e) {
  ourTamperedCheck = e.message;
}

const inBundle = new Set(plain.room_keys.map((k) => k.session_id));
const withheld = new Set(plain.withheld.map((w) => w.session_id));

// Bob invites Alice and sends her the bundle's location and key.
await bob.prepareSessions([ALICE]);
const reqs = await bob.m.shareRoomKeyBundleData(new W.UserId(ALICE), new W.RoomId(ROOM), URL, infoJson, W.CollectStrategy.allDevices());
for (const r of reqs) await bob.send(r);
const toDeviceForPhone = [...(hs.inbox[ALICE]?.ALICEPHONE ?? [])];
writeJson(file("to-device-alicephone.json"), toDeviceForPhone);

// ---- proof -------------------------------------------------------------------------------------
async function receive(client) {
  await client.m.updateTrackedUsers([new W.UserId(BOB)]);
  await client.processOutgoing();
  const { out: processed } = await client.sync();
  const decrypted = processed.filter((p) => p.type === W.ProcessedToDeviceEventType.Decrypted).map((p) => JSON.parse(p.rawEvent));
  const data = await client.m.getReceivedRoomKeyBundleData(new W.RoomId(ROOM), new W.UserId(BOB));
  if (!data) throw new Error(`${client.deviceId}: no bundle data stored; got ${JSON.stringify(processed.map((p) => [p.type, p.rawEvent?.slice(0, 300), p.utdInfo?.reason]))}`);
  return { decrypted, data };
}
// ALICETABLET: the tampered blob is refused and imports nothing.
const tab = await receive(tablet);
let wasmTampered = null;
try {
  await tablet.m.receiveRoomKeyBundle(tab.data, tampered);
} catch (e) {
  wasmTampered = String(e?.message ?? e);
}
const tabletKeys = JSON.parse(await tablet.m.exportRoomKeys(() => true));
if (!wasmTampered || tabletKeys.length) throw new Error(`tampered bundle accepted: ${wasmTampered} ${tabletKeys.length}`);

// ALICEPHONE: the real blob.
const phone = await receive(alice);
const bundleEvent = phone.decrypted.find((e) => e.type === "m.room_key_bundle");
await alice.m.receiveRoomKeyBundle(phone.data, blob);
const exported = JSON.parse(await alice.m.exportRoomKeys(() => true));
writeJson(file("expected-sessions.json"), exported);
const good = roomEvents.filter((r) => inBundle.has(r.ev.content.session_id)).map((r) => r.ev);
const notShared = roomEvents.filter((r) => !inBundle.has(r.ev.content.session_id)).map((r) => r.ev);
writeJson(file("room-events.json"), good);
writeJson(file("room-events-not-in-bundle.json"), notShared);
const decGood = await decryptAll(alice.m, good);
const decBad = await decryptAll(alice.m, notShared);
if (decGood.ok !== decGood.total || decBad.ok !== 0) throw new Error(`proof: ${JSON.stringify(decGood.lines)} ${JSON.stringify(decBad.lines)}`);

const nameOf = Object.fromEntries(Object.entries(sessionOf).map(([n, s]) => [s, n]));
const manifest = {
  issue: 26,
  scenario:
    `MSC4268 room key bundle for ${ROOM}. Bob (BOBLAPTOP, cross-signed) made sessions S1 and S3 with history_visibility shared, S2 with ` +
    "history_visibility joined; Carol shared her session C1 with him over Olm (history shared). OlmMachine.buildRoomKeyBundle gave the " +
    "encrypted blob (bundle.bin) and its encryption info (info.json); shareRoomKeyBundleData sent Alice the m.room_key_bundle to-device message. " +
    "Alice's wasm machine (ALICEPHONE) decrypted that message, found the bundle data (getReceivedRoomKeyBundleData), accepted bundle.bin " +
    "(receiveRoomKeyBundle) and then decrypted every event of room-events.json and none of room-events-not-in-bundle.json. ALICETABLET " +
    "refused bundle-tampered.bin and imported nothing.",
  made_by: { "@matrix-org/matrix-sdk-crypto-wasm": WASM_VERSION, generator: "test-vectors/gen/bundle/gen.mjs (run.sh)" },
  room_id: ROOM,
  url: URL,
  sessions: Object.fromEntries(Object.entries(sessionOf).map(([n, s]) => [n, {
    session_id: s,
    in_bundle: inBundle.has(s),
    withheld: withheld.has(s) ? plain.withheld.find((w) => w.session_id === s).code : null,
  }])),
  plaintext_shape: {
    top_level_fields: Object.keys(plain).sort(),
    room_key_fields: plain.room_keys[0] ? Object.keys(plain.room_keys[0]).sort() : [],
    withheld_fields: plain.withheld[0] ? Object.keys(plain.withheld[0]).sort() : [],
    export_fields_not_in_room_keys: exported[0] ? Object.keys(exported[0]).filter((k) => !(k in (plain.room_keys[0] ?? {}))).sort() : [],
    note: "room_keys entries are key-export entries without the fields listed above; withheld entries are m.room_key.withheld contents",
  },
  info_fields: Object.keys(info).sort(),
  m_room_key_bundle_content: bundleEvent?.content ?? null,
  files: {
    "bundle.bin": "the encrypted bundle (EncryptedAttachment.encryptedData): AES-256-CTR of the plaintext JSON",
    "info.json": "EncryptedAttachment.mediaEncryptionInfo as JSON (what shareRoomKeyBundleData got): {v, key: JWK, iv, hashes: {sha256}}; no url",
    "plaintext.json": "bundle.bin decrypted with info.json (our own check: SHA-256 then AES-256-CTR): {room_keys, withheld}",
    "bundle-tampered.bin": `bundle.bin with one bit flipped at byte ${flipAt}: the SHA-256 check must fail, nothing imported`,
    "room-events.json": "timeline events of the sessions in the bundle (must all decrypt with its keys)",
    "room-events-not-in-bundle.json": "timeline events of S2 (withheld) and C1 if not in the bundle: must stay undecryptable",
    "expected-sessions.json": "Alice's room keys after receiveRoomKeyBundle (exportRoomKeys, key-export JSON array)",
    "to-device-alicephone.json": "the m.room.encrypted to-device event(s) Bob sent ALICEPHONE (Olm; needs ALICEPHONE's keys, which are not kept: reference only)",
  },
  expect: {
    "bundle.bin + info.json": { room_keys: [...inBundle], withheld: plain.withheld.map((w) => ({ session_id: w.session_id, code: w.code })) },
    "bundle-tampered.bin + info.json": "error: the SHA-256 of the file does not match info.json's hashes.sha256; nothing imported",
  },
  proof: {
    wasm_imported: exported.map((k) => ({ session_id: k.session_id, name: nameOf[k.session_id] ?? null })),
    room_events_decrypted: `${decGood.ok}/${decGood.total}`,
    not_in_bundle_decrypted: `${decBad.ok}/${decBad.total}`,
    not_in_bundle_errors: decBad.lines.map((l) => l.error),
    tampered_wasm_error: wasmTampered,
    tampered_our_check: ourTamperedCheck,
  },
  generator_seconds: null,
};
manifest.generator_seconds = Math.round((Date.now() - t0) / 100) / 10;
writeJson(file("manifest.json"), manifest);
console.log(`bundle: ${inBundle.size} keys + ${withheld.size} withheld; Alice decrypts ${decGood.ok}/${decGood.total}; ${manifest.generator_seconds} s`);
