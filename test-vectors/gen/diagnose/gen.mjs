// Makes test-vectors/diagnose/ (issue #26 part 5: `mxkeys events diagnose`) with
// @matrix-org/matrix-sdk-crypto-wasm, pinned in ../dehydrated/package-lock.json; reuses
// ../dehydrated/'s fake homeserver (hs.mjs) and helpers (common.mjs).
//
//   node gen.mjs OUTDIR     writes events.json, keys.json, to-device.json, keys-query.json,
//                           manifest.json (README.md is kept)
//
// Alice's device ALICEPHONE is the one diagnosed. Every key is made by the peer; only the room
// state events (create, member, history_visibility, encryption) are written here, as a server
// would make them: they are not crypto. Event ids and timestamps are fixed, so the timeline's
// shape is the same every run; the keys (and so every ciphertext, session id and key) differ per
// run, because the peer draws its own randomness.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import {
  W, FakeHomeserver, Client, ALICE, BOB, WASM_VERSION, writeJson, untrusted,
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
const DAVE = "@dave:example.org";
const ALICE_DEV = "ALICEPHONE";
const TS0 = 1765000000000;

const R = {
  unverified: "!unverified:example.org",
  blacklisted: "!blacklisted:example.org",
  noOlm: "!noolm:example.org",
  dave: "!dave:example.org",
  shared: "!shared:example.org",
  joined: "!joined:example.org",
  bundled: "!bundled:example.org",
};
const BUNDLE_URL = "mxc://example.org/diagnoseBundle";

// Carol's device cannot claim a one-time key for ALICEPHONE: /keys/claim answers nothing for it
// (as a server does when the device's one-time keys ran out and it has no fallback key).
class Homeserver extends FakeHomeserver {
  claim(claimer, body) {
    if (claimer === CAROL) {
      const copy = JSON.parse(JSON.stringify(body));
      delete copy.one_time_keys?.[ALICE]?.[ALICE_DEV];
      return super.claim(claimer, copy);
    }
    return super.claim(claimer, body);
  }
}
const hs = new Homeserver();

// ---- devices -----------------------------------------------------------------------------------
const alice = await new Client(hs, ALICE, ALICE_DEV).init();
await alice.bootstrapCrossSigning();
const bob = await new Client(hs, BOB, "BOBLAPTOP").init();
await bob.bootstrapCrossSigning();
const carol = await new Client(hs, CAROL, "CAROLDESK").init();
await carol.bootstrapCrossSigning();
const davePhone = await new Client(hs, DAVE, "DAVEPHONE").init();
await davePhone.bootstrapCrossSigning(); // signs DAVEPHONE with Dave's self-signing key
const daveTablet = await new Client(hs, DAVE, "DAVETABLET").init(); // logged in later, never verified: not cross-signed

// Alice's device learns everyone's keys before any to-device event arrives (as a client tracking
// the rooms' members would), so it can check who sent what.
await alice.m.updateTrackedUsers([ALICE, BOB, CAROL, DAVE].map((u) => new W.UserId(u)));
await alice.processOutgoing();

for (const c of [bob, davePhone, daveTablet]) await c.prepareSessions([ALICE]);
await carol.prepareSessions([ALICE]);
const carolClaimedAlice = hs.claimLog.some((c) => c.claimer === CAROL && c.user === ALICE && c.device === ALICE_DEV);
if (carolClaimedAlice) throw new Error("Carol was handed a one-time key of ALICEPHONE");

// ---- timeline helpers --------------------------------------------------------------------------
const events = []; // every room event, in timeline order
const labels = {}; // event_id -> what it is (for the manifest)
let tick = 0;
const nextTs = () => TS0 + ++tick * 1000;
// Plausible room-v10 event ids (43 unpadded url-safe base64 characters), fixed per label.
const eventId = (label) => "$" + crypto.createHash("sha256").update(`mxkeys diagnose ${label}`).digest("base64url");

