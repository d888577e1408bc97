// The Node peers for the backup vectors (../../backup) and ../../interop/backup.sh:
// @matrix-org/matrix-sdk-crypto-wasm (matrix-rust-sdk) and matrix-js-sdk's recovery-key codec,
// loaded from this folder's node_modules. Nothing from either package is copied here.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as W from "@matrix-org/matrix-sdk-crypto-wasm";
import { encodeRecoveryKey, decodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/recovery-key.js";
import anotherjson from "another-json";

const here = dirname(fileURLToPath(import.meta.url));
const ver = (name) => JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8")).version;
export const WASM = `@matrix-org/matrix-sdk-crypto-wasm ${ver("@matrix-org/matrix-sdk-crypto-wasm")}`;
export const JSSDK = `matrix-js-sdk ${ver("matrix-js-sdk")}`;
export const NODE = `Node ${process.versions.node}`;
export { W, encodeRecoveryKey, decodeRecoveryKey };

export const b64 = (u8) => Buffer.from(u8).toString("base64").replace(/=+$/, "");
export const unb64 = (s) => new Uint8Array(Buffer.from(s, "base64"));

await W.initAsync();

/** A real OlmMachine key backup: {body (PUT /room_keys/keys), versionBody (GET /room_keys/version), count}. */
export async function machineBackup(decryptionKey, userId, deviceId, rooms) {
  // A real client device: cross-signing bootstrapped so that auth_data gets both the device
  // and the master-key signature, as matrix-js-sdk's RustCrypto.signObject produces them.
  const machine = await W.OlmMachine.initialize(new W.UserId(userId), new W.DeviceId(deviceId));
  await machine.bootstrapCrossSigning(true);
  const pub = decryptionKey.megolmV1PublicKey;
  // matrix-js-sdk RustBackupManager.setupKeyBackup + RustCrypto.signObject, step for step.
  const authData = { public_key: pub.publicKeyBase64 };
  const sigs = JSON.parse((await machine.sign(anotherjson.stringify(authData))).asJSON());
  authData.signatures = { [userId]: sigs[userId] };
  const version = "1";
  await machine.enableBackupV1(pub.publicKeyBase64, version);

  // rooms: [[roomId, number of outbound sessions, history visibility]]; messages are sent so
  // the outbound ratchets advance (backups carry the inbound copy from index 0).
  for (const [room, n, vis] of rooms) {
    const rid = new W.RoomId(room);
    for (let i = 0; i < n; i++) {
      const settings = new W.EncryptionSettings();
      settings.historyVisibility = vis;
      await machine.shareRoomKey(rid, [], settings);
      for (let k = 0; k <= i; k++) {
        await machine.encryptRoomEvent(rid, "m.room.message", JSON.stringify({ msgtype: "m.text", body: `msg ${k}` }));
      }
      await machine.invalidateGroupSession(rid);
    }
  }
  // backupRoomKeys() hands out at most a batch per call; merge until it is done, marking
  // each request as sent (markRequestAsSent with the server's answer) like a client does.
  const body = { rooms: {} };
  let count = 0;
  for (;;) {
    const req = await machine.backupRoomKeys();
    if (!req) break;
    if (req.version !== version) throw new Error(`backup request for version ${req.version}`);
    const part = JSON.parse(req.body);
    for (const [room, r] of Object.entries(part.rooms)) {
      body.rooms[room] ??= { sessions: {} };
      for (const [sid, kd] of Object.entries(r.sessions)) { body.rooms[room].sessions[sid] = kd; count++; }
    }
    await machine.markRequestAsSent(req.id, req.type, JSON.stringify({ etag: String(count), count }));
  }
  // The GET /room_keys/version body a server would return for it (algorithm and auth_data
  // exactly as the client POSTed them; version/count/etag are the server's).
  const versionBody = { algorithm: pub.algorithm, auth_data: authData, count, etag: String(count), version };
  return { body, versionBody, count };
}
