// The legacy dehydrated device format, org.matrix.msc3814.v1.olm, for gen.mjs: a libolm Account
// pickle (made here by @matrix-org/olm, libolm compiled to wasm) whose pickle key is not the
// secret itself but HKDF-SHA-256(salt = device id, ikm = secret, info = "dehydrated-device-pickle-key",
// 32 bytes), as matrix-rust-sdk's expand_legacy_pickle_key (crates/matrix-sdk-crypto/src/olm/account.rs)
// reads it; the same HKDF is in MSC3814's "Encryption key" section. No client writes v1 any more
// (matrix-rust-sdk only reads it), so the device is built by hand from libolm's primitives.
//
// Because we hold the libolm account, we can also play the device once: it answers Bob's pre-key
// message with an m.dummy, so Bob's Olm session ratchets and his next message to the device is a
// normal (type 1) Olm message. The dehydrated device_data is the pickle from *before* that, as a
// real dehydrated device would have it. Finding: that type 1 message cannot be decrypted from the
// dehydrated state: Bob's new chain is keyed on the ratchet key of the reply, whose private half
// only the session that sent the reply has. libolm's player session decrypts it; a rehydrated
// device (wasm) cannot, and must skip it. (A real dehydrated device never sends, so Bob's messages
// to it stay pre-key messages: see the v2 pages.)
import crypto from "node:crypto";
import fs from "node:fs";

import Olm from "@matrix-org/olm";
import anotherJson from "another-json";

import { ALICE, BOB, writeJson, untrusted, shareSettings, roomKeyInfo, olmTypes, roomEvent, decryptAll } from "./common.mjs";

const OLM = "m.olm.v1.curve25519-aes-sha2";
const V1 = "org.matrix.msc3814.v1.olm";

const unpadded = (buf) => Buffer.from(buf).toString("base64").replace(/=+$/, "");

/** matrix-rust-sdk's expand_legacy_pickle_key. */
export function expandLegacyPickleKey(secret, deviceId) {
  return new Uint8Array(crypto.hkdfSync("sha256", secret, Buffer.from(deviceId, "utf8"), Buffer.from("dehydrated-device-pickle-key"), 32));
}

function signJson(account, userId, deviceId, obj) {
  const { signatures, unsigned, ...rest } = obj;
  void signatures;
  void unsigned;
  const sig = account.sign(anotherJson.stringify(rest));
  return { ...obj, signatures: { [userId]: { [`ed25519:${deviceId}`]: sig } } };
}