function state(room, type, stateKey, sender, content, label) {
  const ev = { type, state_key: stateKey, sender, content, event_id: eventId(label), room_id: room, origin_server_ts: nextTs() };
  events.push(ev);
  labels[ev.event_id] = { label, kind: "state" };
  return ev;
}
function createRoom(room, creator, visibility) {
  const tag = room.slice(1, room.indexOf(":"));
  state(room, "m.room.create", "", creator, { room_version: "10", creator }, `${tag}/create`);
  state(room, "m.room.member", creator, creator, { membership: "join", displayname: creator.slice(1, creator.indexOf(":")) }, `${tag}/join-${creator}`);
  state(room, "m.room.history_visibility", "", creator, { history_visibility: visibility }, `${tag}/history_visibility`);
  state(room, "m.room.encryption", "", creator, { algorithm: "m.megolm.v1.aes-sha2" }, `${tag}/encryption`);
}
function member(room, user, membership, sender, label) {
  const content = { membership };
  if (membership === "join") content.displayname = user.slice(1, user.indexOf(":"));
  return state(room, "m.room.member", user, sender, content, label);
}

function settings(strategy, visibility) {
  const s = new W.EncryptionSettings();
  s.sharingStrategy = strategy;
  s.historyVisibility = visibility;
  return s;
}
/** shareRoomKey; returns the to-device requests as {event_type, messages} (what went out). */
async function share(client, room, users, strategy, visibility = W.HistoryVisibility.Shared) {
  const reqs = await client.m.shareRoomKey(new W.RoomId(room), users.map((u) => new W.UserId(u)), settings(strategy, visibility));
  const sent = [];
  for (const r of reqs) {
    sent.push({ event_type: r.event_type, messages: JSON.parse(r.body).messages });
    await client.send(r);
  }
  return sent;
}
async function say(client, room, body, label) {
  const content = JSON.parse(await client.m.encryptRoomEvent(new W.RoomId(room), "m.room.message", JSON.stringify({ msgtype: "m.text", body })));
  const ev = { type: "m.room.encrypted", content, event_id: eventId(label), sender: client.userId, room_id: room, origin_server_ts: nextTs() };
  events.push(ev);
  labels[ev.event_id] = { label, kind: "message", device: client.deviceId, body };
  return ev;
}
const aliceInbox = () => hs.inbox[ALICE]?.[ALICE_DEV] ?? [];
const toDeviceNotes = []; // index in Alice's inbox -> what it is
function noteInbox(from, what) {
  for (let i = from; i < aliceInbox().length; i++) toDeviceNotes[i] ??= what;
}

// ---- 1. withheld: m.unverified (Bob shares only with devices he trusts) -----------------------
createRoom(R.unverified, BOB, "shared");
member(R.unverified, ALICE, "join", ALICE, "unverified/join-alice");
let n = aliceInbox().length;
const sentUnverified = await share(bob, R.unverified, [BOB, ALICE], W.CollectStrategy.onlyTrustedDevices());
noteInbox(n, { what: "withheld", room_id: R.unverified, by: "BOBLAPTOP", strategy: "CollectStrategy.onlyTrustedDevices()" });
await say(bob, R.unverified, "unverified 1", "unverified/msg1");
await say(bob, R.unverified, "unverified 2", "unverified/msg2");

// ---- 2. withheld: m.blacklisted (Bob blocks ALICEPHONE locally) -------------------------------
createRoom(R.blacklisted, BOB, "shared");
member(R.blacklisted, ALICE, "join", ALICE, "blacklisted/join-alice");
const aliceAtBob = await bob.m.getDevice(new W.UserId(ALICE), new W.DeviceId(ALICE_DEV));
await aliceAtBob.setLocalTrust(W.LocalTrust.BlackListed);
if (!aliceAtBob.isBlacklisted()) throw new Error("setLocalTrust(BlackListed) did not take");
n = aliceInbox().length;
const sentBlacklisted = await share(bob, R.blacklisted, [BOB, ALICE], W.CollectStrategy.allDevices());
noteInbox(n, { what: "withheld", room_id: R.blacklisted, by: "BOBLAPTOP", strategy: "CollectStrategy.allDevices(), ALICEPHONE set to LocalTrust.BlackListed" });
await say(bob, R.blacklisted, "blacklisted 1", "blacklisted/msg1");
await say(bob, R.blacklisted, "blacklisted 2", "blacklisted/msg2");
await aliceAtBob.setLocalTrust(W.LocalTrust.Unset);

