// Node side of test-vectors/interop/backup.sh: matrix-js-sdk's recovery-key codec and
// @matrix-org/matrix-sdk-crypto-wasm, from test-vectors/gen/backup/node_modules.
//
//   node peer.mjs make-keys OUT.json             recovery keys made by js-sdk and wasm, with public keys
//   node peer.mjs decode KEY                      js-sdk decodeRecoveryKey -> {private_key, public_key (wasm)}
//   node peer.mjs decrypt BACKUP.json KEY OUT.json
//                                                 wasm BackupDecryptionKey.decryptV1 on every session of a
//                                                 PUT/GET /room_keys/keys body -> {room: {sid: plaintext}}
//   node peer.mjs machine DIR                     a fresh OlmMachine backup: DIR/keys.json, version.json,
//                                                 key.txt (recovery key), expected.json
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { W, encodeRecoveryKey, decodeRecoveryKey, machineBackup, WASM, JSSDK, b64, unb64 } from "../../gen/backup/peers.mjs";

const [cmd, ...args] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function keyFrom(recoveryKey) {
  return W.BackupDecryptionKey.fromBase64(b64(decodeRecoveryKey(recoveryKey)));
}

switch (cmd) {
  case "make-keys": {
    const keys = [];
    const priv = new Uint8Array(randomBytes(32));
    keys.push({ made_by: `${JSSDK} encodeRecoveryKey`, recovery_key: encodeRecoveryKey(priv),
      public_key: W.BackupDecryptionKey.fromBase64(b64(priv)).megolmV1PublicKey.publicKeyBase64 });
    const k = W.BackupDecryptionKey.createRandomKey();
    keys.push({ made_by: `${WASM} BackupDecryptionKey.createRandomKey + js-sdk encode`,
      recovery_key: encodeRecoveryKey(unb64(k.toBase64())), public_key: k.megolmV1PublicKey.publicKeyBase64 });
    writeFileSync(args[0], JSON.stringify(keys, null, 2));
    break;
  }
  case "decode": {
    try {
      const priv = b64(decodeRecoveryKey(args[0]));
      out({ private_key: priv, public_key: W.BackupDecryptionKey.fromBase64(priv).megolmV1PublicKey.publicKeyBase64 });
    } catch (e) {
      out({ error: String(e.message ?? e) });
      process.exitCode = 1;
    }
    break;
  }
  case "decrypt": {
    const [file, rk, outFile] = args;
    const body = JSON.parse(readFileSync(file, "utf8"));
    const key = keyFrom(rk);
    const res = {}, errors = [];
    for (const [room, r] of Object.entries(body.rooms ?? {})) {
      for (const [sid, kd] of Object.entries(r.sessions ?? {})) {
        const sd = kd.session_data ?? {};
        try {
          (res[room] ??= {})[sid] = JSON.parse(key.decryptV1(sd.ephemeral, sd.mac, sd.ciphertext));
        } catch (e) {
          errors.push(`${room} ${sid}: ${e.message ?? e}`);
        }
      }
    }
    writeFileSync(outFile, JSON.stringify(res, null, 2));
    for (const e of errors) console.error(`wasm: ${e}`);
    if (errors.length) process.exitCode = 1;
    break;
  }
  case "machine": {
    const dir = args[0];
    mkdirSync(dir, { recursive: true });
    const key = W.BackupDecryptionKey.createRandomKey();
    const { body, versionBody } = await machineBackup(key, "@carol:example.org", "CAROLDEVICE", [
      ["!november:example.org", 2, W.HistoryVisibility.Shared],
      ["!oscar:example.org", 1, W.HistoryVisibility.Joined],
      ["!papa:example.org", 3, W.HistoryVisibility.Shared],
    ]);
    const expected = {};
    for (const [room, r] of Object.entries(body.rooms)) {
      for (const [sid, kd] of Object.entries(r.sessions)) {
        const sd = kd.session_data;
        (expected[room] ??= {})[sid] = JSON.parse(key.decryptV1(sd.ephemeral, sd.mac, sd.ciphertext));
      }
    }
    writeFileSync(join(dir, "keys.json"), JSON.stringify(body));
    writeFileSync(join(dir, "version.json"), JSON.stringify(versionBody));
    writeFileSync(join(dir, "key.txt"), encodeRecoveryKey(unb64(key.toBase64())));
    writeFileSync(join(dir, "public.txt"), key.megolmV1PublicKey.publicKeyBase64);
    writeFileSync(join(dir, "expected.json"), JSON.stringify(expected, null, 2));
    break;
  }
  default:
    console.error("usage: peer.mjs make-keys OUT | decode KEY | decrypt BACKUP KEY OUT | machine DIR");
    process.exit(2);
}