export async function makeV1Device({ hs, W, file, alice, bob, rehydrateAndReceive, ROOM, TS0 }) {
  await Olm.init();
  const account = new Olm.Account();
  account.create();
  const ids = JSON.parse(account.identity_keys());
  const deviceId = ids.curve25519; // MSC3814: the device id is the curve25519 identity key
  const deviceKeys = signJson(account, ALICE, deviceId, {
    user_id: ALICE,
    device_id: deviceId,
    algorithms: [OLM, "m.megolm.v1.aes-sha2"],
    keys: { [`curve25519:${deviceId}`]: ids.curve25519, [`ed25519:${deviceId}`]: ids.ed25519 },
    dehydrated: true,
  });
  account.generate_one_time_keys(5);
  const oneTimeKeys = {};
  for (const [id, key] of Object.entries(JSON.parse(account.one_time_keys()).curve25519)) {
    oneTimeKeys[`signed_curve25519:${id}`] = signJson(account, ALICE, deviceId, { key });
  }
  account.generate_fallback_key();
  const fallbackKeys = {};
  for (const [id, key] of Object.entries(JSON.parse(account.unpublished_fallback_key()).curve25519)) {
    fallbackKeys[`signed_curve25519:${id}`] = signJson(account, ALICE, deviceId, { key, fallback: true });
  }
  account.mark_keys_as_published();

  const secret = crypto.randomBytes(32);
  const secretB64 = unpadded(secret);
  const derived = expandLegacyPickleKey(secret, deviceId);
  const devicePickle = account.pickle(Uint8Array.from(derived)) // libolm zeroes the key array it is given;
  const deviceData = { algorithm: V1, device_pickle: devicePickle };
  const put = { device_id: deviceId, device_data: deviceData, initial_device_display_name: "Dehydrated device (v1)", device_keys: deviceKeys, one_time_keys: oneTimeKeys, fallback_keys: fallbackKeys };
  writeJson(file("device-v1.json"), { device_id: deviceId, device_data: deviceData });
  hs.storeKeys(ALICE, deviceId, put);

  // Alice cross-signs it (Device.verify on her own device = a self-signing-key signature), as
  // keysForUpload does for a v2 device: matrix-rust-sdk withholds room keys (m.unverified) from a
  // dehydrated device that its owner has not cross-signed, whatever the sharing strategy.
  await alice.m.markAllTrackedUsersAsDirty();
  await alice.processOutgoing();
  const own = await alice.m.getDevice(new W.UserId(ALICE), new W.DeviceId(deviceId));
  await alice.send(await own.verify());
  put.device_keys = JSON.parse(JSON.stringify(hs.devices[ALICE][deviceId]));
  writeJson(file("put-request-v1.json"), put);

  // Bob learns about the new device (re-query Alice), claims one of its one-time keys, shares a room key.
  await bob.m.markAllTrackedUsersAsDirty();
  await bob.prepareSessions([ALICE]);
  const claim = hs.claimLog.filter((c) => c.device === deviceId).at(-1);
  const before = (hs.inbox[ALICE]?.[deviceId] ?? []).length;
  const share = async () => {
    for (const r of await bob.m.shareRoomKey(new W.RoomId(ROOM), [new W.UserId(ALICE)], shareSettings())) await bob.send(r);
  };
  const roomEvents = [];
  const say = async (body) => {
    const content = JSON.parse(await bob.m.encryptRoomEvent(new W.RoomId(ROOM), "m.room.message", JSON.stringify({ msgtype: "m.text", body })));
    roomEvents.push(roomEvent(ROOM, BOB, content, `$dehydrated-v1-${String(roomEvents.length + 1).padStart(2, "0")}`, TS0 + 100000 + roomEvents.length * 1000));
  };
  await share();
  await say("V1a message (key came in a pre-key message)");
  const prekeyEvent = hs.inbox[ALICE][deviceId][before];

  // Play the device once (from the dehydrated state): open the session, answer with m.dummy.
  const player = new Olm.Account();
  player.unpickle(Uint8Array.from(derived), devicePickle);
  const bobDevice = hs.devices[BOB].BOBLAPTOP;
  const bobCurve = bobDevice.keys["curve25519:BOBLAPTOP"];
  const bobEd = bobDevice.keys["ed25519:BOBLAPTOP"];
  const msg = prekeyEvent.content.ciphertext[ids.curve25519];
  const session = new Olm.Session();
  session.create_inbound_from(player, prekeyEvent.content.sender_key, msg.body);
  const inner = JSON.parse(session.decrypt(msg.type, msg.body));
  player.remove_one_time_keys(session);
  const reply = session.encrypt(JSON.stringify({
    type: "m.dummy", content: {}, sender: ALICE, sender_device: deviceId, keys: { ed25519: ids.ed25519 },
    recipient: BOB, recipient_keys: { ed25519: bobEd },
  }));
  hs.sendToDevice(ALICE, "m.room.encrypted", { messages: { [BOB]: { BOBLAPTOP: { algorithm: OLM, sender_key: ids.curve25519, ciphertext: { [bobCurve]: reply } } } } });
  const bobGot = await bob.sync();
  // (an m.dummy is consumed by the machine and not handed back; a failure would come back as UTD)
  if (bobGot.out.some((p) => p.type !== W.ProcessedToDeviceEventType.Decrypted)) throw new Error("Bob could not decrypt the device's m.dummy reply");

  // Rotate: the next room key goes to the device in a normal (type 1) message.
  await bob.m.invalidateGroupSession(new W.RoomId(ROOM));
  const mid = hs.inbox[ALICE][deviceId].length;
  await share();
  await say("V1b message (key came in a normal Olm message)");
  const normalEvent = hs.inbox[ALICE][deviceId][mid];
  const types = [olmTypes(prekeyEvent)[ids.curve25519], olmTypes(normalEvent)[ids.curve25519]];
  if (types[0] !== 0 || types[1] !== 1) throw new Error(`v1 olm types ${types}`);

  // the player (who sent the m.dummy) can read the type 1 message: it is a valid Olm message
  const playerRead = JSON.parse(session.decrypt(1, normalEvent.content.ciphertext[ids.curve25519].body));
  if (playerRead.type !== "m.room_key") throw new Error("player could not read the type 1 message");

  const page = { events: [prekeyEvent, normalEvent], next_batch: "s9_v1_end" };
  writeJson(file("events-v1.json"), page);
  const [evV1a, evV1b] = roomEvents;
  writeJson(file("room-events-v1.json"), [evV1a]);
  writeJson(file("room-events-v1-undecryptable.json"), [evV1b]);
  // the v1 secret as secret storage would hold it (same encoding as the v2 key)
  const keyFile = "pickle-key-v1.txt";
  fs.writeFileSync(file(keyFile), secretB64 + "\n");

  // Proof: a fresh wasm machine rehydrates the v1 device with the secret (wasm does the HKDF).
  const proof = await rehydrateAndReceive(deviceData, [page, { events: [] }], secretB64, deviceId);
  const received = proof.perPage.flat();
  const exported = JSON.parse(await proof.m.exportRoomKeys(() => true));
  writeJson(file("expected-sessions-v1.json"), exported);
  const dec = await decryptAll(proof.m, [evV1a]);
  const decB = await decryptAll(proof.m, [evV1b]);
  if (received.length !== 1 || received[0].session_id !== evV1a.content.session_id || dec.ok !== 1 || decB.ok !== 0) {
    throw new Error(`v1 proof: ${JSON.stringify(received)}, V1a ${dec.ok}/1, V1b ${decB.ok}/1`);
  }
  // and the derived key really is what opens the libolm pickle (libolm itself)
  const check = new Olm.Account();
  check.unpickle(Uint8Array.from(derived), devicePickle);
  if (JSON.parse(check.identity_keys()).curve25519 !== deviceId) throw new Error("libolm re-read failed");
  let rawFails = null;
  try {
    await rehydrateAndReceive(deviceData, [], unpadded(derived), deviceId);
  } catch (e) {
    rawFails = String(e?.message ?? e);
  }
  if (!rawFails) throw new Error("the HKDF-derived key should not work as the secret (double derivation)");

  return {
    files: {
      "device-v1.json": "legacy v1 dehydrated device {device_id, device_data: {algorithm: org.matrix.msc3814.v1.olm, device_pickle}}: a libolm Account pickle (@matrix-org/olm), pickle key = HKDF-SHA-256(salt=device_id, ikm=secret, info=\"dehydrated-device-pickle-key\", L=32)",
      "put-request-v1.json": "the keys uploaded for it (device_keys signed by the device and cross-signed by Alice's self-signing key, 5 one-time keys, a fallback key), for reference",
      "pickle-key-v1.txt": "the v1 secret (what secret storage would hold), unpadded base64 of 32 bytes; HKDF it with the device id to get libolm's pickle key",
      "events-v1.json": "its events page: [pre-key (type 0) m.room_key V1a, normal (type 1) m.room_key V1b (undecryptable from the dehydrated state: skip it)]; the next page would be empty",
      "room-events-v1.json": "the !roomV1 timeline event of session V1a (must decrypt)",
      "room-events-v1-undecryptable.json": "the !roomV1 timeline event of session V1b (its key only came in the type 1 message: must stay undecryptable)",
      "expected-sessions-v1.json": "room keys of a fresh wasm machine after rehydrating device-v1.json with pickle-key-v1.txt and receiving events-v1.json (V1a only)",
    },
    manifest: {
      device_id: deviceId,
      algorithm: V1,
      pickle_key_file: keyFile,
      pickle_key_derivation: "libolm_pickle_key = HKDF-SHA-256(salt = UTF-8 device_id, ikm = the 32-byte secret, info = \"dehydrated-device-pickle-key\", L = 32); the libolm pickle (account pickle version 4, AES-256-CBC + HMAC-SHA-256 truncated to 8 bytes, keys from HKDF(0, pickle_key, \"Pickle\", 80)) is then opened with that key",
      derived_libolm_pickle_key_b64: unpadded(derived),
      made_by: `@matrix-org/olm ${Olm.get_library_version().join(".")} (libolm) Account.pickle with the derived key; HKDF by node:crypto`,
      one_time_key_used: claim?.keyId ?? null,
      events: [
        { index: 0, what: "pre-key", olm_type: types[0], carries: "m.room_key", room_id: ROOM, session: "V1a" },
        { index: 1, what: "normal", olm_type: types[1], carries: "m.room_key", room_id: ROOM, session: "V1b",
          expect: "not decryptable from the dehydrated state: skipped, V1b not imported (not a fatal error)",
          note: "Bob got an m.dummy reply from the device (played once with libolm from the dehydrated state), so his session ratcheted onto the reply's ratchet key, whose private half only that player session has; libolm's player session does decrypt it (checked), wasm's rehydrated device does not. The reply itself is not in the page (the device sent it)" },
      ],
      first_decrypted_by_libolm: inner.type,
      expected_sessions: received,
      session_ids: { V1a: evV1a.content.session_id, V1b: evV1b.content.session_id },
      room_events: { "room-events-v1.json": { count: 1, decrypted_by_proof: dec.ok }, "room-events-v1-undecryptable.json": { count: 1, decrypted_by_proof: decB.ok, wasm_error: decB.lines[0].error } },
      proof: "a fresh wasm OlmMachine: dehydratedDevices().rehydrate(pickle-key-v1.txt, device_id, device_data) then receiveEvents(events-v1.json) gives expected_sessions (V1a only); decrypts room-events-v1.json, not room-events-v1-undecryptable.json",
      bad_input_derived_key_as_secret: { key: "derived_libolm_pickle_key_b64 given as the secret (derivation applied twice)", wasm_error: rawFails },
    },
  };
}