// ---- 3. withheld: m.no_olm (Carol got no one-time key for ALICEPHONE) -------------------------
createRoom(R.noOlm, CAROL, "shared");
member(R.noOlm, ALICE, "join", ALICE, "noolm/join-alice");
n = aliceInbox().length;
const sentNoOlm = await share(carol, R.noOlm, [CAROL, ALICE], W.CollectStrategy.allDevices());
noteInbox(n, { what: "withheld", room_id: R.noOlm, by: "CAROLDESK", strategy: "CollectStrategy.allDevices(); /keys/claim gave no key for ALICEPHONE" });
await say(carol, R.noOlm, "no olm 1", "noolm/msg1");
await say(carol, R.noOlm, "no olm 2", "noolm/msg2");
// rotate: a second session, same sender key (m.no_olm names no session, so it covers this too)
await carol.m.invalidateGroupSession(new W.RoomId(R.noOlm));
n = aliceInbox().length;
const sentNoOlm2 = await share(carol, R.noOlm, [CAROL, ALICE], W.CollectStrategy.allDevices());
noteInbox(n, { what: "withheld (second session)", room_id: R.noOlm, by: "CAROLDESK" });
await say(carol, R.noOlm, "no olm 3 (second session)", "noolm/msg3");

// ---- 4. MSC4153: Dave's cross-signed phone and his not cross-signed tablet --------------------
// Each device shares one session with Alice (received), then, after a rotation, one session with
// Dave's own devices only (as a client that missed Alice's membership would): that key never
// reaches Alice and no notice says why. The sessions differ only in the sending device's status.
createRoom(R.dave, DAVE, "shared");
member(R.dave, ALICE, "join", ALICE, "dave/join-alice");
for (const [dev, tag, status] of [[davePhone, "phone", "cross-signed"], [daveTablet, "tablet", "not cross-signed"]]) {
  n = aliceInbox().length;
  await share(dev, R.dave, [DAVE, ALICE], W.CollectStrategy.allDevices());
  noteInbox(n, { what: "m.room_key (Olm)", room_id: R.dave, by: `${dev.deviceId} (${status})` });
  await say(dev, R.dave, `from Dave's ${tag} 1`, `dave/${tag}1`);
  await say(dev, R.dave, `from Dave's ${tag} 2`, `dave/${tag}2`);
  await dev.m.invalidateGroupSession(new W.RoomId(R.dave));
  n = aliceInbox().length;
  await share(dev, R.dave, [DAVE], W.CollectStrategy.allDevices());
  if (aliceInbox().length !== n) throw new Error("a share with Dave only reached Alice");
  await say(dev, R.dave, `from Dave's ${tag}, key never sent to Alice`, `dave/${tag}-missed`);
}

// ---- 5. history: before and after Alice's join, three rooms -----------------------------------
const joins = {};
async function historyRoom(room, visibility, tag, withBundle) {
  const vis = visibility === "shared" ? W.HistoryVisibility.Shared : W.HistoryVisibility.Joined;
  createRoom(room, BOB, visibility);
  await share(bob, room, [BOB], W.CollectStrategy.allDevices(), vis); // Alice is not a member yet
  await say(bob, room, `${tag} before Alice joined 1`, `${tag}/before1`);
  await say(bob, room, `${tag} before Alice joined 2`, `${tag}/before2`);
  member(room, ALICE, "invite", BOB, `${tag}/invite-alice`);
  let bundle = null;
  if (withBundle) {
    const att = await bob.m.buildRoomKeyBundle(new W.RoomId(room));
    if (!att) throw new Error("buildRoomKeyBundle gave nothing");
    bundle = { blob: Buffer.from(att.encryptedData), info: att.mediaEncryptionInfo };
    const k = aliceInbox().length;
    const reqs = await bob.m.shareRoomKeyBundleData(new W.UserId(ALICE), new W.RoomId(room), BUNDLE_URL,
      att.mediaEncryptionInfo, W.CollectStrategy.allDevices());
    for (const r of reqs) await bob.send(r);
    noteInbox(k, { what: "m.room_key_bundle (Olm)", room_id: room, by: "BOBLAPTOP", url: BUNDLE_URL });
  }
  joins[room] = member(room, ALICE, "join", ALICE, `${tag}/join-alice`);
  await bob.m.invalidateGroupSession(new W.RoomId(room)); // membership changed: a new session
  const k = aliceInbox().length;
  await share(bob, room, [BOB, ALICE], W.CollectStrategy.allDevices(), vis);
  noteInbox(k, { what: "m.room_key (Olm)", room_id: room, by: "BOBLAPTOP", note: "the session after Alice's join" });
  await say(bob, room, `${tag} after Alice joined 1`, `${tag}/after1`);
  await say(bob, room, `${tag} after Alice joined 2`, `${tag}/after2`);
  return bundle;
}
await historyRoom(R.shared, "shared", "shared");
await historyRoom(R.joined, "joined", "joined");
const bundle = await historyRoom(R.bundled, "shared", "bundled", true);

