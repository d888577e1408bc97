// Shared by gen.mjs (test-vectors/dehydrated), ../bundle/gen.mjs (test-vectors/bundle) and
// ../../interop/dehydrated.mjs: the pinned peers (loaded from this directory's node_modules) and
// small helpers. Everything cryptographic is done by the peers; the only code of our own that
// touches ciphertext is decryptAttachment (a check of the bundle blob, spec "Sending encrypted
// attachments": SHA-256 over the ciphertext, then AES-256-CTR).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import * as W from "@matrix-org/matrix-sdk-crypto-wasm";

export { W };
export { FakeHomeserver, Client } from "./hs.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
export const pkgVersion = (name) =>
  JSON.parse(fs.readFileSync(path.join(here, "node_modules", name, "package.json"), "utf8")).version;
export const WASM_VERSION = pkgVersion("@matrix-org/matrix-sdk-crypto-wasm");

export const ALICE = "@alice:example.org";
export const BOB = "@bob:example.org";

export function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
}
export const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));

/** Trust nobody and decrypt anyway: the rehydrated/fresh machines know no one's keys. */
export const untrusted = () => new W.DecryptionSettings(W.TrustRequirement.Untrusted);

/** Room-key sharing settings: every device of the users (the dehydrated one included). */
export function shareSettings(historyVisibility = W.HistoryVisibility.Shared) {
  const s = new W.EncryptionSettings();
  s.sharingStrategy = W.CollectStrategy.allDevices();
  s.historyVisibility = historyVisibility;
  return s;
}

/** A RoomKeyInfo (from receiveEvents) as plain JSON. */
export function roomKeyInfo(k) {
  return {
    room_id: k.roomId.toString(),
    session_id: k.sessionId,
    sender_key: k.senderKey.toBase64(),
    algorithm: W.EncryptionAlgorithm[k.algorithm] === "MegolmV1AesSha2" ? "m.megolm.v1.aes-sha2" : String(W.EncryptionAlgorithm[k.algorithm]),
  };
}

/** The Olm message type(s) of an m.room.encrypted to-device event: {recipient curve key: 0|1}. */
export function olmTypes(event) {
  return Object.fromEntries(Object.entries(event.content.ciphertext ?? {}).map(([k, v]) => [k, v.type]));
}

/** A room timeline event as /messages returns it, around an encryptRoomEvent content. */
export function roomEvent(roomId, sender, content, eventId, ts) {
  return { type: "m.room.encrypted", content, event_id: eventId, sender, room_id: roomId, origin_server_ts: ts };
}

/** Decrypts an encrypted attachment (v2 EncryptedFile info) after checking its SHA-256. */
export function decryptAttachment(blob, info) {
  const b64 = (s) => Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  const hash = crypto.createHash("sha256").update(blob).digest();
  if (!hash.equals(b64(info.hashes.sha256))) throw new Error("attachment sha256 mismatch");
  const key = b64(info.key.k);
  const iv = b64(info.iv);
  if (key.length !== 32 || iv.length !== 16) throw new Error("bad attachment key/iv length");
  const d = crypto.createDecipheriv("aes-256-ctr", key, iv);
  return Buffer.concat([d.update(blob), d.final()]);
}

/** Imports an export-format JSON array into `machine` and decrypts each event; returns lines. */
export async function decryptAll(machine, events) {
  const lines = [];
  let ok = 0;
  for (const ev of events) {
    try {
      const d = await machine.decryptRoomEvent(JSON.stringify(ev), new W.RoomId(ev.room_id), untrusted());
      const clear = JSON.parse(d.event);
      lines.push({ ok: true, event_id: ev.event_id, room_id: ev.room_id, session_id: ev.content.session_id, body: clear.content?.body ?? null });
      ok++;
    } catch (e) {
      lines.push({ ok: false, event_id: ev.event_id, room_id: ev.room_id, session_id: ev.content?.session_id, error: e?.description ? `${e.code}: ${e.description}` : String(e?.message ?? e) });
    }
  }
  return { ok, total: events.length, lines };
}