// ---- Alice's device syncs (MSC4153: it accepts to-device events from cross-signed devices only) -
const delivered = hs.drain(ALICE, ALICE_DEV);
// (a DecryptionSettings is consumed by the call it is passed to: a new one each time)
const crossSignedOnly = () => new W.DecryptionSettings(W.TrustRequirement.CrossSigned);
const processed = await alice.m.receiveSyncChanges(JSON.stringify(delivered), new W.DeviceLists(), new Map(), new Set(), crossSignedOnly());
await alice.processOutgoing();
const PT = W.ProcessedToDeviceEventType;
const processedTable = processed.map((p) => {
  const raw = JSON.parse(p.rawEvent);
  const row = { result: PT[p.type], sender: raw.sender };
  if (p.type === PT.UnableToDecrypt) row.utd_reason = W.ToDeviceUnableToDecryptReason[p.utdInfo.reason];
  if (p.type === PT.Decrypted) row.decrypted_type = raw.type;
  return { row, raw, p };
});
// The processed list follows the delivered order one to one (checked here).
if (processedTable.length !== delivered.length) throw new Error(`processed ${processedTable.length} of ${delivered.length}`);

// ---- the dump: what arrived, the bundle notice as the client decrypted it ---------------------
const dump = [];
const dumpTable = [];
let bundleEncrypted = null;
let bundlePlain = null;
delivered.forEach((ev, i) => {
  const { row, raw } = processedTable[i];
  if (row.result === "Decrypted" && raw.type === "m.room_key_bundle") {
    bundleEncrypted = ev;
    bundlePlain = { type: raw.type, sender: raw.sender, content: raw.content };
    dump.push(bundlePlain);
    dumpTable.push({ index: i, type: "m.room_key_bundle", form: "plaintext: the Olm event as ALICEPHONE decrypted it ({type, sender, content} of its rawEvent)", delivered_type: ev.type, ...row, ...toDeviceNotes[i] });
  } else {
    dump.push(ev);
    dumpTable.push({ index: i, type: ev.type, ...row, form: ev.type === "m.room.encrypted" ? "Olm-encrypted, as delivered" : "plaintext, as delivered", ...toDeviceNotes[i] });
  }
});
if (!bundlePlain) throw new Error("ALICEPHONE did not decrypt the m.room_key_bundle");
const withheldEvents = delivered.filter((e) => e.type === "m.room_key.withheld");

// ---- keys.json: what ALICEPHONE got ------------------------------------------------------------
const keys = JSON.parse(await alice.m.exportRoomKeys(() => true));
const keySessions = new Set(keys.map((k) => k.session_id));

// ---- /keys/query as the server answers ALICEPHONE ----------------------------------------------
const keysQuery = hs.query(ALICE, [ALICE, BOB, CAROL, DAVE]);
const devStatus = {};
for (const [u, d] of [[DAVE, "DAVEPHONE"], [DAVE, "DAVETABLET"], [BOB, "BOBLAPTOP"], [CAROL, "CAROLDESK"]]) {
  const dev = await alice.m.getDevice(new W.UserId(u), new W.DeviceId(d));
  devStatus[`${u} ${d}`] = {
    isCrossSignedByOwner: dev.isCrossSignedByOwner(),
    curve25519: dev.curve25519Key.toBase64(),
    self_signing_signature_in_keys_query: Object.keys(keysQuery.device_keys[u][d].signatures?.[u] ?? {}).some((k) => k !== `ed25519:${d}`),
  };
}
if (devStatus[`${DAVE} DAVETABLET`].isCrossSignedByOwner || !devStatus[`${DAVE} DAVEPHONE`].isCrossSignedByOwner) throw new Error("Dave's devices are not as planned");

// ---- the proof: ALICEPHONE decrypts each room event ----------------------------------------------
const messages = events.filter((e) => e.type === "m.room.encrypted");
async function tryDecrypt(machine, ev, settings = untrusted()) {
  try {
    const d = await machine.decryptRoomEvent(JSON.stringify(ev), new W.RoomId(ev.room_id), settings);
    return { ok: true, body: JSON.parse(d.event).content.body };
  } catch (e) {
    if (e?.code === undefined) return { ok: false, code: null, description: null, thrown: `${e?.constructor?.name}: ${e?.message ?? e}`, withheld_code: null, maybe_withheld: null };
    return {
      ok: false,
      code: W.DecryptionErrorCode[e.code],
      description: e.description,
      withheld_code: e.withheldCode ?? null,
      maybe_withheld: e.maybe_withheld ?? null,
    };
  }
}
const proof = {};
const proofMsc4153 = {};
for (const ev of messages) {
  proof[ev.event_id] = await tryDecrypt(alice.m, ev);
  proofMsc4153[ev.event_id] = await tryDecrypt(alice.m, ev, crossSignedOnly());
}

// After keys.json was taken: import the bundle (as a client accepting the invite would) and try
// the !bundled events again, to show the bundle holds the keys of the history before the join.
const stored = await alice.m.getReceivedRoomKeyBundleData(new W.RoomId(R.bundled), new W.UserId(BOB));
if (!stored) throw new Error("ALICEPHONE has no bundle data for !bundled");
await alice.m.receiveRoomKeyBundle(stored, new Uint8Array(bundle.blob));
const afterBundle = {};
for (const ev of messages.filter((e) => e.room_id === R.bundled)) afterBundle[ev.event_id] = await tryDecrypt(alice.m, ev);

// ---- expectations ----------------------------------------------------------------------------
const errText = (p) => (p.ok ? null : `${p.code}: ${p.description}`);
const expected = {};
const byLabel = (l) => events.find((e) => labels[e.event_id].label === l);
function expect(label, diagnosis, proofText, extra = {}) {
  const ev = byLabel(label);
  const p = proof[ev.event_id];
  const entry = { label, room_id: ev.room_id, sender: ev.sender, device: labels[ev.event_id].device, session_id: ev.content.session_id, origin_server_ts: ev.origin_server_ts, ...diagnosis, proof: proofText, wasm_error: errText(p), wasm: p, wasm_msc4153: proofMsc4153[ev.event_id], ...extra };
  // check the peer agrees with what we claim
  if (diagnosis.diagnosis === "ok") {
    if (!p.ok || !keySessions.has(ev.content.session_id)) throw new Error(`${label}: expected ok, wasm: ${JSON.stringify(p)}`);
  } else {
    if (p.ok || p.code !== "MissingRoomKey" || keySessions.has(ev.content.session_id)) throw new Error(`${label}: expected unknown session, wasm: ${JSON.stringify(p)}`);
    const wantCode = diagnosis.reason === "withheld" && diagnosis.code !== "m.no_olm" ? diagnosis.code : null;
    if (p.withheld_code !== wantCode) throw new Error(`${label}: wasm withheld code ${p.withheld_code}, expected ${wantCode}`);
  }
  expected[ev.event_id] = entry;
}
const withheldProof = (code) => `ALICEPHONE's decryptRoomEvent fails with MissingRoomKey and withheldCode ${code} (it stored the m.room_key.withheld it received); the session is not in keys.json`;
for (const l of ["unverified/msg1", "unverified/msg2"]) expect(l, { diagnosis: "unknown_session", reason: "withheld", code: "m.unverified" }, withheldProof("m.unverified"));
for (const l of ["blacklisted/msg1", "blacklisted/msg2"]) expect(l, { diagnosis: "unknown_session", reason: "withheld", code: "m.blacklisted" }, withheldProof("m.blacklisted"));
const carolCurve = devStatus[`${CAROL} CAROLDESK`].curve25519;
const noOlm = withheldEvents.filter((e) => e.content.code === "m.no_olm");
if (noOlm.length !== 1 || noOlm[0].content.sender_key !== carolCurve || "session_id" in noOlm[0].content) throw new Error(`m.no_olm notices: ${JSON.stringify(noOlm)}`);
for (const l of ["noolm/msg1", "noolm/msg2", "noolm/msg3"]) {
  if (byLabel(l).content.sender_key !== carolCurve) throw new Error(`${l}: sender_key is not CAROLDESK's`);
  expect(l, { diagnosis: "unknown_session", reason: "withheld", code: "m.no_olm" },
    "CAROLDESK's shareRoomKey sent ALICEPHONE the m.room_key.withheld m.no_olm in to-device.json (its /keys/claim got no one-time key for ALICEPHONE), once: it names no session and covers every session of CAROLDESK by sender_key, which equals this event's content.sender_key (msg3 is a later session, after a rotation, with no new notice). wasm does not tie m.no_olm to sessions: its decryptRoomEvent error is MissingRoomKey with no withheld code; the session is not in keys.json",
    { sender_key: carolCurve });
}
for (const l of ["dave/phone1", "dave/phone2"]) expect(l, { diagnosis: "ok" }, "ALICEPHONE decrypts it with its own keys (DAVEPHONE is cross-signed); also under TrustRequirement.CrossSigned (wasm_msc4153)");
expect("dave/phone-missed", { diagnosis: "unknown_session", reason: null },
  "control for sender_not_cross_signed: DAVEPHONE shared this session with Dave's devices only; MissingRoomKey, no withheld code, not in keys.json; DAVEPHONE is cross-signed (isCrossSignedByOwner true, self-signing signature in keys-query.json), so no reason applies");
const tabletCurve = devStatus[`${DAVE} DAVETABLET`].curve25519;
for (const l of ["dave/tablet1", "dave/tablet2"]) {
  const ev = byLabel(l);
  const strict = proofMsc4153[ev.event_id];
  if (strict.ok || strict.code !== "UnsignedSenderDevice") throw new Error(`${l}: CrossSigned decryption gave ${JSON.stringify(strict)}`);
  expect(l, { diagnosis: "ok" },
    "the key is in keys.json (wasm accepted DAVETABLET's m.room_key even while syncing with TrustRequirement.CrossSigned: room keys are exempt from the to-device trust check) and decrypts the event; an MSC4153 client still refuses to show it: decryptRoomEvent under TrustRequirement.CrossSigned fails with UnsignedSenderDevice (wasm_msc4153). mxkeys, which decrypts with the keys, sees ok",
    { sender_key: tabletCurve });
}
expect("dave/tablet-missed", { diagnosis: "unknown_session", reason: "sender_not_cross_signed", user: DAVE, device_id: "DAVETABLET" },
  "DAVETABLET shared this session with Dave's devices only; MissingRoomKey, no withheld code, not in keys.json; the sending device (content.sender_key = DAVETABLET's curve25519 key in keys-query.json) is not cross-signed: Alice's wasm machine says Device.isCrossSignedByOwner() false for DAVETABLET (true for DAVEPHONE) and keys-query.json carries no self-signing signature on it",
  { sender_key: tabletCurve });
const noBundleProof = (room) => `MissingRoomKey, no withheld code: Bob shared this session before Alice's join (origin_server_ts < her join at ${joins[room].origin_server_ts}) with his own devices only; ${room} has history_visibility shared and to-device.json has no m.room_key_bundle for it`;
for (const l of ["shared/before1", "shared/before2"]) expect(l, { diagnosis: "unknown_session", reason: "no_history_bundle", room: R.shared }, noBundleProof(R.shared));
for (const l of ["joined/before1", "joined/before2"]) expect(l, { diagnosis: "unknown_session", reason: null },
  "MissingRoomKey, no withheld code; sent before Alice's join, but the room's history_visibility is joined: members never see what came before, so no bundle is due (not this reason; no other reason applies: plain unknown session)");
for (const l of ["bundled/before1", "bundled/before2"]) {
  const ev = byLabel(l);
  expect(l, { diagnosis: "unknown_session", reason: null },
    "MissingRoomKey, no withheld code, not in keys.json (taken before the bundle was imported); sent before Alice's join in a shared room, but an m.room_key_bundle for the room is in to-device.json: the keys were offered (not this reason). After importing the bundle (getReceivedRoomKeyBundleData + receiveRoomKeyBundle) ALICEPHONE decrypts it: see after_bundle_import",
    { after_bundle_import: afterBundle[ev.event_id] });
  if (!afterBundle[ev.event_id].ok) throw new Error(`${l}: bundle import did not give the key`);
}
for (const tag of ["shared", "joined", "bundled"]) for (const l of [`${tag}/after1`, `${tag}/after2`]) expect(l, { diagnosis: "ok" }, "ALICEPHONE decrypts it (the session Bob shared with her after her join)");
if (Object.keys(expected).length !== messages.length) throw new Error("not every message has an expectation");

// ---- files ---------------------------------------------------------------------------------
writeJson(file("events.json"), events);
writeJson(file("keys.json"), keys);
writeJson(file("to-device.json"), { events: dump });
writeJson(file("keys-query.json"), keysQuery);

const counts = {};
for (const e of Object.values(expected)) {
  const k = e.diagnosis === "ok" ? "ok" : e.reason ? `${e.reason}${e.code ? " " + e.code : ""}` : "unknown_session (no reason)";
  counts[k] = (counts[k] ?? 0) + 1;
}
const manifest = {
  issue: 26,
  command: "mxkeys events diagnose events.json --keys keys.json --to-device to-device.json --keys-query keys-query.json --user @alice:example.org",
  user_id: ALICE,
  device_id: ALICE_DEV,
  made_by: { "@matrix-org/matrix-sdk-crypto-wasm": WASM_VERSION, generator: "test-vectors/gen/diagnose/gen.mjs (run.sh)" },
  deterministic: "event ids, timestamps, rooms, users, devices and the shape of every file are fixed; keys, session ids, ciphertexts and signatures differ per run (the peer draws its own randomness)",
  counts,
  state_events: {
    count: events.length - messages.length,
    note: "not encrypted (no content.algorithm): they have no entry in `expected`; diagnose reads them for the user's joins (m.room.member, state_key = user_id, membership join) and each room's m.room.history_visibility, and should not count them as undecryptable",
  },
  expected,
  withheld_notices: withheldEvents,
  withheld_sent_by_peer: {
    "m.unverified": sentUnverified.filter((s) => s.event_type === "m.room_key.withheld"),
    "m.blacklisted": sentBlacklisted.filter((s) => s.event_type === "m.room_key.withheld"),
    "m.no_olm": sentNoOlm.filter((s) => s.event_type === "m.room_key.withheld"),
    "m.no_olm (second session)": sentNoOlm2.filter((s) => s.event_type === "m.room_key.withheld"),
  },
  to_device: dumpTable,
  bundle: {
    room_id: R.bundled,
    url: BUNDLE_URL,
    encrypted_event_as_delivered: bundleEncrypted,
    note: "to-device.json carries this event as ALICEPHONE decrypted it ({type, sender, content}); the Olm original is kept here",
  },
  devices: devStatus,
  joins: Object.fromEntries(Object.entries(joins).map(([r, e]) => [r, { event_id: e.event_id, origin_server_ts: e.origin_server_ts }])),
  not_produced: {
    "m.unauthorised": "matrix-sdk-crypto 0.19 (in wasm 18.9.0) refuses key requests it will not serve silently (GossipMachine::handle_key_request returns nothing); it never sends this code",
    "m.unavailable": "the same: a key request for a session the device does not have is dropped without a reply",
    "m.history_not_shared": "MSC4268: appears only inside a bundle's withheld list, not as a to-device event",
  },
  generator_seconds: null,
};
manifest.generator_seconds = Math.round((Date.now() - t0) / 100) / 10;
writeJson(file("manifest.json"), manifest);
console.log(`diagnose: ${events.length} room events (${messages.length} encrypted), ${keys.length} sessions in keys.json, ${dump.length} to-device events (${withheldEvents.length} withheld), ${JSON.stringify(counts)}, ${manifest.generator_seconds} s`);
